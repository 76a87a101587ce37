/* dopflow: output files that appear complete or not at all.
 *
 * Every output is written to a temporary file in the same folder
 * (".NAME.tmp.XXXXXX") and renamed into place by dop_atomic_commit() only
 * when complete, so a run killed at any moment leaves the previous complete
 * file or none. dop_atomic_abort() removes the temporary file. The path "-"
 * means standard output (written directly, never renamed). */
#ifndef DOPFLOW_ATOMIC_FILE_H
#define DOPFLOW_ATOMIC_FILE_H

#include "dopflow/export.h"

#include <stdio.h>
#include "dopflow/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dop_atomic_file dop_atomic_file;

/* Open a temporary file beside `path` for writing. Errors: DOP_ERR_IO
 * (folder missing or not writable), DOP_ERR_NOMEM. */
DOP_API dop_status dop_atomic_open(const char *path, dop_atomic_file **out, dop_error *err);

/* The stream to write to (stdout for "-"). Errors: none. */
DOP_API FILE *dop_atomic_stream(dop_atomic_file *file);

/* Temporary path being written (the final path for "-"); for libraries such
 * as HDF5 that open files by name. Errors: none. */
DOP_API const char *dop_atomic_temp_path(const dop_atomic_file *file);

/* Close the stream but keep the temporary file, for writers that open it by
 * name (HDF5). Commit and abort still work afterwards. Errors: none. */
DOP_API void dop_atomic_release_stream(dop_atomic_file *file);

/* Flush, fsync and rename into place; frees `file`. Errors: DOP_ERR_IO
 * (write or rename failed; the temporary file is removed). */
DOP_API dop_status dop_atomic_commit(dop_atomic_file *file, dop_error *err);

/* dop_atomic_commit() of n files at once, with their disk writes
 * overlapped: every file is flushed, then every file fsynced, then each
 * renamed into place in order (each still reaches the disk before its
 * rename). Frees every file. *committed (may be NULL) is set to how many of
 * the first files were renamed into place (all n on success). Errors:
 * DOP_ERR_IO (a write failed: none renamed; or a rename failed: the files
 * before it renamed, that one and the rest removed). */
DOP_API dop_status dop_atomic_commit_all(dop_atomic_file **files, size_t n, size_t *committed, dop_error *err);

/* Discard what was written; frees `file`. NULL is fine. Errors: none. */
DOP_API void dop_atomic_abort(dop_atomic_file *file);

#ifdef __cplusplus
}
#endif
#endif

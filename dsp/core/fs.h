/* Filesystem and file-hashing helpers shared by the library (internal).
 *
 * One home for what the study, the cohort writer, the job and the review
 * each used to write for themselves: creating a folder with its parents,
 * joining paths, and SHA-256 (FIPS 180-4, nettle's implementation) of
 * files and texts as 64 lowercase hex digits. dop_file_sha256(), the
 * public one (include/dopflow/h5_writer.h), is defined in fs.c too. */
#ifndef DOPFLOW_CORE_FS_H
#define DOPFLOW_CORE_FS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <nettle/sha2.h>

#include "dopflow/status.h"

/* Hex digits of a SHA-256 digest, with the NUL. */
#define DOP_SHA256_HEX (2 * SHA256_DIGEST_SIZE + 1)

/* "dir/name" ("dir" + "name" when dir ends in '/'). Caller frees; NULL on
 * no memory. */
char *dop_fs_path_join(const char *dir, const char *name);

/* 1 if path is a regular file (after symbolic links), else 0. */
int dop_fs_is_file(const char *path);

/* Create path and its missing parents (mode 0777 less the umask), like
 * mkdir -p. Errors: DOP_ERR_IO ("cannot create folder", or path exists and
 * is not a folder), DOP_ERR_NOMEM. */
dop_status dop_fs_make_dirs(const char *path, dop_error *err);

/* Feed the rest of an open stream to sha, 64 KiB at a time (memory does
 * not grow with the file). Returns 0, or -1 on a read error (errno set). */
int dop_fs_sha256_feed(FILE *in, struct sha256_ctx *sha);

/* The digest of sha as hex into hex[DOP_SHA256_HEX] (the context is reset). */
void dop_fs_sha256_hex(struct sha256_ctx *sha, char hex[DOP_SHA256_HEX]);

/* SHA-256 of n bytes as hex into hex[DOP_SHA256_HEX]. */
void dop_fs_sha256_text(const void *data, size_t n, char hex[DOP_SHA256_HEX]);

/* Feed "tag size=N\n" and then the bytes of the file at path to sha, so
 * that a digest over several files tells which bytes belonged to which
 * (the study's result keys). Returns 1 = hashed, 0 = the file does not
 * exist (nothing fed), -1 = it cannot be read or is not a regular file
 * (DOP_ERR_IO in err). */
int dop_fs_sha256_tagged_file(struct sha256_ctx *sha, const char *tag, const char *path, dop_error *err);

#endif

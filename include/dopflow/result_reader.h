/* dopflow: reading a result back. The figures (tools/plot/) and the study
 * (dsp/study/) read result files through these calls, with column names and
 * HDF5 paths from the one result schema (dopflow/result_schema.h).
 *
 * HDF5: open an `analyze --h5` result read-only, read a 1-D dataset (or a
 * result column at its schema path) as doubles. CSV: stream a file row by row
 * (libcsv: RFC 4180 quoting, CR LF), find a column by its schema name, parse
 * a number. No state of its own; HDF5 calls share HDF5's global state, so
 * one thread at a time. */
#ifndef DOPFLOW_RESULT_READER_H
#define DOPFLOW_RESULT_READER_H

#include <stddef.h>
#include <stdint.h>

#include "dopflow/export.h"
#include "dopflow/result_schema.h"
#include "dopflow/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- CSV ---- */

/* Called with the fields of each record (NUL-terminated; the header is row
 * 0; blank lines are skipped); returns DOP_OK to go on, or a dop_status to
 * stop with (having set err). */
typedef dop_status (*dop_result_csv_row_fn)(const char *const *fields, size_t count, size_t row, void *user,
                                            dop_error *err);

/* Stream the CSV file at path through `row`. Errors: DOP_ERR_IO (cannot
 * open or read, naming the path), DOP_ERR_FORMAT (malformed CSV, naming the
 * row; an empty file), DOP_ERR_NOMEM, or what `row` returned. */
DOP_API dop_status dop_result_csv_read(const char *path, dop_result_csv_row_fn row, void *user, dop_error *err);

/* Index of `name` among the header fields (spaces around a field and a
 * trailing CR ignored), or -1. Errors: none. */
DOP_API int dop_result_csv_column(const char *const *fields, size_t count, const char *name);

/* Index among the header fields of a result column (kind, column), by its
 * CSV name in the schema, or -1 (also for a column without a CSV name).
 * Errors: none. */
DOP_API int dop_result_csv_column_of(const char *const *fields, size_t count, dop_result_kind kind, int column);

/* A CSV number: the finite value, or NAN for an empty, non-numeric or
 * non-finite field. Errors: none. */
DOP_API double dop_result_csv_number(const char *text);

/* ---- HDF5 ---- */

/* Open an HDF5 result read-only, with HDF5's error printing off; close it
 * with dop_result_h5_close (a negative id is ignored). Errors: DOP_ERR_IO
 * (missing or unreadable, naming the path), DOP_ERR_FORMAT (not HDF5). */
DOP_API dop_status dop_result_h5_open(const char *path, int64_t *file_id, dop_error *err);
DOP_API void dop_result_h5_close(int64_t file_id);

/* Read the whole 1-D dataset `name` (relative to the root, e.g.
 * "frames/time_s") as doubles into *out (malloc'd, the caller frees) and its
 * length into *n; h5_path names the file in messages. Errors:
 * DOP_ERR_FORMAT ("PATH: no /NAME dataset", or not 1-D), DOP_ERR_HDF5
 * (read failed), DOP_ERR_NOMEM. */
DOP_API dop_status dop_result_h5_read_doubles(int64_t file_id, const char *h5_path, const char *name, double **out,
                                              size_t *n, dop_error *err);

/* The same for a result column (kind, column) at its schema HDF5 path. */
DOP_API dop_status dop_result_h5_read_column(int64_t file_id, const char *h5_path, dop_result_kind kind,
                                             int column, double **out, size_t *n, dop_error *err);

#ifdef __cplusplus
}
#endif
#endif

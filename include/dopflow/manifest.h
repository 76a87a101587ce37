/* dopflow: the manifest of a study, one CSV row per recording.
 *
 * A CSV file (RFC 4180 as read by libcsv: quoted fields with commas, quotes
 * and line breaks, LF or CRLF line ends, an optional UTF-8 byte-order mark)
 * whose first record is a header naming the columns:
 *   required  subject, condition, file
 *   optional  artery                      groups the results (empty = "")
 *             onset_s                     event time in the recording, s
 *             f0_hz, angle_deg, diameter_mm, c_m_s, channels
 *                                         acquisition metadata that overrides
 *                                         the recording's sidecar JSON
 * Other columns are ignored (notes, dates). Column names are matched
 * exactly after trimming spaces; an empty optional cell means "not given".
 * Relative file paths resolve against the manifest's folder.
 *
 * Everything is checked while reading and the first problem is reported
 * with its line and column (DOP_ERR_FORMAT): missing required column,
 * repeated column, wrong number of fields, empty subject/condition/file,
 * a number that does not parse or is not finite, an unknown channel
 * layout, bytes that are not UTF-8, a NUL byte, malformed quoting, and a
 * row that repeats an earlier (subject, condition, artery, file). A file
 * that does not exist is not a manifest error: the study reports it as a
 * failed recording.
 *
 * Memory is proportional to the rows (strings in one arena, names
 * interned); reading is linear (hash tables for names and duplicates). */
#ifndef DOPFLOW_MANIFEST_H
#define DOPFLOW_MANIFEST_H

#include "dopflow/export.h"

#include <stddef.h>
#include <stdio.h>

#include "dopflow/acquisition.h"
#include "dopflow/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Columns whose values are interned as names (ids count from 0 in order
 * of first appearance). */
typedef enum dop_manifest_key {
    DOP_MANIFEST_SUBJECT = 0,
    DOP_MANIFEST_CONDITION,
    DOP_MANIFEST_ARTERY,
    DOP_MANIFEST_KEY_COUNT
} dop_manifest_key;

typedef struct dop_manifest_row {
    size_t line;                 /* line where the record starts (the header is line 1) */
    size_t subject, condition, artery; /* name ids (see dop_manifest_name) */
    const char *file;            /* as written in the manifest */
    const char *path;            /* resolved against the manifest's folder */
    double onset_s;              /* s from the start of the recording; NAN = not given */
    dop_acquisition overrides;   /* NAN / DOP_CHANNELS_UNSET where not given */
} dop_manifest_row;

typedef struct dop_manifest dop_manifest;

/* Read the manifest at path. Errors: DOP_ERR_IO (cannot open or read),
 * DOP_ERR_FORMAT (content, message "NAME line L, column C (NAME): ..."),
 * DOP_ERR_NOMEM. */
DOP_API dop_status dop_manifest_read(const char *path, dop_manifest **out, dop_error *err);

/* Read from a stream; `name` is used in messages, relative file paths
 * resolve against base_dir (NULL or "" = as written). */
DOP_API dop_status dop_manifest_read_stream(FILE *in, const char *name, const char *base_dir, dop_manifest **out,
                                            dop_error *err);

DOP_API size_t dop_manifest_row_count(const dop_manifest *m);
DOP_API const dop_manifest_row *dop_manifest_row_at(const dop_manifest *m, size_t index);

/* Interned names: count and text of id (NULL when out of range). */
DOP_API size_t dop_manifest_name_count(const dop_manifest *m, dop_manifest_key key);
DOP_API const char *dop_manifest_name(const dop_manifest *m, dop_manifest_key key, size_t id);

/* 1 if the header has the column (exact name), else 0. */
DOP_API int dop_manifest_has_column(const dop_manifest *m, const char *column);

/* SHA-256 of the manifest's bytes, 64 lowercase hex digits. */
DOP_API const char *dop_manifest_sha256(const dop_manifest *m);

DOP_API void dop_manifest_destroy(dop_manifest *m); /* NULL is fine */

/* 1 if the n bytes are well-formed UTF-8 (no overlong forms, surrogates or
 * code points above U+10FFFF), else 0 with *bad_offset (may be NULL) set
 * to the first offending byte. */
DOP_API int dop_utf8_valid(const char *s, size_t n, size_t *bad_offset);

#ifdef __cplusplus
}
#endif
#endif

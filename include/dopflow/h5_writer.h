/* dopflow: the HDF5 result file (--h5). Layout (documented in README):
 *   /spectrogram        float32 [frames][bins], power in dB re 1 (full scale)^2/Hz,
 *                       chunked (64 frames x bins) and deflate-compressed, extendible
 *   /time_s             float64 [frames]  centre time of each spectrogram row
 *   /velocity_cm_s      float32 [bins]    velocity of each column (negative = reverse)
 *   /frames/<column>    one float64 (flags: uint32) dataset per dop_frame field
 *   /beats/<column>     one float64 (rejected: int32) dataset per dop_beat field
 *   attributes on /     every analysis parameter (name -> number or string) and
 *                       provenance: dopflow_version, input_file, input_sha256
 * Written to a temporary name and renamed into place on dop_h5_writer_commit. */
#ifndef DOPFLOW_H5_WRITER_H
#define DOPFLOW_H5_WRITER_H

#include "dopflow/export.h"

#include <stddef.h>

#include "dopflow/records.h"
#include "dopflow/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dop_h5_writer dop_h5_writer;

/* Create the file (temporary name beside `path`) with the velocity axis of
 * `bins` columns. Errors: DOP_ERR_IO, DOP_ERR_HDF5, DOP_ERR_NOMEM. */
DOP_API dop_status dop_h5_writer_create(const char *path, size_t bins, const float *velocity_cm_s,
                                        dop_h5_writer **out, dop_error *err);

/* Append one spectrogram row (bins values, dB) at time_s, a frame or a
 * beat (datasets and columns: result_schema.h). Buffered: rows are written
 * a chunk at a time, so a write error may show on a later call. Errors:
 * DOP_ERR_HDF5 (the write failed). */
DOP_API dop_status dop_h5_writer_add_spectrum(dop_h5_writer *w, double time_s, const float *power_db, dop_error *err);
DOP_API dop_status dop_h5_writer_add_frame(dop_h5_writer *w, const dop_frame *frame, dop_error *err);
DOP_API dop_status dop_h5_writer_add_beat(dop_h5_writer *w, const dop_beat *beat, dop_error *err);

/* Attributes on the root group (parameters and provenance); set twice, the
 * last value wins. Errors: DOP_ERR_INVALID_ARG (no name), DOP_ERR_HDF5. */
DOP_API dop_status dop_h5_writer_set_number(dop_h5_writer *w, const char *name, double value, dop_error *err);
DOP_API dop_status dop_h5_writer_set_string(dop_h5_writer *w, const char *name, const char *value, dop_error *err);

/* Flush, close and rename into place; frees w (also on failure, when the
 * temporary file is removed). Errors: DOP_ERR_HDF5 (write or close
 * failed), DOP_ERR_IO (rename failed). */
DOP_API dop_status dop_h5_writer_commit(dop_h5_writer *w, dop_error *err);

/* Close and delete the temporary file; frees w. NULL is fine. Errors: none. */
DOP_API void dop_h5_writer_abort(dop_h5_writer *w);

/* SHA-256 of a file as 64 lowercase hex characters + NUL (streams the file
 * in blocks; nettle). Errors: DOP_ERR_IO. */
DOP_API dop_status dop_file_sha256(const char *path, char hex[65], dop_error *err);

#ifdef __cplusplus
}
#endif
#endif

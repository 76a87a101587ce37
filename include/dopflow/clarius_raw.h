/* dopflow: reader of Clarius raw IQ files (".raw" of the Clarius research
 * raw-data export, here its colour-Doppler IQ ensembles).
 *
 * Layout (little-endian):
 *   header   5 x uint32: id, frames, lines, samples, sample size (bytes)
 *   frames x { uint64 timestamp, lines x samples x sample size bytes }
 * For IQ the sample size is 4: an int16 I then an int16 Q (full scale 32768,
 * returned as float in [-1, 1)). In colour mode the "lines" are beam lines
 * x ensemble shots, stored beam line by beam line, then depth sample by
 * depth sample, then shot: [beam line][depth sample][shot][I, Q] (verified
 * on a Clarius linear-probe carotid frame; not the order the accompanying .yml
 * suggests). The ensemble length is not in the file: the caller gives it.
 *
 * Every size in the header is checked against the file size before it is
 * used. Memory: one beam line's block (samples x ensemble x 4 bytes) whatever
 * the file size. */
#ifndef DOPFLOW_CLARIUS_RAW_H
#define DOPFLOW_CLARIUS_RAW_H

#include "dopflow/export.h"

#include <complex.h>
#include <stddef.h>
#include <stdint.h>

#include "dopflow/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define DOP_CLARIUS_HEADER_BYTES 20u     /* 5 x uint32 */
#define DOP_CLARIUS_TIMESTAMP_BYTES 8u   /* uint64 per frame */
#define DOP_CLARIUS_MAX_FRAMES 100000u   /* larger counts are refused as corrupt */
#define DOP_CLARIUS_MAX_LINES 65536u     /* lines (beam lines x shots) per frame */
#define DOP_CLARIUS_MAX_SAMPLES 65536u   /* depth samples per line */

typedef struct dop_clarius_raw_config {
    const char *path;
    size_t ensemble;  /* shots per beam line, [1, DOP_CLARIUS_MAX_LINES] (default 12);
                         the header's line count must be a multiple of it */
} dop_clarius_raw_config;

typedef struct dop_clarius_raw_info {
    uint32_t id;            /* the header's first word (data type id of the export) */
    size_t frames;          /* frames in the file */
    size_t lines;           /* header "lines" per frame: beam_lines x ensemble */
    size_t samples;         /* depth samples per line */
    size_t sample_bytes;    /* 4: int16 I + int16 Q */
    size_t ensemble;        /* shots per beam line (as configured) */
    size_t beam_lines;      /* lines / ensemble */
    uint64_t file_bytes;    /* size of the file, = header + frames x (8 + lines x samples x 4) */
} dop_clarius_raw_info;

typedef struct dop_clarius_raw dop_clarius_raw;

/* path NULL, ensemble 12. Errors: none. */
DOP_API dop_clarius_raw_config dop_clarius_raw_config_default(void);

/* Open and check a file. Errors (the message names the file and the
 * problem): DOP_ERR_INVALID_ARG (no path, ensemble out of range),
 * DOP_ERR_IO (cannot open or read), DOP_ERR_FORMAT (shorter than a header,
 * zero or absurd frames / lines / samples, sample size other than 4 (not
 * IQ int16), lines not a multiple of the ensemble, file size other than the
 * header implies: truncated or with trailing bytes), DOP_ERR_NOMEM. */
DOP_API dop_status dop_clarius_raw_open(const dop_clarius_raw_config *cfg, dop_clarius_raw **out, dop_error *err);

/* What was opened; valid until close. Errors: none. */
DOP_API const dop_clarius_raw_info *dop_clarius_raw_get_info(const dop_clarius_raw *r);

/* Timestamp of a frame as stored (uint64; Clarius writes nanoseconds).
 * Errors: DOP_ERR_INVALID_ARG (frame out of range), DOP_ERR_IO. */
DOP_API dop_status dop_clarius_raw_timestamp(dop_clarius_raw *r, size_t frame, uint64_t *out, dop_error *err);

/* Beam line `line` (0 .. beam_lines - 1) of `frame` into `out`:
 * samples x ensemble complex values, depth-major (out[d * ensemble + n] =
 * shot n of depth sample d), I + jQ scaled by 1/32768: the block
 * dop_ensemble_push() takes. capacity = elements available in out.
 * Errors: DOP_ERR_INVALID_ARG (frame or line out of range, capacity below
 * samples x ensemble), DOP_ERR_IO (read error or the file shrank). */
DOP_API dop_status dop_clarius_raw_read_line(dop_clarius_raw *r, size_t frame, size_t line, float complex *out,
                                             size_t capacity, dop_error *err);

/* NULL is fine. Errors: none. */
DOP_API void dop_clarius_raw_close(dop_clarius_raw *r);

#ifdef __cplusplus
}
#endif
#endif

/* dopflow: sources of complex Doppler samples.
 *
 * A reader turns a recording into a stream of complex baseband samples
 * I + jQ (float complex, full scale = 1.0):
 *  - any file libsndfile reads (WAV, FLAC, AIFF, ...; int or float);
 *  - raw interleaved samples (s16 or f32 little-endian) from a file or from
 *    standard input ("-"), at a given rate.
 * Stereo files map by dop_channels (IQ: left = I, right = Q; QI swapped);
 * mono gives I = x, Q = 0 (non-directional). Reads are buffered in large
 * blocks; memory is constant whatever the file length. */
#ifndef DOPFLOW_READER_H
#define DOPFLOW_READER_H

#include <complex.h>
#include <stddef.h>
#include <stdint.h>

#include "dopflow/acquisition.h"
#include "dopflow/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum dop_raw_format {
    DOP_RAW_NONE = 0,   /* not raw: let libsndfile read the file's header */
    DOP_RAW_S16,        /* interleaved int16 little-endian */
    DOP_RAW_F32         /* interleaved float32 little-endian */
} dop_raw_format;

typedef struct dop_reader_config {
    const char *path;          /* file path, or "-" for standard input (raw only) */
    dop_channels channels;     /* UNSET: 2 channels -> IQ, 1 channel -> MONO */
    dop_raw_format raw_format; /* DOP_RAW_NONE for self-describing files */
    double raw_rate_hz;        /* sample rate of raw input, Hz */
} dop_reader_config;

typedef struct dop_reader_info {
    double rate_hz;            /* samples (complex) per second */
    int file_channels;         /* channels stored in the file */
    dop_channels channels;     /* mapping in use */
    int64_t frames;            /* samples per channel, -1 if unknown (stream) */
    double duration_s;         /* frames / rate, NAN if unknown */
    char format[96];           /* e.g. "WAV (Microsoft) / Signed 16 bit PCM" or "raw s16" */
    int is_float;              /* 1 if stored as floating point */
} dop_reader_info;

typedef struct dop_reader dop_reader;

dop_reader_config dop_reader_config_default(void);

/* Open a recording. Errors (message names the file and the problem):
 * DOP_ERR_IO (missing, unreadable), DOP_ERR_FORMAT (not audio, truncated
 * header, channel count that does not fit the mapping, 0 channels, rate not
 * positive), DOP_ERR_INVALID_ARG (raw input without a rate, "-" without a
 * raw format). */
dop_status dop_reader_open(const dop_reader_config *cfg, dop_reader **out, dop_error *err);

const dop_reader_info *dop_reader_get_info(const dop_reader *reader);

/* Skip to sample `frame` (seek when possible, else read and discard). */
dop_status dop_reader_skip_to(dop_reader *reader, int64_t frame, dop_error *err);

/* Read up to `capacity` complex samples into `out`; *count = number read,
 * 0 at the end. Errors: DOP_ERR_IO (read error), DOP_ERR_FORMAT (a NaN or
 * infinite sample, with its position). A header that claims more data than
 * exists simply ends early. */
dop_status dop_reader_read(dop_reader *reader, float complex *out, size_t capacity, size_t *count, dop_error *err);

void dop_reader_close(dop_reader *reader); /* NULL is fine */

#ifdef __cplusplus
}
#endif
#endif

/* dopflow: sources of complex Doppler samples.
 *
 * A reader turns a recording into a stream of complex baseband samples
 * I + jQ (float complex, full scale = 1.0), one sample per pulse (audio: per
 * sample period) and gate:
 *  - any file libsndfile reads (WAV, FLAC, AIFF, ...; int or float);
 *  - raw interleaved samples (s16 or f32 little-endian) from a file or from
 *    standard input ("-"), at a given rate;
 *  - slow-time IQ of research scanners (pulsed-wave Doppler, the pulse
 *    repetition frequency playing the part of the sample rate):
 *      native HDF5: dataset /iq, (N, 2) or (N, G, 2), attribute prf_hz;
 *      USTB UFF (HDF5): a uff.beamformed_data group, pixels as gates;
 *      MATLAB .mat (v5, v7.3) through libmatio: a named variable.
 *    These carry G gates (depth samples) per pulse; the reader returns the
 *    selected range gate_first..gate_last, pulse by pulse.
 * Stereo files map by dop_channels (IQ: left = I, right = Q; QI swapped;
 * LEFT / RIGHT: that channel alone as mono); mono gives I = x, Q = 0
 * (non-directional). Reads are buffered in bounded
 * blocks (HDF5: hyperslabs); memory is constant whatever the file length. */
#ifndef DOPFLOW_READER_H
#define DOPFLOW_READER_H

#include "dopflow/export.h"

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

typedef enum dop_input_format {
    DOP_INPUT_AUTO = 0,  /* by content: MATLAB header, HDF5 (/iq or UFF), else audio */
    DOP_INPUT_AUDIO,     /* libsndfile (or raw, with raw_format) */
    DOP_INPUT_IQ_H5,     /* native HDF5 /iq */
    DOP_INPUT_UFF,       /* USTB Ultrasound File Format */
    DOP_INPUT_MAT,       /* MATLAB .mat */
    DOP_INPUT_CLARIUS    /* Clarius raw colour-flow ensembles: not a stream (color_job.h) */
} dop_input_format;

typedef struct dop_reader_config {
    const char *path;          /* file path, or "-" for standard input (raw only) */
    dop_channels channels;     /* UNSET: 2 channels -> IQ, 1 channel -> MONO */
    dop_raw_format raw_format; /* DOP_RAW_NONE for self-describing files */
    double raw_rate_hz;        /* sample rate of raw input, Hz; for IQ files a PRF that
                                  overrides the file's prf_hz (messages about a missing
                                  PRF name it prf_hz) (NAN = not given) */
    dop_input_format format;   /* DOP_INPUT_AUTO: detect */
    long gate_first;           /* first gate (depth sample) kept, from 0 */
    long gate_last;            /* last gate kept (inclusive); -1 = the file's last */
    const char *variable;      /* MAT: variable holding the IQ data (NULL: the only
                                  numeric array of >= 2 elements); UFF: path of the
                                  beamformed_data group (NULL: the first found) */
    const char *rate_variable; /* MAT: scalar variable holding the PRF in Hz (NULL: none) */
} dop_reader_config;

typedef struct dop_reader_info {
    double rate_hz;            /* samples (complex) per second */
    int file_channels;         /* channels stored in the file */
    dop_channels channels;     /* mapping in use (LEFT / RIGHT read as MONO) */
    int mono_channel;          /* MONO from a stereo file: 0 = left, 1 = right channel */
    int64_t frames;            /* samples per channel, -1 if unknown (stream) */
    int64_t frames_promised;   /* RIFF/WAV: frames the header's data chunk promises
                                  (> frames: the file is truncated); -1 if not known
                                  (not WAV, or a streamed header of size 0 / 0xFFFFFFFF) */
    double duration_s;         /* frames / rate, NAN if unknown */
    char format[96];           /* e.g. "WAV (Microsoft) / Signed 16 bit PCM" or "raw s16" */
    int is_float;              /* 1 if stored as floating point */
    long gates;                /* gates returned per pulse (1 for audio) */
    long file_gates;           /* gates stored per pulse in the file */
    long gate_first;           /* file index of the first gate returned */
    dop_input_format kind;     /* the format in use (never AUTO) */
    dop_acquisition file_acq;  /* metadata stored in the file (NAN / UNSET = absent) */
    char layout[160];          /* e.g. "/iq int16 (120000, 32, 2)"; "" for audio */
} dop_reader_info;

typedef struct dop_reader dop_reader;

/* Every field unset (auto format, channels from the file, no raw format,
 * rate NAN, all gates). Errors: none. */
DOP_API dop_reader_config dop_reader_config_default(void);

/* Open a recording. Errors (message names the file and the problem):
 * DOP_ERR_IO (missing, unreadable), DOP_ERR_FORMAT (not audio, truncated
 * header, channel count that does not fit the mapping, 0 channels, rate not
 * positive), DOP_ERR_INVALID_ARG (raw input without a rate, "-" without a
 * raw format). */
DOP_API dop_status dop_reader_open(const dop_reader_config *cfg, dop_reader **out, dop_error *err);

/* What was opened; valid until close. Errors: none. */
DOP_API const dop_reader_info *dop_reader_get_info(const dop_reader *reader);

/* Skip to sample (pulse) `frame` (seek when possible, else read and
 * discard); past the end, the next read returns 0. Errors:
 * DOP_ERR_INVALID_ARG (negative frame), DOP_ERR_IO (seek or read failed),
 * and those of dop_reader_read while discarding. */
DOP_API dop_status dop_reader_skip_to(dop_reader *reader, int64_t frame, dop_error *err);

/* Read up to `capacity` pulses into `out` (capacity x info.gates samples,
 * pulse-major: out[p * gates + g]); *count = pulses read, 0 at the end.
 * With one gate (audio) a pulse is a sample. Errors: DOP_ERR_IO (read error), DOP_ERR_FORMAT (a NaN or
 * infinite sample, with its position). A header that claims more data than
 * exists simply ends early. */
DOP_API dop_status dop_reader_read(dop_reader *reader, float complex *out, size_t capacity, size_t *count, dop_error *err);

/* NULL is fine. Errors: none. */
DOP_API void dop_reader_close(dop_reader *reader);

/* "auto" | "audio" | "iq-h5" | "uff" | "mat" | "clarius" -> format; -1 if
 * unknown; and back. Errors: none. */
DOP_API int dop_input_format_parse(const char *text);
DOP_API const char *dop_input_format_name(dop_input_format format);

#ifdef __cplusplus
}
#endif
#endif

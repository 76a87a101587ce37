/* Private: the slow-time IQ formats behind dop_reader (reader.c dispatches
 * to them; libsndfile and raw input live in reader.c itself).
 *
 * A back end opens one file, describes it in dop_reader_info and returns
 * pulses of `gates` complex samples, pulse-major (out[p * gates + g]), with
 * full scale 1.0 (int16 values / 32768, floats as stored). It reads in
 * bounded blocks (never the whole dataset at once) and checks every size
 * it is told by the file before allocating. */
#ifndef DOPFLOW_READER_BACKEND_H
#define DOPFLOW_READER_BACKEND_H

#include "dopflow/reader.h"

/* Largest block a back end reads at once, bytes (bounded memory). */
#define DOP_READER_BACKEND_BLOCK_BYTES (4u << 20)

typedef struct dop_reader_backend {
    const char *name;  /* "iq-h5", "uff", "mat" */
    /* 1 if the file at `path` is of this format (cheap look at its content). */
    int (*probe)(const char *path);
    /* Open; fill info: rate_hz (PRF; cfg->raw_rate_hz overrides the file's,
     * and a file without one needs it), frames (pulses), duration_s, format
     * (a short name: "native HDF5 IQ"), layout (the stored shape and type),
     * is_float, file_channels = 2, channels = DOP_CHANNELS_IQ, gates,
     * file_gates, gate_first, file_acq (what the file says of f0, angle, c,
     * diameter). Honour cfg->gate_first/gate_last, refusing a range outside
     * the file with DOP_ERR_INVALID_ARG naming the valid range. `name` is the
     * path to use in messages. Errors: DOP_ERR_IO, DOP_ERR_FORMAT (message
     * names the file and what is wrong), DOP_ERR_INVALID_ARG, DOP_ERR_NOMEM. */
    dop_status (*open)(const dop_reader_config *cfg, const char *name, dop_reader_info *info, void **state,
                       dop_error *err);
    /* Up to max_pulses pulses into out; *count pulses read, 0 at the end. A
     * NaN or infinite value: DOP_ERR_FORMAT naming the pulse and gate. */
    dop_status (*read)(void *state, float complex *out, size_t max_pulses, size_t *count, dop_error *err);
    /* Position so that the next read starts at pulse `pulse` (past the end:
     * the next read returns 0). */
    dop_status (*seek)(void *state, int64_t pulse, dop_error *err);
    void (*close)(void *state); /* NULL is fine */
} dop_reader_backend;

extern const dop_reader_backend dop_reader_backend_iq_h5; /* reader_iq_h5.c */
extern const dop_reader_backend dop_reader_backend_uff;   /* reader_uff.c */
extern const dop_reader_backend dop_reader_backend_mat;   /* reader_mat.c */

/* Index of the first NaN or infinite value of x[0..n), or n (reader.c). */
size_t dop_first_non_finite(const float *x, size_t n);

/* What every back end's seek does: *position = pulse, clamped to the
 * `pulses` of the file; a negative pulse is DOP_ERR_INVALID_ARG. */
dop_status dop_reader_backend_seek(const char *name, int64_t pulse, int64_t pulses, int64_t *position, dop_error *err);

/* Gate range of a file with `file_gates` gates from cfg (-1 = last):
 * DOP_ERR_INVALID_ARG when it does not fit. */
dop_status dop_reader_gate_range(const dop_reader_config *cfg, const char *name, long file_gates, long *first,
                                 long *count, dop_error *err);

#endif

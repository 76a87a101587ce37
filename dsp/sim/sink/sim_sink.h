/* Private: where the simulator's samples go. One sink per file format; the
 * writer (sim_writer.c) picks it from the output's extension, generates the
 * samples of every gate in step and hands them over block by block, so
 * memory stays constant for any duration.
 *
 * Samples reach a sink unscaled (nominal blood power 1) with the scale that
 * maps them to full scale; sim_scale_pcm16() / sim_scale_float() do the
 * scaling, clipping and counting the same way for every format, so a WAV
 * and an IQ file from the same spec hold the same numbers. */
#ifndef DOPFLOW_SIM_SINK_H
#define DOPFLOW_SIM_SINK_H

#include <complex.h>
#include <stddef.h>
#include <stdint.h>

#include "dopflow/status.h"

typedef struct sim_sink_params {
    double prf_hz;        /* sample rate (audio) or pulse repetition frequency (IQ), Hz */
    int64_t pulses;       /* samples per gate in the whole recording */
    long gates;           /* gates (depth samples) per pulse; 1 for audio */
    double f0_hz, angle_deg, c_m_s, diameter_mm; /* acquisition, stored where the format can */
    int float_samples;    /* 1: float32 values in full-scale units; 0: int16 (x 32767) */
    double scale;         /* full scale per simulation unit */
    int clip;             /* clip to [-1, 1] (and count) also for float output */
} sim_sink_params;

typedef struct sim_sink_ops {
    const char *name;       /* "wav", "iq-h5", "uff", "mat", "raw" */
    const char *extensions; /* e.g. ".h5 .hdf5", lower case, space separated */
    int multi_gate;         /* can store more than one gate */
    /* Open `tmp_path` for writing (`name` is the final path, for messages). */
    dop_status (*open)(const char *tmp_path, const char *name, const sim_sink_params *p, void **state,
                       dop_error *err);
    /* n pulses x gates samples, pulse-major (x[p * gates + g]), unscaled;
     * adds the I or Q values clipped to *clipped. */
    dop_status (*write)(void *state, const float complex *x, size_t n, int64_t *clipped, dop_error *err);
    /* Complete and close the file. */
    dop_status (*finish)(void *state, dop_error *err);
    void (*abort)(void *state); /* close without completing; NULL state is fine */
} sim_sink_ops;

extern const sim_sink_ops sim_sink_wav;    /* sim_sink_wav.c */
extern const sim_sink_ops sim_sink_iq_h5;  /* sim_sink_iq_h5.c */
extern const sim_sink_ops sim_sink_uff;    /* sim_sink_uff.c */
extern const sim_sink_ops sim_sink_mat;    /* sim_sink_mat.c */
extern const sim_sink_ops sim_sink_raw;    /* sim_sink_raw.c */

/* The sink whose extensions include the path's (case-insensitive); NULL if none. */
const sim_sink_ops *sim_sink_for_path(const char *path);

/* Scale n complex values into 2n interleaved (I, Q) int16 (x 32767, rounded)
 * or float values, clipping at +/-1 (always for int16, for float when
 * `clip`); *clipped counts the clipped values. */
void sim_scale_pcm16(const float complex *x, size_t n, double scale, int16_t *out, int64_t *clipped);
void sim_scale_float(const float complex *x, size_t n, double scale, int clip, float *out, int64_t *clipped);
/* The one of the two the parameters ask for (p->float_samples, p->scale,
 * p->clip); returns the bytes of one I or Q value written (2 or 4). */
size_t sim_scale(const sim_sink_params *p, const float complex *x, size_t n, void *out, int64_t *clipped);

#endif

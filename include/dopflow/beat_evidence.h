/* dopflow stage 4b: per-frame evidence of the cardiac cycle from the power
 * spectrum, for the beat detector (beats.h).
 *
 * Each bin's typical level is tracked over time by a sign-driven quantile
 * tracker (the running median of the bin's power: m *= 1 + mu when the bin
 * is above it, m /= 1 + mu when below; mu = 1 / frame rate, so the level
 * can move by a factor e per second). Against that per-bin level:
 *  - excess_power: sum over bins of max(P - m, 0) over the sum of m
 *    (dimensionless): the blood signal that rises above each bin's own
 *    typical level, relative to the typical total. A
 *    stationary spectral line (mains hum, a kit's oscillator leaking in) or
 *    a coloured (band-limited, pre-emphasised) noise spectrum is its own
 *    typical level and adds nothing.
 *  - flux: spectral flux, sum over bins of the half-wave rectified rise of
 *    sqrt(max(P / m, 1)) from the previous frame (onset strength, Bello et
 *    al., IEEE Trans Speech Audio Process 2005;13:1035-1047; the square root
 *    compresses like their log but costs no logarithm per bin).
 * Memory: 3 floats per bin.
 *
 * Life: config_default, create, push, reset, destroy. No flush: each frame's
 * evidence is returned by its own push. */
#ifndef DOPFLOW_BEAT_EVIDENCE_H
#define DOPFLOW_BEAT_EVIDENCE_H

#include "dopflow/export.h"

#include <stddef.h>

#include "dopflow/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dop_beat_evidence_config {
    size_t bins;              /* spectrum bins per frame */
    double frame_rate_hz;     /* frames per second */
} dop_beat_evidence_config;

typedef struct dop_beat_evidence_frame {
    double excess_power;      /* sum of max(P - typical, 0) / sum of typical; >= 0 */
    double flux;              /* spectral flux against the typical levels; >= 0 */
} dop_beat_evidence_frame;

typedef struct dop_beat_evidence dop_beat_evidence;

/* bins and frame rate unset (0). Errors: none. */
DOP_API dop_beat_evidence_config dop_beat_evidence_config_default(void);

/* Errors: DOP_ERR_INVALID_ARG (no bins, frame rate not > 0), DOP_ERR_NOMEM. */
DOP_API dop_status dop_beat_evidence_create(const dop_beat_evidence_config *cfg, dop_beat_evidence **out, dop_error *err);

/* One frame's power spectrum (cfg.bins values, linear): update the typical
 * levels and return the frame's evidence. Never allocates. Errors: none. */
DOP_API dop_beat_evidence_frame dop_beat_evidence_push(dop_beat_evidence *e, const float *psd);

/* Forget the typical levels (as after create). Errors: none. */
DOP_API void dop_beat_evidence_reset(dop_beat_evidence *e);
/* NULL is fine. Errors: none. */
DOP_API void dop_beat_evidence_destroy(dop_beat_evidence *e);

#ifdef __cplusplus
}
#endif
#endif

/* dopflow stage 3: noise floor of the Doppler spectrum, from the data.
 *
 * White noise has a flat PSD whose periodogram values are exponentially
 * distributed (chi-square, 2 degrees of freedom), so the q-quantile of the
 * bins that carry noise alone equals -ln(1 - q) times the noise level. Per
 * frame the estimator takes the q-quantile (default q = 0.25) of the bins
 * outside the wall-filter gap, which stays a noise estimate as long as
 * blood occupies less than 1 - q of the band, and scales it to a mean; an
 * iterated mean of the bins below 3x that level (divided by the mean of a
 * truncated exponential) then removes the bias that flow in up to half the
 * bins would cause. Frames are combined by first-order smoothing (time
 * constant rise_time_s); the caller keeps artifact frames (bursts,
 * dropouts) out, so they cannot lift or sink the floor.
 *
 * Life: config_default, create, push (one frame's PSD in, the tracked
 * level out), reset, destroy. The push is also split in two public halves,
 * frame_estimate and push_estimate, because the caller decides between
 * them whether the frame is an artifact to keep out. No flush: the level is
 * current after every frame. */
#ifndef DOPFLOW_NOISE_FLOOR_H
#define DOPFLOW_NOISE_FLOOR_H

#include "dopflow/export.h"

#include <stddef.h>
#include <stdint.h>

#include "dopflow/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dop_noise_floor_config {
    double quantile;        /* in (0, 0.5]; default 0.25 */
    double rise_time_s;     /* smoothing time constant, s; default 1 */
    double frame_rate_hz;   /* frames per second */
} dop_noise_floor_config;

typedef struct dop_noise_floor dop_noise_floor;

/* quantile 0.25, rise time 1 s, frame rate unset (0). Errors: none. */
DOP_API dop_noise_floor_config dop_noise_floor_config_default(void);

/* bins: spectrum length; mask[k] != 0 marks bins to use (NULL = all).
 * The mask is copied. Errors: DOP_ERR_INVALID_ARG (quantile outside (0, 0.5],
 * rise time or frame rate not > 0, fewer than 8 usable bins), DOP_ERR_NOMEM. */
DOP_API dop_status dop_noise_floor_create(const dop_noise_floor_config *cfg, size_t bins, const uint8_t *mask,
                                          dop_noise_floor **out, dop_error *err);

/* Per-frame raw estimate (mean noise PSD from this frame alone). Never
 * allocates. Errors: none. */
DOP_API double dop_noise_floor_frame_estimate(dop_noise_floor *nf, const float *psd);

/* Track a per-frame estimate; returns the tracked noise PSD level. Frames
 * judged to be artifacts should not be fed. Errors: none. */
DOP_API double dop_noise_floor_push_estimate(dop_noise_floor *nf, double frame_estimate);

/* The push: frame_estimate + push_estimate in one call; returns the
 * tracked level. Errors: none. */
DOP_API double dop_noise_floor_push(dop_noise_floor *nf, const float *psd);

/* Tracked level (negative before the first frame). Errors: none. */
DOP_API double dop_noise_floor_level(const dop_noise_floor *nf);

/* Forget the tracked level (as after create). Errors: none. */
DOP_API void dop_noise_floor_reset(dop_noise_floor *nf);
/* NULL is fine. Errors: none. */
DOP_API void dop_noise_floor_destroy(dop_noise_floor *nf);

#ifdef __cplusplus
}
#endif
#endif

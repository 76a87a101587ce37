/* dopflow stage 4c: bursts of tissue motion under the probe (percussion
 * massage, a knock on the probe or the skin), found in the power spectrum
 * so that the mean velocity and flow leave those frames out.
 *
 * Tissue moved by a blow moves towards the probe and back within tens of
 * milliseconds: its echoes, far stronger than blood, put power at low
 * Doppler frequencies on both sides of 0 Hz at once. Blood in an artery
 * moves one way at a time (systole raises the forward side, a reversal the
 * reverse side), so a frame whose power near 0 Hz rises on both sides at
 * once is a burst. Per frame, the power of each side's low band (the bins
 * beyond the wall filter's stop band up to BAND_HZ, 500 Hz: tissue moving
 * at up to about 15 cm/s at 5 MHz and 60 degrees) is compared with that
 * band's typical power, tracked by the same sign-driven running median as
 * the beat evidence (beat_evidence.h: the level moves by at most a factor
 * e per second). A burst: both sides at least RISE (10) times their
 * typical power, and the weaker side within
 * SIDE_RATIO (20 dB) of the stronger (the mirror image of the flow that an
 * unbalanced I/Q pair leaves on the other side is weaker than that). The
 * burst's frame and the HOLD frames after it are flagged (the echo's
 * decay and the wall filter's ringing).
 *
 * Flagged frames are left out of the mean velocity and flow like artifact
 * frames (DOP_FRAME_TISSUE_BURST in DOP_FRAME_ARTIFACT_MASK); they do not
 * count as artifacts of a beat or hide its features (DOP_FRAME_HIDING_MASK):
 * valve clicks in precordial Doppler look the same and are evidence of the
 * cycle. Not for one-sided (non-directional) spectra, whose two sides are
 * one.
 *
 * Life: config_default, create, push, destroy. No flush: each frame's
 * verdict comes from its own push. Memory: a few doubles. */
#ifndef DOPFLOW_TISSUE_BURST_H
#define DOPFLOW_TISSUE_BURST_H

#include "dopflow/export.h"

#include <stddef.h>

#include "dopflow/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dop_tissue_burst_config {
    size_t bins;              /* spectrum bins per frame, two-sided, 0 Hz at bins / 2 */
    double bin_hz;            /* width of a bin, Hz */
    double frame_rate_hz;     /* frames per second */
    size_t stop_bins;         /* bins 0 .. stop_bins - 1 from 0 Hz are the wall filter's stop band */
} dop_tissue_burst_config;

typedef struct dop_tissue_burst dop_tissue_burst;

/* Everything unset (0). Errors: none. */
DOP_API dop_tissue_burst_config dop_tissue_burst_config_default(void);

/* Errors: DOP_ERR_INVALID_ARG (no bins, no bin width or frame rate),
 * DOP_ERR_NOMEM. A spectrum too narrow for a low band beyond the stop band
 * is fine: no frame is ever a burst. */
DOP_API dop_status dop_tissue_burst_create(const dop_tissue_burst_config *cfg, dop_tissue_burst **out,
                                           dop_error *err);

/* psd: one frame, cfg.bins values. 1 when the frame is a burst or within
 * HOLD frames after one, else 0. Never allocates. Errors: none. */
DOP_API int dop_tissue_burst_push(dop_tissue_burst *t, const float *psd);

/* NULL is fine. Errors: none. */
DOP_API void dop_tissue_burst_destroy(dop_tissue_burst *t);

#ifdef __cplusplus
}
#endif
#endif

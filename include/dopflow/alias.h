/* dopflow stage 3b: aliasing. A sampled Doppler signal only tells the
 * frequency modulo the sample rate (audio) or PRF (IQ): a velocity beyond
 * the Nyquist velocity c PRF / (4 f0 cos angle) reappears at the other end
 * of the spectrum. This stage decides, frame by frame, which frequency
 * range [lo, lo + fs) the spectrum stands for, and lays the frame out on an
 * extended axis [-fs, fs) so that the envelopes see the flow contiguous:
 *
 *  - baseline shift (what a scanner's "baseline" control does): the zero
 *    line moves by shift_hz, so the range is [-fs/2 + shift, fs/2 + shift);
 *  - unwrap: a band that crosses the edge of that range (significant power
 *    in the bins on both sides of the cut) is one band that wrapped; the cut
 *    moves to the middle of the widest empty stretch of the spectrum (never
 *    into the wall-filter gap around 0 Hz), which puts the wrapped part back
 *    beyond the Nyquist limit. This is the spectral form of the classic
 *    "largest gap" de-aliasing of the velocity envelope (Evans & McDicken,
 *    Doppler Ultrasound, 2nd ed., 2000, ch. 6 on aliasing and baseline
 *    shift; valid while the true band is narrower than fs).
 *
 * Bins outside [lo, lo + fs) on the extended axis are filled with the noise
 * level, so noise-subtracted sums over them are exactly zero.
 *
 * Life: config_default, create, push (one frame in, the same frame laid
 * out, so no flush), reset, destroy. The only state kept between
 * frames is the last frame's range, for map_hz. */
#ifndef DOPFLOW_ALIAS_H
#define DOPFLOW_ALIAS_H

#include "dopflow/export.h"

#include <stddef.h>

#include "dopflow/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dop_alias_config {
    size_t bins;            /* physical spectrum length (fft size), even */
    double bin_hz;          /* fs / bins */
    double shift_hz;        /* baseline shift, Hz, |shift| < 0.9 fs/2; + extends the forward side */
    int unwrap;             /* 1: detect and unwrap bands that cross the range edge */
    double gap_hz;          /* wall-filter gap half-width, Hz: the cut never falls inside */
} dop_alias_config;

typedef struct dop_alias dop_alias;

/* Every field unset (0): no shift, no unwrapping, no gap. Errors: none. */
DOP_API dop_alias_config dop_alias_config_default(void);

/* Errors: DOP_ERR_INVALID_ARG (bins < 8 or odd, shift out of range), DOP_ERR_NOMEM. */
DOP_API dop_status dop_alias_create(const dop_alias_config *cfg, dop_alias **out, dop_error *err);

/* Extended spectrum length: 2 x bins, bin k at (k - bins) x bin_hz. Errors: none. */
DOP_API size_t dop_alias_bins(const dop_alias *a);

/* The physical per-bin wall-filter gain repeated over the extended axis
 * (the filter acts on the aliased frequency): ext[k] = gain[(k + bins/2) mod bins].
 * Errors: none. */
DOP_API void dop_alias_extend_gain(const dop_alias *a, const double *gain, double *ext);

typedef struct dop_alias_frame {
    const float *psd;       /* dop_alias_bins() values on the extended axis */
    double lo_hz;           /* the frame's range is [lo_hz, lo_hz + fs) */
    int unwrapped;          /* 1: the cut moved away from the baseline for this frame */
} dop_alias_frame;

/* Lay out one frame (psd: `bins` fft-shifted values; noise: its noise PSD
 * level). Never allocates; the result is valid until the next call.
 * Errors: none. */
DOP_API void dop_alias_push(dop_alias *a, const float *psd, double noise, dop_alias_frame *out);

/* A frequency mapped into the last frame's range [lo, lo + fs). Errors: none. */
DOP_API double dop_alias_map_hz(const dop_alias *a, double f_hz);

/* Back to the baseline range (as after create). Errors: none. */
DOP_API void dop_alias_reset(dop_alias *a);
/* NULL is fine. Errors: none. */
DOP_API void dop_alias_destroy(dop_alias *a);

#ifdef __cplusplus
}
#endif
#endif

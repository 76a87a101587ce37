/* dopflow stage 4: velocity envelopes of one spectral frame.
 *
 * Works on the two-sided, fft-shifted PSD with the noise level known. Each
 * side (forward f > 0, reverse f < 0) gets its own maximum frequency:
 *  - DOP_FMAX_MGM (default): the knee of DOP_FMAX_KNEE refined to the
 *    half-power point of the falling edge, corrected for the analysis
 *    window's main lobe (max_frequency.h: Vilkomerson, Ricci & Tortoli,
 *    IEEE TUFFC 2013;60:2079). The knee alone overshoots the maximum by
 *    about one bin (the broadened edge's tail).
 *  - DOP_FMAX_KNEE: modified geometric method (Moraes, Aydin, Evans,
 *    Ultrasound Med Biol 1995; Fernando, Mathews, Clark, IEEE TUFFC
 *    2004;51:2085): on the noise-subtracted integrated spectrum, the
 *    frequency of largest vertical distance below the line from the origin
 *    to the integrated maximum (the default before the refinement).
 *  - DOP_FMAX_PERCENTILE: frequency below which `percentile` of the side's
 *    noise-subtracted power lies (Mo et al. 1988).
 *  - DOP_FMAX_THRESHOLD: highest frequency whose smoothed PSD exceeds the
 *    noise level by threshold_db (threshold crossing).
 * A side counts as carrying flow only if its noise-subtracted power is
 * significant: it exceeds `detect_sigma` standard deviations of the
 * noise-only sum over the same bins.
 *
 * Mean frequency: intensity-weighted mean of the noise-subtracted PSD
 * between the reverse and forward maximum frequencies (signed: forward minus
 * reverse contributions). Two corrections keep it honest at low velocity:
 * inside the wall-filter passband each bin is divided by the filter's power
 * gain |H(f)|^2 (where it exceeds 1/2... i.e. above the cutoff), and the bins
 * of the stop-band gap |f| < gap_hz, whose blood power the filter removed,
 * are filled by linear interpolation between the PSD just outside the gap on
 * either side. With uniform insonation of the vessel the PSD is proportional
 * to the area moving at each velocity, so the intensity-weighted mean is the
 * spatial-mean velocity (Evans & McDicken, Doppler Ultrasound, 2000, ch. 11). */
#ifndef DOPFLOW_ENVELOPE_H
#define DOPFLOW_ENVELOPE_H

#include "dopflow/export.h"

#include <stddef.h>

#include "dopflow/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum dop_fmax_method {
    DOP_FMAX_MGM = 0,
    DOP_FMAX_PERCENTILE,
    DOP_FMAX_THRESHOLD,
    DOP_FMAX_KNEE
} dop_fmax_method;

typedef struct dop_envelope_config {
    size_t bins;               /* spectrum length (fft size), even */
    double bin_hz;             /* fs / bins */
    dop_fmax_method method;
    double percentile;         /* for PERCENTILE, in (0, 1); default 0.95 */
    double threshold_db;       /* for THRESHOLD, dB above noise; default 6 */
    double detect_sigma;       /* significance of a side's flow; default 5 */
    double gap_hz;             /* wall-filter gap half-width, Hz (0 = none) */
    const double *gain;        /* per-bin |H(f)|^2 of the wall filter, or NULL; copied */
    int one_sided;             /* 1 for non-directional (mono) input: fold -f onto +f */
    double window_hwhm_bins;   /* for MGM: half-power half-width of the analysis window's main
                                  lobe, bins (dop_spectrum_window_hwhm_bins); default 0.72 (Hann) */
} dop_envelope_config;

typedef struct dop_envelope_result {
    double fmax_forward_hz;    /* >= 0; 0 when no forward flow */
    double fmax_reverse_hz;    /* <= 0; 0 when no reverse flow */
    double fmean_hz;           /* signed intensity-weighted mean frequency */
    double fmean_fixed_hz;     /* the same over the fixed wall-filter band, without the clutter
                                  band (the beat detector's mean feature; = fmean_hz without clutter) */
    double power_forward;      /* noise-subtracted signal power, forward side */
    double power_reverse;      /* noise-subtracted signal power, reverse side */
    double snr_db;             /* signal power / noise power within the flow band */
    int has_signal;            /* either side significant */
} dop_envelope_result;

typedef struct dop_envelope dop_envelope;

/* Life: config_default, create, push (one frame in, its envelopes out, so
 * no flush), reset, destroy. The state kept between frames: a running
 * median of the frame power (which widens the wall gap over clutter
 * bursts), the running typical blood power of the mean's clutter band, and
 * whether the previous frame had a clutter lump beside the gap.
 *
 * Bins and bin width unset (0); MGM, percentile 0.95, threshold 6 dB,
 * detection at 5 sigma, window main lobe 0.72 bins. Errors: none. */
DOP_API dop_envelope_config dop_envelope_config_default(void);

/* Errors: DOP_ERR_INVALID_ARG (bins < 8 or odd, bin width not > 0,
 * percentile outside (0, 1), detection threshold negative or not finite,
 * window_hwhm_bins not > 0),
 * DOP_ERR_NOMEM. */
DOP_API dop_status dop_envelope_create(const dop_envelope_config *cfg, dop_envelope **out, dop_error *err);

/* psd: `bins` values, fft-shifted; noise: noise PSD level (same units).
 * Never allocates. Errors: none. */
DOP_API void dop_envelope_push(dop_envelope *env, const float *psd, double noise, dop_envelope_result *out);

/* The same over a part of the axis: the forward side spans bins 1..fwd_bins
 * above 0 Hz and the reverse side 1..rev_bins below (each at most the full
 * side). For a spectrum laid out on an extended axis (alias.h) whose range
 * is [lo, lo + fs): the envelopes then see exactly that range. Errors: none. */
DOP_API void dop_envelope_push_span(dop_envelope *env, const float *psd, double noise, size_t fwd_bins, size_t rev_bins,
                                       dop_envelope_result *out);

/* Forget the running powers and the previous frame's lump (as after create). Errors: none. */
DOP_API void dop_envelope_reset(dop_envelope *env);
/* NULL is fine. Errors: none. */
DOP_API void dop_envelope_destroy(dop_envelope *env);

#ifdef __cplusplus
}
#endif
#endif

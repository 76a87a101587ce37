/* dopflow stage 3b: clutter-adaptive stop band of one spectral frame.
 *
 * The wall filter's stop band is fixed (50 Hz by default), but the clutter
 * of moving tissue is not: kneading massage (petrissage) moves the tissue
 * under the probe at up to ~1 cm/s and puts 10-20 dB more power than the
 * blood's into the lowest few hundred Hz, beyond the fixed cutoff, which
 * pulls the intensity-weighted mean velocity toward zero. This stage moves
 * the stop band's edges per frame to where the clutter ends and refills the
 * widened stop band from a model fitted to the passband, in the frequency
 * domain of the frame (no second filter runs on the samples):
 *  - extent (clutter-adaptive cutoff, as the tissue-motion-adapted filters
 *    of Bjaerum, Torp & Kristoffersen, IEEE TUFFC 49(6):693-704, 2002, and
 *    the clutter-following stop band of Thomas & Hall, IEEE Ultrasonics
 *    Symp. 1994, 1701-1704): walk outward from the fixed stop-band edge
 *    while the local power (two adjacent bins) exceeds `ratio` x the blood
 *    level beyond it (the median of the next five bins: speckle-robust);
 *    the edge then moves one bin further (the clutter's tail);
 *  - refill (GMAP-style, Siggia & Passarelli, Proc. ERAD 2004, 67-73: the
 *    removed bins are replaced by the signal model fitted to the bins that
 *    remain): each side of the stop band is set to the mean of the first
 *    `fit_bins` passband bins on its own side (a flat spectrum: the
 *    spatial-mean spectrum of a parabolic profile is flat from 0 up to the
 *    centreline velocity, Evans & McDicken 2000, ch. 11), so blood on one
 *    side is not smeared across 0 Hz onto the other.
 * Stateless: plain functions on one frame. The envelope stage
 * (envelope.c) decides per frame whether the excess is clutter and uses
 * the refilled band for the mean velocity only: the maximum envelope (and
 * the beats found on it) keeps the fixed band. */
#ifndef DOPFLOW_CLUTTER_BAND_H
#define DOPFLOW_CLUTTER_BAND_H

#include "dopflow/export.h"

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Outer edge of the clutter on one side: from bin `edge` (the first bin
 * beyond the fixed stop band), stepping by dir (+1 forward, -1 reverse),
 * the index of the last bin of the clutter band, or edge - dir when the
 * bin at edge is not clutter. Never walks more than max_bins bins from
 * `centre` nor within 8 bins of either end of w[0..bins). Errors: none. */
DOP_API size_t dop_clutter_band_edge(const double *w, size_t bins, size_t centre, size_t edge, int dir,
                                     size_t max_bins, double ratio, double limit);

/* The refill model of a stop band w[lo..hi] (1 <= lo, hi < bins - 1): the
 * level of each side, the mean of the first fit_bins passband bins beyond
 * the band on that side (fewer where the spectrum ends). */
typedef struct dop_clutter_band_levels {
    size_t lo, hi;    /* the stop band, bins, 0 Hz inside */
    double reverse;   /* model level of bins lo..centre-1 (power per bin) */
    double forward;   /* model level of bins centre+1..hi */
} dop_clutter_band_levels;

/* Errors: none. */
DOP_API void dop_clutter_band_model(const double *w, size_t bins, size_t lo, size_t hi, size_t fit_bins,
                                    dop_clutter_band_levels *out);

/* Put the model into w[lo..hi], each level at least `floor` (the noise
 * power per bin); 0 Hz gets the mean of both levels. Errors: none. */
DOP_API void dop_clutter_band_refill(double *w, size_t centre, const dop_clutter_band_levels *m, double floor);

#ifdef __cplusplus
}
#endif
#endif

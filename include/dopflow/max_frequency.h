/* dopflow stage 4b: maximum frequency of one side of a spectral frame at
 * the half-power point of its falling edge.
 *
 * The knee of the integrated spectrum (the modified geometric method,
 * envelope.h) lands beyond the true maximum frequency: the analysis
 * window's main lobe and the intrinsic (transit-time, geometric) broadening
 * smear the edge outward, and the knee sits where the smeared edge has
 * nearly reached the noise (TAMAX +12 to +15 % at rest, +30 to +55 % for
 * blunt profiles). For a spectrum flat up to the maximum frequency (a
 * parabolic profile insonated uniformly: Evans & McDicken, Doppler
 * Ultrasound, 2000, ch. 11), any symmetric broadening leaves the maximum at
 * the half-power point of the falling edge, half the level of the plateau
 * before it, whatever the broadening's width (Vilkomerson, Ricci & Tortoli,
 * "Finding the peak velocity in a flow from its Doppler spectrum", IEEE
 * TUFFC 2013;60:2079-2088; Ricci, Vilkomerson, Matera & Tortoli, "Accurate
 * blood peak velocity estimation using spectral models and vector Doppler",
 * IEEE TUFFC 2014;61:686-696).
 *
 * Speckle makes each bin of one periodogram exponentially distributed (100 %
 * standard deviation), so the crossing is found in integral form, from the
 * side's running sums (O(main-lobe width) sums per side):
 *  - the plateau level L: the mean noise-subtracted power of a window of
 *    max(2, b/2) bins ending one main-lobe width (2 x hwhm_bins, rounded
 *    up) inside the knee; or, where the band peaks further in (a narrow
 *    diastolic band, a blunt profile), the highest such window up to one
 *    more main-lobe width in, when it stands more than two speckle standard
 *    deviations (level / sqrt(bins)) above the first;
 *  - b: the outermost of those window ends whose window still holds L/2;
 *  - a narrow peak (a tone, plug flow: no plateau to average) is the level
 *    instead, and b its bin, when one bin up to the knee stands more than
 *    five speckle deviations (its own level, exponential) above L;
 *  - the edge area A: noise-subtracted power of the bins beyond b, up to
 *    tail_bins beyond the knee;
 *  - the half-power point f = b + 1/2 + A / L (bins from 0 Hz): the area a
 *    symmetric kernel spreads beyond the plateau's end equals the area it
 *    takes from inside it, so a flat plateau ending at f gives exactly this,
 *    with the speckle of A averaged over the edge's bins;
 *  - the window's broadening: a band of width f0 from 0 Hz seen through a
 *    main lobe of half-power half-width h has its half-power point at about
 *    f0/2 + sqrt(f0^2/4 + h^2) (f0 for f0 >> h, h for f0 -> 0), so
 *    f0 = f - h^2 / f. It matters at the slowest flows (diastole at rest),
 *    whose band is a few bins wide.
 * The bins of the wall filter's stop band whose power gain is still
 * >= 1/10 are taken compensated (their power over the gain), as the
 * passband's are: at rest the diastolic band's edge sits there, and the
 * stop band's linear refill (envelope.c, for the mean) would hide it. */
#ifndef DOPFLOW_MAX_FREQUENCY_H
#define DOPFLOW_MAX_FREQUENCY_H

#include "dopflow/export.h"

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dop_max_frequency_config {
    double hwhm_bins;  /* half-power half-width of the analysis window's main lobe, bins (> 0);
                          default 0.72 (Hann, no zero padding); see dop_spectrum_window_hwhm_bins */
    size_t tail_bins;  /* bins beyond the knee in the edge area; default 2 */
} dop_max_frequency_config;

/* One side of a frame, outward from 0 Hz. */
typedef struct dop_max_frequency_side {
    const double *sums;   /* running sums sums[0..count]: sums[0] = 0, sums[j] = sums[j-1] + power of bin j
                             (noise included) */
    size_t count;         /* bins of the side */
    size_t knee;          /* the knee of the integrated spectrum, bins (0: no flow) */
    double noise;         /* noise power per bin */
    size_t restore_from;  /* first bin whose power is understated in sums (stop band), or > count */
    double restore_power; /* power to add to sums[j] for j >= restore_from */
} dop_max_frequency_side;

/* Defaults as above. Errors: none. */
DOP_API dop_max_frequency_config dop_max_frequency_config_default(void);

/* The maximum frequency of one side, bins from 0 Hz (fractional, >= 0); the
 * knee itself when it is below 2 bins or no plateau stands above the noise.
 * O(main-lobe width) operations; never allocates. Errors: none. */
DOP_API double dop_max_frequency_edge(const dop_max_frequency_config *cfg, const dop_max_frequency_side *side);

#ifdef __cplusplus
}
#endif
#endif

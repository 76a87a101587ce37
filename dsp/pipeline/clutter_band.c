/* Stage 3b: clutter-adaptive stop band of one frame (see clutter_band.h
 * for the method and references). Per frame the work is a few median-of-
 * five selections at the stop band's edges and one pass over the stop
 * band: nothing per sample. */
#include "dopflow/clutter_band.h"

#include "core/median.h"

#define EDGE_GUARD 8 /* bins kept free at either end of the spectrum */

/* Bin k + s dir, s >= 0 (no wrap: the callers keep EDGE_GUARD bins free). */
static inline double at(const double *w, size_t k, int dir, size_t s)
{
    return dir > 0 ? w[k + s] : w[k - s];
}

size_t dop_clutter_band_edge(const double *w, size_t bins, size_t centre, size_t edge, int dir, size_t max_bins,
                             double ratio, double limit)
{
    size_t k = edge;
    for (;;) {
        size_t from_centre = dir > 0 ? k - centre : centre - k;
        if (from_centre >= max_bins) break;
        if (dir > 0 ? k + EDGE_GUARD >= bins : k < EDGE_GUARD) break;
        /* local power (bins k, k + dir) against the blood level beyond
         * (bins k + 2 dir .. k + 6 dir), both in power per bin */
        double local = 0.5 * (at(w, k, dir, 0) + at(w, k, dir, 1));
        const double five[5] = {at(w, k, dir, 2), at(w, k, dir, 3), at(w, k, dir, 4), at(w, k, dir, 5),
                                at(w, k, dir, 6)};
        double beyond = dop_median5(five);
        if (!(local > ratio * beyond) && !(at(w, k, dir, 0) > limit)) break;
        k = dir > 0 ? k + 1 : k - 1;
    }
    if (k == edge) return dir > 0 ? edge - 1 : edge + 1; /* no clutter beyond the fixed band */
    return k;                                            /* the tail: one bin beyond the last one walked */
}

/* Mean of n bins from k outward (dir). */
static double side_level(const double *w, size_t k, int dir, size_t n)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++) s += at(w, k, dir, i);
    return s / (double)n;
}

void dop_clutter_band_model(const double *w, size_t bins, size_t lo, size_t hi, size_t fit_bins,
                            dop_clutter_band_levels *out)
{
    if (fit_bins < 1) fit_bins = 1;
    if (hi + fit_bins >= bins) fit_bins = bins - 1 - hi;
    if (lo < fit_bins) fit_bins = lo;
    out->lo = lo;
    out->hi = hi;
    out->forward = fit_bins ? side_level(w, hi + 1, +1, fit_bins) : 0.0;
    out->reverse = fit_bins ? side_level(w, lo - 1, -1, fit_bins) : 0.0;
}

void dop_clutter_band_refill(double *w, size_t centre, const dop_clutter_band_levels *m, double floor)
{
    /* A model below the noise floor would subtract power from the band
     * (and can leave a frame with almost none: a mean without bound). */
    const double rev = m->reverse > floor ? m->reverse : floor, fwd = m->forward > floor ? m->forward : floor;
    for (size_t k = m->lo; k < centre; k++) w[k] = rev;
    for (size_t k = centre + 1; k <= m->hi; k++) w[k] = fwd;
    /* 0 Hz belongs to both sides: half of each. */
    w[centre] = 0.5 * (fwd + rev);
}

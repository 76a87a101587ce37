/* Stage 4: maximum and mean frequency of one spectral frame (see envelope.h
 * for the methods and references).
 *
 * Steps per frame:
 *  1. corrected spectrum w: passband bins divided by the wall filter's power
 *     gain; the gap bins (gain < 1/2, i.e. below the cutoff) linearly
 *     interpolated between the mean of the two bins beyond each edge. The
 *     interpolation keeps the gap's total power for a spectrum flat across
 *     zero (parabolic flow) and adds nothing when both edges hold noise only.
 *  2. per side, outward from 0 Hz, the maximum frequency by the chosen
 *     method, and its significance: the noise-subtracted power between 0
 *     and fmax must exceed detect_sigma standard deviations of a noise-only
 *     sum over as many bins (std of one Hann-windowed periodogram bin sum
 *     ~ noise sqrt(1.5 M), 1.5 being the window's equivalent noise bandwidth).
 *  3. intensity-weighted mean of the noise-subtracted spectrum over the band
 *     [fmax_reverse, fmax_forward] (always including the gap). No clamping
 *     at zero: clamping would bias the mean away from 0 in noise.
 * Speed: the sums of steps 2 (significance) and 3 run in four fixed lanes
 * (lane_sum): their last bits differ from a left-to-right sum, the same way
 * on every run and machine; the running sums of the maximum frequency stay
 * left to right. The frame power of step 1 is summed in lanes and re-summed
 * left to right only when a decision hangs on its last bits. */
#include "dopflow/envelope.h"

#include "core/median.h"
#include "dopflow/clutter_band.h"
#include "dopflow/max_frequency.h"

#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#define HANN_ENBW_BINS 1.5
#define STOP_BAND_MIN_GAIN 0.1 /* stop-band bins at or above -10 dB count compensated for the maximum */
#define DEAD_BIN_RATIO 1e-3
#define CLUTTER_RATIO 10.0     /* 10 dB above the bins beyond: clutter, not blood */
#define MAX_CLUTTER_HZ 500.0   /* the adaptive gap never grows beyond this */
#define CLUTTER_POWER_RATIO 4.0 /* frame power 6 dB above its running median: clutter */
#define MEDIAN_STEP 0.02       /* ln-power step of the median trackers per frame */
/* The mean velocity's clutter band (clutter_band.h). Chosen on a sweep of
 * the Shoemaker demo cohorts of both simulator models (spectral and
 * scatterers; excess 1-4, edge 2-10, fit 2-4 bins, README "Accuracy") and
 * checked on the accuracy table's own seeds (docs/ACCURACY.md): */
#define BAND_EXCESS_RATIO 2.0  /* band power over 2 x the typical blood power: clutter */
#define BAND_EDGE_RATIO 4.0    /* band edge: local power 6 dB over the blood beyond */
#define BAND_FIT_BINS 2        /* passband bins per side fitted by the refill model */
/* A smaller lump is clutter too where the blood is held elsewhere (the
 * frame's power beyond the lump is at least BLOOD_HELD_RATIO x the typical
 * blood power) and the lump stands in two frames running (speckle peaks do
 * not). Chosen on the same sweep (lump 0-1.5, held 0.3-0.9, one or two
 * frames), checked on the accuracy table's held-out seeds 13 and 14: */
#define LUMP_MIN_RATIO 0.1     /* the lump holds at least a tenth of the typical blood power */
#define BLOOD_HELD_RATIO 0.5   /* and half the typical blood power lies beyond it */

struct dop_envelope {
    dop_envelope_config cfg;
    dop_max_frequency_config edge; /* the half-power refinement of the MGM knee */
    size_t centre;          /* bin of 0 Hz = bins / 2 */
    double *gain;           /* |H|^2 per bin (1 without a filter) */
    double *divisor;        /* gain where a bin is compensated (gain >= 1/2), else 1 */
    size_t div_lo, div_hi;  /* bins [div_lo, div_hi) have a divisor other than 1 */
    double *distance;       /* MGM distances of one side, bins/2 + 1 */
    double *index;          /* (double)j for j = 0..bins: exact, and loops that use it vectorise */
    size_t gap_lo, gap_hi;  /* fixed gap bins [gap_lo, gap_hi], empty if gap_lo > gap_hi */
    size_t frame_lo, frame_hi; /* this frame's gap, widened over clutter */
    size_t max_gap_bins;    /* widest adaptive half-gap, bins */
    double log_typical_power; /* running median of ln(frame power outside the gap) */
    double typical_blood;   /* running median of the frame power outside the clutter band */
    int have_typical;
    double step_up, step_up_slow; /* exp(MEDIAN_STEP), exp(MEDIAN_STEP / 10) */
    int clutter;            /* this frame's mean uses a clutter band */
    int lump_before;        /* the previous frame had a small lump beside the gap */
    dop_clutter_band_levels band; /* the clutter band and its refill model */
    double *w;              /* corrected spectrum (with noise) */
    double *cumulative;     /* running sums of the forward side, bins/2 + 1 */
    double *cumulative_rev; /* and of the reverse side */
};

dop_envelope_config dop_envelope_config_default(void)
{
    dop_envelope_config cfg = {.bins = 0, .bin_hz = 0.0, .method = DOP_FMAX_MGM, .percentile = 0.95,
                               .threshold_db = 6.0, .detect_sigma = 5.0, .gap_hz = 0.0, .gain = NULL,
                               .one_sided = 0, .window_hwhm_bins = 0.72};
    return cfg;
}

dop_status dop_envelope_create(const dop_envelope_config *cfg, dop_envelope **out, dop_error *err)
{
    *out = NULL;
    if (cfg->bins < 8 || cfg->bins % 2 || !(cfg->bin_hz > 0.0))
        return dop_error_set(err, DOP_ERR_INVALID_ARG, "envelope: need an even number of bins >= 8 and a positive bin width");
    if (!(cfg->percentile > 0.0 && cfg->percentile < 1.0))
        return dop_error_set(err, DOP_ERR_INVALID_ARG, "percentile %g is not in (0, 1)", cfg->percentile);
    if (!(cfg->detect_sigma >= 0.0) || !isfinite(cfg->threshold_db))
        return dop_error_set(err, DOP_ERR_INVALID_ARG, "envelope: detection threshold must be finite and >= 0");
    if (!(cfg->window_hwhm_bins > 0.0 && isfinite(cfg->window_hwhm_bins)))
        return dop_error_set(err, DOP_ERR_INVALID_ARG, "envelope: window_hwhm_bins %g is not > 0", cfg->window_hwhm_bins);
    dop_envelope *env = calloc(1, sizeof *env);
    if (!env) return dop_error_set(err, DOP_ERR_NOMEM, "envelope: out of memory");
    env->cfg = *cfg;
    env->cfg.gain = NULL;
    env->edge = dop_max_frequency_config_default();
    env->edge.hwhm_bins = cfg->window_hwhm_bins;
    env->centre = cfg->bins / 2;
    env->gain = malloc(cfg->bins * sizeof *env->gain);
    env->w = malloc(cfg->bins * sizeof *env->w);
    env->divisor = malloc(cfg->bins * sizeof *env->divisor);
    env->distance = malloc((cfg->bins / 2 + 1) * sizeof *env->distance);
    env->index = malloc((cfg->bins + 1) * sizeof *env->index);
    env->cumulative = malloc((cfg->bins / 2 + 1) * sizeof *env->cumulative);
    env->cumulative_rev = malloc((cfg->bins / 2 + 1) * sizeof *env->cumulative_rev);
    if (!env->gain || !env->w || !env->cumulative || !env->cumulative_rev || !env->divisor || !env->distance ||
        !env->index) {
        dop_envelope_destroy(env);
        return dop_error_set(err, DOP_ERR_NOMEM, "envelope: out of memory");
    }
    for (size_t k = 0; k < cfg->bins; k++) env->gain[k] = cfg->gain ? cfg->gain[k] : 1.0;
    for (size_t k = 0; k <= cfg->bins; k++) env->index[k] = (double)k;
    /* x / 1 is x: only bins whose divisor is not 1 need the division. */
    env->div_lo = cfg->bins;
    env->div_hi = 0;
    for (size_t k = 0; k < cfg->bins; k++) {
        env->divisor[k] = env->gain[k] >= 0.5 ? env->gain[k] : 1.0;
        if (env->divisor[k] != 1.0) {
            if (k < env->div_lo) env->div_lo = k;
            env->div_hi = k + 1;
        }
    }
    if (env->div_lo > env->div_hi) env->div_lo = env->div_hi = 0;
    /* The gap: contiguous bins around 0 Hz whose filter gain is below 1/2. */
    size_t half_gap = 0;
    while (half_gap < env->centre - 2 && (env->gain[env->centre + half_gap] < 0.5 ||
                                          (double)half_gap * cfg->bin_hz < cfg->gap_hz))
        half_gap++;
    if (half_gap > 0) {
        env->gap_lo = env->centre - (half_gap - 1);
        env->gap_hi = env->centre + (half_gap - 1);
    } else {
        env->gap_lo = 1;
        env->gap_hi = 0;
    }
    env->max_gap_bins = (size_t)ceil(MAX_CLUTTER_HZ / cfg->bin_hz);
    env->step_up = exp(MEDIAN_STEP);
    env->step_up_slow = exp(MEDIAN_STEP / 10.0);
    if (env->max_gap_bins > env->centre / 4) env->max_gap_bins = env->centre / 4;
    *out = env;
    return DOP_OK;
}

/* Sum of x[i] - sub over i in [0, n), in four lanes (i mod 4), combined as
 * (l0 + l1) + (l2 + l3): a fixed order, so the same bits on every run and
 * machine, but not the left-to-right order (the last bits differ from it;
 * the chain of additions is four times shorter). */
static double lane_sum(const double *x, size_t n, double sub)
{
    double l[4] = {0.0, 0.0, 0.0, 0.0};
    size_t i = 0;
#if defined(__SSE2__)
    const __m128d s = _mm_set1_pd(sub);
    __m128d a = _mm_setzero_pd(), b = _mm_setzero_pd();
    for (; i + 4 <= n; i += 4) {
        a = _mm_add_pd(a, _mm_sub_pd(_mm_loadu_pd(x + i), s));
        b = _mm_add_pd(b, _mm_sub_pd(_mm_loadu_pd(x + i + 2), s));
    }
    _mm_storeu_pd(l, a);
    _mm_storeu_pd(l + 2, b);
#else
    for (; i + 4 <= n; i += 4)
        for (int j = 0; j < 4; j++) l[j] += x[i + j] - sub;
#endif
    for (int j = 0; i < n; i++, j++) l[j] += x[i] - sub;
    return (l[0] + l[1]) + (l[2] + l[3]);
}

/* Sum of x[0..n) and of |x|, in four lanes as lane_sum. */
static double lane_sum_abs(const double *x, size_t n, double *abs_sum)
{
    double l[4] = {0.0, 0.0, 0.0, 0.0}, a[4] = {0.0, 0.0, 0.0, 0.0};
    size_t i = 0;
#if defined(__SSE2__)
    const __m128d sign = _mm_set1_pd(-0.0);
    __m128d s0 = _mm_setzero_pd(), s1 = s0, m0 = s0, m1 = s0;
    for (; i + 4 <= n; i += 4) {
        __m128d u = _mm_loadu_pd(x + i), v = _mm_loadu_pd(x + i + 2);
        s0 = _mm_add_pd(s0, u);
        s1 = _mm_add_pd(s1, v);
        m0 = _mm_add_pd(m0, _mm_andnot_pd(sign, u));
        m1 = _mm_add_pd(m1, _mm_andnot_pd(sign, v));
    }
    _mm_storeu_pd(l, s0);
    _mm_storeu_pd(l + 2, s1);
    _mm_storeu_pd(a, m0);
    _mm_storeu_pd(a + 2, m1);
#endif
    for (int j = 0; i < n; i++, j = (j + 1) & 3) {
        l[j] += x[i];
        a[j] += fabs(x[i]);
    }
    *abs_sum = (a[0] + a[1]) + (a[2] + a[3]);
    return (l[0] + l[1]) + (l[2] + l[3]);
}

/* w = psd, passband bins divided by the filter's power gain (vectorises:
 * one division per bin with a gain other than 1). */
static void corrected_bins(dop_envelope *env, const float *psd)
{
    double *w = env->w;
    const double *d = env->divisor;
    const size_t n = env->cfg.bins, lo = env->div_lo, hi = env->div_hi;
    for (size_t k = 0; k < lo; k++) w[k] = psd[k];
    for (size_t k = lo; k < hi; k++) w[k] = (double)psd[k] / d[k];
    for (size_t k = hi; k < n; k++) w[k] = psd[k];
}

/* Sign-step median tracker (stochastic approximation of the median) of a
 * log power, slowed tenfold in clutter frames so that massage strokes
 * barely move it. */
static void track_median(double *log_typical, double log_power, int clutter)
{
    double step = clutter ? MEDIAN_STEP / 10.0 : MEDIAN_STEP;
    *log_typical += log_power > *log_typical ? step : -step;
}

/* Power of bins [b_lo, lo) and (hi, b_hi]: a band beyond the fixed gap. */
static double band_power(const double *w, size_t b_lo, size_t lo, size_t hi, size_t b_hi)
{
    double p = 0.0;
    for (size_t k = b_lo; k < lo; k++) p += w[k];
    for (size_t k = hi + 1; k <= b_hi; k++) p += w[k];
    return p;
}

/* The clutter band of the mean velocity (clutter_band.h), from the
 * corrected spectrum before any gap is filled; power_outside: the frame's
 * power outside the fixed gap. The blood's Doppler power stays about
 * constant over the cardiac cycle (the same scatterers, the spectrum only
 * reshaped), so a low-frequency excess beyond the fixed gap holding more
 * than BAND_EXCESS_RATIO x the typical blood power is clutter: blood
 * slowed to near zero in diastole holds at most about that power. A
 * smaller lump is clutter as well where the blood is already held beyond
 * it (systole under massage: a lump of the tissue's power beside the gap
 * with the flow band intact) and it stood in the previous frame too; in
 * diastole the blood itself is the lump and little power lies beyond it.
 * The typical blood power is the running median of the power outside the
 * frame's band, so the clutter itself does not raise it. */
static void clutter_band(dop_envelope *env, double power_outside)
{
    const size_t n = env->cfg.bins, c = env->centre;
    const size_t lo = env->gap_lo, hi = env->gap_hi;
    if (!env->have_typical) env->typical_blood = power_outside;
    const double typical = env->typical_blood;
    /* The band's power is part of the power outside the fixed gap: when
     * that is below the threshold, no band can pass it (most frames at
     * rest), and the walk is skipped. */
    double excess = 0.0;
    const int lump_before = env->lump_before;
    env->clutter = 0;
    env->lump_before = 0;
    if (power_outside > typical) { /* clutter adds to the blood's power */
        size_t b_hi = dop_clutter_band_edge(env->w, n, c, hi + 1, +1, env->max_gap_bins, BAND_EDGE_RATIO, INFINITY);
        size_t b_lo = dop_clutter_band_edge(env->w, n, c, lo - 1, -1, env->max_gap_bins, BAND_EDGE_RATIO, INFINITY);
        excess = band_power(env->w, b_lo, lo, hi, b_hi);
        env->lump_before = excess > LUMP_MIN_RATIO * typical && power_outside - excess > BLOOD_HELD_RATIO * typical;
        env->clutter = excess > BAND_EXCESS_RATIO * typical || (env->lump_before && lump_before);
    }
    if (env->clutter) {
        /* A bin holding more than 1/CLUTTER_POWER_RATIO of the typical blood
         * power is clutter too, even inside a broad lump: blood spreads its
         * power over its velocity band. */
        const double limit = typical / CLUTTER_POWER_RATIO;
        size_t b_hi = dop_clutter_band_edge(env->w, n, c, hi + 1, +1, env->max_gap_bins, BAND_EDGE_RATIO, limit);
        size_t b_lo = dop_clutter_band_edge(env->w, n, c, lo - 1, -1, env->max_gap_bins, BAND_EDGE_RATIO, limit);
        excess = band_power(env->w, b_lo, lo, hi, b_hi);
        dop_clutter_band_model(env->w, n, b_lo, b_hi, BAND_FIT_BINS, &env->band);
    }
    /* the median tracker of track_median in linear power: steps are factors */
    const double blood = env->clutter ? power_outside - excess : power_outside;
    const double up = env->clutter ? env->step_up_slow : env->step_up;
    env->typical_blood = blood > typical ? typical * up : typical / up;
}

/* Step 1: compensated, gap-filled spectrum into env->w; the frame's gap
 * (fixed wall-filter gap, widened over clutter) into frame_lo..frame_hi. */
static void correct_spectrum(dop_envelope *env, const float *psd)
{
    const size_t n = env->cfg.bins;
    env->frame_lo = env->gap_lo;
    env->frame_hi = env->gap_hi;
    env->clutter = 0;
    corrected_bins(env, psd);
    if (env->gap_lo > env->gap_hi) return;
    size_t lo = env->gap_lo, hi = env->gap_hi;
    /* Clutter that the fixed filter passes (tissue moved by massage, probe
     * motion) adds power far above the blood's, whose Doppler power stays
     * about constant over the cardiac cycle (same scatterers, spectrum only
     * reshaped). In a frame whose power outside the gap exceeds
     * CLUTTER_POWER_RATIO x the running median, widen the gap over bins that
     * stand CLUTTER_RATIO above the median of the five bins just beyond
     * them: clutter is a narrow peak, blood is smooth. */
    /* The power only decides two comparisons (and seeds the tracker in the
     * first frame). Summed in lanes it differs from the left-to-right sum
     * by at most ~n 2^-52 of the sum of |w|; when its logarithm is that
     * close to a threshold, the left-to-right sum decides, so the decisions
     * are those of the left-to-right sum. */
    double abs_lo, abs_hi;
    const double fast = lane_sum_abs(env->w + 1, lo - 1, &abs_lo) + lane_sum_abs(env->w + hi + 1, n - hi - 1, &abs_hi);
    double power_outside = fast;
    const double threshold = env->log_typical_power + log(CLUTTER_POWER_RATIO);
    double log_power = log(fast + 1e-300);
    const double margin = 1e-9; /* >> n 2^-52 relative error + log's rounding */
    if (!env->have_typical || !(abs_lo + abs_hi <= 2.0 * fast) || !(fabs(log_power - threshold) > margin) ||
        !(fabs(log_power - env->log_typical_power) > margin)) {
        double power = 0.0;
        for (size_t k = 1; k < lo; k++) power += env->w[k];
        for (size_t k = hi + 1; k < n; k++) power += env->w[k];
        log_power = log(power + 1e-300);
        power_outside = power;
    }
    clutter_band(env, power_outside);
    if (!env->have_typical) {
        env->log_typical_power = log_power;
        env->have_typical = 1;
    }
    int clutter = log_power > env->log_typical_power + log(CLUTTER_POWER_RATIO);
    track_median(&env->log_typical_power, log_power, clutter);
    if (!clutter) goto interpolate;
    /* A bin holding more than a tenth of the typical total blood power is
     * clutter too: blood spreads its power over its velocity band. */
    const double bin_limit = exp(env->log_typical_power) / CLUTTER_POWER_RATIO;
    while (hi + 7 < n && (hi + 1 - env->centre) < env->max_gap_bins &&
           (env->w[hi + 1] > bin_limit || env->w[hi + 1] > CLUTTER_RATIO * dop_median5(&env->w[hi + 3])))
        hi++;
    while (lo > 7 && (env->centre - (lo - 1)) < env->max_gap_bins &&
           (env->w[lo - 1] > bin_limit || env->w[lo - 1] > CLUTTER_RATIO * dop_median5(&env->w[lo - 7])))
        lo--;
interpolate:
    env->frame_lo = lo;
    env->frame_hi = hi;
    double left = 0.5 * (env->w[lo - 1] + env->w[lo - 2]);
    double right = 0.5 * (env->w[hi + 1] + env->w[hi + 2]);
    /* Interpolate between the edge bins' positions lo-1.5 and hi+1.5. */
    double x0 = (double)lo - 1.5, x1 = (double)hi + 1.5;
    for (size_t k = lo; k <= hi; k++) {
        double t = ((double)k - x0) / (x1 - x0);
        env->w[k] = left + t * (right - left);
    }
}

/* Value of side bin j (j = 1.. outward from 0 Hz); dir = +1 forward, -1 reverse. */
static inline double side_value(const dop_envelope *env, int dir, size_t j)
{
    return env->w[dir > 0 ? env->centre + j : env->centre - j];
}

/* Running sums of both sides outward from 0 Hz, c[j] = c[j-1] + bin j, in
 * one loop: the two chains of additions run side by side. With clamp,
 * each bin below `dead` is first set to `noise` (the dead-bin rule of
 * dop_envelope_push, done here to save a pass). */
static void cumulate(dop_envelope *env, size_t count_fwd, size_t count_rev, int clamp, double dead, double noise)
{
    double *cf = env->cumulative, *cr = env->cumulative_rev;
    double *up = env->w + env->centre, *down = env->w + env->centre;
    cf[0] = cr[0] = 0.0;
    size_t both = count_fwd < count_rev ? count_fwd : count_rev, j = 1;
    double f = 0.0, r = 0.0;
    if (clamp) {
        for (; j <= both; j++) {
            double u = up[j], d = down[-(ptrdiff_t)j];
            u = u < dead ? noise : u;
            d = d < dead ? noise : d;
            up[j] = u;
            down[-(ptrdiff_t)j] = d;
            f += u;
            r += d;
            cf[j] = f;
            cr[j] = r;
        }
        for (size_t k = j; k <= count_fwd; k++) {
            double u = up[k] < dead ? noise : up[k];
            up[k] = u;
            cf[k] = f += u;
        }
        for (size_t k = j; k <= count_rev; k++) {
            double d = down[-(ptrdiff_t)k] < dead ? noise : down[-(ptrdiff_t)k];
            down[-(ptrdiff_t)k] = d;
            cr[k] = r += d;
        }
        return;
    }
    for (; j <= both; j++) {
        f += up[j];
        r += down[-(ptrdiff_t)j];
        cf[j] = f;
        cr[j] = r;
    }
    for (size_t k = j; k <= count_fwd; k++) cf[k] = f += up[k];
    for (size_t k = j; k <= count_rev; k++) cr[k] = r += down[-(ptrdiff_t)k];
}

/* Largest of x[0..n), starting from `init`; NaNs are passed over. The
 * maximum does not depend on the order of comparisons, so lanes give the
 * same value as a left-to-right scan. */
static double max_of(const double *x, size_t n, double init)
{
    double m = init;
    size_t i = 0;
#if defined(__SSE2__)
    __m128d m0 = _mm_set1_pd(init), m1 = m0, m2 = m0, m3 = m0;
    for (; i + 8 <= n; i += 8) {
        /* max(a, m) returns m when a is NaN: as `if (a > m) m = a` */
        m0 = _mm_max_pd(_mm_loadu_pd(x + i), m0);
        m1 = _mm_max_pd(_mm_loadu_pd(x + i + 2), m1);
        m2 = _mm_max_pd(_mm_loadu_pd(x + i + 4), m2);
        m3 = _mm_max_pd(_mm_loadu_pd(x + i + 6), m3);
    }
    double lanes[2];
    _mm_storeu_pd(lanes, _mm_max_pd(_mm_max_pd(m0, m1), _mm_max_pd(m2, m3)));
    if (lanes[0] > m) m = lanes[0];
    if (lanes[1] > m) m = lanes[1];
#endif
    for (; i < n; i++)
        if (x[i] > m) m = x[i];
    return m;
}

/* Step 2: maximum frequency (in bins, outward) of one side from its
 * running sums c[0..count]. */
static size_t side_fmax_bins(dop_envelope *env, int dir, const double *c, size_t count, double noise)
{
    size_t best = 0;
    switch (env->cfg.method) {
    case DOP_FMAX_PERCENTILE: {
        double total = c[count] - noise * (double)count;
        if (total <= 0.0) return 0;
        for (size_t j = 1; j <= count; j++)
            if (c[j] - noise * (double)j >= env->cfg.percentile * total) return j;
        return count;
    }
    case DOP_FMAX_THRESHOLD: {
        double level = noise * pow(10.0, env->cfg.threshold_db / 10.0);
        for (size_t j = count; j >= 2; j--) {
            double smoothed = (side_value(env, dir, j) + side_value(env, dir, j - 1) +
                               (j + 1 <= count ? side_value(env, dir, j + 1) : side_value(env, dir, j))) / 3.0;
            if (smoothed > level) return j;
        }
        return 0;
    }
    case DOP_FMAX_MGM:
    case DOP_FMAX_KNEE:
    default: {
        /* Reference line from the origin to the integrated maximum: the
         * last index of the largest running sum (what a scan keeping
         * c[j] >= the maximum so far finds). */
        size_t jmax = count;
        /* The sums run over bins the dead-bin rule left at >= noise or NaN,
         * so with noise > 0 they never fall: unless NaN reached the last
         * one, the largest is the last (IEEE addition of x >= 0 is
         * monotonic), and the scan is needed only otherwise. */
        if (!(noise > 0.0) || isnan(c[count])) {
            const double cmax = max_of(c + 1, count, c[0]);
            while (jmax > 0 && !(c[jmax] == cmax)) jmax--;
        }
        if (jmax == 0) return 0;
        /* The knee: the first index of the largest positive distance above
         * that line (what a scan keeping distance > the best so far finds). */
        const double slope = c[jmax] / (double)jmax;
        double *d = env->distance;
        const double *index = env->index;
        for (size_t j = 1; j <= jmax; j++) d[j] = c[j] - slope * index[j];
        const double best_distance = max_of(d + 1, jmax, 0.0);
        if (!(best_distance > 0.0)) return 0;
        for (best = 1; !(d[best] == best_distance); best++) {}
        return best;
    }
    }
}

/* Step 2 on env->w: each side's maximum frequency (bins) and the noise-
 * subtracted power of its band, 0 where the band is not significant: the
 * power between 0 and fmax must exceed detect_sigma standard deviations of
 * a noise-only sum over as many bins. */
static void side_extents(dop_envelope *env, size_t fwd_bins, size_t rev_bins, double noise, size_t *fwd, size_t *rev,
                         double *p_fwd, double *p_rev)
{
    const size_t centre = env->centre;
    const double dead = DEAD_BIN_RATIO * noise;
    const double side_noise = env->cfg.one_sided ? 2.0 * noise : noise;
    if (env->cfg.one_sided) {
        cumulate(env, fwd_bins, 0, 0, dead, noise);
    } else {
        /* The dead-bin rule for every bin: 0 Hz here, the rest while summing
         * (the sums take in every other bin: forward 1..centre-1, reverse
         * 1..centre). */
        env->w[centre] = env->w[centre] < dead ? noise : env->w[centre];
        cumulate(env, fwd_bins, rev_bins, 1, dead, noise);
    }
    size_t f = side_fmax_bins(env, +1, env->cumulative, fwd_bins, side_noise);
    size_t r = env->cfg.one_sided ? 0 : side_fmax_bins(env, -1, env->cumulative_rev, rev_bins, noise);
    double pf = lane_sum(env->w + centre + 1, f, side_noise);
    double pr = lane_sum(env->w + centre - r, r, noise);
    const double sigma = env->cfg.detect_sigma;
    if (!(f > 0 && pf > sigma * side_noise * sqrt(HANN_ENBW_BINS * (double)f))) f = 0, pf = 0.0;
    if (!(r > 0 && pr > sigma * noise * sqrt(HANN_ENBW_BINS * (double)r))) r = 0, pr = 0.0;
    *fwd = f;
    *rev = r;
    *p_fwd = pf;
    *p_rev = pr;
}

/* The maximum frequency (Hz, >= 0) of one side from its knee (bins): the
 * knee itself, or (DOP_FMAX_MGM) its half-power refinement
 * (max_frequency.h). The stop band's bins whose gain is >= STOP_BAND_MIN_GAIN
 * count compensated there, except in a frame whose gap was widened over
 * clutter (their excess is then clutter, not blood). */
static double side_fmax_hz(const dop_envelope *env, const float *psd, int dir, size_t count, size_t knee, double noise)
{
    if (env->cfg.method != DOP_FMAX_MGM || knee == 0) return (double)knee * env->cfg.bin_hz;
    dop_max_frequency_side side = {.sums = dir > 0 ? env->cumulative : env->cumulative_rev, .count = count,
                                   .knee = knee, .noise = noise, .restore_from = count + 1, .restore_power = 0.0};
    const size_t c = env->centre;
    if (!env->cfg.one_sided && env->frame_lo == env->gap_lo && env->frame_hi == env->gap_hi &&
        env->gap_lo <= env->gap_hi) {
        const size_t edge = dir > 0 ? env->gap_hi - c : c - env->gap_lo; /* last stop-band bin of the side */
        for (size_t j = 1; j <= edge && j <= count; j++) {
            const size_t k = dir > 0 ? c + j : c - j;
            if (env->gain[k] < STOP_BAND_MIN_GAIN) continue;
            if (side.restore_from > j) side.restore_from = j;
            side.restore_power += (double)psd[k] / env->gain[k] - env->w[k];
        }
    }
    return dop_max_frequency_edge(&env->edge, &side) * env->cfg.bin_hz;
}

/* Step 3: intensity-weighted mean frequency (Hz) of the noise-subtracted
 * spectrum env->w over bins [lo, hi]; the band's SNR (dB) into *snr_db
 * when given. */
static double band_mean_hz(const dop_envelope *env, size_t lo, size_t hi, double noise, double side_noise,
                           double *snr_db)
{
    const size_t centre = env->centre;
    const double df = env->cfg.bin_hz;
    double sum_p = 0.0, sum_pf = 0.0, band_noise = 0.0;
    const double centre_d = env->index[centre];
    if (!env->cfg.one_sided) {
        /* In lanes, as lane_sum (the mean changes in its last bits only). */
        const double *w = env->w, *index = env->index;
        size_t k = lo;
        double l_p[4] = {0.0, 0.0, 0.0, 0.0}, l_pf[4] = {0.0, 0.0, 0.0, 0.0};
#if defined(__SSE2__)
        const __m128d nz = _mm_set1_pd(noise), c = _mm_set1_pd(centre_d), dfv = _mm_set1_pd(df);
        __m128d p0 = _mm_setzero_pd(), p1 = p0, f0 = p0, f1 = p0;
        for (; k + 4 <= hi + 1; k += 4) {
            __m128d a = _mm_sub_pd(_mm_loadu_pd(w + k), nz), b = _mm_sub_pd(_mm_loadu_pd(w + k + 2), nz);
            p0 = _mm_add_pd(p0, a);
            p1 = _mm_add_pd(p1, b);
            f0 = _mm_add_pd(f0, _mm_mul_pd(_mm_mul_pd(a, _mm_sub_pd(_mm_loadu_pd(index + k), c)), dfv));
            f1 = _mm_add_pd(f1, _mm_mul_pd(_mm_mul_pd(b, _mm_sub_pd(_mm_loadu_pd(index + k + 2), c)), dfv));
        }
        _mm_storeu_pd(l_p, p0);
        _mm_storeu_pd(l_p + 2, p1);
        _mm_storeu_pd(l_pf, f0);
        _mm_storeu_pd(l_pf + 2, f1);
#endif
        for (int j = 0; k <= hi; k++, j = (j + 1) & 3) {
            double p = w[k] - noise;
            l_p[j] += p;
            l_pf[j] += p * (index[k] - centre_d) * df;
        }
        sum_p = (l_p[0] + l_p[1]) + (l_p[2] + l_p[3]);
        sum_pf = (l_pf[0] + l_pf[1]) + (l_pf[2] + l_pf[3]);
        band_noise = (double)(hi - lo + 1) * noise;
    } else {
        for (size_t k = lo; k <= hi; k++) {
            double offset = env->index[k] - centre_d;
            double k_noise = k > centre ? side_noise : noise;
            if (k < centre) continue;
            double p = env->w[k] - k_noise;
            sum_p += p;
            sum_pf += p * offset * df;
            band_noise += k_noise;
        }
    }
    if (snr_db) *snr_db = (sum_p > 0.0 && band_noise > 0.0) ? 10.0 * log10(sum_p / band_noise) : -INFINITY;
    return sum_p > 0.0 ? sum_pf / sum_p : 0.0;
}

/* The mean's band [lo, hi]: from the reverse to the forward maximum
 * (bins from centre), at least the gap on each side. */
static void mean_band(size_t centre, size_t rev, size_t fwd, size_t gap_rev, size_t gap_fwd, size_t *lo, size_t *hi)
{
    *lo = centre - (rev > gap_rev ? rev : gap_rev);
    *hi = centre + (fwd > gap_fwd ? fwd : gap_fwd);
}

void dop_envelope_push(dop_envelope *env, const float *psd, double noise, dop_envelope_result *out)
{
    dop_envelope_push_span(env, psd, noise, env->centre - 1, env->centre, out);
}

void dop_envelope_push_span(dop_envelope *env, const float *psd, double noise, size_t fwd_bins, size_t rev_bins,
                               dop_envelope_result *out)
{
    memset(out, 0, sizeof *out);
    if (fwd_bins > env->centre - 1) fwd_bins = env->centre - 1;
    if (rev_bins > env->centre) rev_bins = env->centre;
    const size_t centre = env->centre;
    correct_spectrum(env, psd);
    /* MGM assumes the noise runs on to fs/2. In a recording band-limited
     * before it was stored, the dead bins (30 dB and more below the noise)
     * would end the integrated spectrum early and put the knee at the
     * recording's band edge; they count as noise instead. Noise bins fall
     * that low with probability 1e-3 only (exponential distribution). */
    const double dead = DEAD_BIN_RATIO * noise;
    if (env->cfg.one_sided) {
        for (size_t k = 0; k < env->cfg.bins; k++) {
            double x = env->w[k];
            env->w[k] = x < dead ? noise : x;
        }
        /* Non-directional: fold -f onto +f; the folded bins carry twice the noise. */
        for (size_t j = 1; j < centre; j++) {
            env->w[centre + j] += env->w[centre - j];
            env->w[centre - j] = 0.0;
        }
        env->w[0] = 0.0;
    }
    const double side_noise = env->cfg.one_sided ? 2.0 * noise : noise;
    size_t fwd, rev;
    double p_fwd, p_rev;
    side_extents(env, fwd_bins, rev_bins, noise, &fwd, &rev, &p_fwd, &p_rev);
    out->fmax_forward_hz = side_fmax_hz(env, psd, +1, fwd_bins, fwd, side_noise);
    out->fmax_reverse_hz = -side_fmax_hz(env, psd, -1, rev_bins, rev, noise);
    out->power_forward = p_fwd;
    out->power_reverse = p_rev;
    out->has_signal = fwd > 0 || rev > 0;
    if (!out->has_signal) return;

    /* Step 3: intensity-weighted mean over the band, gap included; over
     * clutter, the clutter band refilled from its model. */
    size_t gap_rev = env->frame_lo <= env->frame_hi ? centre - env->frame_lo : 0;
    size_t gap_fwd = env->frame_lo <= env->frame_hi ? env->frame_hi - centre : 0;
    size_t lo, hi;
    mean_band(centre, rev, fwd, gap_rev, gap_fwd, &lo, &hi);
    if (env->clutter) {
        /* The mean over the fixed band, before the clutter band is refilled:
         * the beat detector's feature (clutter that moves with the heart,
         * such as the heart wall under a precordial probe, is evidence of
         * the cycle there). */
        out->fmean_fixed_hz = band_mean_hz(env, lo, hi, noise, side_noise, NULL);
        if (env->cfg.one_sided) { /* folded: the forward bins carry both sides */
            env->band.forward += env->band.reverse;
            env->band.reverse = 0.0;
        }
        dop_clutter_band_refill(env->w, centre, &env->band, side_noise);
        if (centre - env->band.lo > gap_rev) gap_rev = centre - env->band.lo;
        if (env->band.hi - centre > gap_fwd) gap_fwd = env->band.hi - centre;
        /* The flow band of the mean from the refilled spectrum: with the
         * clutter in, the knee of the integrated spectrum can sit at the
         * clutter's edge and cut the blood off. */
        double p_f, p_r;
        side_extents(env, fwd_bins, rev_bins, noise, &fwd, &rev, &p_f, &p_r);
        mean_band(centre, rev, fwd, gap_rev, gap_fwd, &lo, &hi);
    }
    out->fmean_hz = band_mean_hz(env, lo, hi, noise, side_noise, &out->snr_db);
    if (!env->clutter) out->fmean_fixed_hz = out->fmean_hz;
}

void dop_envelope_reset(dop_envelope *env)
{
    env->log_typical_power = 0.0;
    env->have_typical = 0;
    env->lump_before = 0;
}

void dop_envelope_destroy(dop_envelope *env)
{
    if (!env) return;
    free(env->gain);
    free(env->w);
    free(env->cumulative);
    free(env->cumulative_rev);
    free(env->divisor);
    free(env->distance);
    free(env->index);
    free(env);
}

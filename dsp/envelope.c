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
 *     at zero: clamping would bias the mean away from 0 in noise. */
#include "dopflow/envelope.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define HANN_ENBW_BINS 1.5
#define DEAD_BIN_RATIO 1e-3
#define CLUTTER_RATIO 10.0     /* 10 dB above the bins beyond: clutter, not blood */
#define MAX_CLUTTER_HZ 500.0   /* the adaptive gap never grows beyond this */
#define CLUTTER_POWER_RATIO 4.0 /* frame power 6 dB above its running median: clutter */
#define MEDIAN_STEP 0.02
#define SYMMETRIC_MIN 3.0      /* both mirror bins this far above the noise: symmetric clutter */       /* ln-power step of the median tracker per frame */

struct dop_envelope {
    dop_envelope_config cfg;
    size_t centre;          /* bin of 0 Hz = bins / 2 */
    double *gain;           /* |H|^2 per bin (1 without a filter) */
    size_t gap_lo, gap_hi;  /* fixed gap bins [gap_lo, gap_hi], empty if gap_lo > gap_hi */
    size_t frame_lo, frame_hi; /* this frame's gap, widened over clutter */
    size_t max_gap_bins;    /* widest adaptive half-gap, bins */
    double log_typical_power; /* running median of ln(frame power outside the gap) */
    int have_typical;
    double *w;              /* corrected spectrum (with noise) */
    double *cumulative;     /* per-side running sums, bins/2 + 1 */
};

dop_envelope_config dop_envelope_config_default(void)
{
    dop_envelope_config cfg = {.bins = 0, .bin_hz = 0.0, .method = DOP_FMAX_MGM, .percentile = 0.95,
                               .threshold_db = 6.0, .detect_sigma = 5.0, .gap_hz = 0.0, .gain = NULL,
                               .one_sided = 0};
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
    dop_envelope *env = calloc(1, sizeof *env);
    if (!env) return dop_error_set(err, DOP_ERR_NOMEM, "envelope: out of memory");
    env->cfg = *cfg;
    env->cfg.gain = NULL;
    env->centre = cfg->bins / 2;
    env->gain = malloc(cfg->bins * sizeof *env->gain);
    env->w = malloc(cfg->bins * sizeof *env->w);
    env->cumulative = malloc((cfg->bins / 2 + 1) * sizeof *env->cumulative);
    if (!env->gain || !env->w || !env->cumulative) {
        dop_envelope_destroy(env);
        return dop_error_set(err, DOP_ERR_NOMEM, "envelope: out of memory");
    }
    for (size_t k = 0; k < cfg->bins; k++) env->gain[k] = cfg->gain ? cfg->gain[k] : 1.0;
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
    if (env->max_gap_bins > env->centre / 4) env->max_gap_bins = env->centre / 4;
    *out = env;
    return DOP_OK;
}

/* Median of five values. */
static double median5(const double *v)
{
    double t[5] = {v[0], v[1], v[2], v[3], v[4]};
    for (int i = 1; i < 5; i++)
        for (int j = i; j > 0 && t[j - 1] > t[j]; j--) {
            double x = t[j];
            t[j] = t[j - 1];
            t[j - 1] = x;
        }
    return t[2];
}

/* Step 1: compensated, gap-filled spectrum into env->w; the frame's gap
 * (fixed wall-filter gap, widened over clutter) into frame_lo..frame_hi. */
static void correct_spectrum(dop_envelope *env, const float *psd)
{
    const size_t n = env->cfg.bins;
    for (size_t k = 0; k < n; k++) env->w[k] = env->gain[k] >= 0.5 ? psd[k] / env->gain[k] : psd[k];
    env->frame_lo = env->gap_lo;
    env->frame_hi = env->gap_hi;
    if (env->gap_lo > env->gap_hi) return;
    size_t lo = env->gap_lo, hi = env->gap_hi;
    /* Clutter that the fixed filter passes (tissue moved by massage, probe
     * motion) adds power far above the blood's, whose Doppler power stays
     * about constant over the cardiac cycle (same scatterers, spectrum only
     * reshaped). In a frame whose power outside the gap exceeds
     * CLUTTER_POWER_RATIO x the running median, widen the gap over bins that
     * stand CLUTTER_RATIO above the median of the five bins just beyond
     * them: clutter is a narrow peak, blood is smooth. */
    double power = 0.0;
    for (size_t k = 1; k < lo; k++) power += env->w[k];
    for (size_t k = hi + 1; k < n; k++) power += env->w[k];
    double log_power = log(power + 1e-300);
    if (!env->have_typical) {
        env->log_typical_power = log_power;
        env->have_typical = 1;
    }
    int clutter = log_power > env->log_typical_power + log(CLUTTER_POWER_RATIO);
    /* Sign-step median tracker (stochastic approximation of the median),
     * slowed tenfold during clutter so that massage strokes barely move it. */
    double step = clutter ? MEDIAN_STEP / 10.0 : MEDIAN_STEP;
    env->log_typical_power += log_power > env->log_typical_power ? step : -step;
    if (!clutter) goto interpolate;
    /* A bin holding more than a tenth of the typical total blood power is
     * clutter too: blood spreads its power over its velocity band. */
    const double bin_limit = exp(env->log_typical_power) / CLUTTER_POWER_RATIO;
    while (hi + 7 < n && (hi + 1 - env->centre) < env->max_gap_bins &&
           (env->w[hi + 1] > bin_limit || env->w[hi + 1] > CLUTTER_RATIO * median5(&env->w[hi + 3])))
        hi++;
    while (lo > 7 && (env->centre - (lo - 1)) < env->max_gap_bins &&
           (env->w[lo - 1] > bin_limit || env->w[lo - 1] > CLUTTER_RATIO * median5(&env->w[lo - 7])))
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

/* Step 2: maximum frequency (in bins, outward) of one side. */
static size_t side_fmax_bins(dop_envelope *env, int dir, size_t count, double noise)
{
    double *c = env->cumulative;
    c[0] = 0.0;
    for (size_t j = 1; j <= count; j++) c[j] = c[j - 1] + side_value(env, dir, j);
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
    default: {
        /* Reference line from the origin to the integrated maximum. */
        size_t jmax = 0;
        for (size_t j = 1; j <= count; j++)
            if (c[j] >= c[jmax]) jmax = j;
        if (jmax == 0) return 0;
        double slope = c[jmax] / (double)jmax, best_distance = 0.0;
        for (size_t j = 1; j <= jmax; j++) {
            double distance = c[j] - slope * (double)j;
            if (distance > best_distance) {
                best_distance = distance;
                best = j;
            }
        }
        return best;
    }
    }
}

void dop_envelope_compute(dop_envelope *env, const float *psd, double noise, dop_envelope_result *out)
{
    memset(out, 0, sizeof *out);
    const size_t centre = env->centre;
    const double df = env->cfg.bin_hz;
    correct_spectrum(env, psd);
    /* MGM assumes the noise runs on to fs/2. In a recording band-limited
     * before it was stored, the dead bins (30 dB and more below the noise)
     * would end the integrated spectrum early and put the knee at the
     * recording's band edge; they count as noise instead. Noise bins fall
     * that low with probability 1e-3 only (exponential distribution). */
    for (size_t k = 0; k < env->cfg.bins; k++)
        if (env->w[k] < DEAD_BIN_RATIO * noise) env->w[k] = noise;
    if (env->cfg.one_sided) {
        /* Non-directional: fold -f onto +f; the folded bins carry twice the noise. */
        for (size_t j = 1; j < centre; j++) {
            env->w[centre + j] += env->w[centre - j];
            env->w[centre - j] = 0.0;
        }
        env->w[0] = 0.0;
    }
    const double side_noise = env->cfg.one_sided ? 2.0 * noise : noise;
    size_t fwd = side_fmax_bins(env, +1, centre - 1, side_noise);
    size_t rev = env->cfg.one_sided ? 0 : side_fmax_bins(env, -1, centre, noise);

    /* Significance of each side's band. */
    double p_fwd = 0.0, p_rev = 0.0;
    for (size_t j = 1; j <= fwd; j++) p_fwd += side_value(env, +1, j) - side_noise;
    for (size_t j = 1; j <= rev; j++) p_rev += side_value(env, -1, j) - noise;
    const double sigma = env->cfg.detect_sigma;
    if (!(fwd > 0 && p_fwd > sigma * side_noise * sqrt(HANN_ENBW_BINS * (double)fwd))) fwd = 0, p_fwd = 0.0;
    if (!(rev > 0 && p_rev > sigma * noise * sqrt(HANN_ENBW_BINS * (double)rev))) rev = 0, p_rev = 0.0;
    out->fmax_forward_hz = (double)fwd * df;
    out->fmax_reverse_hz = -(double)rev * df;
    out->power_forward = p_fwd;
    out->power_reverse = p_rev;
    out->has_signal = fwd > 0 || rev > 0;
    if (!out->has_signal) return;

    /* Step 3: intensity-weighted mean over the band, gap included. */
    size_t gap_rev = env->frame_lo <= env->frame_hi ? centre - env->frame_lo : 0;
    size_t gap_fwd = env->frame_lo <= env->frame_hi ? env->frame_hi - centre : 0;
    size_t lo = centre - (rev > gap_rev ? rev : gap_rev);
    size_t hi = centre + (fwd > gap_fwd ? fwd : gap_fwd);
    double sum_p = 0.0, sum_pf = 0.0, band_noise = 0.0;
    for (size_t k = lo; k <= hi; k++) {
        double k_noise = (env->cfg.one_sided && k > centre) ? side_noise : noise;
        if (env->cfg.one_sided && k < centre) continue;
        double p = env->w[k] - k_noise;
        sum_p += p;
        sum_pf += p * ((double)k - (double)centre) * df;
        band_noise += k_noise;
    }
    out->fmean_hz = sum_p > 0.0 ? sum_pf / sum_p : 0.0;
    out->snr_db = (sum_p > 0.0 && band_noise > 0.0) ? 10.0 * log10(sum_p / band_noise) : -INFINITY;
}

void dop_envelope_destroy(dop_envelope *env)
{
    if (!env) return;
    free(env->gain);
    free(env->w);
    free(env->cumulative);
    free(env);
}

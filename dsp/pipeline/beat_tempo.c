/* The heart period from the periodicity of the beat features (see
 * beat_tempo.h). */
#include "dopflow/beat_tempo.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/cpu.h"

#define DOP_TEMPO_AVX DOP_HAVE_AVX512_PATHS /* AVX version of the lag products, chosen at run time */
#if DOP_TEMPO_AVX
#include <immintrin.h>
#endif

#define MAX_LAG_FRACTION 0.6   /* lags up to this fraction of the window */
#define HALF_PERIOD_SHARE 0.9  /* half the lag: its peak at least this share of the best */
#define ODD_MULTIPLE_SHARE 0.5 /* ... and a peak at 3 half lags at least this share */
#define REPEAT_SHARE 0.5       /* a period's peak at twice its lag: at least this share of its own */
#define HALF_SUPPORT_SHARE 0.5 /* a feature periodic at twice a lag: below this share of that peak at the lag */
/* The second feature's significance at the period: at least this x z_min
 * (beat_tempo.h). Chosen on a sweep of 0.5-0.8 over steady-flow recordings
 * of both simulator models (20 s, no clutter, seeds 31-50: 17 of 40 found
 * pulsatile without it, 6, 3, 2 with 0.6, 0.7, 0.8) and the real
 * recordings (0.8 lost a heart rate); checked on held-out steady flow
 * (seeds 61-80 with clutter, 3-25 cm/s, SNR 6-30 dB, 8-32 s: 16 -> 1 of 40)
 * and the accuracy sweep's pulsatile cases. */
#define CORROBORATION_SHARE 0.7
/* ... unless the period's own significance is at least this x z_min (5.0
 * at the beat stage's 2.5): chance does not go that far (the largest of
 * 360 windows of the steady-flow recordings above was 3.5), a clean click
 * train does (a flux of valve clicks over noisy velocities, test_beats). */
#define STANDS_ALONE_SHARE 2.0
/* Tempo prior on the period (Ellis 2007's log-Gaussian tempo weighting):
 * centred on 100 bpm, one octave wide; it decides only between peaks of
 * similar height, such as a period and its double. */
#define PRIOR_PERIOD_S 0.6
#define PRIOR_OCTAVES 1.0

/* What a feature's last input gave (see feature_period). */
typedef struct feature_memo {
    size_t n;                  /* samples; 0: none yet */
    double mean, sd, z;
} feature_memo;

struct dop_tempo {
    dop_tempo_config cfg;
    double *standard;          /* DOP_TEMPO_FEATURES x max_samples standardised onsets */
    double *combined;          /* max_samples */
    double *acf;               /* max lag + 1: the combination's */
    double *feature_acf;       /* DOP_TEMPO_FEATURES x (max lag + 1): each feature's (zero when constant) */
    size_t max_lag;
    int avx;                   /* dop_cpu_use_avx() at creation */
    int avx512;                /* dop_cpu_use_avx512() at creation */
    double *last_in;           /* DOP_TEMPO_FEATURES x max_samples: each feature's last input */
    feature_memo memo[DOP_TEMPO_FEATURES];
};

dop_tempo_config dop_tempo_config_default(void)
{
    dop_tempo_config cfg = {.rate_hz = 0.0, .min_hr_bpm = 30.0, .max_hr_bpm = 220.0, .z_min = 3.0,
                            .max_samples = 0};
    return cfg;
}

dop_status dop_tempo_create(const dop_tempo_config *cfg, dop_tempo **out, dop_error *err)
{
    *out = NULL;
    if (!(cfg->rate_hz > 0.0) || !(cfg->min_hr_bpm > 0.0) || !(cfg->max_hr_bpm > cfg->min_hr_bpm) ||
        cfg->max_samples < 4)
        return dop_error_set(err, DOP_ERR_INVALID_ARG, "tempo: need rate > 0, 0 < min HR < max HR and a window");
    dop_tempo *t = calloc(1, sizeof *t);
    if (!t) return dop_error_set(err, DOP_ERR_NOMEM, "tempo: out of memory");
    t->cfg = *cfg;
    t->avx = dop_cpu_use_avx();
    t->avx512 = dop_cpu_use_avx512();
    /* Lags up to 2 longest periods: the repeat check of a period. */
    t->max_lag = (size_t)ceil(2.0 * 60.0 / cfg->min_hr_bpm * cfg->rate_hz) + 4;
    t->standard = malloc(DOP_TEMPO_FEATURES * cfg->max_samples * sizeof *t->standard);
    t->combined = malloc(cfg->max_samples * sizeof *t->combined);
    t->last_in = malloc(DOP_TEMPO_FEATURES * cfg->max_samples * sizeof *t->last_in);
    t->acf = malloc((t->max_lag + 1) * sizeof *t->acf);
    t->feature_acf = malloc(DOP_TEMPO_FEATURES * (t->max_lag + 1) * sizeof *t->feature_acf);
    if (!t->standard || !t->combined || !t->last_in || !t->acf || !t->feature_acf) {
        dop_tempo_destroy(t);
        return dop_error_set(err, DOP_ERR_NOMEM, "tempo: out of memory");
    }
    *out = t;
    return DOP_OK;
}

/* Continues x . y over n values from index i (a multiple of 4) with the
 * four partial sums s[] of the values before it: value j goes to sum j mod 4
 * (so that the compiler can use vector registers without reordering one
 * sum), the last n mod 4 to s[0]; the sums are added in pairs. */
static double dot_from(const double *x, const double *y, size_t n, size_t i, const double s_in[4])
{
    double s0 = s_in[0], s1 = s_in[1], s2 = s_in[2], s3 = s_in[3];
    for (; i + 4 <= n; i += 4) {
        s0 += x[i] * y[i];
        s1 += x[i + 1] * y[i + 1];
        s2 += x[i + 2] * y[i + 2];
        s3 += x[i + 3] * y[i + 3];
    }
    for (; i < n; i++) s0 += x[i] * y[i];
    return (s0 + s1) + (s2 + s3);
}

static double dot(const double *x, const double *y, size_t n)
{
    static const double zero[4] = {0.0, 0.0, 0.0, 0.0};
    return dot_from(x, y, n, 0, zero);
}

#if DOP_TEMPO_AVX
/* The lag products p[lag] = dot(x + lag, x, n - lag) of LAG_GROUP lags from
 * `lag` (all below n) with the same bits as dot: one 4-lane register holds
 * a lag's four partial sums (multiplication and addition, never fused),
 * and the lags share the loads of x over the blocks all of them have; each
 * lag's remaining blocks and tail continue in dot_from. */
#define LAG_GROUP 4
__attribute__((target("avx"))) static void lag_group_avx(const double *x, size_t n, size_t lag, double *p)
{
    const size_t blocks = (n - lag - (LAG_GROUP - 1)) / 4; /* common to the group */
    __m256d acc[LAG_GROUP];
    for (int k = 0; k < LAG_GROUP; k++) acc[k] = _mm256_setzero_pd();
    for (size_t b = 0; b < blocks; b++) {
        const __m256d y = _mm256_loadu_pd(x + 4 * b);
        for (int k = 0; k < LAG_GROUP; k++)
            acc[k] = _mm256_add_pd(acc[k], _mm256_mul_pd(_mm256_loadu_pd(x + lag + (size_t)k + 4 * b), y));
    }
    for (int k = 0; k < LAG_GROUP; k++) {
        double s[4];
        _mm256_storeu_pd(s, acc[k]);
        const size_t l = lag + (size_t)k;
        p[k] = dot_from(x + l, x, n - l, 4 * blocks, s);
    }
}

/* lag_group_avx for WIDE_GROUP lags from `lag` in AVX-512 registers: eight
 * doubles loaded from x + m + 4 b are block b of lag m (low half) and of
 * lag m + 4 (high half), so one load, product and sum serve two lags, each
 * half holding its lag's four partial sums exactly as lag_group_avx does;
 * y (block b of x) is the same for both halves. Eight accumulators (lags
 * 0-3 with 4-7 and 8-11 with 12-15 of the group) keep the adder busy. */
#define WIDE_GROUP 16
__attribute__((target("avx512f"))) static void lag_group_avx512(const double *x, size_t n, size_t lag, double *p)
{
    const size_t blocks = (n - lag - (WIDE_GROUP - 1)) / 4; /* common to the group */
    static const size_t first[8] = {0, 1, 2, 3, 8, 9, 10, 11}; /* low-half lag of each accumulator */
    __m512d acc[8];
    for (int k = 0; k < 8; k++) acc[k] = _mm512_setzero_pd();
    for (size_t b = 0; b < blocks; b++) {
        const __m512d y = _mm512_broadcast_f64x4(_mm256_loadu_pd(x + 4 * b));
        for (int k = 0; k < 8; k++)
            acc[k] = _mm512_add_pd(acc[k], _mm512_mul_pd(_mm512_loadu_pd(x + lag + first[k] + 4 * b), y));
    }
    for (int k = 0; k < 8; k++) {
        double s[8];
        _mm512_storeu_pd(s, acc[k]);
        for (size_t half = 0; half < 2; half++) {
            const size_t l = lag + first[k] + 4 * half;
            p[l - lag] = dot_from(x + l, x, n - l, 4 * blocks, s + 4 * half);
        }
    }
}
#endif

/* p[lag] = dot(x + lag, x, n - lag) for lags 0..top (top < n); avx, avx512:
 * use the AVX and AVX-512 versions (dop_cpu_use_avx, dop_cpu_use_avx512). */
static void lag_products(const double *x, size_t n, size_t top, int avx, int avx512, double *p)
{
    size_t lag = 0;
#if DOP_TEMPO_AVX
    if (avx512)
        for (; lag + WIDE_GROUP - 1 <= top; lag += WIDE_GROUP) lag_group_avx512(x, n, lag, p + lag);
    if (avx)
        for (; lag + LAG_GROUP - 1 <= top; lag += LAG_GROUP) lag_group_avx(x, n, lag, p + lag);
#endif
    for (; lag <= top; lag++) p[lag] = dot(x + lag, x, n - lag);
}

/* Normalised autocorrelation r(0..max_lag) of x (zero mean) into acf. */
static void autocorrelate(const double *x, size_t n, size_t max_lag, int avx, int avx512, double *acf)
{
    const size_t top = max_lag < n ? max_lag : n - 1;
    lag_products(x, n, top, avx, avx512, acf);
    const double r0 = acf[0];
    for (size_t lag = 0; lag <= max_lag; lag++) acf[lag] = r0 > 0.0 && lag <= top ? acf[lag] / r0 : 0.0;
}

/* Correlation length 1 + 2 sum r(k) up to the first non-positive r. */
static double correlation_length(const double *acf, size_t max_lag)
{
    double tau = 1.0;
    for (size_t k = 1; k <= max_lag && acf[k] > 0.0; k++) tau += 2.0 * acf[k];
    return tau;
}

/* Significance of the autocorrelation at lag k of n samples: r(k) over its
 * standard error under Bartlett's formula, r sqrt(n / tau), tau the
 * correlation length over lags up to max_lag. */
static double significance(const double *acf, size_t k, size_t max_lag, size_t n)
{
    return acf[k] * sqrt((double)n / correlation_length(acf, max_lag));
}

typedef struct period_pick {
    double lag;       /* samples, interpolated; 0 when none */
    double r;         /* autocorrelation there */
    double z;
} period_pick;

/* Index of the largest acf value within +-10% of lag `near` (at least one
 * lag either side), or 0 if that range leaves [lo, top]. */
static size_t peak_near(const double *acf, size_t near, size_t lo, size_t top)
{
    size_t width = (size_t)fmax(1.0, 0.1 * (double)near);
    if (near < lo + width || near + width > top) return 0;
    size_t best = near - width;
    for (size_t k = near - width; k <= near + width; k++)
        if (acf[k] > acf[best]) best = k;
    return best;
}

/* The highest local maximum of acf in [lo, hi], or half its lag when that
 * is a true period too: its own peak nearly as high and a peak at three
 * half lags (a second event per cycle, such as a valve click, makes a peak
 * at the half lag but a trough at 1.5 periods). acf holds lags up to top.
 * Parabolic interpolation of the lag. */
static double tempo_prior(size_t lag, double rate_hz)
{
    double octaves = log2((double)lag / rate_hz / PRIOR_PERIOD_S) / PRIOR_OCTAVES;
    return exp(-0.5 * octaves * octaves);
}

/* How far the peak at lag k repeats at 2k, 0..1: a cardiac period recurs
 * a cycle later, a lag that only links two different events of a cycle
 * (the second click of one cycle and the first of the next: P - d) does
 * not (at 2 (P - d) there is no event pair). The beat spectrum of Ellis
 * (2007) sums the autocorrelation at a lag and at twice it for the same
 * reason. 1 when the peak at 2k is at least REPEAT_SHARE of acf[k], falling
 * linearly to 0 when it is absent; 1 when 2k lies beyond the lags computed
 * (up to top): nothing to check. */
static double repeat_support(const double *acf, size_t k, size_t top)
{
    size_t twice = peak_near(acf, 2 * k, 1, top - 1);
    if (!twice || !(acf[k] > 0.0)) return 1.0;
    return fmin(1.0, fmax(0.0, acf[twice] / (REPEAT_SHARE * acf[k])));
}

/* The lag of the period in acf (see pick_period); 0 when none. */
static size_t period_lag(const double *acf, size_t lo, size_t hi, size_t top, double rate_hz)
{
    size_t best = 0;
    double best_weighted = 0.0;
    for (size_t k = lo > 1 ? lo : 1; k <= hi; k++) {
        if (!(acf[k] >= acf[k - 1] && acf[k] >= acf[k + 1])) continue;
        double weighted = acf[k] * tempo_prior(k, rate_hz) * repeat_support(acf, k, top);
        if (best == 0 || weighted > best_weighted) {
            best = k;
            best_weighted = weighted;
        }
    }
    if (best == 0) return 0;
    size_t half = peak_near(acf, (best + 1) / 2, lo, hi);
    if (half && acf[half] > HALF_PERIOD_SHARE * acf[best]) {
        size_t odd = peak_near(acf, 3 * half, lo, top - 1);
        if (odd && acf[odd] > ODD_MULTIPLE_SHARE * acf[best]) best = half;
    }
    return best;
}

/* The peak at lag `best` of acf (n samples, lags up to hi searched) with
 * its lag interpolated (parabola through it and its neighbours) and its
 * significance z. */
static period_pick pick_at(const double *acf, size_t best, size_t hi, size_t n)
{
    period_pick p = {0.0, 0.0, 0.0};
    if (best == 0) return p;
    double a = acf[best - 1], b = acf[best], c = acf[best + 1], den = a - 2.0 * b + c;
    double shift = den < 0.0 ? 0.5 * (a - c) / den : 0.0;
    p.lag = (double)best + (fabs(shift) <= 0.5 ? shift : 0.0);
    p.r = b;
    p.z = significance(acf, best, hi, n);
    return p;
}

static period_pick pick_period(const double *acf, size_t lo, size_t hi, size_t top, size_t n, double rate_hz)
{
    return pick_at(acf, period_lag(acf, lo, hi, top, rate_hz), hi, n);
}

/* Whether lag k is half the period of a feature that is periodic on its
 * own (feature z at least z_min): that feature's autocorrelation has a
 * significant peak near 2k (z at least z_min there too) and less than
 * HALF_SUPPORT_SHARE of it near k. The flow's pulse comes once per cycle,
 * the valve clicks twice: evenly spaced clicks make the flux and the power
 * periodic at half the heart period, a lag that the velocity traces, with
 * one rise per cycle, do not share. A true period is a lag of every
 * periodic feature (one that repeats at half the period repeats at the
 * period too), so the combination's lag must be one of each of them. */
static int half_of_a_feature_period(const dop_tempo *t, const dop_tempo_estimate *e, size_t k, size_t lo,
                                    size_t hi, size_t top, size_t n)
{
    for (int f = 0; f < DOP_TEMPO_FEATURES; f++) {
        if (!(e->feature_z[f] >= t->cfg.z_min)) continue;
        const double *acf = t->feature_acf + (size_t)f * (t->max_lag + 1);
        size_t twice = peak_near(acf, 2 * k, lo, top - 1), once = peak_near(acf, k, lo, top - 1);
        if (!twice || !once || !(acf[twice] > 0.0)) continue;
        if (significance(acf, twice, hi, n) >= t->cfg.z_min && acf[once] < HALF_SUPPORT_SHARE * acf[twice]) return 1;
    }
    return 0;
}

/* The second largest significance, among the features that vary, of a
 * feature's own autocorrelation peak within 10 % of lag k (beat_tempo.h);
 * NAN when fewer than two vary (nothing to corroborate with). */
static double corroboration(const dop_tempo *t, const dop_tempo_estimate *e, size_t k, size_t hi, size_t top,
                            size_t n)
{
    double first = 0.0, second = 0.0;
    int varying = 0;
    for (int f = 0; f < DOP_TEMPO_FEATURES; f++) {
        if (!(e->sd[f] > 0.0)) continue;
        varying++;
        const double *acf = t->feature_acf + (size_t)f * (t->max_lag + 1);
        size_t peak = peak_near(acf, k, 1, top - 1);
        double z = peak ? significance(acf, peak, hi, n) : 0.0;
        if (z > first) {
            second = first;
            first = z;
        } else if (z > second) {
            second = z;
        }
    }
    return varying >= 2 ? second : NAN;
}

/* Standardise x into y; returns its mean and SD (SD 0: y all zero). */
static void standardise(const double *x, size_t n, double *y, double *mean, double *sd)
{
    double m = 0.0, v = 0.0;
    for (size_t i = 0; i < n; i++) m += x[i];
    m /= (double)n;
    for (size_t i = 0; i < n; i++) v += (x[i] - m) * (x[i] - m);
    double s = sqrt(v / (double)n);
    for (size_t i = 0; i < n; i++) y[i] = s > 0.0 ? (x[i] - m) / s : 0.0;
    *mean = m;
    *sd = s;
}

/* Feature k standardised into t->standard and its own period's z into out
 * (0 when it is constant). An input equal to the last one of feature k
 * (the same n values, bit for bit, as when the spectral evidence without
 * bursts is tried after the one with them: the velocity traces are the
 * same) gives what it gave then, without computing it again. */
static void feature_period(dop_tempo *t, int k, const double *x, size_t n, size_t lo, size_t hi, size_t top,
                           dop_tempo_estimate *out)
{
    feature_memo *memo = &t->memo[k];
    double *last = t->last_in + (size_t)k * t->cfg.max_samples;
    if (memo->n == n && memcmp(last, x, n * sizeof *x) == 0) {
        out->mean[k] = memo->mean;
        out->sd[k] = memo->sd;
        out->feature_z[k] = memo->z;
        return;
    }
    double *y = t->standard + (size_t)k * t->cfg.max_samples;
    double *acf = t->feature_acf + (size_t)k * (t->max_lag + 1);
    standardise(x, n, y, &out->mean[k], &out->sd[k]);
    if (out->sd[k] > 0.0) {
        autocorrelate(y, n, top, t->avx, t->avx512, acf);
        out->feature_z[k] = pick_period(acf, lo, hi, top, n, t->cfg.rate_hz).z;
    } else {
        memset(acf, 0, (t->max_lag + 1) * sizeof *acf);
    }
    memcpy(last, x, n * sizeof *x);
    *memo = (feature_memo){.n = n, .mean = out->mean[k], .sd = out->sd[k], .z = out->feature_z[k]};
}

void dop_tempo_estimate_window(dop_tempo *t, const double *const onset[DOP_TEMPO_FEATURES], size_t n,
                               dop_tempo_estimate *out)
{
    memset(out, 0, sizeof *out);
    out->period_s = NAN;
    if (n > t->cfg.max_samples) n = t->cfg.max_samples;
    const double rate = t->cfg.rate_hz;
    size_t lo = (size_t)floor(60.0 / t->cfg.max_hr_bpm * rate);
    size_t hi = (size_t)ceil(60.0 / t->cfg.min_hr_bpm * rate);
    size_t longest = (size_t)(MAX_LAG_FRACTION * (double)n);
    if (hi > longest) hi = longest;
    size_t top = 2 * hi + 2;                          /* lags computed */
    if (top > n - 1) top = n - 1;
    if (top > t->max_lag) top = t->max_lag;
    if (hi + 1 > top) hi = top - 1;
    if (lo < 2) lo = 2;
    if (n < 8 || hi <= lo) return;

    double best_z = 0.0;
    for (int k = 0; k < DOP_TEMPO_FEATURES; k++) {
        feature_period(t, k, onset[k], n, lo, hi, top, out);
        if (out->feature_z[k] > best_z) best_z = out->feature_z[k];
    }
    if (best_z <= 0.0) return;
    memset(t->combined, 0, n * sizeof *t->combined);
    for (int k = 0; k < DOP_TEMPO_FEATURES; k++) {
        double w = out->feature_z[k] - 0.5 * best_z;
        out->weight[k] = w > 0.0 ? w * w : 0.0;
        if (out->weight[k] == 0.0) continue;
        const double *y = t->standard + (size_t)k * t->cfg.max_samples;
        for (size_t i = 0; i < n; i++) t->combined[i] += out->weight[k] * y[i];
    }
    autocorrelate(t->combined, n, top, t->avx, t->avx512, t->acf);
    size_t lag = period_lag(t->acf, lo, hi, top, rate);
    if (lag && half_of_a_feature_period(t, out, lag, lo, hi, top, n)) {
        size_t twice = peak_near(t->acf, 2 * lag, lo, hi);
        if (twice) lag = twice;
    }
    period_pick p = pick_at(t->acf, lag, hi, n);
    if (p.lag <= 0.0) return;
    out->period_s = p.lag / rate;
    out->periodicity = p.r;
    out->z = p.z;
    out->corroboration_z = corroboration(t, out, lag, hi, top, n);
    const int corroborated = !(out->corroboration_z < CORROBORATION_SHARE * t->cfg.z_min);
    out->pulsatile = p.z >= t->cfg.z_min && (corroborated || p.z >= STANDS_ALONE_SHARE * t->cfg.z_min);
}

void dop_tempo_destroy(dop_tempo *t)
{
    if (!t) return;
    free(t->standard);
    free(t->combined);
    free(t->last_in);
    free(t->acf);
    free(t->feature_acf);
    free(t);
}

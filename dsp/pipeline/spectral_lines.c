/* Stage 2b: stationary spectral lines found and left out (see
 * spectral_lines.h). */
#include "dopflow/spectral_lines.h"

#include <stdlib.h>
#include <string.h>

#include "core/cpu.h"
#if DOP_HAVE_AVX512_PATHS
#include <immintrin.h>
#endif

#define LEVEL_MIN 1e-30f     /* below this a bin counts as empty */
#define TRACK_S 2.0          /* time constant of the per-bin median and mean, s */
#define WARMUP_S 2.0         /* no line before this much data, s */
#define CHECK_S 0.5          /* lines looked for this often, s */
#define LINE_RATIO 10.0f     /* a line's median over its surroundings' (10 dB) */
#define STEADY_RATIO 0.85f   /* a line's median over its mean (speckle: ln 2 = 0.69) */
#define GAP_BINS 3           /* the surroundings start this many bins away ... */
#define REACH_BINS 12        /* ... and end this many bins away, each side */
#define BLOOD_RATIO 4.0f     /* blood beside the lines: bins this far (6 dB) above ... */
#define FLOOR_QUANTILE 0.2   /* ... this quantile of the typical powers, ... */
#define BLOOD_BINS (2 * REACH_BINS) /* ... at least this many of them, away from the lines */

struct dop_spectral_lines {
    dop_spectral_lines_config cfg;
    uint8_t *eligible;
    float *median;           /* running median of each bin's power */
    float *mean;             /* running mean of each bin's power */
    uint8_t *in_line;        /* bins replaced in every frame */
    float *out;              /* the spectrum without its lines */
    float mu;                /* tracking step once settled */
    long frames, since_check, warmup_frames, check_frames;
    size_t line_bins;
    long long line_frames;
    int avx;                 /* dop_cpu_use_avx() at creation */
};

dop_status dop_spectral_lines_create(const dop_spectral_lines_config *cfg, dop_spectral_lines **out,
                                     dop_error *err)
{
    *out = NULL;
    if (cfg->bins < 2 * REACH_BINS || !(cfg->frame_rate_hz > 0.0))
        return dop_error_set(err, DOP_ERR_INVALID_ARG, "spectral lines: need at least %d bins and a frame rate > 0",
                             2 * REACH_BINS);
    dop_spectral_lines *s = calloc(1, sizeof *s);
    const size_t n = cfg->bins;
    if (s) {
        s->eligible = malloc(n);
        s->in_line = calloc(n, 1);
        s->median = malloc(n * sizeof *s->median);
        s->mean = malloc(n * sizeof *s->mean);
        s->out = malloc(n * sizeof *s->out);
    }
    if (!s || !s->eligible || !s->in_line || !s->median || !s->mean || !s->out) {
        dop_spectral_lines_destroy(s);
        return dop_error_set(err, DOP_ERR_NOMEM, "spectral lines: out of memory");
    }
    s->cfg = *cfg;
    s->cfg.eligible = NULL;
    if (cfg->eligible) memcpy(s->eligible, cfg->eligible, n);
    else memset(s->eligible, 1, n);
    s->mu = (float)(1.0 / (TRACK_S * cfg->frame_rate_hz));
    s->avx = dop_cpu_use_avx();
    s->warmup_frames = (long)(WARMUP_S * cfg->frame_rate_hz);
    s->check_frames = (long)(CHECK_S * cfg->frame_rate_hz) > 0 ? (long)(CHECK_S * cfg->frame_rate_hz) : 1;
    dop_spectral_lines_reset(s);
    *out = s;
    return DOP_OK;
}

dop_spectral_lines_config dop_spectral_lines_config_default(void)
{
    dop_spectral_lines_config cfg = {.bins = 0, .frame_rate_hz = 0.0, .eligible = NULL};
    return cfg;
}

void dop_spectral_lines_reset(dop_spectral_lines *s)
{
    s->frames = 0;
    s->since_check = 0;
    s->line_bins = 0;
    s->line_frames = 0;
    memset(s->in_line, 0, s->cfg.bins);
}

#if DOP_HAVE_AVX512_PATHS
/* The loop of track below over whole blocks of 8 bins in AVX registers:
 * each bin on its own with the same operations (nothing fused; max(a, b)
 * is "a > b ? a : b"; the step chosen by a mask, as blendv compiles to
 * branches under GCC 12), so the same bits. Returns the bins done. */
__attribute__((target("avx"))) static size_t track_avx(float *restrict median, float *restrict mean,
                                                       const float *restrict psd, size_t n, float step, float up,
                                                       float down)
{
    const __m256 step8 = _mm256_set1_ps(step), up8 = _mm256_set1_ps(up), down8 = _mm256_set1_ps(down);
    const __m256 least = _mm256_set1_ps(LEVEL_MIN);
    size_t k = 0;
    for (; k + 8 <= n; k += 8) {
        const __m256 p = _mm256_loadu_ps(psd + k), med = _mm256_loadu_ps(median + k), avg = _mm256_loadu_ps(mean + k);
        const __m256 rises = _mm256_cmp_ps(p, med, _CMP_GT_OQ);
        const __m256 factor = _mm256_or_ps(_mm256_and_ps(rises, up8), _mm256_andnot_ps(rises, down8));
        _mm256_storeu_ps(median + k, _mm256_max_ps(_mm256_mul_ps(med, factor), least));
        _mm256_storeu_ps(mean + k, _mm256_add_ps(avg, _mm256_mul_ps(step8, _mm256_sub_ps(p, avg))));
    }
    return k;
}
#endif

/* Running median (Robbins-Monro: a multiplicative step up or down) and
 * mean of every bin; large steps at first so that both settle quickly. */
static void track(dop_spectral_lines *s, const float *psd)
{
    const size_t n = s->cfg.bins;
    if (s->frames == 0) {
        for (size_t k = 0; k < n; k++) s->median[k] = s->mean[k] = psd[k] > LEVEL_MIN ? psd[k] : LEVEL_MIN;
        return;
    }
    const float step = s->mu > 1.0f / (float)(s->frames + 1) ? s->mu : 1.0f / (float)(s->frames + 1);
    const float up = 1.0f + step, down = 1.0f / up;
    size_t k = 0;
#if DOP_HAVE_AVX512_PATHS
    if (s->avx) k = track_avx(s->median, s->mean, psd, n, step, up, down);
#endif
    for (; k < n; k++) {
        const float p = psd[k], m = s->median[k] * (p > s->median[k] ? up : down);
        s->median[k] = m > LEVEL_MIN ? m : LEVEL_MIN;
        s->mean[k] += step * (p - s->mean[k]);
    }
}

static int compare_float(const void *a, const void *b)
{
    const float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* Median of the tracked medians of the bins GAP_BINS to REACH_BINS away
 * from k on either side (k at least REACH_BINS from either end). */
static float surroundings(const dop_spectral_lines *s, size_t k)
{
    float v[2 * REACH_BINS];
    size_t m = 0;
    for (size_t d = GAP_BINS; d <= REACH_BINS; d++) {
        v[m++] = s->median[k - d];
        v[m++] = s->median[k + d];
    }
    qsort(v, m, sizeof *v, compare_float);
    return v[m / 2];
}

/* A bin whose typical power stands out of its surroundings and is steady,
 * with all its surroundings outside the wall filter's stop band: just past
 * the stop band, the leakage of strong stationary clutter (deterministic
 * echoes of still tissue) is steady and stands out too, but is no line. */
static int is_line_bin(const dop_spectral_lines *s, size_t k)
{
    if (k < REACH_BINS || k + REACH_BINS >= s->cfg.bins) return 0;
    /* the steadiness first: it is cheap and rules out nearly every bin */
    if (!(s->median[k] > STEADY_RATIO * s->mean[k])) return 0;
    for (size_t j = k - REACH_BINS; j <= k + REACH_BINS; j++)
        if (!s->eligible[j]) return 0;
    return s->median[k] > LINE_RATIO * surroundings(s, k);
}

/* Whether a band of blood signal lies beside the lines: BLOOD_BINS eligible
 * bins, more than REACH_BINS from every line bin, whose mean power is
 * BLOOD_RATIO above the FLOOR_QUANTILE of all eligible bins' (the mean:
 * pulsatile flow fills a bin for only part of the cycle). A steady
 * tone alone (a test tone, a string phantom) is the signal, not
 * interference: it stays. */
static int blood_beside(dop_spectral_lines *s)
{
    const size_t n = s->cfg.bins;
    size_t m = 0;
    for (size_t k = 0; k < n; k++)
        if (s->eligible[k]) s->out[m++] = s->mean[k];
    if (m == 0) return 0;
    qsort(s->out, m, sizeof *s->out, compare_float);
    const float quiet = s->out[(size_t)(FLOOR_QUANTILE * (double)(m - 1))];
    /* distance to the nearest line bin: left pass into out, right pass */
    float dist = (float)n;
    for (size_t k = 0; k < n; k++) {
        dist = s->in_line[k] ? 0.0f : dist + 1.0f;
        s->out[k] = dist;
    }
    size_t blood = 0;
    dist = (float)n;
    for (size_t k = n; k-- > 0;) {
        dist = s->in_line[k] ? 0.0f : dist + 1.0f;
        const float nearest = dist < s->out[k] ? dist : s->out[k];
        if (s->eligible[k] && nearest > (float)REACH_BINS && s->mean[k] > BLOOD_RATIO * quiet) blood++;
    }
    return blood >= BLOOD_BINS;
}

/* Mark the runs of line bins no wider than DOP_SPECTRAL_LINE_MAX_BINS, one
 * bin more each side (the window's skirt of the tone), where blood lies
 * beside them. */
static void find_lines(dop_spectral_lines *s)
{
    const size_t n = s->cfg.bins;
    memset(s->in_line, 0, n);
    s->line_bins = 0;
    for (size_t k = 0; k < n;) {
        if (!is_line_bin(s, k)) {
            k++;
            continue;
        }
        size_t end = k + 1;
        while (end < n && is_line_bin(s, end)) end++;
        if (end - k <= DOP_SPECTRAL_LINE_MAX_BINS) {
            const size_t lo = k > 0 ? k - 1 : 0, hi = end < n ? end + 1 : n;
            for (size_t j = lo; j < hi; j++) s->in_line[j] = 1;
        }
        k = end;
    }
    for (size_t k = 0; k < n; k++) s->line_bins += s->in_line[k];
    if (s->line_bins > 0 && !blood_beside(s)) {
        memset(s->in_line, 0, n);
        s->line_bins = 0;
    }
}

/* Each run of line bins replaced by the straight line between the frame's
 * bins just outside it (the one side's at the ends of the spectrum). */
static void fill_lines(dop_spectral_lines *s, const float *psd)
{
    const size_t n = s->cfg.bins;
    memcpy(s->out, psd, n * sizeof *s->out);
    for (size_t k = 0; k < n;) {
        if (!s->in_line[k]) {
            k++;
            continue;
        }
        size_t end = k;
        while (end < n && s->in_line[end]) end++;
        const float left = k > 0 ? psd[k - 1] : psd[end < n ? end : k];
        const float right = end < n ? psd[end] : left;
        const float span = (float)(end - k + 1);
        for (size_t j = k; j < end; j++) s->out[j] = left + (right - left) * (float)(j - k + 1) / span;
        k = end;
    }
}

const float *dop_spectral_lines_push(dop_spectral_lines *s, const float *psd)
{
    track(s, psd);
    s->frames++;
    if (s->frames >= s->warmup_frames && ++s->since_check >= s->check_frames) {
        s->since_check = 0;
        find_lines(s);
    }
    if (s->line_bins == 0) return psd;
    fill_lines(s, psd);
    s->line_frames++;
    return s->out;
}

size_t dop_spectral_lines_bins(const dop_spectral_lines *s) { return s->line_bins; }
long long dop_spectral_lines_frames(const dop_spectral_lines *s) { return s->line_frames; }

void dop_spectral_lines_destroy(dop_spectral_lines *s)
{
    if (!s) return;
    free(s->eligible);
    free(s->in_line);
    free(s->median);
    free(s->mean);
    free(s->out);
    free(s);
}

/* Stage 4b: evidence of the cardiac cycle from the power spectrum (see
 * beat_evidence.h). */
#include "dopflow/beat_evidence.h"

#include <math.h>
#include <stdlib.h>

#include "core/cpu.h"
#if DOP_HAVE_AVX512_PATHS
#include <immintrin.h>
#endif

/* Below this a bin's level counts as empty (the wall-filter stop band of a
 * float spectrum): its ratio is taken as 1. */
#define LEVEL_MIN 1e-30f
#define LANES 8                 /* partial sums per quantity */

struct dop_beat_evidence {
    dop_beat_evidence_config cfg;
    float mu;                 /* quantile tracker step once settled: 1 / frame rate */
    long frames;              /* frames seen */
    float *level;             /* typical power of each bin */
    float *last;              /* sqrt(max(P / level, 1)) of the previous frame */
    int started;
    int avx;                  /* dop_cpu_use_avx() at creation */
};

dop_beat_evidence_config dop_beat_evidence_config_default(void)
{
    dop_beat_evidence_config cfg = {.bins = 0, .frame_rate_hz = 0.0};
    return cfg;
}

dop_status dop_beat_evidence_create(const dop_beat_evidence_config *cfg, dop_beat_evidence **out, dop_error *err)
{
    *out = NULL;
    if (cfg->bins == 0 || !(cfg->frame_rate_hz > 0.0))
        return dop_error_set(err, DOP_ERR_INVALID_ARG, "beat evidence: need bins > 0 and frame rate > 0");
    dop_beat_evidence *e = calloc(1, sizeof *e);
    if (e) {
        e->level = malloc(cfg->bins * sizeof *e->level);
        e->last = malloc(cfg->bins * sizeof *e->last);
    }
    if (!e || !e->level || !e->last) {
        dop_beat_evidence_destroy(e);
        return dop_error_set(err, DOP_ERR_NOMEM, "beat evidence: out of memory");
    }
    e->cfg = *cfg;
    e->mu = (float)(1.0 / cfg->frame_rate_hz);
    e->avx = dop_cpu_use_avx();
    dop_beat_evidence_reset(e);
    *out = e;
    return DOP_OK;
}

void dop_beat_evidence_reset(dop_beat_evidence *e)
{
    e->started = 0;
    e->frames = 0;
}

/* One bin: its excess over the typical level, its rise, and the level's
 * quantile step. */
static inline void track_bin(float *restrict levels, float *restrict lasts, const float *restrict psd, size_t k,
                             float up, float down, float *excess, float *flux, float *total)
{
    const float level = levels[k], p = psd[k];
    const float q = p / level, above = p - level, next = level * (p > level ? up : down);
    const float ratio = sqrtf(q > 1.0f ? q : 1.0f), rise = ratio - lasts[k];
    *total += level;
    *excess += above > 0.0f ? above : 0.0f;
    *flux += rise > 0.0f ? rise : 0.0f;
    lasts[k] = ratio;
    levels[k] = next > LEVEL_MIN ? next : LEVEL_MIN;
}

/* track_bin over the bins of whole blocks of LANES, bin base + j into lane
 * j: the plain loop (the compiler runs it in SSE registers); returns the
 * bins done. */
static size_t track_blocks(float *restrict levels, float *restrict lasts, const float *restrict psd, size_t bins,
                           float up, float down, float *excess, float *flux, float *total)
{
    size_t base = 0;
    for (; base + LANES <= bins; base += LANES)
        for (size_t j = 0; j < LANES; j++)
            track_bin(levels, lasts, psd, base + j, up, down, &excess[j], &flux[j], &total[j]);
    return base;
}

#if DOP_HAVE_AVX512_PATHS
/* track_blocks with one block in one 8-float AVX register: the same
 * operations on each bin (division and square root are exact, nothing is
 * fused; max(a, b) is "a > b ? a : b", NaN included), the same sums in the
 * same lanes, so the same bits; half the instructions. */
__attribute__((target("avx"))) static size_t track_blocks_avx(float *restrict levels, float *restrict lasts,
                                                              const float *restrict psd, size_t bins, float up,
                                                              float down, float *excess, float *flux, float *total)
{
    const __m256 one = _mm256_set1_ps(1.0f), zero = _mm256_setzero_ps(), least = _mm256_set1_ps(LEVEL_MIN);
    const __m256 up8 = _mm256_set1_ps(up), down8 = _mm256_set1_ps(down);
    __m256 ex = _mm256_loadu_ps(excess), fl = _mm256_loadu_ps(flux), to = _mm256_loadu_ps(total);
    size_t base = 0;
    for (; base + LANES <= bins; base += LANES) {
        const __m256 level = _mm256_loadu_ps(levels + base), p = _mm256_loadu_ps(psd + base);
        const __m256 rises = _mm256_cmp_ps(p, level, _CMP_GT_OQ);
        /* up where rising, else down (a mask, not blendv: GCC 12 turns that into branches) */
        const __m256 factor = _mm256_or_ps(_mm256_and_ps(rises, up8), _mm256_andnot_ps(rises, down8));
        const __m256 next = _mm256_mul_ps(level, factor);
        const __m256 ratio = _mm256_sqrt_ps(_mm256_max_ps(_mm256_div_ps(p, level), one));
        const __m256 rise = _mm256_sub_ps(ratio, _mm256_loadu_ps(lasts + base));
        to = _mm256_add_ps(to, level);
        ex = _mm256_add_ps(ex, _mm256_max_ps(_mm256_sub_ps(p, level), zero));
        fl = _mm256_add_ps(fl, _mm256_max_ps(rise, zero));
        _mm256_storeu_ps(lasts + base, ratio);
        _mm256_storeu_ps(levels + base, _mm256_max_ps(next, least));
    }
    _mm256_storeu_ps(excess, ex);
    _mm256_storeu_ps(flux, fl);
    _mm256_storeu_ps(total, to);
    return base;
}
#endif

dop_beat_evidence_frame dop_beat_evidence_push(dop_beat_evidence *e, const float *psd)
{
    const size_t bins = e->cfg.bins;
    dop_beat_evidence_frame out = {0.0, 0.0};
    if (!e->started) {
        for (size_t k = 0; k < bins; k++) {
            e->level[k] = psd[k] > LEVEL_MIN ? psd[k] : LEVEL_MIN;
            e->last[k] = 1.0f;
        }
        e->started = 1;
        return out;
    }
    /* Robbins-Monro step: large at first, so that the levels settle in a
     * fraction of a second from the first frame's, then 1 / frame rate. */
    e->frames++;
    const float step = fmaxf(e->mu, 1.0f / (float)(e->frames + 1));
    const float up = 1.0f + step, down = 1.0f / up;
    /* LANES independent partial sums per quantity over whole blocks of
     * LANES bins, then the tail: no branch and no reordered sum, so that
     * the block loop runs in vector registers. */
    float excess_lane[LANES] = {0}, flux_lane[LANES] = {0}, total_lane[LANES] = {0};
    size_t base;
#if DOP_HAVE_AVX512_PATHS
    if (e->avx)
        base = track_blocks_avx(e->level, e->last, psd, bins, up, down, excess_lane, flux_lane, total_lane);
    else
#endif
        base = track_blocks(e->level, e->last, psd, bins, up, down, excess_lane, flux_lane, total_lane);
    for (size_t k = base; k < bins; k++) track_bin(e->level, e->last, psd, k, up, down, &excess_lane[0], &flux_lane[0], &total_lane[0]);
    double excess = 0.0, flux = 0.0, total = 0.0;
    for (size_t j = 0; j < LANES; j++) {
        excess += excess_lane[j];
        flux += flux_lane[j];
        total += total_lane[j];
    }
    out.excess_power = total > 0.0 ? excess / total : 0.0;
    out.flux = flux;
    return out;
}

void dop_beat_evidence_destroy(dop_beat_evidence *e)
{
    if (!e) return;
    free(e->level);
    free(e->last);
    free(e);
}

/* Stage 3: noise floor from the spectrum itself (see noise_floor.h).
 *
 * Per frame: the q-quantile of the masked bins, divided by -ln(1 - q), the
 * q-quantile of a unit-mean exponential, is an unbiased noise PSD level
 * when the selected bins carry noise only. The quantile is then refined by
 * an iterated truncated mean (below).
 * Across frames: first-order smoothing with time constant rise_time_s.
 * Asymmetric (minimum-tracking) smoothing was tried and rejected: it sits
 * ~13% below the true level because per-frame estimates scatter; bursts are
 * instead kept out by the caller, who does not feed artifact frames.
 *
 * frame_estimate_reference() is the estimator as specified (quickselect,
 * left-to-right sums); dop_noise_floor_frame_estimate() computes the same
 * bits with about a tenth of the work (how, above it), which matters: the
 * estimate runs on every frame. tests/pipeline/test_equivalence.c compares the two. */
#include "dopflow/noise_floor.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#include "core/cpu.h"
#define DOP_NF_AVX512 DOP_HAVE_AVX512_PATHS /* AVX-512 versions of exact passes, chosen at run time */
#if DOP_NF_AVX512
#include <immintrin.h>
#endif

struct dop_noise_floor {
    dop_noise_floor_config cfg;
    size_t *selected;      /* indices of bins used */
    size_t n_selected;
    size_t *run_start, *run_length; /* the same as runs of consecutive bins */
    size_t n_runs;
    uint32_t guess_bucket; /* exponent byte of the last frame's quantile */
    int wide;              /* the AVX-512 passes are usable */
    float *values;         /* n_selected values of this frame, in bin order */
    uint32_t *keys, *work; /* their bit patterns; a copy for selections */
    float *scratch;        /* n_selected values for the quantile */
    double quantile_scale; /* 1 / -ln(1 - q) */
    double alpha;          /* first-order smoothing per frame */
    double level;          /* tracked level, < 0 before the first frame */
};

dop_noise_floor_config dop_noise_floor_config_default(void)
{
    dop_noise_floor_config cfg = {.quantile = 0.25, .rise_time_s = 1.0, .frame_rate_hz = 0.0};
    return cfg;
}

dop_status dop_noise_floor_create(const dop_noise_floor_config *cfg, size_t bins, const uint8_t *mask,
                                  dop_noise_floor **out, dop_error *err)
{
    *out = NULL;
    if (!(cfg->quantile > 0.0 && cfg->quantile <= 0.5))
        return dop_error_set(err, DOP_ERR_INVALID_ARG, "noise quantile %g is not in (0, 0.5]", cfg->quantile);
    if (!(cfg->rise_time_s > 0.0) || !(cfg->frame_rate_hz > 0.0))
        return dop_error_set(err, DOP_ERR_INVALID_ARG, "noise floor: rise time and frame rate must be positive");
    dop_noise_floor *nf = calloc(1, sizeof *nf);
    if (!nf) return dop_error_set(err, DOP_ERR_NOMEM, "noise floor: out of memory");
    nf->cfg = *cfg;
    nf->selected = malloc(bins * sizeof *nf->selected);
    nf->scratch = malloc(bins * sizeof *nf->scratch);
    nf->values = malloc(bins * sizeof *nf->values);
    nf->keys = malloc(bins * sizeof *nf->keys);
    nf->work = malloc(bins * sizeof *nf->work);
    nf->run_start = malloc(bins * sizeof *nf->run_start);
    nf->run_length = malloc(bins * sizeof *nf->run_length);
    if (!nf->selected || !nf->scratch || !nf->values || !nf->keys || !nf->work || !nf->run_start || !nf->run_length) {
        dop_noise_floor_destroy(nf);
        return dop_error_set(err, DOP_ERR_NOMEM, "noise floor: out of memory");
    }
    for (size_t k = 0; k < bins; k++)
        if (!mask || mask[k]) nf->selected[nf->n_selected++] = k;
    if (nf->n_selected < 8) {
        size_t usable = nf->n_selected;
        dop_noise_floor_destroy(nf);
        return dop_error_set(err, DOP_ERR_INVALID_ARG, "noise floor: only %zu usable bins (need 8)", usable);
    }
    for (size_t i = 0; i < nf->n_selected; i++) {
        if (i == 0 || nf->selected[i] != nf->selected[i - 1] + 1) {
            nf->run_start[nf->n_runs] = nf->selected[i];
            nf->run_length[nf->n_runs++] = 0;
        }
        nf->run_length[nf->n_runs - 1]++;
    }
    nf->quantile_scale = 1.0 / -log1p(-cfg->quantile);
#if DOP_NF_AVX512
    nf->wide = dop_cpu_use_avx512();
#endif
    nf->alpha = 1.0 - exp(-1.0 / (cfg->rise_time_s * cfg->frame_rate_hz));
    nf->level = -1.0;
    *out = nf;
    return DOP_OK;
}

/* k-th smallest of a[0..n) (Hoare's quickselect; reorders a). */
static float select_kth(float *a, size_t n, size_t k)
{
    size_t lo = 0, hi = n - 1;
    while (lo < hi) {
        float pivot = a[lo + (hi - lo) / 2];
        size_t i = lo, j = hi;
        while (i <= j) {
            while (a[i] < pivot) i++;
            while (a[j] > pivot) j--;
            if (i <= j) {
                float t = a[i];
                a[i] = a[j];
                a[j] = t;
                i++;
                if (j == 0) break;
                j--;
            }
        }
        if (k <= j) hi = j;
        else if (k >= i) lo = i;
        else break;
    }
    return a[k];
}

/* Truncation point, in units of the noise level, and the mean of a
 * unit-mean exponential truncated there: E[x | x < T] = (1 - (T + 1) e^-T) / (1 - e^-T). */
#define TRUNCATE_AT 3.0
#define DEAD_BAND_RATIO 1e-5 /* -50 dB */
#define TRUNCATED_ITERATIONS 4

/* The estimator as specified, for any input (negative or NaN bins
 * included); the fast path below must give the same bits. */
static double frame_estimate_reference(dop_noise_floor *nf, const float *psd)
{
    for (size_t i = 0; i < nf->n_selected; i++) nf->scratch[i] = psd[nf->selected[i]];
    /* Bins far below the median carry no noise at all: a recording
     * band-limited before it was stored (resampled audio, an anti-alias
     * filter well below fs/2) has a dead band that would drag the estimate
     * far below the real noise. Keep bins within DEAD_BAND_DB of the median. */
    double median = select_kth(nf->scratch, nf->n_selected, nf->n_selected / 2);
    float alive = (float)(median * DEAD_BAND_RATIO);
    size_t n_alive = 0;
    for (size_t i = 0; i < nf->n_selected; i++)
        if (psd[nf->selected[i]] >= alive) nf->scratch[n_alive++] = psd[nf->selected[i]];
    if (n_alive < 8) return median; /* (almost) silent frame */
    size_t k = (size_t)(nf->cfg.quantile * (double)(n_alive - 1));
    double level = (double)select_kth(nf->scratch, n_alive, k) * nf->quantile_scale;
    /* Refine: the quantile alone reads high when flow fills a sizeable part
     * of the band. The mean of the bins below T x level, divided by the
     * truncated-exponential mean, converges on the noise level while bins
     * with strong flow stay excluded. */
    const double truncated_mean = (1.0 - (TRUNCATE_AT + 1.0) * exp(-TRUNCATE_AT)) / (1.0 - exp(-TRUNCATE_AT));
    for (int it = 0; it < TRUNCATED_ITERATIONS && level > 0.0; it++) {
        double limit = TRUNCATE_AT * level, sum = 0.0;
        size_t count = 0;
        for (size_t i = 0; i < nf->n_selected; i++) {
            double v = psd[nf->selected[i]];
            if (v < limit && v >= alive) {
                sum += v;
                count++;
            }
        }
        if (count < n_alive / 4) break;
        level = sum / (double)count / truncated_mean;
    }
    return level;
}

/* The smallest float >= limit: for a float x, x < limit exactly when
 * x < float_ceiling(limit), so the comparisons can run on floats. */
static float float_ceiling(double limit)
{
    float c = (float)limit;
    if ((double)c < limit) c = nextafterf(c, INFINITY);
    return c;
}

/* Sum and count of v[i] in [alive, limit) (alive <= 0: no lower bound),
 * four floats at a time (SSE2, which every x86-64 has; plain C elsewhere):
 * compared as floats, the bins left out masked to +0, the rest converted
 * to double and summed in lanes. Only called when the sum is exact in
 * double whatever the order (see below), so the lanes give the same bits
 * as a left-to-right sum. */
typedef struct truncated {
    double sum;
    size_t count;
    float largest_in, smallest_out; /* with no lower bound: max of the bins summed, min of the rest */
} truncated;

/* The scalar remainder [i, n) of a vectorised truncated_sum, and the
 * result: the same sums in the same order as the plain loop. */
static void truncated_finish(const float *v, size_t i, size_t n, float alive, double limit, double sum, size_t count,
                             float largest_in, float smallest_out, truncated *t)
{
    const double alive_d = alive;
    for (; i < n; i++) {
        double x = v[i];
        if (x < limit && x >= alive_d) {
            sum += x;
            count++;
            largest_in = v[i] > largest_in ? v[i] : largest_in;
        } else {
            smallest_out = v[i] < smallest_out ? v[i] : smallest_out;
        }
    }
    t->sum = sum;
    t->count = count;
    t->largest_in = largest_in;
    t->smallest_out = smallest_out;
}

static void truncated_sum(const float *v, size_t n, float alive, double limit, truncated *t)
{
    double sum = 0.0;
    size_t count = 0, i = 0;
    float largest_in = 0.0f, smallest_out = INFINITY;
#if defined(__SSE2__)
    const __m128 hi = _mm_set1_ps(float_ceiling(limit)), lo = _mm_set1_ps(alive);
    __m128d acc0 = _mm_setzero_pd(), acc1 = _mm_setzero_pd(), acc2 = acc0, acc3 = acc0;
    __m128i cnt = _mm_setzero_si128();
    const __m128 inf = _mm_set1_ps(INFINITY);
    __m128 max_in = _mm_setzero_ps(), min_out = inf;
    if (alive > 0.0f) {
        for (; i + 4 <= n; i += 4) {
            __m128 f = _mm_loadu_ps(v + i);
            __m128 in = _mm_and_ps(_mm_cmplt_ps(f, hi), _mm_cmpge_ps(f, lo));
            __m128 kept = _mm_and_ps(f, in);
            cnt = _mm_sub_epi32(cnt, _mm_castps_si128(in)); /* true is all ones = -1 */
            acc0 = _mm_add_pd(acc0, _mm_cvtps_pd(kept));
            acc1 = _mm_add_pd(acc1, _mm_cvtps_pd(_mm_movehl_ps(kept, kept)));
        }
    } else {
        for (; i + 8 <= n; i += 8) {
            __m128 f = _mm_loadu_ps(v + i), g = _mm_loadu_ps(v + i + 4);
            __m128 in_f = _mm_cmplt_ps(f, hi), in_g = _mm_cmplt_ps(g, hi);
            __m128 kept_f = _mm_and_ps(f, in_f), kept_g = _mm_and_ps(g, in_g);
            max_in = _mm_max_ps(max_in, _mm_max_ps(kept_f, kept_g)); /* bins >= 0: 0 is neutral */
            min_out = _mm_min_ps(min_out, _mm_min_ps(_mm_or_ps(_mm_and_ps(in_f, inf), _mm_andnot_ps(in_f, f)),
                                                     _mm_or_ps(_mm_and_ps(in_g, inf), _mm_andnot_ps(in_g, g))));
            cnt = _mm_sub_epi32(cnt, _mm_castps_si128(in_f));
            cnt = _mm_sub_epi32(cnt, _mm_castps_si128(in_g));
            acc0 = _mm_add_pd(acc0, _mm_cvtps_pd(kept_f));
            acc1 = _mm_add_pd(acc1, _mm_cvtps_pd(_mm_movehl_ps(kept_f, kept_f)));
            acc2 = _mm_add_pd(acc2, _mm_cvtps_pd(kept_g));
            acc3 = _mm_add_pd(acc3, _mm_cvtps_pd(_mm_movehl_ps(kept_g, kept_g)));
        }
    }
    double a[2], b[2];
    int c[4];
    _mm_storeu_pd(a, _mm_add_pd(acc0, acc2));
    _mm_storeu_pd(b, _mm_add_pd(acc1, acc3));
    _mm_storeu_si128((__m128i *)c, cnt);
    sum = (a[0] + a[1]) + (b[0] + b[1]);
    count = (size_t)c[0] + (size_t)c[1] + (size_t)c[2] + (size_t)c[3];
    float m[4];
    _mm_storeu_ps(m, max_in);
    for (int j = 0; j < 4; j++) largest_in = m[j] > largest_in ? m[j] : largest_in;
    _mm_storeu_ps(m, min_out);
    for (int j = 0; j < 4; j++) smallest_out = m[j] < smallest_out ? m[j] : smallest_out;
#endif
    truncated_finish(v, i, n, alive, limit, sum, count, largest_in, smallest_out, t);
}

/* Selections run on the bit patterns of the bins ("keys"): for floats >= 0
 * they order like the values. Radix selection keeps, digit after digit,
 * only the bucket that holds the wanted rank: first the exponent byte
 * (bits 23-30), then 4 mantissa bits at a time. Its passes have no
 * data-dependent branches, unlike quickselect, whose comparisons on noise
 * are mispredicted half the time. */

/* Exponent-byte histogram in four interleaved parts, so that runs of one
 * exponent do not wait on each other's increments: count = sum of the 4. */
typedef uint16_t exp_hist[256][4];

static inline size_t bucket_count(const exp_hist h, uint32_t b)
{
    return (size_t)h[b][0] + h[b][1] + h[b][2] + h[b][3];
}

#if DOP_NF_AVX512
/* truncated_sum with 16 floats a step: exact sums, so the same bits. */
__attribute__((target("avx512f"))) static void truncated_sum_avx512(const float *v, size_t n, float alive, double limit,
                                                                     truncated *t)
{
    const __m512 hi = _mm512_set1_ps(float_ceiling(limit)), lo = _mm512_set1_ps(alive);
    __m512d acc0 = _mm512_setzero_pd(), acc1 = _mm512_setzero_pd();
    __m512 max_in = _mm512_setzero_ps(), min_out = _mm512_set1_ps(INFINITY);
    size_t count = 0, i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512 f = _mm512_loadu_ps(v + i);
        __mmask16 in = _mm512_cmp_ps_mask(f, hi, _CMP_LT_OQ);
        if (alive > 0.0f) in &= _mm512_cmp_ps_mask(f, lo, _CMP_GE_OQ);
        count += (size_t)__builtin_popcount(in);
        __m512 kept = _mm512_maskz_mov_ps(in, f);
        max_in = _mm512_max_ps(max_in, kept); /* bins >= 0: 0 is neutral */
        min_out = _mm512_mask_min_ps(min_out, (__mmask16)~in, min_out, f);
        acc0 = _mm512_add_pd(acc0, _mm512_cvtps_pd(_mm512_castps512_ps256(kept)));
        acc1 = _mm512_add_pd(acc1, _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(kept), 1))));
    }
    double lanes[8];
    _mm512_storeu_pd(lanes, _mm512_add_pd(acc0, acc1));
    double sum = ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) + ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7]));
    float largest_in = _mm512_reduce_max_ps(max_in), smallest_out = _mm512_reduce_min_ps(min_out);
    truncated_finish(v, i, n, alive, limit, sum, count, largest_in, smallest_out, t);
}

/* keep_bucket with 16 keys a step (compress-store keeps their order). */
__attribute__((target("avx512f"))) static size_t keep_bucket_avx512(uint32_t *dst, const uint32_t *keys, size_t n,
                                                                     uint32_t b)
{
    const __m512i want = _mm512_set1_epi32((int)b);
    size_t kept = 0, i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512i k = _mm512_loadu_si512((const void *)(keys + i));
        __mmask16 in = _mm512_cmpeq_epi32_mask(_mm512_srli_epi32(k, 23), want);
        _mm512_mask_compressstoreu_epi32(dst + kept, in, k);
        kept += (size_t)__builtin_popcount(in);
    }
    for (; i < n; i++) {
        uint32_t x = keys[i];
        dst[kept] = x;
        kept += (x >> 23) == b;
    }
    return kept;
}
#endif

#if DOP_NF_AVX512
/* At most SMALL keys are selected from in registers (select_small_avx512). */
#define SMALL 64

/* Rank r (from 0) of m <= SMALL keys, by counting: with less_i the number
 * of keys below key i, the r-th smallest is the largest key i with
 * less_i <= r (every key up to it has at most r keys below; every key
 * above it has at least r + 1). The counts of 16 keys at a time grow in
 * one register per 16 keys, key j at a time: m x m / 16 comparisons and
 * no branch on the data (radix levels and insertion sort mispredict on
 * noise). Unused lanes hold UINT32_MAX and are never counted or chosen. */
__attribute__((target("avx512f"), always_inline)) static inline uint32_t select_in_regs(const uint32_t *keys, size_t m,
                                                                                      size_t r, const size_t regs)
{
    const __m512i one = _mm512_set1_epi32(1), rank = _mm512_set1_epi32((int)r);
    __m512i key[SMALL / 16], less[SMALL / 16];
    __mmask16 live[SMALL / 16];
    for (size_t v = 0; v < regs; v++) {
        size_t left = m - 16 * v;
        live[v] = left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1);
        key[v] = _mm512_mask_loadu_epi32(_mm512_set1_epi32(-1), live[v], keys + 16 * v);
        less[v] = _mm512_setzero_si512();
    }
    for (size_t j = 0; j < m; j++) {
        const __m512i kj = _mm512_set1_epi32((int)keys[j]);
        for (size_t v = 0; v < regs; v++)
            less[v] = _mm512_mask_add_epi32(less[v], _mm512_cmplt_epu32_mask(kj, key[v]), less[v], one);
    }
    __m512i best = _mm512_setzero_si512();
    for (size_t v = 0; v < regs; v++) {
        __mmask16 chosen = live[v] & _mm512_cmple_epu32_mask(less[v], rank);
        best = _mm512_mask_max_epu32(best, chosen, best, key[v]);
    }
    return _mm512_reduce_max_epu32(best);
}

/* One copy per register count, so that the registers stay registers. */
__attribute__((target("avx512f"))) static uint32_t select_small_avx512(const uint32_t *keys, size_t m, size_t r)
{
    switch ((m + 15) / 16) {
    case 1: return select_in_regs(keys, m, r, 1);
    case 2: return select_in_regs(keys, m, r, 2);
    case 3: return select_in_regs(keys, m, r, 3);
    default: return select_in_regs(keys, m, r, SMALL / 16);
    }
}
#endif

/* Levels below the exponent: keys all share their exponent byte; rank r
 * among them, 4 bits at a time from bit 19 until at most 16 are left, then
 * insertion sort (with AVX-512: until at most SMALL are left, then
 * select_small_avx512; the same key either way). */
static uint32_t radix_select_mantissa(uint32_t *keys, size_t m, size_t r, int wide)
{
    uint32_t hist[16];
    int shift = 19;
#if DOP_NF_AVX512
    const size_t few = wide ? SMALL : 16;
#else
    const size_t few = 16;
#endif
    while (m > few) {
        memset(hist, 0, sizeof hist);
        for (size_t i = 0; i < m; i++) hist[(keys[i] >> shift) & 0xF]++;
        size_t below = 0;
        uint32_t b = 0;
        while (below + hist[b] <= r) below += hist[b++];
        size_t kept = 0;
        for (size_t i = 0; i < m; i++) {
            uint32_t x = keys[i];
            keys[kept] = x;
            kept += ((x >> shift) & 0xF) == b;
        }
        m = kept;
        r -= below;
        if (shift == 0) break;
        shift = shift >= 4 ? shift - 4 : 0;
    }
#if DOP_NF_AVX512
    if (wide && m <= SMALL) return select_small_avx512(keys, m, r);
#endif
    /* a few left (or all equal): insertion sort */
    for (size_t i = 1; i < m; i++)
        for (size_t j = i; j > 0 && keys[j - 1] > keys[j]; j--) {
            uint32_t t = keys[j];
            keys[j] = keys[j - 1];
            keys[j - 1] = t;
        }
    return keys[r];
}

/* Keep the keys of exponent bucket b (in order); returns how many. */
static size_t keep_bucket(uint32_t *dst, const uint32_t *keys, size_t n, uint32_t b)
{
    size_t kept = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t x = keys[i];
        dst[kept] = x;
        kept += (x >> 23) == b;
    }
    return kept;
}

/* Rank r (from 0) of the m keys, given their exponent histogram and its
 * lowest non-empty bucket. Overwrites keys. */
static uint32_t radix_select(uint32_t *keys, size_t m, size_t r, const exp_hist top, uint32_t top_first, int wide)
{
    size_t below = 0;
    uint32_t b = top_first;
    while (below + bucket_count(top, b) <= r) below += bucket_count(top, b++);
    m = keep_bucket(keys, keys, m, b);
    return radix_select_mantissa(keys, m, r - below, wide);
}

static float key_value(uint32_t key)
{
    float x;
    memcpy(&x, &key, sizeof x);
    return x;
}

/* The iterated truncated mean from the quantile's level over the bins in
 * [alive, limit) (alive 0: all; every bin summed is >= sum_floor). The
 * bins are floats >= sum_floor, so every partial sum is a whole multiple of
 * ulp(sum_floor) and exact in double while n x limit <= 2^53 ulp(sum_floor):
 * then the order of the additions does not matter and they run in lanes
 * (checked per iteration; otherwise left to right, as the reference). The
 * iteration stops at its fixed point: the same bins in give the same level
 * out, forever; and when no bin lies between the last limit and the next,
 * the next pass would take the same bins, so it is not made. */
static double refine(dop_noise_floor *nf, double level, size_t n_alive, float alive_f, float sum_floor)
{
    const size_t n = nf->n_selected;
    const float *v = nf->values;
    const double truncated_mean = (1.0 - (TRUNCATE_AT + 1.0) * exp(-TRUNCATE_AT)) / (1.0 - exp(-TRUNCATE_AT));
    int e2;
    frexpf(sum_floor, &e2);
    const double ulp_floor = sum_floor >= FLT_MIN ? ldexp(1.0, e2 - 24) : 0.0;
    double last_sum = -1.0;
    size_t last_count = 0;
    int have_gap = 0;                /* the last pass's included bins are known to lie below */
    float below = 0.0f, above = 0.0f; /* largest bin summed, smallest bin left out */
    for (int it = 0; it < TRUNCATED_ITERATIONS && level > 0.0; it++) {
        double limit = TRUNCATE_AT * level, sum = 0.0;
        size_t count = 0;
        /* No bin between the last limit and this one: the same bins, the
         * same sum and count, so the fixed point (below) is reached. */
        if (have_gap && (double)below < limit && (double)above >= limit) break;
        have_gap = 0;
        if ((double)n * limit <= 0x1p53 * ulp_floor) {
            truncated t;
#if DOP_NF_AVX512
            if (nf->wide) truncated_sum_avx512(v, n, alive_f, limit, &t);
            else
#endif
                truncated_sum(v, n, alive_f, limit, &t);
            sum = t.sum;
            count = t.count;
            have_gap = alive_f <= 0.0f;
            below = t.largest_in;
            above = t.smallest_out;
        } else {
            const double alive_d = alive_f;
            for (size_t i = 0; i < n; i++) {
                double x = v[i];
                if (x < limit && x >= alive_d) {
                    sum += x;
                    count++;
                }
            }
        }
        if (count < n_alive / 4) break;
        if (sum == last_sum && count == last_count) break; /* fixed point: the level would not change */
        last_sum = sum;
        last_count = count;
        level = sum / (double)count / truncated_mean;
    }
    return level;
}

#if DOP_NF_AVX512
/* The counting pass of guessed_quantile over whole 16-key steps; returns
 * how many keys it took (the rest is counted by the caller). */
__attribute__((target("avx512f"))) static size_t count_edges_avx512(const uint32_t *keys, size_t n, uint32_t g,
                                                                     const int *offset, int edges, size_t *below,
                                                                     int32_t *smin, int32_t *smax)
{
    __m512i mn = _mm512_set1_epi32(INT32_MAX), mx = _mm512_set1_epi32(INT32_MIN);
    __m512i edge[8];
    for (int e = 0; e < edges; e++) edge[e] = _mm512_set1_epi32((int)((g + (uint32_t)offset[e]) << 23));
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512i k = _mm512_loadu_si512((const void *)(keys + i));
        for (int e = 0; e < edges; e++) below[e] += (size_t)__builtin_popcount(_mm512_cmplt_epi32_mask(k, edge[e]));
        mn = _mm512_min_epi32(mn, k);
        mx = _mm512_max_epi32(mx, k);
    }
    int32_t a = _mm512_reduce_min_epi32(mn), b = _mm512_reduce_max_epi32(mx);
    *smin = a < *smin ? a : *smin;
    *smax = b > *smax ? b : *smax;
    return i;
}
#endif

#if defined(__SSE2__)
/* The common case without the exponent histogram: when this frame's
 * quantile lies in the exponent bucket g of the last frame's quantile or
 * one next to it. One SSE2 pass over the bit patterns (valid ones are below
 * 2^31, so signed comparisons order them) counts the bins below buckets
 * g - 1, g, g + 1, g + 2 and g + 4 (if that last count is more than half of
 * the bins, the median is below 2^(g+4-127), which bounds the dead-bin
 * level), and finds the smallest and largest pattern. Returns 0 when the
 * case does not apply (the general path then decides, with the same
 * result). */
static int guessed_quantile(dop_noise_floor *nf, double *level)
{
    enum { EDGES = 5 };
    const size_t n = nf->n_selected;
    const uint32_t *keys = nf->keys;
    const uint32_t g = nf->guess_bucket;
    if (g < 2 || g + 4 > 254) return 0;
    static const int offset[EDGES] = {-1, 0, 1, 2, 4};
    __m128i edge[EDGES], count[EDGES];
    for (int e = 0; e < EDGES; e++) {
        edge[e] = _mm_set1_epi32((int)((g + (uint32_t)offset[e]) << 23));
        count[e] = _mm_setzero_si128();
    }
    __m128i mn = _mm_set1_epi32(INT32_MAX), mx = _mm_set1_epi32(INT32_MIN);
    size_t i = 0;
    size_t below[EDGES] = {0};
    int32_t smin = INT32_MAX, smax = INT32_MIN;
#if DOP_NF_AVX512
    if (nf->wide) i = count_edges_avx512(keys, n, g, offset, EDGES, below, &smin, &smax);
#endif
    for (; i + 4 <= n; i += 4) {
        __m128i k = _mm_loadu_si128((const __m128i *)(keys + i));
        for (int e = 0; e < EDGES; e++) count[e] = _mm_sub_epi32(count[e], _mm_cmplt_epi32(k, edge[e])); /* true is -1 */
        __m128i less = _mm_cmplt_epi32(k, mn), more = _mm_cmpgt_epi32(k, mx);
        mn = _mm_or_si128(_mm_and_si128(less, k), _mm_andnot_si128(less, mn));
        mx = _mm_or_si128(_mm_and_si128(more, k), _mm_andnot_si128(more, mx));
    }
    int32_t lanes[4];
    for (int e = 0; e < EDGES; e++) {
        _mm_storeu_si128((__m128i *)lanes, count[e]);
        below[e] += (size_t)lanes[0] + (size_t)lanes[1] + (size_t)lanes[2] + (size_t)lanes[3];
    }
    _mm_storeu_si128((__m128i *)lanes, mn);
    for (int j = 0; j < 4; j++) smin = lanes[j] < smin ? lanes[j] : smin;
    _mm_storeu_si128((__m128i *)lanes, mx);
    for (int j = 0; j < 4; j++) smax = lanes[j] > smax ? lanes[j] : smax;
    for (; i < n; i++) {
        int32_t k = (int32_t)keys[i];
        for (int e = 0; e < EDGES; e++) below[e] += k < (int32_t)((g + (uint32_t)offset[e]) << 23);
        smin = k < smin ? k : smin;
        smax = k > smax ? k : smax;
    }
    if (smin < 0 || smax >= 0x7F800000) return 0; /* negative, infinite or NaN bins */
    if (!(below[4] > n / 2)) return 0;           /* the median is not known to be that low */
    const float alive_bound = (float)(ldexp(1.0, (int)g + 4 - 127) * DEAD_BAND_RATIO);
    const float min_value = key_value((uint32_t)smin);
    if (!(min_value >= alive_bound)) return 0;   /* there may be dead bins */
    const size_t rank = (size_t)(nf->cfg.quantile * (double)(n - 1));
    int e = 0;
    while (e < 3 && !(rank >= below[e] && rank < below[e + 1])) e++;
    if (e == 3) return 0; /* not in buckets g - 1 .. g + 1 */
    const uint32_t bucket = g + (uint32_t)offset[e];
#if DOP_NF_AVX512
    size_t m = nf->wide ? keep_bucket_avx512(nf->work, keys, n, bucket) : keep_bucket(nf->work, keys, n, bucket);
#else
    size_t m = keep_bucket(nf->work, keys, n, bucket);
#endif
    uint32_t q_key = radix_select_mantissa(nf->work, m, rank - below[e], nf->wide);
    nf->guess_bucket = bucket;
    *level = refine(nf, (double)key_value(q_key) * nf->quantile_scale, n, 0.0f, min_value);
    return 1;
}
#endif

/* The reference estimate, bit for bit, with less work:
 *  - the bins are copied once, run by run, into a contiguous array;
 *  - the median only decides which bins are "dead" (below median x 1e-5).
 *    An upper bound of the median does as well when the smallest bin is
 *    above the dead level it implies: then every bin is alive and only the
 *    quantile is selected (a second selection otherwise);
 *  - selections are radix selections (above); guessed_quantile() usually
 *    finds the quantile's exponent bucket without a histogram; with
 *    AVX-512 the last few dozen keys are ranked by counting in registers;
 *  - the truncated sums run in lanes when they are exact (refine()).
 * Negative, infinite or NaN bins take the reference path. */
double dop_noise_floor_frame_estimate(dop_noise_floor *nf, const float *psd)
{
    const size_t n = nf->n_selected;
    float *v = nf->values;
    uint32_t *keys = nf->keys, *work = nf->work;
    size_t at = 0;
    for (size_t k = 0; k < nf->n_runs; k++) {
        memcpy(v + at, psd + nf->run_start[k], nf->run_length[k] * sizeof *v);
        at += nf->run_length[k];
    }
    memcpy(keys, v, n * sizeof *keys);
#if defined(__SSE2__)
    {
        double level;
        if (guessed_quantile(nf, &level)) return level;
    }
#endif
    /* The exponent histogram and the smallest and largest keys (unsigned: a
     * set sign bit is larger than any positive float). */
    exp_hist top;
    memset(top, 0, sizeof top);
    uint32_t min_key = UINT32_MAX, max_key = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t key = keys[i];
        min_key = key < min_key ? key : min_key;
        max_key = key > max_key ? key : max_key;
        top[(key >> 23) & 0xFF][i & 3]++;
    }
    if (max_key >= 0x7F800000u) return frame_estimate_reference(nf, psd); /* negative, infinite, NaN */
    const uint32_t first = min_key >> 23;

    const size_t half = n / 2;
    uint32_t median_bucket = first;
    for (size_t below = 0; below + bucket_count(top, median_bucket) <= half; median_bucket++)
        below += bucket_count(top, median_bucket);
    /* median < 2^(bucket - 126) (the bucket's upper edge); rounding is monotonic. */
    const float alive_bound = (float)(ldexp(1.0, (int)median_bucket - 126) * DEAD_BAND_RATIO);
    const float min_value = key_value(min_key);
    size_t n_alive = n, rank;
    float alive_f;    /* lower bound of the bins summed (0: none) */
    float sum_floor;  /* the smallest value that can be summed */
    if (min_value >= alive_bound) {
        /* Every bin is alive: the quantile directly. */
        rank = (size_t)(nf->cfg.quantile * (double)(n - 1));
        alive_f = 0.0f;
        sum_floor = min_value;
    } else {
        memcpy(work, keys, n * sizeof *work);
        const float median = key_value(radix_select(work, n, half, top, first, nf->wide));
        const float alive = (float)((double)median * DEAD_BAND_RATIO);
        n_alive = 0;
        for (size_t i = 0; i < n; i++) n_alive += v[i] >= alive;
        if (n_alive < 8) return median; /* (almost) silent frame */
        /* The dead bins are the smallest ones: the quantile of the alive
         * bins is rank k + (n - n_alive) among all. */
        rank = (size_t)(nf->cfg.quantile * (double)(n_alive - 1)) + (n - n_alive);
        alive_f = alive;
        sum_floor = alive;
    }
    memcpy(work, keys, n * sizeof *work);
    const uint32_t q_key = radix_select(work, n, rank, top, first, nf->wide);
    nf->guess_bucket = q_key >> 23;
    return refine(nf, (double)key_value(q_key) * nf->quantile_scale, n_alive, alive_f, sum_floor);
}

double dop_noise_floor_push_estimate(dop_noise_floor *nf, double estimate)
{
    if (nf->level < 0.0) nf->level = estimate;
    else nf->level += nf->alpha * (estimate - nf->level);
    return nf->level;
}

double dop_noise_floor_push(dop_noise_floor *nf, const float *psd)
{
    return dop_noise_floor_push_estimate(nf, dop_noise_floor_frame_estimate(nf, psd));
}

double dop_noise_floor_level(const dop_noise_floor *nf) { return nf->level; }

void dop_noise_floor_reset(dop_noise_floor *nf) { nf->level = -1.0; }

void dop_noise_floor_destroy(dop_noise_floor *nf)
{
    if (!nf) return;
    free(nf->selected);
    free(nf->scratch);
    free(nf->values);
    free(nf->keys);
    free(nf->work);
    free(nf->run_start);
    free(nf->run_length);
    free(nf);
}

/* The inner loops of the beat path (see beat_path.h). */
#include "beat_path.h"

#include <string.h>
#include "core/cpu.h"
#ifdef __SSE2__
#include <emmintrin.h>
#endif
#if DOP_HAVE_AVX512_PATHS
#include <immintrin.h>
#endif

/* Two doubles in a vector register (GCC/Clang vector extension; SSE2 on x86-64). */
typedef double v2d __attribute__((vector_size(16)));

static v2d load2(const double *p)
{
    v2d v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* The match of one position j, in order of i. */
static double match_one(const double *line, size_t j, const double *cycle, size_t len)
{
    double m = 0.0;
    for (size_t i = 0; i < len; i++) m += cycle[i] * line[j + i];
    return m;
}

/* Four positions at a time: lane k of the pair (lo, hi) sums position j + k
 * in order of i, as match_one does (products and sums rounded one by one:
 * no fused multiply-add on plain x86-64). */
void dop_beat_match(const double *line, size_t count, const double *cycle, size_t len, double gain, double *out)
{
    size_t j = 0;
    for (; j + 4 <= count; j += 4) {
        v2d lo = {0.0, 0.0}, hi = {0.0, 0.0};
        for (size_t i = 0; i < len; i++) {
            const v2d c = {cycle[i], cycle[i]};
            lo += c * load2(line + j + i);
            hi += c * load2(line + j + i + 2);
        }
        out[j] = lo[0] * gain;
        out[j + 1] = lo[1] * gain;
        out[j + 2] = hi[0] * gain;
        out[j + 3] = hi[1] * gain;
    }
    for (; j < count; j++) out[j] = match_one(line, j, cycle, len) * gain;
}

/* The largest of s[-d] - penalty[d] over d in [dlo, dhi] and 0 (a value
 * that is NaN is never the largest). SSE2: two intervals per step in the
 * two lanes of a maximum, which keeps the lane's value when the new one is
 * not greater (or NaN). */
#if DOP_HAVE_AVX512_PATHS
/* The same with four intervals per step (AVX): d .. d + 3 reversed to meet
 * s[-d - 3] .. s[-d]; *d_io is where it stopped. */
__attribute__((target("avx"))) static double largest_gain_avx(const double *s, const double *penalty, int64_t *d_io,
                                                               int64_t dhi)
{
    __m256d best = _mm256_setzero_pd();
    int64_t d = *d_io;
    for (; d + 3 <= dhi; d += 4) {
        const __m256d p = _mm256_loadu_pd(penalty + d);                         /* d .. d + 3 */
        const __m256d r = _mm256_permute_pd(_mm256_permute2f128_pd(p, p, 1), 5); /* d + 3 .. d */
        best = _mm256_max_pd(_mm256_sub_pd(_mm256_loadu_pd(s - d - 3), r), best);
    }
    double lane[4];
    _mm256_storeu_pd(lane, best);
    double top = 0.0;
    for (int k = 0; k < 4; k++)
        if (lane[k] > top) top = lane[k];
    *d_io = d;
    return top;
}

/* Eight intervals per step (AVX-512): d .. d + 7 reversed to meet
 * s[-d - 7] .. s[-d]. */
static const int64_t reversed8[8] = {7, 6, 5, 4, 3, 2, 1, 0};

__attribute__((target("avx512f"))) static __m512d gains8(const double *s, const double *penalty, int64_t d)
{
    const __m512d p = _mm512_permutexvar_pd(_mm512_loadu_si512(reversed8), _mm512_loadu_pd(penalty + d));
    return _mm512_sub_pd(_mm512_loadu_pd(s - d - 7), p); /* lane i: interval d + 7 - i */
}

__attribute__((target("avx512f"))) static double largest_gain_avx512(const double *s, const double *penalty,
                                                                      int64_t *d_io, int64_t dhi)
{
    __m512d best = _mm512_setzero_pd();
    int64_t d = *d_io;
    for (; d + 7 <= dhi; d += 8) best = _mm512_max_pd(gains8(s, penalty, d), best);
    double lane[8];
    _mm512_storeu_pd(lane, best);
    double top = 0.0;
    for (int k = 0; k < 8; k++)
        if (lane[k] > top) top = lane[k];
    *d_io = d;
    return top;
}

/* The first interval from *d_io on whose gain equals top, eight at a time
 * (the same subtraction, so the same bits); -1 when none of the whole
 * steps has it, *d_io then where the steps stopped. */
__attribute__((target("avx512f"))) static int64_t first_reaching_avx512(const double *s, const double *penalty,
                                                                         int64_t *d_io, int64_t dhi, double top)
{
    const __m512d t = _mm512_set1_pd(top);
    int64_t d = *d_io;
    for (; d + 7 <= dhi; d += 8) {
        const unsigned mask = _mm512_cmp_pd_mask(gains8(s, penalty, d), t, _CMP_EQ_OQ);
        if (mask) return d + 7 - (31 - __builtin_clz(mask)); /* the highest lane: the smallest interval */
    }
    *d_io = d;
    return -1;
}
#endif

static double largest_gain(const double *s, const double *penalty, int64_t dlo, int64_t dhi, int level)
{
    double top = 0.0;
    int64_t d = dlo;
#if DOP_HAVE_AVX512_PATHS
    if (level >= 2) top = largest_gain_avx512(s, penalty, &d, dhi);
    if (level >= 1) {
        const double rest = largest_gain_avx(s, penalty, &d, dhi);
        if (rest > top) top = rest;
    }
#else
    (void)level;
#endif
#ifdef __SSE2__
    __m128d best = _mm_setzero_pd();
    for (; d + 1 <= dhi; d += 2) {
        const __m128d p = _mm_loadu_pd(penalty + d); /* d, d + 1 */
        const __m128d v = _mm_sub_pd(_mm_loadu_pd(s - d - 1), _mm_shuffle_pd(p, p, 1));
        best = _mm_max_pd(v, best);
    }
    const double lane[2] = {_mm_cvtsd_f64(best), _mm_cvtsd_f64(_mm_unpackhi_pd(best, best))};
    if (lane[0] > top) top = lane[0];
    if (lane[1] > top) top = lane[1];
#endif
    for (; d <= dhi; d++) {
        const double v = s[-d] - penalty[d];
        if (v > top) top = v;
    }
    return top;
}

/* The largest value first, then the first interval that reaches it: the
 * interval that a plain loop in increasing d, replacing its best only by a
 * strictly greater value, ends with. */
double dop_beat_best_predecessor_at(const double *scores, int64_t t, const double *penalty, int64_t dlo, int64_t dhi,
                                    int level, int64_t *best_d)
{
    const double *s = scores + t;
    const double top = largest_gain(s, penalty, dlo, dhi, level);
    *best_d = 0;
    if (!(top > 0.0)) return 0.0;
    int64_t d = dlo;
#if DOP_HAVE_AVX512_PATHS
    if (level >= 2) {
        const int64_t found = first_reaching_avx512(s, penalty, &d, dhi, top);
        if (found >= 0) {
            *best_d = found;
            return top;
        }
    }
#endif
    for (; d <= dhi; d++)
        if (s[-d] - penalty[d] == top) {
            *best_d = d;
            break;
        }
    return top;
}

double dop_beat_best_predecessor(const double *scores, int64_t t, const double *penalty, int64_t dlo, int64_t dhi,
                                 int avx, int64_t *best_d)
{
    int level = avx ? 1 : 0;
#if DOP_HAVE_AVX512_PATHS
    if (avx && __builtin_cpu_supports("avx512f")) level = 2;
#endif
    return dop_beat_best_predecessor_at(scores, t, penalty, dlo, dhi, level, best_d);
}

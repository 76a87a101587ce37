/* The inner loops of the beat path (beats.c): the cycle template's match
 * at each frame and the best predecessor of a beat, on contiguous arrays.
 * Each gives the same bits as the plain loop it replaced (the same sums in
 * the same order; vector lanes hold different frames, never parts of one
 * sum). Internal to the library; none can fail. */
#ifndef DOPFLOW_BEAT_PATH_H
#define DOPFLOW_BEAT_PATH_H

#include <stddef.h>
#include <stdint.h>

/* out[j] = (sum over i = 0 .. len-1 of cycle[i] line[j + i], added in order
 * of i) x gain, for j in [0, count): line holds count + len - 1 values. */
void dop_beat_match(const double *line, size_t count, const double *cycle, size_t len, double gain, double *out);

/* The best predecessor of a beat whose frame has score array index `t`:
 * the first interval d in [dlo, dhi] (frames) with the largest
 * scores[t - d] - penalty[d] above 0. Returns that value (0 when none)
 * and sets *best_d to d (0 when none). avx: search with AVX
 * (dop_cpu_use_avx), or AVX-512 where the processor has it; the same result. */
double dop_beat_best_predecessor(const double *scores, int64_t t, const double *penalty, int64_t dlo, int64_t dhi,
                                 int avx, int64_t *best_d);

/* The same with the vector width chosen (for the tests): level 0 SSE2,
 * 1 AVX, 2 AVX-512 (the caller checks the processor). */
double dop_beat_best_predecessor_at(const double *scores, int64_t t, const double *penalty, int64_t dlo, int64_t dhi,
                                    int level, int64_t *best_d);

#endif

/* The inner loops of the beat path (see beat_path.h). */
#include "beat_path.h"

#include <string.h>

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

double dop_beat_best_predecessor(const double *scores, int64_t t, const double *penalty, int64_t dlo, int64_t dhi,
                                 int64_t *best_d)
{
    double best = 0.0;
    int64_t at = 0;
    const double *s = scores + t;
    for (int64_t d = dlo; d <= dhi; d++) {
        const double v = s[-d] - penalty[d];
        if (v > best) {
            best = v;
            at = d;
        }
    }
    *best_d = at;
    return best;
}

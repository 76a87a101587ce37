/* Stage 1: wall (clutter) filter — Butterworth high-pass, bilinear transform.
 *
 * Design: the analog Butterworth low-pass prototype has pole pairs with
 * damping zeta_k = sin(pi (2k + 1) / (2N)). Mapping s -> 1/s gives the
 * high-pass section s^2 / (s^2 + 2 zeta s + 1); the bilinear transform with
 * the pre-warped cutoff K = tan(pi fc / fs) gives the digital biquad
 *     b = [1, -2, 1] / a0,  a1 = 2 (K^2 - 1) / a0,  a2 = (1 - 2 zeta K + K^2) / a0,
 *     a0 = 1 + 2 zeta K + K^2
 * and, for odd N, one first-order section (1 - z^-1) / ((1 + K) + (K - 1) z^-1).
 * The magnitude is then exactly |H(f)|^2 = 1 / (1 + (K / tan(pi f / fs))^(2N))
 * (Oppenheim & Schafer, Discrete-Time Signal Processing, 3rd ed., 7.1.2).
 * Sections run in transposed direct form II with double-precision state.
 *
 * Speed: run sample after sample, a recursive section waits on its own
 * last output (a multiply and three additions in a row: 3.4 ns a sample for
 * order 4 on the benchmark machine), which is most of the filter's time. So the stream is cut into chunks
 * of CHUNK samples at fixed positions (multiples of CHUNK from the first
 * sample). Each chunk is filtered from a zero state (zero-state output and
 * end state e); the true state at each chunk's start follows chunk to
 * chunk, S' = A^CHUNK S + e (A the section's state matrix); and the state's
 * response C A^j S is added at the chunk's sample j. This is the same
 * linear filter (superposition); its rounding differs from the sample-by-
 * sample recursion at the 1e-16 level, far below the float output's 6e-8.
 * With AVX-512 (checked at run time), GROUP_CHUNKS chunks are filtered side
 * by side, eight doubles to a register; elsewhere, or for the samples of a
 * push that do not fill a group, one sample at a time, by the same
 * operations in the same order: the same bits on every machine and for any
 * split of the pushes. */
#include "dopflow/wall_filter.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "core/cpu.h"
#define DOP_WALL_AVX512 DOP_HAVE_AVX512_PATHS
#if DOP_WALL_AVX512
#include <immintrin.h>
#endif

#define MAX_SECTIONS 6
#define CHUNK 64                          /* samples per chunk */
#define GROUP_CHUNKS 16                   /* chunks filtered side by side (AVX-512) */
#define GROUP (CHUNK * GROUP_CHUNKS)

typedef struct biquad {
    double b0, b1, b2, a1, a2;
} biquad;

/* Per section, [0] = I and [1] = Q. */
typedef struct chunk_state {
    double s0[2], s1[2];                  /* true state (z0, z1) at the current chunk's start */
    double z0[2], z1[2];                  /* zero-state recursion inside the chunk */
} chunk_state;

struct dop_wall_filter {
    dop_wall_filter_config cfg;
    int sections;
    double k;                             /* tan(pi fc / fs) */
    biquad sos[MAX_SECTIONS];
    double reach[MAX_SECTIONS][CHUNK][2]; /* C A^j: output at chunk sample j of a unit state z0, z1 */
    double jump[MAX_SECTIONS][2][2];      /* A^CHUNK */
    chunk_state cs[MAX_SECTIONS];
    size_t at;                            /* position in the current chunk */
    int wide;                             /* the AVX-512 path is usable */
    double *group;                        /* GROUP (I, Q) pairs, transposed: [j][chunk] */
};

dop_wall_filter_config dop_wall_filter_config_default(void)
{
    dop_wall_filter_config cfg = {.fs_hz = 0.0, .cutoff_hz = 50.0, .order = 4};
    return cfg;
}

dop_status dop_wall_filter_create(const dop_wall_filter_config *cfg, dop_wall_filter **out, dop_error *err)
{
    *out = NULL;
    if (!(cfg->fs_hz > 0.0) || !isfinite(cfg->fs_hz))
        return dop_error_set(err, DOP_ERR_INVALID_ARG, "wall filter: sample rate %g Hz is not positive", cfg->fs_hz);
    if (!(cfg->cutoff_hz >= 0.0) || cfg->cutoff_hz >= cfg->fs_hz / 2.0)
        return dop_error_set(err, DOP_ERR_INVALID_ARG, "wall cutoff %g Hz is not in [0, fs/2 = %g Hz)",
                             cfg->cutoff_hz, cfg->fs_hz / 2.0);
    if (cfg->order < 1 || cfg->order > 2 * MAX_SECTIONS)
        return dop_error_set(err, DOP_ERR_INVALID_ARG, "wall filter order %d is not in 1..%d", cfg->order,
                             2 * MAX_SECTIONS);
    dop_wall_filter *wf = calloc(1, sizeof *wf);
    if (!wf) return dop_error_set(err, DOP_ERR_NOMEM, "wall filter: out of memory");
    wf->cfg = *cfg;
    if (cfg->cutoff_hz > 0.0) {
        const int n = cfg->order;
        const double k = tan(M_PI * cfg->cutoff_hz / cfg->fs_hz);
        wf->k = k;
        for (int i = 0; i < n / 2; i++) {
            double zeta = sin(M_PI * (2 * i + 1) / (2.0 * n));
            double a0 = 1.0 + 2.0 * zeta * k + k * k;
            biquad *s = &wf->sos[wf->sections++];
            s->b0 = 1.0 / a0;
            s->b1 = -2.0 / a0;
            s->b2 = 1.0 / a0;
            s->a1 = 2.0 * (k * k - 1.0) / a0;
            s->a2 = (1.0 - 2.0 * zeta * k + k * k) / a0;
        }
        if (n % 2) {
            biquad *s = &wf->sos[wf->sections++];
            s->b0 = 1.0 / (1.0 + k);
            s->b1 = -1.0 / (1.0 + k);
            s->b2 = 0.0;
            s->a1 = (k - 1.0) / (1.0 + k);
            s->a2 = 0.0;
        }
    }
    for (int sec = 0; sec < wf->sections; sec++) {
        /* State (z0, z1) with no input: y = z0, z0' = -a1 z0 + z1,
         * z1' = -a2 z0: A = [[-a1, 1], [-a2, 0]], C = [1, 0]. */
        const double a1 = wf->sos[sec].a1, a2 = wf->sos[sec].a2;
        double g0 = 1.0, g1 = 0.0;                          /* C A^j */
        double m00 = 1.0, m01 = 0.0, m10 = 0.0, m11 = 1.0; /* A^j */
        for (int j = 0; j < CHUNK; j++) {
            wf->reach[sec][j][0] = g0;
            wf->reach[sec][j][1] = g1;
            double h0 = -a1 * g0 - a2 * g1, h1 = g0;
            g0 = h0, g1 = h1;
            double n00 = -a1 * m00 + m10, n01 = -a1 * m01 + m11, n10 = -a2 * m00, n11 = -a2 * m01;
            m00 = n00, m01 = n01, m10 = n10, m11 = n11;
        }
        wf->jump[sec][0][0] = m00;
        wf->jump[sec][0][1] = m01;
        wf->jump[sec][1][0] = m10;
        wf->jump[sec][1][1] = m11;
    }
#if DOP_WALL_AVX512
    if (wf->sections > 0 && dop_cpu_use_avx512()) {
        wf->group = aligned_alloc(64, GROUP * 2 * sizeof *wf->group);
        if (!wf->group) {
            free(wf);
            return dop_error_set(err, DOP_ERR_NOMEM, "wall filter: out of memory");
        }
        wf->wide = 1;
    }
#endif
    dop_wall_filter_reset(wf);
    *out = wf;
    return DOP_OK;
}

/* One sample through every section, chunk arithmetic (see the top). */
static void push_sample(dop_wall_filter *wf, const float *in, float *out)
{
    double x[2] = {in[0], in[1]};
    const size_t j = wf->at;
    for (int sec = 0; sec < wf->sections; sec++) {
        const biquad *q = &wf->sos[sec];
        chunk_state *c = &wf->cs[sec];
        const double g0 = wf->reach[sec][j][0], g1 = wf->reach[sec][j][1];
        for (int ch = 0; ch < 2; ch++) {
            double y = q->b0 * x[ch] + c->z0[ch];
            c->z0[ch] = q->b1 * x[ch] - q->a1 * y + c->z1[ch];
            c->z1[ch] = q->b2 * x[ch] - q->a2 * y;
            x[ch] = y + (g0 * c->s0[ch] + g1 * c->s1[ch]);
        }
    }
    out[0] = (float)x[0];
    out[1] = (float)x[1];
    if (++wf->at == CHUNK) { /* the next chunk's true state: A^CHUNK S + e */
        for (int sec = 0; sec < wf->sections; sec++) {
            chunk_state *c = &wf->cs[sec];
            const double (*m)[2] = wf->jump[sec];
            for (int ch = 0; ch < 2; ch++) {
                double n0 = (m[0][0] * c->s0[ch] + m[0][1] * c->s1[ch]) + c->z0[ch];
                double n1 = (m[1][0] * c->s0[ch] + m[1][1] * c->s1[ch]) + c->z1[ch];
                c->s0[ch] = n0;
                c->s1[ch] = n1;
                c->z0[ch] = c->z1[ch] = 0.0;
            }
        }
        wf->at = 0;
    }
}

#if DOP_WALL_AVX512
/* n_groups whole groups (the stream at a chunk boundary): the same
 * operations as push_sample, GROUP_CHUNKS chunks side by side. The group is
 * transposed so that one register holds (I, Q) of four chunks at one
 * chunk position: [j][chunk] pairs. */
__attribute__((target("avx512f"))) static void push_groups(dop_wall_filter *wf, const float *in, float *out,
                                                            size_t n_groups)
{
    double *t = wf->group;
    enum { REGS = GROUP_CHUNKS / 4 };
    for (size_t grp = 0; grp < n_groups; grp++, in += 2 * GROUP, out += 2 * GROUP) {
        for (size_t c = 0; c < GROUP_CHUNKS; c++)
            for (size_t j = 0; j < CHUNK; j++) {
                const float *p = in + 2 * (c * CHUNK + j);
                double *d = t + 2 * (j * GROUP_CHUNKS + c);
                d[0] = p[0];
                d[1] = p[1];
            }
        for (int sec = 0; sec < wf->sections; sec++) {
            const biquad *q = &wf->sos[sec];
            chunk_state *cs = &wf->cs[sec];
            const __m512d b0 = _mm512_set1_pd(q->b0), b1 = _mm512_set1_pd(q->b1), b2 = _mm512_set1_pd(q->b2);
            const __m512d a1 = _mm512_set1_pd(q->a1), a2 = _mm512_set1_pd(q->a2);
            __m512d z0[REGS], z1[REGS];
            for (int r = 0; r < REGS; r++) z0[r] = z1[r] = _mm512_setzero_pd();
            for (size_t j = 0; j < CHUNK; j++) { /* zero-state recursions, REGS x 4 chunks */
                double *row = t + 2 * j * GROUP_CHUNKS;
                for (int r = 0; r < REGS; r++) {
                    __m512d x = _mm512_load_pd(row + 8 * r);
                    __m512d y = _mm512_add_pd(_mm512_mul_pd(b0, x), z0[r]);
                    z0[r] = _mm512_add_pd(_mm512_sub_pd(_mm512_mul_pd(b1, x), _mm512_mul_pd(a1, y)), z1[r]);
                    z1[r] = _mm512_sub_pd(_mm512_mul_pd(b2, x), _mm512_mul_pd(a2, y));
                    _mm512_store_pd(row + 8 * r, y);
                }
            }
            /* true states at each chunk's start, chunk after chunk */
            double e0[2 * GROUP_CHUNKS], e1[2 * GROUP_CHUNKS];
            double s0[2 * GROUP_CHUNKS] __attribute__((aligned(64))), s1[2 * GROUP_CHUNKS] __attribute__((aligned(64)));
            for (int r = 0; r < REGS; r++) {
                _mm512_storeu_pd(e0 + 8 * r, z0[r]);
                _mm512_storeu_pd(e1 + 8 * r, z1[r]);
            }
            const double (*m)[2] = wf->jump[sec];
            for (size_t c = 0; c < GROUP_CHUNKS; c++)
                for (int ch = 0; ch < 2; ch++) {
                    s0[2 * c + ch] = cs->s0[ch];
                    s1[2 * c + ch] = cs->s1[ch];
                    double n0 = (m[0][0] * cs->s0[ch] + m[0][1] * cs->s1[ch]) + e0[2 * c + ch];
                    double n1 = (m[1][0] * cs->s0[ch] + m[1][1] * cs->s1[ch]) + e1[2 * c + ch];
                    cs->s0[ch] = n0;
                    cs->s1[ch] = n1;
                }
            __m512d S0[REGS], S1[REGS];
            for (int r = 0; r < REGS; r++) {
                S0[r] = _mm512_load_pd(s0 + 8 * r);
                S1[r] = _mm512_load_pd(s1 + 8 * r);
            }
            for (size_t j = 0; j < CHUNK; j++) { /* + C A^j S */
                double *row = t + 2 * j * GROUP_CHUNKS;
                const __m512d g0 = _mm512_set1_pd(wf->reach[sec][j][0]), g1 = _mm512_set1_pd(wf->reach[sec][j][1]);
                for (int r = 0; r < REGS; r++) {
                    __m512d y = _mm512_load_pd(row + 8 * r);
                    y = _mm512_add_pd(y, _mm512_add_pd(_mm512_mul_pd(g0, S0[r]), _mm512_mul_pd(g1, S1[r])));
                    _mm512_store_pd(row + 8 * r, y);
                }
            }
        }
        for (size_t c = 0; c < GROUP_CHUNKS; c++)
            for (size_t j = 0; j < CHUNK; j++) {
                float *p = out + 2 * (c * CHUNK + j);
                const double *d = t + 2 * (j * GROUP_CHUNKS + c);
                p[0] = (float)d[0];
                p[1] = (float)d[1];
            }
    }
}
#endif

void dop_wall_filter_push(dop_wall_filter *wf, const float complex *in, float complex *out, size_t n)
{
    if (wf->sections == 0) {
        if (out != in) memmove(out, in, n * sizeof *out);
        return;
    }
    const float *src = (const float *)in;
    float *dst = (float *)out;
    size_t i = 0;
    while (i < n) {
#if DOP_WALL_AVX512
        if (wf->wide && wf->at == 0 && n - i >= GROUP) {
            size_t groups = (n - i) / GROUP;
            push_groups(wf, src + 2 * i, dst + 2 * i, groups);
            i += groups * GROUP;
            continue;
        }
#endif
        push_sample(wf, src + 2 * i, dst + 2 * i);
        i++;
    }
}

double dop_wall_filter_power_gain(const dop_wall_filter *wf, double f_hz)
{
    if (wf->sections == 0) return 1.0;
    double f = fabs(f_hz);
    if (f <= 0.0) return 0.0;
    if (f >= wf->cfg.fs_hz / 2.0) return 1.0;
    double ratio = wf->k / tan(M_PI * f / wf->cfg.fs_hz);
    return 1.0 / (1.0 + pow(ratio, 2.0 * wf->cfg.order));
}

void dop_wall_filter_reset(dop_wall_filter *wf)
{
    memset(wf->cs, 0, sizeof wf->cs);
    wf->at = 0;
}

void dop_wall_filter_destroy(dop_wall_filter *wf)
{
    if (!wf) return;
    free(wf->group);
    free(wf);
}

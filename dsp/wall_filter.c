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
 * Sections run in transposed direct form II with double-precision state. */
#include "dopflow/wall_filter.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SECTIONS 6

typedef struct biquad {
    double b0, b1, b2, a1, a2;
} biquad;

struct dop_wall_filter {
    dop_wall_filter_config cfg;
    int sections;
    double k;                         /* tan(pi fc / fs) */
    biquad sos[MAX_SECTIONS];
    double state[MAX_SECTIONS][2][2]; /* [section][I or Q][z^-1, z^-2] */
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
    *out = wf;
    return DOP_OK;
}

void dop_wall_filter_push(dop_wall_filter *wf, const float complex *in, float complex *out, size_t n)
{
    if (wf->sections == 0) {
        if (out != in) memmove(out, in, n * sizeof *out);
        return;
    }
    for (size_t t = 0; t < n; t++) {
        double x[2] = {crealf(in[t]), cimagf(in[t])};
        for (int s = 0; s < wf->sections; s++) {
            const biquad *q = &wf->sos[s];
            for (int c = 0; c < 2; c++) {
                double *z = wf->state[s][c];
                double y = q->b0 * x[c] + z[0];
                z[0] = q->b1 * x[c] - q->a1 * y + z[1];
                z[1] = q->b2 * x[c] - q->a2 * y;
                x[c] = y;
            }
        }
        out[t] = (float)x[0] + (float)x[1] * I;
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
    memset(wf->state, 0, sizeof wf->state);
}

void dop_wall_filter_destroy(dop_wall_filter *wf)
{
    free(wf);
}

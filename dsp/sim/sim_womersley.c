/* Simulator, scatterer model, stage 1: the velocity field u(r, t) over the
 * lumen of a straight rigid tube.
 *
 * Womersley profile (Womersley, J Physiol 1955;127:553-563): the spatial-
 * mean velocity of one beat is a Fourier series sum_h V_h e^{i h w t}
 * (w = 2 pi / RR); harmonic h flows with the profile
 *     F_h(x) = 1 - J0(k x) / J0(k),  k = i^{3/2} alpha_h,  x = r / R,
 *     alpha_h = R sqrt(h w rho / mu)   (Womersley number),
 * scaled so that its spatial mean is V_h; h = 0 is Poiseuille flow,
 * 2 (1 - x^2). At small alpha F_h tends to the parabola, at large alpha to
 * a plug with a boundary layer of thickness ~ R sqrt(2) / alpha in which
 * the flow leads the core and reverses first. J0 of the complex argument
 * is summed as its power series (no complex Bessel function in GSL): with
 * c_m = (i alpha^2 / 4)^m / (m!)^2, J0(k x) = sum_m c_m x^{2m}, so
 * J0(k) - J0(k x) = sum_{m>=1} c_m (1 - x^{2m}) has no cancellation at
 * small alpha; above alpha = SERIES_MAX the large-argument form
 * J0(kx)/J0(k) ~ x^{-1/2} exp(-alpha (1 - x)(1 + i)/sqrt 2) is used.
 *
 * Harmonics above `harmonics` (a small remainder of the sin^2 templates)
 * are added as a plug, so that the spatial mean of the field is exactly the
 * simulator's mean-velocity waveform (sim_waveform_mix): the truth needs no
 * Fourier truncation allowance. Quasi-steady profiles (parabolic, power
 * law, plug) scale one fixed shape with the waveform. Each beat uses the
 * alpha of its own RR. */
#include "sim_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define SERIES_MAX 30.0   /* alpha above which the asymptotic form is used */
#define DFT_POINTS 4096   /* phase samples of a template for its Fourier coefficients */

void sim_womersley_shape(double alpha, size_t n, const double *x, double complex *out)
{
    if (alpha > SERIES_MAX) {
        for (size_t j = 0; j < n; j++) {
            double d = alpha * (1.0 - x[j]) / M_SQRT2;
            out[j] = d > 40.0 ? 1.0 : 1.0 - cexp(-d * (1.0 + I)) / sqrt(fmax(x[j], 1e-12));
        }
        return;
    }
    double complex q = I * alpha * alpha / 4.0;
    for (size_t j = 0; j < n; j++) {
        double complex c = 1.0, num = 0.0, den = 1.0;
        double x2 = x[j] * x[j], p = 1.0;
        for (int m = 1; m < 400; m++) {
            c *= q / ((double)m * (double)m);
            p *= x2;
            num += c * (1.0 - p);
            den += c;
            if (cabs(c) < 1e-18 * (cabs(den) + 1e-300) && (double)m > alpha) break;
        }
        out[j] = num / den;
    }
}

/* Weights W_j with sum_j W_j u_j = 2 int_0^1 u(x) x dx exactly for the
 * piecewise-linear u through the grid (the interpolation the scatterers use). */
static void mean_weights(double *wt)
{
    size_t n = SIM_FIELD_RADII;
    double h = 1.0 / (double)(n - 1);
    memset(wt, 0, n * sizeof *wt);
    for (size_t j = 0; j + 1 < n; j++) {
        double a = (double)j * h, b = (double)(j + 1) * h;
        double sq = b * b - a * a, cu = (b * b * b - a * a * a) * 2.0 / 3.0;
        wt[j] += (b * sq - cu) / h;
        wt[j + 1] += (cu - a * sq) / h;
    }
}

static double complex grid_mean(const double *wt, const double complex *u)
{
    double complex s = 0.0;
    for (size_t j = 0; j < SIM_FIELD_RADII; j++) s += wt[j] * u[j];
    return s;
}

/* Fourier coefficients C_h, h = 0..H, of a template normalised to mean 1. */
static void template_coefficients(const dop_sim_waveform *tp, size_t H, double complex *coef)
{
    double mean = dop_sim_waveform_mean(tp);
    for (size_t h = 0; h <= H; h++) coef[h] = 0.0;
    for (size_t i = 0; i < DFT_POINTS; i++) {
        double p = ((double)i + 0.5) / DFT_POINTS;
        double v = sim_template_eval(tp, p) / mean / DFT_POINTS;
        double complex e = cexp(-2.0 * M_PI * I * p), eh = 1.0;
        for (size_t h = 0; h <= H; h++) {
            coef[h] += v * eh;
            eh *= e;
        }
    }
}

dop_status sim_field_init(sim_field *f, const dop_sim_config *cfg, const sim_waveform *wave, dop_error *err)
{
    memset(f, 0, sizeof *f);
    f->wave = wave;
    f->profile = cfg->profile;
    f->harmonics = cfg->profile == DOP_SIM_PROFILE_WOMERSLEY ? cfg->scat.harmonics : 0;
    f->radius_m = cfg->diameter_mm / 2000.0;
    f->nu_m2_s = cfg->scat.viscosity_mpa_s * 1e-3 / cfg->scat.density_kg_m3;
    f->cached_beat = SIZE_MAX;
    size_t H = f->harmonics;
    f->coef_rest = malloc((H + 1) * sizeof *f->coef_rest);
    f->coef_after = malloc((H + 1) * sizeof *f->coef_after);
    f->shape = malloc((H + 1) * SIM_FIELD_RADII * sizeof *f->shape);
    if (!f->coef_rest || !f->coef_after || !f->shape) {
        sim_field_free(f);
        return dop_error_set(err, DOP_ERR_NOMEM, "out of memory (velocity field)");
    }
    mean_weights(f->weight);
    for (size_t j = 0; j < SIM_FIELD_RADII; j++) f->x[j] = (double)j / (double)(SIM_FIELD_RADII - 1);
    /* Quasi-steady shape (1 - x^n) scaled to grid mean 1. */
    double n = cfg->profile == DOP_SIM_PROFILE_POWER_LAW ? cfg->profile_n : 2.0;
    double complex tmp[SIM_FIELD_RADII];
    for (size_t j = 0; j < SIM_FIELD_RADII; j++)
        tmp[j] = cfg->profile == DOP_SIM_PROFILE_PLUG ? 1.0 : 1.0 - pow(f->x[j], n);
    double m = creal(grid_mean(f->weight, tmp));
    for (size_t j = 0; j < SIM_FIELD_RADII; j++) f->quasi[j] = creal(tmp[j]) / m;
    template_coefficients(&cfg->rest.waveform, H, f->coef_rest);
    template_coefficients(&cfg->after.waveform, H, f->coef_after);
    return DOP_OK;
}

void sim_field_free(sim_field *f)
{
    free(f->coef_rest);
    free(f->coef_after);
    free(f->shape);
    f->coef_rest = f->coef_after = f->shape = NULL;
}

/* Womersley shapes of every harmonic for the RR of one beat, grid mean 1. */
static void beat_shapes(sim_field *f, double rr_s)
{
    double w = 2.0 * M_PI / rr_s;
    for (size_t h = 0; h <= f->harmonics; h++) {
        double complex *s = f->shape + h * SIM_FIELD_RADII;
        if (h == 0) {
            for (size_t j = 0; j < SIM_FIELD_RADII; j++) s[j] = 1.0 - f->x[j] * f->x[j];
        } else {
            sim_womersley_shape(f->radius_m * sqrt((double)h * w / f->nu_m2_s), SIM_FIELD_RADII, f->x, s);
        }
        double complex m = grid_mean(f->weight, s);
        for (size_t j = 0; j < SIM_FIELD_RADII; j++) s[j] /= m;
    }
}

double sim_field_profile(sim_field *f, double t, size_t *hint, double *u, double *centre)
{
    sim_mix mx;
    sim_waveform_mix(f->wave, t, hint, &mx);
    const dop_sim_config *c = &f->wave->cfg;
    double exact = mx.w_rest * sim_template_eval(&c->rest.waveform, mx.phase) / f->wave->mean_rest +
                   mx.w_after * sim_template_eval(&c->after.waveform, mx.phase) / f->wave->mean_after;
    if (f->profile != DOP_SIM_PROFILE_WOMERSLEY) {
        if (u)
            for (size_t j = 0; j < SIM_FIELD_RADII; j++) u[j] = exact * f->quasi[j];
        *centre = exact * f->quasi[0];
        return exact;
    }
    if (f->cached_beat != mx.beat) {
        beat_shapes(f, mx.rr_s);
        f->cached_beat = mx.beat;
    }
    /* Sum of the harmonics kept, then the remainder as a plug. */
    double complex e = cexp(2.0 * M_PI * I * mx.phase), eh = 1.0;
    double trunc = 0.0, ctr = 0.0;
    if (u) memset(u, 0, SIM_FIELD_RADII * sizeof *u);
    for (size_t h = 0; h <= f->harmonics; h++) {
        double complex v = (mx.w_rest * f->coef_rest[h] + mx.w_after * f->coef_after[h]) * eh * (h ? 2.0 : 1.0);
        const double complex *s = f->shape + h * SIM_FIELD_RADII;
        trunc += creal(v);
        ctr += creal(v * s[0]);
        if (u)
            for (size_t j = 0; j < SIM_FIELD_RADII; j++) u[j] += creal(v * s[j]);
        eh *= e;
    }
    double rest = exact - trunc;
    if (u)
        for (size_t j = 0; j < SIM_FIELD_RADII; j++) u[j] += rest;
    *centre = ctr + rest;
    return exact;
}

double sim_field_grid_mean(const sim_field *f, const double *u)
{
    double s = 0.0;
    for (size_t j = 0; j < SIM_FIELD_RADII; j++) s += f->weight[j] * u[j];
    return s;
}

/* Colour-flow estimation from short ensembles (see ensemble.h): regression
 * wall filter, lag-one autocorrelation, optional axial averaging.
 *
 * The wall-filter basis: the monomials 1, t, ..., t^P on t in [-1, 1] (the
 * shots mapped symmetrically, which keeps the Gram matrix well conditioned),
 * orthonormalised by modified Gram-Schmidt run twice ("twice is enough":
 * Giraud, Langou, Rozloznik, Comput Math Appl 2005;50:1069-1075), giving the
 * discrete Legendre polynomials up to sign. The filter subtracts the
 * projections one basis vector at a time (modified Gram-Schmidt again), in
 * double precision: tissue is often 40-60 dB above blood. A pixel costs
 * about 4 E (P + 2) real multiply-adds. */
#include "dopflow/ensemble.h"
#include "dopflow/analysis.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct dop_ensemble {
    dop_ensemble_config cfg;
    size_t basis_count;      /* P + 1 (0 with no wall filter) */
    double *basis;           /* basis_count x E, row k = k-th orthonormal polynomial */
    double complex *work;    /* one ensemble being filtered */
    double *r0, *r0_in;      /* per depth: sum |y|^2 after / |x|^2 before the filter */
    double *r1_re, *r1_im;   /* per depth: sum y[n+1] conj(y[n]) */
    double velocity_scale;   /* cm/s per radian, NAN when PRF or f0 unknown */
};

dop_ensemble_config dop_ensemble_config_default(void)
{
    dop_ensemble_config cfg;
    cfg.ensemble = 12;
    cfg.wall_order = 1;
    cfg.axial_samples = 1;
    cfg.max_depth = 1024;
    cfg.prf_hz = NAN;
    cfg.acq = dop_acquisition_defaults();
    cfg.acq.angle_deg = 0.0;
    return cfg;
}

static dop_status check_config(const dop_ensemble_config *cfg, dop_error *err)
{
    if (cfg->ensemble < 2 || cfg->ensemble > DOP_ENSEMBLE_MAX_SHOTS)
        return dop_error_set(err, DOP_ERR_INVALID_ARG, "ensemble: %zu shots per pixel (2 to %d supported)",
                             cfg->ensemble, DOP_ENSEMBLE_MAX_SHOTS);
    if (cfg->wall_order < -1 || cfg->wall_order > (int)cfg->ensemble - 2)
        return dop_error_set(err, DOP_ERR_INVALID_ARG,
                             "ensemble: regression order %d with %zu shots (-1 to %d: order E-1 removes everything)",
                             cfg->wall_order, cfg->ensemble, (int)cfg->ensemble - 2);
    if (cfg->max_depth < 1 || cfg->max_depth > DOP_ENSEMBLE_MAX_DEPTH)
        return dop_error_set(err, DOP_ERR_INVALID_ARG, "ensemble: max depth %zu samples (1 to %d supported)",
                             cfg->max_depth, DOP_ENSEMBLE_MAX_DEPTH);
    if (cfg->axial_samples < 1 || cfg->axial_samples % 2 == 0 || cfg->axial_samples > 2 * cfg->max_depth - 1)
        return dop_error_set(err, DOP_ERR_INVALID_ARG,
                             "ensemble: axial window of %zu depth samples (must be odd, 1 to 2 x max depth - 1)",
                             cfg->axial_samples);
    if (!isnan(cfg->prf_hz) && !(cfg->prf_hz > 0.0 && isfinite(cfg->prf_hz)))
        return dop_error_set(err, DOP_ERR_INVALID_ARG, "ensemble: PRF %g Hz is not positive (NAN = unknown)",
                             cfg->prf_hz);
    if (!isnan(cfg->acq.f0_hz)) {
        dop_status status = dop_acquisition_validate(&cfg->acq, err);
        if (status != DOP_OK) return status;
    }
    return DOP_OK;
}

/* Orthonormal polynomials of degree 0..count-1 over E shots into basis. */
static void build_basis(double *basis, size_t count, size_t shots)
{
    for (size_t k = 0; k < count; k++) {
        double *b = basis + k * shots;
        for (size_t n = 0; n < shots; n++) {
            double t = (2.0 * (double)n - (double)(shots - 1)) / (double)(shots - 1);
            b[n] = pow(t, (double)k);
        }
        for (int pass = 0; pass < 2; pass++) {
            for (size_t j = 0; j < k; j++) {
                const double *q = basis + j * shots;
                double dot = 0.0;
                for (size_t n = 0; n < shots; n++) dot += q[n] * b[n];
                for (size_t n = 0; n < shots; n++) b[n] -= dot * q[n];
            }
            double norm = 0.0;
            for (size_t n = 0; n < shots; n++) norm += b[n] * b[n];
            norm = sqrt(norm);
            for (size_t n = 0; n < shots; n++) b[n] /= norm;
        }
    }
}

double dop_ensemble_cm_s_per_rad(double prf_hz, const dop_acquisition *acq)
{
    return dop_doppler_cm_s_per_hz(acq->f0_hz, acq->angle_deg, acq->c_m_s) * prf_hz / (2.0 * M_PI);
}

dop_status dop_ensemble_create(const dop_ensemble_config *cfg, dop_ensemble **out, dop_error *err)
{
    if (out) *out = NULL;
    if (!cfg || !out) return dop_error_set(err, DOP_ERR_INVALID_ARG, "ensemble: NULL configuration or output");
    dop_status status = check_config(cfg, err);
    if (status != DOP_OK) return status;
    dop_ensemble *e = calloc(1, sizeof *e);
    if (!e) return dop_error_set(err, DOP_ERR_NOMEM, "ensemble: out of memory");
    e->cfg = *cfg;
    size_t shots = cfg->ensemble, depth = cfg->max_depth;
    e->basis_count = (size_t)(cfg->wall_order + 1);
    e->basis = malloc((e->basis_count ? e->basis_count : 1) * shots * sizeof *e->basis);
    e->work = malloc(shots * sizeof *e->work);
    e->r0 = malloc(depth * sizeof *e->r0);
    e->r0_in = malloc(depth * sizeof *e->r0_in);
    e->r1_re = malloc(depth * sizeof *e->r1_re);
    e->r1_im = malloc(depth * sizeof *e->r1_im);
    if (!e->basis || !e->work || !e->r0 || !e->r0_in || !e->r1_re || !e->r1_im) {
        dop_ensemble_destroy(e);
        return dop_error_set(err, DOP_ERR_NOMEM, "ensemble: out of memory");
    }
    build_basis(e->basis, e->basis_count, shots);
    e->velocity_scale = NAN;
    if (!isnan(cfg->prf_hz) && !isnan(cfg->acq.f0_hz))
        e->velocity_scale = dop_ensemble_cm_s_per_rad(cfg->prf_hz, &cfg->acq);
    *out = e;
    return DOP_OK;
}

/* y -= B B^H y, one basis vector at a time (the basis is real). */
static void project_out(const dop_ensemble *e, double complex *y)
{
    size_t shots = e->cfg.ensemble;
    for (size_t k = 0; k < e->basis_count; k++) {
        const double *b = e->basis + k * shots;
        double complex dot = 0.0;
        for (size_t n = 0; n < shots; n++) dot += b[n] * y[n];
        for (size_t n = 0; n < shots; n++) y[n] -= dot * b[n];
    }
}

void dop_ensemble_wall_filter(dop_ensemble *e, const float complex *in, float complex *out)
{
    size_t shots = e->cfg.ensemble;
    for (size_t n = 0; n < shots; n++) e->work[n] = in[n];
    project_out(e, e->work);
    for (size_t n = 0; n < shots; n++) out[n] = (float complex)e->work[n];
}

double dop_ensemble_wall_gain(const dop_ensemble *e, double phase_per_shot_rad)
{
    /* ||(I - B B^H) s||^2 = ||s||^2 - sum_k |b_k . s|^2 for orthonormal b_k, ||s||^2 = E */
    size_t shots = e->cfg.ensemble;
    double removed = 0.0;
    for (size_t k = 0; k < e->basis_count; k++) {
        const double *b = e->basis + k * shots;
        double re = 0.0, im = 0.0;
        for (size_t n = 0; n < shots; n++) {
            re += b[n] * cos(phase_per_shot_rad * (double)n);
            im += b[n] * sin(phase_per_shot_rad * (double)n);
        }
        removed += re * re + im * im;
    }
    double gain = 1.0 - removed / (double)shots;
    return gain < 0.0 ? 0.0 : gain;
}

static float to_db(double mean_power)
{
    double db = mean_power > 0.0 ? 10.0 * log10(mean_power) : DOP_ENSEMBLE_FLOOR_DB;
    return (float)(db < DOP_ENSEMBLE_FLOOR_DB ? DOP_ENSEMBLE_FLOOR_DB : db);
}

dop_status dop_ensemble_push(dop_ensemble *e, const float complex *block, size_t depth, dop_ensemble_pixel *out,
                             dop_error *err)
{
    if (!e || !block || !out) return dop_error_set(err, DOP_ERR_INVALID_ARG, "ensemble: NULL object, block or output");
    if (depth < 1 || depth > e->cfg.max_depth)
        return dop_error_set(err, DOP_ERR_INVALID_ARG, "ensemble: %zu depth samples in a line (1 to max depth %zu)",
                             depth, e->cfg.max_depth);
    size_t shots = e->cfg.ensemble;
    double complex *y = e->work;
    for (size_t d = 0; d < depth; d++) {
        const float complex *x = block + d * shots;
        double p_in = 0.0;
        for (size_t n = 0; n < shots; n++) {
            y[n] = x[n];
            p_in += creal(y[n]) * creal(y[n]) + cimag(y[n]) * cimag(y[n]);
        }
        project_out(e, y);
        double p = creal(y[0]) * creal(y[0]) + cimag(y[0]) * cimag(y[0]), re = 0.0, im = 0.0;
        for (size_t n = 1; n < shots; n++) {
            p += creal(y[n]) * creal(y[n]) + cimag(y[n]) * cimag(y[n]);
            double complex r = y[n] * conj(y[n - 1]);
            re += creal(r);
            im += cimag(r);
        }
        e->r0[d] = p;
        e->r0_in[d] = p_in;
        e->r1_re[d] = re;
        e->r1_im[d] = im;
    }
    size_t half = e->cfg.axial_samples / 2;
    for (size_t d = 0; d < depth; d++) {
        size_t lo = d > half ? d - half : 0, hi = d + half < depth ? d + half : depth - 1;
        double p = 0.0, p_in = 0.0, re = 0.0, im = 0.0;
        for (size_t j = lo; j <= hi; j++) {
            p += e->r0[j];
            p_in += e->r0_in[j];
            re += e->r1_re[j];
            im += e->r1_im[j];
        }
        double count = (double)(hi - lo + 1);
        double phase = (re == 0.0 && im == 0.0) ? 0.0 : atan2(im, re);
        if (phase <= -M_PI) phase = M_PI; /* atan2(-0, x < 0): the same point, reported as +pi */
        dop_ensemble_pixel *px = out + d;
        px->phase_rad = (float)phase;
        px->velocity_cm_s = (float)(phase * e->velocity_scale);
        px->power_db = to_db(p / (count * (double)shots));
        px->clutter_db = to_db(p_in / (count * (double)shots));
        px->correlation =
            p > 0.0 ? (float)(sqrt(re * re + im * im) / (count * (double)(shots - 1)) / (p / (count * (double)shots)))
                    : 0.0f;
    }
    return DOP_OK;
}

const dop_ensemble_config *dop_ensemble_get_config(const dop_ensemble *e) { return &e->cfg; }

void dop_ensemble_destroy(dop_ensemble *e)
{
    if (!e) return;
    free(e->basis);
    free(e->work);
    free(e->r0);
    free(e->r0_in);
    free(e->r1_re);
    free(e->r1_im);
    free(e);
}

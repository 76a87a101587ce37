/* Simulator, scatterer model, stage 2: the Doppler signal of point
 * scatterers (red cells) carried by the velocity field through a sample
 * volume.
 *
 * Geometry (metres): the vessel axis is x, the cross-section (y, z) with y
 * the depth; the beam runs in the x-y plane at the insonation angle to the
 * axis, away from the probe along d = (-cos a, sin a, 0), through the
 * sample-volume centre (0, yc, 0). A scatterer at p has the along-beam
 * coordinate s = (p - pc).d and the distance from the beam axis
 * rho^2 = l^2 + z^2, l = (p - pc).(sin a, cos a, 0). Its echo has the
 * amplitude A g(s) exp(-rho^2 / 2 sigma^2) (gate window g: flat with cos^2
 * edges of the pulse length; Gaussian beam of -6 dB width W,
 * sigma = W / (2 sqrt(2 ln 2))) and the phase phi_i - 2 k0 s, k0 = 2 pi f0 / c.
 * Axial motion dx changes the phase by 2 k0 cos(a) dx, so a scatterer moving
 * at u (positive = toward the probe) rotates at f = 2 f0 u cos(a) / c: the
 * Doppler equation is not coded as a spectrum anywhere, it is what the
 * phases do. The received signal is the sum over scatterers; the spread of
 * velocities in the volume, the transit-time broadening of a finite beam and
 * gate and the speckle (Rayleigh statistics) all follow from it.
 *
 * Streaming: a fixed population fills a periodic segment of the vessel,
 * just long enough to contain the sample volume, restricted to the part of
 * the cross-section the volume can see. Each motion step (a power of two of
 * samples, about 0.5 ms) moves every scatterer with the field at the step's
 * centre; within a step its phasor rotates sample by sample and its weight
 * is interpolated linearly between the step ends. A scatterer that leaves
 * one end of the segment re-enters at the other on the same streamline with
 * a new random phase (uniform density is kept on every streamline, so the
 * cross-section stays uniformly filled whatever the profile does). */
#include "sim_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define BEAM_CUT_SIGMAS 3.5 /* beam weight 0 beyond (amplitude 0.2 %) */
#define BOX_MARGIN_M 2e-4   /* segment margin beyond the volume, m */
#define NORM_GRID 64        /* per axis, for the power normalisation */

size_t sim_scatterers_step(const dop_sim_config *cfg)
{
    double target = cfg->fs_hz * 0.5e-3;
    size_t b = 1;
    while ((double)(b * 2) <= target * M_SQRT2 && b * 2 <= cfg->block && b * 2 <= SIM_STEP_MAX) b *= 2;
    return b;
}

/* Amplitude weight of the sample volume at (x, y, z), in [0, 1]. Single
 * precision (signal data); results depend only on the inputs. */
static inline float weight_beam(const sim_scatterers *s, double sv, double r2)
{
    if (r2 > s->beam_cut2) return 0.0f;
    double a = fabs(sv) - s->flat_m;
    float g = 1.0f;
    if (a > 0.0) {
        if (a >= s->taper_m) return 0.0f;
        float c = cosf((float)(M_PI_2 * a / s->taper_m));
        g = c * c;
    }
    return g * expf((float)(-r2 * s->inv_2sig2));
}

float sim_scatterers_weight_beam(const sim_scatterers *s, double sv, double rho2) { return weight_beam(s, sv, rho2); }

static inline float sv_weight(const sim_scatterers *s, double x, double y, double z)
{
    double dy = y - s->yc_m;
    double sv = -x * s->cos_t + dy * s->sin_t, l = x * s->sin_t + dy * s->cos_t;
    return weight_beam(s, sv, l * l + z * z);
}

/* Sample-volume sizes: the spec's or the defaults of the volume type. */
static void volume_geometry(sim_scatterers *s, const dop_sim_config *cfg)
{
    const dop_sim_scatterers *p = &cfg->scat;
    double d = cfg->diameter_mm, sin_eff = fmax(s->sin_t, 0.25);
    double width = p->beam_width_mm, gate = p->gate_mm, yc = 0.0;
    if (p->volume == DOP_SIM_VOLUME_VESSEL) {
        if (isnan(width)) width = 2.0 * d;
        if (isnan(gate)) gate = 1.2 * d / sin_eff;
    } else {
        if (isnan(width)) width = 0.25 * d;
        if (isnan(gate)) gate = 0.25 * d / sin_eff;
        if (p->volume == DOP_SIM_VOLUME_OFF_CENTRE) yc = isnan(p->offset_mm) ? 0.25 * d : p->offset_mm;
    }
    double sigma = width * 1e-3 / (2.0 * sqrt(2.0 * M_LN2));
    s->yc_m = yc * 1e-3;
    s->taper_m = fmin(0.5e-3, gate * 1e-3 / 2.0);
    s->flat_m = gate * 1e-3 / 2.0 - s->taper_m / 2.0;
    s->inv_2sig2 = 1.0 / (2.0 * sigma * sigma);
    s->beam_cut2 = (BEAM_CUT_SIGMAS * sigma) * (BEAM_CUT_SIGMAS * sigma);
    double S = s->flat_m + s->taper_m, P = BEAM_CUT_SIGMAS * sigma, R = s->radius_m;
    s->box_m = 2.0 * (S * s->cos_t + P * s->sin_t + BOX_MARGIN_M);
    double ey = S * s->sin_t + P * s->cos_t;
    s->ylo = fmax(-R, s->yc_m - ey);
    s->yhi = fmin(R, s->yc_m + ey);
    s->zhalf = fmin(R, P);
}

/* Mean squared weight over the filled region (midpoint rule); 0 when the
 * volume misses the lumen. Sets amp so that the expected blood power is 1. */
static double normalise(sim_scatterers *s)
{
    double sum = 0.0;
    long inside = 0;
    double hx = s->box_m / NORM_GRID, hy = (s->yhi - s->ylo) / NORM_GRID, hz = 2.0 * s->zhalf / NORM_GRID;
    for (int i = 0; i < NORM_GRID; i++)
        for (int j = 0; j < NORM_GRID; j++)
            for (int k = 0; k < NORM_GRID; k++) {
                double x = -s->box_m / 2.0 + (i + 0.5) * hx, y = s->ylo + (j + 0.5) * hy, z = -s->zhalf + (k + 0.5) * hz;
                if (y * y + z * z >= s->radius_m * s->radius_m) continue;
                double w = sv_weight(s, x, y, z);
                sum += w * w;
                inside++;
            }
    double mean_w2 = inside ? sum / (double)inside : 0.0;
    s->amp = mean_w2 > 0.0 ? 1.0 / sqrt((double)s->n * mean_w2) : 0.0;
    return mean_w2;
}

dop_status sim_scatterers_init(sim_scatterers *s, const dop_sim_config *cfg, const sim_waveform *wave, dop_error *err)
{
    memset(s, 0, sizeof *s);
    dop_status st = sim_field_init(&s->field, cfg, wave, err);
    if (st != DOP_OK) return st;
    s->n = cfg->scat.count;
    s->step = sim_scatterers_step(cfg);
    s->fs_hz = cfg->fs_hz;
    s->radius_m = cfg->diameter_mm / 2000.0;
    s->cos_t = cos(cfg->angle_deg * M_PI / 180.0);
    s->sin_t = sin(cfg->angle_deg * M_PI / 180.0);
    s->k_phase = 4.0 * M_PI * cfg->f0_hz * s->cos_t / cfg->c_m_s;
    volume_geometry(s, cfg);
    s->x = malloc(s->n * sizeof *s->x);
    s->y = malloc(s->n * sizeof *s->y);
    s->z = malloc(s->n * sizeof *s->z);
    s->xr = malloc(s->n * sizeof *s->xr);
    s->w = malloc(s->n * sizeof *s->w);
    s->ph = malloc(s->n * sizeof *s->ph);
    size_t lanes = s->n + SIM_LANES;
    sim_lanes *a = &s->act;
    a->idx = malloc(lanes * sizeof *a->idx);
    a->pr = malloc(6 * lanes * sizeof *a->pr);
    if (a->pr) {
        a->pi = a->pr + lanes;
        a->cr = a->pi + lanes;
        a->ci = a->cr + lanes;
        a->a0 = a->ci + lanes;
        a->da = a->a0 + lanes;
    }
    s->acc_r = malloc(s->step * sizeof *s->acc_r);
    s->acc_i = malloc(s->step * sizeof *s->acc_i);
    if (!s->x || !s->y || !s->z || !s->xr || !s->w || !s->ph || !a->idx || !a->pr || !s->acc_r || !s->acc_i) {
        sim_scatterers_free(s);
        return dop_error_set(err, DOP_ERR_NOMEM, "out of memory (%zu scatterers)", s->n);
    }
    if (!(normalise(s) > 1e-12)) {
        sim_scatterers_free(s);
        return dop_error_set(err, DOP_ERR_INVALID_ARG, "the sample volume (scatterers.*) does not reach the lumen");
    }
    return DOP_OK;
}

void sim_scatterers_free(sim_scatterers *s)
{
    sim_field_free(&s->field);
    free(s->x);
    free(s->y);
    free(s->z);
    free(s->xr);
    free(s->w);
    free(s->ph);
    free(s->act.idx);
    free(s->act.pr);
    free(s->acc_r);
    free(s->acc_i);
    memset(&s->act, 0, sizeof s->act);
    s->acc_r = s->acc_i = NULL;
    s->x = s->y = s->z = s->xr = s->w = NULL;
    s->ph = NULL;
}

void sim_scatterers_reset(sim_scatterers *s, gsl_rng *rng)
{
    double R = s->radius_m;
    for (size_t i = 0; i < s->n; i++) {
        double y, z;
        do {
            y = s->ylo + (s->yhi - s->ylo) * gsl_rng_uniform(rng);
            z = -s->zhalf + 2.0 * s->zhalf * gsl_rng_uniform(rng);
        } while (y * y + z * z >= R * R);
        s->x[i] = (float)(s->box_m * (gsl_rng_uniform(rng) - 0.5));
        s->y[i] = (float)y;
        s->z[i] = (float)z;
        s->xr[i] = (float)(sqrt(y * y + z * z) / R * (SIM_FIELD_RADII - 1));
        s->ph[i] = (float complex)cexp(2.0 * M_PI * I * gsl_rng_uniform(rng));
        s->w[i] = sv_weight(s, s->x[i], y, z);
    }
    s->hint = 0;
}

/* Pass 1 of a step: move every scatterer, re-enter those that left the
 * segment, and list the ones the volume sees (weight at either end of the
 * step) with their amplitude ramp and per-sample rotation. Returns how many. */
static size_t move_scatterers(sim_scatterers *s, size_t m, gsl_rng *rng)
{
    double half = s->box_m / 2.0, inv_m = 1.0 / (double)m;
    size_t na = 0;
    sim_lanes *a = &s->act;
    for (size_t i = 0; i < s->n; i++) {
        double r = s->xr[i];
        size_t k = (size_t)r;
        if (k > SIM_FIELD_RADII - 2) k = SIM_FIELD_RADII - 2;
        double v = (s->u[k] + (s->u[k + 1] - s->u[k]) * (r - (double)k)) * 0.01; /* m/s */
        double x1 = s->x[i] + v * (double)m / s->fs_hz;
        float w0 = s->w[i];
        if (x1 > half || x1 < -half) {
            x1 -= s->box_m * floor((x1 + half) / s->box_m);
            s->ph[i] = (float complex)cexp(2.0 * M_PI * I * gsl_rng_uniform(rng));
            w0 = 0.0f;
        }
        float w1 = sv_weight(s, x1, s->y[i], s->z[i]);
        s->x[i] = (float)x1;
        s->w[i] = w1;
        if (w0 == 0.0f && w1 == 0.0f) continue;
        float d = (float)(s->k_phase * v / s->fs_hz);
        a->idx[na] = i;
        a->cr[na] = cosf(d);
        a->ci[na] = sinf(d);
        a->pr[na] = crealf(s->ph[i]);
        a->pi[na] = cimagf(s->ph[i]);
        a->a0[na] = (float)s->amp * w0;
        a->da[na] = (float)(s->amp * inv_m) * (w1 - w0);
        na++;
    }
    /* Pad to whole groups of lanes with silent scatterers. */
    for (size_t l = na; l % SIM_LANES; l++) {
        a->a0[l] = a->da[l] = a->pr[l] = a->pi[l] = a->ci[l] = 0.0f;
        a->cr[l] = 1.0f;
    }
    return na;
}

/* One motion step of m samples starting at step index j. Pass 2 sums the
 * listed scatterers in SIM_LANES independent partial sums (real
 * arithmetic, each lane a fixed subset: vectorisable without reordering
 * any float sum, so the samples do not depend on the compiler). */
static void motion_step(sim_scatterers *s, int64_t j, size_t m, gsl_rng *rng, float complex *out)
{
    double centre;
    sim_field_profile(&s->field, ((double)j + 0.5) * (double)s->step / s->fs_hz, &s->hint, s->u, &centre);
    size_t na = move_scatterers(s, m, rng);
    sim_lanes *a = &s->act;
    float (*acc_r)[SIM_LANES] = s->acc_r, (*acc_i)[SIM_LANES] = s->acc_i;
    memset(acc_r, 0, m * sizeof *acc_r);
    memset(acc_i, 0, m * sizeof *acc_i);
    for (size_t g = 0; g < na; g += SIM_LANES) {
        float pr[SIM_LANES], pi[SIM_LANES], cr[SIM_LANES], ci[SIM_LANES], a0[SIM_LANES], da[SIM_LANES];
        memcpy(pr, a->pr + g, sizeof pr);
        memcpy(pi, a->pi + g, sizeof pi);
        memcpy(cr, a->cr + g, sizeof cr);
        memcpy(ci, a->ci + g, sizeof ci);
        memcpy(a0, a->a0 + g, sizeof a0);
        memcpy(da, a->da + g, sizeof da);
        for (size_t n = 0; n < m; n++) {
            for (int l = 0; l < SIM_LANES; l++) {
                float amp = a0[l] + da[l] * (float)n;
                acc_r[n][l] += amp * pr[l];
                acc_i[n][l] += amp * pi[l];
                float t = pr[l] * cr[l] - pi[l] * ci[l];
                pi[l] = pr[l] * ci[l] + pi[l] * cr[l];
                pr[l] = t;
            }
        }
        for (int l = 0; l < SIM_LANES && g + (size_t)l < na; l++) {
            /* Back to unit modulus (one Newton step: |p| drifts by ~1e-7 per step). */
            float q = 1.5f - 0.5f * (pr[l] * pr[l] + pi[l] * pi[l]);
            s->ph[a->idx[g + (size_t)l]] = pr[l] * q + I * (pi[l] * q);
        }
    }
    float *o = (float *)out;
    for (size_t n = 0; n < m; n++) {
        float re = 0.0f, im = 0.0f;
        for (int l = 0; l < SIM_LANES; l++) {
            re += acc_r[n][l];
            im += acc_i[n][l];
        }
        o[2 * n] += re;
        o[2 * n + 1] += im;
    }
}

void sim_scatterers_add(sim_scatterers *s, int64_t n0, size_t n, gsl_rng *rng, float complex *out)
{
    for (size_t done = 0; done < n;) {
        size_t m = n - done < s->step ? n - done : s->step;
        motion_step(s, (n0 + (int64_t)done) / (int64_t)s->step, m, rng, out + done);
        done += m;
    }
}

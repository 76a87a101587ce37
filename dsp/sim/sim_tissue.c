/* Simulator, scatterer model, stage 3: massage as the displacement of a
 * tissue layer under the probe.
 *
 * Where the spectral model paints massage artifacts as shaped noise, the
 * scatterer model moves tissue: a layer of stationary point scatterers whose
 * echo reaches the sample volume (through the side lobes and the range tails
 * of the pulse; lumped here as scatterers in the volume's beam frame, with
 * the volume's weight) at `artifact.level_db` above the blood, pushed by the
 * therapist's hand along the beam (a) and across it (b). The echo is
 *     A sum_k w(s_k - a, l_k + b, m_k) exp(j (phi_k + 2 k0 a)),
 * so its Doppler shift is 2 f0 a'(t) / c and the lateral slide decorrelates
 * its speckle; between strokes the layer rests (a line at 0 Hz that the wall
 * filter removes). Stroke and tap times are the impairments' schedule.
 * Motion of one stroke of duration T, x = (t - start) / T in [0, 1], peak
 * tissue velocity v (`scatterers.massage_velocity_mm_s`):
 *  - effleurage (slow gliding stroke): b = v T / pi sin^2(pi x), a = 0.3 b;
 *  - petrissage (kneading, two squeezes per stroke, up to ~1 cm/s):
 *    a = v T / (4 pi) sin^2(pi x) sin(4 pi x), b = 0.5 a;
 *  - tapotement (percussion, one impact per tap): a = v T / (2 pi)
 *    sin^2(pi x) sin(2 pi x), b = 0.2 a. */
#include "sim_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define TISSUE_SCATTERERS 400
#define NORM_GRID 48

/* Along-beam (toward the probe) and lateral displacement at t, m. */
static void displacement(const sim_tissue *t, double time, double *a, double *b)
{
    *a = *b = 0.0;
    const sim_burst *st = sim_impairments_stroke_at(t->imp, time);
    if (!st) return;
    double T = st->duration_s, x = (time - st->start_s) / T, w = sin(M_PI * x);
    w *= w;
    switch (t->type) {
    case DOP_SIM_ARTIFACT_EFFLEURAGE:
        *b = t->v_peak * T / M_PI * w;
        *a = 0.3 * *b;
        break;
    case DOP_SIM_ARTIFACT_PETRISSAGE:
        *a = t->v_peak * T / (4.0 * M_PI) * w * sin(4.0 * M_PI * x);
        *b = 0.5 * *a;
        break;
    default:
        *a = t->v_peak * T / (2.0 * M_PI) * w * sin(2.0 * M_PI * x);
        *b = 0.2 * *a;
        break;
    }
}

/* Largest displacement of a stroke (bounds the layer's extent). */
static double max_displacement(const sim_tissue *t, double longest_s) { return t->v_peak * longest_s / M_PI; }

static double complex phasor_sum(const sim_tissue *t, double a, double b)
{
    double complex sum = 0.0;
    for (size_t k = 0; k < t->n; k++) {
        double l = t->l0[k] + b, m = t->m0[k];
        float w = sim_scatterers_weight_beam(t->sv, t->s0[k] - a, l * l + m * m);
        if (w != 0.0f) sum += (double)w * t->ph[k];
    }
    return sum;
}

dop_status sim_tissue_init(sim_tissue *t, const dop_sim_config *cfg, const sim_scatterers *sv, const sim_impairments *imp,
                           gsl_rng *rng, dop_error *err)
{
    memset(t, 0, sizeof *t);
    t->sv = sv;
    t->imp = imp;
    t->type = imp->art.type;
    if (t->type == DOP_SIM_ARTIFACT_NONE || imp->n_strokes == 0) return DOP_OK;
    static const double by_type[] = {0.0, 5.0, 10.0, 50.0}; /* mm/s: effleurage, petrissage, tapotement */
    double v = isnan(cfg->scat.massage_velocity_mm_s) ? by_type[t->type] : cfg->scat.massage_velocity_mm_s;
    t->v_peak = v * 1e-3;
    t->k2 = 4.0 * M_PI * cfg->f0_hz / cfg->c_m_s;
    double longest = 0.0;
    for (size_t i = 0; i < imp->n_strokes; i++) longest = fmax(longest, imp->strokes[i].duration_s);
    double reach = max_displacement(t, longest), P = sqrt(sv->beam_cut2), S = sv->flat_m + sv->taper_m;
    double hs = S + reach, hl = P + reach;
    t->n = TISSUE_SCATTERERS;
    t->s0 = malloc(t->n * sizeof *t->s0);
    t->l0 = malloc(t->n * sizeof *t->l0);
    t->m0 = malloc(t->n * sizeof *t->m0);
    t->ph = malloc(t->n * sizeof *t->ph);
    if (!t->s0 || !t->l0 || !t->m0 || !t->ph) {
        sim_tissue_free(t);
        return dop_error_set(err, DOP_ERR_NOMEM, "out of memory (tissue layer)");
    }
    for (size_t k = 0; k < t->n; k++) {
        t->s0[k] = (float)(hs * (2.0 * gsl_rng_uniform(rng) - 1.0));
        t->l0[k] = (float)(hl * (2.0 * gsl_rng_uniform(rng) - 1.0));
        t->m0[k] = (float)(P * (2.0 * gsl_rng_uniform(rng) - 1.0));
        t->ph[k] = (float complex)cexp(2.0 * M_PI * I * gsl_rng_uniform(rng));
    }
    /* Expected power n <w^2> over the layer's box (midpoint rule), set to level_db re blood. */
    double sum = 0.0;
    for (int i = 0; i < NORM_GRID; i++)
        for (int j = 0; j < NORM_GRID; j++)
            for (int k = 0; k < NORM_GRID; k++) {
                double s = hs * (2.0 * (i + 0.5) / NORM_GRID - 1.0), l = hl * (2.0 * (j + 0.5) / NORM_GRID - 1.0),
                       m = P * (2.0 * (k + 0.5) / NORM_GRID - 1.0);
                double w = sim_scatterers_weight_beam(sv, s, l * l + m * m);
                sum += w * w;
            }
    double mean_w2 = sum / ((double)NORM_GRID * NORM_GRID * NORM_GRID);
    t->amp = mean_w2 > 0.0 ? sqrt(pow(10.0, cfg->artifact.level_db / 10.0) / ((double)t->n * mean_w2)) : 0.0;
    sim_tissue_reset(t);
    return DOP_OK;
}

void sim_tissue_free(sim_tissue *t)
{
    free(t->s0);
    free(t->l0);
    free(t->m0);
    free(t->ph);
    t->s0 = t->l0 = t->m0 = NULL;
    t->ph = NULL;
    t->n = 0;
}

void sim_tissue_reset(sim_tissue *t)
{
    if (t->n == 0) return;
    t->sum0 = phasor_sum(t, 0.0, 0.0);
    t->phase0 = t->last_a = t->last_b = 0.0;
}

void sim_tissue_add(sim_tissue *t, int64_t n0, size_t n, float complex *out)
{
    if (t->n == 0) return;
    double fs = t->sv->fs_hz;
    size_t step = t->sv->step;
    for (size_t done = 0; done < n;) {
        size_t m = n - done < step ? n - done : step;
        double a, b;
        displacement(t, (double)(n0 + (int64_t)(done + m)) / fs, &a, &b);
        double phase1 = t->k2 * a;
        double complex sum1 = (a == t->last_a && b == t->last_b) ? t->sum0 : phasor_sum(t, a, b);
        /* Linear in the weighted sum and in the (unwrapped) phase across the step. */
        for (size_t i = 0; i < m; i++) {
            double f = (double)(i + 1) / (double)m;
            double complex z = t->sum0 + (sum1 - t->sum0) * f;
            out[done + i] += (float complex)(t->amp * z * cexp(I * (t->phase0 + (phase1 - t->phase0) * f)));
        }
        t->sum0 = sum1;
        t->phase0 = phase1;
        t->last_a = a;
        t->last_b = b;
        done += m;
    }
}

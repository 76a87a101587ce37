/* Cohorts, step 2: every random value of a cohort, drawn from the published
 * group statistics of the design (deterministic by the cohort seed). This
 * is the only code of the cohort that uses the random generator, and the
 * order of the draws is part of the output: a cohort seed gives the same
 * subjects as long as the order below stays as it is.
 *
 * Draws are normal, truncated at +/- truncate_sd SDs (redrawn), so that no
 * subject is physiologically absurd. Exercise is a per-subject flow ratio
 * R = Q_ex / Q_rest, log-normal around the ratio of the group means (see
 * sim_cohort_parse.c for its log-SD), with mean-preserving correction
 * exp(s z - s^2 / 2) and a floor of 1.2. The velocity then scales with the
 * subject's own resting velocity, as it does in a vessel whose diameter does
 * not change (Shoemaker et al. measured diameters before and after and found
 * them unchanged). */
#include "sim_cohort_internal.h"

#include <gsl/gsl_randist.h>
#include <math.h>
#include <stdlib.h>

/* Random stream of the cohort (sim_rng_new stream id). */
#define COHORT_RNG_STREAM 100

static double truncated_normal(gsl_rng *r, double limit)
{
    for (;;) {
        double z = gsl_ran_gaussian_ziggurat(r, 1.0);
        if (limit <= 0.0 || fabs(z) <= limit) return z;
    }
}

static double uniform_in(gsl_rng *r, const double range[2])
{
    return range[0] + (range[1] - range[0]) * gsl_rng_uniform(r);
}

/* One subject's vessel: diameter, resting velocity, exercise flow ratio. */
static cohort_vessel_draw draw_vessel(gsl_rng *rng, const cohort_artery *a, double trunc_sd)
{
    cohort_vessel_draw v;
    v.diameter_mm = a->diameter_mm.mean + a->diameter_mm.sd * truncated_normal(rng, trunc_sd);
    v.rest_velocity_cm_s = a->rest_velocity_cm_s.mean + a->rest_velocity_cm_s.sd * truncated_normal(rng, trunc_sd);
    v.exercise_ratio = a->ratio_mean * exp(a->ratio_log_sd * truncated_normal(rng, trunc_sd) -
                                           0.5 * a->ratio_log_sd * a->ratio_log_sd);
    if (v.exercise_ratio < 1.2) v.exercise_ratio = 1.2;
    return v;
}

/* One recording: drawn in a fixed order, whatever the condition. */
static cohort_recording_draw draw_recording(gsl_rng *rng, const cohort_design *d, const cohort_artery *a,
                                            const cohort_vessel_draw *v)
{
    cohort_recording_draw r;
    r.velocity_cm_s = v->rest_velocity_cm_s * (1.0 + d->within_subject_cv * truncated_normal(rng, d->truncate_sd));
    r.angle_deg = uniform_in(rng, a->angle_deg);
    r.hr_rise_bpm = uniform_in(rng, a->hr_rise_bpm);
    r.snr_db = isnan(d->snr_db[0]) ? NAN : uniform_in(rng, d->snr_db);
    r.clutter_db = isnan(d->clutter_db[0]) ? NAN : uniform_in(rng, d->clutter_db);
    return r;
}

dop_status cohort_draw(const cohort_design *d, cohort_draws *out, dop_error *err)
{
    const size_t n_vessels = d->subjects * d->n_arteries;
    out->heart_rate_bpm = malloc(d->subjects * sizeof *out->heart_rate_bpm);
    out->vessels = malloc(n_vessels * sizeof *out->vessels);
    out->recordings = malloc(n_vessels * d->n_conditions * sizeof *out->recordings);
    gsl_rng *rng = sim_rng_new(d->seed, COHORT_RNG_STREAM);
    if (!out->heart_rate_bpm || !out->vessels || !out->recordings || !rng) {
        if (rng) gsl_rng_free(rng);
        cohort_draws_free(out);
        return dop_error_set(err, DOP_ERR_NOMEM, "out of memory");
    }
    size_t k = 0;
    for (size_t s = 0; s < d->subjects; s++) {
        out->heart_rate_bpm[s] = uniform_in(rng, d->heart_rate_bpm);
        for (size_t a = 0; a < d->n_arteries; a++) {
            const cohort_vessel_draw *v = &out->vessels[s * d->n_arteries + a];
            out->vessels[s * d->n_arteries + a] = draw_vessel(rng, &d->arteries[a], d->truncate_sd);
            for (size_t c = 0; c < d->n_conditions; c++, k++)
                out->recordings[k] = draw_recording(rng, d, &d->arteries[a], v);
        }
    }
    gsl_rng_free(rng);
    return DOP_OK;
}

void cohort_draws_free(cohort_draws *dr)
{
    free(dr->heart_rate_bpm);
    free(dr->vessels);
    free(dr->recordings);
    dr->heart_rate_bpm = NULL;
    dr->vessels = NULL;
    dr->recordings = NULL;
}

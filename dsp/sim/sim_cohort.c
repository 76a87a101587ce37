/* Cohorts: a study design turned into one recording spec per subject x
 * artery x condition, with subject-to-subject variation drawn from the
 * published group statistics (deterministic by the cohort seed), and the
 * files a study needs: manifest.csv, truth.csv, subjects.csv.
 *
 * Made in three steps (sim_cohort_internal.h): parse the spec into a design
 * (sim_cohort_parse.c), draw every random value (sim_cohort_draw.c, where
 * the statistical model is described), emit the recording specs and files
 * (sim_cohort_emit.c). This file runs them and checks every recording
 * against aliasing. */
#include "sim_cohort_internal.h"

#include <stdlib.h>

/* Every recording must stay clear of aliasing by the cohort's margin: the
 * peak velocity, widened by the spectral broadening on both sides, below
 * max_nyquist_fraction of the Nyquist velocity. */
static dop_status check_aliasing(const cohort_design *d, const dop_sim_cohort *co, dop_error *err)
{
    for (size_t i = 0; i < co->n_items; i++) {
        const dop_sim_config *c = &co->items[i].config;
        dop_sim *sim = NULL;
        dop_status st = dop_sim_create(c, &sim, err);
        if (st != DOP_OK) return st;
        double peak = dop_sim_peak_velocity_cm_s(sim) * (1.0 + 2.0 * c->broadening_percent / 100.0);
        double nyq = dop_sim_nyquist_cm_s(c);
        dop_sim_destroy(sim);
        if (peak > d->max_nyquist_fraction * nyq)
            return dop_error_set(err, DOP_ERR_FORMAT,
                                 "%s: %s: peak velocity %.1f cm/s (with broadening) exceeds %.0f%% of the Nyquist "
                                 "velocity %.1f cm/s; lower f0, raise the sample rate or the angle's cosine",
                                 d->path, co->items[i].file, peak, 100.0 * d->max_nyquist_fraction, nyq);
    }
    return DOP_OK;
}

dop_status dop_sim_cohort_load(const char *path, dop_sim_cohort **out, dop_error *err)
{
    *out = NULL;
    cohort_design design;
    dop_status st = cohort_parse(path, &design, err);
    if (st != DOP_OK) return st;
    cohort_draws draws = {0};
    dop_sim_cohort *co = calloc(1, sizeof *co);
    if (!co) st = dop_error_set(err, DOP_ERR_NOMEM, "out of memory");
    if (st == DOP_OK) st = cohort_draw(&design, &draws, err);
    if (st == DOP_OK) st = cohort_emit(&design, &draws, co, err);
    if (st == DOP_OK) st = check_aliasing(&design, co, err);
    cohort_draws_free(&draws);
    cohort_design_free(&design);
    if (st != DOP_OK) {
        dop_sim_cohort_destroy(co);
        return st;
    }
    *out = co;
    return DOP_OK;
}

size_t dop_sim_cohort_count(const dop_sim_cohort *co) { return co->n_items; }

const dop_sim_cohort_item *dop_sim_cohort_item_at(const dop_sim_cohort *co, size_t i)
{
    return i < co->n_items ? &co->items[i] : NULL;
}

void dop_sim_cohort_destroy(dop_sim_cohort *co)
{
    if (!co) return;
    for (size_t i = 0; co->specs && i < co->n_items; i++) free(co->specs[i]);
    free(co->specs);
    free(co->items);
    free(co->subjects_csv);
    free(co);
}

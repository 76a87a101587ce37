/* The study's statistics table (dsp/study/study_table.h) on a tiny
 * hand-made set of results, without any file: groups in order of their
 * first manifest row, a subject's recordings averaged, failed recordings
 * counted, descriptives, paired t-tests against the reference epoch with
 * Holm's adjustment, the repeated-measures ANOVA and the exclusions.
 *
 * Study: epochs pre (reference), post1, post2; flow in ml/min, mean
 * velocity = flow / 2 cm/s.
 *   row subject condition flow pre, post1, post2
 *   0   S1      rest      10, 12, 20
 *   1   S2      rest      20, 23, 30
 *   2   S3      rest      30, 31, 40
 *   3   S4      rest      38, 44, 50   } averaged: 40, 46, 51
 *   4   S4      rest      42, 48, 52   }
 *   5   S5      rest      (failed)
 *   6   S6      exercise  15, -, 18    no flow in post1 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "study/study_table.h"

#define N_ROWS 7
#define K 3

static const double flow_values[N_ROWS][K] = {
    {10, 12, 20}, {20, 23, 30}, {30, 31, 40}, {38, 44, 50}, {42, 48, 52}, {NAN, NAN, NAN}, {15, NAN, 18},
};

static void assert_near(double got, double want, double tol)
{
    if (!(fabs(got - want) <= tol)) fail_msg("got %.12g, want %.12g (tolerance %g)", got, want, tol);
}

/* Two-sided p of Student's t with 3 degrees of freedom, in closed form:
 * F(t) = 1/2 + (1/pi) (u / (1 + u^2) + atan(u)), u = t / sqrt(3). */
static double student3_p(double t)
{
    double u = fabs(t) / sqrt(3.0);
    double cdf = 0.5 + (u / (1.0 + u * u) + atan(u)) / M_PI;
    return 2.0 * (1.0 - cdf);
}

typedef struct fixture {
    study_entry entries[N_ROWS];
    double velocity[N_ROWS * K], flow[N_ROWS * K];
    study_table table;
} fixture;

static void build(fixture *fx)
{
    static const char *const subjects[N_ROWS] = {"S1", "S2", "S3", "S4", "S4", "S5", "S6"};
    memset(fx, 0, sizeof *fx);
    for (size_t i = 0; i < N_ROWS; i++) {
        study_entry *e = &fx->entries[i];
        e->row = i;
        e->subject = subjects[i];
        e->condition = i < 6 ? "rest" : "exercise";
        e->artery = "brachial";
        e->file = "rec.wav";
        e->error = i == 5 ? "cannot open" : NULL;
        for (size_t c = 0; c < K; c++) {
            fx->flow[i * K + c] = flow_values[i][c];
            fx->velocity[i * K + c] = flow_values[i][c] / 2.0;
        }
    }
    study_values in = {fx->entries, N_ROWS, K, 0, fx->velocity, fx->flow};
    assert_int_equal(study_table_build(&in, &fx->table, NULL), DOP_OK);
}

static int setup(void **state)
{
    static fixture fx;
    build(&fx);
    *state = &fx;
    return 0;
}

static int teardown(void **state)
{
    study_table_free(&((fixture *)*state)->table);
    return 0;
}

static void test_design(void **state)
{
    const study_table *t = &((fixture *)*state)->table;
    assert_int_equal(t->k, K);
    assert_int_equal(t->n_subjects, 6);  /* the failed S5 is still a subject of the design */
    assert_int_equal(t->failed, 1);
    assert_int_equal(t->n_arteries, 1);
    assert_int_equal(t->n_conditions, 2);
    assert_int_equal(t->conditions[0], 0); /* rest first: first appearance, not alphabetical */
    assert_int_equal(t->conditions[1], 6);
    assert_int_equal(t->n_groups, 2);
    assert_string_equal(t->groups[0].condition, "rest");
    assert_string_equal(t->groups[1].condition, "exercise");
    assert_int_equal(t->groups[0].n_subjects, 4); /* S5 has no analysed recording */
    assert_int_equal(t->groups[1].n_subjects, 1);
}

static void test_averaged_and_excluded(void **state)
{
    const study_table *t = &((fixture *)*state)->table;
    assert_int_equal(t->n_averaged, 1);
    assert_string_equal(t->averaged[0].subject, "S4");
    assert_int_equal(t->averaged[0].recordings, 2);
    assert_int_equal(t->averaged[0].group, 0);
    assert_int_equal(t->n_exclusions, 1);
    assert_string_equal(t->exclusions[0].subject, "S6");
    assert_int_equal(t->exclusions[0].group, 1);
    assert_int_equal(t->exclusions[0].missing[0], 0);
    assert_int_equal(t->exclusions[0].missing[1], 1);
    assert_int_equal(t->exclusions[0].missing[2], 0);
}

static void test_descriptives(void **state)
{
    const study_group *g = &((fixture *)*state)->table.groups[0];
    /* pre: 10, 20, 30, 40 (S4 averaged): mean 25, SD sqrt(500/3) */
    const study_group_epoch *pre = &g->ep[0];
    assert_int_equal(pre->n_flow, 4);
    assert_near(pre->q_mean, 25.0, 1e-12);
    assert_near(pre->q_sd, sqrt(500.0 / 3.0), 1e-12);
    assert_near(pre->q_sem, sqrt(500.0 / 3.0) / 2.0, 1e-12);
    assert_int_equal(pre->n, 4);
    assert_near(pre->v_mean, 12.5, 1e-12);
    assert_true(isnan(pre->p) && isnan(pre->p_adj) && isnan(pre->change_pct));
    /* post1: 12, 23, 31, 46: mean 28; change (112 - 100) / 100 */
    assert_near(g->ep[1].q_mean, 28.0, 1e-12);
    assert_near(g->ep[1].change_pct, 12.0, 1e-12);
    assert_int_equal(g->ep[1].n_paired, 4);
    assert_near(g->ep[2].change_pct, 41.0, 1e-12);
}

static void test_paired_t_and_holm(void **state)
{
    const study_group *g = &((fixture *)*state)->table.groups[0];
    /* post1 - pre: 2, 3, 1, 6: mean 3, SD sqrt(14/3), t = 3 / (SD / 2) */
    double p1 = student3_p(3.0 / (sqrt(14.0 / 3.0) / 2.0));
    /* post2 - pre: 10, 10, 10, 11: mean 10.25, SD 0.5, t = 41 */
    double p2 = student3_p(41.0);
    assert_near(g->ep[1].p, p1, 1e-9);
    assert_near(g->ep[2].p, p2, 1e-9 * p2 + 1e-15);
    /* Holm, m = 2: the smaller p (post2) times 2, then post1 times 1,
     * never below the step before. */
    assert_true(p2 < p1);
    assert_near(g->ep[2].p_adj, 2.0 * p2, 1e-9 * p2 + 1e-15);
    assert_near(g->ep[1].p_adj, p1, 1e-9);
    /* the exercise group has one subject: no test */
    const study_group *ex = &((fixture *)*state)->table.groups[1];
    assert_true(isnan(ex->ep[2].p) && isnan(ex->ep[2].p_adj));
    assert_int_equal(ex->ep[1].n_paired, 0);
    assert_int_equal(ex->ep[2].n_paired, 1);
}

static void test_anova(void **state)
{
    const study_group *g = &((fixture *)*state)->table.groups[0];
    /* SS epochs 1333/6 on 2 df, SS error 47/6 on 6 df: F = 3999/47 */
    assert_true(g->anova_ok);
    assert_int_equal(g->anova.n_subjects, 4);
    assert_near(g->anova.f, 3999.0 / 47.0, 1e-9);
    assert_near(g->anova.df_effect, 2.0, 0);
    assert_near(g->anova.df_error, 6.0, 0);
    const study_group *ex = &((fixture *)*state)->table.groups[1];
    assert_false(ex->anova_ok); /* S6 lacks post1: nobody left */
    assert_int_equal(ex->anova.n_subjects, 0);
    assert_int_equal(ex->anova_excluded, 1);
}

static void test_epochs(void **state)
{
    (void)state;
    study_epochs es;
    assert_int_equal(study_epochs_make("pre:-10:0,post:0:10", "post", &es, NULL), DOP_OK);
    assert_int_equal(es.k, 2);
    assert_int_equal(es.ref, 1);
    assert_string_equal(es.labels[0], "pre");
    study_epochs_free(&es);
    assert_int_equal(study_epochs_make(NULL, NULL, &es, NULL), DOP_OK);
    assert_int_equal(es.k, 1);
    assert_string_equal(es.labels[0], "all");
    study_epochs_free(&es);
    assert_int_equal(study_epochs_make("pre:-10:0", "during", &es, NULL), DOP_ERR_INVALID_ARG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_design),
        cmocka_unit_test(test_averaged_and_excluded),
        cmocka_unit_test(test_descriptives),
        cmocka_unit_test(test_paired_t_and_holm),
        cmocka_unit_test(test_anova),
        cmocka_unit_test(test_epochs),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

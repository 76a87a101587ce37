/* Statistics of studies (include/dopflow/stats.h): paired t-test, Holm
 * adjustment, repeated-measures ANOVA with the Greenhouse-Geisser epsilon,
 * each against values computed independently of the library. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "dopflow/stats.h"

static void assert_near(double got, double want, double tol)
{
    if (!(fabs(got - want) <= tol)) fail_msg("got %.12g, want %.12g (tolerance %g)", got, want, tol);
}

static void assert_rel(double got, double want, double rel)
{
    if (!(fabs(got - want) <= rel * fabs(want)))
        fail_msg("got %.12g, want %.12g (relative tolerance %g)", got, want, rel);
}

static void test_describe(void **state)
{
    (void)state;
    /* 2, 4, 4, 4, 5, 5, 7, 9: mean 5, sum of squares 32, SD sqrt(32/7). */
    const double x[] = {2, 4, NAN, 4, 4, 5, 5, 7, 9, NAN};
    size_t n;
    double mean, sd, sem;
    dop_stats_describe(x, 10, &n, &mean, &sd, &sem);
    assert_int_equal(n, 8);
    assert_near(mean, 5.0, 1e-12);
    assert_near(sd, sqrt(32.0 / 7.0), 1e-12);
    assert_near(sem, sqrt(32.0 / 7.0) / sqrt(8.0), 1e-12);
    /* the same without NANs takes GSL's path */
    const double y[] = {2, 4, 4, 4, 5, 5, 7, 9};
    dop_stats_describe(y, 8, &n, &mean, &sd, NULL);
    assert_near(mean, 5.0, 1e-12);
    assert_near(sd, sqrt(32.0 / 7.0), 1e-12);
    /* one value: no spread; none: nothing */
    dop_stats_describe(x, 1, &n, &mean, &sd, &sem);
    assert_int_equal(n, 1);
    assert_near(mean, 2.0, 0);
    assert_true(isnan(sd) && isnan(sem));
    dop_stats_describe(x + 2, 1, &n, &mean, &sd, &sem);
    assert_int_equal(n, 0);
    assert_true(isnan(mean));
}

/* Student's sleep data (Cushny & Peebles 1905; "Student" 1908), extra
 * hours of sleep under two drugs in the same 10 patients; R's
 * t.test(extra ~ group, data = sleep, paired = TRUE) reports
 * t = -4.0621, df = 9, p-value = 0.002833.
 * By hand, d = drug2 - drug1 = 1.2 2.4 1.3 1.3 0.0 1.0 1.8 0.8 4.6 1.4:
 *   sum d = 15.8, mean = 1.58
 *   deviations -0.38 0.82 -0.28 -0.28 -1.58 -0.58 0.22 -0.78 3.02 -0.18
 *   squares 0.1444 0.6724 0.0784 0.0784 2.4964 0.3364 0.0484 0.6084
 *           9.1204 0.0324, sum 13.616
 *   s^2 = 13.616 / 9 = 1.5128889, s = 1.2299955
 *   SE = s / sqrt(10) = 0.3889587, t = 1.58 / 0.3889587 = 4.0621277
 *   p = 2 Q_t(4.0621277; 9) = 0.0028329 (regularised incomplete beta
 *   I_{9/(9+t^2)}(4.5, 0.5), evaluated with a continued fraction in
 *   python3, agrees with R's 0.002833). */
static void test_paired_t_sleep(void **state)
{
    (void)state;
    const double drug1[] = {0.7, -1.6, -0.2, -1.2, -0.1, 3.4, 3.7, 0.8, 0.0, 2.0};
    const double drug2[] = {1.9, 0.8, 1.1, 0.1, -0.1, 4.4, 5.5, 1.6, 4.6, 3.4};
    dop_ttest_result r;
    assert_int_equal(dop_stats_paired_t(drug2, drug1, 10, &r, NULL), DOP_OK);
    assert_int_equal(r.n, 10);
    assert_near(r.mean_diff, 1.58, 1e-12);
    assert_near(r.sd_diff, 1.2299955, 1e-7);
    assert_near(r.df, 9.0, 0);
    assert_near(r.t, 4.0621277, 1e-6);
    assert_near(r.p, 0.00283289, 1e-8);
    /* swapping the groups flips t, keeps p */
    dop_ttest_result s;
    assert_int_equal(dop_stats_paired_t(drug1, drug2, 10, &s, NULL), DOP_OK);
    assert_near(s.t, -r.t, 1e-12);
    assert_near(s.p, r.p, 1e-15);
}

static void test_paired_t_degenerate(void **state)
{
    (void)state;
    const double x[] = {3, 4, 5}, y[] = {1, 2, 3}, z[] = {3, 4, 5};
    dop_ttest_result r;
    dop_error err;
    /* constant non-zero difference: infinitely significant */
    assert_int_equal(dop_stats_paired_t(x, y, 3, &r, NULL), DOP_OK);
    assert_true(isinf(r.t) && r.t > 0);
    assert_near(r.p, 0.0, 0);
    /* no difference at all: undefined */
    assert_int_equal(dop_stats_paired_t(x, z, 3, &r, NULL), DOP_OK);
    assert_true(isnan(r.t) && isnan(r.p));
    /* errors */
    assert_int_equal(dop_stats_paired_t(x, y, 1, &r, &err), DOP_ERR_NO_DATA);
    assert_true(err.message[0] != '\0');
    const double bad[] = {1, NAN, 3};
    assert_int_equal(dop_stats_paired_t(x, bad, 3, &r, &err), DOP_ERR_INVALID_ARG);
    assert_int_equal(dop_stats_paired_t(NULL, bad, 3, &r, &err), DOP_ERR_INVALID_ARG);
}

/* Holm (1979) on p = (0.01, 0.04, 0.03, 0.005), m = 4. Sorted:
 *   0.005 x 4 = 0.02; 0.01 x 3 = 0.03; 0.03 x 2 = 0.06; 0.04 x 1 = 0.04,
 *   raised to the running maximum 0.06.
 * So (0.03, 0.06, 0.06, 0.02), as R's p.adjust(..., "holm") gives. */
static void test_holm(void **state)
{
    (void)state;
    const double p[] = {0.01, 0.04, 0.03, 0.005};
    double a[4];
    assert_int_equal(dop_stats_holm(p, 4, a, NULL), DOP_OK);
    assert_near(a[0], 0.03, 1e-15);
    assert_near(a[1], 0.06, 1e-15);
    assert_near(a[2], 0.06, 1e-15);
    assert_near(a[3], 0.02, 1e-15);

    /* NAN entries are not part of the family: m = 2 here */
    const double q[] = {NAN, 0.02, NAN, 0.04};
    assert_int_equal(dop_stats_holm(q, 4, a, NULL), DOP_OK);
    assert_true(isnan(a[0]) && isnan(a[2]));
    assert_near(a[1], 0.04, 1e-15);
    assert_near(a[3], 0.04, 1e-15);

    /* capped at 1, in place */
    double r[] = {0.5, 0.6, 0.7};
    assert_int_equal(dop_stats_holm(r, 3, r, NULL), DOP_OK);
    assert_near(r[0], 1.0, 0);
    assert_near(r[1], 1.0, 0);
    assert_near(r[2], 1.0, 0);

    /* ties keep their (equal) adjusted values; empty family is fine */
    const double t[] = {0.01, 0.01};
    assert_int_equal(dop_stats_holm(t, 2, a, NULL), DOP_OK);
    assert_near(a[0], 0.02, 1e-15);
    assert_near(a[1], 0.02, 1e-15);
    assert_int_equal(dop_stats_holm(NULL, 0, NULL, NULL), DOP_OK);
}

/* A worked one-way repeated-measures ANOVA, 6 subjects x 4 levels:
 *
 *   S1 45 50 55 70    S4 39 35 40 65
 *   S2 42 42 45 60    S5 51 55 59 60
 *   S3 36 41 43 50    S6 44 49 56 72
 *
 * By hand: grand mean 50.166667; level means 42.833333 45.333333 49.666667
 * 62.833333; SS_levels = 6 x 237.8333 = 1427; SS_subjects = 731.33333;
 * SS_total = 2463.3333; SS_error = 305. df 3 and 15, F = (1427/3)/(305/15)
 * = 23.393443.
 * Epsilon computed independently of the library's double-centring, from
 * orthonormal Helmert contrasts C (4 x 3): M = C' S C,
 * eps = tr(M)^2 / (3 tr(M^2)) = 0.45116155. p-values from the regularised
 * incomplete beta, Q_F(F; a, b) = I_{b/(b+aF)}(b/2, a/2) (continued
 * fraction, checked against Simpson integration of the density):
 * p = 6.5648754e-06, p_GG = Q_F(F; 3 eps, 15 eps) = 0.0014375926.
 * The python3 used (no scipy):
 *   X = [[45,50,55,70],[42,42,45,60],[36,41,43,50],[39,35,40,65],
 *        [51,55,59,60],[44,49,56,72]]; n, k = 6, 4
 *   S = [[sum((X[i][a]-cm[a])*(X[i][b]-cm[b]) for i in range(n))/(n-1)
 *         for b in range(k)] for a in range(k)]
 *   C = Helmert rows (1,-1,0,0)/sqrt2, (1,1,-2,0)/sqrt6, (1,1,1,-3)/sqrt12
 *   M = C S C'; eps = tr(M)**2 / ((k-1) * tr(M @ M))
 *   ibeta via Numerical Recipes' betacf (Lentz), Q = ibeta(d2/2, d1/2,
 *   d2/(d2+d1*F)) */
static void test_rm_anova_worked(void **state)
{
    (void)state;
    const double x[] = {45, 50, 55, 70, 42, 42, 45, 60, 36, 41, 43, 50,
                        39, 35, 40, 65, 51, 55, 59, 60, 44, 49, 56, 72};
    dop_rm_anova_result r;
    assert_int_equal(dop_stats_rm_anova(x, 6, 4, &r, NULL), DOP_OK);
    assert_int_equal(r.n_subjects, 6);
    assert_int_equal(r.k_levels, 4);
    assert_near(r.ss_effect, 1427.0, 1e-9);
    assert_near(r.ss_subjects, 731.3333333333, 1e-8);
    assert_near(r.ss_error, 305.0, 1e-9);
    assert_near(r.df_effect, 3.0, 0);
    assert_near(r.df_error, 15.0, 0);
    assert_near(r.f, 23.393442623, 1e-8);
    assert_rel(r.p, 6.564875395e-06, 1e-6);
    assert_near(r.gg_epsilon, 0.45116155, 1e-8);
    assert_rel(r.p_gg, 0.0014375926, 1e-6);
}

/* Two levels: the ANOVA is the paired t-test (F = t^2, same p) and the
 * epsilon is 1 (one contrast: sphericity holds trivially). */
static void test_rm_anova_two_levels(void **state)
{
    (void)state;
    const double drug1[] = {0.7, -1.6, -0.2, -1.2, -0.1, 3.4, 3.7, 0.8, 0.0, 2.0};
    const double drug2[] = {1.9, 0.8, 1.1, 0.1, -0.1, 4.4, 5.5, 1.6, 4.6, 3.4};
    double x[20];
    for (int i = 0; i < 10; i++) {
        x[2 * i] = drug1[i];
        x[2 * i + 1] = drug2[i];
    }
    dop_rm_anova_result r;
    dop_ttest_result t;
    assert_int_equal(dop_stats_rm_anova(x, 10, 2, &r, NULL), DOP_OK);
    assert_int_equal(dop_stats_paired_t(drug2, drug1, 10, &t, NULL), DOP_OK);
    assert_rel(r.f, t.t * t.t, 1e-12);
    assert_rel(r.p, t.p, 1e-9);
    assert_near(r.gg_epsilon, 1.0, 1e-12);
    assert_rel(r.p_gg, r.p, 1e-12);
}

/* Spherical data (compound symmetry: subject offsets plus the same shift
 * pattern with a small independent error) keep epsilon within its bounds
 * [1/(k-1), 1]; adding a constant to every value changes nothing. */
static void test_rm_anova_invariance_and_bounds(void **state)
{
    (void)state;
    const double x[] = {10, 12, 15, 11, 14, 16, 9, 11, 13, 12, 13, 17, 8, 11, 12};
    double y[15];
    for (int i = 0; i < 15; i++) y[i] = x[i] + 1000.0;
    dop_rm_anova_result a, b;
    assert_int_equal(dop_stats_rm_anova(x, 5, 3, &a, NULL), DOP_OK);
    assert_int_equal(dop_stats_rm_anova(y, 5, 3, &b, NULL), DOP_OK);
    assert_rel(b.f, a.f, 1e-9);
    assert_rel(b.gg_epsilon, a.gg_epsilon, 1e-9);
    assert_true(a.gg_epsilon >= 0.5 && a.gg_epsilon <= 1.0);
    assert_true(a.p_gg >= a.p); /* fewer degrees of freedom: never more significant */
}

static void test_rm_anova_degenerate_and_errors(void **state)
{
    (void)state;
    dop_rm_anova_result r;
    dop_error err;
    /* levels differ by exact constants: no error variance */
    const double x[] = {1, 2, 3, 5, 6, 7, 10, 11, 12};
    assert_int_equal(dop_stats_rm_anova(x, 3, 3, &r, NULL), DOP_OK);
    assert_true(isinf(r.f));
    assert_near(r.p, 0.0, 0);
    assert_near(r.gg_epsilon, 1.0, 0);
    /* nothing varies between levels */
    const double c[] = {1, 1, 2, 2, 3, 3};
    assert_int_equal(dop_stats_rm_anova(c, 3, 2, &r, NULL), DOP_OK);
    assert_true(isnan(r.f) && isnan(r.p));
    /* errors */
    assert_int_equal(dop_stats_rm_anova(x, 1, 3, &r, &err), DOP_ERR_NO_DATA);
    assert_true(err.message[0] != '\0');
    assert_int_equal(dop_stats_rm_anova(x, 9, 1, &r, &err), DOP_ERR_NO_DATA);
    const double bad[] = {1, 2, NAN, 4};
    assert_int_equal(dop_stats_rm_anova(bad, 2, 2, &r, &err), DOP_ERR_INVALID_ARG);
    assert_int_equal(dop_stats_rm_anova(NULL, 2, 2, &r, &err), DOP_ERR_INVALID_ARG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_describe),
        cmocka_unit_test(test_paired_t_sleep),
        cmocka_unit_test(test_paired_t_degenerate),
        cmocka_unit_test(test_holm),
        cmocka_unit_test(test_rm_anova_worked),
        cmocka_unit_test(test_rm_anova_two_levels),
        cmocka_unit_test(test_rm_anova_invariance_and_bounds),
        cmocka_unit_test(test_rm_anova_degenerate_and_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* dopflow: the statistics a study reports (within-subject designs).
 *
 *  - paired t-test (two-sided) of one epoch against the reference epoch
 *    over the subjects that have both (Student 1908);
 *  - Holm's step-down adjustment of a family of p-values (Holm 1979),
 *    controlling the family-wise error rate without independence;
 *  - one-way repeated-measures ANOVA across epochs with the
 *    Greenhouse-Geisser sphericity correction (Greenhouse & Geisser 1959;
 *    epsilon from the double-centred covariance matrix of the epoch
 *    columns, Box 1954).
 *
 * Distributions come from GSL (gsl_cdf_tdist_Q, gsl_cdf_fdist_Q); sums are
 * accumulated in double. Functions never allocate except
 * dop_stats_rm_anova (k x k covariance) and dop_stats_holm (an index array). */
#ifndef DOPFLOW_STATS_H
#define DOPFLOW_STATS_H

#include "dopflow/export.h"

#include <stddef.h>

#include "dopflow/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Mean, sample SD (n - 1 denominator) and standard error SD/sqrt(n) of the
 * finite values of x[0..n) (NANs are skipped). *count receives how many
 * values were used; with 0 values all three are NAN, with 1 value the SD
 * and SEM are NAN. Any output pointer may be NULL. */
DOP_API void dop_stats_describe(const double *x, size_t n, size_t *count, double *mean, double *sd, double *sem);

typedef struct dop_ttest_result {
    size_t n;            /* pairs used */
    double mean_diff;    /* mean of x - y */
    double sd_diff;      /* sample SD of x - y */
    double t;            /* mean_diff / (sd_diff / sqrt(n)) */
    double df;           /* n - 1 */
    double p;            /* two-sided: 2 Q_t(|t|; df) */
} dop_ttest_result;

/* Paired t-test of x[i] - y[i], i < n. Every value must be finite (the
 * caller chooses the pairs). When all differences are equal the statistic
 * is degenerate: t = +-inf and p = 0 if their mean is non-zero, t = NAN and
 * p = NAN if they are all zero.
 * Errors: DOP_ERR_NO_DATA (n < 2), DOP_ERR_INVALID_ARG (a non-finite value,
 * NULL pointer). */
DOP_API dop_status dop_stats_paired_t(const double *x, const double *y, size_t n, dop_ttest_result *out,
                                      dop_error *err);

/* Holm step-down adjustment: sort the finite p-values ascending,
 * p_(j) -> max over i <= j of min(1, (m - i + 1) p_(i)), m = number of
 * finite p-values. NAN entries stay NAN and do not count in m. Ties keep
 * their input order. adjusted may equal p.
 * Errors: DOP_ERR_NOMEM, DOP_ERR_INVALID_ARG (NULL with m > 0). */
DOP_API dop_status dop_stats_holm(const double *p, size_t m, double *adjusted, dop_error *err);

typedef struct dop_rm_anova_result {
    size_t n_subjects;   /* rows */
    size_t k_levels;     /* columns (epochs) */
    double ss_effect, ss_subjects, ss_error;
    double df_effect;    /* k - 1 */
    double df_error;     /* (k - 1)(n - 1) */
    double f;            /* (ss_effect / df_effect) / (ss_error / df_error) */
    double p;            /* Q_F(f; df_effect, df_error) */
    double gg_epsilon;   /* Greenhouse-Geisser epsilon, in [1/(k-1), 1] */
    double p_gg;         /* Q_F(f; eps df_effect, eps df_error) */
} dop_rm_anova_result;

/* One-way repeated-measures ANOVA of data[i * k + j] (subject i < n,
 * level j < k; every value finite). Epsilon:
 *   S = sample covariance of the k columns, S* its double-centred form
 *   (S*_jl = S_jl - mean of row j - mean of column l + grand mean),
 *   eps = (trace S*)^2 / ((k - 1) sum_jl S*_jl^2).
 * Degenerate data (no error variance) give f = +inf and p = 0 when the
 * levels differ, f = NAN and p = NAN when nothing varies; eps is then 1.
 * Errors: DOP_ERR_NO_DATA (n < 2 or k < 2), DOP_ERR_INVALID_ARG (a
 * non-finite value), DOP_ERR_NOMEM. */
DOP_API dop_status dop_stats_rm_anova(const double *data, size_t n, size_t k, dop_rm_anova_result *out,
                                      dop_error *err);

#ifdef __cplusplus
}
#endif
#endif

/* Within-subject statistics for studies (see include/dopflow/stats.h).
 * Distributions: GSL. Descriptives: gsl_statistics. */
#include "dopflow/stats.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>

#include <gsl/gsl_cdf.h>
#include <gsl/gsl_statistics_double.h>

void dop_stats_describe(const double *x, size_t n, size_t *count, double *mean, double *sd, double *sem)
{
    /* Two passes over the finite values (GSL's mean and SD are the stable
     * two-pass forms; they need a contiguous array, so compact first when
     * there are NANs, in a small stack buffer or element by element). */
    size_t used = 0;
    double m = NAN, s = NAN, e = NAN;
    for (size_t i = 0; i < n; i++)
        if (isfinite(x[i])) used++;
    if (used == n && n > 0) {
        m = gsl_stats_mean(x, 1, n);
        if (n > 1) s = gsl_stats_sd_m(x, 1, n, m);
    } else if (used > 0) {
        /* Welford's update over the finite values, no allocation. */
        double mu = 0.0, m2 = 0.0;
        size_t j = 0;
        for (size_t i = 0; i < n; i++) {
            if (!isfinite(x[i])) continue;
            j++;
            double d = x[i] - mu;
            mu += d / (double)j;
            m2 += d * (x[i] - mu);
        }
        m = mu;
        if (used > 1) s = sqrt(m2 / (double)(used - 1));
    }
    if (used > 1) e = s / sqrt((double)used);
    if (count) *count = used;
    if (mean) *mean = m;
    if (sd) *sd = s;
    if (sem) *sem = e;
}

dop_status dop_stats_paired_t(const double *x, const double *y, size_t n, dop_ttest_result *out,
                              dop_error *err)
{
    if (!x || !y || !out) return dop_error_set(err, DOP_ERR_INVALID_ARG, "paired t-test: NULL argument");
    if (n < 2) return dop_error_set(err, DOP_ERR_NO_DATA, "paired t-test: %zu pair(s), need at least 2", n);
    double mean = 0.0;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(x[i]) || !isfinite(y[i]))
            return dop_error_set(err, DOP_ERR_INVALID_ARG, "paired t-test: pair %zu is not finite", i);
        mean += x[i] - y[i];
    }
    mean /= (double)n;
    double ss = 0.0;
    for (size_t i = 0; i < n; i++) {
        double d = (x[i] - y[i]) - mean;
        ss += d * d;
    }
    out->n = n;
    out->mean_diff = mean;
    out->sd_diff = sqrt(ss / (double)(n - 1));
    out->df = (double)(n - 1);
    if (out->sd_diff > 0.0) {
        out->t = mean / (out->sd_diff / sqrt((double)n));
        out->p = 2.0 * gsl_cdf_tdist_Q(fabs(out->t), out->df);
        if (out->p > 1.0) out->p = 1.0;
    } else if (mean != 0.0) {
        out->t = mean > 0 ? INFINITY : -INFINITY;
        out->p = 0.0;
    } else {
        out->t = NAN;
        out->p = NAN;
    }
    return DOP_OK;
}

typedef struct holm_item {
    double p;
    size_t index;
} holm_item;

static int holm_compare(const void *a, const void *b)
{
    const holm_item *x = a, *y = b;
    if (x->p < y->p) return -1;
    if (x->p > y->p) return 1;
    return (x->index > y->index) - (x->index < y->index); /* stable: input order */
}

dop_status dop_stats_holm(const double *p, size_t m, double *adjusted, dop_error *err)
{
    if (m == 0) return DOP_OK;
    if (!p || !adjusted) return dop_error_set(err, DOP_ERR_INVALID_ARG, "Holm adjustment: NULL argument");
    holm_item *items = malloc(m * sizeof *items);
    if (!items) return dop_error_set(err, DOP_ERR_NOMEM, "Holm adjustment: out of memory");
    size_t finite = 0;
    for (size_t i = 0; i < m; i++)
        if (!isnan(p[i])) items[finite++] = (holm_item){p[i], i};
    qsort(items, finite, sizeof *items, holm_compare);
    for (size_t i = 0; i < m; i++)
        if (isnan(p[i])) adjusted[i] = NAN;
    double running = 0.0;
    for (size_t j = 0; j < finite; j++) {
        double a = (double)(finite - j) * items[j].p;
        if (a > 1.0) a = 1.0;
        if (a > running) running = a; /* monotone: never below an earlier step */
        adjusted[items[j].index] = running;
    }
    free(items);
    return DOP_OK;
}

dop_status dop_stats_rm_anova(const double *data, size_t n, size_t k, dop_rm_anova_result *out,
                              dop_error *err)
{
    if (!data || !out) return dop_error_set(err, DOP_ERR_INVALID_ARG, "repeated-measures ANOVA: NULL argument");
    if (n < 2 || k < 2)
        return dop_error_set(err, DOP_ERR_NO_DATA,
                             "repeated-measures ANOVA: %zu subject(s) x %zu level(s), need at least 2 x 2", n, k);
    for (size_t i = 0; i < n * k; i++)
        if (!isfinite(data[i]))
            return dop_error_set(err, DOP_ERR_INVALID_ARG,
                                 "repeated-measures ANOVA: value of subject %zu, level %zu is not finite", i / k, i % k);

    double *col_mean = calloc(k, sizeof *col_mean);
    double *cov = malloc(k * k * sizeof *cov);
    double *cov_row_mean = calloc(k, sizeof *cov_row_mean);
    if (!col_mean || !cov || !cov_row_mean) {
        free(col_mean);
        free(cov);
        free(cov_row_mean);
        return dop_error_set(err, DOP_ERR_NOMEM, "repeated-measures ANOVA: out of memory");
    }

    /* Sums of squares: effect (levels), subjects, and the residual computed
     * directly as sum (x_ij - row_i - col_j + grand)^2 rather than by
     * subtraction, which loses digits when the effect dominates. */
    double grand = gsl_stats_mean(data, 1, n * k);
    for (size_t j = 0; j < k; j++) col_mean[j] = gsl_stats_mean(data + j, k, n);
    double ss_effect = 0.0, ss_subjects = 0.0, ss_error = 0.0, ss_total = 0.0;
    for (size_t j = 0; j < k; j++) ss_effect += (col_mean[j] - grand) * (col_mean[j] - grand);
    ss_effect *= (double)n;
    for (size_t i = 0; i < n; i++) {
        double row = gsl_stats_mean(data + i * k, 1, k);
        ss_subjects += (row - grand) * (row - grand);
        for (size_t j = 0; j < k; j++) {
            double r = data[i * k + j] - row - col_mean[j] + grand;
            ss_error += r * r;
            ss_total += (data[i * k + j] - grand) * (data[i * k + j] - grand);
        }
    }
    ss_subjects *= (double)k;

    out->n_subjects = n;
    out->k_levels = k;
    out->ss_effect = ss_effect;
    out->ss_subjects = ss_subjects;
    out->ss_error = ss_error;
    out->df_effect = (double)(k - 1);
    out->df_error = (double)(k - 1) * (double)(n - 1);

    /* Residual below rounding noise of the total counts as none. */
    int no_error = ss_error <= 64.0 * DBL_EPSILON * ss_total;
    int no_effect = ss_effect <= 64.0 * DBL_EPSILON * ss_total;
    if (!no_error) {
        out->f = (ss_effect / out->df_effect) / (ss_error / out->df_error);
        out->p = gsl_cdf_fdist_Q(out->f, out->df_effect, out->df_error);
    } else if (!no_effect) {
        out->f = INFINITY;
        out->p = 0.0;
    } else {
        out->f = NAN;
        out->p = NAN;
    }

    /* Greenhouse-Geisser epsilon from the double-centred covariance matrix. */
    for (size_t j = 0; j < k; j++)
        for (size_t l = j; l < k; l++) {
            double c = gsl_stats_covariance_m(data + j, k, data + l, k, n, col_mean[j], col_mean[l]);
            cov[j * k + l] = c;
            cov[l * k + j] = c;
        }
    double cov_grand = 0.0;
    for (size_t j = 0; j < k; j++) {
        for (size_t l = 0; l < k; l++) cov_row_mean[j] += cov[j * k + l];
        cov_row_mean[j] /= (double)k;
        cov_grand += cov_row_mean[j];
    }
    cov_grand /= (double)k;
    double trace = 0.0, sum_sq = 0.0;
    for (size_t j = 0; j < k; j++)
        for (size_t l = 0; l < k; l++) {
            /* S is symmetric: the mean of column l equals the mean of row l. */
            double c = cov[j * k + l] - cov_row_mean[j] - cov_row_mean[l] + cov_grand;
            if (j == l) trace += c;
            sum_sq += c * c;
        }
    double eps = 1.0;
    if (sum_sq > 0.0 && !no_error) {
        eps = trace * trace / ((double)(k - 1) * sum_sq);
        double lower = 1.0 / (double)(k - 1);
        if (eps < lower) eps = lower; /* rounding only: the bound is exact in theory */
        if (eps > 1.0) eps = 1.0;
    }
    out->gg_epsilon = eps;
    if (isfinite(out->f))
        out->p_gg = gsl_cdf_fdist_Q(out->f, eps * out->df_effect, eps * out->df_error);
    else
        out->p_gg = out->p;

    free(col_mean);
    free(cov);
    free(cov_row_mean);
    return DOP_OK;
}

/* The CSV outputs of a study: recordings.csv (the result files' rows with
 * the design columns), failures.csv, conditions.csv (per artery x
 * condition x epoch) and anova.csv (per artery x condition), and the CSV
 * quoting every study file uses. Numbers as %.6g, empty when not finite. */
#include "study/study_internal.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/fs.h"
#include "dopflow/dopflow.h"

/* One CSV field, quoted when it has to be (RFC 4180). */
void study_csv_put(FILE *f, const char *s)
{
    size_t n = strlen(s);
    int quote = strpbrk(s, ",\"\r\n") != NULL ||
                (n && (s[0] == ' ' || s[0] == '\t' || s[n - 1] == ' ' || s[n - 1] == '\t'));
    if (!quote) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"') fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

void study_csv_design(FILE *f, const study_entry *e)
{
    const char *cells[] = {e->subject, e->condition, e->artery, e->file};
    for (int c = 0; c < 4; c++) {
        if (c) fputc(',', f);
        study_csv_put(f, cells[c]);
    }
}

/* A number for a CSV cell: empty when not finite. */
static void csv_num(FILE *f, double x)
{
    if (isfinite(x)) fprintf(f, "%.6g", x);
}

/* n numbers separated by commas (no leading or trailing comma). */
static void csv_nums(FILE *f, const double *x, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (i) fputc(',', f);
        csv_num(f, x[i]);
    }
}

/* The name of a summary column in the CSV (the one schema). */
#define SUMMARY_NAME(column) (dop_result_column_of(DOP_RESULT_SUMMARY, column)->csv_name)

/* The position of a summary column among the CSV columns, or SIZE_MAX. */
static size_t summary_csv_position(int column)
{
    const dop_result_table *t = dop_result_schema(DOP_RESULT_SUMMARY);
    for (size_t i = 0; i < t->csv_count; i++)
        if (t->csv_order[i] == column) return i;
    return SIZE_MAX;
}

dop_status study_columns_find(study_columns *rc, dop_error *err)
{
    rc->n = dop_result_schema(DOP_RESULT_SUMMARY)->csv_count;
    rc->epoch = summary_csv_position(DOP_SUMMARY_EPOCH);
    rc->velocity = summary_csv_position(DOP_SUMMARY_MEAN_VELOCITY);
    rc->flow = summary_csv_position(DOP_SUMMARY_FLOW);
    if (rc->epoch == SIZE_MAX || rc->velocity == SIZE_MAX || rc->flow == SIZE_MAX)
        return dop_error_set(err, DOP_ERR_FORMAT, "summary columns lack %s, %s or %s", SUMMARY_NAME(DOP_SUMMARY_EPOCH),
                             SUMMARY_NAME(DOP_SUMMARY_MEAN_VELOCITY), SUMMARY_NAME(DOP_SUMMARY_FLOW));
    return DOP_OK;
}

/* What one recording's result file is read with: where its rows go, and
 * where its epoch values are kept. */
typedef struct copy_state {
    FILE *out;
    const study_entry *e;
    const study_columns *rc;
    const study_epochs *es;
    const char *path;
    double *velocity, *flow; /* es->k each */
} copy_state;

/* The header must be the summary header of this dopflow version. */
static dop_status check_header(const copy_state *c, const char *const *fields, size_t count, dop_error *err)
{
    const dop_result_table *t = dop_result_schema(DOP_RESULT_SUMMARY);
    int same = count == t->csv_count;
    for (size_t i = 0; same && i < count; i++) same = strcmp(fields[i], t->columns[t->csv_order[i]].csv_name) == 0;
    if (!same)
        return dop_error_set(err, DOP_ERR_FORMAT, "%s: written by another dopflow version (summary columns differ); "
                             "run the study again without --resume", c->path);
    return DOP_OK;
}

/* One result row: into recordings.csv after the design columns, and its
 * epoch's mean velocity and flow kept for the statistics. */
static dop_status copy_row(const char *const *fields, size_t count, size_t row, void *user, dop_error *err)
{
    copy_state *c = user;
    if (row == 0) return check_header(c, fields, count, err);
    if (count != c->rc->n)
        return dop_error_set(err, DOP_ERR_FORMAT, "%s line %zu: %zu fields, expected %zu", c->path, row + 1, count,
                             c->rc->n);
    study_csv_design(c->out, c->e);
    for (size_t i = 0; i < count; i++) {
        fputc(',', c->out);
        study_csv_put(c->out, fields[i]);
    }
    fputc('\n', c->out);
    for (size_t j = 0; j < c->es->k; j++)
        if (strcmp(fields[c->rc->epoch], c->es->labels[j]) == 0) {
            c->velocity[j] = dop_result_csv_number(fields[c->rc->velocity]);
            c->flow[j] = dop_result_csv_number(fields[c->rc->flow]);
            break;
        }
    return DOP_OK;
}

/* Copy one recording's result rows into recordings.csv and keep the
 * epoch values (k per recording) for the statistics. */
dop_status study_csv_copy_results(FILE *out, const study_entry *e, const study_columns *rc, const study_epochs *es,
                                  double *velocity, double *flow, dop_error *err)
{
    char name[STUDY_KEY_HEX + 8];
    snprintf(name, sizeof name, "%s.csv", e->key);
    char *path = dop_fs_path_join(e->results_dir, name);
    if (!path) return dop_error_set(err, DOP_ERR_NOMEM, "out of memory");
    dop_status st;
    if (!dop_fs_is_file(path)) {
        st = dop_error_set(err, DOP_ERR_IO, "%s: result of manifest row %zu (%s) is missing: %s", path, e->row + 1,
                           e->file, strerror(ENOENT));
    } else {
        copy_state c = {out, e, rc, es, path, velocity, flow};
        st = dop_result_csv_read(path, copy_row, &c, err);
    }
    free(path);
    return st;
}

void study_csv_failure(FILE *f, const study_entry *e)
{
    study_csv_design(f, e);
    fputc(',', f);
    study_csv_put(f, e->error);
    fputc('\n', f);
}

void study_csv_conditions(FILE *f, const study_table *t, const study_epochs *es)
{
    fputs(dop_result_csv_header(DOP_RESULT_CONDITIONS), f);
    fputc('\n', f);
    for (size_t gi = 0; gi < t->n_groups; gi++) {
        const study_group *g = &t->groups[gi];
        for (size_t c = 0; c < t->k; c++) {
            const study_group_epoch *ge = &g->ep[c];
            study_csv_put(f, g->artery);
            fputc(',', f);
            study_csv_put(f, g->condition);
            fprintf(f, ",%s,%zu,", es->labels[c], ge->n);
            const double stats[] = {ge->v_mean, ge->v_sd, ge->v_sem, ge->q_mean, ge->q_sd, ge->q_sem};
            csv_nums(f, stats, sizeof stats / sizeof stats[0]);
            fprintf(f, ",%zu,", ge->n_flow);
            if (c != t->ref) {
                csv_num(f, ge->change_pct);
                fprintf(f, ",%zu,", ge->n_paired);
                const double tests[] = {ge->p, ge->p_adj};
                csv_nums(f, tests, 2);
            } else {
                fputs(",,,", f);
            }
            fputc('\n', f);
        }
    }
}

void study_csv_anova(FILE *f, const study_table *t)
{
    fputs(dop_result_csv_header(DOP_RESULT_ANOVA), f);
    fputc('\n', f);
    for (size_t gi = 0; gi < t->n_groups; gi++) {
        const study_group *g = &t->groups[gi];
        study_csv_put(f, g->artery);
        fputc(',', f);
        study_csv_put(f, g->condition);
        fprintf(f, ",%zu,%zu,", g->anova.n_subjects, t->k);
        if (g->anova_ok) {
            csv_num(f, g->anova.f);
            fprintf(f, ",%.6g,%.6g,", g->anova.df_effect, g->anova.df_error);
            const double rest[] = {g->anova.p, g->anova.gg_epsilon, g->anova.p_gg};
            csv_nums(f, rest, 3);
        } else {
            fputs(",,,,,", f);
        }
        fputc('\n', f);
    }
}

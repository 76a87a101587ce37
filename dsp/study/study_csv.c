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

/* Split a result line (numbers and an epoch label: no quoting) in place. */
static size_t split_commas(char *line, char **fields, size_t cap)
{
    size_t n = 0;
    char *s = line;
    while (n < cap) {
        fields[n++] = s;
        char *c = strchr(s, ',');
        if (!c) break;
        *c = '\0';
        s = c + 1;
    }
    return n;
}

static double parse_cell(const char *s)
{
    if (!*s) return NAN;
    char *end;
    double v = strtod(s, &end);
    return *end ? NAN : v;
}

dop_status study_columns_find(study_columns *rc, dop_error *err)
{
    char *h = strdup(dop_summary_csv_header());
    if (!h) return dop_error_set(err, DOP_ERR_NOMEM, "out of memory");
    char *fields[256];
    rc->n = split_commas(h, fields, 256);
    rc->epoch = rc->velocity = rc->flow = SIZE_MAX;
    for (size_t i = 0; i < rc->n; i++) {
        if (strcmp(fields[i], "epoch") == 0) rc->epoch = i;
        if (strcmp(fields[i], "mean_velocity_cm_s") == 0) rc->velocity = i;
        if (strcmp(fields[i], "flow_ml_min") == 0) rc->flow = i;
    }
    free(h);
    if (rc->epoch == SIZE_MAX || rc->velocity == SIZE_MAX || rc->flow == SIZE_MAX)
        return dop_error_set(err, DOP_ERR_FORMAT, "summary columns lack epoch, mean_velocity_cm_s or flow_ml_min");
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
    FILE *in = fopen(path, "rb");
    if (!in) {
        dop_status st = dop_error_set(err, DOP_ERR_IO, "%s: result of manifest row %zu (%s) is missing: %s", path,
                                      e->row + 1, e->file, strerror(errno));
        free(path);
        return st;
    }
    char *line = NULL, *copy = NULL;
    size_t cap = 0;
    ssize_t got;
    size_t n_line = 0;
    dop_status st = DOP_OK;
    const char *header = dop_summary_csv_header();
    char **fields = malloc(rc->n * sizeof *fields);
    if (!fields) st = dop_error_set(err, DOP_ERR_NOMEM, "out of memory");
    while (st == DOP_OK && (got = getline(&line, &cap, in)) > 0) {
        while (got > 0 && (line[got - 1] == '\n' || line[got - 1] == '\r')) line[--got] = '\0';
        if (n_line++ == 0) {
            if (strcmp(line, header) != 0)
                st = dop_error_set(err, DOP_ERR_FORMAT, "%s: written by another dopflow version (summary "
                                   "columns differ); run the study again without --resume", path);
            continue;
        }
        study_csv_design(out, e);
        fputc(',', out);
        fputs(line, out);
        fputc('\n', out);
        free(copy);
        copy = strdup(line);
        if (!copy) {
            st = dop_error_set(err, DOP_ERR_NOMEM, "out of memory");
            break;
        }
        size_t nf = split_commas(copy, fields, rc->n);
        if (nf != rc->n) {
            st = dop_error_set(err, DOP_ERR_FORMAT, "%s line %zu: %zu fields, expected %zu", path, n_line, nf, rc->n);
            break;
        }
        for (size_t j = 0; j < es->k; j++)
            if (strcmp(fields[rc->epoch], es->labels[j]) == 0) {
                velocity[j] = parse_cell(fields[rc->velocity]);
                flow[j] = parse_cell(fields[rc->flow]);
                break;
            }
    }
    if (st == DOP_OK && n_line == 0)
        st = dop_error_set(err, DOP_ERR_FORMAT, "%s: empty result file", path);
    free(fields);
    free(copy);
    free(line);
    fclose(in);
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
    fputs("artery,condition,epoch,n,mean_velocity_cm_s_mean,mean_velocity_cm_s_sd,mean_velocity_cm_s_sem,"
          "flow_ml_min_mean,flow_ml_min_sd,flow_ml_min_sem,n_flow,flow_change_pct,n_paired,p_value,p_adjusted\n",
          f);
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
    fputs("artery,condition,n,k,F,df_effect,df_error,p,gg_epsilon,p_gg\n", f);
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

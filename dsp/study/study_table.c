/* The study table (see study_table.h): groups, descriptive statistics,
 * paired t-tests (Student 1908) with Holm's adjustment (Holm 1979) and the
 * repeated-measures ANOVA with the Greenhouse-Geisser correction, computed
 * from the recordings' epoch values; statistics over subjects, a subject's
 * recordings of one artery x condition averaged first. Pure: no files. */
#include "study/study_table.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

void study_epochs_free(study_epochs *es)
{
    free(es->epochs);
    free((void *)es->labels);
    memset(es, 0, sizeof *es);
}

dop_status study_epochs_make(const char *spec, const char *reference, study_epochs *es, dop_error *err)
{
    memset(es, 0, sizeof *es);
    if (spec) {
        dop_status st = dop_epochs_parse(spec, 0.0, &es->epochs, &es->k, err);
        if (st != DOP_OK) return st;
    } else {
        es->k = 1;
    }
    es->labels = calloc(es->k, sizeof *es->labels);
    if (!es->labels) {
        study_epochs_free(es);
        return dop_error_set(err, DOP_ERR_NOMEM, "out of memory");
    }
    for (size_t j = 0; j < es->k; j++) es->labels[j] = spec ? es->epochs[j].label : "all";
    es->ref = 0;
    if (reference) {
        size_t j = 0;
        while (j < es->k && strcmp(es->labels[j], reference) != 0) j++;
        if (j == es->k) {
            study_epochs_free(es);
            return dop_error_set(err, DOP_ERR_INVALID_ARG, "reference epoch '%s' is not one of the epochs", reference);
        }
        es->ref = j;
    }
    return DOP_OK;
}

/* Sorting entries by names and then by manifest row, through pointers so
 * that no comparator needs global state (the library has none). */
#define ENTRY_OF(p) (*(const study_entry *const *)(p))

static int cmp_row(const study_entry *a, const study_entry *b) { return (a->row > b->row) - (a->row < b->row); }
static int cmp_group(const void *pa, const void *pb)
{
    const study_entry *a = ENTRY_OF(pa), *b = ENTRY_OF(pb);
    int c = strcmp(a->artery, b->artery);
    if (!c) c = strcmp(a->condition, b->condition);
    if (!c) c = strcmp(a->subject, b->subject);
    return c ? c : cmp_row(a, b);
}
static int cmp_subject(const void *pa, const void *pb)
{
    int c = strcmp(ENTRY_OF(pa)->subject, ENTRY_OF(pb)->subject);
    return c ? c : cmp_row(ENTRY_OF(pa), ENTRY_OF(pb));
}
static int cmp_artery(const void *pa, const void *pb)
{
    int c = strcmp(ENTRY_OF(pa)->artery, ENTRY_OF(pb)->artery);
    return c ? c : cmp_row(ENTRY_OF(pa), ENTRY_OF(pb));
}
static int cmp_condition(const void *pa, const void *pb)
{
    int c = strcmp(ENTRY_OF(pa)->condition, ENTRY_OF(pb)->condition);
    return c ? c : cmp_row(ENTRY_OF(pa), ENTRY_OF(pb));
}
static int cmp_first_row(const void *pa, const void *pb) { return cmp_row(ENTRY_OF(pa), ENTRY_OF(pb)); }

typedef const char *(*name_of_fn)(const study_entry *e);
static const char *name_subject(const study_entry *e) { return e->subject; }
static const char *name_artery(const study_entry *e) { return e->artery; }
static const char *name_condition(const study_entry *e) { return e->condition; }

/* Distinct names in order of first appearance, as positions into
 * entries; SIZE_MAX on no memory. O(n log n). */
static size_t distinct_names(const study_entry *entries, size_t n, int (*cmp)(const void *, const void *),
                             name_of_fn name, size_t **out)
{
    const study_entry **ptr = malloc((n ? n : 1) * sizeof *ptr);
    size_t *pos = malloc((n ? n : 1) * sizeof *pos);
    if (!ptr || !pos) {
        free(ptr);
        free(pos);
        return SIZE_MAX;
    }
    for (size_t i = 0; i < n; i++) ptr[i] = &entries[i];
    qsort(ptr, n, sizeof *ptr, cmp);
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (i == 0 || strcmp(name(ptr[i]), name(ptr[m - 1])) != 0) ptr[m++] = ptr[i];
    qsort(ptr, m, sizeof *ptr, cmp_first_row);
    for (size_t i = 0; i < m; i++) pos[i] = (size_t)(ptr[i] - entries);
    free(ptr);
    *out = pos;
    return m;
}

static int cmp_group_order(const void *pa, const void *pb)
{
    const study_group *a = pa, *b = pb;
    return (a->min_row > b->min_row) - (a->min_row < b->min_row);
}

/* Scratch of the per-group statistics, sized for the largest group. */
typedef struct scratch {
    const study_entry **order; /* entries grouped: artery, condition, subject, row */
    double *mat_v, *mat_q;     /* subject x epoch means of the group */
    double *col, *col2, *anova_data, *pvals;
} scratch;

static void scratch_free(scratch *s)
{
    free((void *)s->order);
    free(s->mat_v);
    free(s->mat_q);
    free(s->col);
    free(s->col2);
    free(s->anova_data);
    free(s->pvals);
}

/* Groups (artery x condition) over the grouped order, in order of their
 * first manifest row. -1 on no memory. */
static int make_groups(const study_values *in, scratch *sc, study_table *t)
{
    size_t n = in->n;
    sc->order = malloc((n ? n : 1) * sizeof *sc->order);
    t->groups = calloc(n ? n : 1, sizeof *t->groups);
    if (!sc->order || !t->groups) return -1;
    for (size_t i = 0; i < n; i++) sc->order[i] = &in->entries[i];
    qsort(sc->order, n, sizeof *sc->order, cmp_group);
    for (size_t i = 0; i < n; i++) {
        const study_entry *e = sc->order[i];
        study_group *g = t->n_groups ? &t->groups[t->n_groups - 1] : NULL;
        if (!g || strcmp(g->artery, e->artery) != 0 || strcmp(g->condition, e->condition) != 0) {
            g = &t->groups[t->n_groups++];
            g->artery = e->artery;
            g->condition = e->condition;
            g->first = i;
            g->min_row = e->row;
        }
        g->count++;
        if (e->row < g->min_row) g->min_row = e->row;
    }
    qsort(t->groups, t->n_groups, sizeof *t->groups, cmp_group_order);
    return 0;
}

static int alloc_scratch(const study_values *in, const study_table *t, scratch *sc)
{
    size_t k = in->k, max_count = 1;
    for (size_t g = 0; g < t->n_groups; g++)
        if (t->groups[g].count > max_count) max_count = t->groups[g].count;
    sc->mat_v = malloc(max_count * k * sizeof *sc->mat_v);
    sc->mat_q = malloc(max_count * k * sizeof *sc->mat_q);
    sc->col = malloc(max_count * sizeof *sc->col);
    sc->col2 = malloc(max_count * sizeof *sc->col2);
    sc->anova_data = malloc(max_count * k * sizeof *sc->anova_data);
    sc->pvals = malloc(k * sizeof *sc->pvals);
    return sc->mat_v && sc->mat_q && sc->col && sc->col2 && sc->anova_data && sc->pvals ? 0 : -1;
}

/* Row s of the subject matrices: the mean over the subject's analysed
 * recordings order[i..j) of each epoch's finite values. Returns how many
 * recordings were analysed. */
static size_t subject_means(const study_values *in, const scratch *sc, size_t i, size_t j, size_t s)
{
    size_t k = in->k, analysed = 0;
    for (size_t c = 0; c < k; c++) {
        double sv = 0, sq = 0;
        size_t nv = 0, nq = 0;
        for (size_t r = i; r < j; r++) {
            const study_entry *e = sc->order[r];
            if (e->error) continue;
            size_t at = (size_t)(e - in->entries) * k + c;
            double v = in->velocity[at], q = in->flow[at];
            if (isfinite(v)) sv += v, nv++;
            if (isfinite(q)) sq += q, nq++;
        }
        sc->mat_v[s * k + c] = nv ? sv / (double)nv : NAN;
        sc->mat_q[s * k + c] = nq ? sq / (double)nq : NAN;
    }
    for (size_t r = i; r < j; r++)
        if (!sc->order[r]->error) analysed++;
    return analysed;
}

/* Note subject row s of group gi in the averaged and excluded lists. */
static void note_subject(study_table *t, const scratch *sc, size_t gi, const char *subject, size_t analysed, size_t s)
{
    size_t k = t->k;
    if (analysed > 1) t->averaged[t->n_averaged++] = (study_averaged){gi, subject, analysed};
    if (k < 2) return;
    unsigned char *flags = t->missing + t->n_exclusions * k;
    int missing = 0;
    for (size_t c = 0; c < k; c++) {
        flags[c] = !isfinite(sc->mat_q[s * k + c]);
        missing |= flags[c];
    }
    if (missing) t->exclusions[t->n_exclusions++] = (study_exclusion){gi, subject, flags};
}

/* The subject x epoch matrices of group gi (subjects are runs of equal
 * subject inside the group's range of the grouped order); returns the
 * number of subjects with an analysed recording. */
static size_t group_subjects(const study_values *in, const scratch *sc, study_table *t, size_t gi)
{
    const study_group *g = &t->groups[gi];
    size_t s = 0, i = g->first, end = g->first + g->count;
    while (i < end) {
        size_t j = i;
        while (j < end && strcmp(sc->order[j]->subject, sc->order[i]->subject) == 0) j++;
        size_t analysed = subject_means(in, sc, i, j, s);
        if (analysed > 0) {
            note_subject(t, sc, gi, sc->order[i]->subject, analysed, s);
            s++;
        }
        i = j;
    }
    return s;
}

/* Descriptives per epoch and paired t-tests of flow against the reference
 * epoch over the subjects with both; Holm across the epochs. -1 on no memory. */
static int group_tests(study_group *g, const scratch *sc, size_t s, size_t k, size_t ref)
{
    for (size_t c = 0; c < k; c++) {
        study_group_epoch *ge = &g->ep[c];
        for (size_t r = 0; r < s; r++) sc->col[r] = sc->mat_v[r * k + c];
        dop_stats_describe(sc->col, s, &ge->n, &ge->v_mean, &ge->v_sd, &ge->v_sem);
        for (size_t r = 0; r < s; r++) sc->col[r] = sc->mat_q[r * k + c];
        dop_stats_describe(sc->col, s, &ge->n_flow, &ge->q_mean, &ge->q_sd, &ge->q_sem);
        ge->change_pct = ge->p = ge->p_adj = NAN;
        sc->pvals[c] = NAN;
        if (c == ref) continue;
        size_t m = 0;
        double sum_x = 0, sum_r = 0;
        for (size_t r = 0; r < s; r++) {
            double x = sc->mat_q[r * k + c], y = sc->mat_q[r * k + ref];
            if (!isfinite(x) || !isfinite(y)) continue;
            sc->col[m] = x;
            sc->col2[m] = y;
            sum_x += x;
            sum_r += y;
            m++;
        }
        ge->n_paired = m;
        if (m > 0 && sum_r != 0.0) ge->change_pct = 100.0 * (sum_x - sum_r) / sum_r;
        dop_ttest_result tt;
        if (m >= 2 && dop_stats_paired_t(sc->col, sc->col2, m, &tt, NULL) == DOP_OK) ge->p = tt.p;
        sc->pvals[c] = ge->p;
    }
    double *adj = malloc(k * sizeof *adj);
    if (!adj || dop_stats_holm(sc->pvals, k, adj, NULL) != DOP_OK) {
        free(adj);
        return -1;
    }
    for (size_t c = 0; c < k; c++) g->ep[c].p_adj = adj[c];
    free(adj);
    return 0;
}

/* Repeated-measures ANOVA of flow over the subjects with every epoch. */
static void group_anova(study_group *g, const scratch *sc, size_t s, size_t k)
{
    size_t m = 0;
    for (size_t r = 0; r < s; r++) {
        int complete = 1;
        for (size_t c = 0; c < k; c++)
            if (!isfinite(sc->mat_q[r * k + c])) complete = 0;
        if (!complete) continue;
        memcpy(sc->anova_data + m * k, sc->mat_q + r * k, k * sizeof *sc->anova_data);
        m++;
    }
    g->anova_excluded = s - m;
    g->anova.n_subjects = m;
    g->anova.k_levels = k;
    g->anova_ok = dop_stats_rm_anova(sc->anova_data, m, k, &g->anova, NULL) == DOP_OK;
}

/* The names of the design and the lists of averaged and excluded subjects
 * (at most one item per entry). -1 on no memory. */
static int describe_design(const study_values *in, study_table *t)
{
    size_t n = in->n, *subjects = NULL;
    t->n_subjects = distinct_names(in->entries, n, cmp_subject, name_subject, &subjects);
    free(subjects);
    t->n_arteries = distinct_names(in->entries, n, cmp_artery, name_artery, &t->arteries);
    t->n_conditions = distinct_names(in->entries, n, cmp_condition, name_condition, &t->conditions);
    if (t->n_subjects == SIZE_MAX || t->n_arteries == SIZE_MAX || t->n_conditions == SIZE_MAX) return -1;
    for (size_t i = 0; i < n; i++) t->failed += in->entries[i].error != NULL;
    t->averaged = malloc((n ? n : 1) * sizeof *t->averaged);
    t->exclusions = malloc((n ? n : 1) * sizeof *t->exclusions);
    t->missing = malloc((n ? n : 1) * in->k);
    return t->averaged && t->exclusions && t->missing ? 0 : -1;
}

dop_status study_table_build(const study_values *in, study_table *out, dop_error *err)
{
    study_table t;
    memset(&t, 0, sizeof t);
    t.k = in->k;
    t.ref = in->ref;
    scratch sc;
    memset(&sc, 0, sizeof sc);
    int bad = make_groups(in, &sc, &t) != 0 || describe_design(in, &t) != 0 || alloc_scratch(in, &t, &sc) != 0;
    for (size_t gi = 0; gi < t.n_groups && !bad; gi++) {
        study_group *g = &t.groups[gi];
        g->ep = calloc(t.k, sizeof *g->ep);
        if (!g->ep) {
            bad = 1;
            break;
        }
        g->n_subjects = group_subjects(in, &sc, &t, gi);
        bad = group_tests(g, &sc, g->n_subjects, t.k, t.ref) != 0;
        if (!bad) group_anova(g, &sc, g->n_subjects, t.k);
    }
    scratch_free(&sc);
    if (bad) {
        study_table_free(&t);
        memset(out, 0, sizeof *out);
        return dop_error_set(err, DOP_ERR_NOMEM, "out of memory");
    }
    *out = t;
    return DOP_OK;
}

void study_table_free(study_table *t)
{
    for (size_t g = 0; t->groups && g < t->n_groups; g++) free(t->groups[g].ep);
    free(t->groups);
    free(t->arteries);
    free(t->conditions);
    free(t->averaged);
    free(t->exclusions);
    free(t->missing);
    memset(t, 0, sizeof *t);
}

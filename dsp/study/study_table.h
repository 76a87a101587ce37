/* The pure part of a study's aggregation (study_table.c): the recordings'
 * epoch values in; groups (artery x condition), descriptive statistics,
 * paired t-tests against the reference epoch with Holm's adjustment, the
 * repeated-measures ANOVA and the exclusions out, as a struct. No files:
 * the writers (study_csv.c, study_report.c) print the table, and
 * tests/study/test_study_table.c checks the statistics without any I/O. */
#ifndef DOPFLOW_STUDY_TABLE_H
#define DOPFLOW_STUDY_TABLE_H

#include <stddef.h>

#include "dopflow/stats.h"
#include "dopflow/status.h"
#include "dopflow/summary.h"

#define STUDY_KEY_HEX 64 /* hex digits of a result key (SHA-256) */

/* One manifest row of the study folder. */
typedef struct study_entry {
    size_t row;                /* manifest row, from 0 */
    const char *subject, *condition, *artery, *file;
    char key[STUDY_KEY_HEX + 1];
    const char *error;         /* NULL = analysed; results in results_dir/KEY.csv */
    const char *results_dir;
} study_entry;

/* The epochs of a study: parsed relative bounds and their labels. */
typedef struct study_epochs {
    dop_epoch *epochs;   /* relative bounds (offset 0); NULL for "all" */
    size_t k;
    const char **labels; /* k labels */
    size_t ref;          /* the reference epoch */
} study_epochs;

/* spec NULL = one epoch "all"; reference NULL = the first epoch.
 * Errors: DOP_ERR_INVALID_ARG (spec, unknown reference), DOP_ERR_NOMEM. */
dop_status study_epochs_make(const char *spec, const char *reference, study_epochs *es, dop_error *err);
void study_epochs_free(study_epochs *es);

/* What the table is built from. */
typedef struct study_values {
    const study_entry *entries; /* in manifest order */
    size_t n;
    size_t k, ref;              /* epochs and the reference epoch */
    const double *velocity;     /* n x k mean velocity, cm/s: entry i, epoch j at [i k + j]; NAN = missing */
    const double *flow;         /* n x k flow, ml/min, likewise */
} study_values;

/* Statistics of one artery x condition in one epoch, over subjects (a
 * subject's recordings averaged first). */
typedef struct study_group_epoch {
    size_t n;                          /* subjects with a mean velocity */
    size_t n_flow;                     /* subjects with a flow */
    double v_mean, v_sd, v_sem;        /* mean velocity, cm/s */
    double q_mean, q_sd, q_sem;        /* flow, ml/min */
    size_t n_paired;                   /* subjects with flow here and in the reference epoch */
    double change_pct;                 /* flow change from the reference, % of the reference sum */
    double p, p_adj;                   /* paired t-test p (Student) and Holm-adjusted p; NAN = none */
} study_group_epoch;

typedef struct study_group {
    const char *artery, *condition;
    size_t first;        /* position in the grouped order of entries */
    size_t count;        /* entries of the group */
    size_t min_row;      /* first manifest row of the group (groups are in this order) */
    size_t n_subjects;   /* with at least one analysed recording */
    study_group_epoch *ep; /* k */
    dop_rm_anova_result anova; /* over the subjects with flow in every epoch */
    int anova_ok;
    size_t anova_excluded;
} study_group;

/* A subject whose analysed recordings of one group were averaged (> 1). */
typedef struct study_averaged {
    size_t group;
    const char *subject;
    size_t recordings;
} study_averaged;

/* A subject of a group without flow in some epochs (only when k > 1). */
typedef struct study_exclusion {
    size_t group;
    const char *subject;
    const unsigned char *missing; /* k flags: 1 = no flow in that epoch */
} study_exclusion;

typedef struct study_table {
    size_t k, ref;
    study_group *groups;        /* in order of their first manifest row */
    size_t n_groups;
    size_t n_subjects;          /* distinct subjects of all entries */
    size_t *arteries;           /* entry positions of the distinct arteries, by first appearance */
    size_t n_arteries;
    size_t *conditions;         /* likewise for the conditions */
    size_t n_conditions;
    size_t failed;              /* entries with an error */
    study_averaged *averaged;   /* in group order, then subject order */
    size_t n_averaged;
    study_exclusion *exclusions; /* likewise */
    size_t n_exclusions;
    unsigned char *missing;     /* storage of the exclusions' flags */
} study_table;

/* Build the table. Errors: DOP_ERR_NOMEM (*out then holds nothing). */
dop_status study_table_build(const study_values *in, study_table *out, dop_error *err);
void study_table_free(study_table *t); /* a zeroed table is fine */

#endif

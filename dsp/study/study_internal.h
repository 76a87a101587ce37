/* Private pieces shared by the study files (dsp/study/study_*.c):
 *   study_run.c        dop_study_run: validate, select the shard's rows,
 *                      run the pool, describe the folder, aggregate
 *   study_key.c        result keys (SHA-256 of everything a result depends on)
 *   study_recording.c  one recording inside a worker: key, resume, analysis,
 *                      .results/KEY.csv
 *   study_pool.c       the worker processes (the only file that forks)
 *   study_folder.c     the folder's .study/shard.json and .study/index.csv
 *   study_table.c      the pure statistics table (study_table.h)
 *   study_csv.c        recordings.csv, failures.csv, conditions.csv, anova.csv
 *   study_report.c     report.md
 *   study_aggregate.c  the five outputs from the index and the result files
 *   study_merge.c      dop_study_merge */
#ifndef DOPFLOW_STUDY_INTERNAL_H
#define DOPFLOW_STUDY_INTERNAL_H

#include <stdint.h>
#include <stdio.h>

#include "dopflow/manifest.h"
#include "dopflow/study.h"
#include "study/study_table.h"

#define STUDY_FORMAT "dopflow-study/1"
#define STUDY_REVIEW_RESULT_HEADER "reviewed,beats_rejected,excluded_s,edits,unmatched"
#define STUDY_ALPHA 0.05          /* significance level of the marks in report.md */
#define STUDY_REPORT_LIST_MAX 50  /* items listed per section of report.md */

/* ---- study_key.c ---- */

/* The result key of one recording: SHA-256 (hex) of the format, the
 * dopflow version, params_text, the row's metadata overrides, the epochs,
 * and the bytes of the input, its sidecar (sidecar_path, "" = none), its
 * review file and the diameter CSV. Errors: DOP_ERR_IO (a file cannot be
 * read; the input missing), DOP_ERR_NOMEM. */
dop_status study_key_compute(const char *params_text, const dop_job *job, const char *sidecar_path,
                             const dop_epoch *epochs, size_t n_epochs, char key[STUDY_KEY_HEX + 1], dop_error *err);

/* ---- study_recording.c ---- */

enum { STUDY_ANALYSED = 1, STUDY_REUSED, STUDY_FAILED, STUDY_INTERRUPTED };

typedef struct study_ctx {
    const dop_study_config *cfg;
    const dop_manifest *manifest;
    char *params_text;
    char *results_dir;
} study_ctx;

/* What became of one recording (sent from the worker to the parent). */
typedef struct study_outcome {
    int32_t outcome;             /* STUDY_ANALYSED ... */
    char key[STUDY_KEY_HEX + 1]; /* "" when the key could not be computed */
    char error[512];             /* STUDY_FAILED: why */
} study_outcome;

/* Analyse manifest row `row` into ctx->results_dir (or reuse its result). */
void study_recording_run(const study_ctx *ctx, size_t row, study_outcome *out);

/* ---- study_pool.c ---- */

/* What the parent keeps of each selected row. */
typedef struct study_row_result {
    char key[STUDY_KEY_HEX + 1];
    uint8_t outcome;     /* 0 = not done */
    char *error;         /* failures only */
} study_row_result;

typedef struct study_pool_state {
    study_row_result *results; /* per selected position */
    size_t next;
    size_t done, failed, reused, analysed;
    int stopping;
    double t0;
} study_pool_state;

/* Analyse every selected row in cfg->jobs worker processes; rs->results
 * must hold n_selected zeroed slots. Errors: DOP_ERR_INTERRUPTED (stopped),
 * DOP_ERR_IO (no pipe or worker process), DOP_ERR_NOMEM. */
dop_status study_pool_run(const study_ctx *ctx, const size_t *selection, size_t n_selected, study_pool_state *rs,
                          dop_error *err);
void study_pool_state_free(study_pool_state *rs, size_t n_selected);

/* ---- study_folder.c ---- */

/* .study/shard.json: what a study folder holds. */
typedef struct study_meta {
    char *version;
    char *manifest;
    char *manifest_sha256;
    size_t rows;
    int onset_column;
    char *epochs;      /* NULL = one epoch "all" */
    char *reference;
    char *parameters_sha256;
    char *command;     /* NULL = none */
    unsigned shard, shard_count;
} study_meta;

dop_status study_meta_write(const char *path, const study_meta *m, dop_error *err);
/* Errors: DOP_ERR_FORMAT (no or bad .study/shard.json, unfinished run), DOP_ERR_NOMEM. */
dop_status study_meta_read(const char *dir, study_meta *m, dop_error *err);
void study_meta_free(study_meta *m);

/* The paths of a study folder; study_paths_make creates the folders.
 * Errors: DOP_ERR_IO, DOP_ERR_NOMEM. */
typedef struct study_paths {
    char *results; /* OUT/.results */
    char *study;   /* OUT/.study */
    char *index;   /* OUT/.study/index.csv */
    char *meta;    /* OUT/.study/shard.json */
} study_paths;

dop_status study_paths_make(const char *out_dir, study_paths *p, dop_error *err);
void study_paths_free(study_paths *p);

/* .study/index.csv: each row's key or error. */
dop_status study_index_write(const char *path, const study_entry *e, size_t n, dop_error *err);

/* Entries read from index files (strings owned by the entries). */
typedef struct study_index {
    study_entry *entries;
    size_t count, cap;
} study_index;

/* Append the entries of the index at path, their results in results_dir.
 * Errors: DOP_ERR_FORMAT (cannot open, malformed), DOP_ERR_NOMEM. */
dop_status study_index_read(const char *path, const char *results_dir, study_index *idx, dop_error *err);
void study_index_free(study_index *idx);

/* ---- study_csv.c ---- */

/* One CSV field, quoted when it has to be (RFC 4180). */
void study_csv_put(FILE *f, const char *s);

/* "subject,condition,artery,file" of an entry (no line end). */
void study_csv_design(FILE *f, const study_entry *e);

/* Columns of a result file (the summary CSV) that the statistics use. */
typedef struct study_columns {
    size_t n, epoch, velocity, flow;
} study_columns;

/* Positions of the columns the study reads, from the result schema.
 * Errors: DOP_ERR_FORMAT (the summary lacks a column). */
dop_status study_columns_find(study_columns *rc, dop_error *err);

/* recordings.csv rows of entry e from its result file; its epoch values
 * (es->k each) into velocity and flow. Errors: DOP_ERR_IO (missing),
 * DOP_ERR_FORMAT (other columns or fields), DOP_ERR_NOMEM. */
dop_status study_csv_copy_results(FILE *out, const study_entry *e, const study_columns *rc, const study_epochs *es,
                                  double *velocity, double *flow, dop_error *err);
void study_csv_failure(FILE *f, const study_entry *e);
void study_csv_conditions(FILE *f, const study_table *t, const study_epochs *es);
void study_csv_anova(FILE *f, const study_table *t);

/* ---- study_report.c ---- */

typedef struct study_report_in {
    const study_meta *meta;
    const study_entry *entries; /* in manifest order */
    size_t n;
    const study_epochs *epochs;
    const study_table *table;
    const char *figure;         /* embedded figure, or NULL */
} study_report_in;

void study_report_write(FILE *f, const study_report_in *in);

/* ---- study_aggregate.c ---- */

typedef struct study_aggregate_in {
    const char *out_dir;
    const study_meta *meta;
    const study_entry *entries; /* in manifest order */
    size_t n;
    const char *figure;         /* figure file embedded in report.md, or NULL */
} study_aggregate_in;

/* index.csv and shard.json, then the five outputs. */
dop_status study_finish(const study_paths *paths, const study_aggregate_in *in, dop_study_summary *summary,
                        dop_error *err);

#endif

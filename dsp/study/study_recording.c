/* One recording of a study, inside a worker process: its metadata layers
 * and result key, the result reused when resuming, else dop_job_run() and
 * .results/KEY.csv (and KEY.review.csv when a review applied) written
 * atomically. */
#include "study/study_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/fs.h"
#include "dopflow/atomic_file.h"
#include "dopflow/dopflow.h"

/* Open results_dir/KEY<suffix> for an atomic write. */
static dop_status open_result(const char *results_dir, const char *key, const char *suffix, dop_atomic_file **af,
                              dop_error *err)
{
    char name[STUDY_KEY_HEX + 16];
    snprintf(name, sizeof name, "%s%s", key, suffix);
    char *path = dop_fs_path_join(results_dir, name);
    if (!path) return dop_error_set(err, DOP_ERR_NOMEM, "out of memory");
    dop_status st = dop_atomic_open(path, af, err);
    free(path);
    return st;
}

static dop_status write_results(const char *results_dir, const char *key, const dop_summary *s, size_t n,
                                dop_error *err)
{
    dop_atomic_file *af;
    dop_status st = open_result(results_dir, key, ".csv", &af, err);
    if (st != DOP_OK) return st;
    FILE *f = dop_atomic_stream(af);
    fprintf(f, "%s\n", dop_summary_csv_header());
    for (size_t i = 0; i < n; i++) {
        dop_summary_csv_row(f, &s[i]);
        fputc('\n', f);
    }
    return dop_atomic_commit(af, err);
}

/* KEY.review.csv beside KEY.csv: what the recording's review did (for report.md). */
static dop_status write_review_result(const char *results_dir, const char *key, const dop_job_report *r,
                                      dop_error *err)
{
    dop_atomic_file *af;
    dop_status st = open_result(results_dir, key, ".review.csv", &af, err);
    if (st != DOP_OK) return st;
    fprintf(dop_atomic_stream(af), STUDY_REVIEW_RESULT_HEADER "\n%d,%lld,%.6g,%lld,%lld\n", r->reviewed,
            (long long)r->review_rejected_beats, r->review_excluded_s, (long long)r->review_edits,
            (long long)r->review_unmatched);
    return dop_atomic_commit(af, err);
}

/* 1 if results_dir/KEY.csv exists (resume). */
static int have_result(const char *results_dir, const char *key)
{
    char name[STUDY_KEY_HEX + 8];
    snprintf(name, sizeof name, "%s.csv", key);
    char *path = dop_fs_path_join(results_dir, name);
    int have = path && dop_fs_is_file(path);
    free(path);
    return have;
}

/* The job of manifest row r: the template with the row's input, epochs
 * (relative to its onset_s) and metadata; no output files. */
static dop_status row_job(const study_ctx *ctx, const dop_manifest_row *r, dop_job *job, dop_epoch **epochs,
                          size_t *n_epochs, dop_acquisition_layers *meta, dop_error *err)
{
    const dop_study_config *cfg = ctx->cfg;
    *job = cfg->job;
    job->input.path = r->path;
    job->summary_path = job->frames_path = job->beats_path = job->h5_path = NULL;
    job->frames_stream = 0;
    job->stop = cfg->stop;
    job->epochs = NULL;
    job->n_epochs = 0;
    if (cfg->epochs_spec) {
        dop_status st =
            dop_epochs_parse(cfg->epochs_spec, isfinite(r->onset_s) ? r->onset_s : 0.0, epochs, n_epochs, err);
        if (st != DOP_OK) return st;
        job->epochs = *epochs;
        job->n_epochs = *n_epochs;
    }
    /* Precedence: sidecar < manifest row < command line; the job reads the sidecar itself. */
    dop_status st = dop_acquisition_resolve(r->path, cfg->job.meta_path, &r->overrides, &cfg->job.overrides, meta, err);
    job->overrides = meta->overrides;
    return st;
}

/* Analyse the job and write its result files. */
static dop_status analyse(const study_ctx *ctx, const dop_job *job, size_t n_epochs, const char *key, dop_error *err)
{
    size_t n_out = n_epochs ? n_epochs : 1;
    dop_summary *summaries = calloc(n_out, sizeof *summaries);
    if (!summaries) return dop_error_set(err, DOP_ERR_NOMEM, "out of memory");
    dop_job_report report;
    dop_status st = dop_job_run(job, summaries, &report, err);
    if (st == DOP_OK && report.review_used[0]) st = write_review_result(ctx->results_dir, key, &report, err);
    if (st == DOP_OK) st = write_results(ctx->results_dir, key, summaries, n_out, err);
    free(summaries);
    return st;
}

void study_recording_run(const study_ctx *ctx, size_t index, study_outcome *out)
{
    const dop_study_config *cfg = ctx->cfg;
    dop_error e;
    dop_error_clear(&e);
    out->key[0] = '\0';
    out->error[0] = '\0';
    if (cfg->stop && *cfg->stop) {
        out->outcome = STUDY_INTERRUPTED;
        return;
    }
    dop_job job;
    dop_epoch *epochs = NULL;
    size_t n_epochs = 0;
    dop_acquisition_layers meta;
    dop_status st = row_job(ctx, dop_manifest_row_at(ctx->manifest, index), &job, &epochs, &n_epochs, &meta, &e);
    if (st == DOP_OK) st = study_key_compute(ctx->params_text, &job, meta.sidecar_path, epochs, n_epochs, out->key, &e);
    if (st != DOP_OK) out->key[0] = '\0';
    if (st == DOP_OK && cfg->resume && have_result(ctx->results_dir, out->key))
        out->outcome = STUDY_REUSED;
    else if (st == DOP_OK && (st = analyse(ctx, &job, n_epochs, out->key, &e)) == DOP_OK)
        out->outcome = STUDY_ANALYSED;
    free(epochs);
    if (st == DOP_OK) return;
    if (st == DOP_ERR_INTERRUPTED) {
        out->outcome = STUDY_INTERRUPTED;
        return;
    }
    out->outcome = STUDY_FAILED;
    snprintf(out->error, sizeof out->error, "%s", e.message[0] ? e.message : dop_strerror(st));
}

/* Studies: many recordings analysed in worker processes, then aggregated
 * into the comparison a paper reports (see include/dopflow/study.h).
 *
 * The run has three stages:
 *   1. select the rows of this shard and hand them to the worker pool
 *      (study_pool.c); each worker computes the recording's result key
 *      (study_key.c), skips the recording when resuming and its result
 *      exists, else analyses it (study_recording.c);
 *   2. write .study/index.csv (each row's key or error) and
 *      .study/shard.json (what the folder holds; study_folder.c);
 *   3. aggregate from the index and the result files, in manifest order
 *      (study_aggregate.c; the same code aggregates merged shards,
 *      study_merge.c, so both give the same bytes).
 * The library never prints: progress goes to a callback. */
#include "study/study_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/fs.h"
#include "dopflow/dopflow.h"

dop_study_config dop_study_config_default(void)
{
    dop_study_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.job = dop_job_default();
    cfg.jobs = 1;
    cfg.shard_index = 1;
    cfg.shard_count = 1;
    return cfg;
}

static dop_status check_config(const dop_study_config *cfg, dop_error *err)
{
    if (!cfg || !cfg->manifest_path || !cfg->out_dir)
        return dop_error_set(err, DOP_ERR_INVALID_ARG, "study: manifest and output folder are required");
    if (cfg->jobs < 1) return dop_error_set(err, DOP_ERR_INVALID_ARG, "study: jobs must be at least 1");
    if (cfg->shard_count < 1 || cfg->shard_index < 1 || cfg->shard_index > cfg->shard_count)
        return dop_error_set(err, DOP_ERR_INVALID_ARG, "study: shard %u/%u is not K/N with 1 <= K <= N",
                             cfg->shard_index, cfg->shard_count);
    return DOP_OK;
}

/* The manifest rows i of shard K/N: i % N == K - 1. */
static dop_status select_rows(const dop_study_config *cfg, size_t rows, size_t **selection, size_t *n_sel,
                              dop_error *err)
{
    *n_sel = 0;
    *selection = malloc(rows * sizeof **selection);
    if (!*selection) return dop_error_set(err, DOP_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < rows; i++)
        if (i % cfg->shard_count == cfg->shard_index - 1) (*selection)[(*n_sel)++] = i;
    return DOP_OK;
}

/* The index entries of the selected rows, from the manifest and the pool's outcomes. */
static study_entry *make_entries(const dop_manifest *manifest, const size_t *selection, size_t n_sel,
                                 const study_pool_state *rs, const char *results_dir)
{
    study_entry *entries = calloc(n_sel ? n_sel : 1, sizeof *entries);
    if (!entries) return NULL;
    for (size_t i = 0; i < n_sel; i++) {
        const dop_manifest_row *r = dop_manifest_row_at(manifest, selection[i]);
        study_entry *e = &entries[i];
        e->row = selection[i];
        e->subject = dop_manifest_name(manifest, DOP_MANIFEST_SUBJECT, r->subject);
        e->condition = dop_manifest_name(manifest, DOP_MANIFEST_CONDITION, r->condition);
        e->artery = dop_manifest_name(manifest, DOP_MANIFEST_ARTERY, r->artery);
        e->file = r->file;
        memcpy(e->key, rs->results[i].key, sizeof e->key);
        e->error = rs->results[i].outcome == STUDY_FAILED ? rs->results[i].error : NULL;
        if (rs->results[i].outcome == STUDY_FAILED && !e->error) e->error = "failed";
        e->results_dir = results_dir;
    }
    return entries;
}

/* What shard.json says of this run (strings borrowed from cfg, manifest, es, psha). */
static study_meta describe_run(const dop_study_config *cfg, const dop_manifest *manifest, const study_epochs *es,
                               char *psha)
{
    study_meta meta;
    memset(&meta, 0, sizeof meta);
    meta.version = (char *)dop_version();
    meta.manifest = (char *)cfg->manifest_path;
    meta.manifest_sha256 = (char *)dop_manifest_sha256(manifest);
    meta.rows = dop_manifest_row_count(manifest);
    meta.onset_column = dop_manifest_has_column(manifest, "onset_s");
    meta.epochs = (char *)cfg->epochs_spec;
    meta.reference = (char *)es->labels[es->ref];
    meta.parameters_sha256 = psha;
    meta.command = (char *)cfg->command;
    meta.shard = cfg->shard_index;
    meta.shard_count = cfg->shard_count;
    return meta;
}

/* The manifest, the parameters and the folder (its old shard.json removed). */
static dop_status prepare(const dop_study_config *cfg, study_ctx *ctx, dop_manifest **manifest, study_paths *paths,
                          dop_error *err)
{
    dop_status st = dop_manifest_read(cfg->manifest_path, manifest, err);
    if (st != DOP_OK) return st;
    if (dop_manifest_row_count(*manifest) == 0)
        return dop_error_set(err, DOP_ERR_NO_DATA, "%s: the manifest lists no recordings", cfg->manifest_path);
    ctx->cfg = cfg;
    ctx->manifest = *manifest;
    if ((st = dop_study_params_text(&cfg->job, &ctx->params_text, err)) != DOP_OK) return st;
    if ((st = study_paths_make(cfg->out_dir, paths, err)) != DOP_OK) return st;
    ctx->results_dir = paths->results;
    /* Until this run completes, the folder holds no finished shard: a
     * merge must not take an earlier run's index for this one. */
    if (unlink(paths->meta) != 0 && errno != ENOENT)
        return dop_error_set(err, DOP_ERR_IO, "%s: cannot remove: %s", paths->meta, strerror(errno));
    return DOP_OK;
}

dop_status dop_study_run(const dop_study_config *cfg, dop_study_summary *summary, dop_error *err)
{
    dop_study_summary sum;
    memset(&sum, 0, sizeof sum);
    if (summary) *summary = sum;
    dop_status st = check_config(cfg, err);
    study_epochs es;
    if (st != DOP_OK || (st = study_epochs_make(cfg->epochs_spec, cfg->reference_epoch, &es, err)) != DOP_OK)
        return st;
    dop_manifest *manifest = NULL;
    study_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    study_paths paths;
    memset(&paths, 0, sizeof paths);
    size_t *selection = NULL, n_sel = 0;
    study_entry *entries = NULL;
    study_pool_state rs;
    memset(&rs, 0, sizeof rs);

    st = prepare(cfg, &ctx, &manifest, &paths, err);
    if (manifest) sum.rows = dop_manifest_row_count(manifest);
    if (st != DOP_OK || (st = select_rows(cfg, sum.rows, &selection, &n_sel, err)) != DOP_OK) goto done;
    sum.selected = n_sel;
    rs.results = calloc(n_sel ? n_sel : 1, sizeof *rs.results);
    if (!rs.results) {
        st = dop_error_set(err, DOP_ERR_NOMEM, "out of memory");
        goto done;
    }
    st = study_pool_run(&ctx, selection, n_sel, &rs, err);
    sum.analysed = rs.analysed;
    sum.reused = rs.reused;
    sum.failed = rs.failed;
    if (st != DOP_OK) goto done;
    if (!(entries = make_entries(manifest, selection, n_sel, &rs, ctx.results_dir))) {
        st = dop_error_set(err, DOP_ERR_NOMEM, "out of memory");
        goto done;
    }
    char psha[DOP_SHA256_HEX];
    dop_fs_sha256_text(ctx.params_text, strlen(ctx.params_text), psha);
    study_meta meta = describe_run(cfg, manifest, &es, psha);
    study_aggregate_in ag = {cfg->out_dir, &meta, entries, n_sel, cfg->report_figure};
    st = study_finish(&paths, &ag, &sum, err);
done:
    if (summary) *summary = sum;
    free(entries);
    study_pool_state_free(&rs, sum.selected);
    free(selection);
    free(ctx.params_text);
    study_paths_free(&paths);
    dop_manifest_destroy(manifest);
    study_epochs_free(&es);
    return st;
}

/* Merge: the folders of shards 1/N..N/N of one study combined into one
 * study folder (results linked or copied into OUT/.results), aggregated by
 * the same code as a run, so that the outputs are byte for byte those of
 * one unsharded run (see dop_study_merge in include/dopflow/study.h). */
#include "study/study_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/fs.h"
#include "dopflow/atomic_file.h"

static int cmp_entry_row(const void *a, const void *b)
{
    const study_entry *x = a, *y = b;
    return (x->row > y->row) - (x->row < y->row);
}

static dop_status copy_file(const char *src, const char *dst, dop_error *err)
{
    if (dop_fs_is_file(dst)) return DOP_OK;
    if (link(src, dst) == 0) return DOP_OK;
    FILE *in = fopen(src, "rb");
    if (!in) return dop_error_set(err, DOP_ERR_IO, "%s: cannot open: %s", src, strerror(errno));
    dop_atomic_file *af;
    dop_status st = dop_atomic_open(dst, &af, err);
    if (st != DOP_OK) {
        fclose(in);
        return st;
    }
    char buf[1 << 16];
    size_t got;
    while ((got = fread(buf, 1, sizeof buf, in)) > 0) fwrite(buf, 1, got, dop_atomic_stream(af));
    int bad = ferror(in);
    fclose(in);
    if (bad) {
        dop_atomic_abort(af);
        return dop_error_set(err, DOP_ERR_IO, "%s: read error", src);
    }
    return dop_atomic_commit(af, err);
}

/* 1 if shards a and b belong to the same study (manifest, parameters,
 * epochs, shard count, dopflow version). */
static int same_study(const study_meta *a, const study_meta *b)
{
    return strcmp(a->manifest_sha256, b->manifest_sha256) == 0 &&
           strcmp(a->parameters_sha256, b->parameters_sha256) == 0 && strcmp(a->version, b->version) == 0 &&
           a->rows == b->rows && a->shard_count == b->shard_count && strcmp(a->reference, b->reference) == 0 &&
           (!a->epochs) == (!b->epochs) && (!a->epochs || strcmp(a->epochs, b->epochs) == 0);
}

/* Every shard's shard.json, all of one study, each shard 1..N exactly once. */
static dop_status read_shards(const char *const *dirs, size_t n, study_meta *metas, dop_error *err)
{
    for (size_t i = 0; i < n; i++) {
        dop_status st = study_meta_read(dirs[i], &metas[i], err);
        if (st != DOP_OK) return st;
        if (!same_study(&metas[0], &metas[i]))
            return dop_error_set(err, DOP_ERR_FORMAT,
                                 "%s and %s hold shards of different studies (manifest, parameters, epochs, "
                                 "shard count or dopflow version differ)",
                                 dirs[0], dirs[i]);
    }
    unsigned count = metas[0].shard_count;
    unsigned char *seen = calloc(count + 1, 1);
    if (!seen) return dop_error_set(err, DOP_ERR_NOMEM, "out of memory");
    dop_status st = DOP_OK;
    for (size_t i = 0; i < n && st == DOP_OK; i++) {
        if (metas[i].shard < 1 || metas[i].shard > count || seen[metas[i].shard])
            st = dop_error_set(err, DOP_ERR_FORMAT, "%s: shard %u/%u given twice", dirs[i], metas[i].shard, count);
        else
            seen[metas[i].shard] = 1;
    }
    for (unsigned s = 1; s <= count && st == DOP_OK; s++)
        if (!seen[s])
            st = dop_error_set(err, DOP_ERR_FORMAT, "shard %u/%u is missing: give all %u shard folders", s, count,
                               count);
    free(seen);
    return st;
}

/* Every shard's index.csv, in manifest-row order, each row exactly once. */
static dop_status read_indexes(const char *const *dirs, size_t n, size_t rows, char **results_dirs,
                               study_index *idx, dop_error *err)
{
    for (size_t i = 0; i < n; i++) {
        results_dirs[i] = dop_fs_path_join(dirs[i], ".results");
        char *ipath = dop_fs_path_join(dirs[i], ".study/index.csv");
        dop_status st = !results_dirs[i] || !ipath ? dop_error_set(err, DOP_ERR_NOMEM, "out of memory")
                                                   : study_index_read(ipath, results_dirs[i], idx, err);
        free(ipath);
        if (st != DOP_OK) return st;
    }
    qsort(idx->entries, idx->count, sizeof *idx->entries, cmp_entry_row);
    for (size_t i = 0; i < idx->count; i++)
        if (idx->entries[i].row != i)
            return dop_error_set(err, DOP_ERR_FORMAT,
                                 "the shards do not hold every manifest row exactly once (row %zu); were they "
                                 "run with the same --shard N?",
                                 i + 1);
    if (idx->count != rows)
        return dop_error_set(err, DOP_ERR_FORMAT, "the shards hold %zu of the manifest's %zu rows", idx->count, rows);
    return DOP_OK;
}

/* results_dir/KEY<suffix> of entry e into results_out (when they differ;
 * optional files only when they exist). */
static dop_status copy_result(const study_entry *e, const char *suffix, int optional, const char *results_out,
                              dop_error *err)
{
    char name[STUDY_KEY_HEX + 16];
    snprintf(name, sizeof name, "%s%s", e->key, suffix);
    char *src = dop_fs_path_join(e->results_dir, name), *dst = dop_fs_path_join(results_out, name);
    dop_status st = DOP_OK;
    if (!src || !dst)
        st = dop_error_set(err, DOP_ERR_NOMEM, "out of memory");
    else if (strcmp(src, dst) != 0 && (!optional || dop_fs_is_file(src)))
        st = copy_file(src, dst, err);
    free(src);
    free(dst);
    return st;
}

/* The merged folder is a complete study folder: results copied in. */
static dop_status gather_results(study_index *idx, const char *results_out, dop_error *err)
{
    for (size_t i = 0; i < idx->count; i++) {
        study_entry *e = &idx->entries[i];
        if (e->error) continue;
        dop_status st = copy_result(e, ".csv", 0, results_out, err);
        /* KEY.review.csv: only when the recording had a review */
        if (st == DOP_OK) st = copy_result(e, ".review.csv", 1, results_out, err);
        if (st != DOP_OK) return st;
        e->results_dir = results_out;
    }
    return DOP_OK;
}

dop_status dop_study_merge(const char *out_dir, const char *const *shard_dirs, size_t n_shards,
                           const char *report_figure, dop_study_summary *summary, dop_error *err)
{
    dop_study_summary sum;
    memset(&sum, 0, sizeof sum);
    if (summary) *summary = sum;
    if (!out_dir || !shard_dirs || n_shards == 0)
        return dop_error_set(err, DOP_ERR_INVALID_ARG, "merge: an output folder and shard folders are required");
    dop_status st = DOP_OK;
    study_meta *metas = calloc(n_shards, sizeof *metas);
    char **results_dirs = calloc(n_shards, sizeof *results_dirs);
    study_index idx;
    memset(&idx, 0, sizeof idx);
    study_paths paths;
    memset(&paths, 0, sizeof paths);
    if (!metas || !results_dirs) st = dop_error_set(err, DOP_ERR_NOMEM, "out of memory");
    if (st == DOP_OK) st = read_shards(shard_dirs, n_shards, metas, err);
    if (st == DOP_OK) st = read_indexes(shard_dirs, n_shards, metas[0].rows, results_dirs, &idx, err);
    if (st == DOP_OK) st = study_paths_make(out_dir, &paths, err);
    if (st == DOP_OK) st = gather_results(&idx, paths.results, err);
    if (st == DOP_OK) {
        study_meta merged = metas[0];
        merged.shard = 1;
        merged.shard_count = 1;
        for (size_t i = 0; i < n_shards; i++)
            if (metas[i].shard == 1) merged.command = metas[i].command; /* the first shard's command */
        sum.rows = sum.selected = idx.count;
        study_aggregate_in ag = {out_dir, &merged, idx.entries, idx.count, report_figure};
        st = study_finish(&paths, &ag, &sum, err);
    }
    if (summary) *summary = sum;
    study_index_free(&idx);
    for (size_t i = 0; metas && i < n_shards; i++) study_meta_free(&metas[i]);
    for (size_t i = 0; results_dirs && i < n_shards; i++) free(results_dirs[i]);
    free(metas);
    free(results_dirs);
    study_paths_free(&paths);
    return st;
}

/* The outputs of a study folder from its index and result files, in
 * manifest order (the same code aggregates a run and merged shards, so
 * both give the same bytes): recordings.csv and failures.csv while the
 * epoch values are collected, the table (study_table.c) built from them,
 * then conditions.csv, anova.csv and report.md. Every output is written
 * atomically; the row files are committed last, so that all five describe
 * the same run. */
#include "study/study_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/fs.h"
#include "dopflow/atomic_file.h"

/* Open out_dir/name for an atomic write. */
static dop_status open_output(const char *out_dir, const char *name, dop_atomic_file **af, dop_error *err)
{
    char *path = dop_fs_path_join(out_dir, name);
    if (!path) return dop_error_set(err, DOP_ERR_NOMEM, "out of memory");
    dop_status st = dop_atomic_open(path, af, err);
    free(path);
    return st;
}

/* Commit an output and forget it: the handle is gone either way (a failed
 * commit removes its temporary file). */
static dop_status commit_clear(dop_atomic_file **file, dop_error *err)
{
    dop_status st = dop_atomic_commit(*file, err);
    *file = NULL;
    return st;
}

/* recordings.csv and failures.csv rows, in manifest order; each analysed
 * entry's epoch values into velocity and flow (n x k, NAN before). */
static dop_status write_rows(const study_aggregate_in *in, const study_epochs *es, FILE *fr, FILE *ff,
                             double *velocity, double *flow, dop_error *err)
{
    study_columns rc;
    dop_status st = study_columns_find(&rc, err);
    if (st != DOP_OK) return st;
    fprintf(fr, "subject,condition,artery,file,%s\n", dop_summary_csv_header());
    fputs("subject,condition,artery,file,error\n", ff);
    for (size_t i = 0; i < in->n && st == DOP_OK; i++) {
        const study_entry *e = &in->entries[i];
        if (e->error)
            study_csv_failure(ff, e);
        else
            st = study_csv_copy_results(fr, e, &rc, es, velocity + i * es->k, flow + i * es->k, err);
    }
    return st;
}

/* conditions.csv, anova.csv and report.md from the table, committed in turn. */
static dop_status write_statistics(const study_aggregate_in *in, const study_epochs *es, const study_table *t,
                                   dop_error *err)
{
    dop_atomic_file *af = NULL;
    dop_status st = open_output(in->out_dir, "conditions.csv", &af, err);
    if (st != DOP_OK) return st;
    study_csv_conditions(dop_atomic_stream(af), t, es);
    if ((st = commit_clear(&af, err)) != DOP_OK) return st;
    if ((st = open_output(in->out_dir, "anova.csv", &af, err)) != DOP_OK) return st;
    study_csv_anova(dop_atomic_stream(af), t);
    if ((st = commit_clear(&af, err)) != DOP_OK) return st;
    if ((st = open_output(in->out_dir, "report.md", &af, err)) != DOP_OK) return st;
    study_report_in ri = {in->meta, in->entries, in->n, es, t, in->figure};
    study_report_write(dop_atomic_stream(af), &ri);
    return commit_clear(&af, err);
}

static dop_status aggregate(const study_aggregate_in *in, dop_study_summary *summary, dop_error *err)
{
    study_epochs es;
    dop_status st = study_epochs_make(in->meta->epochs, in->meta->reference, &es, err);
    if (st != DOP_OK) return st;
    size_t cells = (in->n ? in->n : 1) * es.k;
    double *velocity = malloc(cells * sizeof *velocity), *flow = malloc(cells * sizeof *flow);
    dop_atomic_file *rec = NULL, *fails = NULL;
    study_table t;
    memset(&t, 0, sizeof t);
    if (!velocity || !flow) {
        st = dop_error_set(err, DOP_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < cells; i++) velocity[i] = flow[i] = NAN;
    if ((st = open_output(in->out_dir, "recordings.csv", &rec, err)) != DOP_OK ||
        (st = open_output(in->out_dir, "failures.csv", &fails, err)) != DOP_OK)
        goto done;
    st = write_rows(in, &es, dop_atomic_stream(rec), dop_atomic_stream(fails), velocity, flow, err);
    if (st != DOP_OK) goto done;
    study_values values = {in->entries, in->n, es.k, es.ref, velocity, flow};
    if ((st = study_table_build(&values, &t, err)) != DOP_OK) goto done;
    if ((st = write_statistics(in, &es, &t, err)) != DOP_OK) goto done;
    if ((st = commit_clear(&rec, err)) != DOP_OK) goto done;
    if ((st = commit_clear(&fails, err)) != DOP_OK) goto done;
    if (summary) summary->failed = t.failed;
done:
    dop_atomic_abort(rec);
    dop_atomic_abort(fails);
    study_table_free(&t);
    free(velocity);
    free(flow);
    study_epochs_free(&es);
    return st;
}

dop_status study_finish(const study_paths *paths, const study_aggregate_in *in, dop_study_summary *summary,
                        dop_error *err)
{
    dop_status st = study_index_write(paths->index, in->entries, in->n, err);
    if (st == DOP_OK) st = study_meta_write(paths->meta, in->meta, err);
    if (st == DOP_OK) st = aggregate(in, summary, err);
    return st;
}

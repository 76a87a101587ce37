/* dopflow: a whole study at once (what `dopflow study` does).
 *
 * Runs the analysis of dop_job_run() over every recording of a manifest
 * (see manifest.h), in parallel worker processes, and aggregates the epoch
 * summaries into the comparison a paper reports. Worker processes, not
 * threads: FFTW's planner is not thread-safe, and a recording that crashes
 * its worker becomes a failed recording instead of ending the batch.
 *
 * Folder layout of OUT_DIR:
 *   recordings.csv   subject,condition,artery,file + summary columns, one row
 *                    per recording x epoch, manifest order then epoch order
 *   conditions.csv   per artery x condition x epoch: n, mean/SD/SEM of mean
 *                    velocity and flow over subjects, flow change from the
 *                    reference epoch, paired t-test p and Holm-adjusted p
 *   anova.csv        per artery x condition: repeated-measures ANOVA of flow
 *                    across epochs with the Greenhouse-Geisser correction
 *   report.md        the table a paper prints, the design as read, what was
 *                    excluded and why, the command and the dopflow version
 *   failures.csv     subject,condition,artery,file,error
 *   .results/KEY.csv one recording's summaries; KEY = SHA-256 of the input
 *                    bytes, its sidecar's bytes, the diameter CSV's bytes, the
 *                    canonical analysis parameters, the row's metadata
 *                    overrides, its epochs and the dopflow version
 *   .study/shard.json, .study/index.csv
 *                    what this folder holds (manifest hash, parameters,
 *                    shard K/N, command) and each row's key or error; what
 *                    dop_study_merge() reads
 *
 * Statistics (see stats.h) are over subjects: a subject's recordings of
 * the same artery x condition are averaged first; NAN values (no diameter,
 * no frames in the epoch) are missing. Every output is written atomically
 * (atomic_file.h) and none depends on timing or on the number of workers,
 * so outputs are byte-identical for any `jobs` and for shards + merge.
 *
 * The command text stored for the report leaves out the options that do
 * not change results (-o, -j, --resume, --shard), so that a run with any
 * number of workers, a resumed run, and merged shards all print the same
 * report. */
#ifndef DOPFLOW_STUDY_H
#define DOPFLOW_STUDY_H

#include "dopflow/export.h"

#include <signal.h>
#include <stddef.h>

#include "dopflow/job.h"
#include "dopflow/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dop_study_progress {
    size_t total;      /* recordings of this run (this shard) */
    size_t done;       /* finished: analysed, reused or failed */
    size_t failed;
    size_t reused;     /* results already present (resume) */
    double elapsed_s;  /* since the start of the run */
} dop_study_progress;

typedef void (*dop_study_progress_fn)(const dop_study_progress *progress, void *user);

typedef struct dop_study_config {
    const char *manifest_path;
    const char *out_dir;            /* created when missing */
    dop_job job;                    /* template: analysis options, command-line metadata
                                       overrides, meta_path, diameter_csv, input channels /
                                       raw format; path, epochs, overrides (merged with the
                                       row's) and output paths are set per recording */
    const char *epochs_spec;        /* "label:start:end,..." relative to onset_s; NULL = "all" */
    const char *reference_epoch;    /* NULL = the first epoch */
    unsigned jobs;                  /* worker processes, >= 1 */
    int resume;                     /* reuse .results whose key matches */
    unsigned shard_index;           /* 1-based K of shard_count: rows i with i % N == K - 1 */
    unsigned shard_count;           /* 1 = all rows */
    const char *command;            /* command text for report.md (NULL = none) */
    const char *report_figure;      /* figure file (relative to out_dir) that report.md
                                       embeds, e.g. "study.png"; NULL = none */
    dop_study_progress_fn progress; /* called in the calling process; may be NULL */
    void *progress_user;
    volatile sig_atomic_t *stop;    /* non-zero: stop (workers get SIGTERM); may be NULL */
} dop_study_config;

typedef struct dop_study_summary {
    size_t rows;       /* manifest rows */
    size_t selected;   /* rows of this shard */
    size_t analysed;   /* analysed in this run */
    size_t reused;     /* taken from earlier results */
    size_t failed;     /* listed in failures.csv */
} dop_study_summary;

/* jobs 1, shard 1/1, no epochs (one epoch "all"), dop_job_default() template. */
DOP_API dop_study_config dop_study_config_default(void);

/* Run the study. DOP_OK also when recordings failed (summary->failed > 0).
 * Errors: DOP_ERR_INVALID_ARG (epochs spec, unknown reference epoch, shard
 * out of range, jobs 0), DOP_ERR_IO / DOP_ERR_FORMAT (manifest, see
 * manifest.h), DOP_ERR_NO_DATA (empty manifest), DOP_ERR_IO (outputs),
 * DOP_ERR_INTERRUPTED (stopped: finished recordings stay in .results,
 * the aggregate outputs are not written), DOP_ERR_NOMEM. */
DOP_API dop_status dop_study_run(const dop_study_config *cfg, dop_study_summary *summary, dop_error *err);

/* Combine the folders of shards 1/N..N/N of one study into out_dir: the
 * same outputs, byte for byte, as one unsharded run (results are linked or
 * copied into out_dir/.results so that it can be resumed). Errors:
 * DOP_ERR_FORMAT (not a shard folder, shards of different studies or
 * parameters, a shard missing or given twice, incomplete shard),
 * DOP_ERR_IO, DOP_ERR_NOMEM. */
DOP_API dop_status dop_study_merge(const char *out_dir, const char *const *shard_dirs, size_t n_shards,
                                   const char *report_figure, dop_study_summary *summary, dop_error *err);

/* Canonical text of the analysis parameters of a job template (one
 * "name=value" per line, doubles as %.17g): the part of the result key
 * that is not file content. Caller frees *out. Errors: DOP_ERR_NOMEM. */
DOP_API dop_status dop_study_params_text(const dop_job *job, char **out, dop_error *err);

#ifdef __cplusplus
}
#endif
#endif

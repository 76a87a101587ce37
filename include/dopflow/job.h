/* dopflow: analyse one recording from file to results (what `dopflow
 * analyze` does and what `dopflow study` does per recording).
 *
 * Resolves the acquisition metadata (defaults < what the file itself says
 * (IQ formats) < sidecar < job overrides),
 * opens the reader, runs the analysis over [start_s, end_s), accumulates the
 * epoch summaries and writes the requested output files atomically (all or
 * nothing: on any error no output file is left behind). */
#ifndef DOPFLOW_JOB_H
#define DOPFLOW_JOB_H

#include "dopflow/export.h"

#include <signal.h>

#include "dopflow/analysis.h"
#include "dopflow/quadrature_check.h"
#include "dopflow/reader.h"
#include "dopflow/summary.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Optional view of what a job computes, as it is written (the review page
 * keeps it in memory). Each callback may be NULL; non-zero stops the job
 * with DOP_ERR_INTERRUPTED. */
typedef struct dop_job_tap {
    /* once, before the first frame: the spectrum's velocity axis (cm/s per bin) */
    int (*on_start)(const float *velocity_cm_s, size_t bins, double frame_period_s, void *user);
    /* each spectrum row: PSD in dB, bins values, time in s from file start */
    int (*on_spectrum)(double time_s, const float *db, size_t bins, void *user);
    int (*on_frame)(const dop_frame *frame, void *user);
    /* reject_reason: as in the beats file with a review ("" accepted), NULL without a review */
    int (*on_beat)(const dop_beat *beat, const char *reject_reason, void *user);
    void *user;
} dop_job_tap;

typedef struct dop_job {
    dop_reader_config input;           /* path, channels, raw format */
    dop_acquisition overrides;         /* command line / manifest layer (NAN = not given) */
    const char *meta_path;             /* --meta; NULL: INPUT.json if it exists */
    const char *review_path;           /* --review; NULL: INPUT.review.json if it exists (review.h) */
    int no_review;                     /* 1: apply no review file */
    const char *diameter_csv;          /* time_s,diameter_mm; NULL = constant */
    double start_s, end_s;             /* analysed span; NAN = file start / end */
    const dop_epoch *epochs;           /* NULL: one epoch "all" over the span */
    size_t n_epochs;
    const char *summary_path;          /* outputs; NULL = not written, "-" = stdout */
    const char *frames_path;
    const char *beats_path;
    const char *h5_path;
    int frames_stream;                 /* flush the frames file after each block */
    dop_analysis_config analysis;      /* fs and acq are filled in by the job */
    volatile sig_atomic_t *stop;       /* when set non-zero, stop with DOP_ERR_INTERRUPTED */
    const dop_job_tap *tap;            /* NULL: none */
} dop_job;

typedef struct dop_job_report {
    dop_acquisition acq;               /* metadata as used */
    dop_reader_info input;             /* the recording as the reader saw it (frames_promised >
                                          frames: truncated, analysed as far as it goes) */
    dop_quadrature_result quadrature;  /* stereo check when the channels were not chosen;
                                          is_quadrature = 0: analysed as mono (left) */
    long long unwrapped_frames;        /* frames unwrapped past Nyquist (alias.h) */
    int unwrap;                        /* unwrapping was on */
    double fs_hz;
    double nyquist_cm_s;
    int non_directional;               /* mono input analysed one-sided */
    int64_t frames, beats, rejected_beats;
    char sidecar_used[1024];           /* path of the sidecar read, "" if none */
    long long not_pulsatile_frames; /* frames without periodic cardiac evidence (no beats there) */
    long long spectral_line_frames; /* frames with a stationary spectral line left out (spectral_lines.h) */
    double best_periodicity;        /* periodicity z of the most periodic window (beats.h) */
    /* The review applied (review.h); all zero / "" without one. */
    char review_used[1024];            /* path of the review file, "" if none */
    int reviewed;                      /* the file says "reviewed": true */
    int64_t review_edits, review_unmatched, review_rejected_beats, review_added_beats, review_restored_beats;
    double review_excluded_s;          /* frames left out by the review, s */
    char review_unmatched_text[2048];  /* one line per unmatched edit (truncated) */
} dop_job_report;

DOP_API dop_job dop_job_default(void);

/* Run; summaries receives max(n_epochs, 1) rows (may be NULL). */
DOP_API dop_status dop_job_run(const dop_job *job, dop_summary *summaries, dop_job_report *report, dop_error *err);

#ifdef __cplusplus
}
#endif
#endif

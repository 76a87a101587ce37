/* dopflow review: what the review page shows, kept in memory per recording
 * (the analysis is rerun through dop_job_run with a tap, so the page shows
 * exactly what `dopflow analyze` computes), and the JSON the page reads:
 * the state of a recording (summary, review, list of recordings) and one
 * window of it (spectrogram tile, envelopes, beats), decimated to the
 * columns on screen so that no answer grows with the recording's length. */
#ifndef DOPFLOW_TOOLS_REVIEW_MODEL_H
#define DOPFLOW_TOOLS_REVIEW_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "dopflow/dopflow.h"
#include "dopflow/manifest.h"

#define RM_MAX_BINS 256       /* spectrogram rows kept per frame (max-pooled) */
#define RM_MAX_COLUMNS 4096   /* columns of one window */
#define RM_MAX_WINDOW_BEATS 3000 /* beats sent with one window; more: zoom in */

typedef struct rm_beat {
    double start_s, end_s, flow_ml_min, tamean_cm_s, psv_cm_s, heart_rate_bpm;
    int rejected;
    char reason[DOP_REVIEW_REASON_MAX + 16];  /* "" accepted, "artifacts", "review: ..." */
} rm_beat;

typedef struct rm_recording {
    const char *path;              /* the recording */
    char *review_path;             /* REC.review.json */
    char label[512];               /* subject / condition / artery / file, or the file */
    double onset_s;                /* manifest onset (epochs are relative to it), NAN = none */
    dop_acquisition overrides;     /* manifest row layer */
    /* the last analysis */
    int analysed;
    char error[600];               /* "" if the analysis succeeded */
    char input_sha256[65];
    double first_time_s, frame_period_s;
    size_t n_frames, cap_frames;
    float *vmax, *vmean;           /* cm/s per frame */
    uint32_t *flags;
    size_t n_rows;                 /* spectrogram rows kept */
    size_t bins, pool;             /* rows of RM bins = analysis bins / pool */
    uint8_t *spec;                 /* n_rows x bins codes: 0 none, 1..255 = dB scale */
    size_t cap_spec;               /* bytes allocated */
    double v_lo, v_hi;             /* velocity of the first and last kept bin, cm/s */
    rm_beat *beats;
    size_t n_beats, cap_beats;
    dop_summary *summaries;
    size_t n_summaries;
    dop_job_report report;
    double analyse_s;              /* how long the last analysis took, s */
} rm_recording;

typedef struct rm_model {
    dop_job job;                   /* template: analysis options, stop flag */
    const char *epochs_spec;       /* --epochs, relative to each row's onset_s */
    dop_manifest *manifest;        /* NULL for one recording */
    rm_recording *recs;
    size_t n_recs;
    size_t current;
} rm_model;

/* One recording (path) or every row of a manifest. */
dop_status rm_model_open(rm_model *m, const char *input, int is_manifest, dop_error *err);
void rm_model_close(rm_model *m);

/* (Re)analyse recording i with its review file. A failed analysis (a bad
 * review file, say) is kept in rec->error and returned. */
dop_status rm_analyse(rm_model *m, size_t i, dop_error *err);

/* JSON texts (malloc'd, NULL without memory). */
char *rm_state_json(const rm_model *m, size_t i);
char *rm_window_json(const rm_model *m, size_t i, double t0, double t1, size_t columns);

/* dB -> code of the kept spectrogram and back (page legend). */
#define RM_DB_LO (-200.0)
#define RM_DB_HI 20.0

#endif

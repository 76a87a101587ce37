/* dopflow: epochs and their summaries (the one-row-per-epoch results).
 *
 * An epoch is a labelled time span. Its summary is computed from annotated
 * frames and beats:
 *  - mean_velocity_cm_s, tamax_cm_s, flow_ml_min: time averages over the
 *    epoch's frames that are not excluded (artifact frames, bridged or
 *    not, and frames of rejected beats are excluded: artifacts fall at any
 *    phase of the cycle, so leaving them out keeps the average unbiased,
 *    while a bridge across a systolic peak cuts it; beat_measure.h);
 *  - heart_rate_bpm, n_beats, pi, ri: over accepted beats whose onset lies
 *    in the epoch (HR = 60 / mean beat duration);
 *  - rejected_fraction: excluded frames / frames in the epoch;
 *  - pulsatile: 1 when at least half the epoch's frames lie where periodic
 *    cardiac evidence was found (frames without DOP_FRAME_NOT_PULSATILE);
 *  - mean_sqi: mean quality index of the accepted beats (NAN without);
 *  - n_beats_rejected: beats with onset in the epoch that were rejected. */
#ifndef DOPFLOW_SUMMARY_H
#define DOPFLOW_SUMMARY_H

#include "dopflow/export.h"

#include <stdint.h>
#include <stdio.h>

#include "dopflow/records.h"
#include "dopflow/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define DOP_EPOCH_LABEL_MAX 64

typedef struct dop_epoch {
    char label[DOP_EPOCH_LABEL_MAX];
    double start_s, end_s;       /* seconds from file start, start < end */
} dop_epoch;

/* Parse "label:start:end,label:start:end,..." (seconds, may be negative),
 * adding offset_s to each bound. Labels: 1..63 characters of [A-Za-z0-9_.-],
 * unique. *out is malloc'd (caller frees). Errors: DOP_ERR_INVALID_ARG with
 * the offending item named (empty spec, missing field, start >= end, bad
 * number, duplicate label). */
DOP_API dop_status dop_epochs_parse(const char *spec, double offset_s, dop_epoch **out, size_t *count, dop_error *err);

typedef struct dop_summary {
    char epoch[DOP_EPOCH_LABEL_MAX];
    double start_s, end_s;
    double mean_velocity_cm_s;
    double tamax_cm_s;
    double flow_ml_min;          /* NAN without a diameter */
    double heart_rate_bpm;       /* NAN without beats */
    int64_t n_beats;
    double pi, ri;               /* NAN without beats */
    double rejected_fraction;    /* 0..1 */
    double shear_rate_s;         /* NAN without a diameter */
    double bridged_fraction;     /* artifact frames bridged in the frames output (left out of the means) */
    double analysed_s;           /* time actually covered by frames in the epoch */
    int directional;             /* 1: I/Q (signed velocities); 0: mono, one-sided */
    int pulsatile;               /* 1: periodic cardiac evidence over most of the epoch */
    double mean_sqi;             /* mean beat quality index 0..1, NAN without beats */
    int64_t n_beats_rejected;    /* rejected beats with onset in the epoch */
} dop_summary;

/* The CSV columns, in order (header line without newline; the names are
 * those of the result schema, result_schema.h). Errors: none. */
DOP_API const char *dop_summary_csv_header(void);
/* One row matching the header (no newline); NAN prints as an empty field.
 * Errors: none (write errors show on the stream: ferror). */
DOP_API void dop_summary_csv_row(FILE *out, const dop_summary *s);

/* Accumulator over a set of epochs. Life: create, add_frame / add_beat
 * (the push: frames and beats are two streams, hence two verbs, as in
 * libebur128's add_frames), result (the flush; it may be read at any time
 * and leaves the sums as they are), reset, destroy. No config struct: the
 * epochs and the frame period are all it needs. */
typedef struct dop_summary_acc dop_summary_acc;

/* epochs are copied. Errors: DOP_ERR_NOMEM. */
DOP_API dop_status dop_summary_acc_create(const dop_epoch *epochs, size_t count, double frame_period_s,
                                          dop_summary_acc **out, dop_error *err);
/* Add an annotated frame, or a beat, to the epochs it falls in. Never
 * allocates. Errors: none. */
DOP_API void dop_summary_acc_add_frame(dop_summary_acc *acc, const dop_frame *frame);
DOP_API void dop_summary_acc_add_beat(dop_summary_acc *acc, const dop_beat *beat);
/* Write `count` summaries (same order as the epochs). Errors: none. */
DOP_API void dop_summary_acc_result(const dop_summary_acc *acc, dop_summary *out);
/* Empty every epoch's sums (as after create). Errors: none. */
DOP_API void dop_summary_acc_reset(dop_summary_acc *acc);
/* NULL is fine. Errors: none. */
DOP_API void dop_summary_acc_destroy(dop_summary_acc *acc);

#ifdef __cplusplus
}
#endif
#endif

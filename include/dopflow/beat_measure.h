/* dopflow: the measurements of one cardiac cycle from its frames, shared
 * by the beat segmenter (beats.h) and the review replay (review.h) so that
 * a beat split or restored by a reviewer is measured exactly as a detected
 * one. Velocities cm/s, flow ml/min, shear rate 1/s.
 *
 * Not a stage: plain functions on caller-owned structs (no handle, nothing
 * to create or destroy). None can fail (Errors: none). */
#ifndef DOPFLOW_BEAT_MEASURE_H
#define DOPFLOW_BEAT_MEASURE_H

#include <stddef.h>

#include "dopflow/export.h"
#include "dopflow/records.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Artifacts that hide the cardiac cycle: a beat with more than the reject
 * fraction of them is rejected. A clipped frame still shows the cycle
 * (systole is what clips) and is only left out of the averages. */
#define DOP_FRAME_HIDING_MASK (DOP_FRAME_BURST | DOP_FRAME_DROPOUT)

/* The velocity sums of a set of frames. */
typedef struct dop_frame_sums {
    double psv_cm_s;                 /* largest vmax (-INFINITY when empty) */
    double vmax, vmean, flow, shear; /* sums */
    size_t frames;
} dop_frame_sums;

/* Sums over a beat's frames: over its clean frames (no artifact flag of
 * DOP_FRAME_ARTIFACT_MASK), and over all of them (bridged values) for a
 * beat that has no clean frame. Artifact frames are left out rather than
 * bridged because they fall at any phase of the cycle (taps, knocks): left
 * out, they leave the time average unbiased, while a straight line across a
 * systolic peak cuts it (percussion massage read 2-3 % low that way). */
typedef struct dop_beat_sums {
    dop_frame_sums clean, all;
    size_t hiding;                   /* frames with DOP_FRAME_HIDING_MASK */
} dop_beat_sums;

/* Empty sums, and one frame added to them. Errors: none. */
DOP_API dop_beat_sums dop_beat_sums_empty(void);
DOP_API void dop_beat_sums_add(dop_beat_sums *s, const dop_frame *f);

/* PSV, EDV (given: the envelope just before the next onset), TAMAX,
 * TAMEAN, flow, shear rate, PI (Gosling) and RI (Pourcelot) from the clean
 * frames (all frames when none is clean), and the artifact fraction, from
 * the sums of a beat of at least one frame.
 * Errors: none. */
DOP_API void dop_beat_set_indices(dop_beat *beat, const dop_beat_sums *s, double edv_cm_s);

/* A beat the end of the data cuts short (dop_beat.incomplete): heart rate
 * and every index NAN, as none of them is measured on part of a cycle.
 * Errors: none. */
DOP_API void dop_beat_clear_indices(dop_beat *beat);

/* An artifact frame's velocities, flow and shear rate interpolated
 * linearly at fraction t (0..1) between the clean frames a and c. Errors: none. */
DOP_API void dop_frame_bridge(dop_frame *f, const dop_frame *a, const dop_frame *c, double t);

#ifdef __cplusplus
}
#endif
#endif

/* dopflow stage 5: cardiac cycles from the velocity envelope.
 *
 * Onsets are found on the maximum-velocity envelope (the trace least
 * affected by noise). Artifact and no-signal frames hold the last clean
 * value; the trace is median-filtered over 5 frames and smoothed by an 80 ms
 * moving average. Its positive slope is compared with an adaptive threshold
 * (0.35 x the median upslope of the last eight beats, after Pan & Tompkins'
 * adaptive QRS thresholds, IEEE TBME 1985), and a candidate must rise at
 * least 40% of the typical upstroke (80% when it comes before 60% of the
 * typical beat length). Each onset is placed at the foot of the upstroke:
 * the minimum of the smoothed envelope in the 250 ms before the slope peak.
 * A refractory period of 60/max_hr seconds rejects double detections.
 *
 * The stage is a delay line: frames go in, and come out annotated with
 * their beat index and DOP_FRAME_REJECTED_BEAT / DOP_FRAME_BRIDGED once the
 * beat that contains them has ended. Memory is bounded by the longest beat
 * (60/min_hr seconds) plus the detection look-ahead. */
#ifndef DOPFLOW_BEATS_H
#define DOPFLOW_BEATS_H

#include "dopflow/export.h"

#include <stddef.h>

#include "dopflow/records.h"
#include "dopflow/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dop_beats_config {
    double frame_rate_hz;       /* frames per second */
    double min_hr_bpm;          /* longest accepted beat = 60/min_hr; default 30 */
    double max_hr_bpm;          /* refractory period = 60/max_hr; default 200 */
    double reject_fraction;     /* reject a beat with more artifact frames; default 0.3 */
} dop_beats_config;

typedef struct dop_beats_output {
    int (*on_frame)(const dop_frame *frame, void *user); /* annotated frames, in order */
    int (*on_beat)(const dop_beat *beat, void *user);    /* after its frames */
    void *user;
} dop_beats_output;

typedef struct dop_beats dop_beats;

DOP_API dop_beats_config dop_beats_config_default(void);

DOP_API dop_status dop_beats_create(const dop_beats_config *cfg, const dop_beats_output *output,
                                    dop_beats **out, dop_error *err);

/* Push one frame (vmax, vmean, flow, flags filled). A non-zero return of a
 * callback gives DOP_ERR_INTERRUPTED. Never allocates. */
DOP_API dop_status dop_beats_push(dop_beats *b, const dop_frame *frame);

/* End of data: emit the frames still held (the last, unfinished cycle is
 * not a beat). */
DOP_API dop_status dop_beats_flush(dop_beats *b);

DOP_API void dop_beats_reset(dop_beats *b);
DOP_API void dop_beats_destroy(dop_beats *b);

#ifdef __cplusplus
}
#endif
#endif

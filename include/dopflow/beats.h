/* dopflow stage 5: cardiac cycles from the evidence they leave in the
 * spectrogram, on any Doppler recording.
 *
 * Four features per frame: the maximum-velocity envelope of the flow's main
 * direction, the mean velocity, the power rising above each bin's typical
 * level and the spectral flux (beat_evidence.h). Each trace is median
 * filtered over 5 frames and smoothed by an 80 ms moving average; its rise
 * (half-wave rectified first difference) is its onset strength. Artifact
 * and no-signal frames hold the last clean value.
 *
 * Every second, the last window_s seconds of onset strengths give the heart
 * period, each feature's reliability and whether the span is pulsatile
 * (beat_tempo.h). The combined onset strength O(t) (the features weighted
 * by reliability) is tracked by dynamic programming with that period as a
 * tempo prior (Ellis, J New Music Res 2007;36:51-60): the score of a beat at
 * t is O(t) plus the best score of a previous beat at t - d, d in
 * [P/2, 2P], less tightness x ln(d / P)^2. A valve click or a second
 * systolic component is not a second beat because a beat there would cost
 * more in the prior than it gains. Once a few beats are fixed, the path
 * scores each frame by the match of the cycle around it to a template, the
 * mean combined onset strength over +-P/2 around the last 16 beats: the
 * beats keep to the event of the cycle that they have followed so far and
 * do not switch to another of about the same strength (a second valve
 * click, a diastolic component) when the feature weights change or that
 * event is the louder for a few cycles. The best path is traced back every
 * second and beats older than the commit delay (window_s / 2) are fixed;
 * while the span is not (yet) pulsatile the path waits a whole window, so
 * that the first beats of a recording, found periodic only once enough
 * of it has been seen, are kept.
 * Each beat's onset is then moved to the foot of its systolic upstroke
 * (intersecting tangents on the most reliable trace, within the
 * min(0.25 s, 0.3 P) before the steepest rise): once there is a cycle
 * template, the foot of the template's upstroke, the same distance before
 * every beat's node, so that onsets sit at one place in the cycle; before
 * that, the foot of the beat's own trace.
 *
 * No beats where the span is not pulsatile: its frames carry
 * DOP_FRAME_NOT_PULSATILE. Every beat gets a quality index
 * sqi = q_period x q_interval x (1 - artifact fraction), with
 * q_period = min(1, z / (2 z_min)) from the periodicity of its span and
 * q_interval = max(0, 1 - |length - P| / P). A beat is rejected (left out
 * of every average) for, in this order: fewer than 10 % of its frames
 * 10 dB above the noise (not_pulsatile: the periodicity of its window came
 * from flow elsewhere; its frames carry DOP_FRAME_NOT_PULSATILE); more
 * artifact frames than
 * reject_fraction and than the recording's usual share (artifact; never
 * where the detector flags most frames: it then describes the recording,
 * such as broadband valve clicks, not rare events); a length outside [0.6 P, 1.6 P]
 * (irregular_interval: a missed or a false beat); sqi below min_sqi
 * (low_quality).
 *
 * The stage is a delay line: frames go in, and come out annotated with
 * their beat index, DOP_FRAME_REJECTED_BEAT / DOP_FRAME_BRIDGED /
 * DOP_FRAME_NOT_PULSATILE once the beat that contains them has ended.
 * Memory is fixed at create (about window_s + 60/min_hr seconds of frames);
 * latency is the commit delay plus one beat (window_s where not pulsatile). */
#ifndef DOPFLOW_BEATS_H
#define DOPFLOW_BEATS_H

#include "dopflow/export.h"

#include <stddef.h>

#include "dopflow/beat_evidence.h"
#include "dopflow/records.h"
#include "dopflow/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dop_beats_config {
    double frame_rate_hz;       /* frames per second */
    double min_hr_bpm;          /* longest accepted beat = 60/min_hr; default 30 */
    double max_hr_bpm;          /* shortest period considered = 60/max_hr; default 240 */
    double reject_fraction;     /* reject a beat with more artifact frames; default 0.3 */
    double window_s;            /* periodicity window; default 12 s */
    double tightness;           /* tempo prior weight of ln(interval/P)^2; default 20 */
    double z_min;               /* pulsatile when the periodicity z >= z_min; default 2.5 */
    double min_sqi;             /* reject beats below this quality; default 0.1 */
} dop_beats_config;

typedef struct dop_beats_output {
    int (*on_frame)(const dop_frame *frame, void *user); /* annotated frames, in order */
    int (*on_beat)(const dop_beat *beat, void *user);    /* after its frames */
    void *user;
} dop_beats_output;

typedef struct dop_beats dop_beats;

/* Life: config_default, create, push, flush, reset, destroy. Errors: none. */
DOP_API dop_beats_config dop_beats_config_default(void);

/* Errors: DOP_ERR_INVALID_ARG (frame rate not > 0, HR range empty, reject
 * fraction outside [0, 1], window shorter than two longest beats,
 * tightness < 0), DOP_ERR_NOMEM. */
DOP_API dop_status dop_beats_create(const dop_beats_config *cfg, const dop_beats_output *output,
                            dop_beats **out, dop_error *err);

/* What the detector reads of a frame beyond its record: the spectral
 * evidence (beat_evidence.h) and the mean velocity feature, which need not
 * be the frame's own mean: the analysis gives its mean over the fixed
 * wall-filter band, before the clutter band (envelope.h fmean_fixed_hz),
 * since clutter that moves with the heart (the heart wall under a
 * precordial probe) is evidence of the cycle. */
typedef struct dop_beat_input {
    dop_beat_evidence_frame spectral;
    double vmean_cm_s;        /* the mean velocity feature, cm/s */
} dop_beat_input;

/* Push one frame (vmax, vmean, flow, flags filled) and what the detector
 * reads beyond it (NULL: no spectral evidence, the frame's own velocities
 * alone). A non-zero return of a callback gives DOP_ERR_INTERRUPTED. Never
 * allocates. Errors: DOP_ERR_INTERRUPTED. */
DOP_API dop_status dop_beats_push(dop_beats *b, const dop_frame *frame, const dop_beat_input *in);

/* End of data: fix the remaining beats and emit the frames still held (the
 * last, unfinished cycle is not a beat). Errors: DOP_ERR_INTERRUPTED. */
DOP_API dop_status dop_beats_flush(dop_beats *b);

/* Frames flagged DOP_FRAME_NOT_PULSATILE so far, and the periodicity z of
 * the most periodic window seen (0 if none). Errors: none. */
DOP_API long long dop_beats_not_pulsatile_frames(const dop_beats *b);
DOP_API double dop_beats_best_periodicity(const dop_beats *b);

/* Drop the frames held and the beats pending (as after create; nothing is
 * emitted). Errors: none. */
DOP_API void dop_beats_reset(dop_beats *b);
/* NULL is fine. Errors: none. */
DOP_API void dop_beats_destroy(dop_beats *b);

#ifdef __cplusplus
}
#endif
#endif

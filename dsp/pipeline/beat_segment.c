/* The beat stage's frames out (beats_internal.h): each frame is released
 * once the beat that contains it is closed (or it is known to be in none),
 * with its flags; a beat is closed at the next onset, measured on its clean
 * frames (beat_measure.h), judged (interval, artifacts, quality, flow) and
 * its artifact frames bridged in the frames output. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dopflow/beat_measure.h"
#include "dopflow/beat_tempo.h"

#include "beats_internal.h"

int beats_pulsatile_now(const dop_beats *b) { return b->have_estimate && b->estimate.pulsatile; }

static void emit_frame(dop_beats *b, dop_frame *f)
{
    if (b->stopped) return;
    if (!beats_pulsatile_now(b)) f->flags |= DOP_FRAME_NOT_PULSATILE;
    if (f->flags & DOP_FRAME_NOT_PULSATILE) b->not_pulsatile_frames++;
    if (b->output.on_frame && b->output.on_frame(f, b->output.user)) b->stopped = 1;
}

/* Release frames [first_seq, upto) as not belonging to a beat. */
void beats_release_unassigned(dop_beats *b, int64_t upto)
{
    if (upto > b->next_seq) upto = b->next_seq;
    while (b->first_seq < upto) {
        dop_frame *f = &beat_slot(b, b->first_seq)->frame;
        f->beat_index = -1;
        emit_frame(b, f);
        b->first_seq++;
    }
}

/* Linear interpolation of the artifact frames of an accepted beat. */
static void bridge_artifacts(dop_beats *b, int64_t start, int64_t end)
{
    for (int64_t s = start; s < end; s++) {
        dop_frame *f = &beat_slot(b, s)->frame;
        if (!(f->flags & DOP_FRAME_ARTIFACT_MASK)) continue;
        const dop_frame *prev = NULL, *next = NULL;
        for (int64_t p = s - 1; p >= start && !prev; p--)
            if (!(beat_slot(b, p)->frame.flags & DOP_FRAME_ARTIFACT_MASK)) prev = &beat_slot(b, p)->frame;
        for (int64_t q = s + 1; q < end && !next; q++)
            if (!(beat_slot(b, q)->frame.flags & DOP_FRAME_ARTIFACT_MASK)) next = &beat_slot(b, q)->frame;
        if (!prev && !next) continue;
        double t = 0.0;
        if (prev && next) t = (f->time_s - prev->time_s) / (next->time_s - prev->time_s);
        dop_frame_bridge(f, prev ? prev : next, next ? next : prev, t);
    }
}

/* Quality index and rejection of a beat of m frames, loud of them
 * SIGNAL_MIN_DB above the noise (see beats.h). A beat without flow in it
 * (the periodicity of its window came from flow elsewhere in the window)
 * is not pulsatile. Artifacts are rare events: where the artifact detector flags a large
 * share of all frames (a recording whose own dynamics, such as loud valve
 * clicks, trip it), only the excess of a beat over that share counts, and
 * where it flags most frames it describes the recording, not rare events:
 * no beat is then rejected as an artifact. */
static void judge_beat(const dop_beats *b, int64_t m, int64_t loud, dop_beat *beat)
{
    const double period = b->period_frames;
    const double excess = fmax(0.0, beat->artifact_fraction - b->hiding_rate);
    double q_period = fmin(1.0, b->estimate.z / (2.0 * fmax(b->cfg.z_min, 0.5)));
    /* an incomplete beat's length is not its interval: not judged */
    double q_interval = beat->incomplete ? 1.0
                        : period > 0.0 ? fmax(0.0, 1.0 - fabs((double)m - period) / period) : 0.0;
    beat->sqi = q_period * q_interval * (1.0 - excess);
    beat->reject_reason = DOP_BEAT_ACCEPTED;
    if ((double)loud < SIGNAL_SHARE * (double)m)
        beat->reject_reason = DOP_BEAT_NOT_PULSATILE;
    else if (beat->artifact_fraction > b->cfg.reject_fraction && excess > EXCESS_SHARE * b->cfg.reject_fraction &&
        b->hiding_rate <= HIDING_MAJORITY)
        beat->reject_reason = DOP_BEAT_ARTIFACT;
    else if (!beat->incomplete && ((double)m < SHORT_BEAT * period || (double)m > LONG_BEAT * period))
        beat->reject_reason = DOP_BEAT_IRREGULAR_INTERVAL;
    else if (beat->sqi < b->cfg.min_sqi)
        beat->reject_reason = DOP_BEAT_LOW_QUALITY;
    beat->rejected = beat->reject_reason != DOP_BEAT_ACCEPTED;
}

/* Velocity indices of the beat [start, end) from its (bridged) frames. */
static void measure_beat(dop_beats *b, int64_t start, int64_t end, dop_beat *beat)
{
    dop_beat_sums sums = dop_beat_sums_empty();
    for (int64_t s = start; s < end; s++) dop_beat_sums_add(&sums, &beat_slot(b, s)->frame);
    const double fraction = beat->artifact_fraction; /* as judged, before bridging */
    /* End-diastolic velocity: the envelope over the last two frames of the cycle. */
    const int64_t m = end - start;
    double edv = m >= 2 ? 0.5 * (beat_slot(b, end - 1)->frame.vmax_cm_s + beat_slot(b, end - 2)->frame.vmax_cm_s)
                        : beat_slot(b, end - 1)->frame.vmax_cm_s;
    dop_beat_set_indices(beat, &sums, edv);
    beat->artifact_fraction = fraction;
}

/* Frames of [start, end) flagged as burst/dropout (artifacts) and with a
 * signal SIGNAL_MIN_DB above the noise (loud). */
static void count_frames(const dop_beats *b, int64_t start, int64_t end, int64_t *artifacts, int64_t *loud)
{
    for (int64_t s = start; s < end; s++) {
        const dop_frame *f = &beat_slot(b, s)->frame;
        if (f->flags & DOP_FRAME_HIDING_MASK) (*artifacts)++;
        if (f->snr_db >= SIGNAL_MIN_DB) (*loud)++;
    }
}

/* Emit the frames of the beat [start, end) (those of a beat without flow
 * flagged so), then the beat. */
static void emit_beat_frames(dop_beats *b, int64_t start, int64_t end, const dop_beat *beat)
{
    for (int64_t s = start; s < end; s++) {
        dop_frame *f = &beat_slot(b, s)->frame;
        f->beat_index = beat->index;
        if (beat->rejected) f->flags |= DOP_FRAME_REJECTED_BEAT;
        if (beat->reject_reason == DOP_BEAT_NOT_PULSATILE) f->flags |= DOP_FRAME_NOT_PULSATILE;
        emit_frame(b, f);
    }
    b->first_seq = end;
    if (!b->stopped && b->output.on_beat && b->output.on_beat(beat, b->output.user)) b->stopped = 1;
}

/* Close the beat [start, end): judge, annotate, emit its frames, then the beat. */
static void close_beat(dop_beats *b, int64_t start, int64_t end)
{
    const int64_t m = end - start;
    int64_t artifacts = 0, loud = 0;
    count_frames(b, start, end, &artifacts, &loud);
    dop_beat beat = {0};
    beat.index = b->beat_count++;
    beat.start_s = beat_slot(b, start)->frame.time_s;
    beat.end_s = beat_slot(b, end)->frame.time_s;
    beat.heart_rate_bpm = 60.0 / (beat.end_s - beat.start_s);
    beat.artifact_fraction = (double)artifacts / (double)m;
    judge_beat(b, m, loud, &beat);
    if (!beat.rejected) bridge_artifacts(b, start, end);
    measure_beat(b, start, end, &beat);
    emit_beat_frames(b, start, end, &beat);
}

/* The end of the data inside the beat in progress: its onset is a detected
 * beat (the last one the recording holds), but its cycle is cut short, so it
 * is reported as incomplete: its frames are judged for artifacts and flow
 * like any beat's, its indices and heart rate are not measured (NAN), and it
 * enters no average (summary.c). Only a beat whose upstroke the data hold is
 * reported: its node (steepest rise) and a smoothing length after it; a node
 * in the last frames may be an upstroke only begun. */
void beats_close_incomplete(dop_beats *b)
{
    const int64_t start = b->open_onset, end = b->next_seq;
    b->open_onset = -1;
    if (start < b->first_seq || b->last_node < start || b->last_node + (int64_t)b->smooth_len > end) return;
    beats_release_unassigned(b, start);
    int64_t artifacts = 0, loud = 0;
    count_frames(b, start, end, &artifacts, &loud);
    dop_beat beat = {0};
    beat.index = b->beat_count++;
    beat.incomplete = 1;
    beat.start_s = beat_slot(b, start)->frame.time_s;
    beat.end_s = beat_slot(b, end - 1)->frame.time_s + 1.0 / b->cfg.frame_rate_hz;
    beat.artifact_fraction = (double)(artifacts) / (double)(end - start);
    judge_beat(b, end - start, loud, &beat);
    dop_beat_clear_indices(&beat);
    emit_beat_frames(b, start, end, &beat);
}

/* A new onset: the beat in progress ends there (if it is not too long). */
void beats_on_onset(dop_beats *b, int64_t onset)
{
    if (onset < b->first_seq) onset = b->first_seq;
    if (onset >= b->next_seq) onset = b->next_seq - 1; /* within the frames held */
    if (b->open_onset >= 0 && onset > b->open_onset && (size_t)(onset - b->open_onset) <= b->max_beat_len) {
        beats_release_unassigned(b, b->open_onset);
        close_beat(b, b->open_onset, onset);
    } else {
        beats_release_unassigned(b, onset);
    }
    b->open_onset = onset;
}

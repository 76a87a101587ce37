/* Stage 5: cardiac cycles from the maximum-velocity envelope (see beats.h).
 *
 * Each pushed frame gets a "held" envelope value (artifact frames repeat the
 * last clean value, so a burst cannot fake an upstroke), a running median
 * over 5 frames (isolated spikes and one-frame detection gaps at low SNR
 * vanish), a moving average over 80 ms, and the slope of that average. An
 * upstroke must also rise at least 40% of the median of recent upstrokes
 * (foot to slope peak), so noise wiggles in diastole do not count. A systolic upstroke is a run
 * of slope above an adaptive threshold: 0.35 x the median of the last eight
 * upstroke slope peaks (initially 0.35 x the largest slope in the first
 * learning period of 3 s); with no upstroke for 1.6 median beat lengths the
 * threshold halves, so a falling amplitude is followed. The onset is the
 * minimum of the smoothed envelope in the 250 ms before the slope peak.
 * Frames wait in a ring buffer until the beat containing them ends. */
#include "dopflow/beats.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define RECENT_PEAKS 8
#define LEARN_S 3.0
#define SMOOTH_S 0.08
#define FOOT_WINDOW_S 0.25
#define THRESHOLD_FRACTION 0.35
#define MEDIAN_LEN 5          /* frames: removes isolated spikes and one-frame gaps */
#define AMPLITUDE_FRACTION 0.4 /* an upstroke must rise this much of the typical one */
#define PREMATURE_FRACTION 0.6
#define PREMATURE_RISE_FRACTION 0.8
#define THRESHOLD_FLOOR 0.25   /* lowering stops at this fraction of the median upslope */
#define LEARN_MAX_FRAMES 4096  /* slopes kept while learning (3 s at up to ~1.3 kHz frame rate) */
#define LEARN_TO_PEAK 0.7      /* the 95th percentile slope is about 0.7 of a peak upslope */

typedef struct held_frame {
    dop_frame frame;
    double held;      /* envelope with artifact frames held at the last clean value */
    double median;    /* running median of `held` over MEDIAN_LEN frames */
    double smooth;    /* moving average of `median` */
} held_frame;

struct dop_beats {
    dop_beats_config cfg;
    dop_beats_output output;
    held_frame *ring;
    size_t capacity;               /* frames held at most */
    size_t ring_mask;              /* ring slots - 1: a power of two >= capacity */
    int64_t first_seq, next_seq;   /* held frames are [first_seq, next_seq) */
    int64_t scanned_seq;           /* frames up to here have been scanned for onsets */
    size_t smooth_len, refractory, learn_len, max_beat_len, foot_len;
    double last_clean;
    int have_clean;
    int direction;                 /* +1: follow the forward envelope; -1: the reverse one */
    /* detection */
    double threshold;              /* slope threshold, cm/s per frame; <= 0 while learning */
    int in_peak;
    double peak_slope;
    int64_t peak_seq, last_peak_seq;
    double recent_peaks[RECENT_PEAKS];
    double recent_rises[RECENT_PEAKS];
    int64_t recent_rr[RECENT_PEAKS];
    int n_recent, n_rr;
    double rr_median;              /* typical_rr_frames() of the arrays above (kept current) */
    double peaks_median;           /* median of the recent peak slopes, 0 if none */
    int64_t last_lowered_seq;      /* when the threshold was last lowered */
    int64_t learned_seq;           /* when learning ended */
    double learned_threshold;
    int64_t last_onset;            /* -1 if none held */
    int64_t beat_count;
    int stopped;
};

dop_beats_config dop_beats_config_default(void)
{
    dop_beats_config cfg = {.frame_rate_hz = 0.0, .min_hr_bpm = 30.0, .max_hr_bpm = 200.0, .reject_fraction = 0.3};
    return cfg;
}

static held_frame *at(dop_beats *b, int64_t seq) { return &b->ring[(size_t)seq & b->ring_mask]; }

dop_status dop_beats_create(const dop_beats_config *cfg, const dop_beats_output *output, dop_beats **out,
                            dop_error *err)
{
    *out = NULL;
    if (!(cfg->frame_rate_hz > 0.0) || !(cfg->min_hr_bpm > 0.0) || !(cfg->max_hr_bpm > cfg->min_hr_bpm))
        return dop_error_set(err, DOP_ERR_INVALID_ARG, "beats: need frame rate > 0 and 0 < min HR < max HR");
    if (!(cfg->reject_fraction >= 0.0 && cfg->reject_fraction <= 1.0))
        return dop_error_set(err, DOP_ERR_INVALID_ARG, "beats: reject fraction %g is not in [0, 1]", cfg->reject_fraction);
    dop_beats *b = calloc(1, sizeof *b);
    if (!b) return dop_error_set(err, DOP_ERR_NOMEM, "beats: out of memory");
    b->cfg = *cfg;
    b->output = *output;
    const double fr = cfg->frame_rate_hz;
    b->smooth_len = (size_t)fmax(1.0, round(SMOOTH_S * fr));
    b->refractory = (size_t)ceil(60.0 / cfg->max_hr_bpm * fr);
    b->learn_len = (size_t)ceil(LEARN_S * fr);
    b->max_beat_len = (size_t)ceil(60.0 / cfg->min_hr_bpm * fr);
    b->foot_len = (size_t)ceil(FOOT_WINDOW_S * fr);
    b->capacity = b->max_beat_len + b->learn_len + b->foot_len + b->smooth_len + 64;
    /* The ring has a power-of-two number of slots (a mask, not a division,
     * per access); at most `capacity` of them are in use. */
    size_t slots = 1;
    while (slots < b->capacity) slots <<= 1;
    b->ring_mask = slots - 1;
    b->ring = malloc(slots * sizeof *b->ring);
    if (!b->ring) {
        free(b);
        return dop_error_set(err, DOP_ERR_NOMEM, "beats: out of memory");
    }
    dop_beats_reset(b);
    *out = b;
    return DOP_OK;
}

void dop_beats_reset(dop_beats *b)
{
    b->first_seq = b->next_seq = b->scanned_seq = 0;
    b->have_clean = 0;
    b->last_clean = 0.0;
    b->direction = 1;
    b->threshold = 0.0;
    b->in_peak = 0;
    b->peak_slope = 0.0;
    b->peak_seq = b->last_peak_seq = b->last_lowered_seq = -1;
    b->learned_seq = 0;
    b->learned_threshold = 0.0;
    b->n_recent = b->n_rr = 0;
    b->rr_median = b->peaks_median = 0.0;
    b->last_onset = -1;
    b->beat_count = 0;
    b->stopped = 0;
}

static int emit_frame(dop_beats *b, const dop_frame *f)
{
    if (b->stopped) return 1;
    if (b->output.on_frame && b->output.on_frame(f, b->output.user)) b->stopped = 1;
    return b->stopped;
}

/* Release frames [first_seq, upto) as not belonging to a beat. */
static void release_unassigned(dop_beats *b, int64_t upto)
{
    while (b->first_seq < upto) {
        dop_frame *f = &at(b, b->first_seq)->frame;
        f->beat_index = -1;
        emit_frame(b, f);
        b->first_seq++;
    }
}

static int cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, c = *(const double *)y;
    return (a > c) - (a < c);
}

static double median_of(const double *v, int n)
{
    double tmp[RECENT_PEAKS];
    memcpy(tmp, v, (size_t)n * sizeof *tmp);
    for (int i = 1; i < n; i++) /* at most eight values: insertion sort */
        for (int j = i; j > 0 && tmp[j - 1] > tmp[j]; j--) {
            double t = tmp[j];
            tmp[j] = tmp[j - 1];
            tmp[j - 1] = t;
        }
    return n % 2 ? tmp[n / 2] : 0.5 * (tmp[n / 2 - 1] + tmp[n / 2]);
}

/* Median of the recent beat lengths in frames, 0 if none yet (cached:
 * the arrays change only when a beat is accepted). */
static double typical_rr_frames(const dop_beats *b) { return b->rr_median; }

static double compute_typical_rr(const dop_beats *b)
{
    int n = b->n_rr < RECENT_PEAKS ? b->n_rr : RECENT_PEAKS;
    if (n == 0) return 0.0;
    double rr[RECENT_PEAKS];
    for (int i = 0; i < n; i++) rr[i] = (double)b->recent_rr[i];
    return median_of(rr, n);
}

/* Linear interpolation of the artifact frames of an accepted beat. */
static void bridge_artifacts(dop_beats *b, int64_t start, int64_t end)
{
    for (int64_t s = start; s < end; s++) {
        dop_frame *f = &at(b, s)->frame;
        if (!(f->flags & DOP_FRAME_ARTIFACT_MASK)) continue;
        const dop_frame *prev = NULL, *next = NULL;
        for (int64_t p = s - 1; p >= start && !prev; p--)
            if (!(at(b, p)->frame.flags & DOP_FRAME_ARTIFACT_MASK)) prev = &at(b, p)->frame;
        for (int64_t q = s + 1; q < end && !next; q++)
            if (!(at(b, q)->frame.flags & DOP_FRAME_ARTIFACT_MASK)) next = &at(b, q)->frame;
        if (!prev && !next) continue;
        double t = 0.0;
        if (prev && next) t = (f->time_s - prev->time_s) / (next->time_s - prev->time_s);
        const dop_frame *a = prev ? prev : next, *c = next ? next : prev;
#define LERP(field) f->field = a->field + t * (c->field - a->field)
        LERP(vmax_cm_s);
        LERP(vmax_forward_cm_s);
        LERP(vmax_reverse_cm_s);
        LERP(vmean_cm_s);
        LERP(flow_ml_min);
        LERP(shear_rate_s);
#undef LERP
        f->flags |= DOP_FRAME_BRIDGED;
    }
}

/* Close the beat [start, end): annotate, emit its frames, then the beat. */
static void close_beat(dop_beats *b, int64_t start, int64_t end)
{
    const int64_t m = end - start;
    int64_t artifacts = 0;
    for (int64_t s = start; s < end; s++)
        if (at(b, s)->frame.flags & DOP_FRAME_ARTIFACT_MASK) artifacts++;
    dop_beat beat = {0};
    beat.index = b->beat_count++;
    beat.start_s = at(b, start)->frame.time_s;
    beat.end_s = at(b, end)->frame.time_s;
    beat.heart_rate_bpm = 60.0 / (beat.end_s - beat.start_s);
    beat.artifact_fraction = (double)artifacts / (double)m;
    beat.rejected = beat.artifact_fraction > b->cfg.reject_fraction;
    if (!beat.rejected) bridge_artifacts(b, start, end);
    double psv = -INFINITY, sum_max = 0.0, sum_mean = 0.0, sum_flow = 0.0, sum_shear = 0.0;
    for (int64_t s = start; s < end; s++) {
        dop_frame *f = &at(b, s)->frame;
        f->beat_index = beat.index;
        if (beat.rejected) f->flags |= DOP_FRAME_REJECTED_BEAT;
        if (f->vmax_cm_s > psv) psv = f->vmax_cm_s;
        sum_max += f->vmax_cm_s;
        sum_mean += f->vmean_cm_s;
        sum_flow += f->flow_ml_min;
        sum_shear += f->shear_rate_s;
    }
    /* End-diastolic velocity: the envelope over the last two frames of the cycle. */
    beat.edv_cm_s = m >= 2 ? 0.5 * (at(b, end - 1)->frame.vmax_cm_s + at(b, end - 2)->frame.vmax_cm_s)
                           : at(b, end - 1)->frame.vmax_cm_s;
    beat.psv_cm_s = psv;
    beat.tamax_cm_s = sum_max / (double)m;
    beat.tamean_cm_s = sum_mean / (double)m;
    beat.flow_ml_min = sum_flow / (double)m;
    beat.shear_rate_s = sum_shear / (double)m;
    beat.pi = beat.tamax_cm_s != 0.0 ? (psv - beat.edv_cm_s) / beat.tamax_cm_s : NAN;
    beat.ri = psv != 0.0 ? (psv - beat.edv_cm_s) / psv : NAN;
    for (int64_t s = start; s < end; s++) emit_frame(b, &at(b, s)->frame);
    b->first_seq = end;
    if (!b->stopped && b->output.on_beat && b->output.on_beat(&beat, b->output.user)) b->stopped = 1;
}

static void on_onset(dop_beats *b, int64_t onset)
{
    if (b->last_onset >= 0 && onset > b->last_onset) {
        if ((size_t)(onset - b->last_onset) <= b->max_beat_len) {
            release_unassigned(b, b->last_onset);
            close_beat(b, b->last_onset, onset);
        } else {
            release_unassigned(b, onset);
        }
    } else if (b->last_onset < 0) {
        release_unassigned(b, onset);
    }
    if (onset > b->last_onset) b->last_onset = onset;
}

/* Finish an upstroke whose slope peaked at peak_seq. */
static void finish_peak(dop_beats *b)
{
    b->in_peak = 0;
    int64_t lo = b->peak_seq - (int64_t)b->foot_len;
    if (lo < b->first_seq) lo = b->first_seq;
    if (b->last_onset >= 0 && lo <= b->last_onset) lo = b->last_onset + 1;
    int64_t onset = b->peak_seq;
    for (int64_t s = b->peak_seq; s >= lo; s--)
        if (at(b, s)->smooth <= at(b, onset)->smooth) onset = s;
    double rise = at(b, b->peak_seq)->smooth - at(b, onset)->smooth;
    int n_rises = b->n_recent < RECENT_PEAKS ? b->n_recent : RECENT_PEAKS;
    if (n_rises >= 3) {
        double typical_rise = median_of(b->recent_rises, n_rises);
        if (rise < AMPLITUDE_FRACTION * typical_rise) return; /* a wiggle */
        /* A premature candidate (RR < 60% of the typical beat) must be a
         * full-size upstroke: extrasystoles are, noise is not. */
        double typical_rr = typical_rr_frames(b);
        if (typical_rr > 0.0 && b->last_peak_seq >= 0 &&
            (double)(b->peak_seq - b->last_peak_seq) < PREMATURE_FRACTION * typical_rr &&
            rise < PREMATURE_RISE_FRACTION * typical_rise)
            return;
    }
    b->recent_rises[b->n_recent % RECENT_PEAKS] = rise;
    if (b->last_peak_seq >= 0) {
        b->recent_rr[b->n_rr % RECENT_PEAKS] = b->peak_seq - b->last_peak_seq;
        b->n_rr++;
    }
    b->recent_peaks[b->n_recent % RECENT_PEAKS] = b->peak_slope;
    b->n_recent++;
    int n = b->n_recent < RECENT_PEAKS ? b->n_recent : RECENT_PEAKS;
    b->peaks_median = median_of(b->recent_peaks, n);
    b->rr_median = compute_typical_rr(b);
    b->threshold = THRESHOLD_FRACTION * b->peaks_median;
    b->last_peak_seq = b->peak_seq;
    on_onset(b, onset);
}

static double slope_at(dop_beats *b, int64_t seq)
{
    return seq > b->first_seq ? at(b, seq)->smooth - at(b, seq - 1)->smooth : 0.0;
}

static void scan(dop_beats *b, int64_t seq)
{
    double d = slope_at(b, seq);
    if (b->in_peak) {
        if (d > b->peak_slope) {
            b->peak_slope = d;
            b->peak_seq = seq;
        }
        if (d < b->threshold || seq - b->peak_seq > (int64_t)b->refractory / 2) finish_peak(b);
        return;
    }
    int refractory_over = b->last_peak_seq < 0 || seq - b->last_peak_seq >= (int64_t)b->refractory;
    if (d > b->threshold && refractory_over) {
        b->in_peak = 1;
        b->peak_slope = d;
        b->peak_seq = seq;
        return;
    }
    /* No upstroke for 1.6 typical beats: the amplitude fell; lower the
     * threshold, but not below a quarter of the median upslope. */
    /* Before two beats are known, "typical" is the longest allowed beat. */
    double typical = typical_rr_frames(b);
    if (typical <= 0.0) typical = (double)b->max_beat_len / 1.6;
    {
        int64_t reference = b->last_lowered_seq > b->last_peak_seq ? b->last_lowered_seq : b->last_peak_seq;
        if (reference < 0) reference = b->learned_seq;
        int64_t since = seq - reference;
        int n = b->n_recent < RECENT_PEAKS ? b->n_recent : RECENT_PEAKS;
        double floor_level = n > 0 ? THRESHOLD_FLOOR * b->peaks_median : THRESHOLD_FLOOR * b->learned_threshold;
        if ((double)since > 1.6 * typical && b->threshold > floor_level) {
            b->threshold = fmax(0.5 * b->threshold, floor_level);
            b->last_lowered_seq = seq;
        }
    }
}

/* The envelope the detector follows: the maximum velocity of the flow's
 * main direction (forward, or reverse when the vessel runs away from the
 * probe), not the signed envelope, whose sign changes in triphasic flow
 * would count as extra upstrokes. */
static double trace_value(const dop_beats *b, const dop_frame *f)
{
    return b->direction < 0 ? -f->vmax_reverse_cm_s : f->vmax_forward_cm_s;
}

/* held, median and smooth of frame seq from the frames before it. */
static void trace_frame(dop_beats *b, int64_t seq)
{
    held_frame *h = at(b, seq);
    double value = trace_value(b, &h->frame);
    /* "No signal detected" in one frame at low SNR is a gap in knowledge,
     * not zero velocity: hold the last value as for artifacts. */
    int clean = !(h->frame.flags & (DOP_FRAME_ARTIFACT_MASK | DOP_FRAME_NO_SIGNAL)) && isfinite(value);
    if (clean) {
        if (!b->have_clean) {
            /* Frames before the first clean one take its value: a step from
             * "unknown" to the first reading is not an upstroke. */
            for (int64_t s = b->first_seq; s < seq; s++) {
                held_frame *earlier = at(b, s);
                earlier->held = earlier->median = earlier->smooth = value;
            }
        }
        b->last_clean = value;
        b->have_clean = 1;
    }
    h->held = b->have_clean ? b->last_clean : 0.0;
    double window[MEDIAN_LEN] = {0};
    size_t m = 0;
    for (int64_t s = seq; s >= b->first_seq && m < MEDIAN_LEN; s--) window[m++] = at(b, s)->held;
    for (size_t i = 1; i < m; i++)
        for (size_t j = i; j > 0 && window[j - 1] > window[j]; j--) {
            double t = window[j];
            window[j] = window[j - 1];
            window[j - 1] = t;
        }
    h->median = window[m / 2];
    double sum = 0.0;
    size_t n = 0;
    for (int64_t s = seq; s >= b->first_seq && n < b->smooth_len; s--, n++) sum += at(b, s)->median;
    h->smooth = sum / (double)n;
}

/* After learning: follow the direction that carries more flow, and trace
 * the held frames again if that is the reverse one. */
static void choose_direction(dop_beats *b)
{
    double forward = 0.0, reverse = 0.0;
    for (int64_t s = b->first_seq; s < b->next_seq; s++) {
        forward += at(b, s)->frame.vmax_forward_cm_s;
        reverse -= at(b, s)->frame.vmax_reverse_cm_s;
    }
    int direction = reverse > forward ? -1 : 1;
    if (direction == b->direction) return;
    b->direction = direction;
    b->have_clean = 0;
    b->last_clean = 0.0;
    for (int64_t s = b->first_seq; s < b->next_seq; s++) trace_frame(b, s);
}

dop_status dop_beats_push(dop_beats *b, const dop_frame *frame)
{
    if (b->stopped) return DOP_ERR_INTERRUPTED;
    /* Make room: a beat longer than the longest allowed cannot be completed. */
    if ((size_t)(b->next_seq - b->first_seq) == b->capacity) {
        int64_t keep_from = b->next_seq - (int64_t)(b->foot_len + b->smooth_len + 2);
        if (b->last_onset >= 0 && b->last_onset < keep_from) b->last_onset = -1;
        release_unassigned(b, b->first_seq + 1 > keep_from ? b->first_seq + 1 : keep_from);
    }
    int64_t seq = b->next_seq++;
    held_frame *h = at(b, seq);
    h->frame = *frame;
    trace_frame(b, seq);

    if (b->threshold <= 0.0) {
        /* Learning: wait for LEARN_S of data, then set the threshold and scan it. */
        if ((size_t)(b->next_seq - b->first_seq) < b->learn_len) return DOP_OK;
        choose_direction(b);
        /* The 95th percentile of the positive slopes after the smoothing
         * start-up: robust to one spurious step, still inside the upstrokes
         * (which fill ~10% of a cycle). */
        double slopes[LEARN_MAX_FRAMES];
        size_t n_slopes = 0;
        for (int64_t s = b->first_seq + (int64_t)b->smooth_len + 1; s < b->next_seq && n_slopes < LEARN_MAX_FRAMES; s++) {
            double d = slope_at(b, s);
            if (d > 0.0) slopes[n_slopes++] = d;
        }
        double max_slope = 0.0;
        if (n_slopes > 0) {
            qsort(slopes, n_slopes, sizeof *slopes, cmp_double);
            max_slope = slopes[(size_t)(0.95 * (double)(n_slopes - 1))] / LEARN_TO_PEAK;
        }
        if (max_slope <= 0.0) {
            /* A flat envelope (no flow, or no signal): no beats in this stretch. */
            release_unassigned(b, b->next_seq - (int64_t)b->smooth_len);
            b->scanned_seq = b->first_seq;
            return b->stopped ? DOP_ERR_INTERRUPTED : DOP_OK;
        }
        b->threshold = b->learned_threshold = THRESHOLD_FRACTION * max_slope;
        b->learned_seq = b->next_seq;
        /* The smoothing start-up cannot hold an upstroke we could place. */
        if (b->scanned_seq < b->first_seq + (int64_t)b->smooth_len + 1)
            b->scanned_seq = b->first_seq + (int64_t)b->smooth_len + 1;
    }
    if (b->scanned_seq < b->first_seq) b->scanned_seq = b->first_seq;
    while (b->scanned_seq < b->next_seq) scan(b, b->scanned_seq++);
    /* Frames older than the longest beat without an onset cannot join a beat. */
    if (b->last_onset < 0) release_unassigned(b, b->next_seq - (int64_t)(b->foot_len + b->smooth_len + 2));
    return b->stopped ? DOP_ERR_INTERRUPTED : DOP_OK;
}

dop_status dop_beats_flush(dop_beats *b)
{
    if (b->in_peak) finish_peak(b);
    release_unassigned(b, b->next_seq);
    b->last_onset = -1;
    return b->stopped ? DOP_ERR_INTERRUPTED : DOP_OK;
}

void dop_beats_destroy(dop_beats *b)
{
    if (!b) return;
    free(b->ring);
    free(b);
}

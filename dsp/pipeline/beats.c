/* Stage 5: cardiac cycles from the evidence they leave in the spectrogram
 * (see beats.h for the method and its references).
 *
 * One ring of slots holds, per frame, the frame itself (until the beat that
 * contains it ends) and its features, onset strengths and dynamic
 * programming state (for the periodicity window and the trace back). */
#include "dopflow/beats.h"

#include "core/median.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dopflow/beat_measure.h"
#include "dopflow/beat_tempo.h"

#include "beat_path.h"
#include "core/cpu.h"

/* The features of a frame: the flow's velocity traces, and the spectral
 * evidence twice: as it is, and with bursts left out (F_*_QUIET). */
enum { F_VMAX, F_VMEAN, F_POWER, F_FLUX, F_POWER_QUIET, F_FLUX_QUIET, N_FEATURES };
#define N_USED DOP_TEMPO_FEATURES

#define MEDIAN_LEN 5            /* frames: removes isolated spikes and one-frame gaps */
#define SMOOTH_S 0.08           /* moving average of the traces, s */
#define FOOT_WINDOW_S 0.25      /* the foot is searched this far before the steepest rise, s */
#define FOOT_PERIOD_FRACTION 0.3 /* ... and at most this fraction of the period */
#define UPDATE_S 2.0            /* periodicity re-estimated and path fixed every UPDATE_S */
#define COMMIT_DELAY_S 4.0      /* path nodes are fixed this long after they were scored */
#define FIRST_ESTIMATE_S 4.0    /* first estimate after this much data (or at the end) */
#define TEMPO_RATE_HZ 50.0      /* onset strengths decimated to about this rate for the tempo */
#define DIRECTION_S 5.0         /* the flow's main direction: mean over this long */
#define POWER_FLOOR 1e-6        /* excess power ratio added before the logarithm */
#define MIN_SPACING 0.5         /* two beats at least this fraction of the period apart */
#define SHORT_BEAT 0.6          /* beats shorter than this fraction of the period are irregular */
#define LONG_BEAT 1.6           /* ... and longer than this */
#define SIGNAL_MIN_DB 10.0      /* a pulsatile span has frames this far above the noise */
#define SIGNAL_SHARE 0.1        /* ... in at least this share of its frames */
#define CLEAR_FLOW 2.0          /* flow periodicity above this x z_min: bursts are artifacts */
#define EXCESS_SHARE 0.5        /* artifact rejection: excess over the usual share > this x reject fraction */
#define CONFIRM_PERIOD 0.1       /* two estimates in a row agree: periods within this fraction */
#define HIDING_MAJORITY 0.5     /* the detector flags more than this share of frames: no artifact verdicts */
#define TEMPLATE_BEATS 16       /* the cycle template averages the last this many beats */
#define TEMPLATE_MIN_BEATS 3    /* ... and is used from this many on */

typedef struct slot {
    dop_frame frame;
    double held[N_FEATURES];    /* feature, artifact frames at the last clean value */
    double median[N_FEATURES];  /* running median of `held` over MEDIAN_LEN frames */
    double trace[N_FEATURES];   /* moving average of `median` */
    double onset[N_FEATURES];   /* onset strength: rise of the trace (flux: itself) */
    double combined;            /* standardised combined onset strength (weights in force) */
    double score;               /* dynamic programming: best path score ending here */
    int64_t back;               /* previous beat on that path, -1 if none */
} slot;

struct dop_beats {
    dop_beats_config cfg;
    dop_beats_output output;
    dop_tempo *tempo;
    slot *ring;
    size_t ring_mask;                /* slots - 1 (a power of two) */
    size_t slots;
    size_t smooth_len, window_len, delay_len, update_len, first_len, foot_len, max_beat_len, decimation;
    double *tempo_in[N_USED];        /* decimated window for the tempo estimate */
    int used[N_USED];                /* the features in use: velocity traces, spectral pair */
    int64_t *path;                   /* trace back scratch, `slots` entries */
    double *line;                    /* scratch: combined onset strengths in a row, `slots` */
    double *local;                   /* scratch: local scores of the frames scored, `slots` */
    double *scores;                  /* scratch: path scores in a row, slots + 2 max beat + 2 */
    int avx;                         /* dop_cpu_use_avx() at creation */
    double *penalty;                 /* tempo prior by interval, frames 0..2 max beat */
    /* stream state */
    int64_t hist_first;              /* oldest frame with features */
    int64_t first_seq, next_seq;     /* frames held: [first_seq, next_seq) */
    int64_t dp_seq;                  /* frames before it have a path score */
    int64_t dp_first;                /* oldest frame with a valid path score */
    int64_t last_estimate_seq;
    int64_t last_node;               /* last fixed path node (steepest rise), -1 */
    int64_t open_onset;              /* onset of the beat in progress, -1 */
    double last_clean[N_FEATURES];
    int have_clean[N_FEATURES];
    double direction_mean;           /* running mean of forward - reverse maximum velocity */
    double hiding_rate;              /* running fraction of burst/dropout frames (window_s) */
    int64_t direction_count;
    /* the periodicity in force */
    int have_estimate;
    int confirmed;                   /* pulsatile in two estimates in a row, with one period */
    dop_tempo_estimate estimate;
    double period_frames;            /* estimate.period_s x frame rate */
    double feature_mean[N_USED], feature_sd[N_USED], combined_sd; /* of the features in use */
    int primary_trace;               /* the most reliable trace: foot search */
    /* the cycle template: the combined onset strength around the last beats */
    int64_t nodes[TEMPLATE_BEATS];   /* their path nodes, a ring */
    size_t node_count;
    double *cycle;                   /* 2 half + 1 values, node at [half] */
    double *cycle_trace;             /* the same beats' mean primary trace */
    double *foot_in;                 /* scratch: one beat's trace before its node */
    double foot_offset;              /* foot of the template's upstroke - node, frames */
    int64_t half;                    /* frames either side; 0: no template in use */
    double cycle_gain;               /* cycle[half] / sum of cycle^2 */
    /* results */
    int64_t beat_count;
    long long not_pulsatile_frames;
    double best_z;
    int stopped;
};

const char *dop_beat_reason_name(int reason)
{
    switch (reason) {
    case DOP_BEAT_ARTIFACT: return "artifact";
    case DOP_BEAT_IRREGULAR_INTERVAL: return "irregular_interval";
    case DOP_BEAT_LOW_QUALITY: return "low_quality";
    case DOP_BEAT_REVIEW: return "review";
    case DOP_BEAT_NOT_PULSATILE: return "not_pulsatile";
    default: return "";
    }
}

dop_beats_config dop_beats_config_default(void)
{
    dop_beats_config cfg = {.frame_rate_hz = 0.0, .min_hr_bpm = 30.0, .max_hr_bpm = 240.0,
                            .reject_fraction = 0.3, .window_s = 12.0, .tightness = 20.0, .z_min = 2.5,
                            .min_sqi = 0.1};
    return cfg;
}

static slot *at(const dop_beats *b, int64_t seq) { return &b->ring[(size_t)seq & b->ring_mask]; }

static dop_status check_config(const dop_beats_config *cfg, dop_error *err)
{
    if (!(cfg->frame_rate_hz > 0.0) || !(cfg->min_hr_bpm > 0.0) || !(cfg->max_hr_bpm > cfg->min_hr_bpm))
        return dop_error_set(err, DOP_ERR_INVALID_ARG, "beats: need frame rate > 0 and 0 < min HR < max HR");
    if (!(cfg->reject_fraction >= 0.0 && cfg->reject_fraction <= 1.0))
        return dop_error_set(err, DOP_ERR_INVALID_ARG, "beats: reject fraction %g is not in [0, 1]", cfg->reject_fraction);
    if (!(cfg->window_s >= 2.0 * 60.0 / cfg->min_hr_bpm))
        return dop_error_set(err, DOP_ERR_INVALID_ARG, "beats: window %g s is shorter than two longest beats (%g s)",
                             cfg->window_s, 2.0 * 60.0 / cfg->min_hr_bpm);
    if (!(cfg->tightness >= 0.0) || !(cfg->z_min >= 0.0) || !(cfg->min_sqi >= 0.0 && cfg->min_sqi <= 1.0))
        return dop_error_set(err, DOP_ERR_INVALID_ARG, "beats: tightness and z_min must be >= 0, min_sqi in [0, 1]");
    return DOP_OK;
}

/* Frame counts of every time constant. */
static void set_lengths(dop_beats *b)
{
    const double fr = b->cfg.frame_rate_hz;
    b->smooth_len = (size_t)fmax(1.0, round(SMOOTH_S * fr));
    b->window_len = (size_t)ceil(b->cfg.window_s * fr);
    b->delay_len = (size_t)fmin((double)(b->window_len / 2), ceil(COMMIT_DELAY_S * fr));
    b->update_len = (size_t)fmax(1.0, round(UPDATE_S * fr));
    b->first_len = (size_t)fmin((double)b->window_len, ceil(FIRST_ESTIMATE_S * fr));
    b->foot_len = (size_t)ceil(FOOT_WINDOW_S * fr);
    b->max_beat_len = (size_t)ceil(60.0 / b->cfg.min_hr_bpm * fr);
    b->decimation = (size_t)fmax(1.0, round(fr / TEMPO_RATE_HZ));
    size_t need = b->window_len + b->delay_len + b->max_beat_len + b->foot_len + b->update_len + 64;
    b->slots = 1;
    while (b->slots < need) b->slots <<= 1;
    b->ring_mask = b->slots - 1;
}

dop_status dop_beats_create(const dop_beats_config *cfg, const dop_beats_output *output, dop_beats **out,
                            dop_error *err)
{
    *out = NULL;
    dop_status status = check_config(cfg, err);
    if (status != DOP_OK) return status;
    dop_beats *b = calloc(1, sizeof *b);
    if (!b) return dop_error_set(err, DOP_ERR_NOMEM, "beats: out of memory");
    b->cfg = *cfg;
    b->output = *output;
    b->avx = dop_cpu_use_avx();
    set_lengths(b);
    dop_tempo_config tcfg = dop_tempo_config_default();
    tcfg.rate_hz = cfg->frame_rate_hz / (double)b->decimation;
    tcfg.min_hr_bpm = cfg->min_hr_bpm;
    tcfg.max_hr_bpm = cfg->max_hr_bpm;
    tcfg.z_min = cfg->z_min;
    tcfg.max_samples = b->window_len / b->decimation + 1;
    if ((status = dop_tempo_create(&tcfg, &b->tempo, err)) != DOP_OK) {
        dop_beats_destroy(b);
        return status;
    }
    b->ring = malloc(b->slots * sizeof *b->ring);
    b->path = malloc(b->slots * sizeof *b->path);
    b->line = malloc(b->slots * sizeof *b->line);
    b->local = malloc(b->slots * sizeof *b->local);
    b->scores = malloc((b->slots + 2 * b->max_beat_len + 2) * sizeof *b->scores);
    b->penalty = malloc((2 * b->max_beat_len + 2) * sizeof *b->penalty);
    b->cycle = malloc((2 * b->max_beat_len + 3) * sizeof *b->cycle);
    b->cycle_trace = malloc((2 * b->max_beat_len + 3) * sizeof *b->cycle_trace);
    b->foot_in = malloc((b->foot_len + b->smooth_len + 4) * sizeof *b->foot_in);
    int ok = b->ring && b->path && b->line && b->local && b->scores && b->penalty && b->cycle && b->cycle_trace && b->foot_in;
    for (int k = 0; k < N_USED; k++) ok = ok && (b->tempo_in[k] = malloc(tcfg.max_samples * sizeof(double)));
    if (!ok) {
        dop_beats_destroy(b);
        return dop_error_set(err, DOP_ERR_NOMEM, "beats: out of memory");
    }
    dop_beats_reset(b);
    *out = b;
    return DOP_OK;
}

void dop_beats_reset(dop_beats *b)
{
    b->hist_first = b->first_seq = b->next_seq = b->dp_seq = b->dp_first = 0;
    b->last_estimate_seq = 0;
    b->last_node = b->open_onset = -1;
    for (int k = 0; k < N_FEATURES; k++) {
        b->have_clean[k] = 0;
        b->last_clean[k] = 0.0;
    }
    b->direction_mean = 0.0;
    b->direction_count = 0;
    b->hiding_rate = 0.0;
    b->have_estimate = 0;
    b->confirmed = 0;
    memset(&b->estimate, 0, sizeof b->estimate);
    b->period_frames = 0.0;
    b->primary_trace = F_VMAX;
    b->node_count = 0;
    b->half = 0;
    for (int u = 0; u < N_USED; u++) b->used[u] = u;
    b->beat_count = 0;
    b->not_pulsatile_frames = 0;
    b->best_z = 0.0;
    b->stopped = 0;
}

/* ---- frames out ---------------------------------------------------------- */

static int pulsatile_now(const dop_beats *b) { return b->have_estimate && b->estimate.pulsatile; }

static void emit_frame(dop_beats *b, dop_frame *f)
{
    if (b->stopped) return;
    if (!pulsatile_now(b)) f->flags |= DOP_FRAME_NOT_PULSATILE;
    if (f->flags & DOP_FRAME_NOT_PULSATILE) b->not_pulsatile_frames++;
    if (b->output.on_frame && b->output.on_frame(f, b->output.user)) b->stopped = 1;
}

/* Release frames [first_seq, upto) as not belonging to a beat. */
static void release_unassigned(dop_beats *b, int64_t upto)
{
    if (upto > b->next_seq) upto = b->next_seq;
    while (b->first_seq < upto) {
        dop_frame *f = &at(b, b->first_seq)->frame;
        f->beat_index = -1;
        emit_frame(b, f);
        b->first_seq++;
    }
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
    double q_interval = period > 0.0 ? fmax(0.0, 1.0 - fabs((double)m - period) / period) : 0.0;
    beat->sqi = q_period * q_interval * (1.0 - excess);
    beat->reject_reason = DOP_BEAT_ACCEPTED;
    if ((double)loud < SIGNAL_SHARE * (double)m)
        beat->reject_reason = DOP_BEAT_NOT_PULSATILE;
    else if (beat->artifact_fraction > b->cfg.reject_fraction && excess > EXCESS_SHARE * b->cfg.reject_fraction &&
        b->hiding_rate <= HIDING_MAJORITY)
        beat->reject_reason = DOP_BEAT_ARTIFACT;
    else if ((double)m < SHORT_BEAT * period || (double)m > LONG_BEAT * period)
        beat->reject_reason = DOP_BEAT_IRREGULAR_INTERVAL;
    else if (beat->sqi < b->cfg.min_sqi)
        beat->reject_reason = DOP_BEAT_LOW_QUALITY;
    beat->rejected = beat->reject_reason != DOP_BEAT_ACCEPTED;
}

/* Velocity indices of the beat [start, end) from its (bridged) frames. */
static void measure_beat(dop_beats *b, int64_t start, int64_t end, dop_beat *beat)
{
    dop_beat_sums sums = dop_beat_sums_empty();
    for (int64_t s = start; s < end; s++) {
        dop_frame *f = &at(b, s)->frame;
        f->beat_index = beat->index;
        if (beat->rejected) f->flags |= DOP_FRAME_REJECTED_BEAT;
        dop_beat_sums_add(&sums, f);
    }
    const double fraction = beat->artifact_fraction; /* as judged, before bridging */
    /* End-diastolic velocity: the envelope over the last two frames of the cycle. */
    const int64_t m = end - start;
    double edv = m >= 2 ? 0.5 * (at(b, end - 1)->frame.vmax_cm_s + at(b, end - 2)->frame.vmax_cm_s)
                        : at(b, end - 1)->frame.vmax_cm_s;
    dop_beat_set_indices(beat, &sums, edv);
    beat->artifact_fraction = fraction;
}

/* Close the beat [start, end): judge, annotate, emit its frames, then the beat. */
static void close_beat(dop_beats *b, int64_t start, int64_t end)
{
    const int64_t m = end - start;
    int64_t artifacts = 0, loud = 0;
    for (int64_t s = start; s < end; s++) {
        const dop_frame *f = &at(b, s)->frame;
        if (f->flags & DOP_FRAME_HIDING_MASK) artifacts++;
        if (f->snr_db >= SIGNAL_MIN_DB) loud++;
    }
    dop_beat beat = {0};
    beat.index = b->beat_count++;
    beat.start_s = at(b, start)->frame.time_s;
    beat.end_s = at(b, end)->frame.time_s;
    beat.heart_rate_bpm = 60.0 / (beat.end_s - beat.start_s);
    beat.artifact_fraction = (double)artifacts / (double)m;
    judge_beat(b, m, loud, &beat);
    if (!beat.rejected) bridge_artifacts(b, start, end);
    measure_beat(b, start, end, &beat);
    for (int64_t s = start; s < end; s++) {
        if (beat.reject_reason == DOP_BEAT_NOT_PULSATILE) at(b, s)->frame.flags |= DOP_FRAME_NOT_PULSATILE;
        emit_frame(b, &at(b, s)->frame);
    }
    b->first_seq = end;
    if (!b->stopped && b->output.on_beat && b->output.on_beat(&beat, b->output.user)) b->stopped = 1;
}

/* A new onset: the beat in progress ends there (if it is not too long). */
static void on_onset(dop_beats *b, int64_t onset)
{
    if (onset < b->first_seq) onset = b->first_seq;
    if (b->open_onset >= 0 && onset > b->open_onset && (size_t)(onset - b->open_onset) <= b->max_beat_len) {
        release_unassigned(b, b->open_onset);
        close_beat(b, b->open_onset, onset);
    } else {
        release_unassigned(b, onset);
    }
    b->open_onset = onset;
}

/* ---- features in --------------------------------------------------------- */

/* The four feature values of a frame and whether each is clean. During a
 * burst or a dropout the velocity envelopes are meaningless (a broadband
 * burst drags them to the band edge) and hold the last clean value, as do
 * frames without a detected signal. The spectral features keep bursts and
 * clipped frames: a valve click is a burst, systole is what clips. */
static void feature_values(dop_beats *b, const dop_frame *f, const dop_beat_evidence_frame *ev,
                           double value[N_FEATURES], int clean[N_FEATURES])
{
    const double forward = f->vmax_forward_cm_s, reverse = -f->vmax_reverse_cm_s;
    const int dropout = (f->flags & DOP_FRAME_DROPOUT) != 0;
    const int velocity_clean = !(f->flags & (DOP_FRAME_HIDING_MASK | DOP_FRAME_NO_SIGNAL)) && isfinite(forward) &&
                               isfinite(reverse) && isfinite(f->vmean_cm_s);
    if (velocity_clean) {
        /* The flow's main direction: the mean of forward - reverse maximum
         * velocity over the first DIRECTION_S, then a running mean as long. */
        double len = fmin((double)(b->direction_count + 1), DIRECTION_S * b->cfg.frame_rate_hz);
        b->direction_mean += (forward - reverse - b->direction_mean) / len;
        b->direction_count++;
    }
    const int forward_main = b->direction_mean >= 0.0;
    value[F_VMAX] = forward_main ? forward : reverse;
    value[F_VMEAN] = forward_main ? f->vmean_cm_s : -f->vmean_cm_s;
    value[F_POWER] = ev ? log(ev->excess_power + POWER_FLOOR) : 0.0;
    value[F_FLUX] = ev && !dropout ? ev->flux : 0.0;
    value[F_POWER_QUIET] = value[F_POWER];
    value[F_FLUX_QUIET] = f->flags & DOP_FRAME_HIDING_MASK ? 0.0 : value[F_FLUX];
    clean[F_VMAX] = clean[F_VMEAN] = velocity_clean;
    clean[F_POWER] = !dropout && isfinite(value[F_POWER]);
    clean[F_POWER_QUIET] = !(f->flags & DOP_FRAME_HIDING_MASK) && isfinite(value[F_POWER]);
    clean[F_FLUX] = clean[F_FLUX_QUIET] = 1;
}

/* The median of x[0..m) by insertion sort. */
static double median_of(double *x, size_t m)
{
    for (size_t i = 1; i < m; i++)
        for (size_t j = i; j > 0 && x[j - 1] > x[j]; j--) {
            double t = x[j];
            x[j] = x[j - 1];
            x[j - 1] = t;
        }
    return x[m / 2];
}

/* held, median, trace and onset of feature k at seq. */
static void trace_feature(dop_beats *b, int64_t seq, int k, double value, int clean)
{
    slot *h = at(b, seq);
    if (k == F_FLUX || k == F_FLUX_QUIET) {
        h->held[k] = h->median[k] = h->trace[k] = h->onset[k] = isfinite(value) ? value : 0.0;
        return;
    }
    if (clean) {
        if (!b->have_clean[k]) {
            /* Frames before the first clean one take its value: a step from
             * "unknown" to the first reading is not an upstroke. */
            for (int64_t s = b->hist_first; s < seq; s++) {
                slot *earlier = at(b, s);
                earlier->held[k] = earlier->median[k] = earlier->trace[k] = value;
                earlier->onset[k] = 0.0;
            }
        }
        b->last_clean[k] = value;
        b->have_clean[k] = 1;
    }
    h->held[k] = b->have_clean[k] ? b->last_clean[k] : 0.0;
    double window[MEDIAN_LEN] = {0};
    size_t m = 0;
    for (int64_t s = seq; s >= b->hist_first && m < MEDIAN_LEN; s--) window[m++] = at(b, s)->held[k];
    h->median[k] = m == 5 ? dop_median5(window) /* held values are finite */ : median_of(window, m);
    double sum = 0.0;
    size_t n = 0;
    for (int64_t s = seq; s >= b->hist_first && n < b->smooth_len; s--, n++) sum += at(b, s)->median[k];
    h->trace[k] = sum / (double)n;
    h->onset[k] = seq > b->hist_first ? fmax(h->trace[k] - at(b, seq - 1)->trace[k], 0.0) : 0.0;
}

/* ---- periodicity ----------------------------------------------------------- */

/* Tempo prior of an interval of d frames: tightness x ln(d / P)^2. */
static void set_penalty(dop_beats *b)
{
    for (size_t d = 0; d <= 2 * b->max_beat_len + 1; d++)
        b->penalty[d] = d > 0 ? b->cfg.tightness * pow(log((double)d / b->period_frames), 2.0) : INFINITY;
}

/* The weighted sum of the standardised onset strengths in use at seq. */
static double combined_onset(const dop_beats *b, int64_t seq)
{
    const slot *h = at(b, seq);
    double o = 0.0;
    for (int u = 0; u < N_USED; u++)
        if (b->feature_sd[u] > 0.0)
            o += b->estimate.weight[u] * (h->onset[b->used[u]] - b->feature_mean[u]) / b->feature_sd[u];
    return o;
}

/* Mean and SD of each onset strength over the window at the frame rate,
 * and the SD of their weighted standardised sum. */
static void window_statistics(dop_beats *b, int64_t from)
{
    const double n = (double)(b->next_seq - from);
    double sum[N_USED] = {0.0}, sq[N_USED] = {0.0};
    /* All features in one pass over the frames (each sum in frame order). */
    for (int64_t s = from; s < b->next_seq; s++)
        for (int u = 0; u < N_USED; u++) sum[u] += at(b, s)->onset[b->used[u]];
    for (int u = 0; u < N_USED; u++) b->feature_mean[u] = sum[u] / n;
    for (int64_t s = from; s < b->next_seq; s++)
        for (int u = 0; u < N_USED; u++) {
            const double x = at(b, s)->onset[b->used[u]] - b->feature_mean[u];
            sq[u] += x * x;
        }
    for (int u = 0; u < N_USED; u++) b->feature_sd[u] = sqrt(sq[u] / n);
    b->combined_sd = 1.0;
    double csq = 0.0;
    for (int64_t s = from; s < b->next_seq; s++) {
        double o = combined_onset(b, s);
        csq += o * o;
    }
    if (csq > 0.0) b->combined_sd = sqrt(csq / n);
}

/* Whether a share SIGNAL_SHARE of the frames [from, next_seq) reach
 * SIGNAL_MIN_DB of SNR (the top decile of their SNRs is above it). */
static int has_signal(const dop_beats *b, int64_t from)
{
    int64_t n = 0, loud = 0;
    for (int64_t s = from; s < b->next_seq; s++, n++) loud += at(b, s)->frame.snr_db >= SIGNAL_MIN_DB;
    return n > 0 && (double)loud >= SIGNAL_SHARE * (double)n;
}

/* What the tempo estimate autocorrelates: each feature's onset strength
 * (its rise), or its smoothed trace itself (the envelope). */
enum { OF_ONSETS, OF_TRACES };

/* The tempo estimate of the features `use` over n decimated samples from `from`. */
static void tempo_of(dop_beats *b, const int use[N_USED], int64_t from, size_t n, int of, dop_tempo_estimate *e)
{
    const size_t d = b->decimation;
    for (int u = 0; u < N_USED; u++) b->used[u] = use[u];
    /* All features in one pass over the frames (each mean in frame order). */
    for (size_t i = 0; i < n; i++) {
        double sum[N_USED] = {0.0};
        for (size_t j = 0; j < d; j++) {
            const slot *h = at(b, from + (int64_t)(i * d + j));
            const double *x = of == OF_TRACES ? h->trace : h->onset;
            for (int u = 0; u < N_USED; u++) sum[u] += x[use[u]];
        }
        for (int u = 0; u < N_USED; u++) b->tempo_in[u][i] = sum[u] / (double)d;
    }
    dop_tempo_estimate_window(b->tempo, (const double *const *)b->tempo_in, n, e);
}

/* Where the rises are not significantly periodic, the envelopes may still
 * be: a first difference amplifies the frame-to-frame noise of a weak or
 * noisy recording (a hand-held kit) while the slow swell of the band power
 * over each cycle survives it. Fetal Doppler monitors take the heart period
 * from the autocorrelation of the Doppler envelope itself for this reason
 * (Lawson et al., Br J Obstet Gynaecol 1983;90:1183; Jezewski et al.,
 * IEEE Trans Biomed Eng 2006;53:855-864). The envelopes' estimate replaces e when it
 * is pulsatile; its weights (each envelope's own periodicity) then weight
 * the rises that the beat path follows. A slow drift of an envelope makes
 * its correlation length long and so its significance low: it does not pass
 * for a period. */
static void envelope_periodicity(dop_beats *b, const int use[N_USED], int64_t from, size_t n, dop_tempo_estimate *e)
{
    dop_tempo_estimate env;
    tempo_of(b, use, from, n, OF_TRACES, &env);
    if (env.pulsatile) *e = env;
}

/* The foot of an upstroke in y[0..n) whose steepest rise is within reach
 * of index node, by intersecting tangents: the tangent at the steepest rise
 * meets the level of the minimum before it (Chiu et al., Am Heart J
 * 1991;121:1460-1470); kept between that minimum and the steepest rise. A
 * flat, noisy diastole does not move it, as it moves the minimum itself.
 * Fractional index. */
static double tangent_foot(const double *y, int64_t n, int64_t node, int64_t reach)
{
    int64_t steep = node < n ? node : n - 1;
    double slope = -INFINITY;
    for (int64_t s = node - reach; s <= node + reach; s++) {
        if (s <= 0 || s >= n) continue;
        double d = y[s] - y[s - 1];
        if (d > slope) {
            slope = d;
            steep = s;
        }
    }
    int64_t low = steep;
    for (int64_t s = steep; s >= 0; s--)
        if (y[s] < y[low]) low = s;
    if (!(slope > 0.0)) return (double)low;
    double foot = (double)steep - (y[steep] - y[low]) / slope;
    return foot < (double)low ? (double)low : foot;
}

/* How far before a node its foot is searched: FOOT_WINDOW_S, at most
 * FOOT_PERIOD_FRACTION of the period; frames. */
static int64_t foot_reach(const dop_beats *b)
{
    return (int64_t)fmin((double)b->foot_len, ceil(FOOT_PERIOD_FRACTION * b->period_frames));
}

/* The cycle template: the mean standardised combined onset strength
 * (weights in force) over +-P/2 around the path nodes of the last
 * TEMPLATE_BEATS beats still in memory, off (half = 0) with fewer than
 * TEMPLATE_MIN_BEATS of them. The beat path then scores each frame by how
 * well the cycle around it matches the template (see local_score), so that
 * it follows one event of the cycle, the one that its beats have followed
 * so far, and does not switch to another event of about the same strength
 * (a second valve click, a diastolic component) whenever the weights of
 * the features change or that event is louder for a few cycles. This is
 * ensemble averaging of beats, as in template-matching QRS detection
 * (Pan & Tompkins' successors; e.g. Hamilton & Tompkins, IEEE Trans Biomed
 * Eng 1986;33:1157-1165), applied to the onset strength. */
static void build_cycle(dop_beats *b)
{
    const int64_t half = (int64_t)round(0.5 * b->period_frames);
    b->half = 0;
    if (half < 1 || half > (int64_t)b->max_beat_len) return;
    memset(b->cycle, 0, (size_t)(2 * half + 1) * sizeof *b->cycle);
    memset(b->cycle_trace, 0, (size_t)(2 * half + 1) * sizeof *b->cycle_trace);
    size_t used = 0, kept = b->node_count < TEMPLATE_BEATS ? b->node_count : TEMPLATE_BEATS;
    for (size_t j = 0; j < kept; j++) {
        const int64_t node = b->nodes[j];
        if (node - half < b->hist_first || node + half >= b->next_seq) continue;
        for (int64_t i = -half; i <= half; i++) {
            b->cycle[i + half] += combined_onset(b, node + i) / b->combined_sd;
            b->cycle_trace[i + half] += at(b, node + i)->trace[b->primary_trace];
        }
        used++;
    }
    if (used < TEMPLATE_MIN_BEATS) return;
    double energy = 0.0;
    for (int64_t i = 0; i <= 2 * half; i++) {
        b->cycle[i] /= (double)used;
        b->cycle_trace[i] /= (double)used;
        energy += b->cycle[i] * b->cycle[i];
    }
    if (!(energy > 0.0) || !(b->cycle[half] > 0.0)) return;
    b->cycle_gain = b->cycle[half] / energy;
    b->half = half;
    /* The foot of the upstroke of the template's primary trace: each beat's
     * onset lies as far before its node (see fix_node). */
    const int64_t reach = (int64_t)b->smooth_len / 2;
    const int64_t lo = half - foot_reach(b) > 0 ? half - foot_reach(b) : 0;
    const int64_t n = (half + reach < 2 * half ? half + reach : 2 * half) - lo + 1;
    b->foot_offset = half - lo >= 2 ? (double)lo + tangent_foot(b->cycle_trace + lo, n, half - lo, reach) - (double)half
                                    : 0.0;
}

/* Periodicity of the last window_s (or all the data there is). */
static void estimate_tempo(dop_beats *b)
{
    int64_t from = b->next_seq - (int64_t)b->window_len;
    if (from < b->hist_first) from = b->hist_first;
    const size_t d = b->decimation, n = (size_t)(b->next_seq - from) / d;
    from = b->next_seq - (int64_t)(n * d);
    b->last_estimate_seq = b->next_seq;
    if (n < 8) return;
    /* The spectral evidence with bursts first; where the flow itself is
     * clearly periodic (z at least CLEAR_FLOW x z_min), without them: a
     * burst in a clean flow recording is an artifact (percussion massage,
     * a knock), while in a recording whose flow traces are lost in noise
     * the bursts may be the heart's own valve clicks. */
    static const int all[N_USED] = {F_VMAX, F_VMEAN, F_POWER, F_FLUX};
    static const int quiet[N_USED] = {F_VMAX, F_VMEAN, F_POWER_QUIET, F_FLUX_QUIET};
    dop_tempo_estimate e;
    tempo_of(b, all, from, n, OF_ONSETS, &e);
    if (fmax(e.feature_z[F_VMAX], e.feature_z[F_VMEAN]) >= CLEAR_FLOW * b->cfg.z_min)
        tempo_of(b, quiet, from, n, OF_ONSETS, &e);
    else if (!e.pulsatile)
        envelope_periodicity(b, all, from, n, &e);
    if (!isfinite(e.period_s)) {
        b->estimate.pulsatile = 0;
        return;
    }
    /* Periodic noise is not flow: a pulsatile span also has a signal. */
    if (!has_signal(b, from)) e.pulsatile = 0;
    b->confirmed = e.pulsatile && b->have_estimate && b->estimate.pulsatile &&
                   fabs(e.period_s / b->estimate.period_s - 1.0) < CONFIRM_PERIOD;
    b->estimate = e;
    b->have_estimate = 1;
    if (e.z > b->best_z) b->best_z = e.z;
    b->period_frames = e.period_s * b->cfg.frame_rate_hz;
    set_penalty(b);
    window_statistics(b, from);
    int primary = 0; /* among the traces (not the flux) */
    for (int u = 1; u < 3; u++)
        if (e.weight[u] > e.weight[primary]) primary = u;
    b->primary_trace = b->used[primary];
    build_cycle(b);
}

/* ---- the beat path ----------------------------------------------------------- */

/* Evidence of a beat at frame t: its standardised combined onset strength,
 * or, with a cycle template, the template's match to the cycle around t
 * (matched filter, scaled so that a cycle equal to the template scores the
 * template's own value at its node). Frames not yet seen count as 0; such
 * a frame is scored again at the next estimate, before it is fixed. */
static double local_score(const dop_beats *b, int64_t t)
{
    if (b->half == 0) return at(b, t)->combined;
    double m = 0.0;
    for (int64_t i = -b->half; i <= b->half; i++)
        if (t + i >= b->hist_first && t + i < b->next_seq) m += b->cycle[i + b->half] * at(b, t + i)->combined;
    return m * b->cycle_gain;
}

/* The local scores of frames [start, next_seq) into b->local, from the
 * combined onset strengths of frames [first, next_seq) in b->line: those
 * whose whole cycle is in the line by the template match in vector lanes,
 * the others (cut at either end) by local_score. Same bits either way. */
static void local_scores(dop_beats *b, int64_t first, int64_t start)
{
    const int64_t half = b->half;
    int64_t lo = first + half > start ? first + half : start, hi = b->next_seq - 1 - half;
    if (half == 0 || hi < lo) lo = hi = b->next_seq; /* none in the line */
    else
        dop_beat_match(b->line + (lo - half - first), (size_t)(hi - lo + 1), b->cycle, (size_t)(2 * half + 1),
                       b->cycle_gain, b->local + (lo - start));
    for (int64_t t = start; t < lo; t++) b->local[t - start] = local_score(b, t);
    for (int64_t t = hi < lo ? lo : hi + 1; t < b->next_seq; t++) b->local[t - start] = local_score(b, t);
}

/* Path scores of frames [start, next_seq): each its local score plus the
 * best predecessor's score less the tempo prior (Ellis 2007), predecessors
 * between half and twice the period back. */
static void path_scores(dop_beats *b, int64_t start)
{
    const int64_t reach = (int64_t)(2 * b->max_beat_len + 1), base = start - reach;
    for (int64_t s = base > b->dp_first ? base : b->dp_first; s < start; s++) b->scores[s - base] = at(b, s)->score;
    const int64_t shortest = (int64_t)round(0.5 * b->period_frames);
    int64_t longest = (int64_t)round(2.0 * b->period_frames);
    if (longest > reach) longest = reach;
    const int64_t dlo = shortest > 1 ? shortest : 1;
    for (int64_t t = start; t < b->next_seq; t++) {
        const int64_t dhi = longest < t - b->dp_first ? longest : t - b->dp_first;
        int64_t d;
        const double best = dop_beat_best_predecessor(b->scores, t - base, b->penalty, dlo, dhi, b->avx, &d);
        slot *h = at(b, t);
        h->score = b->local[t - start] + best;
        h->back = d > 0 ? t - d : -1;
        b->scores[t - base] = h->score;
    }
}

/* Onset of the beat whose evidence peaks at node: the foot of the upstroke
 * of the most reliable trace (tangent_foot). With a cycle template, the
 * foot of the template's upstroke, the same distance before every node: a
 * single beat's trace is too noisy for its own foot to be placed
 * consistently within the cycle. Without one (the first beats), the foot
 * of the beat's own trace. Never at or before the onset of the beat in
 * progress. */
static int64_t foot_of(const dop_beats *b, int64_t node)
{
    int64_t lo = node - foot_reach(b);
    if (lo < b->first_seq) lo = b->first_seq;
    if (b->open_onset >= 0 && lo <= b->open_onset) lo = b->open_onset + 1;
    if (node - lo < 2) return node;
    if (b->half > 0) {
        int64_t onset = node + llround(b->foot_offset);
        return onset < lo ? lo : onset;
    }
    const int64_t reach = (int64_t)b->smooth_len / 2;
    const int64_t last = node + reach < b->next_seq ? node + reach : b->next_seq - 1;
    for (int64_t s = lo; s <= last; s++) b->foot_in[s - lo] = at(b, s)->trace[b->primary_trace];
    return lo + llround(tangent_foot(b->foot_in, last - lo + 1, node - lo, reach));
}

/* A path node is fixed: it starts a beat where the span is pulsatile. */
static void fix_node(dop_beats *b, int64_t node)
{
    if (b->last_node >= 0 && (double)(node - b->last_node) < MIN_SPACING * b->period_frames) return;
    b->last_node = node;
    if (!pulsatile_now(b)) {
        b->open_onset = -1;
        return;
    }
    b->nodes[b->node_count++ % TEMPLATE_BEATS] = node;
    on_onset(b, foot_of(b, node));
}

/* Trace the best path back and fix its nodes up to `horizon`. */
static void fix_path(dop_beats *b, int64_t horizon)
{
    if (!b->have_estimate || b->dp_seq <= b->dp_first) return;
    int64_t oldest = b->next_seq - (int64_t)b->slots + 1;
    if (oldest < b->dp_first) oldest = b->dp_first;
    int64_t end = b->dp_seq - 1;
    for (int64_t s = b->dp_seq - 1; s >= oldest && (double)(b->dp_seq - s) <= b->period_frames; s--)
        if (at(b, s)->score > at(b, end)->score) end = s;
    size_t n = 0;
    for (int64_t node = end; node >= oldest && node > b->last_node && n < b->slots; node = at(b, node)->back)
        b->path[n++] = node;
    while (n > 0) {
        int64_t node = b->path[--n];
        if (node > horizon) break;
        fix_node(b, node);
    }
}

/* Frames that can no longer join a beat leave; a beat in progress for
 * longer than the longest beat is abandoned. */
static void release_old(dop_beats *b, int64_t horizon)
{
    if (b->open_onset >= 0 && (size_t)(horizon - b->open_onset) > b->max_beat_len) b->open_onset = -1;
    if (b->open_onset < 0) release_unassigned(b, horizon - (int64_t)b->foot_len - 1);
}

/* With the periodicity in force: score every frame after the last fixed
 * node again (the prior and the weights may have changed), fix the path up
 * to the commit horizon and let go of frames that cannot join a beat. */
static void advance(dop_beats *b, int final)
{
    if (!b->have_estimate) return;
    if (b->dp_first < b->hist_first) b->dp_first = b->hist_first;
    int64_t start = b->last_node >= b->dp_first ? b->last_node + 1 : b->dp_first;
    int64_t first = start - b->half < b->hist_first ? b->hist_first : start - b->half;
    for (int64_t t = first; t < b->next_seq; t++)
        b->line[t - first] = at(b, t)->combined = combined_onset(b, t) / b->combined_sd;
    local_scores(b, first, start);
    path_scores(b, start);
    b->dp_seq = b->next_seq;
    /* Until two estimates in a row find the same period the path waits a
     * whole window before it is fixed: when the periodicity emerges later
     * in the window (the first beats of a recording, flow after a noisy
     * span) the path still holds those beats, and a window that is only
     * just periodic, perhaps at a wrong period, does not fix them yet. */
    const size_t wait = b->confirmed ? b->delay_len : b->window_len;
    int64_t horizon = final ? b->next_seq : b->next_seq - (int64_t)wait;
    fix_path(b, horizon);
    if (!final) release_old(b, horizon);
}

dop_status dop_beats_push(dop_beats *b, const dop_frame *frame, const dop_beat_evidence_frame *evidence)
{
    if (b->stopped) return DOP_ERR_INTERRUPTED;
    /* Make room: frames older than the ring can hold leave unassigned. */
    if ((size_t)(b->next_seq - b->first_seq) >= b->slots - 1) {
        if (b->open_onset >= 0 && b->open_onset <= b->first_seq + 1) b->open_onset = -1;
        release_unassigned(b, b->first_seq + 1);
    }
    if ((size_t)(b->next_seq - b->hist_first) >= b->slots - 1) b->hist_first++;
    if (b->dp_first < b->hist_first) b->dp_first = b->hist_first;
    int64_t seq = b->next_seq++;
    slot *h = at(b, seq);
    h->frame = *frame;
    h->score = 0.0;
    h->back = -1;
    double value[N_FEATURES];
    int clean[N_FEATURES];
    feature_values(b, frame, evidence, value, clean);
    double len = fmin((double)(seq - b->hist_first + 1), (double)b->window_len);
    b->hiding_rate += (((frame->flags & DOP_FRAME_HIDING_MASK) ? 1.0 : 0.0) - b->hiding_rate) / len;
    for (int k = 0; k < N_FEATURES; k++) trace_feature(b, seq, k, value[k], clean[k]);

    const int64_t have = b->next_seq - b->hist_first;
    if (have >= (int64_t)b->first_len && b->next_seq - b->last_estimate_seq >= (int64_t)b->update_len) {
        estimate_tempo(b);
        advance(b, 0);
    }
    return b->stopped ? DOP_ERR_INTERRUPTED : DOP_OK;
}

dop_status dop_beats_flush(dop_beats *b)
{
    if (b->next_seq > b->last_estimate_seq) estimate_tempo(b);
    advance(b, 1);
    release_unassigned(b, b->next_seq);
    b->open_onset = -1;
    return b->stopped ? DOP_ERR_INTERRUPTED : DOP_OK;
}

long long dop_beats_not_pulsatile_frames(const dop_beats *b) { return b->not_pulsatile_frames; }
double dop_beats_best_periodicity(const dop_beats *b) { return b->best_z; }

void dop_beats_destroy(dop_beats *b)
{
    if (!b) return;
    dop_tempo_destroy(b->tempo);
    for (int k = 0; k < N_USED; k++) free(b->tempo_in[k]);
    free(b->ring);
    free(b->path);
    free(b->line);
    free(b->local);
    free(b->scores);
    free(b->penalty);
    free(b->cycle);
    free(b->cycle_trace);
    free(b->foot_in);
    free(b);
}

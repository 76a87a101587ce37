/* Stage 5: cardiac cycles from the evidence they leave in the spectrogram
 * (see beats.h for the method and its references). This file: create, the
 * features in, the beat path (dynamic programming with the tempo prior),
 * push and flush; the periodicity is in beat_periodicity.c and the frames
 * out in beat_segment.c (beats_internal.h).
 *
 * One ring of slots holds, per frame, the frame itself (until the beat that
 * contains it ends) and its features, onset strengths and dynamic
 * programming state (for the periodicity window and the trace back). */
#include "dopflow/beats.h"
#include "beats_internal.h"

#include "core/median.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dopflow/beat_measure.h"
#include "dopflow/beat_tempo.h"

#include "beat_path.h"
#include "core/cpu.h"

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
    b->sq = malloc((b->slots + 1) * sizeof *b->sq);
    b->scores = malloc((b->slots + 2 * b->max_beat_len + 2) * sizeof *b->scores);
    b->penalty = malloc((2 * b->max_beat_len + 2) * sizeof *b->penalty);
    b->cycle = malloc((2 * b->max_beat_len + 3) * sizeof *b->cycle);
    b->cycle_sum = malloc((2 * b->max_beat_len + 3) * sizeof *b->cycle_sum);
    b->foot_in = malloc((b->foot_len + b->smooth_len + 4) * sizeof *b->foot_in);
    int ok = b->ring && b->path && b->line && b->local && b->sq && b->scores && b->penalty && b->cycle && b->cycle_sum && b->foot_in;
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

/* ---- features in --------------------------------------------------------- */

/* The four feature values of a frame and whether each is clean. During a
 * burst or a dropout the velocity envelopes are meaningless (a broadband
 * burst drags them to the band edge) and hold the last clean value, as do
 * frames without a detected signal. The spectral features keep bursts and
 * clipped frames: a valve click is a burst, systole is what clips. */
static void feature_values(dop_beats *b, const dop_frame *f, const dop_beat_input *in,
                           double value[N_FEATURES], int clean[N_FEATURES])
{
    const double forward = f->vmax_forward_cm_s, reverse = -f->vmax_reverse_cm_s;
    const double vmean = in ? in->vmean_cm_s : f->vmean_cm_s;
    const dop_beat_evidence_frame *ev = in ? &in->spectral : NULL;
    const int dropout = (f->flags & DOP_FRAME_DROPOUT) != 0;
    const int velocity_clean = !(f->flags & (DOP_FRAME_HIDING_MASK | DOP_FRAME_NO_SIGNAL)) && isfinite(forward) &&
                               isfinite(reverse) && isfinite(vmean);
    if (velocity_clean) {
        /* The flow's main direction: the mean of forward - reverse maximum
         * velocity over the first DIRECTION_S, then a running mean as long. */
        double len = fmin((double)(b->direction_count + 1), DIRECTION_S * b->cfg.frame_rate_hz);
        b->direction_mean += (forward - reverse - b->direction_mean) / len;
        b->direction_count++;
    }
    const int forward_main = b->direction_mean >= 0.0;
    value[F_VMAX] = forward_main ? forward : reverse;
    value[F_VMEAN] = forward_main ? vmean : -vmean;
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
    slot *h = beat_slot(b, seq);
    if (k == F_FLUX || k == F_FLUX_QUIET) {
        h->held[k] = h->median[k] = h->trace[k] = h->onset[k] = isfinite(value) ? value : 0.0;
        return;
    }
    if (clean) {
        if (!b->have_clean[k]) {
            /* Frames before the first clean one take its value: a step from
             * "unknown" to the first reading is not an upstroke. */
            for (int64_t s = b->hist_first; s < seq; s++) {
                slot *earlier = beat_slot(b, s);
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
    for (int64_t s = seq; s >= b->hist_first && m < MEDIAN_LEN; s--) window[m++] = beat_slot(b, s)->held[k];
    h->median[k] = m == 5 ? dop_median5(window) /* held values are finite */ : median_of(window, m);
    double sum = 0.0;
    size_t n = 0;
    for (int64_t s = seq; s >= b->hist_first && n < b->smooth_len; s--, n++) sum += beat_slot(b, s)->median[k];
    h->trace[k] = sum / (double)n;
    h->onset[k] = seq > b->hist_first ? fmax(h->trace[k] - beat_slot(b, seq - 1)->trace[k], 0.0) : 0.0;
}

/* ---- the beat path ----------------------------------------------------------- */

/* Evidence of a beat at frame t: its standardised combined onset strength,
 * or, with a cycle template, the template's match to the cycle around t
 * (matched filter, scaled so that a cycle equal to the template scores the
 * template's own value at its node). Frames not yet seen count as 0; such
 * a frame is scored again at the next estimate, before it is fixed. */
static double local_score(const dop_beats *b, int64_t t)
{
    if (b->half == 0) return beat_slot(b, t)->combined;
    double m = 0.0;
    for (int64_t i = -b->half; i <= b->half; i++)
        if (t + i >= b->hist_first && t + i < b->next_seq) m += b->cycle[i + b->half] * beat_slot(b, t + i)->combined;
    return m * b->cycle_gain;
}

/* A cycle louder than the template scores as one of the template's
 * energy: the local score of frame t is scaled by sqrt(E_template / E_t)
 * where E_t, the energy of the combined onset strengths over the cycle
 * around t (frames outside the data count 0, as in local_score), is the
 * larger. The template match is a dot product, so without this a burst
 * (a leg flexion, a knock) scores by its loudness, whatever its shape,
 * and draws the path to itself; up to the template's energy the score
 * stays the plain match, so quiet cycles are not raised. This is the
 * normalised cross-correlation (Lewis, Vision Interface 1995) applied only
 * above the template's energy. Energies by a running sum of squares over
 * the line of frames [first, next_seq) in b->line; b->sq: its prefix sums. */
static void limit_loud_cycles(dop_beats *b, int64_t first, int64_t start)
{
    const int64_t half = b->half, n = b->next_seq - first;
    b->sq[0] = 0.0;
    for (int64_t i = 0; i < n; i++) b->sq[i + 1] = b->sq[i] + b->line[i] * b->line[i];
    for (int64_t t = start; t < b->next_seq; t++) {
        const int64_t lo = t - half > first ? t - half - first : 0, hi = t + half < b->next_seq ? t + half - first + 1 : n;
        const double energy = b->sq[hi] - b->sq[lo];
        if (energy > b->cycle_energy) b->local[t - start] *= sqrt(b->cycle_energy / energy);
    }
}

/* The local scores of frames [start, next_seq) into b->local, from the
 * combined onset strengths of frames [first, next_seq) in b->line: those
 * whose whole cycle is in the line by the template match in vector lanes,
 * the others (cut at either end) by local_score (same bits either way);
 * then loud cycles limited (limit_loud_cycles). */
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
    if (half > 0) limit_loud_cycles(b, first, start);
}

/* Path scores of frames [start, next_seq): each its local score plus the
 * best predecessor's score less the tempo prior (Ellis 2007), predecessors
 * between half and twice the period back. */
static void path_scores(dop_beats *b, int64_t start)
{
    const int64_t reach = (int64_t)(2 * b->max_beat_len + 1), base = start - reach;
    for (int64_t s = base > b->dp_first ? base : b->dp_first; s < start; s++) b->scores[s - base] = beat_slot(b, s)->score;
    const int64_t shortest = (int64_t)round(0.5 * b->period_frames);
    int64_t longest = (int64_t)round(2.0 * b->period_frames);
    if (longest > reach) longest = reach;
    const int64_t dlo = shortest > 1 ? shortest : 1;
    for (int64_t t = start; t < b->next_seq; t++) {
        const int64_t dhi = longest < t - b->dp_first ? longest : t - b->dp_first;
        int64_t d;
        const double best = dop_beat_best_predecessor(b->scores, t - base, b->penalty, dlo, dhi, b->avx, &d);
        slot *h = beat_slot(b, t);
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
    int64_t lo = node - beats_foot_reach(b);
    if (lo < b->first_seq) lo = b->first_seq;
    if (b->open_onset >= 0 && lo <= b->open_onset) lo = b->open_onset + 1;
    if (node - lo < 2) return node;
    if (b->half > 0) {
        /* not after the node: a node in the last frames of the data would
         * put its onset past them */
        int64_t onset = node + llround(fmin(b->foot_offset, 0.0));
        return onset < lo ? lo : onset;
    }
    const int64_t reach = (int64_t)b->smooth_len / 2;
    const int64_t last = node + reach < b->next_seq ? node + reach : b->next_seq - 1;
    for (int64_t s = lo; s <= last; s++) b->foot_in[s - lo] = beat_slot(b, s)->trace[b->primary_trace];
    return lo + llround(beats_tangent_foot(b->foot_in, last - lo + 1, node - lo, reach));
}

/* Whether path nodes fixed now start beats: where the span is pulsatile,
 * with a period that two estimates in a row agree on, or one clearly
 * periodic (z at least CLEAR_FLOW x z_min), or the last one after a
 * pulsatile one (see dop_beats_flush): a single estimate just above the
 * significance threshold amid others below it, as the speckle of steady
 * flow now and then gives, starts no beats. */
static int nodes_start_beats(const dop_beats *b)
{
    return beats_pulsatile_now(b) && (b->confirmed || b->estimate.z >= CLEAR_FLOW * b->cfg.z_min);
}

/* A path node is fixed: it starts a beat where nodes_start_beats. */
static void fix_node(dop_beats *b, int64_t node)
{
    if (b->last_node >= 0 && (double)(node - b->last_node) < MIN_SPACING * b->period_frames) return;
    b->last_node = node;
    if (!nodes_start_beats(b)) {
        b->open_onset = -1;
        return;
    }
    b->nodes[b->node_count++ % TEMPLATE_BEATS] = node;
    beats_on_onset(b, foot_of(b, node));
}

/* The best path's nodes after the last fixed one into b->path, the latest
 * first: it ends at the best score of the last period. Their count. */
static size_t trace_back(dop_beats *b)
{
    if (b->dp_seq <= b->dp_first) return 0;
    int64_t oldest = b->next_seq - (int64_t)b->slots + 1;
    if (oldest < b->dp_first) oldest = b->dp_first;
    int64_t end = b->dp_seq - 1;
    for (int64_t s = b->dp_seq - 1; s >= oldest && (double)(b->dp_seq - s) <= b->period_frames; s--)
        if (beat_slot(b, s)->score > beat_slot(b, end)->score) end = s;
    size_t n = 0;
    for (int64_t node = end; node >= oldest && node > b->last_node && n < b->slots; node = beat_slot(b, node)->back)
        b->path[n++] = node;
    return n;
}

/* Trace the best path back and fix its nodes up to `horizon`. */
static void fix_path(dop_beats *b, int64_t horizon)
{
    if (!b->have_estimate) return;
    size_t n = trace_back(b);
    while (n > 0) {
        int64_t node = b->path[--n];
        if (node > horizon) break;
        fix_node(b, node);
    }
}

/* Frames that can no longer join a beat leave; a beat in progress for
 * longer than the longest beat is abandoned. The horizon of a path that
 * waits (two estimates disagree) may lie before the beat's onset: that
 * beat is not abandoned, its end is found when the path is fixed again. */
static void release_old(dop_beats *b, int64_t horizon)
{
    if (b->open_onset >= 0 && horizon - b->open_onset > (int64_t)b->max_beat_len) b->open_onset = -1;
    if (b->open_onset < 0) beats_release_unassigned(b, horizon - (int64_t)b->foot_len - 1);
}

/* Score every frame from start again (the prior, the weights or the
 * template may have changed): combined onset strengths, local scores and
 * path scores. */
static void score_path(dop_beats *b, int64_t start)
{
    int64_t first = start - b->half < b->hist_first ? b->hist_first : start - b->half;
    for (int64_t t = first; t < b->next_seq; t++)
        b->line[t - first] = beat_slot(b, t)->combined = beats_combined_onset(b, t) / b->combined_sd;
    local_scores(b, first, start);
    path_scores(b, start);
    b->dp_seq = b->next_seq;
}

/* The first cycle template (before enough beats are fixed for one): built
 * from the path found so far, the frames scored again with it, and again
 * while the path's last TEMPLATE_BEATS nodes (those the template averages)
 * move, at most TEMPLATE_PASSES times: the path found without a template
 * follows the loudest event of each noisy cycle, the first template is
 * blurred by the cycles it took at another event, and each pass aligns the
 * cycles to the template and averages them again (Woody's adaptive filter
 * for responses of variable latency, Med Biol Eng 1967;5:539-553). */
static void first_template(dop_beats *b, int64_t start)
{
    int64_t used[TEMPLATE_BEATS];
    size_t n = trace_back(b);
    for (int pass = 0; pass < TEMPLATE_PASSES && beats_build_cycle(b, b->path, n); pass++) {
        const size_t m = n < TEMPLATE_BEATS ? n : TEMPLATE_BEATS;
        memcpy(used, b->path, m * sizeof *used);
        score_path(b, start);
        n = trace_back(b);
        if ((n < TEMPLATE_BEATS ? n : TEMPLATE_BEATS) == m && memcmp(used, b->path, m * sizeof *used) == 0) break;
    }
}

/* With the periodicity in force: score every frame after the last fixed
 * node again, fix the path up to the commit horizon and let go of frames
 * that cannot join a beat. */
static void advance(dop_beats *b, int final)
{
    if (!b->have_estimate) return;
    if (b->dp_first < b->hist_first) b->dp_first = b->hist_first;
    int64_t start = b->last_node >= b->dp_first ? b->last_node + 1 : b->dp_first;
    score_path(b, start);
    /* Before enough beats are fixed for a cycle template (the first beats
     * of a recording, or of flow after a span without), the template is
     * built from the path found so far and the frames are scored again
     * with it: the first beats are then placed as the later ones are. */
    if (b->half == 0 && beats_pulsatile_now(b)) first_template(b, start);
    /* Until two estimates in a row find the same period the path waits a
     * whole window before it is fixed: when the periodicity emerges later
     * in the window (the first beats of a recording, flow after a noisy
     * span) the path still holds those beats, and a window that is only
     * just periodic, perhaps at a wrong period, does not fix them yet. */
    const size_t wait = b->confirmed ? b->delay_len : b->window_len;
    int64_t horizon = final ? b->next_seq : b->next_seq - (int64_t)wait;
    /* Before the first beat, nothing is fixed until the nodes start beats:
     * the frames stay in the ring (dop_beats_push lets the oldest go when
     * it is full), and the first beats are then placed from the start of
     * the data on the path scored with the period and the template that
     * the later cycles confirm, not fixed as no beats by an estimate that
     * came before the periodicity was established. */
    if (!final && b->node_count == 0 && !nodes_start_beats(b)) return;
    fix_path(b, horizon);
    if (!final) release_old(b, horizon);
}

dop_status dop_beats_push(dop_beats *b, const dop_frame *frame, const dop_beat_input *in)
{
    if (b->stopped) return DOP_ERR_INTERRUPTED;
    /* Make room: frames older than the ring can hold leave unassigned. */
    if ((size_t)(b->next_seq - b->first_seq) >= b->slots - 1) {
        if (b->open_onset >= 0 && b->open_onset <= b->first_seq + 1) b->open_onset = -1;
        beats_release_unassigned(b, b->first_seq + 1);
    }
    if ((size_t)(b->next_seq - b->hist_first) >= b->slots - 1) b->hist_first++;
    if (b->dp_first < b->hist_first) b->dp_first = b->hist_first;
    int64_t seq = b->next_seq++;
    slot *h = beat_slot(b, seq);
    h->frame = *frame;
    h->score = 0.0;
    h->back = -1;
    double value[N_FEATURES];
    int clean[N_FEATURES];
    feature_values(b, frame, in, value, clean);
    double len = fmin((double)(seq - b->hist_first + 1), (double)b->window_len);
    b->hiding_rate += (((frame->flags & DOP_FRAME_HIDING_MASK) ? 1.0 : 0.0) - b->hiding_rate) / len;
    for (int k = 0; k < N_FEATURES; k++) trace_feature(b, seq, k, value[k], clean[k]);

    const int64_t have = b->next_seq - b->hist_first;
    if (have >= (int64_t)b->first_len && b->next_seq - b->last_estimate_seq >= (int64_t)b->update_len) {
        beats_estimate_tempo(b);
        advance(b, 0);
    }
    return b->stopped ? DOP_ERR_INTERRUPTED : DOP_OK;
}

dop_status dop_beats_flush(dop_beats *b)
{
    /* The last estimate (over the last window, or all the data of a short
     * recording) cannot be confirmed by a later one: the one before it is
     * enough if it was pulsatile too, at any period (the period may move
     * in the last seconds), and the only one stands alone. */
    if (b->next_seq > b->last_estimate_seq) {
        const int before = b->have_estimate ? beats_pulsatile_now(b) : -1;
        beats_estimate_tempo(b);
        if (before != 0) b->confirmed = beats_pulsatile_now(b);
    }
    advance(b, 1);
    if (b->open_onset >= 0 && beats_pulsatile_now(b)) beats_close_incomplete(b);
    beats_release_unassigned(b, b->next_seq);
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
    free(b->sq);
    free(b->scores);
    free(b->penalty);
    free(b->cycle);
    free(b->cycle_sum);
    free(b->foot_in);
    free(b);
}

/* The beat stage's periodicity (beats_internal.h): every UPDATE_S the
 * onset strengths of the last window are standardised and autocorrelated
 * (beat_tempo.h), the features weighted by how periodic each is, the tempo
 * prior set from the period, and the cycle template built from the last
 * beats, with the foot of its upstroke (intersecting tangents). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dopflow/beat_measure.h"
#include "dopflow/beat_tempo.h"

#include "beats_internal.h"

/* Tempo prior of an interval of d frames: tightness x ln(d / P)^2. */
static void set_penalty(dop_beats *b)
{
    for (size_t d = 0; d <= 2 * b->max_beat_len + 1; d++)
        b->penalty[d] = d > 0 ? b->cfg.tightness * pow(log((double)d / b->period_frames), 2.0) : INFINITY;
}

/* The weighted sum of the standardised onset strengths in use at seq. */
double beats_combined_onset(const dop_beats *b, int64_t seq)
{
    const slot *h = beat_slot(b, seq);
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
        for (int u = 0; u < N_USED; u++) sum[u] += beat_slot(b, s)->onset[b->used[u]];
    for (int u = 0; u < N_USED; u++) b->feature_mean[u] = sum[u] / n;
    for (int64_t s = from; s < b->next_seq; s++)
        for (int u = 0; u < N_USED; u++) {
            const double x = beat_slot(b, s)->onset[b->used[u]] - b->feature_mean[u];
            sq[u] += x * x;
        }
    for (int u = 0; u < N_USED; u++) b->feature_sd[u] = sqrt(sq[u] / n);
    b->combined_sd = 1.0;
    double csq = 0.0;
    for (int64_t s = from; s < b->next_seq; s++) {
        double o = beats_combined_onset(b, s);
        csq += o * o;
    }
    if (csq > 0.0) b->combined_sd = sqrt(csq / n);
}

/* Whether a share SIGNAL_SHARE of the frames [from, next_seq) reach
 * SIGNAL_MIN_DB of SNR (the top decile of their SNRs is above it). */
static int has_signal(const dop_beats *b, int64_t from)
{
    int64_t n = 0, loud = 0;
    for (int64_t s = from; s < b->next_seq; s++, n++) loud += beat_slot(b, s)->frame.snr_db >= SIGNAL_MIN_DB;
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
            const slot *h = beat_slot(b, from + (int64_t)(i * d + j));
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
double beats_tangent_foot(const double *y, int64_t n, int64_t node, int64_t reach)
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
int64_t beats_foot_reach(const dop_beats *b)
{
    return (int64_t)fmin((double)b->foot_len, ceil(FOOT_PERIOD_FRACTION * b->period_frames));
}

/* Where the template's upstroke starts, frames from its node (<= 0 in
 * practice; see fix_node): the foot, by intersecting tangents
 * (beats_tangent_foot), of the template's running sum. The template holds
 * the combined onset strength, the weighted rise of the traces the beat
 * path follows; its running sum is that combined trace, up to a constant.
 * Its foot is where the evidence the nodes follow starts to rise, so each
 * onset keeps its place in the cycle when the feature weights move from one
 * trace to another, and also when the trace with the largest weight among
 * the velocity and power traces carries little of the evidence (a click
 * recording whose flux leads), where the foot of that one trace moved by
 * up to a third of a cycle from one estimate to the next. cycle_sum:
 * 2 half + 1 values. */
static double template_foot(dop_beats *b)
{
    const int64_t half = b->half, reach = (int64_t)b->smooth_len / 2;
    double sum = 0.0;
    for (int64_t i = 0; i <= 2 * half; i++) b->cycle_sum[i] = sum += b->cycle[i];
    const int64_t lo = half - beats_foot_reach(b) > 0 ? half - beats_foot_reach(b) : 0;
    const int64_t n = (half + reach < 2 * half ? half + reach : 2 * half) - lo + 1;
    return half - lo >= 2 ? (double)lo + beats_tangent_foot(b->cycle_sum + lo, n, half - lo, reach) - (double)half : 0.0;
}

/* The cycle template: the mean standardised combined onset strength
 * (weights in force) over +-P/2 around the first TEMPLATE_BEATS of the path
 * nodes given (the last beats) still in memory, off (half = 0) with fewer
 * than TEMPLATE_MIN_BEATS of them. The beat path then scores each frame by how
 * well the cycle around it matches the template (see local_score), so that
 * it follows one event of the cycle, the one that its beats have followed
 * so far, and does not switch to another event of about the same strength
 * (a second valve click, a diastolic component) whenever the weights of
 * the features change or that event is louder for a few cycles. This is
 * ensemble averaging of beats, as in template-matching QRS detection
 * (Pan & Tompkins' successors; e.g. Hamilton & Tompkins, IEEE Trans Biomed
 * Eng 1986;33:1157-1165), applied to the onset strength. */
int beats_build_cycle(dop_beats *b, const int64_t *nodes, size_t count)
{
    const int64_t half = (int64_t)round(0.5 * b->period_frames);
    b->half = 0;
    if (half < 1 || half > (int64_t)b->max_beat_len) return 0;
    memset(b->cycle, 0, (size_t)(2 * half + 1) * sizeof *b->cycle);
    size_t used = 0, kept = count < TEMPLATE_BEATS ? count : TEMPLATE_BEATS;
    for (size_t j = 0; j < kept; j++) {
        const int64_t node = nodes[j];
        if (node - half < b->hist_first || node + half >= b->next_seq) continue;
        for (int64_t i = -half; i <= half; i++) b->cycle[i + half] += beats_combined_onset(b, node + i) / b->combined_sd;
        used++;
    }
    if (used < TEMPLATE_MIN_BEATS) return 0;
    double energy = 0.0;
    for (int64_t i = 0; i <= 2 * half; i++) {
        b->cycle[i] /= (double)used;
        energy += b->cycle[i] * b->cycle[i];
    }
    if (!(energy > 0.0) || !(b->cycle[half] > 0.0)) return 0;
    b->cycle_gain = b->cycle[half] / energy;
    b->cycle_energy = energy;
    b->half = half;
    b->foot_offset = template_foot(b);
    return 1;
}

/* Periodicity of the last window_s (or all the data there is). */
void beats_estimate_tempo(dop_beats *b)
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
    beats_build_cycle(b, b->nodes, b->node_count);
}

/* The streaming analysis pipeline (see analysis.h): owns one object per
 * stage and carries each spectral frame through noise floor, artifact
 * flags, aliasing, envelopes, velocity and flow into the beat segmenter.
 *
 * Several gates: every gate is pushed through its own wall filter and STFT
 * in steps of at most one hop, so that each step completes the same frame
 * (or none) in every gate; the gates' spectra are summed as they arrive and
 * the last gate's frame carries the mean on.
 *
 * One gate, long pushes: the wall filter, the STFT and every per-frame
 * measurement (prepare_frame: the spectral lines left out and the frame's
 * own noise-floor estimate; measure_frame: the floor's tracking, aliasing,
 * envelopes, velocities, beat evidence) run on a second thread
 * (core/worker.h) one chunk of CHUNK samples ahead, keeping that chunk's
 * results; what calls back or needs the whole frame sequence (emit_frame:
 * the diameter, the spectrum callback, the beat segmenter with its frame
 * and beat callbacks) runs here, in the caller's thread, over what was
 * kept. The same samples in the same order through every stage, so the
 * same frames, emitted during the same push. */
#include "dopflow/analysis.h"
#include "dopflow/alias.h"
#include "dopflow/kasai.h"
#include "dopflow/spectral_lines.h"
#include "dopflow/tissue_burst.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/worker.h"

#define BLOCK 4096          /* samples filtered per step (stack-free work buffer) */
#define NYQUIST_MARGIN 0.95 /* envelope beyond this fraction of fs/2: possible aliasing */
#define NOISE_FLOOR_MIN 1e-30
#define LEVEL_CHANGE_S 0.5  /* a "burst" or "dropout" lasting longer is a new noise level */
#define CHUNK 16384            /* samples per job on the worker (1.3 s at 12.5 kHz): whole
                                  groups of the wall filter's vector path (wall_filter.c) */
#define KEPT_MAX (8u << 20)    /* bytes of kept spectra at most; more: no worker */

/* One frame measured (measure_frame), before its diameter and the beats. */
typedef struct measured {
    dop_frame frame;                  /* without diameter, flow and shear rate */
    double noise;                     /* the tracked noise floor */
    dop_beat_input beat_input;        /* spectral evidence and mean velocity feature */
} measured;

/* The frames of one chunk, measured on the worker. */
typedef struct spectra_kept {
    dop_spectrum_frame *frames; /* capacity; frames[i].psd points into psd */
    float *psd;                 /* capacity x bins: the spectra */
    measured *measured;         /* capacity */
    size_t count, capacity, bins;
} spectra_kept;

struct dop_analysis {
    dop_analysis_config cfg;
    dop_analysis_output output;
    dop_wall_filter *wall;      /* gate 0 (the only one for audio) */
    dop_spectrum *spectrum;
    dop_wall_filter **gate_wall;  /* gates 1..G-1 (index 0 unused), or NULL */
    dop_spectrum **gate_spectrum;
    float complex *gate_in;     /* one gate's samples of one step */
    float *psd_sum;             /* sum of the gates' spectra of the frame being completed */
    float peak_max;
    long gate_now;              /* gate being pushed */
    dop_alias *alias;           /* NULL: no baseline shift, no unwrap */
    dop_kasai *kasai;           /* for DOP_VMEAN_KASAI */
    long long unwrapped_frames;
    dop_noise_floor *noise;     /* the tracked floor */
    dop_noise_floor *frame_noise; /* each frame's own estimate (prepare_frame) */
    dop_envelope *envelope;
    dop_beat_evidence *evidence; /* spectral beat features */
    dop_spectral_lines *lines;   /* stationary spectral lines left out */
    dop_tissue_burst *tissue;    /* bursts of tissue motion; NULL for one-sided spectra */
    dop_beats *beats;
    float complex *work;    /* BLOCK filtered samples */
    dop_worker *ahead;      /* gate 0: filter, STFT and measure_frame a chunk ahead (NULL: all here) */
    float complex *filtered; /* CHUNK samples, the worker's */
    spectra_kept kept[2];   /* one made there, one emitted here */
    float *velocity_axis;   /* cm/s per bin */
    double cm_s_per_hz;
    double nyquist_hz;
    double frame_period_s;
    dop_status frame_status;
    int64_t level_change_frames; /* consecutive burst/dropout frames */
    int64_t persist_frames;      /* frames in LEVEL_CHANGE_S */
    double *recent_floor;        /* the last persist_frames frames' own floor estimates (a ring) */
    uint8_t *recent_dropout;     /* ... and whether each was a dropout */
    int64_t recent_seen;         /* frames into the ring so far */
    int64_t recent_dropouts;     /* dropouts in the ring */
};

dop_analysis_config dop_analysis_config_default(void)
{
    dop_analysis_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.acq = dop_acquisition_defaults();
    cfg.wall = dop_wall_filter_config_default();
    cfg.spectrum = dop_spectrum_config_default();
    cfg.noise = dop_noise_floor_config_default();
    cfg.envelope = dop_envelope_config_default();
    cfg.beats = dop_beats_config_default();
    cfg.vmean_method = DOP_VMEAN_INTENSITY;
    cfg.burst_factor = 4.0;
    cfg.dropout_factor = 4.0;
    cfg.clip_level = 0.999; /* |I| or |Q| at or above this fraction of full scale */
    cfg.min_nyquist_cm_s = 20.0;
    cfg.gates = 1;
    cfg.baseline_shift_cm_s = 0.0;
    cfg.unwrap = DOP_UNWRAP_AUTO;
    return cfg;
}

static int forward_frame(const dop_frame *frame, void *user)
{
    dop_analysis *a = user;
    return a->output.on_frame ? a->output.on_frame(frame, a->output.user) : 0;
}

static int forward_beat(const dop_beat *beat, void *user)
{
    dop_analysis *a = user;
    return a->output.on_beat ? a->output.on_beat(beat, a->output.user) : 0;
}

/* Wall filter and STFT of gates 1..G-1 (gate 0's are a->wall, a->spectrum),
 * and the buffers of the gate steps. */
static dop_status create_gates(dop_analysis *a, dop_error *err)
{
    const long gates = a->cfg.gates;
    if (gates == 1) return DOP_OK;
    a->gate_wall = calloc((size_t)gates, sizeof *a->gate_wall);
    a->gate_spectrum = calloc((size_t)gates, sizeof *a->gate_spectrum);
    a->gate_in = malloc(dop_spectrum_hop_samples(a->spectrum) * sizeof *a->gate_in);
    a->psd_sum = malloc(dop_spectrum_bins(a->spectrum) * sizeof *a->psd_sum);
    if (!a->gate_wall || !a->gate_spectrum || !a->gate_in || !a->psd_sum)
        return dop_error_set(err, DOP_ERR_NOMEM, "analysis: out of memory (%ld gates)", gates);
    if (dop_spectrum_hop_samples(a->spectrum) > BLOCK)
        return dop_error_set(err, DOP_ERR_INVALID_ARG, "hop of %zu samples: at most %d with several gates",
                             dop_spectrum_hop_samples(a->spectrum), BLOCK);
    for (long g = 1; g < gates; g++) {
        dop_status status = dop_wall_filter_create(&a->cfg.wall, &a->gate_wall[g], err);
        if (status == DOP_OK) status = dop_spectrum_create(&a->cfg.spectrum, &a->gate_spectrum[g], err);
        if (status != DOP_OK) return status;
    }
    return DOP_OK;
}

/* Half-width of the wall filter's stop band (gain below 1/2), Hz. */
static double wall_gap_hz(const double *gain, size_t bins, double bin_hz)
{
    size_t j = 0;
    while (j < bins / 2 - 1 && gain[bins / 2 + j] < 0.5) j++;
    return (double)j * bin_hz;
}

/* The worker and its buffers (one gate); without the memory or a thread,
 * or for spectra too large to keep, everything runs here (a->ahead NULL). */
static void create_ahead(dop_analysis *a)
{
    const size_t hop = dop_spectrum_hop_samples(a->spectrum), bins = dop_spectrum_bins(a->spectrum);
    /* Pushing n samples completes at most n / hop + 1 frames. */
    const size_t capacity = CHUNK / hop + 1;
    if (2 * capacity * bins * sizeof(float) > KEPT_MAX) return;
    a->filtered = malloc(CHUNK * sizeof *a->filtered);
    int ready = a->filtered != NULL;
    for (int k = 0; k < 2; k++) {
        spectra_kept *kept = &a->kept[k];
        kept->frames = malloc(capacity * sizeof *kept->frames);
        kept->psd = malloc(capacity * bins * sizeof *kept->psd);
        kept->measured = malloc(capacity * sizeof *kept->measured);
        kept->capacity = capacity;
        kept->bins = bins;
        ready = ready && kept->frames && kept->psd && kept->measured;
    }
    if (ready) a->ahead = dop_worker_create();
}

dop_status dop_analysis_create(const dop_analysis_config *cfg_in, const dop_analysis_output *output,
                               dop_analysis **out, dop_error *err)
{
    *out = NULL;
    dop_status status = dop_acquisition_validate(&cfg_in->acq, err);
    if (status != DOP_OK) return status;
    if (!(cfg_in->fs_hz > 0.0) || !isfinite(cfg_in->fs_hz))
        return dop_error_set(err, DOP_ERR_FORMAT, "sample rate %g Hz is not positive", cfg_in->fs_hz);
    const double cm_s_per_hz = dop_doppler_cm_s_per_hz(cfg_in->acq.f0_hz, cfg_in->acq.angle_deg, cfg_in->acq.c_m_s);
    const double nyquist_cm_s = cm_s_per_hz * cfg_in->fs_hz / 2.0;
    if (nyquist_cm_s < cfg_in->min_nyquist_cm_s)
        return dop_error_set(err, DOP_ERR_ALIASING,
                             "sample rate %g Hz resolves only +/-%.3g cm/s at f0 %g Hz and angle %g deg "
                             "(Nyquist velocity c fs / (4 f0 cos angle)); arterial flow needs at least %g cm/s: "
                             "it would alias",
                             cfg_in->fs_hz, nyquist_cm_s, cfg_in->acq.f0_hz, cfg_in->acq.angle_deg,
                             cfg_in->min_nyquist_cm_s);

    if (cfg_in->gates < 1 || cfg_in->gates > DOP_ANALYSIS_MAX_GATES)
        return dop_error_set(err, DOP_ERR_INVALID_ARG, "%ld gates in the sample volume: at most %d (choose a range "
                             "with the reader's gate_first and gate_last)", cfg_in->gates, DOP_ANALYSIS_MAX_GATES);
    if (cfg_in->vmean_method == DOP_VMEAN_KASAI && cfg_in->acq.channels == DOP_CHANNELS_MONO)
        return dop_error_set(err, DOP_ERR_INVALID_ARG,
                             "vmean_method = kasai needs quadrature (I/Q) input: a mono signal has no direction");
    if (!isfinite(cfg_in->baseline_shift_cm_s) || fabs(cfg_in->baseline_shift_cm_s) > 0.9 * nyquist_cm_s)
        return dop_error_set(err, DOP_ERR_INVALID_ARG,
                             "baseline_shift_cm_s = %g cm/s must be within 90%% of the Nyquist velocity %.4g cm/s",
                             cfg_in->baseline_shift_cm_s, nyquist_cm_s);
    if (cfg_in->acq.channels == DOP_CHANNELS_MONO && (cfg_in->baseline_shift_cm_s != 0.0 || cfg_in->unwrap == DOP_UNWRAP_ON))
        return dop_error_set(err, DOP_ERR_INVALID_ARG,
                             "baseline shift and unwrapping need quadrature (I/Q) input, not mono");

    dop_analysis *a = calloc(1, sizeof *a);
    if (!a) return dop_error_set(err, DOP_ERR_NOMEM, "analysis: out of memory");
    a->cfg = *cfg_in;
    a->output = *output;
    a->cm_s_per_hz = cm_s_per_hz;
    a->nyquist_hz = cfg_in->fs_hz / 2.0;
    dop_analysis_config *cfg = &a->cfg;
    cfg->wall.fs_hz = cfg->fs_hz;
    cfg->spectrum.fs_hz = cfg->fs_hz;

    double *gain = NULL;
    uint8_t *noise_mask = NULL;
    a->work = malloc(BLOCK * sizeof *a->work);
    if (!a->work) {
        status = dop_error_set(err, DOP_ERR_NOMEM, "analysis: out of memory");
        goto fail;
    }
    if ((status = dop_wall_filter_create(&cfg->wall, &a->wall, err)) != DOP_OK) goto fail;
    if ((status = dop_spectrum_create(&cfg->spectrum, &a->spectrum, err)) != DOP_OK) goto fail;
    if (cfg->gates <= 1) create_ahead(a);
    if ((status = create_gates(a, err)) != DOP_OK) goto fail;

    const size_t bins = dop_spectrum_bins(a->spectrum);
    const double bin_hz = dop_spectrum_bin_hz(a->spectrum);
    a->frame_period_s = 1.0 / dop_spectrum_frame_rate(a->spectrum);
    a->persist_frames = (int64_t)ceil(LEVEL_CHANGE_S / a->frame_period_s);
    a->recent_floor = malloc((size_t)a->persist_frames * sizeof *a->recent_floor);
    a->recent_dropout = calloc((size_t)a->persist_frames, 1);
    if (!a->recent_floor || !a->recent_dropout) {
        status = dop_error_set(err, DOP_ERR_NOMEM, "analysis: out of memory");
        goto fail;
    }
    gain = malloc(bins * sizeof *gain);
    noise_mask = malloc(bins);
    a->velocity_axis = malloc(bins * sizeof *a->velocity_axis);
    if (!gain || !noise_mask || !a->velocity_axis) {
        status = dop_error_set(err, DOP_ERR_NOMEM, "analysis: out of memory");
        goto fail;
    }
    for (size_t k = 0; k < bins; k++) {
        double f = ((double)k - (double)(bins / 2)) * bin_hz;
        gain[k] = dop_wall_filter_power_gain(a->wall, f);
        /* The noise estimate uses bins the wall filter leaves alone. */
        noise_mask[k] = gain[k] >= 0.9 && k > 0;
        a->velocity_axis[k] = (float)(f * cm_s_per_hz);
    }
    const size_t stop_bins = (size_t)lround(wall_gap_hz(gain, bins, bin_hz) / bin_hz);
    cfg->noise.frame_rate_hz = dop_spectrum_frame_rate(a->spectrum);
    if ((status = dop_noise_floor_create(&cfg->noise, bins, noise_mask, &a->noise, err)) != DOP_OK ||
        (status = dop_noise_floor_create(&cfg->noise, bins, noise_mask, &a->frame_noise, err)) != DOP_OK)
        goto fail;
    dop_spectral_lines_config lcfg = {.bins = bins, .frame_rate_hz = cfg->noise.frame_rate_hz, .eligible = noise_mask};
    if ((status = dop_spectral_lines_create(&lcfg, &a->lines, err)) != DOP_OK) goto fail;
    if (cfg->vmean_method == DOP_VMEAN_KASAI && (status = dop_kasai_create(bins, cfg->fs_hz, &a->kasai, err)) != DOP_OK)
        goto fail;
    cfg->envelope.bins = bins;
    cfg->envelope.bin_hz = bin_hz;
    cfg->envelope.gain = gain;
    cfg->envelope.window_hwhm_bins = dop_spectrum_window_hwhm_bins(a->spectrum);
    if (cfg->baseline_shift_cm_s != 0.0 || cfg->unwrap == DOP_UNWRAP_ON) {
        /* The envelopes work on the extended axis [-fs, fs). */
        dop_alias_config ac = {bins, bin_hz, cfg->baseline_shift_cm_s / cm_s_per_hz, cfg->unwrap == DOP_UNWRAP_ON,
                               wall_gap_hz(gain, bins, bin_hz)};
        if ((status = dop_alias_create(&ac, &a->alias, err)) != DOP_OK) goto fail;
        double *ext_gain = malloc(dop_alias_bins(a->alias) * sizeof *ext_gain);
        if (!ext_gain) {
            status = dop_error_set(err, DOP_ERR_NOMEM, "analysis: out of memory");
            goto fail;
        }
        dop_alias_extend_gain(a->alias, gain, ext_gain);
        free(gain);
        gain = ext_gain;
        cfg->envelope.bins = dop_alias_bins(a->alias);
        cfg->envelope.gain = gain;
    }
    cfg->envelope.one_sided = cfg->acq.channels == DOP_CHANNELS_MONO;
    if ((status = dop_envelope_create(&cfg->envelope, &a->envelope, err)) != DOP_OK) goto fail;
    cfg->envelope.gain = NULL; /* copied by the envelope */
    cfg->beats.frame_rate_hz = cfg->noise.frame_rate_hz;
    dop_beats_output beats_out = {forward_frame, forward_beat, a};
    if ((status = dop_beats_create(&cfg->beats, &beats_out, &a->beats, err)) != DOP_OK) goto fail;
    dop_beat_evidence_config ecfg = {.bins = bins, .frame_rate_hz = cfg->beats.frame_rate_hz};
    if ((status = dop_beat_evidence_create(&ecfg, &a->evidence, err)) != DOP_OK) goto fail;
    if (!cfg->envelope.one_sided) {
        dop_tissue_burst_config tcfg = {.bins = bins, .bin_hz = bin_hz, .frame_rate_hz = cfg->beats.frame_rate_hz,
                                        .stop_bins = stop_bins};
        if ((status = dop_tissue_burst_create(&tcfg, &a->tissue, err)) != DOP_OK) goto fail;
    }
    free(gain);
    free(noise_mask);
    *out = a;
    return DOP_OK;
fail:
    free(gain);
    free(noise_mask);
    dop_analysis_destroy(a);
    return status;
}

long long dop_analysis_unwrapped_frames(const dop_analysis *a) { return a->unwrapped_frames; }
long long dop_analysis_not_pulsatile_frames(const dop_analysis *a) { return dop_beats_not_pulsatile_frames(a->beats); }
long long dop_analysis_spectral_line_frames(const dop_analysis *a) { return dop_spectral_lines_frames(a->lines); }
double dop_analysis_best_periodicity(const dop_analysis *a) { return dop_beats_best_periodicity(a->beats); }
const float *dop_analysis_velocity_axis(const dop_analysis *a) { return a->velocity_axis; }
size_t dop_analysis_bins(const dop_analysis *a) { return dop_spectrum_bins(a->spectrum); }
double dop_analysis_frame_period_s(const dop_analysis *a) { return a->frame_period_s; }
double dop_analysis_nyquist_cm_s(const dop_analysis *a) { return a->nyquist_hz * a->cm_s_per_hz; }
double dop_analysis_cm_s_per_hz(const dop_analysis *a) { return a->cm_s_per_hz; }

/* Artifact flags from the frame's own statistics against the tracked floor. */
static uint32_t artifact_flags(const dop_analysis *a, const dop_spectrum_frame *sf, double frame_floor,
                               double tracked_floor)
{
    uint32_t flags = 0;
    if (sf->peak >= a->cfg.clip_level) flags |= DOP_FRAME_SATURATED;
    if (tracked_floor > NOISE_FLOOR_MIN && frame_floor > a->cfg.burst_factor * tracked_floor)
        flags |= DOP_FRAME_BURST;
    if (tracked_floor > NOISE_FLOOR_MIN && frame_floor < tracked_floor / a->cfg.dropout_factor)
        flags |= DOP_FRAME_DROPOUT;
    return flags;
}

/* This frame's floor estimate and dropout flag into the ring of the last
 * LEVEL_CHANGE_S; 1 when this frame is a dropout and more than half of that
 * span is. */
static int dropouts_dominate(dop_analysis *a, double frame_floor, uint32_t flags)
{
    const int64_t at = a->recent_seen % a->persist_frames;
    const uint8_t dropout = (flags & DOP_FRAME_DROPOUT) != 0;
    if (a->recent_seen >= a->persist_frames) a->recent_dropouts -= a->recent_dropout[at];
    a->recent_dropout[at] = dropout;
    a->recent_floor[at] = frame_floor;
    a->recent_dropouts += dropout;
    a->recent_seen++;
    return dropout && 2 * a->recent_dropouts > a->persist_frames;
}

/* Empty the ring of recent frames. */
static void clear_recent(dop_analysis *a)
{
    a->recent_seen = a->recent_dropouts = 0;
    memset(a->recent_dropout, 0, (size_t)a->persist_frames);
}

/* The lowest frame floor in the ring; the ring is emptied. */
static double lowest_recent_floor(dop_analysis *a)
{
    const int64_t n = a->recent_seen < a->persist_frames ? a->recent_seen : a->persist_frames;
    double low = a->recent_floor[0];
    for (int64_t i = 1; i < n; i++)
        if (a->recent_floor[i] < low) low = a->recent_floor[i];
    clear_recent(a);
    return low;
}

/* The noise floor tracked through this frame and the frame's artifact
 * flags against it: the frame's own floor estimate joins the floor unless
 * the frame is a burst or a dropout; where such frames persist, the floor
 * is seeded again (two ways, below). */
static double track_noise_floor(dop_analysis *a, const dop_spectrum_frame *sf, double frame_floor,
                                uint32_t *flags_out)
{
    double tracked = dop_noise_floor_level(a->noise);
    uint32_t flags = tracked >= 0.0 ? artifact_flags(a, sf, frame_floor, tracked) : 0;
    if (dropouts_dominate(a, frame_floor, flags)) {
        /* Dropouts are short: where most of the last LEVEL_CHANGE_S are
         * dropouts, the tracked floor is too high (seeded on a loud first
         * frame, and fed since by the bursts among the frames after it: a
         * percussion massage from the first frame). Seed it again at the
         * lowest frame floor of that span: a noise floor is seen from below
         * (minimum statistics, Martin, IEEE Trans Speech Audio Process
         * 2001;9:504-512), where bursts do not reach. */
        dop_noise_floor_reset(a->noise);
        dop_noise_floor_push_estimate(a->noise, lowest_recent_floor(a));
        flags &= ~(uint32_t)(DOP_FRAME_BURST | DOP_FRAME_DROPOUT);
        a->level_change_frames = 0;
    } else if (flags & (DOP_FRAME_BURST | DOP_FRAME_DROPOUT)) {
        /* Artifacts are short; a change that persists is the noise level
         * itself moving (gain change, probe repositioned): re-seed the floor. */
        if (++a->level_change_frames >= a->persist_frames) {
            dop_noise_floor_reset(a->noise);
            flags &= ~(uint32_t)(DOP_FRAME_BURST | DOP_FRAME_DROPOUT);
            a->level_change_frames = 0;
        }
    } else {
        a->level_change_frames = 0;
    }
    if (!(flags & (DOP_FRAME_BURST | DOP_FRAME_DROPOUT))) tracked = dop_noise_floor_push_estimate(a->noise, frame_floor);
    *flags_out = flags;
    return tracked > NOISE_FLOOR_MIN ? tracked : NOISE_FLOOR_MIN;
}

/* What depends on the sequence of spectra alone: the spectrum without
 * its stationary lines (*clean_psd: raw_psd itself or a buffer of the lines
 * stage, valid until its next frame) and that frame's own noise-floor
 * estimate, returned. */
static double prepare_frame(dop_analysis *a, const float *raw_psd, const float **clean_psd)
{
    *clean_psd = dop_spectral_lines_push(a->lines, raw_psd);
    return dop_noise_floor_frame_estimate(a->frame_noise, *clean_psd);
}

/* One frame through the floor's tracking, aliasing, the envelopes and the
 * beat evidence, into *m. Every estimate sees the spectrum without its
 * stationary lines. No callback is called. */
static void measure_frame(dop_analysis *a, const dop_spectrum_frame *raw, const float *clean_psd, double frame_floor,
                          measured *m)
{
    const dop_analysis_config *cfg = &a->cfg;
    dop_spectrum_frame clean = *raw;
    clean.psd = clean_psd;
    const dop_spectrum_frame *sf = &clean;
    uint32_t flags;
    const double noise = track_noise_floor(a, sf, frame_floor, &flags);

    dop_envelope_result env;
    double top_hz = a->nyquist_hz, bottom_hz = -a->nyquist_hz; /* the frame's frequency range */
    if (a->alias) {
        dop_alias_frame placed;
        dop_alias_push(a->alias, sf->psd, noise, &placed);
        /* The range [lo, lo + fs): reverse bins 1..-lo, forward 1..lo + fs - 1 bin. */
        const double bin_hz = a->cfg.envelope.bin_hz;
        const size_t rev_bins = (size_t)lround(-placed.lo_hz / bin_hz);
        const size_t fwd_bins = (size_t)lround((placed.lo_hz + 2.0 * a->nyquist_hz) / bin_hz) - 1;
        dop_envelope_push_span(a->envelope, placed.psd, noise, fwd_bins, rev_bins, &env);
        bottom_hz = placed.lo_hz;
        top_hz = placed.lo_hz + 2.0 * a->nyquist_hz;
        if (placed.unwrapped) {
            flags |= DOP_FRAME_UNWRAPPED;
            a->unwrapped_frames++;
        }
    } else {
        dop_envelope_push(a->envelope, sf->psd, noise, &env);
    }
    if (!env.has_signal) flags |= DOP_FRAME_NO_SIGNAL;
    if (a->tissue && dop_tissue_burst_push(a->tissue, sf->psd)) flags |= DOP_FRAME_TISSUE_BURST;
    if (env.fmax_forward_hz >= NYQUIST_MARGIN * top_hz || env.fmax_reverse_hz <= NYQUIST_MARGIN * bottom_hz)
        flags |= DOP_FRAME_NEAR_NYQUIST;

    dop_frame f;
    memset(&f, 0, sizeof f);
    f.index = sf->index;
    f.time_s = cfg->time_offset_s + sf->time_s;
    f.vmax_forward_cm_s = env.fmax_forward_hz * a->cm_s_per_hz;
    f.vmax_reverse_cm_s = env.fmax_reverse_hz * a->cm_s_per_hz;
    f.vmax_cm_s = env.power_reverse > env.power_forward ? f.vmax_reverse_cm_s : f.vmax_forward_cm_s;
    switch (cfg->vmean_method) {
    case DOP_VMEAN_HALF_MAX: f.vmean_cm_s = 0.5 * f.vmax_cm_s; break;
    case DOP_VMEAN_KASAI: {
        double fk = dop_kasai_mean_hz(a->kasai, sf->psd);
        f.vmean_cm_s = (a->alias ? dop_alias_map_hz(a->alias, fk) : fk) * a->cm_s_per_hz;
        break;
    }
    case DOP_VMEAN_INTENSITY:
    default: f.vmean_cm_s = env.fmean_hz * a->cm_s_per_hz; break;
    }
    f.noise_db = 10.0 * log10(noise);
    f.snr_db = env.snr_db;
    f.flags = flags;
    f.beat_index = -1;
    m->frame = f;
    m->noise = noise;
    m->beat_input.spectral = dop_beat_evidence_push(a->evidence, sf->psd);
    /* The intensity-weighted mean feature: over the fixed band (beats.h). */
    m->beat_input.vmean_cm_s =
        cfg->vmean_method == DOP_VMEAN_INTENSITY ? env.fmean_fixed_hz * a->cm_s_per_hz : f.vmean_cm_s;
}

/* A measured frame: its diameter, flow and shear rate, then the spectrum
 * callback and the beat segmenter (whose callbacks emit frames and beats);
 * the spectrum passed on (the sonogram) is the recording's own. */
static int emit_frame(dop_analysis *a, const dop_spectrum_frame *raw, const measured *m)
{
    const dop_analysis_config *cfg = &a->cfg;
    dop_frame f = m->frame;
    f.diameter_mm = cfg->diameter_fn ? cfg->diameter_fn(f.time_s, cfg->diameter_user) : cfg->acq.diameter_mm;
    f.flow_ml_min = dop_flow_ml_min(f.vmean_cm_s, f.diameter_mm);
    f.shear_rate_s = dop_shear_rate_s(f.vmean_cm_s, f.diameter_mm);
    if (a->output.on_spectrum && a->output.on_spectrum(raw, m->noise, a->output.user)) return 1;
    a->frame_status = dop_beats_push(a->beats, &f, &m->beat_input);
    return a->frame_status != DOP_OK;
}

/* dop_spectrum_push's callback when everything runs here. */
static int on_spectrum_frame(const dop_spectrum_frame *raw, void *user)
{
    dop_analysis *a = user;
    const float *clean_psd;
    const double frame_floor = prepare_frame(a, raw->psd, &clean_psd);
    measured m;
    measure_frame(a, raw, clean_psd, frame_floor, &m);
    return emit_frame(a, raw, &m);
}

/* A gate's frame: add it to the sum; the last gate's carries the mean on. */
static int on_gate_frame(const dop_spectrum_frame *sf, void *user)
{
    dop_analysis *a = user;
    const size_t bins = sf->bins;
    if (a->gate_now == 0) {
        memcpy(a->psd_sum, sf->psd, bins * sizeof *a->psd_sum);
        a->peak_max = sf->peak;
    } else {
        for (size_t k = 0; k < bins; k++) a->psd_sum[k] += sf->psd[k];
        if (sf->peak > a->peak_max) a->peak_max = sf->peak;
    }
    if (a->gate_now < a->cfg.gates - 1) return 0;
    const float inv = 1.0f / (float)a->cfg.gates;
    for (size_t k = 0; k < bins; k++) a->psd_sum[k] *= inv;
    dop_spectrum_frame mean = *sf;
    mean.psd = a->psd_sum;
    mean.peak = a->peak_max;
    return on_spectrum_frame(&mean, a);
}

/* Several gates: steps of at most one hop, every gate in turn. */
static dop_status push_gates(dop_analysis *a, const float complex *x, size_t n, dop_error *err)
{
    const size_t gates = (size_t)a->cfg.gates, step = dop_spectrum_hop_samples(a->spectrum);
    for (size_t done = 0; done < n;) {
        size_t take = n - done < step ? n - done : step;
        for (size_t g = 0; g < gates; g++) {
            for (size_t p = 0; p < take; p++) a->gate_in[p] = x[(done + p) * gates + g];
            a->gate_now = (long)g;
            dop_wall_filter *wall = g == 0 ? a->wall : a->gate_wall[g];
            dop_spectrum *spectrum = g == 0 ? a->spectrum : a->gate_spectrum[g];
            dop_wall_filter_push(wall, a->gate_in, a->work, take);
            if (dop_spectrum_push(spectrum, a->work, take, on_gate_frame, a) != DOP_OK)
                return dop_error_set(err, DOP_ERR_INTERRUPTED, "analysis stopped by an output callback");
        }
        done += take;
    }
    return DOP_OK;
}

/* A job of the worker: n samples filtered, and the frames they complete, measured. */
typedef struct ahead_job {
    dop_analysis *a;
    const float complex *in;
    size_t n;
    spectra_kept *out;
} ahead_job;

/* dop_spectrum_push's callback on the worker: the frame measured and kept. */
static int keep_spectrum(const dop_spectrum_frame *sf, void *user)
{
    ahead_job *job = user;
    spectra_kept *kept = job->out;
    if (kept->count == kept->capacity) return 1; /* cannot happen: see create_ahead */
    const size_t i = kept->count++, bins = kept->bins;
    float *psd = kept->psd + i * bins;
    memcpy(psd, sf->psd, bins * sizeof *psd);
    kept->frames[i] = *sf;
    kept->frames[i].psd = psd;
    const float *clean_psd;
    const double frame_floor = prepare_frame(job->a, psd, &clean_psd);
    measure_frame(job->a, &kept->frames[i], clean_psd, frame_floor, &kept->measured[i]);
    return 0;
}

static void run_ahead_job(void *arg)
{
    ahead_job *job = arg;
    dop_analysis *a = job->a;
    job->out->count = 0;
    dop_wall_filter_push(a->wall, job->in, a->filtered, job->n);
    dop_spectrum_push(a->spectrum, a->filtered, job->n, keep_spectrum, job);
}

/* One gate: chunk i + 1 is filtered, transformed and measured on the
 * worker while chunk i's frames are emitted here (posting chunk i + 1 waits
 * until chunk i is done). */
static dop_status push_ahead(dop_analysis *a, const float complex *x, size_t n, dop_error *err)
{
    const size_t chunks = (n + CHUNK - 1) / CHUNK;
    ahead_job job[2];
    for (size_t i = 0; i <= chunks; i++) {
        if (i < chunks) {
            const size_t start = i * CHUNK, take = n - start < CHUNK ? n - start : CHUNK;
            job[i % 2] = (ahead_job){a, x + start, take, &a->kept[i % 2]};
            dop_worker_post(a->ahead, run_ahead_job, &job[i % 2]);
        } else {
            dop_worker_wait(a->ahead);
        }
        if (i == 0) continue;
        const spectra_kept *ready = job[(i - 1) % 2].out;
        for (size_t k = 0; k < ready->count; k++)
            if (emit_frame(a, &ready->frames[k], &ready->measured[k])) {
                dop_worker_wait(a->ahead); /* x is the caller's again when this returns */
                return dop_error_set(err, DOP_ERR_INTERRUPTED, "analysis stopped by an output callback");
            }
    }
    return DOP_OK;
}

dop_status dop_analysis_push(dop_analysis *a, const float complex *x, size_t n, dop_error *err)
{
    if (a->cfg.gates > 1) return push_gates(a, x, n, err);
    if (a->ahead && n >= 2 * CHUNK) return push_ahead(a, x, n, err);
    size_t done = 0;
    while (done < n) {
        size_t take = n - done < BLOCK ? n - done : BLOCK;
        dop_wall_filter_push(a->wall, x + done, a->work, take);
        dop_status status = dop_spectrum_push(a->spectrum, a->work, take, on_spectrum_frame, a);
        if (status != DOP_OK) return dop_error_set(err, DOP_ERR_INTERRUPTED, "analysis stopped by an output callback");
        done += take;
    }
    return DOP_OK;
}

dop_status dop_analysis_flush(dop_analysis *a, dop_error *err)
{
    if (dop_beats_flush(a->beats) != DOP_OK)
        return dop_error_set(err, DOP_ERR_INTERRUPTED, "analysis stopped by an output callback");
    return DOP_OK;
}

void dop_analysis_reset(dop_analysis *a)
{
    dop_wall_filter_reset(a->wall);
    dop_spectrum_reset(a->spectrum);
    for (long g = 1; g < a->cfg.gates; g++) {
        dop_wall_filter_reset(a->gate_wall[g]);
        dop_spectrum_reset(a->gate_spectrum[g]);
    }
    if (a->alias) dop_alias_reset(a->alias);
    dop_noise_floor_reset(a->noise);
    dop_noise_floor_reset(a->frame_noise);
    dop_envelope_reset(a->envelope);
    dop_beat_evidence_reset(a->evidence);
    dop_spectral_lines_reset(a->lines);
    dop_beats_reset(a->beats);
    a->gate_now = 0;
    a->unwrapped_frames = 0;
    a->frame_status = DOP_OK;
    clear_recent(a);
    a->level_change_frames = 0;
}

void dop_analysis_destroy(dop_analysis *a)
{
    if (!a) return;
    dop_worker_destroy(a->ahead);
    dop_wall_filter_destroy(a->wall);
    dop_spectrum_destroy(a->spectrum);
    for (long g = 1; g < a->cfg.gates; g++) {
        if (a->gate_wall) dop_wall_filter_destroy(a->gate_wall[g]);
        if (a->gate_spectrum) dop_spectrum_destroy(a->gate_spectrum[g]);
    }
    free(a->gate_wall);
    free(a->gate_spectrum);
    free(a->gate_in);
    free(a->psd_sum);
    dop_alias_destroy(a->alias);
    dop_kasai_destroy(a->kasai);
    dop_noise_floor_destroy(a->noise);
    dop_noise_floor_destroy(a->frame_noise);
    dop_envelope_destroy(a->envelope);
    dop_beats_destroy(a->beats);
    dop_beat_evidence_destroy(a->evidence);
    dop_tissue_burst_destroy(a->tissue);
    dop_spectral_lines_destroy(a->lines);
    free(a->filtered);
    for (int k = 0; k < 2; k++) {
        free(a->kept[k].frames);
        free(a->kept[k].psd);
        free(a->kept[k].measured);
    }
    free(a->work);
    free(a->velocity_axis);
    free(a->recent_floor);
    free(a->recent_dropout);
    free(a);
}

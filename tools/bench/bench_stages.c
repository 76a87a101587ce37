/* dopflow_bench, part 1 and 2: each stage of the pipeline timed in this
 * process on the whole main file held in memory (read+decode, wall filter,
 * STFT, noise floor, envelopes, beats, CSV output, and all of it chained
 * through dop_analysis), and the physical limit: FFTW alone executing as
 * many transforms of the same size as the analysis makes.
 *
 * The stages run one block of BENCH_BLOCK samples at a time, as the
 * pipeline runs them (so that each block's data is in cache, as it is in
 * dop_analysis), with a clock read around every stage of every block: one
 * timing function per stage below. The frames of a block are kept in small
 * buffers between stages. */
/* fftw3.h before complex.h (bench.h): fftwf_complex stays float[2]. */
#include <fftw3.h>

#include "bench.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dopflow/result_csv.h"

#define MAX_BLOCK_FRAMES 512

const char *const stage_names[ST_COUNT] = {
    "read + decode (libsndfile)", "wall filter", "STFT (window, FFTW, PSD)", "noise floor",
    "envelopes (MGM, mean)", "beats", "output (CSV rows, summary)", "all stages chained (dop_analysis, in memory)"};

/* The stages' objects and the buffers between them. */
typedef struct stage_ctx {
    dop_analysis_config acfg;    /* defaults at the recording's rate and acquisition */
    dop_wall_filter *wall;
    dop_spectrum *spec;
    dop_noise_floor *nf;         /* per repeat */
    dop_envelope *env;           /* per repeat */
    dop_beats *beats;            /* per repeat */
    double bin_hz, frame_rate, cm_s_per_hz;
    double *gain;                /* wall filter power gain per bin */
    uint8_t *mask;               /* bins the noise floor uses */
    float complex *filtered;     /* BENCH_BLOCK */
    float *psd;                  /* this block's frames x bins */
    size_t bins, frames;
    double time_s[MAX_BLOCK_FRAMES];
    double noise[MAX_BLOCK_FRAMES];
    dop_frame block[MAX_BLOCK_FRAMES]; /* this block's frames before the beats stage */
    dop_frame out[MAX_BLOCK_FRAMES * 2]; /* annotated frames released by the beats stage */
    size_t n_out;
    dop_beat beats_out[64];
    size_t n_beats;
    size_t total_frames;
    FILE *csv;
    dop_summary_acc *acc;
} stage_ctx;

static int store_psd(const dop_spectrum_frame *f, void *user)
{
    stage_ctx *c = user;
    if (c->frames < MAX_BLOCK_FRAMES) {
        memcpy(c->psd + c->frames * c->bins, f->psd, c->bins * sizeof *c->psd);
        c->time_s[c->frames] = f->time_s;
        c->frames++;
    }
    return 0;
}

static int store_frame(const dop_frame *f, void *user)
{
    stage_ctx *c = user;
    if (c->n_out < sizeof c->out / sizeof c->out[0]) c->out[c->n_out++] = *f;
    return 0;
}

static int store_beat(const dop_beat *b, void *user)
{
    stage_ctx *c = user;
    if (c->n_beats < sizeof c->beats_out / sizeof c->beats_out[0]) c->beats_out[c->n_beats++] = *b;
    return 0;
}

static int csv_frame(const dop_frame *f, void *user)
{
    stage_ctx *c = user;
    dop_summary_acc_add_frame(c->acc, f);
    dop_frame_csv_row(c->csv, f);
    fputc('\n', c->csv);
    return 0;
}

static int csv_beat(const dop_beat *b, void *user)
{
    stage_ctx *c = user;
    dop_summary_acc_add_beat(c->acc, b);
    dop_beat_csv_row(c->csv, b);
    fputc('\n', c->csv);
    return 0;
}

/* ---- one timing function per stage: each returns the seconds it took ---- */

static double time_wall_filter(stage_ctx *c, const float complex *x, size_t n)
{
    double t0 = now_s();
    dop_wall_filter_push(c->wall, x, c->filtered, n);
    return now_s() - t0;
}

static double time_stft(stage_ctx *c, size_t n)
{
    double t0 = now_s();
    c->frames = 0;
    dop_spectrum_push(c->spec, c->filtered, n, store_psd, c);
    return now_s() - t0;
}

static double time_noise_floor(stage_ctx *c)
{
    double t0 = now_s();
    for (size_t m = 0; m < c->frames; m++) {
        double est = dop_noise_floor_frame_estimate(c->nf, c->psd + m * c->bins);
        c->noise[m] = dop_noise_floor_push_estimate(c->nf, est);
    }
    return now_s() - t0;
}

/* Envelopes and the frame fields dop_analysis derives from them (velocities
 * by the Doppler equation, flow, shear rate). */
static double time_envelopes(stage_ctx *c, double diameter_mm)
{
    double t0 = now_s();
    for (size_t m = 0; m < c->frames; m++) {
        dop_envelope_result r;
        dop_envelope_push(c->env, c->psd + m * c->bins, c->noise[m], &r);
        dop_frame *f = &c->block[m];
        memset(f, 0, sizeof *f);
        f->index = (int64_t)(c->total_frames + m);
        f->time_s = c->time_s[m];
        f->vmax_forward_cm_s = r.fmax_forward_hz * c->cm_s_per_hz;
        f->vmax_reverse_cm_s = r.fmax_reverse_hz * c->cm_s_per_hz;
        f->vmax_cm_s = r.power_reverse > r.power_forward ? f->vmax_reverse_cm_s : f->vmax_forward_cm_s;
        f->vmean_cm_s = r.fmean_hz * c->cm_s_per_hz;
        f->diameter_mm = diameter_mm;
        f->flow_ml_min = dop_flow_ml_min(f->vmean_cm_s, f->diameter_mm);
        f->shear_rate_s = dop_shear_rate_s(f->vmean_cm_s, f->diameter_mm);
        f->noise_db = 10.0 * log10(c->noise[m]);
        f->snr_db = r.snr_db;
        f->flags = r.has_signal ? 0 : DOP_FRAME_NO_SIGNAL;
        f->beat_index = -1;
    }
    return now_s() - t0;
}

static double time_beats(stage_ctx *c)
{
    double t0 = now_s();
    for (size_t m = 0; m < c->frames; m++) {
        dop_beats_push(c->beats, &c->block[m], NULL);
        if (c->n_out > MAX_BLOCK_FRAMES) break; /* cannot happen: a beat is shorter than the ring */
    }
    return now_s() - t0;
}

static double time_beats_flush(stage_ctx *c)
{
    double t0 = now_s();
    dop_beats_flush(c->beats);
    return now_s() - t0;
}

/* The frames and beats the beats stage released, as CSV rows and into the summary. */
static double time_output(stage_ctx *c, int flush)
{
    double t0 = now_s();
    for (size_t m = 0; m < c->n_out; m++) csv_frame(&c->out[m], c);
    for (size_t b = 0; b < c->n_beats; b++) csv_beat(&c->beats_out[b], c);
    c->n_out = c->n_beats = 0;
    if (flush) fflush(c->csv);
    return now_s() - t0;
}

/* Everything chained, as dop_job_run drives it, minus the file read. */
static double time_chained(stage_ctx *c, const signal_data *s)
{
    dop_error err;
    dop_status status;
    dop_analysis_output aout = {NULL, csv_frame, csv_beat, c};
    dop_analysis *a;
    if ((status = dop_analysis_create(&c->acfg, &aout, &a, &err)) != DOP_OK) die("analysis", status, &err);
    double t0 = now_s();
    for (size_t i = 0; i < s->n; i += 32768) dop_analysis_push(a, s->x + i, s->n - i < 32768 ? s->n - i : 32768, &err);
    dop_analysis_flush(a, &err);
    fflush(c->csv);
    double t = now_s() - t0;
    dop_analysis_destroy(a);
    return t;
}

/* ---- set-up ---- */

/* Wall filter, spectrum, the wall filter's gain per bin and the noise-floor mask. */
static void stage_ctx_create(stage_ctx *c, const signal_data *s)
{
    dop_error err;
    dop_status status;
    c->acfg = dop_analysis_config_default();
    c->acfg.fs_hz = s->fs;
    c->acfg.acq = s->acq;
    c->acfg.wall.fs_hz = s->fs;
    c->acfg.spectrum.fs_hz = s->fs;
    if ((status = dop_wall_filter_create(&c->acfg.wall, &c->wall, &err)) != DOP_OK) die("wall filter", status, &err);
    if ((status = dop_spectrum_create(&c->acfg.spectrum, &c->spec, &err)) != DOP_OK) die("spectrum", status, &err);
    c->bins = dop_spectrum_bins(c->spec);
    c->bin_hz = dop_spectrum_bin_hz(c->spec);
    c->frame_rate = dop_spectrum_frame_rate(c->spec);
    c->psd = malloc(MAX_BLOCK_FRAMES * c->bins * sizeof *c->psd);
    c->filtered = malloc(BENCH_BLOCK * sizeof *c->filtered);
    c->gain = malloc(c->bins * sizeof *c->gain);
    c->mask = malloc(c->bins);
    if (!c->psd || !c->filtered || !c->gain || !c->mask) exit(1);
    for (size_t k = 0; k < c->bins; k++) {
        double f = ((double)k - (double)(c->bins / 2)) * c->bin_hz;
        c->gain[k] = dop_wall_filter_power_gain(c->wall, f);
        c->mask[k] = c->gain[k] >= 0.9 && k > 0;
    }
    c->cm_s_per_hz = dop_doppler_cm_s_per_hz(s->acq.f0_hz, s->acq.angle_deg, s->acq.c_m_s);
}

static void stage_ctx_destroy(stage_ctx *c)
{
    dop_wall_filter_destroy(c->wall);
    dop_spectrum_destroy(c->spec);
    free(c->filtered);
    free(c->psd);
    free(c->gain);
    free(c->mask);
}

/* The CSV file and the summary accumulator the output stages write to. */
static void open_output(stage_ctx *c, const char *csv_path)
{
    dop_error err;
    dop_status status;
    c->csv = fopen(csv_path, "w");
    if (!c->csv) die(csv_path, DOP_ERR_IO, NULL);
    setvbuf(c->csv, NULL, _IOFBF, 1 << 18);
    dop_epoch all = {"all", 0.0, 1e30};
    if ((status = dop_summary_acc_create(&all, 1, 1.0 / c->frame_rate, &c->acc, &err)) != DOP_OK)
        die("summary", status, &err);
}

static void close_output(stage_ctx *c)
{
    fclose(c->csv);
    dop_summary_acc_destroy(c->acc);
}

/* Noise floor, envelopes and beats: new for each repeat, as a new file gets them. */
static void begin_repeat(stage_ctx *c)
{
    dop_error err;
    dop_status status;
    dop_noise_floor_config ncfg = c->acfg.noise;
    ncfg.frame_rate_hz = c->frame_rate;
    if ((status = dop_noise_floor_create(&ncfg, c->bins, c->mask, &c->nf, &err)) != DOP_OK) die("noise", status, &err);
    dop_envelope_config ecfg = c->acfg.envelope;
    ecfg.bins = c->bins;
    ecfg.bin_hz = c->bin_hz;
    ecfg.gain = c->gain;
    if ((status = dop_envelope_create(&ecfg, &c->env, &err)) != DOP_OK) die("envelope", status, &err);
    dop_beats_config bcfg = c->acfg.beats;
    bcfg.frame_rate_hz = c->frame_rate;
    dop_beats_output bout = {store_frame, store_beat, c};
    if ((status = dop_beats_create(&bcfg, &bout, &c->beats, &err)) != DOP_OK) die("beats", status, &err);
    dop_wall_filter_reset(c->wall);
    dop_spectrum_reset(c->spec);
    c->total_frames = 0;
    c->n_out = c->n_beats = 0;
}

static void end_repeat(stage_ctx *c)
{
    dop_noise_floor_destroy(c->nf);
    dop_envelope_destroy(c->env);
    dop_beats_destroy(c->beats);
}

/* One pass of the stages over the recording, block by block; seconds per stage into t. */
static void time_stages_once(stage_ctx *c, const signal_data *s, double t[ST_COUNT])
{
    for (size_t i = 0; i < s->n; i += BENCH_BLOCK) {
        size_t take = s->n - i < BENCH_BLOCK ? s->n - i : BENCH_BLOCK;
        t[ST_WALL] += time_wall_filter(c, s->x + i, take);
        t[ST_STFT] += time_stft(c, take);
        t[ST_NOISE] += time_noise_floor(c);
        t[ST_ENVELOPE] += time_envelopes(c, s->acq.diameter_mm);
        t[ST_BEATS] += time_beats(c);
        t[ST_OUTPUT] += time_output(c, 0);
        c->total_frames += c->frames;
    }
    t[ST_BEATS] += time_beats_flush(c);
    t[ST_OUTPUT] += time_output(c, 1);
}

void stage_timings(const options *o, const signal_data *s, stat_set st[ST_COUNT], size_t *n_frames,
                   size_t *fft_size)
{
    stage_ctx *c = calloc(1, sizeof *c);
    if (!c) exit(1);
    stage_ctx_create(c, s);
    char *csv_path = join(o->workdir, "stage-output.csv");
    char *main_wav = join(o->workdir, "main.wav");
    for (int rep = 0; rep < o->repeats; rep++) {
        /* read + decode: the main file again (page cache warm) */
        signal_data again = *s;
        stat_add(&st[ST_READ], read_all(main_wav, &again));

        begin_repeat(c);
        open_output(c, csv_path);
        double t[ST_COUNT] = {0};
        time_stages_once(c, s, t);
        for (int k = ST_WALL; k <= ST_OUTPUT; k++) stat_add(&st[k], t[k]);
        close_output(c);
        end_repeat(c);

        open_output(c, csv_path);
        stat_add(&st[ST_CHAINED], time_chained(c, s));
        close_output(c);
    }
    *n_frames = c->total_frames;
    *fft_size = c->bins;
    remove(csv_path);
    free(csv_path);
    free(main_wav);
    stage_ctx_destroy(c);
    free(c);
}

/* FFTW alone: n_frames transforms of size n, out of place, plan flags as
 * given. The input is one Hann-windowed frame of the signal. */
double fft_limit(const signal_data *s, size_t n, size_t n_frames, unsigned flags)
{
    fftwf_complex *in = fftwf_alloc_complex(n), *out = fftwf_alloc_complex(n);
    fftwf_plan plan = fftwf_plan_dft_1d((int)n, in, out, FFTW_FORWARD, flags);
    size_t w = (size_t)lround(0.02 * s->fs);
    for (size_t i = 0; i < n; i++) {
        float complex x = i < w && i < s->n ? s->x[i] * (float)(0.5 - 0.5 * cos(2.0 * M_PI * (double)i / (double)w)) : 0.0f;
        in[i][0] = crealf(x);
        in[i][1] = cimagf(x);
    }
    fftwf_execute(plan); /* warm */
    double t0 = now_s();
    for (size_t m = 0; m < n_frames; m++) fftwf_execute(plan);
    double t = now_s() - t0;
    fftwf_destroy_plan(plan);
    fftwf_free(in);
    fftwf_free(out);
    return t;
}

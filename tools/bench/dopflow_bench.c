/* dopflow_bench: how fast and how small dopflow is, measured on this machine.
 *
 * Generates its own inputs with the simulator (datasets/examples/
 * brachial_rest.json stretched to the durations asked for), then measures
 *  1. each stage of the pipeline in this process, on the whole main file
 *     held in memory: read+decode, wall filter, STFT, noise floor,
 *     envelopes, beats, CSV output, and all of it chained (dop_analysis);
 *  2. the physical limit: FFTW alone executing as many transforms of the
 *     same size as the analysis makes (same plan flags as dopflow);
 *  3. the whole `dopflow analyze` process (summary, frames and beats CSV),
 *     file read included, repeated: median, min, max, peak RSS;
 *  4. memory of the streaming path: 1 minute and H hours of s16 samples fed
 *     through a pipe to `dopflow analyze -` (the H hours repeat the main
 *     file's samples: no 10-hour file is written to disk);
 *  5. the NumPy/SciPy program a lab would write (tools/bench/reference.py),
 *     whole process against whole process;
 *  6. `dopflow study -j 1` against `-j 2` on a batch of recordings.
 * Prints Markdown tables (BENCHMARKS.md quotes them). Timings are wall
 * clock (CLOCK_MONOTONIC); peak memory is the child's ru_maxrss (wait4).
 * Nothing here is a test: ctest never runs it. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <fftw3.h>

#include "dopflow/dopflow.h"
#include "dopflow/result_csv.h"
#include "dopflow/simulate.h"

#define MAX_REPEATS 101

typedef struct options {
    const char *workdir;
    const char *dopflow;      /* the CLI under test */
    const char *python;       /* interpreter with numpy + scipy; NULL = skip */
    const char *reference;    /* tools/bench/reference.py */
    const char *spec;         /* simulation spec of the inputs */
    double minutes;           /* main file, <= 60 (the simulator's limit) */
    double hours;             /* streaming memory run; 0 = skip */
    int repeats;
    int python_repeats;
    int study_n;              /* recordings in the study batch; 0 = skip */
    double study_seconds;
} options;

/* ------------------------------------------------------------------ */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

typedef struct stat_set {
    double v[MAX_REPEATS];
    int n;
} stat_set;

static void stat_add(stat_set *s, double x)
{
    if (s->n < MAX_REPEATS) s->v[s->n++] = x;
}

static double stat_median(const stat_set *s)
{
    if (s->n == 0) return NAN;
    double t[MAX_REPEATS];
    memcpy(t, s->v, (size_t)s->n * sizeof *t);
    qsort(t, (size_t)s->n, sizeof *t, cmp_double);
    return s->n % 2 ? t[s->n / 2] : 0.5 * (t[s->n / 2 - 1] + t[s->n / 2]);
}

static double stat_min(const stat_set *s)
{
    double m = INFINITY;
    for (int i = 0; i < s->n; i++) m = fmin(m, s->v[i]);
    return s->n ? m : NAN;
}

static double stat_max(const stat_set *s)
{
    double m = -INFINITY;
    for (int i = 0; i < s->n; i++) m = fmax(m, s->v[i]);
    return s->n ? m : NAN;
}

static void die(const char *what, dop_status st, const dop_error *err)
{
    fprintf(stderr, "dopflow_bench: %s: %s\n", what, err && err->message[0] ? err->message : dop_strerror(st));
    exit(1);
}

static char *join(const char *a, const char *b)
{
    size_t n = strlen(a) + strlen(b) + 2;
    char *p = malloc(n);
    if (!p) exit(1);
    snprintf(p, n, "%s/%s", a, b);
    return p;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void rm_rf(const char *path)
{
    nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* ------------------------------------------------------------------ */
/* child processes                                                      */
/* ------------------------------------------------------------------ */

typedef struct child_result {
    double wall_s;
    double cpu_s;
    long maxrss_kb;
    int status;           /* exit code, or 128 + signal */
} child_result;

/* Peak RSS of a child by wait4 is only right when the child was forked
 * from a small process: Linux counts the pages a forked child shares with
 * its parent until exec, and keeps that peak in ru_maxrss. So children are
 * started through a fresh copy of this program (`--measure-child FD ARGV`,
 * a few MB), which forks, execs, waits and writes the child's wall time,
 * CPU time, peak RSS and exit status to FD. */
static int measure_child_main(int fd, char **argv)
{
    double t0 = now_s();
    pid_t pid = fork();
    if (pid < 0) return 1;
    if (pid == 0) {
        execvp(argv[0], argv);
        _exit(127);
    }
    int ws = 0;
    struct rusage ru;
    while (wait4(pid, &ws, 0, &ru) < 0 && errno == EINTR) {}
    double wall = now_s() - t0;
    double cpu = (double)ru.ru_utime.tv_sec + 1e-6 * (double)ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_sec +
                 1e-6 * (double)ru.ru_stime.tv_usec;
    int status = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
    char line[256];
    int n = snprintf(line, sizeof line, "%.9f %.9f %ld %d\n", wall, cpu, ru.ru_maxrss, status);
    return write(fd, line, (size_t)n) == n ? 0 : 1;
}

/* Run argv with stdout to /dev/null (or `out_path`), stderr to /dev/null;
 * feed (may be NULL) writes the child's standard input. */
typedef int (*feed_fn)(int fd, void *user);

static child_result run_child(char *const argv[], const char *out_path, feed_fn feed, void *user)
{
    child_result r = {0};
    int in_pipe[2] = {-1, -1}, res_pipe[2];
    if ((feed && pipe(in_pipe) != 0) || pipe(res_pipe) != 0) {
        perror("dopflow_bench: pipe");
        exit(1);
    }
    int argc = 0;
    while (argv[argc]) argc++;
    char fdtext[16];
    snprintf(fdtext, sizeof fdtext, "%d", res_pipe[1]);
    char **margv = calloc((size_t)argc + 4, sizeof *margv);
    if (!margv) exit(1);
    margv[0] = "dopflow_bench";
    margv[1] = "--measure-child";
    margv[2] = fdtext;
    for (int i = 0; i < argc; i++) margv[3 + i] = argv[i];
    pid_t pid = fork();
    if (pid < 0) {
        perror("dopflow_bench: fork");
        exit(1);
    }
    if (pid == 0) {
        int devnull = open("/dev/null", O_RDWR);
        int out = out_path ? open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644) : devnull;
        if (feed) {
            dup2(in_pipe[0], 0);
            close(in_pipe[0]);
            close(in_pipe[1]);
        } else {
            dup2(devnull, 0);
        }
        dup2(out, 1);
        dup2(devnull, 2);
        close(res_pipe[0]);
        execv("/proc/self/exe", margv);
        _exit(127);
    }
    free(margv);
    close(res_pipe[1]);
    if (feed) {
        close(in_pipe[0]);
        feed(in_pipe[1], user);
        close(in_pipe[1]);
    }
    char line[256] = "";
    size_t got = 0;
    for (;;) {
        ssize_t n = read(res_pipe[0], line + got, sizeof line - 1 - got);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        got += (size_t)n;
    }
    line[got] = '\0';
    close(res_pipe[0]);
    int ws;
    while (waitpid(pid, &ws, 0) < 0 && errno == EINTR) {}
    if (sscanf(line, "%lf %lf %ld %d", &r.wall_s, &r.cpu_s, &r.maxrss_kb, &r.status) != 4) r.status = 127;
    return r;
}

/* ------------------------------------------------------------------ */
/* inputs                                                               */
/* ------------------------------------------------------------------ */

static void simulate(const options *o, double duration_s, uint64_t seed, const char *wav)
{
    dop_sim_config cfg;
    dop_error err;
    dop_status st = dop_sim_spec_load(o->spec, &cfg, &err);
    if (st != DOP_OK) die(o->spec, st, &err);
    cfg.duration_s = duration_s;
    cfg.n_epochs = 0;
    cfg.seed = seed;
    st = dop_sim_write(&cfg, wav, NULL, NULL, &err);
    if (st != DOP_OK) die(wav, st, &err);
}

typedef struct signal_data {
    float complex *x;
    size_t n;
    double fs;
    dop_acquisition acq;
} signal_data;

static double read_all(const char *path, signal_data *s)
{
    dop_error err;
    dop_reader_config rc = dop_reader_config_default();
    rc.path = path;
    dop_reader *r;
    double t0 = now_s();
    dop_status st = dop_reader_open(&rc, &r, &err);
    if (st != DOP_OK) die(path, st, &err);
    const dop_reader_info *info = dop_reader_get_info(r);
    size_t cap = (size_t)info->frames + 1;
    if (!s->x) s->x = malloc(cap * sizeof *s->x);
    if (!s->x) exit(1);
    size_t n = 0, got;
    do {
        size_t want = cap - n < 8192 ? cap - n : 8192;
        st = dop_reader_read(r, s->x + n, want, &got, &err);
        if (st != DOP_OK) die(path, st, &err);
        n += got;
    } while (got > 0 && n < cap);
    s->n = n;
    s->fs = info->rate_hz;
    dop_reader_close(r);
    double t = now_s() - t0;
    char *sidecar = dop_sidecar_path_for(path);
    s->acq = dop_acquisition_defaults();
    dop_acquisition side;
    if (sidecar && dop_sidecar_read(sidecar, &side, &err) == DOP_OK) dop_acquisition_overlay(&s->acq, &side);
    free(sidecar);
    s->acq.channels = DOP_CHANNELS_IQ;
    return t;
}

/* ------------------------------------------------------------------ */
/* stage timings (in this process)                                      */
/* ------------------------------------------------------------------ */

enum { ST_READ, ST_WALL, ST_STFT, ST_NOISE, ST_ENVELOPE, ST_BEATS, ST_OUTPUT, ST_CHAINED, ST_COUNT };
static const char *const stage_names[ST_COUNT] = {
    "read + decode (libsndfile)", "wall filter", "STFT (window, FFTW, PSD)", "noise floor",
    "envelopes (MGM, mean)", "beats", "output (CSV rows, summary)", "all stages chained (dop_analysis, in memory)"};

/* The stages run one block of BENCH_BLOCK samples at a time, as the
 * pipeline runs them (so that each block's data is in cache, as it is in
 * dop_analysis), with a clock read at every stage boundary of every block.
 * The frames of a block are kept in small buffers between stages. */
#define BENCH_BLOCK 4096
#define MAX_BLOCK_FRAMES 512

typedef struct stage_ctx {
    float *psd;             /* this block's frames x bins */
    size_t bins, frames;
    double time_s[MAX_BLOCK_FRAMES];
    dop_frame out[MAX_BLOCK_FRAMES * 2]; /* annotated frames released by the beats stage */
    size_t n_out;
    dop_beat beats[64];
    size_t n_beats;
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
    if (c->n_beats < sizeof c->beats / sizeof c->beats[0]) c->beats[c->n_beats++] = *b;
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

static void write_released(stage_ctx *c)
{
    for (size_t m = 0; m < c->n_out; m++) csv_frame(&c->out[m], c);
    for (size_t b = 0; b < c->n_beats; b++) csv_beat(&c->beats[b], c);
    c->n_out = c->n_beats = 0;
}

static void stage_timings(const options *o, const signal_data *s, stat_set st[ST_COUNT], size_t *n_frames,
                          size_t *fft_size)
{
    dop_error err;
    dop_status status;
    dop_analysis_config acfg = dop_analysis_config_default();
    acfg.fs_hz = s->fs;
    acfg.acq = s->acq;
    acfg.wall.fs_hz = s->fs;
    acfg.spectrum.fs_hz = s->fs;

    dop_wall_filter *wall;
    dop_spectrum *spec;
    if ((status = dop_wall_filter_create(&acfg.wall, &wall, &err)) != DOP_OK) die("wall filter", status, &err);
    if ((status = dop_spectrum_create(&acfg.spectrum, &spec, &err)) != DOP_OK) die("spectrum", status, &err);
    stage_ctx *c = calloc(1, sizeof *c);
    if (!c) exit(1);
    c->bins = dop_spectrum_bins(spec);
    const double bin_hz = dop_spectrum_bin_hz(spec), frame_rate = dop_spectrum_frame_rate(spec);
    c->psd = malloc(MAX_BLOCK_FRAMES * c->bins * sizeof *c->psd);
    float complex *filtered = malloc(BENCH_BLOCK * sizeof *filtered);
    double *gain = malloc(c->bins * sizeof *gain);
    uint8_t *mask = malloc(c->bins);
    if (!c->psd || !filtered || !gain || !mask) exit(1);
    for (size_t k = 0; k < c->bins; k++) {
        double f = ((double)k - (double)(c->bins / 2)) * bin_hz;
        gain[k] = dop_wall_filter_power_gain(wall, f);
        mask[k] = gain[k] >= 0.9 && k > 0;
    }
    const double cm_s_per_hz = dop_doppler_cm_s_per_hz(s->acq.f0_hz, s->acq.angle_deg, s->acq.c_m_s);
    char *csv_path = join(o->workdir, "stage-output.csv");
    char *main_wav = join(o->workdir, "main.wav");
    size_t total_frames = 0;

    for (int rep = 0; rep < o->repeats; rep++) {
        /* read + decode: the main file again (page cache warm) */
        signal_data again = *s;
        stat_add(&st[ST_READ], read_all(main_wav, &again));

        dop_noise_floor_config ncfg = acfg.noise;
        ncfg.frame_rate_hz = frame_rate;
        dop_noise_floor *nf;
        if ((status = dop_noise_floor_create(&ncfg, c->bins, mask, &nf, &err)) != DOP_OK) die("noise", status, &err);
        dop_envelope_config ecfg = acfg.envelope;
        ecfg.bins = c->bins;
        ecfg.bin_hz = bin_hz;
        ecfg.gain = gain;
        dop_envelope *env;
        if ((status = dop_envelope_create(&ecfg, &env, &err)) != DOP_OK) die("envelope", status, &err);
        dop_beats_config bcfg = acfg.beats;
        bcfg.frame_rate_hz = frame_rate;
        dop_beats_output bout = {store_frame, store_beat, c};
        dop_beats *beats;
        if ((status = dop_beats_create(&bcfg, &bout, &beats, &err)) != DOP_OK) die("beats", status, &err);
        dop_epoch all = {"all", 0.0, 1e30};
        if ((status = dop_summary_acc_create(&all, 1, 1.0 / frame_rate, &c->acc, &err)) != DOP_OK) die("summary", status, &err);
        c->csv = fopen(csv_path, "w");
        if (!c->csv) die(csv_path, DOP_ERR_IO, NULL);
        setvbuf(c->csv, NULL, _IOFBF, 1 << 18);
        dop_wall_filter_reset(wall);
        dop_spectrum_reset(spec);
        double t[ST_COUNT] = {0};
        total_frames = 0;
        c->n_out = c->n_beats = 0;

        for (size_t i = 0; i < s->n; i += BENCH_BLOCK) {
            size_t take = s->n - i < BENCH_BLOCK ? s->n - i : BENCH_BLOCK;
            double t0 = now_s();
            dop_wall_filter_push(wall, s->x + i, filtered, take);
            double t1 = now_s();
            c->frames = 0;
            dop_spectrum_push(spec, filtered, take, store_psd, c);
            double t2 = now_s();
            double noise[MAX_BLOCK_FRAMES];
            for (size_t m = 0; m < c->frames; m++) {
                double est = dop_noise_floor_frame_estimate(nf, c->psd + m * c->bins);
                noise[m] = dop_noise_floor_feed(nf, est);
            }
            double t3 = now_s();
            dop_frame frames[MAX_BLOCK_FRAMES];
            for (size_t m = 0; m < c->frames; m++) {
                dop_envelope_result r;
                dop_envelope_compute(env, c->psd + m * c->bins, noise[m], &r);
                dop_frame *f = &frames[m];
                memset(f, 0, sizeof *f);
                f->index = (int64_t)(total_frames + m);
                f->time_s = c->time_s[m];
                f->vmax_forward_cm_s = r.fmax_forward_hz * cm_s_per_hz;
                f->vmax_reverse_cm_s = r.fmax_reverse_hz * cm_s_per_hz;
                f->vmax_cm_s = r.power_reverse > r.power_forward ? f->vmax_reverse_cm_s : f->vmax_forward_cm_s;
                f->vmean_cm_s = r.fmean_hz * cm_s_per_hz;
                f->diameter_mm = s->acq.diameter_mm;
                f->flow_ml_min = dop_flow_ml_min(f->vmean_cm_s, f->diameter_mm);
                f->shear_rate_s = dop_shear_rate_s(f->vmean_cm_s, f->diameter_mm);
                f->noise_db = 10.0 * log10(noise[m]);
                f->snr_db = r.snr_db;
                f->flags = r.has_signal ? 0 : DOP_FRAME_NO_SIGNAL;
                f->beat_index = -1;
            }
            double t4 = now_s();
            for (size_t m = 0; m < c->frames; m++) {
                dop_beats_push(beats, &frames[m], NULL);
                if (c->n_out > MAX_BLOCK_FRAMES) break; /* cannot happen: a beat is shorter than the ring */
            }
            double t5 = now_s();
            write_released(c);
            double t6 = now_s();
            t[ST_WALL] += t1 - t0;
            t[ST_STFT] += t2 - t1;
            t[ST_NOISE] += t3 - t2;
            t[ST_ENVELOPE] += t4 - t3;
            t[ST_BEATS] += t5 - t4;
            t[ST_OUTPUT] += t6 - t5;
            total_frames += c->frames;
        }
        double t0 = now_s();
        dop_beats_flush(beats);
        double t1 = now_s();
        write_released(c);
        fflush(c->csv);
        double t2 = now_s();
        t[ST_BEATS] += t1 - t0;
        t[ST_OUTPUT] += t2 - t1;
        for (int k = ST_WALL; k <= ST_OUTPUT; k++) stat_add(&st[k], t[k]);
        fclose(c->csv);
        dop_summary_acc_destroy(c->acc);
        dop_noise_floor_destroy(nf);
        dop_envelope_destroy(env);
        dop_beats_destroy(beats);

        /* Everything chained, as dop_job_run drives it, minus the file read. */
        c->csv = fopen(csv_path, "w");
        if (!c->csv) die(csv_path, DOP_ERR_IO, NULL);
        setvbuf(c->csv, NULL, _IOFBF, 1 << 18);
        if ((status = dop_summary_acc_create(&all, 1, 1.0 / frame_rate, &c->acc, &err)) != DOP_OK) die("summary", status, &err);
        dop_analysis_output aout = {NULL, csv_frame, csv_beat, c};
        dop_analysis *a;
        if ((status = dop_analysis_create(&acfg, &aout, &a, &err)) != DOP_OK) die("analysis", status, &err);
        t0 = now_s();
        for (size_t i = 0; i < s->n; i += 32768)
            dop_analysis_push(a, s->x + i, s->n - i < 32768 ? s->n - i : 32768, &err);
        dop_analysis_flush(a, &err);
        fflush(c->csv);
        stat_add(&st[ST_CHAINED], now_s() - t0);
        dop_analysis_destroy(a);
        fclose(c->csv);
        dop_summary_acc_destroy(c->acc);
    }
    *n_frames = total_frames;
    *fft_size = c->bins;
    remove(csv_path);
    free(csv_path);
    free(main_wav);
    dop_wall_filter_destroy(wall);
    dop_spectrum_destroy(spec);
    free(filtered);
    free(c->psd);
    free(c);
    free(gain);
    free(mask);
}

/* FFTW alone: n_frames transforms of size n, out of place, plan flags as
 * given. The input is one Hann-windowed frame of the signal. */
static double fft_limit(const signal_data *s, size_t n, size_t n_frames, unsigned flags)
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

/* ------------------------------------------------------------------ */
/* streaming input through a pipe                                       */
/* ------------------------------------------------------------------ */

typedef struct feed_state {
    const int16_t *pcm;   /* interleaved I, Q */
    size_t frames;        /* complex samples in pcm */
    uint64_t total;       /* complex samples to send */
} feed_state;

static int feed_pcm(int fd, void *user)
{
    feed_state *f = user;
    uint64_t sent = 0;
    while (sent < f->total) {
        size_t at = (size_t)(sent % f->frames);
        size_t chunk = f->frames - at;
        if (chunk > 65536) chunk = 65536;
        if (chunk > f->total - sent) chunk = (size_t)(f->total - sent);
        const char *p = (const char *)(f->pcm + 2 * at);
        size_t left = chunk * 4;
        while (left) {
            ssize_t w = write(fd, p, left);
            if (w < 0 && errno == EINTR) continue;
            if (w <= 0) return -1;
            p += w;
            left -= (size_t)w;
        }
        sent += chunk;
    }
    return 0;
}

/* ------------------------------------------------------------------ */

static void machine_info(void)
{
    char model[256] = "unknown";
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (f) {
        char line[512];
        while (fgets(line, sizeof line, f))
            if (strncmp(line, "model name", 10) == 0) {
                char *colon = strchr(line, ':');
                if (colon) {
                    snprintf(model, sizeof model, "%s", colon + 2);
                    model[strcspn(model, "\n")] = '\0';
                }
                break;
            }
        fclose(f);
    }
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGE_SIZE);
    printf("Machine: %ld cores (nproc), %s, %.1f GiB memory; FFTW %s\n\n", sysconf(_SC_NPROCESSORS_ONLN), model,
           (double)pages * (double)page / (1024.0 * 1024.0 * 1024.0), fftwf_version);
}

static void usage(FILE *out)
{
    fputs("Usage: dopflow_bench [OPTIONS]\n"
          "Measure dopflow's speed per stage and whole process, against FFTW alone and the\n"
          "NumPy/SciPy reference; peak memory of the streaming path; study -j 1 vs -j 2.\n\n"
          "  --workdir DIR       inputs and outputs (default /tmp/dopflow-bench; removed at the end\n"
          "                      unless --keep)\n"
          "  --keep              keep the work folder\n"
          "  --minutes M         main recording, minutes (default 10, at most 60)\n"
          "  --repeats N         repetitions of each timing (default 7)\n"
          "  --hours H           streaming memory run through a pipe, hours (default 10; 0 = skip)\n"
          "  --study N           recordings in the study batch (default 40; 0 = skip)\n"
          "  --study-seconds S   length of each (default 60)\n"
          "  --python PATH       Python with numpy and scipy (default /usr/bin/python3)\n"
          "  --no-python         skip the NumPy/SciPy reference\n"
          "  --dopflow PATH      the dopflow command to measure (default: the one built beside)\n",
          out);
}

int main(int argc, char **argv)
{
    options o = {
        .workdir = "/tmp/dopflow-bench",
        .dopflow = DOPFLOW_BENCH_CLI,
        .python = "/usr/bin/python3",
        .reference = DOPFLOW_SOURCE_DIR "/tools/bench/reference.py",
        .spec = DOPFLOW_SOURCE_DIR "/datasets/examples/brachial_rest.json",
        .minutes = 10.0,
        .hours = 10.0,
        .repeats = 7,
        .python_repeats = 3,
        .study_n = 40,
        .study_seconds = 60.0,
    };
    if (argc >= 4 && strcmp(argv[1], "--measure-child") == 0) return measure_child_main(atoi(argv[2]), argv + 3);
    int keep = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--workdir") && v) o.workdir = argv[++i];
        else if (!strcmp(a, "--keep")) keep = 1;
        else if (!strcmp(a, "--minutes") && v) o.minutes = atof(argv[++i]);
        else if (!strcmp(a, "--repeats") && v) o.repeats = atoi(argv[++i]);
        else if (!strcmp(a, "--hours") && v) o.hours = atof(argv[++i]);
        else if (!strcmp(a, "--study") && v) o.study_n = atoi(argv[++i]);
        else if (!strcmp(a, "--study-seconds") && v) o.study_seconds = atof(argv[++i]);
        else if (!strcmp(a, "--python") && v) o.python = argv[++i];
        else if (!strcmp(a, "--no-python")) o.python = NULL;
        else if (!strcmp(a, "--dopflow") && v) o.dopflow = argv[++i];
        else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "dopflow_bench: unknown option '%s' (see --help)\n", a);
            return 2;
        }
    }
    if (!(o.minutes > 0.0 && o.minutes <= 60.0) || o.repeats < 1 || o.repeats > MAX_REPEATS || o.hours < 0.0 ||
        o.study_n < 0 || !(o.study_seconds > 0.0)) {
        fprintf(stderr, "dopflow_bench: option out of range (see --help)\n");
        return 2;
    }
    if (o.repeats < o.python_repeats) o.python_repeats = o.repeats;
    signal(SIGPIPE, SIG_IGN);
    mkdir(o.workdir, 0755);
    setvbuf(stdout, NULL, _IOLBF, 0);

    machine_info();
    fprintf(stderr, "dopflow_bench: generating inputs in %s ...\n", o.workdir);
    char *main_wav = join(o.workdir, "main.wav");
    char *minute_wav = join(o.workdir, "minute.wav");
    simulate(&o, o.minutes * 60.0, 101, main_wav);
    simulate(&o, 60.0, 101, minute_wav);

    signal_data sig;
    memset(&sig, 0, sizeof sig);
    read_all(main_wav, &sig);
    const double duration_s = (double)sig.n / sig.fs;

    /* 1. stages */
    fprintf(stderr, "dopflow_bench: stage timings (%d repeats) ...\n", o.repeats);
    stat_set stages[ST_COUNT];
    memset(stages, 0, sizeof stages);
    size_t n_frames = 0, fft_n = 0;
    stage_timings(&o, &sig, stages, &n_frames, &fft_n);

    /* 2. FFT limit */
    stat_set fft_est = {0}, fft_meas = {0};
    for (int rep = 0; rep < o.repeats; rep++) stat_add(&fft_est, fft_limit(&sig, fft_n, n_frames, FFTW_ESTIMATE));
    for (int rep = 0; rep < o.repeats; rep++) stat_add(&fft_meas, fft_limit(&sig, fft_n, n_frames, FFTW_MEASURE));

    /* 3. whole process */
    fprintf(stderr, "dopflow_bench: whole process ...\n");
    char *out_s = join(o.workdir, "summary.csv"), *out_f = join(o.workdir, "frames.csv"),
         *out_b = join(o.workdir, "beats.csv");
    char *analyze_main[] = {(char *)o.dopflow, "analyze", main_wav, "--summary", out_s, "--frames", out_f,
                            "--beats", out_b, NULL};
    stat_set whole = {0}, whole_cpu = {0};
    long rss_main = 0;
    for (int rep = 0; rep < o.repeats; rep++) {
        child_result r = run_child(analyze_main, NULL, NULL, NULL);
        if (r.status != 0) {
            fprintf(stderr, "dopflow_bench: %s analyze failed (exit %d)\n", o.dopflow, r.status);
            return 1;
        }
        stat_add(&whole, r.wall_s);
        stat_add(&whole_cpu, r.cpu_s);
        if (r.maxrss_kb > rss_main) rss_main = r.maxrss_kb;
    }
    char *analyze_minute[] = {(char *)o.dopflow, "analyze", minute_wav, "--summary", out_s, "--frames", out_f,
                              "--beats", out_b, NULL};
    child_result minute_file = run_child(analyze_minute, NULL, NULL, NULL);

    /* 4. streaming memory: 1 minute and H hours through a pipe */
    fprintf(stderr, "dopflow_bench: streaming runs (1 min, %g h) ...\n", o.hours);
    int16_t *pcm = malloc(sig.n * 2 * sizeof *pcm);
    if (!pcm) return 1;
    for (size_t i = 0; i < sig.n; i++) {
        pcm[2 * i] = (int16_t)lrintf(crealf(sig.x[i]) * 32768.0f);
        pcm[2 * i + 1] = (int16_t)lrintf(cimagf(sig.x[i]) * 32768.0f);
    }
    char rate[32], diam[32], f0[32], angle[32];
    snprintf(rate, sizeof rate, "%g", sig.fs);
    snprintf(diam, sizeof diam, "%g", sig.acq.diameter_mm);
    snprintf(f0, sizeof f0, "%g", sig.acq.f0_hz);
    snprintf(angle, sizeof angle, "%g", sig.acq.angle_deg);
    char *analyze_pipe[] = {(char *)o.dopflow, "analyze", "-", "--raw-format", "s16", "--rate", rate, "--f0", f0,
                            "--angle", angle, "--diameter", diam, "--summary", out_s, "--frames", out_f,
                            "--beats", out_b, NULL};
    feed_state feed = {pcm, sig.n, (uint64_t)(60.0 * sig.fs)};
    child_result pipe_minute = run_child(analyze_pipe, NULL, feed_pcm, &feed);
    child_result pipe_hours = {0};
    if (o.hours > 0.0) {
        feed.total = (uint64_t)(o.hours * 3600.0 * sig.fs);
        pipe_hours = run_child(analyze_pipe, NULL, feed_pcm, &feed);
    }
    free(pcm);

    /* 5. NumPy / SciPy reference */
    stat_set py = {0};
    long rss_py = 0;
    char *py_out = join(o.workdir, "reference.txt");
    int python_ok = 0;
    if (o.python) {
        fprintf(stderr, "dopflow_bench: NumPy/SciPy reference (%d repeats) ...\n", o.python_repeats);
        char *py_argv[] = {(char *)o.python, (char *)o.reference, main_wav, NULL};
        for (int rep = 0; rep < o.python_repeats; rep++) {
            child_result r = run_child(py_argv, py_out, NULL, NULL);
            if (r.status != 0) {
                fprintf(stderr, "dopflow_bench: %s %s failed (exit %d): reference skipped\n", o.python, o.reference,
                        r.status);
                break;
            }
            python_ok = 1;
            stat_add(&py, r.wall_s);
            if (r.maxrss_kb > rss_py) rss_py = r.maxrss_kb;
        }
    }

    /* 6. study -j 1 vs -j 2 */
    stat_set study1 = {0}, study2 = {0};
    if (o.study_n > 0) {
        fprintf(stderr, "dopflow_bench: study batch of %d x %g s ...\n", o.study_n, o.study_seconds);
        char *sdir = join(o.workdir, "study");
        mkdir(sdir, 0755);
        char *manifest = join(sdir, "manifest.csv");
        FILE *m = fopen(manifest, "w");
        if (!m) die(manifest, DOP_ERR_IO, NULL);
        fprintf(m, "subject,condition,file\n");
        for (int i = 0; i < o.study_n; i++) {
            char name[64];
            snprintf(name, sizeof name, "rec%02d.wav", i);
            char *wav = join(sdir, name);
            simulate(&o, o.study_seconds, 1000 + (uint64_t)i, wav);
            free(wav);
            fprintf(m, "s%02d,%s,%s\n", i / 2, i % 2 ? "b" : "a", name);
        }
        fclose(m);
        char *outdir = join(sdir, "out");
        for (int rep = 0; rep < o.repeats; rep++) {
            for (int j = 1; j <= 2; j++) {
                rm_rf(outdir);
                char *argv_s[] = {(char *)o.dopflow, "study", manifest, "-o", outdir, "-j", j == 1 ? "1" : "2", NULL};
                child_result r = run_child(argv_s, NULL, NULL, NULL);
                if (r.status != 0) fprintf(stderr, "dopflow_bench: study -j %d exit %d\n", j, r.status);
                stat_add(j == 1 ? &study1 : &study2, r.wall_s);
            }
        }
        rm_rf(outdir);
        free(outdir);
        free(manifest);
        free(sdir);
    }

    /* ---- report ---- */
    const double whole_med = stat_median(&whole), fft_med = stat_median(&fft_est);
    printf("Main recording: %.0f s of 12.5 kHz 16-bit stereo I/Q (%.1f MB WAV), %zu frames, FFT size %zu; "
           "%d repeats, default analysis settings.\n\n",
           duration_s, (double)sig.n * 4.0 / 1e6, n_frames, fft_n, o.repeats);
    printf("### Stages (in one process, input in memory)\n\n");
    printf("| stage | median ms | min - max ms | x real time | share of chained |\n|---|---:|---:|---:|---:|\n");
    double chained = stat_median(&stages[ST_CHAINED]);
    for (int i = 0; i < ST_COUNT; i++) {
        double med = stat_median(&stages[i]);
        char share[32];
        if (i == ST_READ) snprintf(share, sizeof share, "(outside)");
        else snprintf(share, sizeof share, "%.0f %%", 100.0 * med / chained);
        printf("| %s | %.1f | %.1f - %.1f | %.0f | %s |\n", stage_names[i], 1e3 * med, 1e3 * stat_min(&stages[i]),
               1e3 * stat_max(&stages[i]), duration_s / med, share);
    }
    printf("| FFTW alone, %zu transforms of %zu (FFTW_ESTIMATE, as dopflow plans) | %.1f | %.1f - %.1f | %.0f | %.0f %% |\n",
           n_frames, fft_n, 1e3 * fft_med, 1e3 * stat_min(&fft_est), 1e3 * stat_max(&fft_est), duration_s / fft_med,
           100.0 * fft_med / chained);
    printf("| FFTW alone, same, FFTW_MEASURE plan | %.1f | %.1f - %.1f | %.0f | %.0f %% |\n\n",
           1e3 * stat_median(&fft_meas), 1e3 * stat_min(&fft_meas), 1e3 * stat_max(&fft_meas),
           duration_s / stat_median(&fft_meas), 100.0 * stat_median(&fft_meas) / chained);
    printf("Each stage is timed block by block (%d samples, data in cache, as the pipeline runs it); the read row "
           "is outside the chained row, which starts from samples in memory.\n\n", BENCH_BLOCK);

    printf("### Whole process\n\n");
    printf("| run | median s | min - max s | x real time | peak RSS MB |\n|---|---:|---:|---:|---:|\n");
    printf("| `dopflow analyze` %.0f min WAV, --summary --frames --beats | %.3f | %.3f - %.3f | %.0f | %.1f |\n",
           duration_s / 60.0, whole_med, stat_min(&whole), stat_max(&whole), duration_s / whole_med,
           (double)rss_main / 1024.0);
    printf("| `dopflow analyze` 1 min WAV, same outputs | %.3f | | %.0f | %.1f |\n", minute_file.wall_s,
           60.0 / minute_file.wall_s, (double)minute_file.maxrss_kb / 1024.0);
    printf("| `dopflow analyze -` 1 min s16 through a pipe | %.3f | | %.0f | %.1f |\n", pipe_minute.wall_s,
           60.0 / pipe_minute.wall_s, (double)pipe_minute.maxrss_kb / 1024.0);
    if (o.hours > 0.0)
        printf("| `dopflow analyze -` %g h s16 through a pipe (exit %d) | %.2f | | %.0f | %.1f |\n", o.hours,
               pipe_hours.status, pipe_hours.wall_s, o.hours * 3600.0 / pipe_hours.wall_s,
               (double)pipe_hours.maxrss_kb / 1024.0);
    if (python_ok)
        printf("| NumPy/SciPy reference (`reference.py`) on the %.0f min WAV | %.3f | %.3f - %.3f | %.0f | %.1f |\n",
               duration_s / 60.0, stat_median(&py), stat_min(&py), stat_max(&py), duration_s / stat_median(&py),
               (double)rss_py / 1024.0);
    printf("\n");

    printf("### Against the targets\n\n| target | measured | met |\n|---|---|---|\n");
    double speed = duration_s / whole_med;
    printf("| whole process >= 3000x real time | %.0fx (1 h in %.2f s) | %s |\n", speed, 3600.0 / speed,
           speed >= 3000.0 ? "yes" : "no");
    printf("| whole process within 2.5x of FFTW alone | %.2fx (%.1f ms vs %.1f ms) | %s |\n", whole_med / fft_med,
           1e3 * whole_med, 1e3 * fft_med, whole_med / fft_med <= 2.5 ? "yes" : "no");
    if (o.hours > 0.0) {
        double h = (double)pipe_hours.maxrss_kb / 1024.0, m1 = (double)pipe_minute.maxrss_kb / 1024.0;
        printf("| peak RSS %g h < 32 MB, within a few MB of 1 min | %.1f MB vs %.1f MB | %s |\n", o.hours, h, m1,
               h < 32.0 && h - m1 < 4.0 ? "yes" : "no");
    }
    if (python_ok) {
        double ratio = stat_median(&py) / whole_med;
        printf("| >= 10x faster than NumPy/SciPy | %.1fx | %s |\n", ratio, ratio >= 10.0 ? "yes" : "no");
    }
    if (o.study_n > 0) {
        double ratio = stat_median(&study1) / stat_median(&study2);
        printf("| study -j 2 >= 1.8x faster than -j 1 (%d x %g s) | %.2fx (%.2f s vs %.2f s; ranges %.2f-%.2f, "
               "%.2f-%.2f) | %s |\n",
               o.study_n, o.study_seconds, ratio, stat_median(&study1), stat_median(&study2), stat_min(&study1),
               stat_max(&study1), stat_min(&study2), stat_max(&study2), ratio >= 1.8 ? "yes" : "no");
    }
    if (python_ok) {
        FILE *f = fopen(py_out, "r");
        char line[512];
        if (f && fgets(line, sizeof line, f)) printf("\nReference output: %s", line);
        if (f) fclose(f);
    }
    if (!keep) rm_rf(o.workdir);
    free(sig.x);
    return 0;
}

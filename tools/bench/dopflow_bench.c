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
 * Nothing here is a test: ctest never runs it.
 *
 * This file: options, the machine and the report; the measurements are in
 * bench_stages.c (1, 2) and bench_process.c (3-6), see bench.h. */
#include "bench.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fftw3.h>

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

/* Options into o; returns -1 to go on, else the exit code (--help: 0, a bad option: 2). */
static int parse_options(int argc, char **argv, options *o, int *keep)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--workdir") && v) o->workdir = argv[++i];
        else if (!strcmp(a, "--keep")) *keep = 1;
        else if (!strcmp(a, "--minutes") && v) o->minutes = atof(argv[++i]);
        else if (!strcmp(a, "--repeats") && v) o->repeats = atoi(argv[++i]);
        else if (!strcmp(a, "--hours") && v) o->hours = atof(argv[++i]);
        else if (!strcmp(a, "--study") && v) o->study_n = atoi(argv[++i]);
        else if (!strcmp(a, "--study-seconds") && v) o->study_seconds = atof(argv[++i]);
        else if (!strcmp(a, "--python") && v) o->python = argv[++i];
        else if (!strcmp(a, "--no-python")) o->python = NULL;
        else if (!strcmp(a, "--dopflow") && v) o->dopflow = argv[++i];
        else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "dopflow_bench: unknown option '%s' (see --help)\n", a);
            return 2;
        }
    }
    if (!(o->minutes > 0.0 && o->minutes <= 60.0) || o->repeats < 1 || o->repeats > MAX_REPEATS || o->hours < 0.0 ||
        o->study_n < 0 || !(o->study_seconds > 0.0)) {
        fprintf(stderr, "dopflow_bench: option out of range (see --help)\n");
        return 2;
    }
    if (o->repeats < o->python_repeats) o->python_repeats = o->repeats;
    return -1;
}

/* What every table needs to know about the run. */
typedef struct bench_run {
    double duration_s;            /* of the main recording */
    size_t n_frames, fft_n;
    stat_set stages[ST_COUNT];
    stat_set fft_est, fft_meas;   /* FFTW alone: FFTW_ESTIMATE, FFTW_MEASURE plans */
    process_results proc;
} bench_run;

static void report_stages(const options *o, const signal_data *sig, const bench_run *b)
{
    const double duration_s = b->duration_s, fft_med = stat_median(&b->fft_est);
    printf("Main recording: %.0f s of 12.5 kHz 16-bit stereo I/Q (%.1f MB WAV), %zu frames, FFT size %zu; "
           "%d repeats, default analysis settings.\n\n",
           duration_s, (double)sig->n * 4.0 / 1e6, b->n_frames, b->fft_n, o->repeats);
    printf("### Stages (in one process, input in memory)\n\n");
    printf("| stage | median ms | min - max ms | x real time | share of chained |\n|---|---:|---:|---:|---:|\n");
    double chained = stat_median(&b->stages[ST_CHAINED]);
    for (int i = 0; i < ST_COUNT; i++) {
        double med = stat_median(&b->stages[i]);
        char share[32];
        if (i == ST_READ) snprintf(share, sizeof share, "(outside)");
        else snprintf(share, sizeof share, "%.0f %%", 100.0 * med / chained);
        printf("| %s | %.1f | %.1f - %.1f | %.0f | %s |\n", stage_names[i], 1e3 * med, 1e3 * stat_min(&b->stages[i]),
               1e3 * stat_max(&b->stages[i]), duration_s / med, share);
    }
    printf("| FFTW alone, %zu transforms of %zu (FFTW_ESTIMATE, as dopflow plans) | %.1f | %.1f - %.1f | %.0f | %.0f %% |\n",
           b->n_frames, b->fft_n, 1e3 * fft_med, 1e3 * stat_min(&b->fft_est), 1e3 * stat_max(&b->fft_est),
           duration_s / fft_med, 100.0 * fft_med / chained);
    printf("| FFTW alone, same, FFTW_MEASURE plan | %.1f | %.1f - %.1f | %.0f | %.0f %% |\n\n",
           1e3 * stat_median(&b->fft_meas), 1e3 * stat_min(&b->fft_meas), 1e3 * stat_max(&b->fft_meas),
           duration_s / stat_median(&b->fft_meas), 100.0 * stat_median(&b->fft_meas) / chained);
    printf("Each stage is timed block by block (%d samples, data in cache, as the pipeline runs it); the read row "
           "is outside the chained row, which starts from samples in memory.\n\n", BENCH_BLOCK);
}

static void report_processes(const options *o, const bench_run *b)
{
    const process_results *p = &b->proc;
    const double duration_s = b->duration_s, whole_med = stat_median(&p->whole);
    printf("### Whole process\n\n");
    printf("| run | median s | min - max s | x real time | peak RSS MB |\n|---|---:|---:|---:|---:|\n");
    printf("| `dopflow analyze` %.0f min WAV, --summary --frames --beats | %.3f | %.3f - %.3f | %.0f | %.1f |\n",
           duration_s / 60.0, whole_med, stat_min(&p->whole), stat_max(&p->whole), duration_s / whole_med,
           (double)p->rss_main_kb / 1024.0);
    printf("| `dopflow analyze` 1 min WAV, same outputs | %.3f | | %.0f | %.1f |\n", p->minute_file.wall_s,
           60.0 / p->minute_file.wall_s, (double)p->minute_file.maxrss_kb / 1024.0);
    printf("| `dopflow analyze -` 1 min s16 through a pipe | %.3f | | %.0f | %.1f |\n", p->pipe_minute.wall_s,
           60.0 / p->pipe_minute.wall_s, (double)p->pipe_minute.maxrss_kb / 1024.0);
    if (o->hours > 0.0)
        printf("| `dopflow analyze -` %g h s16 through a pipe (exit %d) | %.2f | | %.0f | %.1f |\n", o->hours,
               p->pipe_hours.status, p->pipe_hours.wall_s, o->hours * 3600.0 / p->pipe_hours.wall_s,
               (double)p->pipe_hours.maxrss_kb / 1024.0);
    if (p->python_ok)
        printf("| NumPy/SciPy reference (`reference.py`) on the %.0f min WAV | %.3f | %.3f - %.3f | %.0f | %.1f |\n",
               duration_s / 60.0, stat_median(&p->python), stat_min(&p->python), stat_max(&p->python),
               duration_s / stat_median(&p->python), (double)p->rss_python_kb / 1024.0);
    printf("\n");
}

static void report_targets(const options *o, const bench_run *b)
{
    const process_results *p = &b->proc;
    const double whole_med = stat_median(&p->whole), fft_med = stat_median(&b->fft_est);
    printf("### Against the targets\n\n| target | measured | met |\n|---|---|---|\n");
    double speed = b->duration_s / whole_med;
    printf("| whole process >= 3000x real time | %.0fx (1 h in %.2f s) | %s |\n", speed, 3600.0 / speed,
           speed >= 3000.0 ? "yes" : "no");
    printf("| whole process within 2.5x of FFTW alone | %.2fx (%.1f ms vs %.1f ms) | %s |\n", whole_med / fft_med,
           1e3 * whole_med, 1e3 * fft_med, whole_med / fft_med <= 2.5 ? "yes" : "no");
    if (o->hours > 0.0) {
        double h = (double)p->pipe_hours.maxrss_kb / 1024.0, m1 = (double)p->pipe_minute.maxrss_kb / 1024.0;
        printf("| peak RSS %g h < 32 MB, within a few MB of 1 min | %.1f MB vs %.1f MB | %s |\n", o->hours, h, m1,
               h < 32.0 && h - m1 < 4.0 ? "yes" : "no");
    }
    if (p->python_ok) {
        double ratio = stat_median(&p->python) / whole_med;
        printf("| >= 10x faster than NumPy/SciPy | %.1fx | %s |\n", ratio, ratio >= 10.0 ? "yes" : "no");
    }
    if (o->study_n > 0) {
        double ratio = stat_median(&p->study1) / stat_median(&p->study2);
        printf("| study -j 2 >= 1.8x faster than -j 1 (%d x %g s) | %.2fx (%.2f s vs %.2f s; ranges %.2f-%.2f, "
               "%.2f-%.2f) | %s |\n",
               o->study_n, o->study_seconds, ratio, stat_median(&p->study1), stat_median(&p->study2),
               stat_min(&p->study1), stat_max(&p->study1), stat_min(&p->study2), stat_max(&p->study2),
               ratio >= 1.8 ? "yes" : "no");
    }
}

/* The first line of the reference's output, under the tables. */
static void report_reference_output(const char *py_out)
{
    FILE *f = fopen(py_out, "r");
    char line[512];
    if (f && fgets(line, sizeof line, f)) printf("\nReference output: %s", line);
    if (f) fclose(f);
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
    int code = parse_options(argc, argv, &o, &keep);
    if (code >= 0) return code;
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

    bench_run *b = calloc(1, sizeof *b);
    if (!b) return 1;
    b->duration_s = (double)sig.n / sig.fs;
    fprintf(stderr, "dopflow_bench: stage timings (%d repeats) ...\n", o.repeats);
    stage_timings(&o, &sig, b->stages, &b->n_frames, &b->fft_n);
    for (int rep = 0; rep < o.repeats; rep++) stat_add(&b->fft_est, fft_limit(&sig, b->fft_n, b->n_frames, FFTW_ESTIMATE));
    for (int rep = 0; rep < o.repeats; rep++) stat_add(&b->fft_meas, fft_limit(&sig, b->fft_n, b->n_frames, FFTW_MEASURE));
    char *py_out = join(o.workdir, "reference.txt");
    if (process_runs(&o, &sig, main_wav, minute_wav, py_out, &b->proc) != 0) return 1;

    report_stages(&o, &sig, b);
    report_processes(&o, b);
    report_targets(&o, b);
    if (b->proc.python_ok) report_reference_output(py_out);
    if (!keep) rm_rf(o.workdir);
    free(sig.x);
    free(b);
    free(py_out);
    free(main_wav);
    free(minute_wav);
    return 0;
}

/* Private pieces of dopflow_bench (tools/bench/):
 *   bench_common.c   clock, statistics of repeats, files, the simulated inputs;
 *   bench_child.c    child processes measured from a small process (wall, CPU, peak RSS);
 *   bench_stages.c   one timing function per pipeline stage, in this process, and FFTW alone;
 *   bench_process.c  whole-process runs: `dopflow analyze`, the pipe, NumPy/SciPy, study -j;
 *   dopflow_bench.c  options, machine and the Markdown report. */
#ifndef DOPFLOW_BENCH_H
#define DOPFLOW_BENCH_H

#include <complex.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "dopflow/dopflow.h"

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

/* ---- bench_common.c ---- */

/* CLOCK_MONOTONIC, s. */
double now_s(void);

/* Repeated timings (s) of one quantity. */
typedef struct stat_set {
    double v[MAX_REPEATS];
    int n;
} stat_set;

void stat_add(stat_set *s, double x);
double stat_median(const stat_set *s); /* NAN when empty */
double stat_min(const stat_set *s);
double stat_max(const stat_set *s);

/* Prints "dopflow_bench: WHAT: message" and exits 1. */
void die(const char *what, dop_status st, const dop_error *err);
/* "a/b", newly allocated (exits when out of memory). */
char *join(const char *a, const char *b);
void rm_rf(const char *path);

/* The spec o->spec stretched to duration_s, with this seed, written to wav. */
void simulate(const options *o, double duration_s, uint64_t seed, const char *wav);

/* A recording held in memory. */
typedef struct signal_data {
    float complex *x;
    size_t n;
    double fs;
    dop_acquisition acq;
} signal_data;

/* Reads path into s (s->x allocated on the first call); returns the time
 * the read and decode took, s. */
double read_all(const char *path, signal_data *s);

/* ---- bench_child.c ---- */

typedef struct child_result {
    double wall_s;
    double cpu_s;
    long maxrss_kb;
    int status;           /* exit code, or 128 + signal */
} child_result;

/* Writes the child's standard input (may be NULL in run_child). */
typedef int (*feed_fn)(int fd, void *user);

/* `dopflow_bench --measure-child FD ARGV`: runs ARGV and writes its
 * measurements to FD. */
int measure_child_main(int fd, char **argv);
/* Run argv with stdout to /dev/null (or `out_path`), stderr to /dev/null. */
child_result run_child(char *const argv[], const char *out_path, feed_fn feed, void *user);

/* Interleaved s16 I/Q, repeated until `total` complex samples are sent. */
typedef struct feed_state {
    const int16_t *pcm;   /* interleaved I, Q */
    size_t frames;        /* complex samples in pcm */
    uint64_t total;       /* complex samples to send */
} feed_state;

int feed_pcm(int fd, void *user);

/* ---- bench_stages.c ---- */

enum { ST_READ, ST_WALL, ST_STFT, ST_NOISE, ST_ENVELOPE, ST_BEATS, ST_OUTPUT, ST_CHAINED, ST_COUNT };
extern const char *const stage_names[ST_COUNT];

/* The stages run one block of BENCH_BLOCK samples at a time, as the
 * pipeline runs them. */
#define BENCH_BLOCK 4096

/* o->repeats timings of every stage into st; the frames of one run and the
 * FFT size. */
void stage_timings(const options *o, const signal_data *s, stat_set st[ST_COUNT], size_t *n_frames,
                   size_t *fft_size);
/* FFTW alone: n_frames transforms of size n with these plan flags, s. */
double fft_limit(const signal_data *s, size_t n, size_t n_frames, unsigned flags);

/* ---- bench_process.c ---- */

typedef struct process_results {
    stat_set whole, whole_cpu;     /* `dopflow analyze` on the main file */
    long rss_main_kb;
    child_result minute_file;      /* the 1 min file */
    child_result pipe_minute;      /* 1 min of s16 through a pipe */
    child_result pipe_hours;       /* o->hours of s16 through a pipe */
    stat_set python;               /* reference.py on the main file */
    long rss_python_kb;
    int python_ok;
    stat_set study1, study2;       /* study -j 1 and -j 2 */
} process_results;

/* Every whole-process run; returns 0, or 1 when `dopflow analyze` failed.
 * py_out receives the reference's output. */
int process_runs(const options *o, const signal_data *sig, const char *main_wav, const char *minute_wav,
                 const char *py_out, process_results *r);

#endif

/* dopflow_bench, parts 3 to 6: whole processes, each measured from a small
 * process (bench_child.c):
 *  3. `dopflow analyze` (summary, frames and beats CSV), file read included,
 *     repeated: median, min, max, peak RSS; and once on the 1 min file;
 *  4. memory of the streaming path: 1 minute and H hours of s16 samples fed
 *     through a pipe to `dopflow analyze -` (the H hours repeat the main
 *     file's samples: no 10-hour file is written to disk);
 *  5. the NumPy/SciPy program a lab would write (tools/bench/reference.py);
 *  6. `dopflow study -j 1` against `-j 2` on a batch of recordings. */
#include "bench.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* The three CSV outputs every analyze run writes. */
typedef struct analyze_outputs {
    char *summary, *frames, *beats;
} analyze_outputs;

/* 3. `dopflow analyze` on the main file, o->repeats times, then once on the
 * 1 min file; returns 1 when a run failed. */
static int run_analyze(const options *o, const char *main_wav, const char *minute_wav, const analyze_outputs *out,
                       process_results *r)
{
    char *analyze_main[] = {(char *)o->dopflow, "analyze", (char *)main_wav, "--summary", out->summary, "--frames",
                            out->frames, "--beats", out->beats, NULL};
    for (int rep = 0; rep < o->repeats; rep++) {
        child_result c = run_child(analyze_main, NULL, NULL, NULL);
        if (c.status != 0) {
            fprintf(stderr, "dopflow_bench: %s analyze failed (exit %d)\n", o->dopflow, c.status);
            return 1;
        }
        stat_add(&r->whole, c.wall_s);
        stat_add(&r->whole_cpu, c.cpu_s);
        if (c.maxrss_kb > r->rss_main_kb) r->rss_main_kb = c.maxrss_kb;
    }
    char *analyze_minute[] = {(char *)o->dopflow, "analyze", (char *)minute_wav, "--summary", out->summary,
                              "--frames", out->frames, "--beats", out->beats, NULL};
    r->minute_file = run_child(analyze_minute, NULL, NULL, NULL);
    return 0;
}

/* 4. 1 minute and o->hours of the main file's samples as s16 through a pipe. */
static void run_streaming(const options *o, const signal_data *sig, const analyze_outputs *out, process_results *r)
{
    fprintf(stderr, "dopflow_bench: streaming runs (1 min, %g h) ...\n", o->hours);
    int16_t *pcm = malloc(sig->n * 2 * sizeof *pcm);
    if (!pcm) exit(1);
    for (size_t i = 0; i < sig->n; i++) {
        pcm[2 * i] = (int16_t)lrintf(crealf(sig->x[i]) * 32768.0f);
        pcm[2 * i + 1] = (int16_t)lrintf(cimagf(sig->x[i]) * 32768.0f);
    }
    char rate[32], diam[32], f0[32], angle[32];
    snprintf(rate, sizeof rate, "%g", sig->fs);
    snprintf(diam, sizeof diam, "%g", sig->acq.diameter_mm);
    snprintf(f0, sizeof f0, "%g", sig->acq.f0_hz);
    snprintf(angle, sizeof angle, "%g", sig->acq.angle_deg);
    char *analyze_pipe[] = {(char *)o->dopflow, "analyze", "-", "--raw-format", "s16", "--rate", rate, "--f0", f0,
                            "--angle", angle, "--diameter", diam, "--summary", out->summary, "--frames", out->frames,
                            "--beats", out->beats, NULL};
    feed_state feed = {pcm, sig->n, (uint64_t)(60.0 * sig->fs)};
    r->pipe_minute = run_child(analyze_pipe, NULL, feed_pcm, &feed);
    if (o->hours > 0.0) {
        feed.total = (uint64_t)(o->hours * 3600.0 * sig->fs);
        r->pipe_hours = run_child(analyze_pipe, NULL, feed_pcm, &feed);
    }
    free(pcm);
}

/* 5. The NumPy/SciPy reference on the main file; its output into py_out. */
static void run_python(const options *o, const char *main_wav, const char *py_out, process_results *r)
{
    fprintf(stderr, "dopflow_bench: NumPy/SciPy reference (%d repeats) ...\n", o->python_repeats);
    char *py_argv[] = {(char *)o->python, (char *)o->reference, (char *)main_wav, NULL};
    for (int rep = 0; rep < o->python_repeats; rep++) {
        child_result c = run_child(py_argv, py_out, NULL, NULL);
        if (c.status != 0) {
            fprintf(stderr, "dopflow_bench: %s %s failed (exit %d): reference skipped\n", o->python, o->reference,
                    c.status);
            break;
        }
        r->python_ok = 1;
        stat_add(&r->python, c.wall_s);
        if (c.maxrss_kb > r->rss_python_kb) r->rss_python_kb = c.maxrss_kb;
    }
}

/* The study batch: o->study_n simulated recordings, two conditions per
 * subject, and their manifest.csv (returned). */
static char *make_study_batch(const options *o, const char *sdir)
{
    mkdir(sdir, 0755);
    char *manifest = join(sdir, "manifest.csv");
    FILE *m = fopen(manifest, "w");
    if (!m) die(manifest, DOP_ERR_IO, NULL);
    fprintf(m, "subject,condition,file\n");
    for (int i = 0; i < o->study_n; i++) {
        char name[64];
        snprintf(name, sizeof name, "rec%02d.wav", i);
        char *wav = join(sdir, name);
        simulate(o, o->study_seconds, 1000 + (uint64_t)i, wav);
        free(wav);
        fprintf(m, "s%02d,%s,%s\n", i / 2, i % 2 ? "b" : "a", name);
    }
    fclose(m);
    return manifest;
}

/* 6. `dopflow study -j 1` and `-j 2`, alternating, o->repeats times each. */
static void run_study(const options *o, process_results *r)
{
    fprintf(stderr, "dopflow_bench: study batch of %d x %g s ...\n", o->study_n, o->study_seconds);
    char *sdir = join(o->workdir, "study");
    char *manifest = make_study_batch(o, sdir);
    char *outdir = join(sdir, "out");
    for (int rep = 0; rep < o->repeats; rep++) {
        for (int j = 1; j <= 2; j++) {
            rm_rf(outdir);
            char *argv_s[] = {(char *)o->dopflow, "study", manifest, "-o", outdir, "-j", j == 1 ? "1" : "2", NULL};
            child_result c = run_child(argv_s, NULL, NULL, NULL);
            if (c.status != 0) fprintf(stderr, "dopflow_bench: study -j %d exit %d\n", j, c.status);
            stat_add(j == 1 ? &r->study1 : &r->study2, c.wall_s);
        }
    }
    rm_rf(outdir);
    free(outdir);
    free(manifest);
    free(sdir);
}

int process_runs(const options *o, const signal_data *sig, const char *main_wav, const char *minute_wav,
                 const char *py_out, process_results *r)
{
    memset(r, 0, sizeof *r);
    fprintf(stderr, "dopflow_bench: whole process ...\n");
    analyze_outputs out = {join(o->workdir, "summary.csv"), join(o->workdir, "frames.csv"),
                           join(o->workdir, "beats.csv")};
    int failed = run_analyze(o, main_wav, minute_wav, &out, r);
    if (!failed) run_streaming(o, sig, &out, r);
    if (!failed && o->python) run_python(o, main_wav, py_out, r);
    if (!failed && o->study_n > 0) run_study(o, r);
    free(out.summary);
    free(out.frames);
    free(out.beats);
    return failed;
}

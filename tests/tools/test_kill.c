/* Nothing lost: `dopflow analyze` (every output, raw samples through a pipe)
 * and `dopflow study` killed with SIGKILL at seeded random points leave each
 * output either complete (the previous file, or this run's finished one) or
 * absent, never a prefix; SIGINT/SIGTERM stop `study` cleanly (exit 130) and
 * `--resume` then completes with the same outputs as one uninterrupted run.
 *
 * The rule for temporary files: outputs are written to ".NAME.tmp.XXXXXX"
 * beside NAME and renamed into place when complete. A run that ends normally
 * or with an error removes its temporary files (test_hostile checks that);
 * a run killed with SIGKILL cannot, and its ".NAME.tmp.*" files stay behind.
 * They are never read by dopflow and may be deleted; this test accepts
 * them and nothing else. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli_run.h"
#include "io_util.h"
#include "signal_gen.h"

#define FS 12500.0
#define RAW_SECONDS 30.0
#define N_RECORDINGS 6
#define KILLS 6

static char dir[256];
static char raw_path[512];

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Deterministic pseudo-random numbers (the kill points are seeded). */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static double rng_uniform(void)
{
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (double)(rng_state >> 11) / 9007199254740992.0;
}

static void sleep_s(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
}

/* Start dopflow with argv (NULL-terminated, without the program) in its own
 * process group; stdin from a pipe (*stdin_fd, -1 = /dev/null). */
static pid_t start(char *const *args, int *stdin_fd)
{
    int p[2] = {-1, -1};
    if (stdin_fd) assert_int_equal(pipe(p), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        setpgid(0, 0);
        int null = open("/dev/null", O_RDWR);
        dup2(stdin_fd ? p[0] : null, 0);
        dup2(null, 1);
        dup2(null, 2);
        if (stdin_fd) {
            close(p[0]);
            close(p[1]);
        }
        char *argv[64];
        int n = 0;
        argv[n++] = (char *)DOPFLOW_CLI;
        while (*args && n < 63) argv[n++] = *args++;
        argv[n] = NULL;
        execv(DOPFLOW_CLI, argv);
        _exit(127);
    }
    setpgid(pid, pid);
    if (stdin_fd) {
        close(p[0]);
        *stdin_fd = p[1];
    }
    return pid;
}

static int finish(pid_t pid)
{
    int status;
    while (waitpid(pid, &status, 0) < 0) assert_int_equal(errno, EINTR);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* Kill the whole process group (the command and its workers) and wait. */
static void kill_group(pid_t pid, int sig)
{
    kill(-pid, sig);
    finish(pid);
    /* workers of the group: wait until none is left */
    for (int i = 0; i < 500 && kill(-pid, 0) == 0; i++) sleep_s(0.01);
    assert_int_not_equal(kill(-pid, 0), 0);
}

static char *read_or_null(const char *folder, const char *name)
{
    char path[1024], *text = NULL;
    io_path_join(path, sizeof path, folder, name);
    if (io_file_read(path, &text, NULL) != 0) return NULL;
    return text;
}

/* Every entry of folder is one of names[] (holding expected[i] exactly, or
 * any of its own earlier complete contents when expected is NULL) or a
 * ".NAME.tmp.*" of one of them. */
static void check_folder(const char *folder, const char *const *names, char *const *expected, size_t n,
                         const char *what)
{
    DIR *d = opendir(folder);
    if (!d) return; /* killed before the folder was made */
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        int known = 0;
        for (size_t i = 0; i < n && !known; i++) {
            size_t len = strlen(names[i]);
            if (strcmp(e->d_name, names[i]) == 0) {
                known = 1;
                char *text = read_or_null(folder, names[i]);
                assert_non_null(text);
                if (expected[i] && strcmp(text, expected[i]) != 0)
                    fail_msg("%s: %s is not the complete file (%zu bytes, expected %zu)", what, names[i],
                             strlen(text), strlen(expected[i]));
                free(text);
            } else if (e->d_name[0] == '.' && strncmp(e->d_name + 1, names[i], len) == 0 &&
                       strncmp(e->d_name + 1 + len, ".tmp.", 5) == 0) {
                known = 1; /* a SIGKILLed run's temporary file: allowed */
            }
        }
        if (!known && e->d_name[0] != '.') fail_msg("%s: unexpected file %s", what, e->d_name);
    }
    closedir(d);
}

static int setup(void **state)
{
    (void)state;
    if (io_tmpdir_make(dir, sizeof dir) != 0) return -1;
    /* raw f32 I/Q: pulsatile flow and noise, RAW_SECONDS long */
    size_t n = (size_t)(RAW_SECONDS * FS);
    float complex *x = calloc(n, sizeof *x);
    sg_add_pulsatile(x, n, FS, 2600.0, 300.0, 70.0, 0.1, 1e-3, 48, 1);
    sg_add_noise(x, n, 3e-5, 2);
    io_path_join(raw_path, sizeof raw_path, dir, "flow.f32");
    int rc = io_file_write(raw_path, x, n * sizeof *x); /* float complex = interleaved I, Q (little-endian host) */
    free(x);
    return rc;
}

static int teardown(void **state)
{
    (void)state;
    io_tmpdir_remove(dir);
    return 0;
}

/* Write `bytes` of the raw file into fd (all when bytes >= size). */
static void feed(int fd, size_t bytes)
{
    char *data = NULL;
    size_t len = 0;
    assert_int_equal(io_file_read(raw_path, &data, &len), 0);
    if (bytes > len) bytes = len;
    signal(SIGPIPE, SIG_IGN);
    for (size_t off = 0; off < bytes;) {
        ssize_t w = write(fd, data + off, bytes - off < 65536 ? bytes - off : 65536);
        if (w <= 0) break;
        off += (size_t)w;
    }
    free(data);
}

static void test_analyze_killed(void **state)
{
    (void)state;
    char out[512], s[600], f[600], b[600], h[600];
    io_path_join(out, sizeof out, dir, "analyze");
    mkdir(out, 0755);
    snprintf(s, sizeof s, "%s/s.csv", out);
    snprintf(f, sizeof f, "%s/f.csv", out);
    snprintf(b, sizeof b, "%s/b.csv", out);
    snprintf(h, sizeof h, "%s/r.h5", out);
    char *args[] = {"analyze", "-", "--raw-format", "f32", "--rate", "12500", "--f0", "4e6", "--angle", "60",
                    "--diameter", "4", "--summary", s, "--frames", f, "--beats", b, "--h5", h, NULL};
    static const char *const names[] = {"s.csv", "f.csv", "b.csv", "r.h5"};
    char *reference[4];
    int fd;
    double t0 = now_s();
    pid_t pid = start(args, &fd);
    feed(fd, SIZE_MAX);
    close(fd);
    assert_int_equal(finish(pid), 0);
    double t_ref = now_s() - t0;
    for (int i = 0; i < 3; i++) assert_non_null(reference[i] = read_or_null(out, names[i]));
    reference[3] = NULL; /* r.h5: compared byte for byte below */
    /* h5 holds binary data: compare its bytes, not as a C string */
    char *h5_ref = NULL, *h5 = NULL;
    size_t h5_len = 0, len = 0;
    assert_int_equal(io_file_read(h, &h5_ref, &h5_len), 0);

    size_t total = (size_t)(RAW_SECONDS * FS) * 8;
    for (int k = 0; k < 2 * KILLS; k++) {
        int fresh = k % 3 == 2; /* sometimes no previous result */
        if (fresh)
            for (int i = 0; i < 4; i++) {
                char p[1024];
                io_path_join(p, sizeof p, out, names[i]);
                unlink(p);
            }
        pid = start(args, &fd);
        if (k < KILLS) {
            /* killed while reading: after a seeded amount of input */
            feed(fd, (size_t)(rng_uniform() * (double)total));
            sleep_s(0.01);
            kill_group(pid, SIGKILL);
            close(fd);
        } else {
            /* killed at a seeded moment of the whole run, writing included */
            feed(fd, SIZE_MAX);
            close(fd);
            sleep_s(rng_uniform() * t_ref);
            kill_group(pid, SIGKILL);
        }
        char what[64];
        snprintf(what, sizeof what, "analyze kill %d", k);
        check_folder(out, names, reference, 4, what);
        if (io_file_read(h, &h5, &len) == 0) {
            if (len != h5_len || memcmp(h5, h5_ref, len) != 0) fail_msg("%s: r.h5 is not the complete file", what);
            free(h5);
        }
    }
    /* the next run completes with the same results (provenance in r.h5 aside) */
    pid = start(args, &fd);
    feed(fd, SIZE_MAX);
    close(fd);
    assert_int_equal(finish(pid), 0);
    check_folder(out, names, reference, 4, "analyze after kills");
    assert_int_equal(io_file_read(h, &h5, &len), 0);
    assert_true(len == h5_len && memcmp(h5, h5_ref, len) == 0);
    free(h5);
    for (int i = 0; i < 3; i++) free(reference[i]);
    free(h5_ref);
}

static const char *const study_outputs[] = {"recordings.csv", "conditions.csv", "anova.csv", "report.md",
                                            "failures.csv"};

static void make_study(char *manifest, size_t size)
{
    io_path_join(manifest, size, dir, "manifest.csv");
    FILE *m = fopen(manifest, "w");
    assert_non_null(m);
    fputs("subject,condition,file\n", m);
    for (int i = 0; i < N_RECORDINGS; i++) {
        char name[64], path[600];
        snprintf(name, sizeof name, "rec%d.wav", i);
        io_path_join(path, sizeof path, dir, name);
        assert_true(sg_write_flow_recording(path, 8.0 + i) > 0.0);
        fprintf(m, "S%d,%s,%s\n", i / 2, i % 2 ? "post" : "pre", name);
    }
    fputs("S9,pre,missing.wav\n", m); /* one failure, so failures.csv has a row */
    assert_int_equal(fclose(m), 0);
}

static void test_study_killed(void **state)
{
    (void)state;
    char manifest[512], ref[512];
    make_study(manifest, sizeof manifest);
    io_path_join(ref, sizeof ref, dir, "study-ref");
    char *ref_args[] = {"study", manifest, "-o", ref, "-j", "2", NULL};
    double t0 = now_s();
    assert_int_equal(finish(start(ref_args, NULL)), 1); /* one missing file */
    double t_ref = now_s() - t0;
    char *reference[5];
    for (int i = 0; i < 5; i++) assert_non_null(reference[i] = read_or_null(ref, study_outputs[i]));

    for (int k = 0; k < KILLS; k++) {
        char out[512], name[64];
        snprintf(name, sizeof name, "study-kill%d", k);
        io_path_join(out, sizeof out, dir, name);
        char *args[] = {"study", manifest, "-o", out, "-j", "2", NULL};
        pid_t pid = start(args, NULL);
        sleep_s(rng_uniform() * t_ref);
        kill_group(pid, SIGKILL);
        check_folder(out, study_outputs, reference, 5, name);
        /* --resume completes with exactly the outputs of one whole run */
        char *resume[] = {"study", manifest, "-o", out, "-j", "2", "--resume", NULL};
        assert_int_equal(finish(start(resume, NULL)), 1);
        check_folder(out, study_outputs, reference, 5, name);
        for (int i = 0; i < 5; i++) {
            char *text = read_or_null(out, study_outputs[i]);
            if (!text) fail_msg("%s: %s missing after --resume", name, study_outputs[i]);
            free(text);
        }
    }
    /* SIGINT to the group (Ctrl-C) and SIGTERM to the command (a batch
     * system): a clean stop, then --resume completes */
    for (int k = 0; k < 2; k++) {
        char out[512], name[64];
        snprintf(name, sizeof name, "study-stop%d", k);
        io_path_join(out, sizeof out, dir, name);
        char *args[] = {"study", manifest, "-o", out, "-j", "2", NULL};
        pid_t pid = start(args, NULL);
        /* once OUTDIR exists the stop handlers are in place (a signal during
         * exec and start-up ends the process by the default action, with
         * nothing written) */
        struct stat st;
        for (int i = 0; i < 1000 && stat(out, &st) != 0; i++) sleep_s(0.002);
        sleep_s(0.1 * t_ref);
        if (k == 0) kill(-pid, SIGINT);
        else kill(pid, SIGTERM);
        int rc = finish(pid);
        if (rc != 130 && rc != 1) fail_msg("%s: exit %d after a stop signal (expected 130, or 1 if already done)", name, rc);
        for (int i = 0; i < 500 && kill(-pid, 0) == 0; i++) sleep_s(0.01); /* workers end too */
        assert_int_not_equal(kill(-pid, 0), 0);
        check_folder(out, study_outputs, reference, 5, name);
        char *resume[] = {"study", manifest, "-o", out, "-j", "1", "--resume", NULL};
        assert_int_equal(finish(start(resume, NULL)), 1);
        check_folder(out, study_outputs, reference, 5, name);
        char *text = read_or_null(out, "recordings.csv");
        assert_non_null(text);
        free(text);
    }
    for (int i = 0; i < 5; i++) free(reference[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_analyze_killed),
        cmocka_unit_test(test_study_killed),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

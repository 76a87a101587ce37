/* `dopflow study` end to end: a small generated study (WAV + sidecar
 * files written here with a synthetic pulsatile Doppler signal), its
 * outputs, invariance to -j, --resume, shards + merge, failures, stops.
 *
 * Study: 4 subjects x 2 conditions ("rest": the same flow throughout;
 * "exercise": centreline Doppler peak 1500 Hz before the onset at 4 s and
 * 2600 Hz after), brachial artery, diameter 4 mm from the sidecar. Epochs
 * pre = [onset - 3, onset), post = [onset + 1, onset + 4). */
#include <math.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "cli_run.h"
#include "dopflow/dopflow.h"
#include "dopflow/study.h"
#include "io_util.h"
#include "signal_gen.h"

#define FS 12500.0
#define DURATION_S 8.0
#define ONSET_S 4.0
#define N_SUBJECTS 4
#define EPOCHS "pre:-3:0,post:1:4"

static const char *const outputs[] = {"recordings.csv", "conditions.csv", "anova.csv", "report.md", "failures.csv"};
#define N_OUTPUTS (sizeof outputs / sizeof outputs[0])

typedef struct fixture {
    char dir[256];
    char manifest[512];
    char reference[512]; /* outputs of the plain -j 1 run */
} fixture;

static const char *subject_name(int s)
{
    static const char *const names[N_SUBJECTS] = {"Smith, A", "S2", "S3", "S4"};
    return names[s];
}

static int write_recording(const char *path, double fpeak_before, double fpeak_after, unsigned long seed)
{
    const size_t n = (size_t)(DURATION_S * FS), n_on = (size_t)(ONSET_S * FS);
    float complex *x = calloc(n, sizeof *x);
    if (!x) return -1;
    sg_add_pulsatile(x, n_on, FS, fpeak_before, 300.0, 70.0, 0.2, 1e-3, 48, seed);
    sg_add_pulsatile(x + n_on, n - n_on, FS, fpeak_after, 300.0, 70.0, 0.2, 1e-3, 48, seed + 1);
    sg_add_noise(x, n, 1e-3 / 30.0, seed + 2);
    const dop_acquisition acq = sg_test_acquisition();
    int rc = sg_write_wav(path, x, n, FS, &acq);
    free(x);
    return rc;
}

static char *read_text(const char *dir, const char *name)
{
    char path[700];
    io_path_join(path, sizeof path, dir, name);
    char *data = NULL;
    if (io_file_read(path, &data, NULL) != 0) return NULL;
    return data;
}

static int run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *last_err;

static int run(const char *fmt, ...)
{
    char args[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    free(last_err);
    last_err = NULL;
    return cli_run(args, NULL, NULL, &last_err);
}

static void assert_same_outputs(const char *a, const char *b)
{
    for (size_t i = 0; i < N_OUTPUTS; i++) {
        char *x = read_text(a, outputs[i]), *y = read_text(b, outputs[i]);
        if (!x || !y) fail_msg("%s missing in %s or %s", outputs[i], a, b);
        if (strcmp(x, y) != 0) fail_msg("%s differs between %s and %s:\n---\n%s\n---\n%s", outputs[i], a, b, x, y);
        free(x);
        free(y);
    }
}

static int setup(void **state)
{
    fixture *fx = calloc(1, sizeof *fx);
    if (!fx || io_tmpdir_make(fx->dir, sizeof fx->dir) != 0) return -1;
    char data[400];
    io_path_join(data, sizeof data, fx->dir, "data");
    if (mkdir(data, 0777) != 0) return -1;
    io_path_join(fx->manifest, sizeof fx->manifest, fx->dir, "manifest.csv");
    FILE *m = fopen(fx->manifest, "w");
    if (!m) return -1;
    fputs("subject,condition,artery,file,onset_s\n", m);
    for (int s = 0; s < N_SUBJECTS; s++)
        for (int c = 0; c < 2; c++) {
            char name[64], path[600];
            snprintf(name, sizeof name, "s%d_%s.wav", s + 1, c ? "exercise" : "rest");
            snprintf(path, sizeof path, "%s/%s", data, name);
            double base = 1500.0 * (1.0 + 0.06 * s);
            if (write_recording(path, base, c ? 2600.0 * (1.0 + 0.04 * s) : base, 100u + 10u * (unsigned)s + 3u * (unsigned)c) != 0)
                return -1;
            fprintf(m, "\"%s\",%s,brachial,data/%s,%g\n", subject_name(s), c ? "exercise" : "rest", name, ONSET_S);
        }
    if (fclose(m) != 0) return -1;
    io_path_join(fx->reference, sizeof fx->reference, fx->dir, "out-j1");
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    fixture *fx = *state;
    if (getenv("DOPFLOW_KEEP_TEST_DIR")) /* for looking at the outputs */
        printf("test study kept in %s\n", fx->dir);
    else
        io_tmpdir_remove(fx->dir);
    free(fx);
    free(last_err);
    return 0;
}

/* The plain run: every output, in the documented shape, and the physics
 * (flow rises with the Doppler shift in "exercise", not in "rest"). */
static void test_outputs(void **state)
{
    fixture *fx = *state;
    int rc = run("study '%s' -o '%s' -j 1 --epochs %s", fx->manifest, fx->reference, EPOCHS);
    if (rc != 0) fail_msg("exit %d: %s", rc, last_err);
    char *rec = read_text(fx->reference, "recordings.csv");
    assert_non_null(rec);
    assert_int_equal(cli_count_lines(rec), 1 + 2 * 2 * N_SUBJECTS);
    char header[600];
    snprintf(header, sizeof header, "subject,condition,artery,file,%s\n", dop_summary_csv_header());
    assert_true(strncmp(rec, header, strlen(header)) == 0);
    /* manifest order, then epoch order; names with commas quoted */
    char *line2 = strchr(rec, '\n') + 1;
    assert_true(strncmp(line2, "\"Smith, A\",rest,brachial,data/s1_rest.wav,pre,", 46) == 0);
    char *line3 = strchr(line2, '\n') + 1;
    assert_true(strncmp(line3, "\"Smith, A\",rest,brachial,data/s1_rest.wav,post,", 47) == 0);
    free(rec);

    char *fail = read_text(fx->reference, "failures.csv");
    assert_string_equal(fail, "subject,condition,artery,file,error\n");
    free(fail);

    char *cond = read_text(fx->reference, "conditions.csv");
    assert_non_null(cond);
    assert_int_equal(cli_count_lines(cond), 1 + 2 * 2);
    assert_non_null(strstr(cond, "artery,condition,epoch,n,mean_velocity_cm_s_mean,mean_velocity_cm_s_sd,"
                                 "mean_velocity_cm_s_sem,flow_ml_min_mean,flow_ml_min_sd,flow_ml_min_sem,n_flow,"
                                 "flow_change_pct,n_paired,p_value,p_adjusted\n"));
    /* exercise/post: n 4, flow up by more than 20 %, significant */
    char *ex = strstr(cond, "brachial,exercise,post,4,");
    assert_non_null(ex);
    char *fields[16];
    char *copy = strdup(ex), *p = copy;
    for (int i = 0; i < 15; i++) {
        fields[i] = p;
        p += strcspn(p, ",\n");
        *p++ = '\0';
    }
    double change = atof(fields[11]), pval = atof(fields[13]);
    assert_int_equal(atoi(fields[12]), 4);
    if (!(change > 20.0)) fail_msg("exercise flow change %g %%", change);
    if (!(pval > 0.0 && pval < 0.05)) fail_msg("exercise p %g", pval);
    free(copy);
    /* the reference epoch row has no comparison */
    assert_non_null(strstr(cond, "brachial,exercise,pre,4,"));
    free(cond);

    char *an = read_text(fx->reference, "anova.csv");
    assert_non_null(an);
    static const char anova_header[] = "artery,condition,n,k,F,df_effect,df_error,p,gg_epsilon,p_gg\n";
    assert_true(strncmp(an, anova_header, strlen(anova_header)) == 0);
    assert_non_null(strstr(an, "brachial,rest,4,2,"));
    assert_non_null(strstr(an, "brachial,exercise,4,2,"));
    free(an);

    char *rep = read_text(fx->reference, "report.md");
    assert_non_null(rep);
    char version[64];
    snprintf(version, sizeof version, "dopflow %s", dop_version());
    assert_non_null(strstr(rep, version));
    assert_non_null(strstr(rep, "Command: `dopflow study"));
    assert_non_null(strstr(rep, "--epochs " EPOCHS "`"));
    assert_null(strstr(rep, "-j 1"));
    assert_non_null(strstr(rep, "- Subjects: 4"));
    assert_non_null(strstr(rep, "- Conditions (2): rest, exercise"));
    assert_non_null(strstr(rep, "- Reference epoch: pre"));
    assert_non_null(strstr(rep, "| exercise | 4 |"));
    assert_non_null(strstr(rep, "*"));
    free(rep);
}

/* -j 2 gives the same bytes as -j 1. */
static void test_jobs_identical(void **state)
{
    fixture *fx = *state;
    char out[512];
    io_path_join(out, sizeof out, fx->dir, "out-j2");
    int rc = run("study '%s' -o '%s' -j 2 --epochs %s", fx->manifest, out, EPOCHS);
    if (rc != 0) fail_msg("exit %d: %s", rc, last_err);
    assert_same_outputs(fx->reference, out);
}

/* --resume after deleting one result: only that one is analysed again
 * (the other result files keep their inodes: atomic writes would have
 * replaced them), and the outputs are unchanged. */
static void test_resume(void **state)
{
    fixture *fx = *state;
    char out[512], results[600];
    io_path_join(out, sizeof out, fx->dir, "out-resume");
    int rc = run("study '%s' -o '%s' -j 2 --epochs %s", fx->manifest, out, EPOCHS);
    if (rc != 0) fail_msg("exit %d: %s", rc, last_err);
    io_path_join(results, sizeof results, out, ".results");
    assert_int_equal(io_dir_count(results), 2 * N_SUBJECTS);

    /* keys from the index, in manifest order */
    char *index = read_text(out, ".study/index.csv");
    assert_non_null(index);
    char keys[2 * N_SUBJECTS][65];
    ino_t inodes[2 * N_SUBJECTS];
    char *line = strchr(index, '\n') + 1;
    for (int i = 0; i < 2 * N_SUBJECTS; i++) {
        /* row,subject,condition,artery,file,key,error: the key is the 64 hex before the last comma */
        char *end = strchr(line, '\n');
        assert_non_null(end);
        assert_true(end - line > 66);
        memcpy(keys[i], end - 65, 64);
        keys[i][64] = '\0';
        char path[1400];
        snprintf(path, sizeof path, "%s/%s.csv", results, keys[i]);
        struct stat sb;
        assert_int_equal(stat(path, &sb), 0);
        inodes[i] = sb.st_ino;
        line = end + 1;
    }
    free(index);
    char victim[1400];
    snprintf(victim, sizeof victim, "%s/%s.csv", results, keys[3]);
    assert_int_equal(unlink(victim), 0);

    rc = run("study '%s' -o '%s' -j 2 --resume --epochs %s", fx->manifest, out, EPOCHS);
    if (rc != 0) fail_msg("exit %d: %s", rc, last_err);
    for (int i = 0; i < 2 * N_SUBJECTS; i++) {
        char path[1400];
        snprintf(path, sizeof path, "%s/%s.csv", results, keys[i]);
        struct stat sb;
        assert_int_equal(stat(path, &sb), 0);
        if (i != 3 && sb.st_ino != inodes[i]) fail_msg("result %d was analysed again", i);
    }
    assert_same_outputs(fx->reference, out);

    /* a changed parameter is a different key: nothing reused */
    rc = run("study '%s' -o '%s' --resume --epochs %s --wall-hz 80", fx->manifest, out, EPOCHS);
    if (rc != 0) fail_msg("exit %d: %s", rc, last_err);
    assert_int_equal(io_dir_count(results), 4 * N_SUBJECTS);
}

/* Shards 1/2 and 2/2, merged, give the single run's bytes; merging an
 * incomplete set is refused. */
static void test_shards_merge(void **state)
{
    fixture *fx = *state;
    char s1[512], s2[512], merged[512];
    io_path_join(s1, sizeof s1, fx->dir, "shard1");
    io_path_join(s2, sizeof s2, fx->dir, "shard2");
    io_path_join(merged, sizeof merged, fx->dir, "merged");
    int rc = run("study '%s' -o '%s' --shard 1/2 --epochs %s", fx->manifest, s1, EPOCHS);
    if (rc != 0) fail_msg("exit %d: %s", rc, last_err);
    rc = run("study '%s' -o '%s' --shard 2/2 -j 2 --epochs %s", fx->manifest, s2, EPOCHS);
    if (rc != 0) fail_msg("exit %d: %s", rc, last_err);
    char *partial = read_text(s1, "report.md");
    assert_non_null(strstr(partial, "shard 1 of 2"));
    free(partial);

    rc = run("study merge -o '%s' '%s'", merged, s1);
    assert_int_equal(rc, 3);
    assert_non_null(strstr(last_err, "shard 2/2 is missing"));
    rc = run("study merge -o '%s' '%s' '%s'", merged, s1, s1);
    assert_int_equal(rc, 3);

    rc = run("study merge -o '%s' '%s' '%s'", merged, s2, s1);
    if (rc != 0) fail_msg("exit %d: %s", rc, last_err);
    assert_same_outputs(fx->reference, merged);
    /* the merged folder is a study folder: resuming it analyses nothing */
    char *a = read_text(merged, ".study/shard.json"), *b = read_text(fx->reference, ".study/shard.json");
    assert_string_equal(a, b);
    free(a);
    free(b);

    /* shards of another study (different parameters) are refused */
    char s2b[512];
    io_path_join(s2b, sizeof s2b, fx->dir, "shard2b");
    rc = run("study '%s' -o '%s' --shard 2/2 --epochs %s --wall-hz 80", fx->manifest, s2b, EPOCHS);
    if (rc != 0) fail_msg("exit %d: %s", rc, last_err);
    rc = run("study merge -o '%s' '%s' '%s'", merged, s1, s2b);
    assert_int_equal(rc, 3);
    assert_non_null(strstr(last_err, "different studies"));
}

/* A file that is not audio and a file that does not exist: the batch
 * goes on, both land in failures.csv with their error, exit code 1. */
static void test_failures(void **state)
{
    fixture *fx = *state;
    char broken[512], manifest[512], out[512];
    io_path_join(broken, sizeof broken, fx->dir, "data/broken.wav");
    assert_int_equal(io_file_write(broken, "not a wav file at all\n", 22), 0);
    io_path_join(manifest, sizeof manifest, fx->dir, "with-broken.csv");
    char *text = read_text(fx->dir, "manifest.csv");
    assert_non_null(text);
    FILE *f = fopen(manifest, "w");
    fputs(text, f);
    fputs("S5,rest,brachial,data/broken.wav,4\nS6,rest,brachial,data/nowhere.wav,4\n", f);
    fclose(f);
    free(text);
    io_path_join(out, sizeof out, fx->dir, "out-broken");
    int rc = run("study '%s' -o '%s' -j 2 --epochs %s", manifest, out, EPOCHS);
    assert_int_equal(rc, 1);
    assert_non_null(strstr(last_err, "2 of 10"));
    char *fail = read_text(out, "failures.csv");
    assert_non_null(fail);
    assert_int_equal(cli_count_lines(fail), 3);
    assert_non_null(strstr(fail, "\nS5,rest,brachial,data/broken.wav,"));
    assert_non_null(strstr(fail, "\nS6,rest,brachial,data/nowhere.wav,"));
    assert_non_null(strstr(fail, "nowhere.wav: cannot open"));
    free(fail);
    char *rec = read_text(out, "recordings.csv");
    assert_int_equal(cli_count_lines(rec), 1 + 2 * 2 * N_SUBJECTS);
    free(rec);
    char *rep = read_text(out, "report.md");
    assert_non_null(strstr(rep, "could not be analysed (2"));
    free(rep);
}

/* Usage and manifest errors: exit codes and messages. */
static void test_errors(void **state)
{
    fixture *fx = *state;
    char out[512], bad[512];
    io_path_join(out, sizeof out, fx->dir, "out-err");
    assert_int_equal(run("study '%s'", fx->manifest), 2);                                     /* no -o */
    assert_int_equal(run("study -o '%s'", out), 2);                                           /* no manifest */
    assert_int_equal(run("study '%s' -o '%s' -j 0", fx->manifest, out), 2);
    assert_int_equal(run("study '%s' -o '%s' --shard 3/2", fx->manifest, out), 2);
    assert_int_equal(run("study '%s' -o '%s' --epochs pre:0", fx->manifest, out), 2);
    assert_int_equal(run("study '%s' -o '%s' --epochs %s --reference-epoch mid", fx->manifest, out, EPOCHS), 2);
    assert_non_null(strstr(last_err, "mid"));
    assert_int_equal(run("study '%s' -o '%s' --window triangle", fx->manifest, out), 2);
    io_path_join(bad, sizeof bad, fx->dir, "bad.csv");
    const char *text = "subject,condition,file,f0_hz\nS1,rest,a.wav,fast\n";
    assert_int_equal(io_file_write(bad, text, strlen(text)), 0);
    assert_int_equal(run("study '%s' -o '%s'", bad, out), 3);
    assert_non_null(strstr(last_err, "line 2, column 4 (f0_hz)"));
    char *help = NULL;
    assert_int_equal(cli_run("study --help", NULL, &help, NULL), 0);
    static const char *const documented[] = {"--output", "--jobs", "--epochs", "--reference-epoch", "--resume",
                                              "--shard", "merge", "--wall-hz", "Exit codes", "130 interrupted"};
    for (size_t i = 0; i < sizeof documented / sizeof documented[0]; i++)
        if (!strstr(help, documented[i])) fail_msg("--help does not document %s", documented[i]);
    free(help);
}

/* A stop request: nothing aggregated, finished results kept, and the
 * resumed run completes with the same outputs. */
static void test_stop_and_resume(void **state)
{
    fixture *fx = *state;
    char out[512];
    io_path_join(out, sizeof out, fx->dir, "out-stop");
    volatile sig_atomic_t stop = 1;
    dop_study_config cfg = dop_study_config_default();
    cfg.manifest_path = fx->manifest;
    cfg.out_dir = out;
    cfg.epochs_spec = EPOCHS;
    cfg.jobs = 2;
    cfg.stop = &stop;
    dop_study_summary sum;
    dop_error err;
    assert_int_equal(dop_study_run(&cfg, &sum, &err), DOP_ERR_INTERRUPTED);
    char *rec = read_text(out, "recordings.csv");
    assert_null(rec);
    stop = 0;
    cfg.resume = 1;
    assert_int_equal(dop_study_run(&cfg, &sum, &err), DOP_OK);
    assert_int_equal(sum.selected, 2 * N_SUBJECTS);
    assert_int_equal(sum.analysed + sum.reused, 2 * N_SUBJECTS);
    assert_int_equal(sum.failed, 0);
    /* same data and options as the command line, but no command text */
    char *a = read_text(out, "conditions.csv"), *b = read_text(fx->reference, "conditions.csv");
    assert_string_equal(a, b);
    free(a);
    free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_outputs),
        cmocka_unit_test(test_jobs_identical),
        cmocka_unit_test(test_resume),
        cmocka_unit_test(test_shards_merge),
        cmocka_unit_test(test_failures),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_stop_and_resume),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

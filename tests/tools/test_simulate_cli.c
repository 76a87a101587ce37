/* dopflow simulate, the command: output files, determinism, scaling and
 * spec errors. Runs the dopflow binary (DOPFLOW_CLI) on specs written here. */
#include <complex.h>
#include <dirent.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <sndfile.h>

#include "dopflow/acquisition.h"
#include "dopflow/simulate.h"

static char tmpdir[256];

static int setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/dopflow_test_simulate_cli.XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    assert_int_equal(fread(s, 1, (size_t)n, f), (size_t)n);
    s[n] = '\0';
    fclose(f);
    if (len) *len = (size_t)n;
    return s;
}

/* Run `dopflow simulate ARGS` with stderr to DIR/err.txt; the exit code. */
static int run(const char *args)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "'%s' simulate %s 2> '%s/err.txt'", DOPFLOW_CLI, args, tmpdir);
    int rc = system(cmd);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static void assert_same_file(const char *a, const char *b)
{
    size_t la, lb;
    char *x = read_all(a, &la), *y = read_all(b, &lb);
    assert_non_null(x);
    assert_non_null(y);
    assert_int_equal(la, lb);
    assert_memory_equal(x, y, la);
    free(x);
    free(y);
}

static const char *spec_text =
    "{\"seed\": 7, \"duration_s\": 6, \"sample_rate_hz\": 10000,\n"
    " \"acquisition\": {\"f0_hz\": 5e6, \"angle_deg\": 55},\n"
    " \"vessel\": {\"diameter_mm\": 4.2},\n"
    " \"flow\": {\"waveform\": \"triphasic\", \"flow_ml_min\": 50, \"heart_rate_bpm\": 70},\n"
    " \"event\": {\"onset_s\": 3, \"waveform\": \"exercise\", \"mean_velocity_cm_s\": 15, \"tau_s\": 1},\n"
    " \"clutter\": {\"level_db\": 30}, \"noise\": {\"snr_db\": 15},\n"
    " \"epochs\": [{\"label\": \"pre\", \"start_s\": 0.5, \"end_s\": 3}, {\"label\": \"post\", \"start_s\": 4, \"end_s\": 6}]}\n";

/* Same spec and seed: byte-identical files; another seed: another WAV. */
static void test_outputs_and_determinism(void **state)
{
    (void)state;
    char spec[300], a[300], b[300], c[300], args[1200], pa[320], pb[320];
    snprintf(spec, sizeof spec, "%s/rec.json", tmpdir);
    write_file(spec, spec_text);
    snprintf(a, sizeof a, "%s/a.wav", tmpdir);
    snprintf(b, sizeof b, "%s/b.wav", tmpdir);
    snprintf(c, sizeof c, "%s/c.wav", tmpdir);
    snprintf(args, sizeof args, "'%s' -o '%s' -q", spec, a);
    assert_int_equal(run(args), 0);
    snprintf(args, sizeof args, "'%s' -o '%s' -q", spec, b);
    assert_int_equal(run(args), 0);
    static const char *const suffixes[] = {".wav", ".json", ".truth.csv", ".beats.csv", ".truth.json"};
    for (size_t i = 0; i < 5; i++) {
        snprintf(pa, sizeof pa, "%s/a%s", tmpdir, suffixes[i]);
        snprintf(pb, sizeof pb, "%s/b%s", tmpdir, suffixes[i]);
        assert_same_file(pa, pb);
    }
    snprintf(args, sizeof args, "'%s' -o '%s' -q --seed 8", spec, c);
    assert_int_equal(run(args), 0);
    size_t la, lc;
    char *x = read_all(a, &la), *y = read_all(c, &lc);
    assert_int_equal(la, lc);
    assert_true(memcmp(x, y, la) != 0);
    free(x);
    free(y);

    /* The WAV: stereo pcm16 at the spec's rate, the spec's length. */
    SF_INFO info;
    memset(&info, 0, sizeof info);
    SNDFILE *snd = sf_open(a, SFM_READ, &info);
    assert_non_null(snd);
    assert_int_equal(info.channels, 2);
    assert_int_equal(info.samplerate, 10000);
    assert_int_equal(info.frames, 60000);
    assert_int_equal(info.format & SF_FORMAT_SUBMASK, SF_FORMAT_PCM_16);
    sf_close(snd);
    /* The sidecar, as the analysis reads it. */
    dop_acquisition acq;
    snprintf(pa, sizeof pa, "%s/a.json", tmpdir);
    assert_int_equal(dop_sidecar_read(pa, &acq, NULL), DOP_OK);
    assert_true(acq.f0_hz == 5e6 && acq.angle_deg == 55.0 && acq.c_m_s == 1540.0 && acq.diameter_mm == 4.2);
    assert_int_equal(acq.channels, DOP_CHANNELS_IQ);
}

/* truth.csv rows: flow = v pi D^2/4 x 60; truth.json epochs = row means. */
static void test_truth_files_agree(void **state)
{
    (void)state;
    char spec[300], out[300], path[320], args[800];
    snprintf(spec, sizeof spec, "%s/rec.json", tmpdir);
    write_file(spec, spec_text);
    snprintf(out, sizeof out, "%s/t.wav", tmpdir);
    snprintf(args, sizeof args, "'%s' -o '%s' -q", spec, out);
    assert_int_equal(run(args), 0);
    snprintf(path, sizeof path, "%s/t.truth.csv", tmpdir);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char line[512];
    assert_non_null(fgets(line, sizeof line, f));
    assert_string_equal(line, "time_s,mean_velocity_cm_s,centreline_velocity_cm_s,flow_ml_min,diameter_mm,heart_rate_bpm\n");
    double t[700], v[700], q[700];
    size_t n = 0;
    double area = M_PI * 0.21 * 0.21;
    while (fgets(line, sizeof line, f) && n < 700) {
        double vc, d, hr;
        assert_int_equal(sscanf(line, "%lf,%lf,%lf,%lf,%lf,%lf", &t[n], &v[n], &vc, &q[n], &d, &hr), 6);
        assert_true(fabs(q[n] - v[n] * area * 60.0) < 1e-5 * (1.0 + fabs(q[n])));
        assert_true(fabs(vc - 2.0 * v[n]) < 1e-5 * (1.0 + fabs(vc)));
        assert_true(d == 4.2 && hr > 50.0 && hr < 100.0);
        n++;
    }
    fclose(f);
    assert_int_equal(n, 600);
    snprintf(path, sizeof path, "%s/t.truth.json", tmpdir);
    json_t *root = json_load_file(path, 0, NULL);
    assert_non_null(root);
    json_t *epochs = json_object_get(root, "epochs");
    assert_int_equal(json_array_size(epochs), 2);
    for (size_t e = 0; e < 2; e++) {
        json_t *o = json_array_get(epochs, e);
        double s0 = json_number_value(json_object_get(o, "start_s")), s1 = json_number_value(json_object_get(o, "end_s"));
        double sv = 0.0, sq = 0.0;
        size_t k = 0;
        for (size_t i = 0; i < n; i++)
            if (t[i] >= s0 && t[i] < s1) sv += v[i], sq += q[i], k++;
        assert_true(fabs(json_number_value(json_object_get(o, "mean_velocity_cm_s")) - sv / (double)k) < 1e-5);
        assert_true(fabs(json_number_value(json_object_get(o, "flow_ml_min")) - sq / (double)k) < 1e-4);
    }
    /* Resting flow given as 50 ml/min through 4.2 mm: v = 50 / 60 / area. */
    double pre = json_number_value(json_object_get(json_array_get(epochs, 0), "mean_velocity_cm_s"));
    assert_true(pre > 0.6 * 50.0 / 60.0 / area && pre < 1.4 * 50.0 / 60.0 / area);
    json_decref(root);
}

/* Read a float WAV back and undo the reported scale: blood power 1 and the
 * noise power at the spec's SNR; saturation clips at full scale. */
static double wav_power(const char *path, double scale, double *peak)
{
    SF_INFO info;
    memset(&info, 0, sizeof info);
    SNDFILE *snd = sf_open(path, SFM_READ, &info);
    assert_non_null(snd);
    float buf[2 * 1024];
    double sum = 0.0;
    sf_count_t total = 0, got;
    *peak = 0.0;
    while ((got = sf_readf_float(snd, buf, 1024)) > 0) {
        for (sf_count_t i = 0; i < 2 * got; i++) {
            double x = buf[i] / scale;
            sum += x * x;
            if (fabs(buf[i]) > *peak) *peak = fabs(buf[i]);
        }
        total += got;
    }
    sf_close(snd);
    return sum / (double)total;
}

static double reported(const char *truth_path, const char *key)
{
    json_t *root = json_load_file(truth_path, 0, NULL);
    assert_non_null(root);
    double x = json_number_value(json_object_get(json_object_get(root, "scaling"), key));
    json_decref(root);
    return x;
}

static void test_scaling_snr_and_saturation(void **state)
{
    (void)state;
    char spec[300], out[300], truth[320], args[800];
    const char *variants[] = {"\"blood\": true, \"noise\": false", "\"blood\": false, \"noise\": true"};
    double power[2], peak;
    for (int i = 0; i < 2; i++) {
        snprintf(spec, sizeof spec, "%s/snr%d.spec.json", tmpdir, i);
        char text[800];
        snprintf(text, sizeof text,
                 "{\"seed\": 3, \"duration_s\": 8, \"sample_format\": \"float\", \"noise\": {\"snr_db\": 13},"
                 " \"clutter\": {\"level_db\": 30}, \"output\": {\"components\": {%s, \"clutter\": false}}}",
                 variants[i]);
        write_file(spec, text);
        snprintf(out, sizeof out, "%s/snr%d.wav", tmpdir, i);
        snprintf(args, sizeof args, "'%s' -o '%s' -q", spec, out);
        assert_int_equal(run(args), 0);
        snprintf(truth, sizeof truth, "%s/snr%d.truth.json", tmpdir, i);
        power[i] = wav_power(out, reported(truth, "scale"), &peak);
        assert_true(fabs(peak - pow(10.0, -1.0 / 20.0)) < 1e-4); /* 1 dB headroom */
    }
    assert_true(fabs(power[0] - 1.0) < 0.05);
    assert_true(fabs(10.0 * log10(power[0] / power[1]) - 13.0) < 0.5);

    snprintf(spec, sizeof spec, "%s/sat.spec.json", tmpdir);
    write_file(spec, "{\"duration_s\": 3, \"clutter\": {\"level_db\": 25}, \"output\": {\"saturation_db\": 6}}");
    snprintf(out, sizeof out, "%s/sat.wav", tmpdir);
    snprintf(args, sizeof args, "'%s' -o '%s' -q", spec, out);
    assert_int_equal(run(args), 0);
    snprintf(truth, sizeof truth, "%s/sat.truth.json", tmpdir);
    assert_true(reported(truth, "clipped_samples") > 0);
    wav_power(out, 1.0, &peak);
    assert_true(peak >= 32767.0 / 32768.0 - 1e-6);
}

/* A spec error: non-zero exit, the key named, nothing written. */
static void expect_spec_error(const char *name, const char *text, const char *needle)
{
    char dir[300], spec[320], args[800];
    snprintf(dir, sizeof dir, "%s/%s", tmpdir, name);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", dir);
    assert_int_equal(system(cmd), 0);
    snprintf(spec, sizeof spec, "%s/spec.json", dir);
    write_file(spec, text);
    snprintf(args, sizeof args, "'%s' -o '%s/out.wav'", spec, dir);
    assert_int_equal(run(args), 3);
    char err_path[320];
    snprintf(err_path, sizeof err_path, "%s/err.txt", tmpdir);
    char *msg = read_all(err_path, NULL);
    assert_non_null(msg);
    if (!strstr(msg, needle)) fail_msg("%s: expected \"%s\" in: %s", name, needle, msg);
    free(msg);
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") && strcmp(e->d_name, "spec.json"))
            fail_msg("%s: output left behind: %s", name, e->d_name);
    closedir(d);
}

static void test_spec_errors(void **state)
{
    (void)state;
    expect_spec_error("malformed", "{\"seed\": 1, \"duration_s\": ", "malformed JSON");
    expect_spec_error("enum", "{\"vessel\": {\"profile\": \"turbulent\"}}", "vessel.profile");
    expect_spec_error("negative", "{\"vessel\": {\"diameter_mm\": -3}}", "vessel.diameter_mm");
    expect_spec_error("unknown", "{\"vesel\": {\"diameter_mm\": 3}}", "vesel");
    expect_spec_error("type", "{\"noise\": {\"snr_db\": \"high\"}}", "noise.snr_db");
    expect_spec_error("waveform", "{\"flow\": {\"waveform\": \"sawtooth\"}}", "flow.waveform");
    expect_spec_error("epoch", "{\"duration_s\": 5, \"epochs\": [{\"label\": \"x\", \"start_s\": 4, \"end_s\": 9}]}",
                      "epochs[0]");
    expect_spec_error("both", "{\"flow\": {\"mean_velocity_cm_s\": 5, \"flow_ml_min\": 40}}", "flow_ml_min");
    /* A missing spec is an input error too; a missing -o a usage error. */
    char args[1200];
    snprintf(args, sizeof args, "'%s/none.json' -o '%s/x.wav'", tmpdir, tmpdir);
    assert_int_equal(run(args), 3);
    snprintf(args, sizeof args, "'%s/none.json'", tmpdir);
    assert_int_equal(run(args), 2);
    /* An output folder that does not exist: cannot write output. */
    char spec[300];
    snprintf(spec, sizeof spec, "%s/ok.json", tmpdir);
    write_file(spec, "{\"duration_s\": 1}");
    snprintf(args, sizeof args, "'%s' -o '%s/missing/x.wav'", spec, tmpdir);
    assert_int_equal(run(args), 6);
}

/* The example specs shipped in datasets/examples parse and are realistic. */
static void test_example_specs(void **state)
{
    (void)state;
    static const char *const names[] = {"brachial_rest", "femoral_exercise", "tapotement"};
    for (size_t i = 0; i < 3; i++) {
        char path[512];
        snprintf(path, sizeof path, "%s/datasets/examples/%s.json", DOPFLOW_SOURCE_DIR, names[i]);
        dop_sim_config c;
        dop_error err;
        if (dop_sim_spec_load(path, &c, &err) != DOP_OK) fail_msg("%s", err.message);
        assert_true(c.snr_db >= 10.0 && c.snr_db <= 20.0);
        assert_true(c.clutter_db >= 20.0 && c.clutter_db <= 40.0);
        dop_sim *sim = NULL;
        assert_int_equal(dop_sim_create(&c, &sim, NULL), DOP_OK);
        assert_true(dop_sim_peak_velocity_cm_s(sim) < 0.8 * dop_sim_nyquist_cm_s(&c));
        dop_sim_destroy(sim);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_outputs_and_determinism),
        cmocka_unit_test(test_truth_files_agree),
        cmocka_unit_test(test_scaling_snr_and_saturation),
        cmocka_unit_test(test_spec_errors),
        cmocka_unit_test(test_example_specs),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

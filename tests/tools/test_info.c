/* dopflow info: run the command on a generated recording with a sidecar
 * and check what it reports, including the Doppler-derived velocities. */
#include <jansson.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <cmocka.h>
#include <sndfile.h>

#include "cli_run.h"
#include "io_util.h"

#define FS_HZ 10000
#define FRAMES 25000

typedef struct fixture {
    char dir[256];
    char wav[512];
    char out[512], err[512];
} fixture;

static int setup(void **state)
{
    fixture *fx = calloc(1, sizeof *fx);
    if (!fx || io_tmpdir_make(fx->dir, sizeof fx->dir) != 0) return -1;
    io_path_join(fx->wav, sizeof fx->wav, fx->dir, "carotid.wav");
    io_path_join(fx->out, sizeof fx->out, fx->dir, "stdout.txt");
    io_path_join(fx->err, sizeof fx->err, fx->dir, "stderr.txt");
    SF_INFO info = {.samplerate = FS_HZ, .channels = 2, .format = SF_FORMAT_WAV | SF_FORMAT_PCM_16};
    SNDFILE *f = sf_open(fx->wav, SFM_WRITE, &info);
    if (!f) return -1;
    static short data[2 * FRAMES];
    for (int n = 0; n < FRAMES; n++) {
        data[2 * n] = (short)lrint(8000.0 * cos(2 * M_PI * 1000.0 * n / FS_HZ));
        data[2 * n + 1] = (short)lrint(8000.0 * sin(2 * M_PI * 1000.0 * n / FS_HZ));
    }
    sf_writef_short(f, data, FRAMES);
    sf_close(f);
    /* Sidecar beside the recording: 4 MHz probe at 60 degrees. */
    char sidecar[512];
    io_path_join(sidecar, sizeof sidecar, fx->dir, "carotid.json");
    const char *json = "{\"f0_hz\": 4000000, \"angle_deg\": 60, \"diameter_mm\": 6.5, \"channels\": \"iq\"}\n";
    if (io_file_write(sidecar, json, strlen(json)) != 0) return -1;
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    fixture *fx = *state;
    io_tmpdir_remove(fx->dir);
    free(fx);
    return 0;
}

/* Run `dopflow ARGS` (tests/support/cli_run.h); it must exit normally. */
static int run_cli(const fixture *fx, const char *args, char **out, char **err)
{
    (void)fx;
    int code = cli_run(args, NULL, out, err);
    assert_true(code >= 0 && code < 128);
    return code;
}


static void expect_contains(const char *text, const char *fragment)
{
    if (!strstr(text, fragment)) fail_msg("output lacks \"%s\":\n%s", fragment, text);
}

static void test_text_output(void **state)
{
    fixture *fx = *state;
    char args[1024], *out = NULL, *err = NULL;
    snprintf(args, sizeof args, "info '%s'", fx->wav);
    assert_int_equal(run_cli(fx, args, &out, &err), 0);
    expect_contains(out, "10000 Hz");
    expect_contains(out, "25000");
    expect_contains(out, "2.500 s");
    expect_contains(out, "carotid.json");
    expect_contains(out, "4000000 Hz");
    expect_contains(out, "60 deg");
    expect_contains(out, "6.5 mm");
    expect_contains(out, "1540 m/s (default)");
    /* Doppler equation: c / (2 f0 cos 60) = 1540 / 4e6 m/s per Hz = 0.0385 cm/s per Hz;
     * Nyquist c fs / (4 f0 cos 60) = 192.5 cm/s. */
    expect_contains(out, "0.0385 cm/s per Hz");
    expect_contains(out, "192.5 cm/s");
    expect_contains(out, "iq (I = left, Q = right)");
    assert_string_equal(err, "");
    free(out);
    free(err);
}

static void test_json_output(void **state)
{
    fixture *fx = *state;
    char args[1024], *out = NULL, *err = NULL;
    snprintf(args, sizeof args, "info '%s' --json", fx->wav); /* options may follow FILE */
    assert_int_equal(run_cli(fx, args, &out, &err), 0);
    json_error_t jerr;
    json_t *root = json_loads(out, 0, &jerr);
    if (!root) fail_msg("not JSON (%s):\n%s", jerr.text, out);
    assert_float_equal(json_number_value(json_object_get(root, "sample_rate_hz")), FS_HZ, 0.0);
    assert_int_equal(json_integer_value(json_object_get(root, "frames")), FRAMES);
    assert_int_equal(json_integer_value(json_object_get(root, "file_channels")), 2);
    assert_string_equal(json_string_value(json_object_get(root, "channels")), "iq");
    assert_true(json_is_false(json_object_get(root, "is_float")));
    assert_float_equal(json_number_value(json_object_get(root, "duration_s")), 2.5, 1e-12);
    json_t *meta = json_object_get(root, "metadata");
    assert_float_equal(json_number_value(json_object_get(meta, "f0_hz")), 4e6, 0.0);
    assert_float_equal(json_number_value(json_object_get(meta, "diameter_mm")), 6.5, 0.0);
    assert_float_equal(json_number_value(json_object_get(root, "cm_s_per_hz")), 0.0385, 1e-9);
    assert_float_equal(json_number_value(json_object_get(root, "nyquist_cm_s")), 192.5, 1e-6);
    json_decref(root);
    free(out);
    free(err);
}

static void test_meta_option_and_channels(void **state)
{
    fixture *fx = *state;
    char meta[512], args[2048], *out = NULL, *err = NULL;
    io_path_join(meta, sizeof meta, fx->dir, "other.json");
    const char *json = "{\"f0_hz\": 8000000, \"angle_deg\": 0}";
    assert_int_equal(io_file_write(meta, json, strlen(json)), 0);
    snprintf(args, sizeof args, "info --json --meta '%s' --channels qi '%s'", meta, fx->wav);
    assert_int_equal(run_cli(fx, args, &out, &err), 0);
    json_t *root = json_loads(out, 0, NULL);
    assert_non_null(root);
    assert_string_equal(json_string_value(json_object_get(root, "channels")), "qi");
    /* 1540 fs / (4 x 8 MHz x cos 0) = 0.48125 m/s. */
    assert_float_equal(json_number_value(json_object_get(root, "nyquist_cm_s")), 48.125, 1e-6);
    assert_true(json_is_null(json_object_get(json_object_get(root, "metadata"), "diameter_mm")));
    json_decref(root);
    free(out);
    free(err);
}

static void test_missing_file(void **state)
{
    fixture *fx = *state;
    char args[1024], *out = NULL, *err = NULL;
    snprintf(args, sizeof args, "info '%s/absent_recording.wav'", fx->dir);
    assert_int_equal(run_cli(fx, args, &out, &err), 3);
    assert_int_equal(cli_count_lines(err), 1);
    expect_contains(err, "absent_recording.wav");
    assert_string_equal(out, "");
    free(out);
    free(err);
}

static void test_not_audio_and_bad_sidecar(void **state)
{
    fixture *fx = *state;
    char path[512], sidecar[512], args[2048], *out = NULL, *err = NULL;
    io_path_join(path, sizeof path, fx->dir, "notes.wav");
    assert_int_equal(io_file_write(path, "hello, not audio\n", 17), 0);
    snprintf(args, sizeof args, "info '%s'", path);
    assert_int_equal(run_cli(fx, args, &out, &err), 3);
    assert_int_equal(cli_count_lines(err), 1);
    expect_contains(err, "notes.wav");
    free(out);
    free(err);

    /* A sidecar that is not JSON: metadata error, exit 4. */
    io_path_join(sidecar, sizeof sidecar, fx->dir, "broken.json");
    assert_int_equal(io_file_write(sidecar, "{f0_hz: 4e6", 11), 0);
    snprintf(args, sizeof args, "info --meta '%s' '%s'", sidecar, fx->wav);
    assert_int_equal(run_cli(fx, args, &out, &err), 4);
    assert_int_equal(cli_count_lines(err), 1);
    expect_contains(err, "broken.json");
    free(out);
    free(err);
}

static void test_usage(void **state)
{
    fixture *fx = *state;
    char *out = NULL, *err = NULL;
    assert_int_equal(run_cli(fx, "info --help", &out, &err), 0);
    expect_contains(out, "Exit codes");
    expect_contains(out, "--raw-format");
    free(out);
    free(err);
    assert_int_equal(run_cli(fx, "info", &out, &err), 2);
    free(out);
    free(err);
    assert_int_equal(run_cli(fx, "info --channels sideways x.wav", &out, &err), 2); /* left and right are valid since issue 14 */
    expect_contains(err, "--channels");
    free(out);
    free(err);
    assert_int_equal(run_cli(fx, "info --bogus x.wav", &out, &err), 2);
    free(out);
    free(err);
}

static void test_raw_input(void **state)
{
    fixture *fx = *state;
    char path[512], args[1024], *out = NULL, *err = NULL;
    io_path_join(path, sizeof path, fx->dir, "stream.raw");
    static unsigned char bytes[4 * 1000];
    assert_int_equal(io_file_write(path, bytes, sizeof bytes), 0);
    snprintf(args, sizeof args, "info --raw-format s16 --rate 2000 '%s'", path);
    assert_int_equal(run_cli(fx, args, &out, &err), 0);
    expect_contains(out, "2000 Hz");
    expect_contains(out, "0.500 s");
    expect_contains(out, "raw s16");
    free(out);
    free(err);
    snprintf(args, sizeof args, "info --raw-format s16 '%s'", path); /* no --rate */
    assert_int_equal(run_cli(fx, args, &out, &err), 2);
    expect_contains(err, "--rate");
    free(out);
    free(err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_text_output),
        cmocka_unit_test(test_json_output),
        cmocka_unit_test(test_meta_option_and_channels),
        cmocka_unit_test(test_missing_file),
        cmocka_unit_test(test_not_audio_and_bad_sidecar),
        cmocka_unit_test(test_usage),
        cmocka_unit_test(test_raw_input),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

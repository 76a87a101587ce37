/* samples.h, the interface of the language bindings: the same samples and
 * options give byte for byte the CSV of `dopflow analyze`; options by name
 * ('-' or '_') with every error path; a tone reads as the Doppler equation
 * says; a recording read into memory is the reader's stream. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_run.h"
#include "dopflow/samples.h"
#include "io_util.h"
#include "signal_gen.h"

static dop_options *options_for(double fs, double f0, double angle, double diameter)
{
    dop_options *o = NULL;
    char text[64];
    assert_int_equal(dop_options_create(&o, NULL), DOP_OK);
    const struct { const char *name; double value; } set[] = {
        {"fs_hz", fs}, {"f0_hz", f0}, {"angle_deg", angle}, {"diameter_mm", diameter}};
    for (size_t i = 0; i < 4; i++) {
        if (isnan(set[i].value)) continue;
        snprintf(text, sizeof text, "%.17g", set[i].value);
        assert_int_equal(dop_options_set(o, set[i].name, text, NULL), DOP_OK);
    }
    return o;
}

static void assert_file_is(const char *path, const char *text)
{
    char *data = NULL;
    size_t len = 0;
    assert_int_equal(io_file_read(path, &data, &len), 0);
    assert_int_equal(len, strlen(text));
    assert_memory_equal(data, text, len);
    free(data);
}

/* A recording read with dop_samples_read and analysed in memory gives the
 * command line's frames, beats and summary files byte for byte. */
static void same_csv_as_the_command_line(void **state)
{
    const char *dir = *state;
    char wav[512], frames[512], beats[512], summary[512], args[4096];
    io_path_join(wav, sizeof wav, dir, "rec.wav");
    io_path_join(frames, sizeof frames, dir, "f.csv");
    io_path_join(beats, sizeof beats, dir, "b.csv");
    io_path_join(summary, sizeof summary, dir, "s.csv");
    assert_true(sg_write_flow_recording(wav, 6.0) > 0.0);
    snprintf(args, sizeof args, "analyze %s --frames %s --beats %s --summary %s --wall-hz 40 --epochs a:0:3,b:3:6",
             wav, frames, beats, summary);
    assert_int_equal(cli_run(args, NULL, NULL, NULL), 0);

    dop_samples *s = NULL;
    assert_int_equal(dop_samples_read(wav, &s, NULL), DOP_OK);
    assert_int_equal(dop_samples_pulses(s), 6 * 12500);
    assert_int_equal(dop_samples_gates(s), 1);
    assert_float_equal(dop_samples_rate_hz(s), 12500.0, 0.0);
    assert_string_equal(dop_samples_channels(s), "iq");
    dop_options *o = options_for(12500.0, 4e6, 60.0, 4.0);
    assert_int_equal(dop_options_set(o, "wall-hz", "40", NULL), DOP_OK);
    assert_int_equal(dop_options_set(o, "epochs", "a:0:3,b:3:6", NULL), DOP_OK);
    dop_result *r = NULL;
    assert_int_equal(dop_analyze_samples(o, dop_samples_data(s), dop_samples_pulses(s), &r, NULL), DOP_OK);
    assert_file_is(frames, dop_result_csv(r, "frames"));
    assert_file_is(beats, dop_result_csv(r, "beats"));
    assert_file_is(summary, dop_result_csv(r, "summary"));
    assert_null(dop_result_csv(r, "spectra"));
    /* c fs / (4 f0 cos angle) */
    assert_float_equal(dop_result_nyquist_cm_s(r), 1540.0 * 12500.0 / (4.0 * 4e6 * 0.5) * 100.0, 1e-6);
    dop_result_destroy(r);
    dop_options_destroy(o);
    dop_samples_destroy(s);
}

/* A 1 kHz tone at 4 MHz and 60 degrees: v = f c / (2 f0 cos angle) = 38.5 cm/s. */
static void tone_reads_the_doppler_equation(void **state)
{
    (void)state;
    const size_t n = 4 * 12500;
    float complex *x = calloc(n, sizeof *x);
    sg_add_tone(x, n, 12500.0, 1000.0, 0.5);
    sg_add_noise(x, n, 1e-4, 3);
    dop_options *o = options_for(12500.0, 4e6, 60.0, NAN);
    dop_result *r = NULL;
    assert_int_equal(dop_analyze_samples(o, x, n, &r, NULL), DOP_OK);
    const char *csv = dop_result_csv(r, "summary");
    const char *row = strchr(csv, '\n') + 1;
    assert_memory_equal(row, "all,", 4);
    double start = 0, end = 0, vmean = 0;
    assert_int_equal(sscanf(row, "all,%lf,%lf,%lf", &start, &end, &vmean), 3);
    assert_float_equal(end, 4.0, 1e-9);
    assert_true(fabs(vmean - 38.5) / 38.5 < 0.01);
    dop_result_destroy(r);
    dop_options_destroy(o);
    free(x);
}

static void option_errors_name_the_option(void **state)
{
    (void)state;
    dop_options *o = options_for(12500.0, 4e6, 60.0, NAN);
    dop_error err;
    const struct { const char *name, *value, *message; } bad[] = {
        {"wal_hz", "3", "unknown option 'wal_hz'"},
        {"wall_hz", "fast", "wall_hz: expected a finite number, got 'fast'"},
        {"f0", "inf", "f0_hz: expected a finite number, got 'inf'"},
        {"vmax", "best", "vmax: unknown value 'best'"},
        {"window", "", "window: unknown value ''"},
        {"channels", "lr", "channels: expected iq, qi or mono, got 'lr'"},
        {"fft", "1.5", "fft: expected a whole number 0..1048576, got '1.5'"},
        {"gates", "-1", "gates: expected a whole number 0..1048576, got '-1'"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(dop_options_set(o, bad[i].name, bad[i].value, &err), DOP_ERR_INVALID_ARG);
        assert_string_equal(err.message, bad[i].message);
    }
    assert_int_equal(dop_options_set(o, "epochs", "a:3:1", &err), DOP_ERR_INVALID_ARG);
    assert_int_equal(dop_options_set(o, NULL, "1", &err), DOP_ERR_INVALID_ARG);
    /* Every valid name, short forms and dashes included. */
    const char *good[][2] = {{"Wall-Hz", "30"}, {"wall_order", "2"}, {"window", "blackman"}, {"window-ms", "25"},
                             {"hop_ms", "5"}, {"fft", "512"}, {"vmax", "threshold"}, {"percentile", "90"},
                             {"threshold_db", "8"}, {"vmean", "half-max"}, {"c", "1560"}, {"angle", "55"},
                             {"diameter", "3"}, {"baseline_shift", "0"}, {"unwrap", "off"}, {"channels", "qi"},
                             {"rate", "12500"}, {"gates", "1"}, {"epochs", "x:0:1"}};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        assert_int_equal(dop_options_set(o, good[i][0], good[i][1], NULL), DOP_OK);
    dop_options_destroy(o);
    dop_options_destroy(NULL);
    dop_result_destroy(NULL);
    dop_samples_destroy(NULL);
}

static void analysis_errors(void **state)
{
    (void)state;
    const size_t n = 12500;
    float complex *x = calloc(n, sizeof *x);
    sg_add_tone(x, n, 12500.0, 500.0, 0.5);
    dop_result *r = NULL;
    dop_error err;
    dop_options *o = options_for(NAN, 4e6, 60.0, NAN);
    assert_int_equal(dop_analyze_samples(o, x, n, &r, &err), DOP_ERR_INVALID_ARG); /* no fs_hz */
    assert_null(r);
    dop_options_destroy(o);
    o = options_for(12500.0, NAN, 60.0, NAN);
    assert_int_equal(dop_analyze_samples(o, x, n, &r, &err), DOP_ERR_METADATA); /* no f0 */
    dop_options_destroy(o);
    o = options_for(12500.0, 4e6, 60.0, NAN);
    assert_int_equal(dop_analyze_samples(o, x, 100, &r, &err), DOP_ERR_NO_DATA); /* 8 ms < one window */
    assert_non_null(strstr(err.message, "analysis window"));
    assert_int_equal(dop_options_set(o, "fs_hz", "100", NULL), DOP_OK);
    assert_int_equal(dop_analyze_samples(o, x, n, &r, &err), DOP_ERR_ALIASING);
    dop_options_destroy(o);
    dop_samples *s = NULL;
    assert_int_equal(dop_samples_read("/nonexistent/rec.wav", &s, &err), DOP_ERR_IO);
    assert_null(s);
    free(x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(same_csv_as_the_command_line, io_tmpdir_setup, io_tmpdir_teardown),
        cmocka_unit_test(tone_reads_the_doppler_equation),
        cmocka_unit_test(option_errors_name_the_option),
        cmocka_unit_test(analysis_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Stereo that is not quadrature, the channel choice left|right|mono|iq, and
 * truncated WAV files (issue 14).
 *  - quadrature check (quadrature_check.h): synthetic true I/Q flow (one
 *    side), the same at SNR -5 dB, bidirectional flow, and a real signal
 *    copied (x 0.1, 5 samples late) into the right channel;
 *  - dop_quadrature_resolve: runs only when the channels were not chosen;
 *  - the reader's left / right / mono / iq mappings give the channels asked;
 *  - the CLI: info's "quadrature:" line on a simulated triphasic I/Q
 *    recording and on a copied-stereo file, analyze's note, --channels iq;
 *  - a WAV cut short (header unchanged): info and analyze warn with the
 *    samples and seconds missing, and analyze gives the analysis of the part
 *    present (the same frames as the whole file analysed up to that point);
 *  - the real recordings of ../shared/data/real when present (skipped
 *    otherwise): postdive/ stereo files are not I/Q, cardiac_cw_iq_100k.wav is. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "dopflow/dopflow.h"

#include "cli_run.h"
#include "io_util.h"
#include "signal_gen.h"

#define FS 12500.0
#define SECONDS 6.0
#define REAL_DIR DOPFLOW_SOURCE_DIR "/../shared/data/real"

static size_t n_samples(void) { return (size_t)(SECONDS * FS); }

/* True I/Q: pulsatile forward flow plus complex noise of snr_db below it. */
static float complex *true_iq(double snr_db)
{
    size_t n = n_samples();
    float complex *x = calloc(n, sizeof *x);
    sg_add_pulsatile(x, n, FS, 2600.0, 300.0, 70.0, 0.2, 1e-3, 48, 5);
    sg_add_noise(x, n, 1e-3 * pow(10.0, -snr_db / 10.0), 6);
    return x;
}

/* A real signal (the real part of a flow signal) in the left channel and
 * `gain` x the same, `delay` samples late, in the right one. */
static float complex *copied_stereo(double gain, size_t delay)
{
    size_t n = n_samples();
    float complex *x = true_iq(15.0);
    float *left = malloc(n * sizeof *left);
    for (size_t i = 0; i < n; i++) left[i] = crealf(x[i]);
    for (size_t i = 0; i < n; i++) x[i] = CMPLXF(left[i], i >= delay ? (float)gain * left[i - delay] : 0.0f);
    free(left);
    return x;
}

static dop_quadrature_result measure(const float complex *x)
{
    dop_quadrature_result q;
    assert_int_equal(dop_quadrature_measure(x, n_samples(), FS, &q, NULL), DOP_OK);
    assert_int_equal(q.checked, 1);
    print_message("ratio %.2f dB, asymmetry %.3f\n", q.channel_ratio_db, q.asymmetry);
    return q;
}

static void true_iq_is_quadrature(void **state)
{
    (void)state;
    const double snrs[] = {15.0, -5.0};
    for (int i = 0; i < 2; i++) {
        float complex *x = true_iq(snrs[i]);
        dop_quadrature_result q = measure(x);
        assert_true(q.is_quadrature);
        assert_true(q.channel_ratio_db < 3.0);
        assert_true(q.asymmetry > 3 * DOP_QUADRATURE_MIN_ASYMMETRY);
        free(x);
    }
}

static void bidirectional_flow_is_quadrature(void **state)
{
    (void)state;
    float complex *x = true_iq(15.0);
    size_t n = n_samples();
    float complex *reverse = calloc(n, sizeof *reverse);
    /* Reverse flow in early diastole: half the peak frequency, a third of the power. */
    sg_add_pulsatile(reverse, n, FS, 1300.0, 0.0, 70.0, 0.45, 3e-4, 48, 9);
    for (size_t i = 0; i < n; i++) x[i] += conjf(reverse[i]);
    dop_quadrature_result q = measure(x);
    assert_true(q.is_quadrature);
    assert_true(q.asymmetry > 2 * DOP_QUADRATURE_MIN_ASYMMETRY);
    free(reverse);
    free(x);
}

static void copied_channel_is_not_quadrature(void **state)
{
    (void)state;
    float complex *x = copied_stereo(0.1, 5);
    dop_quadrature_result q = measure(x);
    assert_false(q.is_quadrature);
    assert_true(fabs(q.channel_ratio_db - 20.0) < 0.5); /* 0.1 in amplitude */
    free(x);
    /* Silent channels and short inputs are not judged: left as I/Q. */
    float complex quiet[2048] = {0};
    dop_quadrature_result none;
    assert_int_equal(dop_quadrature_measure(quiet, 2048, FS, &none, NULL), DOP_OK);
    assert_int_equal(none.checked, 0);
    assert_int_equal(none.is_quadrature, 1);
    assert_int_equal(dop_quadrature_measure(quiet, 100, FS, &none, NULL), DOP_OK);
    assert_int_equal(none.checked, 0);
}

static void write_wav(const char *dir, const char *name, const float complex *x, char *path, size_t size)
{
    io_path_join(path, size, dir, name);
    assert_int_equal(sg_write_wav(path, x, n_samples(), FS, NULL), 0);
}

/* Only unchosen channels are checked; a copied file resolves to LEFT. */
static void resolve_only_when_unchosen(void **state)
{
    const char *dir = *state;
    char path[1024];
    float complex *x = copied_stereo(0.1, 5);
    write_wav(dir, "copied.wav", x, path, sizeof path);
    free(x);
    dop_reader_config cfg = dop_reader_config_default();
    cfg.path = path;
    dop_quadrature_result q;
    assert_int_equal(dop_quadrature_resolve(&cfg, &q, NULL), DOP_OK);
    assert_int_equal(q.checked, 1);
    assert_int_equal(cfg.channels, DOP_CHANNELS_LEFT);
    assert_true(fabs(q.analysed_s - SECONDS) < 1e-6);
    cfg.channels = DOP_CHANNELS_IQ;
    assert_int_equal(dop_quadrature_resolve(&cfg, &q, NULL), DOP_OK);
    assert_int_equal(q.checked, 0);
    assert_int_equal(cfg.channels, DOP_CHANNELS_IQ);
}

/* left / right / mono / iq read the channels they name. */
static void channel_choice(void **state)
{
    const char *dir = *state;
    char path[1024];
    float complex *x = true_iq(15.0);
    write_wav(dir, "lr.wav", x, path, sizeof path);
    const dop_channels choices[] = {DOP_CHANNELS_LEFT, DOP_CHANNELS_RIGHT, DOP_CHANNELS_MONO, DOP_CHANNELS_IQ};
    float complex got[256];
    for (int c = 0; c < 4; c++) {
        dop_reader_config cfg = dop_reader_config_default();
        cfg.path = path;
        cfg.channels = choices[c];
        dop_reader *r = NULL;
        assert_int_equal(dop_reader_open(&cfg, &r, NULL), DOP_OK);
        const dop_reader_info *info = dop_reader_get_info(r);
        assert_int_equal(info->channels, choices[c] == DOP_CHANNELS_IQ ? DOP_CHANNELS_IQ : DOP_CHANNELS_MONO);
        size_t count = 0;
        assert_int_equal(dop_reader_read(r, got, 256, &count, NULL), DOP_OK);
        assert_int_equal(count, 256);
        for (size_t i = 0; i < count; i++) {
            float complex want = choices[c] == DOP_CHANNELS_IQ      ? x[i]
                                 : choices[c] == DOP_CHANNELS_RIGHT ? CMPLXF(cimagf(x[i]), 0.0f)
                                                                    : CMPLXF(crealf(x[i]), 0.0f);
            assert_true(got[i] == want);
        }
        dop_reader_close(r);
    }
    free(x);
    assert_int_equal(dop_channels_parse("left"), DOP_CHANNELS_LEFT);
    assert_string_equal(dop_channels_name(DOP_CHANNELS_RIGHT), "right");
}

static char *run(const char *args, int want_code, char **err)
{
    char *out = NULL;
    int code = cli_run(args, NULL, &out, err);
    if (code != want_code) print_message("dopflow %s -> %d\n%s\n%s\n", args, code, out, err ? *err : "");
    assert_int_equal(code, want_code);
    return out;
}

/* info's line and analyze's note on a copied-stereo file; --channels iq forces I/Q. */
static void cli_copied_stereo(void **state)
{
    const char *dir = *state;
    char path[1024], args[2300];
    float complex *x = copied_stereo(0.1, 5);
    write_wav(dir, "copy.wav", x, path, sizeof path);
    free(x);
    char *err = NULL;
    snprintf(args, sizeof args, "info '%s'", path);
    char *out = run(args, 0, &err);
    assert_non_null(strstr(out, "quadrature:          no (channel ratio 20.0 dB, asymmetry "));
    assert_non_null(strstr(out, "analysed as mono (left channel); --channels iq forces I/Q"));
    assert_non_null(strstr(out, "mapping:             mono (left channel only"));
    free(out);
    free(err);
    snprintf(args, sizeof args, "analyze '%s' --f0 4e6 --angle 60", path);
    out = run(args, 0, &err);
    assert_non_null(strstr(err, "stereo but not a quadrature (I/Q) pair (channel ratio 20.0 dB"));
    free(out);
    free(err);
    snprintf(args, sizeof args, "analyze '%s' --f0 4e6 --angle 60 --channels iq", path);
    out = run(args, 0, &err);
    assert_null(strstr(err, "quadrature"));
    assert_null(strstr(err, "non-directional"));
    free(out);
    free(err);
    snprintf(args, sizeof args, "info '%s' --channels right", path);
    out = run(args, 0, NULL);
    assert_non_null(strstr(out, "mono (right channel only"));
    assert_null(strstr(out, "quadrature:"));
    free(out);
}

/* A simulated triphasic (bidirectional) I/Q recording, sidecar removed, is I/Q. */
static void cli_simulated_triphasic(void **state)
{
    const char *dir = *state;
    char wav[1024], json[1024], args[3000];
    io_path_join(wav, sizeof wav, dir, "brachial.wav");
    io_path_join(json, sizeof json, dir, "brachial.json");
    snprintf(args, sizeof args, "simulate '%s/datasets/examples/brachial_rest.json' -o '%s'", DOPFLOW_SOURCE_DIR, wav);
    free(run(args, 0, NULL));
    remove(json);
    snprintf(args, sizeof args, "info '%s'", wav);
    char *out = run(args, 0, NULL);
    assert_non_null(strstr(out, "quadrature:          yes (channel ratio "));
    assert_non_null(strstr(out, "mapping:             iq"));
    free(out);
}

/* A WAV cut in half, header unchanged: warned about, analysed as far as it goes. */
static void truncated_wav(void **state)
{
    const char *dir = *state;
    char wav[1024], cut[1024], args[3000];
    io_path_join(wav, sizeof wav, dir, "whole.wav");
    io_path_join(cut, sizeof cut, dir, "cut.wav");
    snprintf(args, sizeof args, "simulate '%s/datasets/examples/brachial_rest.json' -o '%s'", DOPFLOW_SOURCE_DIR, wav);
    free(run(args, 0, NULL));
    char *data = NULL;
    size_t len = 0;
    assert_int_equal(io_file_read(wav, &data, &len), 0);
    /* 44-byte header + 4 bytes per stereo frame: keep 50000 frames of 125000. */
    assert_int_equal(io_file_write(cut, data, 44 + 4 * 50000), 0);
    free(data);
    dop_reader_config cfg = dop_reader_config_default();
    cfg.path = cut;
    dop_reader *r = NULL;
    assert_int_equal(dop_reader_open(&cfg, &r, NULL), DOP_OK);
    assert_int_equal(dop_reader_get_info(r)->frames, 50000);
    assert_int_equal(dop_reader_get_info(r)->frames_promised, 125000);
    dop_reader_close(r);

    char *err = NULL;
    snprintf(args, sizeof args, "info '%s' --meta '%s/whole.json'", cut, dir);
    char *out = run(args, 0, &err);
    assert_non_null(strstr(out, "truncated:           header promises 125000 frames (10.000 s): 75000 (6.000 s) missing"));
    assert_non_null(strstr(err, "75000 samples (6.000 s) missing"));
    free(out);
    free(err);
    snprintf(args, sizeof args, "analyze '%s' --meta '%s/whole.json' --frames -", cut, dir);
    out = run(args, 0, &err);
    const char *warning = "dopflow analyze: warning: ";
    assert_non_null(strstr(err, warning));
    assert_non_null(strstr(err, "the header promises 125000 samples (10.000 s), the file holds 50000 (4.000 s): "
                                "75000 samples (6.000 s) missing"));
    assert_null(strstr(strstr(err, warning) + 1, warning)); /* one warning line */
    char *whole_err = NULL;
    snprintf(args, sizeof args, "analyze '%s' --end 4 --frames -", wav);
    char *whole = run(args, 0, &whole_err);
    assert_string_equal(out, whole); /* the part present, analysed as the whole file up to 4 s */
    assert_null(strstr(whole_err, "truncated"));
    free(whole);
    free(whole_err);
    free(out);
    free(err);
}

/* The real recordings, when present: postdive/ stereo is not I/Q, the CW cardiac file is. */
static void real_recordings(void **state)
{
    (void)state;
    DIR *d = opendir(REAL_DIR "/postdive");
    if (!d) skip();
    struct dirent *e;
    int files = 0;
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len < 4 || strcmp(e->d_name + len - 4, ".wav") != 0) continue;
        char path[2048];
        snprintf(path, sizeof path, "%s/postdive/%s", REAL_DIR, e->d_name);
        dop_reader_config cfg = dop_reader_config_default();
        cfg.path = path;
        dop_quadrature_result q;
        assert_int_equal(dop_quadrature_resolve(&cfg, &q, NULL), DOP_OK);
        print_message("%s: ratio %.1f dB, asymmetry %.3f\n", e->d_name, q.channel_ratio_db, q.asymmetry);
        assert_int_equal(q.checked, 1);
        assert_int_equal(q.is_quadrature, 0);
        assert_int_equal(cfg.channels, DOP_CHANNELS_LEFT);
        files++;
    }
    closedir(d);
    assert_true(files > 0);
    dop_reader_config cfg = dop_reader_config_default();
    cfg.path = REAL_DIR "/cardiac_cw_iq_100k.wav";
    struct stat st;
    if (stat(cfg.path, &st) != 0) return;
    dop_quadrature_result q;
    assert_int_equal(dop_quadrature_resolve(&cfg, &q, NULL), DOP_OK);
    print_message("cardiac_cw_iq_100k.wav: ratio %.1f dB, asymmetry %.3f\n", q.channel_ratio_db, q.asymmetry);
    assert_int_equal(q.is_quadrature, 1);
    assert_int_equal(cfg.channels, DOP_CHANNELS_UNSET);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(true_iq_is_quadrature),
        cmocka_unit_test(bidirectional_flow_is_quadrature),
        cmocka_unit_test(copied_channel_is_not_quadrature),
        cmocka_unit_test(resolve_only_when_unchosen),
        cmocka_unit_test(channel_choice),
        cmocka_unit_test(cli_copied_stereo),
        cmocka_unit_test(cli_simulated_triphasic),
        cmocka_unit_test(truncated_wav),
        cmocka_unit_test(real_recordings),
    };
    return cmocka_run_group_tests(tests, io_tmpdir_setup, io_tmpdir_teardown);
}

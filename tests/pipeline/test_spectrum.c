/* The spectral estimate (dsp/pipeline/spectrum.c) against theory: a tone
 * lands in its bin and the PSD integrates to the signal power (Parseval,
 * Welch scaling); frames do not depend on the push sizes; bad settings are
 * refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dopflow/spectrum.h"
#include "signal_gen.h"
#include "spectrum_capture.h"

#define FS 10000.0

/* A tone lands in its bin (fft-shifted, negative f below the middle), and
 * sum(PSD) df equals the signal power (Welch scaling). */
static void spectrum_tone_bin_and_parseval(void **state)
{
    (void)state;
    dop_spectrum_config cfg = dop_spectrum_config_default();
    cfg.fs_hz = FS;
    const double tones[] = {1250.0, -2500.0};
    for (int t = 0; t < 2; t++) {
        dop_spectrum *s = NULL;
        assert_int_equal(dop_spectrum_create(&cfg, &s, NULL), DOP_OK);
        size_t bins = dop_spectrum_bins(s), n = 2000;
        assert_int_equal(bins, 256); /* 20 ms at 10 kHz = 200 samples -> 256 */
        float complex *x = calloc(n, sizeof *x);
        sg_add_tone(x, n, FS, tones[t], 0.3);
        psd_capture c = {0};
        assert_int_equal(dop_spectrum_push(s, x, n, psd_capture_last, &c), DOP_OK);
        /* Frames every 10 ms: (2000 - 200) / 100 + 1 = 19, the last centred at 1.9 s... in samples */
        assert_int_equal(c.frames, 19);
        assert_float_equal(c.last_time, (18 * 100 + 100) / FS, 1e-12);
        size_t peak = 0;
        double total = 0.0;
        for (size_t k = 0; k < bins; k++) {
            total += c.psd[k];
            if (c.psd[k] > c.psd[peak]) peak = k;
        }
        double df = dop_spectrum_bin_hz(s);
        assert_int_equal((long)peak, (long)lround(tones[t] / df) + (long)bins / 2);
        assert_float_equal(total * df, 0.09, 0.09 * 1e-3);
        free(c.psd);
        free(x);
        dop_spectrum_destroy(s);
    }
}

static void spectrum_rejects_bad_settings(void **state)
{
    (void)state;
    dop_spectrum *s = NULL;
    dop_error err;
    dop_spectrum_config cfg = dop_spectrum_config_default();
    cfg.fs_hz = FS;
    cfg.hop_ms = 30.0; /* longer than the window */
    assert_int_equal(dop_spectrum_create(&cfg, &s, &err), DOP_ERR_INVALID_ARG);
    cfg = dop_spectrum_config_default();
    cfg.fs_hz = FS;
    cfg.fft_size = 128; /* shorter than 200 samples */
    assert_int_equal(dop_spectrum_create(&cfg, &s, &err), DOP_ERR_INVALID_ARG);
    cfg = dop_spectrum_config_default();
    cfg.fs_hz = 100.0; /* 20 ms = 2 samples */
    assert_int_equal(dop_spectrum_create(&cfg, &s, &err), DOP_ERR_INVALID_ARG);
    assert_null(s);
    dop_spectrum_destroy(NULL);
}

/* The frames do not depend on how the samples are pushed: one call or
 * blocks of 37 samples give the same PSDs bit for bit. */
static void spectrum_is_block_size_invariant(void **state)
{
    (void)state;
    dop_spectrum_config cfg = dop_spectrum_config_default();
    cfg.fs_hz = FS;
    const size_t n = 3000;
    float complex *x = calloc(n, sizeof *x);
    sg_add_noise(x, n, 1.0, 5);
    sg_add_tone(x, n, FS, 800.0, 0.5);
    dop_spectrum *whole = NULL, *blocks = NULL;
    assert_int_equal(dop_spectrum_create(&cfg, &whole, NULL), DOP_OK);
    assert_int_equal(dop_spectrum_create(&cfg, &blocks, NULL), DOP_OK);
    psd_log a = {0}, b = {0};
    assert_int_equal(dop_spectrum_push(whole, x, n, psd_log_append, &a), DOP_OK);
    for (size_t i = 0; i < n; i += 37)
        assert_int_equal(dop_spectrum_push(blocks, x + i, n - i < 37 ? n - i : 37, psd_log_append, &b), DOP_OK);
    assert_true(a.frames > 20);
    assert_int_equal(a.frames, b.frames);
    assert_memory_equal(a.psd, b.psd, a.frames * a.bins * sizeof *a.psd);
    psd_log_free(&a);
    psd_log_free(&b);
    free(x);
    dop_spectrum_destroy(whole);
    dop_spectrum_destroy(blocks);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(spectrum_tone_bin_and_parseval),
        cmocka_unit_test(spectrum_is_block_size_invariant),
        cmocka_unit_test(spectrum_rejects_bad_settings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

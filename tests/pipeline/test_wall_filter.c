/* The wall filter (dsp/pipeline/wall_filter.c) against theory: its measured
 * power response to tones equals the Butterworth formula and DC is removed;
 * its state carries across pushes of any size (block-size invariance); bad
 * settings are refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dopflow/wall_filter.h"
#include "signal_gen.h"

#define FS 10000.0

static double power_of(const float complex *x, size_t n)
{
    double sum = 0.0;
    for (size_t i = 0; i < n; i++) sum += crealf(x[i] * conjf(x[i]));
    return sum / (double)n;
}

/* Measured |H(f)|^2 of tones (after the transient) matches
 * 1 / (1 + (tan(pi fc/fs) / tan(pi f/fs))^(2N)) within 0.1 dB. */
static void wall_filter_matches_butterworth(void **state)
{
    (void)state;
    const int orders[] = {1, 2, 4, 5};
    const double freqs[] = {10.0, 25.0, 50.0, 100.0, 400.0, -100.0};
    const size_t n = 40000, settle = 20000;
    for (size_t o = 0; o < 4; o++) {
        dop_wall_filter_config cfg = dop_wall_filter_config_default();
        cfg.fs_hz = FS;
        cfg.cutoff_hz = 50.0;
        cfg.order = orders[o];
        for (size_t i = 0; i < sizeof freqs / sizeof freqs[0]; i++) {
            dop_wall_filter *wf = NULL;
            assert_int_equal(dop_wall_filter_create(&cfg, &wf, NULL), DOP_OK);
            float complex *x = calloc(n, sizeof *x);
            sg_add_tone(x, n, FS, freqs[i], 0.5);
            dop_wall_filter_push(wf, x, x, n);
            double measured = power_of(x + settle, n - settle) / 0.25;
            double k = tan(M_PI * 50.0 / FS), theory = 1.0 / (1.0 + pow(k / tan(M_PI * fabs(freqs[i]) / FS), 2.0 * orders[o]));
            assert_float_equal(dop_wall_filter_power_gain(wf, freqs[i]), theory, 1e-12);
            if (theory > 1e-6) assert_true(fabs(10.0 * log10(measured / theory)) < 0.1);
            else assert_true(measured < 1e-5);
            dop_wall_filter_destroy(wf);
            free(x);
        }
    }
    /* DC (stationary tissue) is removed completely. */
    dop_wall_filter_config cfg = dop_wall_filter_config_default();
    cfg.fs_hz = FS;
    dop_wall_filter *wf = NULL;
    assert_int_equal(dop_wall_filter_create(&cfg, &wf, NULL), DOP_OK);
    float complex *x = calloc(n, sizeof *x);
    for (size_t i = 0; i < n; i++) x[i] = 0.7f + 0.2f * I;
    dop_wall_filter_push(wf, x, x, n);
    assert_true(power_of(x + settle, n - settle) < 1e-12);
    dop_wall_filter_destroy(wf);
    free(x);
}

static void wall_filter_state_carries_across_pushes(void **state)
{
    (void)state;
    const size_t n = 5000;
    float complex *x = calloc(n, sizeof *x), *a = calloc(n, sizeof *a), *b = calloc(n, sizeof *b);
    sg_add_noise(x, n, 1.0, 3);
    dop_wall_filter_config cfg = dop_wall_filter_config_default();
    cfg.fs_hz = FS;
    dop_wall_filter *wf = NULL;
    assert_int_equal(dop_wall_filter_create(&cfg, &wf, NULL), DOP_OK);
    dop_wall_filter_push(wf, x, a, n);
    dop_wall_filter_reset(wf);
    for (size_t i = 0; i < n; i += 7) dop_wall_filter_push(wf, x + i, b + i, n - i < 7 ? n - i : 7);
    assert_memory_equal(a, b, n * sizeof *a);
    dop_wall_filter_destroy(wf);
    free(x);
    free(a);
    free(b);
}

static void wall_filter_rejects_bad_settings(void **state)
{
    (void)state;
    dop_wall_filter_config cfg = dop_wall_filter_config_default();
    dop_wall_filter *wf = NULL;
    dop_error err;
    cfg.fs_hz = 1000.0;
    cfg.cutoff_hz = 900.0;
    assert_int_equal(dop_wall_filter_create(&cfg, &wf, &err), DOP_ERR_INVALID_ARG);
    assert_non_null(strstr(err.message, "900 Hz"));
    assert_non_null(strstr(err.message, "500 Hz"));
    cfg.cutoff_hz = 50.0;
    cfg.order = 0;
    assert_int_equal(dop_wall_filter_create(&cfg, &wf, &err), DOP_ERR_INVALID_ARG);
    cfg.order = 4;
    cfg.fs_hz = 0.0;
    assert_int_equal(dop_wall_filter_create(&cfg, &wf, &err), DOP_ERR_INVALID_ARG);
    assert_null(wf);
    dop_wall_filter_destroy(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(wall_filter_matches_butterworth),
        cmocka_unit_test(wall_filter_state_carries_across_pushes),
        cmocka_unit_test(wall_filter_rejects_bad_settings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* The noise floor (dsp/pipeline/noise_floor.c) against theory: white noise
 * of power P has PSD P / fs, found within 5 % under a strong flow band;
 * bad settings are refused. (tests/pipeline/test_equivalence.c checks its
 * fast path against the plain estimate.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dopflow/noise_floor.h"
#include "dopflow/spectrum.h"
#include "signal_gen.h"
#include "spectrum_capture.h"

#define FS 10000.0

/* White noise of power P has PSD P / fs; the tracked floor finds it within
 * 5% even with a strong flow band over 20% of the bins. */
static void noise_floor_of_white_noise(void **state)
{
    (void)state;
    dop_spectrum_config scfg = dop_spectrum_config_default();
    scfg.fs_hz = FS;
    dop_spectrum *s = NULL;
    assert_int_equal(dop_spectrum_create(&scfg, &s, NULL), DOP_OK);
    dop_noise_floor_config ncfg = dop_noise_floor_config_default();
    ncfg.frame_rate_hz = dop_spectrum_frame_rate(s);
    dop_noise_floor *nf = NULL;
    assert_int_equal(dop_noise_floor_create(&ncfg, dop_spectrum_bins(s), NULL, &nf, NULL), DOP_OK);
    const size_t n = (size_t)(5 * FS);
    const double noise_power = 1e-4;
    float complex *x = calloc(n, sizeof *x);
    sg_add_noise(x, n, noise_power, 17);
    sg_add_band(x, n, FS, 500.0, 2500.0, 1e-2, 200, 4);
    psd_capture c = {0};
    double level = 0.0;
    for (size_t i = 0; i + 100 <= n; i += 100) {
        assert_int_equal(dop_spectrum_push(s, x + i, 100, psd_capture_last, &c), DOP_OK);
        if (c.psd) level = dop_noise_floor_push(nf, c.psd);
    }
    double truth = noise_power / FS;
    print_message("noise floor %.4g, truth %.4g (%+.1f%%)\n", level, truth, 100.0 * (level / truth - 1.0));
    assert_true(fabs(level / truth - 1.0) < 0.05);
    free(c.psd);
    free(x);
    dop_noise_floor_destroy(nf);
    dop_spectrum_destroy(s);
}

static void noise_floor_rejects_bad_settings(void **state)
{
    (void)state;
    dop_noise_floor *nf = NULL;
    dop_noise_floor_config ncfg = dop_noise_floor_config_default();
    ncfg.frame_rate_hz = 100.0;
    ncfg.quantile = 0.9;
    assert_int_equal(dop_noise_floor_create(&ncfg, 256, NULL, &nf, NULL), DOP_ERR_INVALID_ARG);
    assert_null(nf);
    dop_noise_floor_destroy(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(noise_floor_of_white_noise),
        cmocka_unit_test(noise_floor_rejects_bad_settings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

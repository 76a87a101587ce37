/* The envelopes (dsp/pipeline/envelope.c) against a spectrum with a known
 * answer: each maximum-frequency method finds the edge of a flat forward
 * band and the mean frequency its middle; noise alone has no flow; bad
 * settings are refused. (tests/pipeline/test_analysis.c checks the
 * envelopes through the whole analysis.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dopflow/envelope.h"

#define FS 10000.0

/* Each fmax method finds the edge of a flat forward band [0, 2 kHz] within
 * 4 bins; no method reports reverse flow that is not there. */
static void fmax_methods_find_band_edge(void **state)
{
    (void)state;
    const size_t bins = 256;
    const double df = FS / bins, fmax = 2000.0, noise = 1.0;
    float *psd = calloc(bins, sizeof *psd);
    /* An expected spectrum: noise 1 everywhere, blood 20 per bin up to fmax. */
    for (size_t k = 0; k < bins; k++) {
        double f = ((double)k - bins / 2.0) * df;
        psd[k] = (float)(noise + (f > 0 && f <= fmax ? 20.0 : 0.0));
    }
    const dop_fmax_method methods[] = {DOP_FMAX_MGM, DOP_FMAX_PERCENTILE, DOP_FMAX_THRESHOLD};
    for (int m = 0; m < 3; m++) {
        dop_envelope_config cfg = dop_envelope_config_default();
        cfg.bins = bins;
        cfg.bin_hz = df;
        cfg.method = methods[m];
        cfg.percentile = 0.99;
        dop_envelope *env = NULL;
        assert_int_equal(dop_envelope_create(&cfg, &env, NULL), DOP_OK);
        dop_envelope_result r;
        dop_envelope_push(env, psd, noise, &r);
        print_message("method %d: fmax %.0f Hz (true %.0f), fmean %.0f Hz (true %.0f)\n", m, r.fmax_forward_hz, fmax,
                      r.fmean_hz, fmax / 2);
        assert_true(fabs(r.fmax_forward_hz - fmax) <= 4 * df);
        assert_float_equal(r.fmax_reverse_hz, 0.0, 0.0);
        assert_true(fabs(r.fmean_hz - fmax / 2) <= 0.02 * fmax / 2);
        assert_true(r.has_signal);
        dop_envelope_destroy(env);
    }
    /* Noise alone: no flow on either side. */
    for (size_t k = 0; k < bins; k++) psd[k] = (float)noise;
    dop_envelope_config cfg = dop_envelope_config_default();
    cfg.bins = bins;
    cfg.bin_hz = df;
    dop_envelope *env = NULL;
    assert_int_equal(dop_envelope_create(&cfg, &env, NULL), DOP_OK);
    dop_envelope_result r;
    dop_envelope_push(env, psd, noise, &r);
    assert_false(r.has_signal);
    assert_float_equal(r.fmean_hz, 0.0, 0.0);
    dop_envelope_destroy(env);
    free(psd);
}

static void envelope_rejects_bad_settings(void **state)
{
    (void)state;
    dop_envelope *env = NULL;
    dop_envelope_config ecfg = dop_envelope_config_default();
    ecfg.bins = 7;
    ecfg.bin_hz = 10.0;
    assert_int_equal(dop_envelope_create(&ecfg, &env, NULL), DOP_ERR_INVALID_ARG);
    ecfg.bins = 256;
    ecfg.percentile = 1.5;
    assert_int_equal(dop_envelope_create(&ecfg, &env, NULL), DOP_ERR_INVALID_ARG);
    assert_null(env);
    dop_envelope_destroy(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fmax_methods_find_band_edge),
        cmocka_unit_test(envelope_rejects_bad_settings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* The envelopes (dsp/pipeline/envelope.c) against a spectrum with a known
 * answer: each maximum-frequency method finds the edge of a flat forward
 * band and the mean frequency its middle; noise alone has no flow; clutter
 * beyond the wall cutoff does not pull the mean (the clutter band); bad
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
#include "dopflow/wall_filter.h"

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

/* Expected spectrum of one frame behind a 50 Hz order-4 wall filter: noise
 * 1 per bin, blood flat at 20 per bin over (0, band_hz] (parabolic flow,
 * true mean band_hz / 2) and, when clutter_power > 0, a Gaussian clutter lump at
 * 0 Hz (rms width 80 Hz: kneading massage, reaching well beyond the
 * cutoff) of that total power before the filter. */
static void blood_and_clutter(float *psd, double *gain, size_t bins, double df, double band_hz, double clutter_power)
{
    dop_wall_filter_config wc = dop_wall_filter_config_default();
    wc.fs_hz = FS;
    dop_wall_filter *wf = NULL;
    assert_int_equal(dop_wall_filter_create(&wc, &wf, NULL), DOP_OK);
    const double sigma = 80.0;
    for (size_t k = 0; k < bins; k++) {
        double f = ((double)k - bins / 2.0) * df;
        gain[k] = dop_wall_filter_power_gain(wf, f);
        double blood = f > 0 && f <= band_hz ? 20.0 : 0.0;
        double clutter = clutter_power * df / (sqrt(2.0 * M_PI) * sigma) * exp(-0.5 * f * f / (sigma * sigma));
        psd[k] = (float)(1.0 + gain[k] * (blood + clutter));
    }
    dop_wall_filter_destroy(wf);
}

/* Clutter beyond the wall filter's cutoff (most of it at 50-250 Hz) must
 * not pull the mean toward 0 Hz: the clutter band follows it and is
 * refilled from the passband (clutter_band.h). After 200 clean frames (the
 * typical blood power), a clutter frame reads the mean within 10 % of the
 * clean frame's:
 *  - blood to 1 kHz, clutter 10 x its power: -8 % (the lump's tail beyond
 *    the band raises the refill level); -55 % without the clutter band;
 *  - blood to 2.5 kHz, clutter 7 x its power: the knee of the integrated
 *    spectrum falls at the clutter's edge, so the mean's flow band must be
 *    found again on the refilled spectrum: -7 %; -90 % without that. */
static void clutter_band_keeps_mean_velocity(void **state)
{
    (void)state;
    const size_t bins = 256;
    const double df = FS / bins;
    const double band_hz[] = {1000.0, 2500.0}, ratio[] = {10.0, 7.0}; /* clutter power / blood power */
    for (int i = 0; i < 2; i++) {
        float *clean = calloc(bins, sizeof *clean), *cluttered = calloc(bins, sizeof *cluttered);
        double *gain = calloc(bins, sizeof *gain);
        blood_and_clutter(cluttered, gain, bins, df, band_hz[i], ratio[i] * 20.0 * band_hz[i] / df);
        blood_and_clutter(clean, gain, bins, df, band_hz[i], 0.0);
        dop_envelope_config cfg = dop_envelope_config_default();
        cfg.bins = bins;
        cfg.bin_hz = df;
        cfg.gain = gain;
        dop_envelope *env = NULL;
        assert_int_equal(dop_envelope_create(&cfg, &env, NULL), DOP_OK);
        dop_envelope_result r0, r1, r2;
        for (int f = 0; f < 200; f++) dop_envelope_push(env, clean, 1.0, &r0);
        dop_envelope_push(env, cluttered, 1.0, &r1);
        print_message("blood to %.0f Hz, clutter %.0f x: mean %.1f Hz clean, %.1f Hz with clutter (%+.1f%%)\n",
                      band_hz[i], ratio[i], r0.fmean_hz, r1.fmean_hz, 100.0 * (r1.fmean_hz / r0.fmean_hz - 1.0));
        assert_true(fabs(r0.fmean_hz - band_hz[i] / 2.0) < 0.03 * band_hz[i] / 2.0);
        assert_true(fabs(r1.fmean_hz / r0.fmean_hz - 1.0) < 0.10);
        /* The next clean frame reads the clean mean again (the trackers
         * are the only state, and one frame barely moves them). */
        dop_envelope_push(env, clean, 1.0, &r2);
        assert_float_equal(r2.fmean_hz, r0.fmean_hz, 1e-9 * r0.fmean_hz);
        dop_envelope_destroy(env);
        free(clean);
        free(cluttered);
        free(gain);
    }
}

/* A lump of clutter as strong as the blood (kneading under a probe held
 * still) in systole, where the blood's own band is intact beyond it: from
 * the second such frame running the mean reads within 10 % of the clean
 * frame's (-9 %: the lump's tail beyond the band raises the refill level,
 * as in the test above). The first frame reads -42 %, as every such frame
 * did before the rule (a band was clutter only above twice the typical
 * blood power, and this lump holds less beyond the wall filter's gap). A
 * diastolic frame (the same blood power squeezed into 0-200 Hz, so that
 * little of it lies beyond the lump) is not clutter: its mean is the one a
 * fresh envelope, which has no typical power to compare with, reads. */
static void small_clutter_lump_in_systole(void **state)
{
    (void)state;
    const size_t bins = 256;
    const double df = FS / bins, band_hz = 2500.0;
    float *clean = calloc(bins, sizeof *clean), *lump = calloc(bins, sizeof *lump);
    float *diastole = calloc(bins, sizeof *diastole);
    double *gain = calloc(bins, sizeof *gain);
    blood_and_clutter(clean, gain, bins, df, band_hz, 0.0);
    blood_and_clutter(lump, gain, bins, df, band_hz, 1.0 * 20.0 * band_hz / df);
    for (size_t k = 0; k < bins; k++) { /* 20 per bin over 2.5 kHz = 250 per bin over 200 Hz */
        double f = ((double)k - bins / 2.0) * df;
        diastole[k] = (float)(1.0 + gain[k] * (f > 0 && f <= 200.0 ? 20.0 * band_hz / 200.0 : 0.0));
    }
    dop_envelope_config cfg = dop_envelope_config_default();
    cfg.bins = bins;
    cfg.bin_hz = df;
    cfg.gain = gain;
    dop_envelope *env = NULL, *fresh = NULL;
    assert_int_equal(dop_envelope_create(&cfg, &env, NULL), DOP_OK);
    assert_int_equal(dop_envelope_create(&cfg, &fresh, NULL), DOP_OK);
    dop_envelope_result r0, r1, r2, rd, rf;
    for (int f = 0; f < 200; f++) dop_envelope_push(env, clean, 1.0, &r0);
    dop_envelope_push(env, lump, 1.0, &r1);
    dop_envelope_push(env, lump, 1.0, &r2);
    print_message("clutter lump 1 x the blood: mean %.1f Hz clean, %.1f Hz first frame, %.1f Hz second (%+.1f%%)\n",
                  r0.fmean_hz, r1.fmean_hz, r2.fmean_hz, 100.0 * (r2.fmean_hz / r0.fmean_hz - 1.0));
    assert_true(fabs(r2.fmean_hz / r0.fmean_hz - 1.0) < 0.10);
    /* The beat detector's mean keeps the fixed band: the clutter's pull
     * stays in it (the first frame's value), and a clean frame's is the mean. */
    assert_float_equal(r2.fmean_fixed_hz, r1.fmean_hz, 1e-9 * r1.fmean_hz);
    assert_float_equal(r0.fmean_fixed_hz, r0.fmean_hz, 0.0);
    for (int f = 0; f < 200; f++) dop_envelope_push(env, clean, 1.0, &r0);
    dop_envelope_push(env, diastole, 1.0, &rd);
    dop_envelope_push(env, diastole, 1.0, &rd);
    dop_envelope_push(fresh, diastole, 1.0, &rf);
    print_message("diastole: mean %.1f Hz after systole, %.1f Hz fresh\n", rd.fmean_hz, rf.fmean_hz);
    assert_float_equal(rd.fmean_hz, rf.fmean_hz, 1e-9 * rf.fmean_hz);
    dop_envelope_destroy(env);
    dop_envelope_destroy(fresh);
    free(clean);
    free(lump);
    free(diastole);
    free(gain);
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
        cmocka_unit_test(clutter_band_keeps_mean_velocity),
        cmocka_unit_test(small_clutter_lump_in_systole),
        cmocka_unit_test(envelope_rejects_bad_settings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

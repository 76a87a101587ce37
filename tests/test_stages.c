/* Stage-by-stage checks against theory: the wall filter's measured power
 * response equals the Butterworth formula; the STFT puts a tone in its bin
 * and its PSD integrates to the signal power (Parseval); the noise floor of
 * white noise comes out at its true level; each maximum-frequency method
 * finds the edge of a flat spectrum; every create rejects bad settings. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dopflow/clutter_band.h"
#include "dopflow/envelope.h"
#include "dopflow/noise_floor.h"
#include "dopflow/spectrum.h"
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

typedef struct psd_capture {
    float *psd;
    size_t bins, frames;
    double last_time;
} psd_capture;

static int capture_psd(const dop_spectrum_frame *f, void *user)
{
    psd_capture *c = user;
    if (!c->psd) c->psd = calloc(f->bins, sizeof *c->psd);
    c->bins = f->bins;
    memcpy(c->psd, f->psd, f->bins * sizeof *c->psd);
    c->frames++;
    c->last_time = f->time_s;
    return 0;
}

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
        assert_int_equal(dop_spectrum_push(s, x, n, capture_psd, &c), DOP_OK);
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
        assert_int_equal(dop_spectrum_push(s, x + i, 100, capture_psd, &c), DOP_OK);
        if (c.psd) level = dop_noise_floor_update(nf, c.psd);
    }
    double truth = noise_power / FS;
    print_message("noise floor %.4g, truth %.4g (%+.1f%%)\n", level, truth, 100.0 * (level / truth - 1.0));
    assert_true(fabs(level / truth - 1.0) < 0.05);
    free(c.psd);
    free(x);
    dop_noise_floor_destroy(nf);
    dop_spectrum_destroy(s);
}

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
        dop_envelope_compute(env, psd, noise, &r);
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
    dop_envelope_compute(env, psd, noise, &r);
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
        for (int f = 0; f < 200; f++) dop_envelope_compute(env, clean, 1.0, &r0);
        dop_envelope_compute(env, cluttered, 1.0, &r1);
        print_message("blood to %.0f Hz, clutter %.0f x: mean %.1f Hz clean, %.1f Hz with clutter (%+.1f%%)\n",
                      band_hz[i], ratio[i], r0.fmean_hz, r1.fmean_hz, 100.0 * (r1.fmean_hz / r0.fmean_hz - 1.0));
        assert_true(fabs(r0.fmean_hz - band_hz[i] / 2.0) < 0.03 * band_hz[i] / 2.0);
        assert_true(fabs(r1.fmean_hz / r0.fmean_hz - 1.0) < 0.10);
        /* The next clean frame reads the clean mean again (the trackers
         * are the only state, and one frame barely moves them). */
        dop_envelope_compute(env, clean, 1.0, &r2);
        assert_float_equal(r2.fmean_hz, r0.fmean_hz, 1e-9 * r0.fmean_hz);
        dop_envelope_destroy(env);
        free(clean);
        free(cluttered);
        free(gain);
    }
}

/* The clutter band's edge: over a Gaussian lump on a flat blood level the
 * walk stops where the lump falls to 4 x the level beyond, plus one bin;
 * on the flat level alone it does not move. */
static void clutter_band_edge_follows_lump(void **state)
{
    (void)state;
    const size_t bins = 64, centre = 32;
    double w[64];
    for (size_t k = 0; k < bins; k++) {
        double j = (double)k - (double)centre;
        w[k] = 10.0 + 1000.0 * exp(-0.5 * j * j / 4.0); /* rms width 2 bins */
    }
    /* pair means: bin 4: (10 + 135 + 10 + 44) / 2 = 99.6 > 40; bin 5: (54 + 14) / 2 = 34 < 40 */
    assert_int_equal(dop_clutter_band_edge(w, bins, centre, centre + 2, +1, 16, 4.0, INFINITY), centre + 5);
    assert_int_equal(dop_clutter_band_edge(w, bins, centre, centre - 2, -1, 16, 4.0, INFINITY), centre - 5);
    for (size_t k = 0; k < bins; k++) w[k] = 10.0;
    assert_int_equal(dop_clutter_band_edge(w, bins, centre, centre + 2, +1, 16, 4.0, INFINITY), centre + 1);
    /* the limit: every bin above it is clutter, up to max_bins */
    assert_int_equal(dop_clutter_band_edge(w, bins, centre, centre + 2, +1, 16, 4.0, 5.0), centre + 16);
    /* the refill: each side its own passband level, never below the floor */
    dop_clutter_band_levels m;
    for (size_t k = 0; k < centre; k++) w[k] = 1.0;
    dop_clutter_band_model(w, bins, centre - 3, centre + 3, 2, &m);
    dop_clutter_band_refill(w, centre, &m, 2.0);
    assert_float_equal(w[centre + 1], 10.0, 0.0);
    assert_float_equal(w[centre - 1], 2.0, 0.0);
    assert_float_equal(w[centre], 6.0, 0.0);
}

static void stage_creates_reject_bad_settings(void **state)
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
    dop_noise_floor *nf = NULL;
    dop_noise_floor_config ncfg = dop_noise_floor_config_default();
    ncfg.frame_rate_hz = 100.0;
    ncfg.quantile = 0.9;
    assert_int_equal(dop_noise_floor_create(&ncfg, 256, NULL, &nf, NULL), DOP_ERR_INVALID_ARG);
    assert_null(env);
    assert_null(nf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(wall_filter_matches_butterworth),
        cmocka_unit_test(wall_filter_state_carries_across_pushes),
        cmocka_unit_test(wall_filter_rejects_bad_settings),
        cmocka_unit_test(spectrum_tone_bin_and_parseval),
        cmocka_unit_test(spectrum_rejects_bad_settings),
        cmocka_unit_test(noise_floor_of_white_noise),
        cmocka_unit_test(fmax_methods_find_band_edge),
        cmocka_unit_test(clutter_band_keeps_mean_velocity),
        cmocka_unit_test(clutter_band_edge_follows_lump),
        cmocka_unit_test(stage_creates_reject_bad_settings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

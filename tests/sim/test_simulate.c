/* dopflow simulate: the physics of the generated signal.
 *
 * Every check compares the simulated samples with what the geometry and
 * the Doppler equation imply, measured independently here with a Welch
 * periodogram (FFTW), not with the simulator's own numbers. */
#include <complex.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <fftw3.h>

#include "dopflow/simulate.h"
#include "sim_util.h"

/* Doppler shift of velocity v (cm/s). */
static double doppler_hz(const dop_sim_config *c, double v_cm_s)
{
    return 2.0 * c->f0_hz * (v_cm_s / 100.0) * cos(c->angle_deg * M_PI / 180.0) / c->c_m_s;
}

/* A steady, clean recording: constant velocity, no HRV, nothing added. */
static dop_sim_config steady_config(double mean_cm_s, dop_sim_profile profile, double n)
{
    dop_sim_config c = dop_sim_config_default();
    c.duration_s = 4.0;
    c.profile = profile;
    c.profile_n = n;
    dop_sim_waveform_builtin("constant", &c.rest.waveform, NULL);
    c.rest.mean_velocity_cm_s = mean_cm_s;
    c.after = c.rest;
    c.hrv_percent = 0.0;
    c.rsa_percent = 0.0;
    return c;
}

/* Power-weighted mean frequency over the two-sided spectrum, Hz. */
static double mean_frequency(const double *psd, size_t nfft, double fs)
{
    double num = 0.0, den = 0.0;
    for (size_t k = 0; k < nfft; k++) {
        num += sim_util_bin_hz(k, nfft, fs) * psd[k];
        den += psd[k];
    }
    return num / den;
}

/* Frequency below which `fraction` of the positive-side power lies. */
static double positive_quantile(const double *psd, size_t nfft, double fs, double fraction)
{
    double total = 0.0, acc = 0.0;
    for (size_t k = 0; k < nfft / 2; k++) total += psd[k];
    for (size_t k = 0; k < nfft / 2; k++) {
        acc += psd[k];
        if (acc >= fraction * total) return sim_util_bin_hz(k, nfft, fs);
    }
    return fs / 2.0;
}

static double power_of(const float complex *x, size_t n)
{
    double p = 0.0;
    for (size_t i = 0; i < n; i++) p += (double)crealf(x[i]) * crealf(x[i]) + (double)cimagf(x[i]) * cimagf(x[i]);
    return p / (double)n;
}

/* Plug flow at 30 cm/s: every scatterer at one velocity; the spectrum's
 * mean and peak sit at 2 f0 v cos / c (974 Hz here), within 1 %. */
static void test_plug_mean_frequency_is_doppler_shift(void **state)
{
    (void)state;
    dop_sim_config c = steady_config(30.0, DOP_SIM_PROFILE_PLUG, 2.0);
    size_t n;
    float complex *x = sim_util_generate(&c, &n);
    size_t nfft = 2048;
    double *psd = sim_util_welch(x, n, nfft);
    double expected = doppler_hz(&c, 30.0);
    double fmean = mean_frequency(psd, nfft, c.fs_hz);
    assert_true(fabs(fmean - expected) < 0.01 * expected);
    size_t kmax = 0;
    for (size_t k = 1; k < nfft; k++)
        if (psd[k] > psd[kmax]) kmax = k;
    assert_true(fabs(sim_util_bin_hz(kmax, nfft, c.fs_hz) - expected) < 3.0 * c.fs_hz / (double)nfft + 0.05 * expected);
    /* Unit blood power before scaling. */
    assert_true(fabs(power_of(x, n) - 1.0) < 0.05);
    free(psd);
    free(x);
}

/* Parabolic profile: truth mean = centreline / 2; the spectrum is flat from
 * 0 to the centreline shift, its mean at the shift of the spatial mean. */
static void test_parabolic_profile(void **state)
{
    (void)state;
    dop_sim_config c = steady_config(20.0, DOP_SIM_PROFILE_PARABOLIC, 2.0);
    dop_sim *sim = NULL;
    assert_int_equal(dop_sim_create(&c, &sim, NULL), DOP_OK);
    size_t rows;
    const dop_sim_truth_row *r = dop_sim_truth(sim, &rows);
    assert_true(rows == 400);
    for (size_t i = 0; i < rows; i++) {
        assert_true(fabs(r[i].mean_velocity_cm_s - 20.0) < 1e-9);
        assert_true(fabs(r[i].centreline_velocity_cm_s - 40.0) < 1e-9);
    }
    dop_sim_destroy(sim);

    size_t n;
    float complex *x = sim_util_generate(&c, &n);
    size_t nfft = 2048;
    double *psd = sim_util_welch(x, n, nfft);
    double f_mean = doppler_hz(&c, 20.0), f_centre = doppler_hz(&c, 40.0);
    assert_true(fabs(mean_frequency(psd, nfft, c.fs_hz) - f_mean) < 0.02 * f_mean);
    double edge = positive_quantile(psd, nfft, c.fs_hz, 0.99);
    assert_true(edge > 0.95 * f_centre && edge < 1.15 * f_centre);
    /* Uniform area over velocity: equal power in three equal bands inside (0.1, 0.9) fc. */
    double band[3] = {0, 0, 0};
    for (size_t k = 0; k < nfft / 2; k++) {
        double f = sim_util_bin_hz(k, nfft, c.fs_hz) / f_centre;
        if (f > 0.1 && f < 0.9) band[(int)((f - 0.1) / (0.8 / 3.0))] += psd[k];
    }
    double avg = (band[0] + band[1] + band[2]) / 3.0;
    for (int b = 0; b < 3; b++) assert_true(fabs(band[b] - avg) < 0.1 * avg);
    free(psd);
    free(x);
}

/* Blunt power-law profile n = 6: mean = 3/4 of the centreline velocity. */
static void test_blunt_profile(void **state)
{
    (void)state;
    dop_sim_config c = steady_config(30.0, DOP_SIM_PROFILE_POWER_LAW, 6.0);
    assert_true(fabs(dop_sim_profile_mean_ratio(&c) - 0.75) < 1e-12);
    dop_sim *sim = NULL;
    assert_int_equal(dop_sim_create(&c, &sim, NULL), DOP_OK);
    size_t rows;
    const dop_sim_truth_row *r = dop_sim_truth(sim, &rows);
    assert_true(fabs(r[10].centreline_velocity_cm_s - 40.0) < 1e-9);
    dop_sim_destroy(sim);
    size_t n;
    float complex *x = sim_util_generate(&c, &n);
    double *psd = sim_util_welch(x, n, 2048);
    double f_mean = doppler_hz(&c, 30.0);
    assert_true(fabs(mean_frequency(psd, 2048, c.fs_hz) - f_mean) < 0.02 * f_mean);
    /* Most of the area moves near the centreline: the median is above the mean. */
    assert_true(positive_quantile(psd, 2048, c.fs_hz, 0.5) > f_mean);
    free(psd);
    free(x);
}

/* Reverse flow: negative frequencies, mean at the (negative) shift. */
static void test_reverse_flow_is_negative(void **state)
{
    (void)state;
    dop_sim_config c = steady_config(-15.0, DOP_SIM_PROFILE_PARABOLIC, 2.0);
    size_t n;
    float complex *x = sim_util_generate(&c, &n);
    size_t nfft = 2048;
    double *psd = sim_util_welch(x, n, nfft);
    double expected = doppler_hz(&c, -15.0);
    assert_true(expected < 0.0);
    assert_true(fabs(mean_frequency(psd, nfft, c.fs_hz) - expected) < 0.02 * fabs(expected));
    double neg = 0.0, total = 0.0;
    for (size_t k = 0; k < nfft; k++) {
        total += psd[k];
        if (sim_util_bin_hz(k, nfft, c.fs_hz) < 0.0) neg += psd[k];
    }
    assert_true(neg > 0.95 * total);
    free(psd);
    free(x);
}

/* Above Nyquist the shift wraps: 1.3 x Nyquist velocity reads as -0.7. */
static void test_aliasing_wraps(void **state)
{
    (void)state;
    dop_sim_config c = steady_config(0.0, DOP_SIM_PROFILE_PLUG, 2.0);
    c.rest.mean_velocity_cm_s = 1.3 * dop_sim_nyquist_cm_s(&c);
    c.after = c.rest;
    size_t n;
    float complex *x = sim_util_generate(&c, &n);
    double *psd = sim_util_welch(x, n, 2048);
    double expected = -0.7 * c.fs_hz / 2.0;
    assert_true(fabs(mean_frequency(psd, 2048, c.fs_hz) - expected) < 0.03 * fabs(expected));
    free(psd);
    free(x);
}

/* Truth files agree with themselves: flow = v pi D^2/4 x 60, epoch truth =
 * the mean of its 10 ms rows, a whole-beat average = the target level. */
static void test_truth_consistency(void **state)
{
    (void)state;
    dop_sim_config c = dop_sim_config_default();
    c.duration_s = 30.0;
    c.diameter_mm = 3.8;
    c.rest.mean_velocity_cm_s = 5.77;
    c.has_event = 1;
    c.onset_s = 10.0;
    c.after = c.rest;
    dop_sim_waveform_builtin("exercise", &c.after.waveform, NULL);
    c.after.mean_velocity_cm_s = 18.0;
    c.after.heart_rate_bpm = 80.0;
    c.tau_s = c.tau_shape_s = 2.0;
    dop_sim *sim = NULL;
    assert_int_equal(dop_sim_create(&c, &sim, NULL), DOP_OK);
    size_t rows, nb;
    const dop_sim_truth_row *r = dop_sim_truth(sim, &rows);
    const dop_sim_beat *beats = dop_sim_beats(sim, &nb);
    assert_int_equal(rows, 3000);
    double area = M_PI * 0.19 * 0.19;
    for (size_t i = 0; i < rows; i++) {
        assert_true(fabs(r[i].flow_ml_min - r[i].mean_velocity_cm_s * area * 60.0) < 1e-9 * (1.0 + fabs(r[i].flow_ml_min)));
        assert_true(fabs(r[i].time_s - (0.005 + 0.01 * (double)i)) < 1e-9);
    }
    /* Epoch [2, 7) s: the mean of rows 200..699. */
    dop_sim_epoch_result e;
    assert_int_equal(dop_sim_epoch_truth(sim, "x", 2.0, 7.0, &e, NULL), DOP_OK);
    double sv = 0.0, shr = 0.0;
    for (size_t i = 200; i < 700; i++) sv += r[i].mean_velocity_cm_s, shr += r[i].heart_rate_bpm;
    assert_true(fabs(e.mean_velocity_cm_s - sv / 500.0) < 1e-9 * fabs(sv));
    assert_true(fabs(e.heart_rate_bpm - shr / 500.0) < 1e-6);
    assert_true(fabs(e.tamax_cm_s - 2.0 * e.mean_velocity_cm_s) < 1e-9);
    assert_true(fabs(e.flow_ml_min - e.mean_velocity_cm_s * area * 60.0) < 1e-9);
    /* Whole resting beats average to the target (template mean 1 per beat). */
    size_t first = 0, last = 0;
    for (size_t k = 0; k < nb; k++) {
        if (beats[k].start_s < 0.5) first = k + 1;
        if (beats[k].end_s < 9.5) last = k;
    }
    assert_true(last > first + 5);
    assert_int_equal(dop_sim_epoch_truth(sim, "rest", beats[first].start_s, beats[last].end_s, &e, NULL), DOP_OK);
    assert_true(fabs(e.mean_velocity_cm_s - 5.77) < 0.01 * 5.77);
    /* Five time constants after onset the level is the exercise target. */
    for (size_t k = 0; k < nb; k++)
        if (beats[k].start_s > 21.0) {
            first = k;
            break;
        }
    last = first + 6;
    assert_true(last < nb && beats[last].end_s < 30.0);
    assert_int_equal(dop_sim_epoch_truth(sim, "ex", beats[first].start_s, beats[last].end_s, &e, NULL), DOP_OK);
    assert_true(fabs(e.mean_velocity_cm_s - 18.0) < 0.01 * 18.0);
    assert_true(fabs(e.heart_rate_bpm - 80.0) < 0.03 * 80.0);
    /* Pulsatile triphasic: reverse flow in early diastole. */
    double vmin = 0.0;
    for (size_t i = 0; i < 1000; i++) vmin = fmin(vmin, r[i].mean_velocity_cm_s);
    assert_true(vmin < -0.5);
    dop_sim_destroy(sim);
}

/* Beat-to-beat variability: RR scatter and mean heart rate as specified. */
static void test_heart_rate_variability(void **state)
{
    (void)state;
    dop_sim_config c = dop_sim_config_default();
    c.duration_s = 120.0;
    c.rest.heart_rate_bpm = 90.0;
    c.hrv_percent = 4.0;
    c.rsa_percent = 0.0;
    dop_sim *sim = NULL;
    assert_int_equal(dop_sim_create(&c, &sim, NULL), DOP_OK);
    size_t nb;
    const dop_sim_beat *b = dop_sim_beats(sim, &nb);
    assert_true(nb > 170 && nb < 190);
    double s = 0.0, s2 = 0.0;
    for (size_t k = 0; k < nb; k++) {
        double rr = b[k].end_s - b[k].start_s;
        s += rr, s2 += rr * rr;
        if (k) assert_true(fabs(b[k].start_s - b[k - 1].end_s) < 1e-12);
    }
    double mean = s / (double)nb, sd = sqrt(s2 / (double)nb - mean * mean);
    assert_true(fabs(60.0 / mean - 90.0) < 1.0);
    assert_true(sd / mean > 0.03 && sd / mean < 0.05);
    dop_sim_destroy(sim);
}

/* Noise power re blood power matches the SNR; clutter power matches the
 * clutter-to-blood ratio and stays below 30 Hz. Each component alone, same
 * seed (independent random streams). */
static void test_snr_and_clutter_levels(void **state)
{
    (void)state;
    dop_sim_config c = dop_sim_config_default();
    c.duration_s = 8.0;
    c.snr_db = 12.0;
    c.clutter_db = 35.0;
    c.wall_velocity_mm_s = 3.0;
    dop_sim_config blood = c, noise = c, clutter = c;
    blood.noise = blood.clutter = 0;
    noise.blood = noise.clutter = 0;
    clutter.blood = clutter.noise = 0;
    size_t n;
    float complex *xb = sim_util_generate(&blood, &n), *xn = sim_util_generate(&noise, &n), *xc = sim_util_generate(&clutter, &n);
    double pb = power_of(xb, n), pn = power_of(xn, n), pc = power_of(xc, n);
    assert_true(fabs(10.0 * log10(pb / pn) - 12.0) < 0.5);
    assert_true(fabs(10.0 * log10(pc / pb) - 35.0) < 0.5);
    size_t nfft = 4096;
    double *psd = sim_util_welch(xc, n, nfft);
    double inside = 0.0, total = 0.0;
    for (size_t k = 0; k < nfft; k++) {
        total += psd[k];
        if (fabs(sim_util_bin_hz(k, nfft, c.fs_hz)) < 30.0) inside += psd[k];
    }
    assert_true(inside > 0.99 * total);
    /* The mixture is the sum of the parts (same streams). */
    size_t nm;
    float complex *xm = sim_util_generate(&c, &nm);
    for (size_t i = 0; i < n; i += 997) assert_true(cabsf(xm[i] - (xb[i] + xn[i] + xc[i])) < 1e-3f * (1.0f + cabsf(xm[i])));
    free(psd);
    free(xb);
    free(xn);
    free(xc);
    free(xm);
}

/* Tapotement: bursts of 20-40 ms at about the tap rate, nothing between. */
static void test_tapotement_bursts(void **state)
{
    (void)state;
    dop_sim_config c = dop_sim_config_default();
    c.duration_s = 10.0;
    c.artifact = dop_sim_artifact_default(DOP_SIM_ARTIFACT_TAPOTEMENT);
    c.artifact.start_s = 2.0;
    c.artifact.end_s = 10.0;
    c.blood = 0;
    size_t n;
    float complex *x = sim_util_generate(&c, &n);
    size_t bursts = 0, active = 0;
    int in = 0;
    for (size_t i = 0; i < n; i++) {
        int on = cabsf(x[i]) > 0.0f;
        if (on && !in) bursts++;
        active += (size_t)on;
        in = on;
        if (i < (size_t)(2.0 * c.fs_hz)) assert_true(!on);
    }
    assert_true(bursts >= 40 && bursts <= 56); /* 6 per second for 8 s, +/- 15 % */
    double duty = (double)active / (8.0 * c.fs_hz);
    assert_true(duty > 0.6 * 6.0 * 0.030 && duty < 1.4 * 6.0 * 0.030);
    free(x);
}

/* A dropout silences everything but the noise. */
static void test_dropout(void **state)
{
    (void)state;
    dop_sim_config c = dop_sim_config_default();
    c.duration_s = 4.0;
    c.clutter_db = 30.0;
    c.n_dropouts = 1;
    c.dropouts[0] = (dop_sim_dropout){2.0, 0.5};
    size_t n;
    float complex *x = sim_util_generate(&c, &n);
    size_t a = (size_t)(2.01 * c.fs_hz), b = (size_t)(2.49 * c.fs_hz);
    assert_true(power_of(x + a, b - a) == 0.0);
    assert_true(power_of(x + (size_t)(2.6 * c.fs_hz), 1000) > 100.0);
    free(x);
}

/* Any split of the pulls gives the same samples; reset starts again;
 * the same seed gives the same samples and another seed others. */
static void test_streaming_and_determinism(void **state)
{
    (void)state;
    dop_sim_config c = dop_sim_config_default();
    c.duration_s = 2.0;
    c.clutter_db = 30.0;
    c.snr_db = 15.0;
    c.artifact = dop_sim_artifact_default(DOP_SIM_ARTIFACT_PETRISSAGE);
    size_t n;
    float complex *whole = sim_util_generate(&c, &n);
    sim_util_check_pieces(&c, whole, n);
    c.seed = 2;
    float complex *other = sim_util_generate(&c, &n);
    assert_true(memcmp(whole, other, n * sizeof *other) != 0);
    free(other);
    free(whole);
}

static void test_config_errors_name_the_key(void **state)
{
    (void)state;
    dop_error err;
    dop_sim *sim = NULL;
    dop_sim_config c = dop_sim_config_default();
    c.diameter_mm = -3.0;
    assert_int_equal(dop_sim_create(&c, &sim, &err), DOP_ERR_INVALID_ARG);
    assert_null(sim);
    assert_non_null(strstr(err.message, "vessel.diameter_mm"));
    c = dop_sim_config_default();
    c.block = 100;
    assert_int_equal(dop_sim_config_validate(&c, &err), DOP_ERR_INVALID_ARG);
    assert_non_null(strstr(err.message, "synthesis.block"));
    c = dop_sim_config_default();
    c.rest.waveform.baseline = -1.0;
    assert_int_equal(dop_sim_config_validate(&c, &err), DOP_ERR_INVALID_ARG);
    assert_non_null(strstr(err.message, "flow.waveform"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plug_mean_frequency_is_doppler_shift),
        cmocka_unit_test(test_parabolic_profile),
        cmocka_unit_test(test_blunt_profile),
        cmocka_unit_test(test_reverse_flow_is_negative),
        cmocka_unit_test(test_aliasing_wraps),
        cmocka_unit_test(test_truth_consistency),
        cmocka_unit_test(test_heart_rate_variability),
        cmocka_unit_test(test_snr_and_clutter_levels),
        cmocka_unit_test(test_tapotement_bursts),
        cmocka_unit_test(test_dropout),
        cmocka_unit_test(test_streaming_and_determinism),
        cmocka_unit_test(test_config_errors_name_the_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* The maximum frequency at the half-power point of the falling edge
 * (dsp/pipeline/max_frequency.c), against edges of known position:
 *  - exact running sums of a flat band whose edge is smeared by a symmetric
 *    kernel: the half-power point is the edge (less the window correction,
 *    h^2 / edge), to 0.01 bin;
 *  - the window correction: a narrow band seen through a main lobe of
 *    half-width h reads back its width;
 *  - a signal whose spectrum is flat from 0 to 1 kHz (many tones of random
 *    phase: speckle as in blood), through the STFT (dsp/pipeline/spectrum.c)
 *    and the envelope stage, for two window lengths (20 ms and 10 ms): the
 *    frame-averaged maximum frequency lies within 1.5 % of 1 kHz, and closer
 *    than the knee of the integrated spectrum alone (DOP_FMAX_KNEE);
 *  - the window's main-lobe half-width (dop_spectrum_window_hwhm_bins) is
 *    Hann's 0.72 bins (Harris 1978) scaled by fft size / window length. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <complex.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dopflow/envelope.h"
#include "dopflow/max_frequency.h"
#include "dopflow/spectrum.h"

#define FS 12500.0
#define EDGE_HZ 1000.0
#define TONES 600
#define SECONDS 4.0

/* Power of bin j (centred on j, width 1) of a flat band [0, edge] of level
 * `level` smeared by a box kernel of half-width `half` bins (symmetric). */
static double smeared_bin(double j, double edge, double half, double level)
{
    /* overlap of [j - 1/2, j + 1/2] with [0, edge] after smearing: the mean
     * over the kernel of the overlap, by midpoint sums */
    const int steps = 400;
    double sum = 0.0;
    for (int s = 0; s < steps; s++) {
        double shift = -half + 2.0 * half * ((double)s + 0.5) / steps;
        double lo = fmax(j - 0.5 - shift, 0.0), hi = fmin(j + 0.5 - shift, edge);
        sum += hi > lo ? hi - lo : 0.0;
    }
    return level * sum / steps;
}

static void edge_of_smeared_flat_band(void **state)
{
    (void)state;
    enum { N = 64 };
    const double noise = 0.5, level = 100.0;
    const double edges[] = {10.3, 17.75, 30.5};
    for (size_t i = 0; i < 3; i++) {
        double sums[N + 1];
        sums[0] = 0.0;
        for (size_t j = 1; j <= N; j++) sums[j] = sums[j - 1] + noise + smeared_bin((double)j, edges[i], 0.7, level);
        /* the knee of the integrated spectrum of a sharp band lies at its
         * edge (the STFT case below); the estimate then reads the plateau
         * one main-lobe width inside it */
        size_t knee = (size_t)floor(edges[i]) + 1;
        dop_max_frequency_config cfg = dop_max_frequency_config_default();
        dop_max_frequency_side side = {sums, N, knee, noise, N + 1, 0.0};
        double f = dop_max_frequency_edge(&cfg, &side);
        double expect = edges[i] - cfg.hwhm_bins * cfg.hwhm_bins / edges[i]; /* the window correction */
        print_message("edge %.2f bins: %.3f bins (expected %.3f, knee %zu)\n", edges[i], f, expect, knee);
        assert_true(fabs(f - expect) < 0.01);
    }
}

/* A band of width f0 seen through a main lobe of half-power half-width h
 * has its half-power point at f0/2 + sqrt(f0^2/4 + h^2); the estimate
 * inverts that. Here the plateau is flat (the smearing symmetric), so the
 * uncorrected half-power point is the edge and the correction subtracts
 * h^2 / f: check the inversion's algebra at f0 = 3 bins. */
static void window_correction_inverts(void **state)
{
    (void)state;
    enum { N = 32 };
    const double f0 = 3.0, h = 0.72;
    const double seen = f0 / 2.0 + sqrt(f0 * f0 / 4.0 + h * h);
    double sums[N + 1];
    sums[0] = 0.0;
    for (size_t j = 1; j <= N; j++) sums[j] = sums[j - 1] + smeared_bin((double)j, seen, 0.5, 10.0);
    dop_max_frequency_config cfg = dop_max_frequency_config_default();
    cfg.hwhm_bins = h;
    dop_max_frequency_side side = {sums, N, (size_t)floor(seen) + 1, 0.0, N + 1, 0.0};
    double f = dop_max_frequency_edge(&cfg, &side);
    print_message("seen %.3f bins, corrected %.3f (true %.3f)\n", seen, f, f0);
    assert_true(fabs(f - f0) < 0.01);
    /* no plateau above the noise: the knee is returned */
    for (size_t j = 0; j <= N; j++) sums[j] = (double)j;
    side.noise = 1.0;
    side.knee = 5;
    assert_float_equal(dop_max_frequency_edge(&cfg, &side), 5.0, 0.0);
}

/* Deterministic uniform (0, 1) and Gaussian draws (xorshift64*). */
static double uniform(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return ((double)((*s * 2685821657736338717ULL) >> 11) + 0.5) / 9007199254740992.0;
}

static double gaussian(uint64_t *s)
{
    return sqrt(-2.0 * log(uniform(s))) * cos(2.0 * M_PI * uniform(s));
}

typedef struct run {
    dop_envelope *env;
    double noise;
    double sum_hz;
    size_t frames;
} run;

static int on_frame(const dop_spectrum_frame *frame, void *user)
{
    run *r = user;
    dop_envelope_result res;
    dop_envelope_push(r->env, frame->psd, r->noise, &res);
    r->sum_hz += res.fmax_forward_hz;
    r->frames++;
    return 0;
}

/* Mean forward maximum frequency (Hz) of the flat band through a window of
 * window_ms, by method; *hwhm: the window's main-lobe half-width, bins. */
static double band_fmax(const float complex *x, size_t n, double window_ms, dop_fmax_method method, double noise_var,
                        double *hwhm)
{
    dop_spectrum_config scfg = dop_spectrum_config_default();
    scfg.fs_hz = FS;
    scfg.window_ms = window_ms;
    scfg.hop_ms = window_ms / 2.0;
    dop_spectrum *spec = NULL;
    assert_int_equal(dop_spectrum_create(&scfg, &spec, NULL), DOP_OK);
    dop_envelope_config ecfg = dop_envelope_config_default();
    ecfg.bins = dop_spectrum_bins(spec);
    ecfg.bin_hz = dop_spectrum_bin_hz(spec);
    ecfg.method = method;
    ecfg.window_hwhm_bins = *hwhm = dop_spectrum_window_hwhm_bins(spec);
    run r = {NULL, noise_var / FS, 0.0, 0}; /* white noise PSD: variance / fs (Welch scaling) */
    assert_int_equal(dop_envelope_create(&ecfg, &r.env, NULL), DOP_OK);
    assert_int_equal(dop_spectrum_push(spec, x, n, on_frame, &r), DOP_OK);
    dop_envelope_destroy(r.env);
    dop_spectrum_destroy(spec);
    assert_true(r.frames > 100);
    return r.sum_hz / (double)r.frames;
}

static void flat_band_through_stft(void **state)
{
    (void)state;
    const size_t n = (size_t)(SECONDS * FS);
    float complex *x = malloc(n * sizeof *x);
    assert_non_null(x);
    uint64_t seed = 0x9E3779B97F4A7C15ULL;
    double phase[TONES], freq[TONES];
    for (int k = 0; k < TONES; k++) {
        freq[k] = EDGE_HZ * ((double)k + uniform(&seed)) / TONES; /* jittered: no line structure */
        phase[k] = 2.0 * M_PI * uniform(&seed);
    }
    /* Band power TONES over EDGE_HZ: PSD TONES / EDGE_HZ; noise 30 dB below it. */
    const double noise_var = 1e-3 * TONES / EDGE_HZ * FS;
    for (size_t i = 0; i < n; i++) {
        double re = 0.0, im = 0.0;
        for (int k = 0; k < TONES; k++) {
            double p = fmod(2.0 * M_PI * freq[k] * (double)i / FS + phase[k], 2.0 * M_PI);
            re += cos(p);
            im += sin(p);
        }
        double s = sqrt(noise_var / 2.0);
        x[i] = (float)(re + s * gaussian(&seed)) + I * (float)(im + s * gaussian(&seed));
    }
    const double windows_ms[] = {20.0, 10.0};
    for (int w = 0; w < 2; w++) {
        double hwhm;
        double edge = band_fmax(x, n, windows_ms[w], DOP_FMAX_MGM, noise_var, &hwhm);
        double knee = band_fmax(x, n, windows_ms[w], DOP_FMAX_KNEE, noise_var, &hwhm);
        size_t len = (size_t)lround(windows_ms[w] * 1e-3 * FS), fft = 1;
        while (fft < len) fft <<= 1;
        print_message("window %.0f ms (%zu/%zu): half-power %.1f Hz, knee %.1f Hz (true %.0f); main lobe %.3f bins\n",
                      windows_ms[w], len, fft, edge, knee, EDGE_HZ, hwhm);
        assert_true(fabs(edge - EDGE_HZ) <= 0.015 * EDGE_HZ);
        assert_true(fabs(edge - EDGE_HZ) < fabs(knee - EDGE_HZ));
        /* Hann: 3-dB bandwidth 1.44 bins of the window length (Harris 1978) */
        assert_true(fabs(hwhm - 0.72 * (double)fft / (double)len) < 0.01);
    }
    free(x);
}

static void bad_window_refused(void **state)
{
    (void)state;
    dop_envelope_config cfg = dop_envelope_config_default();
    cfg.bins = 64;
    cfg.bin_hz = 10.0;
    cfg.window_hwhm_bins = 0.0;
    dop_envelope *env = NULL;
    assert_int_equal(dop_envelope_create(&cfg, &env, NULL), DOP_ERR_INVALID_ARG);
    assert_null(env);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(edge_of_smeared_flat_band),
        cmocka_unit_test(window_correction_inverts),
        cmocka_unit_test(flat_band_through_stft),
        cmocka_unit_test(bad_window_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

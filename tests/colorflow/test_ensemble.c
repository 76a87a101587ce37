/* Colour-flow estimation (dsp/colorflow/ensemble.c) and the Clarius raw IQ reader
 * (dsp/input/clarius_raw.c), on ensembles generated in code:
 *  - a tone of known phase step per shot under 60 dB of stationary and
 *    drifting clutter comes back within 0.03 rad (bias of the order-1
 *    regression filter on E = 12 shots, measured: <= 0.016 rad for steps of
 *    0.75 to 3 rad) plus the noise's share;
 *  - the regression filter removes polynomials up to its order exactly and
 *    not one degree more; its measured gain on tones is the documented
 *    response; order -1 passes everything;
 *  - all-zero input gives phase 0, the power floor, correlation 0;
 *  - velocities follow v = c PRF phi / (4 pi f0 cos theta);
 *  - axial averaging lowers the spread of noisy pixels and cuts at the ends;
 *  - white noise through the regression filter reads near +/- pi (its known
 *    low-SNR bias);
 *  - a Clarius-layout file written here reads back exactly, line by line,
 *    and feeds the estimator; malformed files are refused with messages
 *    naming the problem; every create rejects bad settings. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <complex.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dopflow/clarius_raw.h"
#include "dopflow/ensemble.h"
#include "io_util.h"
#include "signal_gen.h"

#define E 12

/* Wrapped difference a - b in (-pi, pi]. */
static double phase_diff(double a, double b) { return remainder(a - b, 2.0 * M_PI); }

static dop_ensemble *make(int order, size_t axial, size_t max_depth, double prf, double f0, double angle)
{
    dop_ensemble_config cfg = dop_ensemble_config_default();
    cfg.ensemble = E;
    cfg.wall_order = order;
    cfg.axial_samples = axial;
    cfg.max_depth = max_depth;
    cfg.prf_hz = prf;
    cfg.acq.f0_hz = f0;
    cfg.acq.angle_deg = angle;
    dop_ensemble *e = NULL;
    dop_error err = {{0}};
    assert_int_equal(dop_ensemble_create(&cfg, &e, &err), DOP_OK);
    assert_non_null(e);
    return e;
}

/* Blood (unit power, phase step w per shot, start phase varying with depth)
 * under tissue 60 dB stronger that drifts linearly (a degree-1 polynomial in
 * slow time), plus noise 30 dB below the blood. */
static void clutter_and_blood(float complex *block, size_t depth, double w, unsigned long seed)
{
    memset(block, 0, depth * E * sizeof *block);
    sg_add_noise(block, depth * E, 1e-3, seed);
    for (size_t d = 0; d < depth; d++) {
        double start = 0.37 * (double)d;
        double complex tissue = 1000.0 * cexp(I * 0.11 * (double)d), drift = 40.0 * cexp(I * (1.3 + 0.07 * (double)d));
        for (size_t n = 0; n < E; n++)
            block[d * E + n] += (float complex)(tissue + drift * (double)n + cexp(I * (w * (double)n + start)));
    }
}

static void regression_removes_clutter_keeps_phase(void **state)
{
    (void)state;
    const size_t depth = 64;
    const double steps[] = {0.75, 1.0, -1.0, 1.5, -2.0, 2.5, -3.0};
    float complex *block = malloc(depth * E * sizeof *block);
    dop_ensemble_pixel *px = malloc(depth * sizeof *px);
    dop_ensemble *e = make(1, 1, depth, NAN, NAN, 0.0);
    double worst = 0.0;
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        clutter_and_blood(block, depth, steps[i], 100 + i);
        assert_int_equal(dop_ensemble_push(e, block, depth, px, NULL), DOP_OK);
        double mean_error = 0.0;
        for (size_t d = 0; d < depth; d++) {
            double error = phase_diff(px[d].phase_rad, steps[i]);
            mean_error += error / (double)depth;
            if (fabs(error) > fabs(worst)) worst = error;
            assert_true(fabs(error) < 0.1);
            /* 60 dB of tissue before, ~0 dB of blood (times the filter's gain) after */
            assert_true(px[d].clutter_db > 55.0 && px[d].clutter_db < 65.0);
            assert_true(px[d].power_db > -1.0 && px[d].power_db < 0.5);
            assert_true(px[d].correlation > 0.9f && px[d].correlation < 1.05f);
            assert_true(isnan(px[d].velocity_cm_s)); /* no PRF, no f0 */
        }
        assert_true(fabs(mean_error) < 0.03);
    }
    print_message("order-1 regression, E = 12, clutter +60 dB, SNR 30 dB: worst pixel phase error %.4f rad\n", worst);
    /* Without the wall filter the tissue wins: the phase is the tissue's (~0). */
    dop_ensemble *raw = make(-1, 1, depth, NAN, NAN, 0.0);
    clutter_and_blood(block, depth, 1.0, 7);
    assert_int_equal(dop_ensemble_push(raw, block, depth, px, NULL), DOP_OK);
    for (size_t d = 0; d < depth; d++) assert_true(fabs(px[d].phase_rad - 1.0) > 0.5);
    dop_ensemble_destroy(raw);
    dop_ensemble_destroy(e);
    free(block);
    free(px);
}

static double energy(const float complex *x, size_t n)
{
    double sum = 0.0;
    for (size_t i = 0; i < n; i++) sum += crealf(x[i] * conjf(x[i]));
    return sum;
}

/* Order P removes every polynomial of degree <= P (to float rounding) and
 * leaves most of one of degree P + 1. */
static void order_decides_what_is_removed(void **state)
{
    (void)state;
    for (int order = -1; order <= 3; order++) {
        dop_ensemble *e = make(order, 1, 4, NAN, NAN, 0.0);
        for (int degree = 0; degree <= 4; degree++) {
            float complex x[E], y[E];
            for (size_t n = 0; n < E; n++) {
                double t = (double)n / (E - 1);
                x[n] = (float complex)((100.0 + 50.0 * I) * pow(t, degree) + (3.0 - 7.0 * I) * (degree ? 1.0 : 0.0));
            }
            dop_ensemble_wall_filter(e, x, y);
            double ratio = energy(y, E) / energy(x, E);
            if (degree <= order) assert_true(ratio < 1e-12);
            else if (degree == order + 1) assert_true(ratio > 1e-5); /* t^4 off cubics: ~2e-4 */
            /* in place gives the same */
            dop_ensemble_wall_filter(e, x, x);
            assert_memory_equal(x, y, sizeof x);
        }
        /* the documented gain is what a tone measures */
        for (double w = -3.0; w <= 3.0; w += 0.5) {
            float complex x[E], y[E];
            for (size_t n = 0; n < E; n++) x[n] = (float complex)cexp(I * (w * (double)n + 0.4));
            dop_ensemble_wall_filter(e, x, y);
            assert_float_equal(energy(y, E) / E, dop_ensemble_wall_gain(e, w), 1e-5);
        }
        assert_float_equal(dop_ensemble_wall_gain(e, 0.0), order < 0 ? 1.0 : 0.0, 1e-12);
        dop_ensemble_destroy(e);
    }
    /* higher orders cut deeper at low Doppler phase (0.3 rad per shot) */
    double previous = 2.0;
    for (int order = 0; order <= 3; order++) {
        dop_ensemble *e = make(order, 1, 4, NAN, NAN, 0.0);
        double gain = dop_ensemble_wall_gain(e, 0.3);
        assert_true(gain < previous);
        previous = gain;
        dop_ensemble_destroy(e);
    }
    /* an accelerating tissue (degree 2) defeats order 1 but not order 2 */
    const double w = 1.2;
    float complex block[E];
    for (size_t n = 0; n < E; n++)
        block[n] = (float complex)(500.0 + 30.0 * (double)n * (double)n * cexp(I * 0.5) + cexp(I * w * (double)n));
    dop_ensemble_pixel px;
    dop_ensemble *e1 = make(1, 1, 1, NAN, NAN, 0.0), *e2 = make(2, 1, 1, NAN, NAN, 0.0);
    assert_int_equal(dop_ensemble_push(e1, block, 1, &px, NULL), DOP_OK);
    assert_true(px.power_db > 20.0); /* residual quadratic: far above the blood's 0 dB */
    assert_int_equal(dop_ensemble_push(e2, block, 1, &px, NULL), DOP_OK);
    assert_true(px.power_db < 0.5);
    assert_true(fabs(phase_diff(px.phase_rad, w)) < 0.05); /* order-2 bias at 1.2 rad: ~0.02 */
    dop_ensemble_destroy(e1);
    dop_ensemble_destroy(e2);
}

static void zero_signal(void **state)
{
    (void)state;
    float complex block[3 * E] = {0};
    dop_ensemble_pixel px[3];
    for (int order = -1; order <= 2; order++) {
        dop_ensemble *e = make(order, 3, 3, 5000.0, 5e6, 0.0);
        assert_int_equal(dop_ensemble_push(e, block, 3, px, NULL), DOP_OK);
        for (int d = 0; d < 3; d++) {
            assert_true(px[d].phase_rad == 0.0f);
            assert_true(px[d].velocity_cm_s == 0.0f);
            assert_true(px[d].power_db == (float)DOP_ENSEMBLE_FLOOR_DB);
            assert_true(px[d].clutter_db == (float)DOP_ENSEMBLE_FLOOR_DB);
            assert_true(px[d].correlation == 0.0f);
        }
        dop_ensemble_destroy(e);
    }
}

/* v = c PRF phi / (4 pi f0 cos theta); phi = pi is the Nyquist velocity. */
static void velocity_follows_doppler_equation(void **state)
{
    (void)state;
    const double prf = 5000.0, f0 = 5e6, c = 1540.0;
    const double angles[] = {0.0, 60.0};
    for (size_t a = 0; a < 2; a++) {
        dop_ensemble *e = make(1, 1, 1, prf, f0, angles[a]);
        for (double w = -3.0; w <= 3.0; w += 0.5) {
            float complex x[E];
            for (size_t n = 0; n < E; n++) x[n] = (float complex)(0.01 * cexp(I * w * (double)n));
            dop_ensemble_pixel px;
            assert_int_equal(dop_ensemble_push(e, x, 1, &px, NULL), DOP_OK);
            double expected = 100.0 * c * prf * px.phase_rad / (4.0 * M_PI * f0 * cos(angles[a] * M_PI / 180.0));
            assert_float_equal(px.velocity_cm_s, expected, 1e-4 * fabs(expected) + 1e-6);
            assert_true(w == 0.0 || px.velocity_cm_s * w > 0.0); /* positive phase: toward the probe */
        }
        dop_ensemble_destroy(e);
    }
    /* alternate shots: phase pi, the Nyquist velocity c PRF / (4 f0) = 38.5 cm/s */
    dop_ensemble *e = make(0, 1, 1, prf, f0, 0.0);
    float complex x[E];
    for (size_t n = 0; n < E; n++) x[n] = n % 2 ? -0.5f : 0.5f;
    dop_ensemble_pixel px;
    assert_int_equal(dop_ensemble_push(e, x, 1, &px, NULL), DOP_OK);
    assert_float_equal(px.phase_rad, M_PI, 1e-6);
    assert_float_equal(px.velocity_cm_s, 38.5, 1e-3);
    assert_float_equal(px.power_db, 10.0 * log10(0.25), 1e-4);
    dop_ensemble_destroy(e);
}

/* An axial window of 7 sums R1 over 7 depth samples: on noisy pixels of one
 * phase the spread falls by about sqrt 7 (no wall filter here, so that the
 * noise is white); at the ends the window is cut. */
static void axial_averaging(void **state)
{
    (void)state;
    const size_t depth = 256;
    const double w = 1.0;
    float complex *block = calloc(depth * E, sizeof *block);
    sg_add_noise(block, depth * E, 0.5, 42); /* SNR 3 dB */
    for (size_t d = 0; d < depth; d++)
        for (size_t n = 0; n < E; n++) block[d * E + n] += (float complex)cexp(I * (w * (double)n + 0.2 * (double)d));
    dop_ensemble_pixel *one = malloc(depth * sizeof *one), *seven = malloc(depth * sizeof *seven);
    dop_ensemble *e1 = make(-1, 1, depth, NAN, NAN, 0.0), *e7 = make(-1, 7, depth, NAN, NAN, 0.0);
    assert_int_equal(dop_ensemble_push(e1, block, depth, one, NULL), DOP_OK);
    assert_int_equal(dop_ensemble_push(e7, block, depth, seven, NULL), DOP_OK);
    double var1 = 0.0, var7 = 0.0;
    for (size_t d = 0; d < depth; d++) {
        var1 += pow(phase_diff(one[d].phase_rad, w), 2) / (double)depth;
        var7 += pow(phase_diff(seven[d].phase_rad, w), 2) / (double)depth;
    }
    print_message("axial averaging over 7 samples, SNR 3 dB: phase rms %.3f -> %.3f rad\n", sqrt(var1), sqrt(var7));
    assert_true(var7 < var1 / 4.0);
    /* the first pixel's window is depths 0..3: the same as a 4-sample sum by hand */
    double complex r1 = 0.0;
    double r0 = 0.0;
    for (size_t d = 0; d < 4; d++) {
        const float complex *y = block + d * E;
        for (size_t n = 0; n < E; n++) r0 += crealf(y[n] * conjf(y[n]));
        for (size_t n = 1; n < E; n++) r1 += (double complex)y[n] * conj((double complex)y[n - 1]);
    }
    assert_float_equal(seven[0].phase_rad, carg(r1), 1e-5);
    assert_float_equal(seven[0].power_db, 10.0 * log10(r0 / (4.0 * E)), 1e-3);
    assert_float_equal(seven[0].clutter_db, seven[0].power_db, 1e-6); /* no filter: before = after */
    dop_ensemble_destroy(e1);
    dop_ensemble_destroy(e7);
    free(block);
    free(one);
    free(seven);
}

/* The regression filter colours white noise: its output has
 * E[R1] = -sigma^2 sum_n (B B^T)[n+1][n] (-1.67 sigma^2 for order 1 and
 * E = 12), real and negative, so noise-only pixels read near +/- pi and weak
 * flow is pulled toward the Nyquist phase (see ensemble.h). */
static void filtered_noise_reads_near_pi(void **state)
{
    (void)state;
    const size_t depth = 255;
    float complex *block = calloc(depth * E, sizeof *block);
    sg_add_noise(block, depth * E, 1.0, 9);
    dop_ensemble *e = make(1, 255, depth, NAN, NAN, 0.0);
    dop_ensemble_pixel *px = malloc(depth * sizeof *px);
    assert_int_equal(dop_ensemble_push(e, block, depth, px, NULL), DOP_OK);
    /* the middle pixel sums all 255: |phase| near pi, power near 10 log10((E - 2) / E) */
    print_message("white noise after the order-1 filter: phase %.3f rad, power %.2f dB, correlation %.3f\n",
                  px[127].phase_rad, px[127].power_db, px[127].correlation);
    assert_true(fabs(px[127].phase_rad) > 2.8);
    assert_float_equal(px[127].power_db, 10.0 * log10(10.0 / 12.0), 0.3);
    assert_float_equal(px[127].correlation, 1.667 / 11.0 * 12.0 / 10.0, 0.06);
    dop_ensemble_destroy(e);
    free(block);
    free(px);
}

static void create_rejects_bad_settings(void **state)
{
    (void)state;
    struct {
        size_t ensemble;
        int order;
        size_t axial, max_depth;
        double prf, f0, angle, c;
        dop_status status;
        const char *says;
    } bad[] = {
        {1, -1, 1, 8, NAN, NAN, 0, 1540, DOP_ERR_INVALID_ARG, "1 shots"},
        {DOP_ENSEMBLE_MAX_SHOTS + 1, 1, 1, 8, NAN, NAN, 0, 1540, DOP_ERR_INVALID_ARG, "shots per pixel"},
        {12, -2, 1, 8, NAN, NAN, 0, 1540, DOP_ERR_INVALID_ARG, "order -2"},
        {12, 11, 1, 8, NAN, NAN, 0, 1540, DOP_ERR_INVALID_ARG, "order 11"},
        {12, 1, 0, 8, NAN, NAN, 0, 1540, DOP_ERR_INVALID_ARG, "axial window of 0"},
        {12, 1, 4, 8, NAN, NAN, 0, 1540, DOP_ERR_INVALID_ARG, "must be odd"},
        {12, 1, 1, 0, NAN, NAN, 0, 1540, DOP_ERR_INVALID_ARG, "max depth 0"},
        {12, 1, 1, DOP_ENSEMBLE_MAX_DEPTH + 1, NAN, NAN, 0, 1540, DOP_ERR_INVALID_ARG, "max depth"},
        {12, 1, 1, 8, -5000, NAN, 0, 1540, DOP_ERR_INVALID_ARG, "PRF -5000"},
        {12, 1, 1, 8, INFINITY, NAN, 0, 1540, DOP_ERR_INVALID_ARG, "PRF inf"},
        {12, 1, 1, 8, 5000, 5e6, 89, 1540, DOP_ERR_METADATA, "angle"},
        {12, 1, 1, 8, 5000, -5e6, 0, 1540, DOP_ERR_METADATA, ""},
        {12, 1, 1, 8, 5000, 5e6, 0, 50, DOP_ERR_METADATA, ""},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        dop_ensemble_config cfg = dop_ensemble_config_default();
        cfg.ensemble = bad[i].ensemble;
        cfg.wall_order = bad[i].order;
        cfg.axial_samples = bad[i].axial;
        cfg.max_depth = bad[i].max_depth;
        cfg.prf_hz = bad[i].prf;
        cfg.acq.f0_hz = bad[i].f0;
        cfg.acq.angle_deg = bad[i].angle;
        cfg.acq.c_m_s = bad[i].c;
        dop_ensemble *e = (dop_ensemble *)&cfg; /* must be reset to NULL */
        dop_error err = {{0}};
        assert_int_equal(dop_ensemble_create(&cfg, &e, &err), bad[i].status);
        assert_null(e);
        if (!strstr(err.message, bad[i].says)) print_message("case %zu: \"%s\"\n", i, err.message);
        assert_non_null(strstr(err.message, bad[i].says));
    }
    assert_int_equal(dop_ensemble_create(NULL, NULL, NULL), DOP_ERR_INVALID_ARG);
    /* the defaults are valid, and the configuration is kept */
    dop_ensemble_config cfg = dop_ensemble_config_default();
    dop_ensemble *e = NULL;
    assert_int_equal(dop_ensemble_create(&cfg, &e, NULL), DOP_OK);
    assert_int_equal(dop_ensemble_get_config(e)->ensemble, 12);
    assert_int_equal(dop_ensemble_get_config(e)->wall_order, 1);
    /* push checks its sizes */
    float complex block[2 * 12] = {0};
    dop_ensemble_pixel px[2];
    dop_error err = {{0}};
    assert_int_equal(dop_ensemble_push(e, block, 0, px, &err), DOP_ERR_INVALID_ARG);
    assert_non_null(strstr(err.message, "0 depth samples"));
    assert_int_equal(dop_ensemble_push(e, block, 1025, px, &err), DOP_ERR_INVALID_ARG);
    assert_non_null(strstr(err.message, "max depth 1024"));
    assert_int_equal(dop_ensemble_push(e, NULL, 2, px, &err), DOP_ERR_INVALID_ARG);
    assert_int_equal(dop_ensemble_push(e, block, 2, NULL, &err), DOP_ERR_INVALID_ARG);
    assert_int_equal(dop_ensemble_push(NULL, block, 2, px, &err), DOP_ERR_INVALID_ARG);
    dop_ensemble_destroy(e);
    dop_ensemble_destroy(NULL);
}

/* ---- Clarius raw files ---- */

static void put32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
}

static void put16(unsigned char *p, int v)
{
    p[0] = (unsigned char)(v & 0xff);
    p[1] = (unsigned char)((v >> 8) & 0xff);
}

/* Value stored for (frame, beam line, depth, shot): I and Q distinct,
 * negative and positive, within int16. */
static int value_i(size_t f, size_t l, size_t d, size_t n) { return (int)(f * 10000 + l * 1000 + d * 20 + n) - 16000; }
static int value_q(size_t f, size_t l, size_t d, size_t n)
{
    return 32767 - (int)(f * 7000 + l * 900 + d * 13 + n * 3);
}

/* A Clarius-layout file of `frames` x [beam][samples][shots][I, Q]; the
 * header says `lines` = beam x shots unless overridden. Returns its size. */
static size_t write_clarius(const char *path, uint32_t frames, size_t beam, size_t samples, size_t shots,
                            uint32_t sample_bytes)
{
    size_t lines = beam * shots;
    size_t size = 20 + frames * (8 + lines * samples * 4);
    unsigned char *buf = calloc(size, 1);
    put32(buf, 7);
    put32(buf + 4, frames);
    put32(buf + 8, (uint32_t)lines);
    put32(buf + 12, (uint32_t)samples);
    put32(buf + 16, sample_bytes);
    unsigned char *p = buf + 20;
    for (size_t f = 0; f < frames; f++) {
        uint64_t stamp = 0x0102030405060708ull + f;
        for (int i = 0; i < 8; i++) p[i] = (unsigned char)(stamp >> (8 * i));
        p += 8;
        for (size_t l = 0; l < beam; l++)
            for (size_t d = 0; d < samples; d++)
                for (size_t n = 0; n < shots; n++, p += 4) {
                    put16(p, value_i(f, l, d, n));
                    put16(p + 2, value_q(f, l, d, n));
                }
    }
    assert_int_equal(io_file_write(path, buf, size), 0);
    free(buf);
    return size;
}

static void clarius_round_trip(void **state)
{
    const char *dir = *state;
    char path[1024];
    io_path_join(path, sizeof path, dir, "round_trip.raw");
    const size_t beam = 3, samples = 5, shots = 4;
    size_t size = write_clarius(path, 2, beam, samples, shots, 4);
    dop_clarius_raw_config cfg = dop_clarius_raw_config_default();
    assert_int_equal(cfg.ensemble, 12);
    cfg.path = path;
    cfg.ensemble = shots;
    dop_clarius_raw *r = NULL;
    dop_error err = {{0}};
    assert_int_equal(dop_clarius_raw_open(&cfg, &r, &err), DOP_OK);
    const dop_clarius_raw_info *info = dop_clarius_raw_get_info(r);
    assert_int_equal(info->id, 7);
    assert_int_equal(info->frames, 2);
    assert_int_equal(info->lines, beam * shots);
    assert_int_equal(info->samples, samples);
    assert_int_equal(info->sample_bytes, 4);
    assert_int_equal(info->ensemble, shots);
    assert_int_equal(info->beam_lines, beam);
    assert_int_equal(info->file_bytes, size);
    float complex block[5 * 4];
    for (size_t f = 0; f < 2; f++) {
        uint64_t stamp = 0;
        assert_int_equal(dop_clarius_raw_timestamp(r, f, &stamp, NULL), DOP_OK);
        assert_true(stamp == 0x0102030405060708ull + f);
        for (size_t l = beam; l-- > 0;) { /* any order: each read seeks */
            assert_int_equal(dop_clarius_raw_read_line(r, f, l, block, samples * shots, &err), DOP_OK);
            for (size_t d = 0; d < samples; d++)
                for (size_t n = 0; n < shots; n++) {
                    assert_true(crealf(block[d * shots + n]) == (float)value_i(f, l, d, n) / 32768.0f);
                    assert_true(cimagf(block[d * shots + n]) == (float)value_q(f, l, d, n) / 32768.0f);
                }
        }
    }
    /* out of range and short buffers */
    assert_int_equal(dop_clarius_raw_read_line(r, 2, 0, block, samples * shots, &err), DOP_ERR_INVALID_ARG);
    assert_non_null(strstr(err.message, "frame 2"));
    assert_int_equal(dop_clarius_raw_read_line(r, 0, 3, block, samples * shots, &err), DOP_ERR_INVALID_ARG);
    assert_non_null(strstr(err.message, "beam line 3"));
    assert_int_equal(dop_clarius_raw_read_line(r, 0, 0, block, samples * shots - 1, &err), DOP_ERR_INVALID_ARG);
    assert_non_null(strstr(err.message, "needs room for 5 x 4"));
    assert_int_equal(dop_clarius_raw_timestamp(r, 2, &(uint64_t){0}, &err), DOP_ERR_INVALID_ARG);
    dop_clarius_raw_close(r);
    dop_clarius_raw_close(NULL);
    /* the same 12 lines read as 1 beam line of 12 shots, or 6 of 2 */
    cfg.ensemble = 12;
    assert_int_equal(dop_clarius_raw_open(&cfg, &r, &err), DOP_OK);
    assert_int_equal(dop_clarius_raw_get_info(r)->beam_lines, 1);
    dop_clarius_raw_close(r);
    cfg.ensemble = 2;
    assert_int_equal(dop_clarius_raw_open(&cfg, &r, &err), DOP_OK);
    assert_int_equal(dop_clarius_raw_get_info(r)->beam_lines, 6);
    dop_clarius_raw_close(r);
}

/* Tones of a known phase step per beam line, written as int16 in the
 * Clarius layout, read back and estimated: the whole colour path. */
static void clarius_file_to_phase(void **state)
{
    const char *dir = *state;
    char path[1024];
    io_path_join(path, sizeof path, dir, "tones.raw");
    const size_t beam = 4, samples = 16;
    size_t size = 20 + 8 + beam * E * samples * 4;
    unsigned char *buf = calloc(size, 1);
    put32(buf + 4, 1);
    put32(buf + 8, (uint32_t)(beam * E));
    put32(buf + 12, (uint32_t)samples);
    put32(buf + 16, 4);
    for (size_t l = 0; l < beam; l++)
        for (size_t d = 0; d < samples; d++)
            for (size_t n = 0; n < E; n++) {
                double step = -1.5 + (double)l, phase = step * (double)n + 0.3 * (double)d;
                unsigned char *p = buf + 28 + ((l * samples + d) * E + n) * 4;
                put16(p, (int)lrint(8000.0 + 12000.0 * cos(phase))); /* + stationary tissue in I */
                put16(p + 2, (int)lrint(12000.0 * sin(phase)));
            }
    assert_int_equal(io_file_write(path, buf, size), 0);
    free(buf);
    dop_clarius_raw_config cfg = dop_clarius_raw_config_default();
    cfg.path = path;
    dop_clarius_raw *r = NULL;
    assert_int_equal(dop_clarius_raw_open(&cfg, &r, NULL), DOP_OK);
    dop_ensemble *e = make(1, 1, samples, 5000.0, 5e6, 0.0);
    float complex block[16 * E];
    dop_ensemble_pixel px[16];
    for (size_t l = 0; l < beam; l++) {
        assert_int_equal(dop_clarius_raw_read_line(r, 0, l, block, sizeof block / sizeof block[0], NULL), DOP_OK);
        assert_int_equal(dop_ensemble_push(e, block, samples, px, NULL), DOP_OK);
        double step = -1.5 + (double)l;
        for (size_t d = 0; d < samples; d++) assert_true(fabs(phase_diff(px[d].phase_rad, step)) < 0.07);
    }
    dop_ensemble_destroy(e);
    dop_clarius_raw_close(r);
}

static void expect_refused(const char *path, size_t ensemble, dop_status status, const char *says)
{
    dop_clarius_raw_config cfg = dop_clarius_raw_config_default();
    cfg.path = path;
    cfg.ensemble = ensemble;
    dop_clarius_raw *r = (dop_clarius_raw *)&cfg;
    dop_error err = {{0}};
    assert_int_equal(dop_clarius_raw_open(&cfg, &r, &err), status);
    assert_null(r);
    if (!strstr(err.message, says)) print_message("expected \"%s\" in \"%s\"\n", says, err.message);
    assert_non_null(strstr(err.message, says));
    if (path) assert_non_null(strstr(err.message, path)); /* names the file */
}

static void clarius_malformed(void **state)
{
    const char *dir = *state;
    char path[1024];
    io_path_join(path, sizeof path, dir, "bad.raw");
    /* truncated by one byte, then to half, then below the header */
    size_t size = write_clarius(path, 1, 2, 8, 12, 4);
    assert_int_equal(io_file_truncate(path, size - 1), 0);
    expect_refused(path, 12, DOP_ERR_FORMAT, "truncated");
    assert_int_equal(io_file_truncate(path, size / 2), 0);
    expect_refused(path, 12, DOP_ERR_FORMAT, "truncated");
    assert_int_equal(io_file_truncate(path, 10), 0);
    expect_refused(path, 12, DOP_ERR_FORMAT, "shorter than a Clarius raw header");
    /* trailing bytes: header and data disagree */
    size = write_clarius(path, 1, 2, 8, 12, 4);
    FILE *f = fopen(path, "ab");
    fputc(0, f);
    fclose(f);
    expect_refused(path, 12, DOP_ERR_FORMAT, "1 bytes beyond");
    /* sample sizes of RF (2) and envelope (1) data, and nonsense */
    const uint32_t sizes[] = {2, 1, 0, 8};
    for (size_t i = 0; i < 4; i++) {
        write_clarius(path, 1, 2, 8, 12, sizes[i]);
        char says[32];
        snprintf(says, sizeof says, "sample size %u bytes", sizes[i]);
        expect_refused(path, 12, DOP_ERR_FORMAT, says);
    }
    /* lines not a multiple of the ensemble */
    write_clarius(path, 1, 2, 8, 12, 4);
    expect_refused(path, 10, DOP_ERR_FORMAT, "not a whole number of beam lines of 10 shots");
    /* absurd counts are refused before they are used (file of 28 bytes) */
    unsigned char h[28] = {0};
    const struct {
        uint32_t frames, lines, samples;
        const char *says;
    } absurd[] = {
        {0, 12, 8, "0 frames"},
        {0xffffffffu, 12, 8, "4294967295 frames"},
        {1, 0, 8, "0 lines"},
        {1, 0xffffffffu, 8, "4294967295 lines"},
        {1, 12, 0, "0 samples"},
        {1, 12, 0xffffffffu, "4294967295 samples"},
        {100000, 65532, 65536, "truncated"}, /* the largest sizes accepted: still no overflow */
    };
    for (size_t i = 0; i < sizeof absurd / sizeof absurd[0]; i++) {
        put32(h + 4, absurd[i].frames);
        put32(h + 8, absurd[i].lines);
        put32(h + 12, absurd[i].samples);
        put32(h + 16, 4);
        assert_int_equal(io_file_write(path, h, sizeof h), 0);
        expect_refused(path, 12, DOP_ERR_FORMAT, absurd[i].says);
    }
    /* missing file, no path, bad ensemble */
    io_path_join(path, sizeof path, dir, "missing.raw");
    expect_refused(path, 12, DOP_ERR_IO, "cannot open");
    expect_refused(NULL, 12, DOP_ERR_INVALID_ARG, "no file path");
    io_path_join(path, sizeof path, dir, "bad.raw");
    expect_refused(path, 0, DOP_ERR_INVALID_ARG, "ensemble of 0 shots");
    /* a folder is not a file */
    expect_refused(dir, 12, DOP_ERR_IO, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(regression_removes_clutter_keeps_phase),
        cmocka_unit_test(order_decides_what_is_removed),
        cmocka_unit_test(zero_signal),
        cmocka_unit_test(velocity_follows_doppler_equation),
        cmocka_unit_test(axial_averaging),
        cmocka_unit_test(filtered_noise_reads_near_pi),
        cmocka_unit_test(create_rejects_bad_settings),
        cmocka_unit_test(clarius_round_trip),
        cmocka_unit_test(clarius_file_to_phase),
        cmocka_unit_test(clarius_malformed),
    };
    return cmocka_run_group_tests(tests, io_tmpdir_setup, io_tmpdir_teardown);
}

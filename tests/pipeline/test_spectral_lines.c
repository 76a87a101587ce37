/* Stationary spectral lines (spectral_lines.h) on synthetic power spectra
 * with a known answer. Noise and blood are speckle: each bin's power is
 * exponentially distributed about its mean. Properties:
 *  - white noise alone never yields a line (60 s; the spectrum comes back
 *    untouched, the very same buffer, in every frame);
 *  - a steady tone 30 dB above the noise, beside a band of blood signal, is
 *    found after the warm-up and replaced by the level beside it: the bins'
 *    mean after removal is the noise level within 25 %, while the bins
 *    beside it are untouched;
 *  - a steady tone alone (a test tone, a string phantom) is the signal: it
 *    stays;
 *  - a band just as narrow and as strong but random (speckle, as from steady
 *    plug flow) is not a line;
 *  - a steady tone next to the wall filter's stop band is not taken for a
 *    line (clutter leakage looks the same there);
 *  - a band wider than DOP_SPECTRAL_LINE_MAX_BINS is not a line;
 *  - bad configurations are refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dopflow/spectral_lines.h"

#define BINS 256
#define FRAME_RATE 100.0
#define NOISE 1.0f

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static double uniform(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return ((double)(rng_state >> 11) + 0.5) / 9007199254740992.0;
}

/* Power of one bin of complex Gaussian speckle with the given mean. */
static float speckle(float mean) { return (float)(-log(uniform())) * mean; }

typedef struct band {
    size_t first, width;
    float level;     /* mean power, x the noise */
    int steady;      /* 1: a tone (constant power); 0: speckle */
} band;

typedef struct outcome {
    long frames_changed;      /* frames returned in another buffer */
    double band_mean;         /* mean power of the band's bins after removal, last 10 s */
    double beside_changed;    /* largest change of a bin just outside the band, last frame */
} outcome;

/* Blood: a speckle band 10 dB above the noise over bins 40 to 100. */
static const band blood = {.first = 40, .width = 60, .level = 10.0f, .steady = 0};

static void add_band(float *psd, const band *b)
{
    for (size_t k = b->first; k < b->first + b->width; k++)
        psd[k] = b->steady ? b->level * NOISE : speckle(b->level * NOISE);
}

/* Run `seconds` of noise, plus the band b (if any) and the blood band if
 * with_blood, through a fresh stage; bins [0, stop) are the wall filter's
 * stop band. */
static outcome run(const band *b, int with_blood, double seconds, size_t stop)
{
    uint8_t eligible[BINS];
    for (size_t k = 0; k < BINS; k++) eligible[k] = k >= stop;
    dop_spectral_lines_config cfg = {.bins = BINS, .frame_rate_hz = FRAME_RATE, .eligible = eligible};
    dop_spectral_lines *s = NULL;
    dop_error err;
    assert_int_equal(dop_spectral_lines_create(&cfg, &s, &err), DOP_OK);
    outcome o = {0, 0.0, 0.0};
    float psd[BINS];
    const long frames = lround(seconds * FRAME_RATE), tail = lround(10.0 * FRAME_RATE);
    double sum = 0.0;
    long n = 0;
    for (long i = 0; i < frames; i++) {
        for (size_t k = 0; k < BINS; k++) psd[k] = k < stop ? 1e-6f * speckle(NOISE) : speckle(NOISE);
        if (with_blood) add_band(psd, &blood);
        if (b) add_band(psd, b);
        const float *clean = dop_spectral_lines_push(s, psd);
        if (clean != psd) o.frames_changed++;
        if (b && i >= frames - tail) {
            for (size_t k = b->first; k < b->first + b->width; k++) sum += clean[k];
            n += (long)b->width;
        }
        if (b && i == frames - 1) {
            /* two bins beyond the band: outside the run and its skirt */
            o.beside_changed = fmax(fabs(clean[b->first - 2] - psd[b->first - 2]),
                                    fabs(clean[b->first + b->width + 1] - psd[b->first + b->width + 1]));
        }
    }
    if (n > 0) o.band_mean = sum / (double)n;
    dop_spectral_lines_destroy(s);
    return o;
}

static void noise_alone_has_no_line(void **state)
{
    (void)state;
    outcome o = run(NULL, 1, 60.0, 10);
    assert_int_equal(o.frames_changed, 0);
}

static void steady_tone_is_removed(void **state)
{
    (void)state;
    band tone = {.first = 150, .width = 2, .level = 1000.0f, .steady = 1};
    outcome o = run(&tone, 1, 20.0, 10);
    print_message("tone 30 dB: %ld of 2000 frames changed, band mean after removal %.3f (noise 1)\n",
                  o.frames_changed, o.band_mean);
    /* found within the warm-up and the first check or two */
    assert_true(o.frames_changed >= 2000 - lround(3.0 * FRAME_RATE));
    assert_true(fabs(o.band_mean - NOISE) < 0.25 * NOISE);
    assert_true(o.beside_changed == 0.0);
}

static void lone_tone_is_the_signal(void **state)
{
    (void)state;
    band tone = {.first = 150, .width = 2, .level = 1000.0f, .steady = 1};
    outcome o = run(&tone, 0, 20.0, 10);
    assert_int_equal(o.frames_changed, 0);
}

static void narrow_random_band_is_not_a_line(void **state)
{
    (void)state;
    band plug = {.first = 150, .width = 2, .level = 1000.0f, .steady = 0};
    outcome o = run(&plug, 1, 30.0, 10);
    print_message("narrow speckle band 30 dB: %ld frames changed\n", o.frames_changed);
    assert_int_equal(o.frames_changed, 0);
}

static void tone_beside_the_stop_band_is_left(void **state)
{
    (void)state;
    band edge = {.first = 12, .width = 2, .level = 1000.0f, .steady = 1};
    outcome o = run(&edge, 1, 20.0, 10);
    assert_int_equal(o.frames_changed, 0);
}

static void wide_band_is_not_a_line(void **state)
{
    (void)state;
    band wide = {.first = 150, .width = DOP_SPECTRAL_LINE_MAX_BINS + 3, .level = 1000.0f, .steady = 1};
    outcome o = run(&wide, 1, 20.0, 10);
    assert_int_equal(o.frames_changed, 0);
}

static void bad_configs_are_refused(void **state)
{
    (void)state;
    dop_spectral_lines *s = NULL;
    dop_error err;
    dop_spectral_lines_config none = {.bins = 8, .frame_rate_hz = FRAME_RATE, .eligible = NULL};
    assert_int_equal(dop_spectral_lines_create(&none, &s, &err), DOP_ERR_INVALID_ARG);
    dop_spectral_lines_config rate = {.bins = BINS, .frame_rate_hz = 0.0, .eligible = NULL};
    assert_int_equal(dop_spectral_lines_create(&rate, &s, &err), DOP_ERR_INVALID_ARG);
    assert_null(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(noise_alone_has_no_line),
        cmocka_unit_test(steady_tone_is_removed),
        cmocka_unit_test(lone_tone_is_the_signal),
        cmocka_unit_test(narrow_random_band_is_not_a_line),
        cmocka_unit_test(tone_beside_the_stop_band_is_left),
        cmocka_unit_test(wide_band_is_not_a_line),
        cmocka_unit_test(bad_configs_are_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

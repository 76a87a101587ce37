/* Bursts of tissue motion (dsp/pipeline/tissue_burst.c) on synthetic
 * spectra: pulsatile flow with a diastolic reversal and the mirror image
 * of an unbalanced I/Q pair is never a burst; blows that put power on
 * both sides of 0 Hz at once are. 100 frames/s, 256 bins of 48.8 Hz
 * (12.5 kHz), a wall-filter stop band of 2 bins: the low band is bins
 * 2..10 from 0 Hz on each side. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "dopflow/tissue_burst.h"
#include "random_util.h"

#define BINS 256
#define CENTRE (BINS / 2)
#define FRAME_RATE 100.0
#define BIN_HZ (12500.0 / BINS)
#define SECONDS 60
#define FRAMES (SECONDS * (int)FRAME_RATE)
#define TAP_FRAMES 2      /* a blow lasts two frames */
#define TAP_EVERY 23      /* frames between blows: 4.3 per second */
#define HOLD_FRAMES 2     /* tissue_burst.c HOLD */

static dop_tissue_burst *make(void)
{
    dop_tissue_burst_config cfg = dop_tissue_burst_config_default();
    cfg.bins = BINS;
    cfg.bin_hz = BIN_HZ;
    cfg.frame_rate_hz = FRAME_RATE;
    cfg.stop_bins = 2;
    dop_tissue_burst *t = NULL;
    dop_error err;
    assert_int_equal(dop_tissue_burst_create(&cfg, &t, &err), DOP_OK);
    return t;
}

/* Frame i of a 1 s cardiac cycle of flow over unit noise: systole (the
 * first 0.3 s) forward over bins 2..60 at 40 dB above the noise, a
 * reversal (0.3-0.45 s) over bins 2..15 at 20x, diastole forward over
 * bins 2..8 at 5x; the whole forward side mirrored at -25 dB (an
 * unbalanced I/Q pair), which in systole raises the reverse side's low
 * band some 30 times at once with the forward side's. The wall filter's
 * stop band (bins -1..1) holds nothing. */
static void flow_frame(int i, float *psd)
{
    const double phase = fmod((double)i / FRAME_RATE, 1.0);
    for (int k = 0; k < BINS; k++) psd[k] = ru_speckle(1.0f);
    for (int j = 2; j <= 60; j++) {
        float level = phase < 0.3 ? 1e4f : (phase >= 0.45 && j <= 8 ? 5.0f : 0.0f);
        if (level > 0.0f) psd[CENTRE + j] += ru_speckle(level);
    }
    if (phase >= 0.3 && phase < 0.45)
        for (int j = 2; j <= 15; j++) psd[CENTRE - j] += ru_speckle(20.0f);
    for (int j = 2; j < CENTRE; j++) psd[CENTRE - j] += 3.16e-3f * psd[CENTRE + j];
    for (int j = -1; j <= 1; j++) psd[CENTRE + j] = 0.0f;
}

/* A blow: tissue echoes at 300x the noise over bins -10..10. */
static void add_blow(float *psd)
{
    for (int j = -10; j <= 10; j++)
        if (j < -1 || j > 1) psd[CENTRE + j] += ru_speckle(300.0f);
}

static void flow_alone_is_no_burst(void **state)
{
    (void)state;
    ru_seed(11);
    dop_tissue_burst *t = make();
    float psd[BINS];
    int flagged = 0;
    for (int i = 0; i < FRAMES; i++) {
        flow_frame(i, psd);
        flagged += dop_tissue_burst_push(t, psd);
    }
    print_message("flow with a reversal and a -25 dB mirror: %d of %d frames flagged\n", flagged, FRAMES);
    assert_true(flagged <= FRAMES / 200); /* at most 0.5 % */
    dop_tissue_burst_destroy(t);
}

/* Blows every TAP_EVERY frames, from 10 s on (after digital silence for
 * the first 0.5 s: the typical powers start after it). */
static void blows_are_bursts(void **state)
{
    (void)state;
    ru_seed(12);
    dop_tissue_burst *t = make();
    float psd[BINS];
    int blow_frames = 0, blows_found = 0, outside = 0, quiet_frames = 0;
    for (int i = 0; i < FRAMES; i++) {
        if (i < 50) {
            memset(psd, 0, sizeof psd);
        } else {
            flow_frame(i, psd);
        }
        const int since = i % TAP_EVERY, blow = i >= 10 * (int)FRAME_RATE && since < TAP_FRAMES;
        if (blow) add_blow(psd);
        const int flag = dop_tissue_burst_push(t, psd);
        if (blow) {
            blow_frames++;
            blows_found += flag;
        } else if (since >= TAP_FRAMES + HOLD_FRAMES || i < 10 * (int)FRAME_RATE) {
            quiet_frames++;
            outside += flag;
        }
    }
    print_message("blows: %d of %d frames flagged; %d of %d frames away from them\n", blows_found, blow_frames,
                  outside, quiet_frames);
    assert_true(blows_found >= 9 * blow_frames / 10);
    assert_true(outside <= quiet_frames / 100);
    dop_tissue_burst_destroy(t);
}

/* A blow on one side only (a reversal's onset, systole's) is not a burst;
 * nor is anything when the spectrum is too coarse for a low band beyond
 * the stop band; a configuration without bins is refused. */
static void one_side_coarse_spectrum_and_bad_config(void **state)
{
    (void)state;
    ru_seed(13);
    dop_tissue_burst *t = make();
    float psd[BINS];
    int flagged = 0;
    for (int i = 0; i < 2000; i++) {
        for (int k = 0; k < BINS; k++) psd[k] = ru_speckle(1.0f);
        if (i % TAP_EVERY == 0)
            for (int j = 2; j <= 10; j++) psd[CENTRE + j] += ru_speckle(300.0f);
        flagged += dop_tissue_burst_push(t, psd);
    }
    assert_int_equal(flagged, 0);
    dop_tissue_burst_destroy(t);

    dop_tissue_burst_config cfg = dop_tissue_burst_config_default();
    cfg.bins = 16;
    cfg.bin_hz = 1000.0; /* the first bin beyond the stop band is above 500 Hz */
    cfg.frame_rate_hz = FRAME_RATE;
    cfg.stop_bins = 1;
    dop_error err;
    assert_int_equal(dop_tissue_burst_create(&cfg, &t, &err), DOP_OK);
    for (int i = 0; i < 200; i++) {
        for (int k = 0; k < 16; k++) psd[k] = i % 10 == 0 ? 1000.0f : 1.0f;
        assert_int_equal(dop_tissue_burst_push(t, psd), 0);
    }
    dop_tissue_burst_destroy(t);
    cfg.bins = 0;
    assert_int_equal(dop_tissue_burst_create(&cfg, &t, &err), DOP_ERR_INVALID_ARG);
    assert_null(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(flow_alone_is_no_burst),
        cmocka_unit_test(blows_are_bursts),
        cmocka_unit_test(one_side_coarse_spectrum_and_bad_config),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

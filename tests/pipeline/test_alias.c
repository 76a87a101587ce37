/* The aliasing stage (dsp/pipeline/alias.c) on synthetic spectra whose true
 * frequencies are known: a sampled spectrum holds frequency f at f mod fs,
 * so a band beyond the Nyquist frequency fs/2 wraps to the far end. Checked:
 * the baseline layout (0 Hz in the middle, bins outside filled with the noise
 * level), a baseline shift moving the range to [-fs/2 + shift, fs/2 + shift),
 * the unwrapping of a band that crosses the edge (the band contiguous again
 * at its true frequencies, the cut in the empty stretch, never in the wall
 * gap), a band that does not cross left alone, map_hz, reset, and the
 * errors of create. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>

#include "dopflow/alias.h"

#define BINS 128
#define BIN_HZ 100.0                  /* fs = 12800 Hz, Nyquist 6400 Hz */
#define FS_HZ (BINS * BIN_HZ)
#define NOISE 1.0
#define BAND 100.0                    /* 20 dB above the noise */

/* An fft-shifted PSD (bin k at (k - BINS/2) x BIN_HZ) of noise level NOISE
 * with a flat band over the true frequencies [f1, f2) Hz, wrapped modulo fs. */
static void band_psd(float *psd, double f1, double f2)
{
    for (size_t k = 0; k < BINS; k++) psd[k] = (float)NOISE;
    for (double f = f1; f < f2; f += BIN_HZ) {
        long j = lround(f / BIN_HZ);
        long k = ((j + BINS / 2) % BINS + BINS) % BINS;
        psd[k] = (float)BAND;
    }
}

/* Value on the extended axis (bin k at (k - BINS) x BIN_HZ) at f Hz. */
static float ext_at(const dop_alias_frame *fr, double f_hz) { return fr->psd[lround(f_hz / BIN_HZ) + BINS]; }

static dop_alias *make(double shift_hz, int unwrap, double gap_hz)
{
    dop_alias_config cfg = dop_alias_config_default();
    cfg.bins = BINS;
    cfg.bin_hz = BIN_HZ;
    cfg.shift_hz = shift_hz;
    cfg.unwrap = unwrap;
    cfg.gap_hz = gap_hz;
    dop_alias *a = NULL;
    assert_int_equal(dop_alias_create(&cfg, &a, NULL), DOP_OK);
    assert_int_equal(dop_alias_bins(a), 2 * BINS);
    return a;
}

/* No shift, no unwrapping: [-fs/2, fs/2) is laid out as it is; the rest of
 * the extended axis holds the noise level. */
static void baseline_layout(void **state)
{
    (void)state;
    float psd[BINS];
    band_psd(psd, 1000.0, 3000.0);
    dop_alias *a = make(0.0, 0, 0.0);
    dop_alias_frame fr;
    dop_alias_push(a, psd, NOISE, &fr);
    assert_float_equal(fr.lo_hz, -FS_HZ / 2.0, 1e-9);
    assert_int_equal(fr.unwrapped, 0);
    assert_float_equal(ext_at(&fr, 2000.0), BAND, 0.0);
    assert_float_equal(ext_at(&fr, -2000.0), NOISE, 0.0);
    assert_float_equal(ext_at(&fr, 2000.0 + FS_HZ / 2.0 + 1000.0), NOISE, 0.0); /* beyond the range: filled */
    assert_float_equal(ext_at(&fr, -FS_HZ + BIN_HZ), NOISE, 0.0);
    dop_alias_destroy(a);
}

/* A baseline shift of +fs/4: the range is [-fs/4, 3 fs/4), so a forward
 * band at 5000-7000 Hz (beyond Nyquist, held at 5000..6400 and
 * -7800..-5800 Hz) is read at its true frequencies. */
static void baseline_shift_moves_the_range(void **state)
{
    (void)state;
    float psd[BINS];
    band_psd(psd, 5000.0, 7000.0);
    dop_alias *a = make(FS_HZ / 4.0, 0, 0.0);
    dop_alias_frame fr;
    dop_alias_push(a, psd, NOISE, &fr);
    assert_float_equal(fr.lo_hz, -FS_HZ / 4.0, 1e-9);
    for (double f = 5000.0; f < 7000.0; f += BIN_HZ) assert_float_equal(ext_at(&fr, f), BAND, 0.0);
    assert_float_equal(ext_at(&fr, 6900.0 - FS_HZ), NOISE, 0.0); /* the wrapped copy is gone */
    assert_float_equal(dop_alias_map_hz(a, 6900.0 - FS_HZ), 6900.0, 1e-9);
    assert_float_equal(dop_alias_map_hz(a, 1000.0), 1000.0, 1e-9);
    dop_alias_destroy(a);
}

/* Unwrapping: a forward band at 3000-7000 Hz crosses the Nyquist edge (6400
 * Hz; 6400-7000 Hz is held at -6400..-5800 Hz). The cut moves into the
 * widest empty stretch, here between the wrapped part and the wall gap on
 * the reverse side (-5800..-300 Hz, wider than 300..3000 Hz), and the band
 * is read whole at its true frequencies. (Largest-gap unwrapping reads a
 * band as forward flow while its centre lies below fs/2; beyond, the
 * reverse reading leaves the wider gap.) The same spectrum without
 * unwrapping stays split. */
static void crossing_band_is_unwrapped(void **state)
{
    (void)state;
    float psd[BINS];
    band_psd(psd, 3000.0, 7000.0);
    dop_alias *a = make(0.0, 1, 300.0);
    dop_alias_frame fr;
    dop_alias_push(a, psd, NOISE, &fr);
    assert_int_equal(fr.unwrapped, 1);
    /* The cut lies in the empty stretch (-5800, -300) Hz... */
    assert_true(fr.lo_hz > -5800.0 && fr.lo_hz < -300.0);
    for (double f = 3000.0; f < 7000.0; f += BIN_HZ) assert_float_equal(ext_at(&fr, f), BAND, 0.0);
    assert_float_equal(ext_at(&fr, 6900.0 - FS_HZ), NOISE, 0.0);
    assert_float_equal(dop_alias_map_hz(a, 6900.0 - FS_HZ), 6900.0, 1e-9);
    /* ...and after reset the range is the baseline again. */
    dop_alias_reset(a);
    assert_float_equal(dop_alias_map_hz(a, 6900.0 - FS_HZ), 6900.0 - FS_HZ, 1e-9);
    dop_alias_destroy(a);

    dop_alias *plain = make(0.0, 0, 300.0);
    dop_alias_push(plain, psd, NOISE, &fr);
    assert_int_equal(fr.unwrapped, 0);
    assert_float_equal(ext_at(&fr, 6900.0), NOISE, 0.0);
    assert_float_equal(ext_at(&fr, 6900.0 - FS_HZ), BAND, 0.0);
    dop_alias_destroy(plain);
}

/* A band inside the range (and one that only touches the wall gap) is left
 * where it is, frame after frame: the state of one frame does not leak into
 * the next. */
static void band_inside_the_range_stays(void **state)
{
    (void)state;
    float wrapped[BINS], inside[BINS];
    band_psd(wrapped, 3000.0, 7000.0);
    band_psd(inside, -3000.0, 2000.0);
    dop_alias *a = make(0.0, 1, 300.0);
    dop_alias_frame fr;
    dop_alias_push(a, wrapped, NOISE, &fr);
    assert_int_equal(fr.unwrapped, 1);
    dop_alias_push(a, inside, NOISE, &fr);
    assert_int_equal(fr.unwrapped, 0);
    assert_float_equal(fr.lo_hz, -FS_HZ / 2.0, 1e-9);
    assert_float_equal(ext_at(&fr, -2500.0), BAND, 0.0);
    assert_float_equal(ext_at(&fr, 1500.0), BAND, 0.0);
    dop_alias_destroy(a);
}

/* The wall-filter gain repeats over the extended axis. */
static void gain_extends_periodically(void **state)
{
    (void)state;
    double gain[BINS], ext[2 * BINS];
    for (size_t k = 0; k < BINS; k++) gain[k] = (double)k; /* fft-shifted: bin k at (k - BINS/2) x BIN_HZ */
    dop_alias *a = make(0.0, 0, 0.0);
    dop_alias_extend_gain(a, gain, ext);
    for (size_t k = 0; k < 2 * BINS; k++) {
        long j = (long)k - BINS; /* offset from 0 Hz */
        long phys = ((j + BINS / 2) % BINS + BINS) % BINS;
        assert_float_equal(ext[k], gain[phys], 0.0);
    }
    dop_alias_destroy(a);
}

static void create_rejects_bad_settings(void **state)
{
    (void)state;
    dop_alias_config cfg = dop_alias_config_default();
    dop_alias *a = (dop_alias *)0x1;
    dop_error err = {0};
    cfg.bins = 6;
    cfg.bin_hz = BIN_HZ;
    assert_int_equal(dop_alias_create(&cfg, &a, &err), DOP_ERR_INVALID_ARG);
    assert_null(a);
    cfg.bins = 129;
    assert_int_equal(dop_alias_create(&cfg, &a, &err), DOP_ERR_INVALID_ARG);
    cfg.bins = BINS;
    cfg.bin_hz = 0.0;
    assert_int_equal(dop_alias_create(&cfg, &a, &err), DOP_ERR_INVALID_ARG);
    cfg.bin_hz = BIN_HZ;
    cfg.shift_hz = 0.95 * FS_HZ / 2.0;
    assert_int_equal(dop_alias_create(&cfg, &a, &err), DOP_ERR_INVALID_ARG);
    cfg.shift_hz = NAN;
    assert_int_equal(dop_alias_create(&cfg, &a, &err), DOP_ERR_INVALID_ARG);
    dop_alias_destroy(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(baseline_layout),
        cmocka_unit_test(baseline_shift_moves_the_range),
        cmocka_unit_test(crossing_band_is_unwrapped),
        cmocka_unit_test(band_inside_the_range_stays),
        cmocka_unit_test(gain_extends_periodically),
        cmocka_unit_test(create_rejects_bad_settings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* The epoch summary (dsp/pipeline/summary.c) on frames and beats with a
 * known answer: a velocity 10 + 5 sin(2 pi t) cm/s sampled every 10 ms
 * averages to exactly 10 cm/s over whole cycles; artifact frames at
 * scattered phases, even with absurd values, are left out of the means
 * (and counted); the heart rate is 60 / mean accepted beat duration; the
 * pulsatile flag follows the majority of frames; an epoch without frames
 * has no values; reset empties; a CSV row has the header's columns. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dopflow/doppler.h"
#include "dopflow/summary.h"

#define HOP_S 0.01
#define DIAMETER_MM 4.0

static double velocity_at(double t) { return 10.0 + 5.0 * sin(2.0 * M_PI * t); }

static dop_frame frame_at(int64_t i)
{
    double t = (double)i * HOP_S, v = velocity_at(t);
    dop_frame f = {.index = i, .time_s = t, .vmax_cm_s = 2.0 * v, .vmean_cm_s = v, .diameter_mm = DIAMETER_MM,
                   .flow_ml_min = dop_flow_ml_min(v, DIAMETER_MM), .shear_rate_s = dop_shear_rate_s(v, DIAMETER_MM),
                   .beat_index = -1};
    return f;
}

static dop_summary_acc *make(const char *spec, size_t *count)
{
    dop_epoch *epochs = NULL;
    assert_int_equal(dop_epochs_parse(spec, 0.0, &epochs, count, NULL), DOP_OK);
    dop_summary_acc *acc = NULL;
    assert_int_equal(dop_summary_acc_create(epochs, *count, HOP_S, &acc, NULL), DOP_OK);
    free(epochs);
    return acc;
}

/* Whole cycles: the time averages are the waveform's means. */
static void time_averages_over_whole_cycles(void **state)
{
    (void)state;
    size_t n = 0;
    dop_summary_acc *acc = make("a:5:15,b:2:3.5", &n);
    for (int64_t i = 0; i < 2000; i++) {
        dop_frame f = frame_at(i);
        dop_summary_acc_add_frame(acc, &f);
    }
    dop_summary s[2];
    dop_summary_acc_result(acc, s);
    assert_string_equal(s[0].epoch, "a");
    assert_float_equal(s[0].mean_velocity_cm_s, 10.0, 1e-9);
    assert_float_equal(s[0].tamax_cm_s, 20.0, 1e-9);
    assert_float_equal(s[0].flow_ml_min, dop_flow_ml_min(10.0, DIAMETER_MM), 1e-9);
    assert_float_equal(s[0].shear_rate_s, dop_shear_rate_s(10.0, DIAMETER_MM), 1e-9);
    assert_float_equal(s[0].analysed_s, 10.0, 1e-9);
    assert_float_equal(s[0].rejected_fraction, 0.0, 0.0);
    assert_int_equal(s[0].pulsatile, 1);
    /* 1.5 cycles: the mean of 10 + 5 sin(2 pi t) over [2, 3.5) s is
     * 10 + 5 (cos 4 pi - cos 7 pi) / (2 pi x 1.5) (sampled: within 0.02). */
    double expect = 10.0 + 5.0 * (cos(4.0 * M_PI) - cos(7.0 * M_PI)) / (2.0 * M_PI * 1.5);
    assert_float_equal(s[1].mean_velocity_cm_s, expect, 0.02);
    assert_true(isnan(s[1].heart_rate_bpm));
    assert_int_equal(s[1].n_beats, 0);
    dop_summary_acc_destroy(acc);
}

/* Artifact frames (every 7th frame: at every phase of the 100-frame cycle)
 * with absurd velocities are left out; bridged ones are counted too, and
 * frames of rejected beats or excluded spans are left out as well. */
static void artifact_frames_are_left_out(void **state)
{
    (void)state;
    size_t n = 0;
    dop_summary_acc *acc = make("all:0:20", &n);
    const uint32_t kinds[] = {DOP_FRAME_BURST, DOP_FRAME_BURST | DOP_FRAME_BRIDGED, DOP_FRAME_SATURATED,
                              DOP_FRAME_DROPOUT, DOP_FRAME_REJECTED_BEAT, DOP_FRAME_EXCLUDED};
    int64_t flagged = 0, bridged = 0;
    for (int64_t i = 0; i < 2000; i++) {
        dop_frame f = frame_at(i);
        if (i % 7 == 3) {
            f.flags = kinds[(i / 7) % 6];
            f.vmean_cm_s = f.vmax_cm_s = 1000.0;
            f.flow_ml_min = f.shear_rate_s = 1e6;
            flagged++;
            bridged += (f.flags & DOP_FRAME_BRIDGED) != 0;
        }
        dop_summary_acc_add_frame(acc, &f);
    }
    dop_summary s;
    dop_summary_acc_result(acc, &s);
    /* 7 and 100 are coprime: the flagged frames cover every phase evenly. */
    assert_float_equal(s.mean_velocity_cm_s, 10.0, 0.01);
    assert_float_equal(s.tamax_cm_s, 20.0, 0.02);
    assert_float_equal(s.rejected_fraction, (double)flagged / 2000.0, 1e-12);
    assert_float_equal(s.bridged_fraction, (double)bridged / 2000.0, 1e-12);
    dop_summary_acc_destroy(acc);
}

/* Heart rate, PI, RI and SQI over accepted beats with onset in the epoch;
 * rejected beats only counted. */
static void beats_give_heart_rate(void **state)
{
    (void)state;
    size_t n = 0;
    dop_summary_acc *acc = make("e:0:10", &n);
    for (int i = 0; i < 12; i++) {
        double start = 0.8 * i; /* 0.8 s beats: 75 bpm */
        dop_beat b = {.index = i, .start_s = start, .end_s = start + 0.8, .pi = 1.0 + 0.1 * (i % 2), .ri = 0.7,
                      .sqi = 0.9, .rejected = i == 4 || i == 5};
        dop_summary_acc_add_beat(acc, &b);
    }
    dop_summary s;
    dop_summary_acc_result(acc, &s);
    /* Onsets 0, 0.8, ..., 8.8 s: 12 beats in the epoch, 2 of them rejected. */
    assert_int_equal(s.n_beats, 10);
    assert_int_equal(s.n_beats_rejected, 2);
    assert_float_equal(s.heart_rate_bpm, 75.0, 1e-9);
    assert_float_equal(s.pi, 1.05, 1e-12);
    assert_float_equal(s.ri, 0.7, 1e-12);
    assert_float_equal(s.mean_sqi, 0.9, 1e-12);
    dop_summary_acc_destroy(acc);
}

/* pulsatile: at most half the frames without periodic evidence. */
static void pulsatile_follows_the_majority(void **state)
{
    (void)state;
    size_t n = 0;
    dop_summary_acc *acc = make("half:0:1,most:1:2", &n);
    for (int64_t i = 0; i < 200; i++) {
        dop_frame f = frame_at(i);
        int in_second = i >= 100;
        if ((!in_second && i % 2) || (in_second && i % 4 != 0)) f.flags |= DOP_FRAME_NOT_PULSATILE;
        dop_summary_acc_add_frame(acc, &f);
    }
    dop_summary s[2];
    dop_summary_acc_result(acc, s);
    assert_int_equal(s[0].pulsatile, 1); /* exactly half */
    assert_int_equal(s[1].pulsatile, 0); /* three quarters */
    dop_summary_acc_destroy(acc);
}

/* No frames: no values; reset empties the sums; the CSV row has the
 * header's columns, NAN as empty fields. */
static void empty_epoch_reset_and_csv(void **state)
{
    (void)state;
    size_t n = 0;
    dop_summary_acc *acc = make("later:100:110", &n);
    dop_frame f = frame_at(5);
    dop_summary_acc_add_frame(acc, &f);
    dop_summary s;
    dop_summary_acc_result(acc, &s);
    assert_true(isnan(s.mean_velocity_cm_s) && isnan(s.flow_ml_min) && isnan(s.rejected_fraction));
    assert_float_equal(s.analysed_s, 0.0, 0.0);
    assert_int_equal(s.pulsatile, 0);
    dop_summary_acc_destroy(acc);

    acc = make("all:0:1", &n);
    for (int64_t i = 0; i < 100; i++) {
        dop_frame g = frame_at(i);
        dop_summary_acc_add_frame(acc, &g);
    }
    dop_summary_acc_reset(acc);
    dop_summary_acc_result(acc, &s);
    assert_true(isnan(s.mean_velocity_cm_s));
    assert_float_equal(s.analysed_s, 0.0, 0.0);

    char *text = NULL;
    size_t size = 0;
    FILE *mem = open_memstream(&text, &size);
    dop_summary_csv_row(mem, &s);
    fclose(mem);
    size_t commas_row = 0, commas_header = 0;
    for (const char *p = text; *p; p++) commas_row += *p == ',';
    for (const char *p = dop_summary_csv_header(); *p; p++) commas_header += *p == ',';
    assert_int_equal(commas_row, commas_header);
    assert_memory_equal(text, "all,0,1,,", 9); /* label, start, end, then the empty mean velocity */
    free(text);
    dop_summary_acc_destroy(acc);
    dop_summary_acc_destroy(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(time_averages_over_whole_cycles),
        cmocka_unit_test(artifact_frames_are_left_out),
        cmocka_unit_test(beats_give_heart_rate),
        cmocka_unit_test(pulsatile_follows_the_majority),
        cmocka_unit_test(empty_epoch_reset_and_csv),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

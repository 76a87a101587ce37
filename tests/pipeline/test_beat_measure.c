/* The measurements of one cardiac cycle (dsp/pipeline/beat_measure.c) on a
 * beat with a known answer: a triangular maximum-velocity envelope from EDV
 * 20 cm/s up to PSV 100 cm/s and back gives TAMAX 60 cm/s, Gosling's
 * PI = (PSV - EDV) / TAMAX = 4/3 and Pourcelot's RI = (PSV - EDV) / PSV =
 * 0.8; artifact frames are left out of every value (a burst with an absurd
 * velocity changes nothing) and counted in the artifact fraction when they
 * hide the cycle (clipping does not); a beat with no clean frame is
 * measured on all of them; a bridge interpolates linearly and marks the
 * frame. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "dopflow/beat_measure.h"

#define FRAMES 101 /* an odd count: the peak falls on the middle frame */

/* Frame i of the triangle: 20 -> 100 -> 20 cm/s (vmax); vmean half of it. */
static dop_frame triangle_frame(int i)
{
    double x = (double)i / (FRAMES - 1), v = 20.0 + 80.0 * (1.0 - fabs(2.0 * x - 1.0));
    dop_frame f = {.index = i, .time_s = 0.01 * i, .vmax_cm_s = v, .vmean_cm_s = v / 2.0, .flow_ml_min = 3.0 * v,
                   .shear_rate_s = 4.0 * v, .beat_index = 0};
    return f;
}

static void triangle_indices(void **state)
{
    (void)state;
    dop_beat_sums s = dop_beat_sums_empty();
    for (int i = 0; i < FRAMES; i++) {
        dop_frame f = triangle_frame(i);
        dop_beat_sums_add(&s, &f);
    }
    dop_beat b = {0};
    dop_beat_set_indices(&b, &s, 20.0);
    assert_float_equal(b.psv_cm_s, 100.0, 1e-12);
    assert_float_equal(b.edv_cm_s, 20.0, 0.0);
    double tamax = 0.0;
    for (int i = 0; i < FRAMES; i++) tamax += triangle_frame(i).vmax_cm_s;
    tamax /= FRAMES;
    assert_float_equal(b.tamax_cm_s, tamax, 1e-12);
    assert_float_equal(b.tamax_cm_s, 60.0, 0.5); /* the continuous triangle's mean */
    assert_float_equal(b.tamean_cm_s, tamax / 2.0, 1e-12);
    assert_float_equal(b.flow_ml_min, 3.0 * tamax, 1e-9);
    assert_float_equal(b.pi, 80.0 / tamax, 1e-12);
    assert_float_equal(b.ri, 0.8, 1e-12);
    assert_float_equal(b.artifact_fraction, 0.0, 0.0);
}

/* A burst with an absurd velocity at the peak changes no value (the clean
 * frames' peak is one frame off the top), and counts in the artifact
 * fraction; a clipped frame is left out but does not count. */
static void artifacts_left_out(void **state)
{
    (void)state;
    dop_beat_sums s = dop_beat_sums_empty();
    for (int i = 0; i < FRAMES; i++) {
        dop_frame f = triangle_frame(i);
        if (i == FRAMES / 2) {
            f.flags = DOP_FRAME_BURST;
            f.vmax_cm_s = f.vmean_cm_s = 5000.0;
        }
        if (i == 10) f.flags = DOP_FRAME_SATURATED;
        dop_beat_sums_add(&s, &f);
    }
    dop_beat b = {0};
    dop_beat_set_indices(&b, &s, 20.0);
    assert_float_equal(b.psv_cm_s, triangle_frame(FRAMES / 2 - 1).vmax_cm_s, 1e-12);
    assert_true(b.tamax_cm_s < 61.0);
    assert_int_equal(s.clean.frames, FRAMES - 2);
    assert_int_equal(s.all.frames, FRAMES);
    assert_float_equal(b.artifact_fraction, 1.0 / FRAMES, 1e-15);
}

/* Every frame an artifact: measured on all of them rather than nothing. */
static void no_clean_frame_uses_all(void **state)
{
    (void)state;
    dop_beat_sums s = dop_beat_sums_empty();
    for (int i = 0; i < FRAMES; i++) {
        dop_frame f = triangle_frame(i);
        f.flags = DOP_FRAME_DROPOUT;
        dop_beat_sums_add(&s, &f);
    }
    dop_beat b = {0};
    dop_beat_set_indices(&b, &s, 20.0);
    assert_float_equal(b.psv_cm_s, 100.0, 1e-12);
    assert_float_equal(b.artifact_fraction, 1.0, 0.0);
}

static void bridge_interpolates(void **state)
{
    (void)state;
    dop_frame a = triangle_frame(0), c = triangle_frame(50), f = triangle_frame(20);
    f.flags = DOP_FRAME_BURST;
    f.vmax_cm_s = 1e4;
    dop_frame_bridge(&f, &a, &c, 0.25);
    assert_float_equal(f.vmax_cm_s, 20.0 + 0.25 * 80.0, 1e-12);
    assert_float_equal(f.vmean_cm_s, (20.0 + 0.25 * 80.0) / 2.0, 1e-12);
    assert_float_equal(f.flow_ml_min, 3.0 * (20.0 + 0.25 * 80.0), 1e-9);
    assert_true(f.flags & DOP_FRAME_BRIDGED);
    assert_true(f.flags & DOP_FRAME_BURST);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(triangle_indices),
        cmocka_unit_test(artifacts_left_out),
        cmocka_unit_test(no_clean_frame_uses_all),
        cmocka_unit_test(bridge_interpolates),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

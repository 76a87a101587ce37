/* The clutter band (dsp/pipeline/clutter_band.c): the edge walk over a
 * clutter lump, its per-bin limit, and the per-side refill from the
 * passband with its noise floor. (tests/pipeline/test_envelope.c checks the
 * mean velocity it keeps under clutter beyond the wall cutoff.) */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "dopflow/clutter_band.h"

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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(clutter_band_edge_follows_lump),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

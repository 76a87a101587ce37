/* The result schema: every table is consistent (each CSV column once, each
 * HDF5 dataset named once), the writers' CSV headers are the schema's, and
 * out-of-range lookups are refused rather than read past the tables. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "dopflow/result_csv.h"
#include "dopflow/result_schema.h"
#include "dopflow/summary.h"

static void tables_are_consistent(void **state)
{
    (void)state;
    for (int k = 0; k < DOP_RESULT_KINDS; k++) {
        const dop_result_table *t = dop_result_schema((dop_result_kind)k);
        assert_non_null(t);
        size_t with_csv = 0;
        for (size_t i = 0; i < t->count; i++) {
            const dop_result_column *c = &t->columns[i];
            assert_true(c->csv_name || c->h5_name);
            assert_non_null(c->unit);
            if (c->csv_name) with_csv++;
            for (size_t j = 0; j < i; j++) { /* names unique within a table */
                const dop_result_column *d = &t->columns[j];
                if (c->csv_name && d->csv_name) assert_string_not_equal(c->csv_name, d->csv_name);
                if (c->h5_name && d->h5_name) assert_string_not_equal(c->h5_name, d->h5_name);
            }
        }
        assert_int_equal(t->csv_count, with_csv); /* every CSV column in csv_order, once */
        for (size_t i = 0; i < t->csv_count; i++) {
            assert_true(t->csv_order[i] < t->count);
            assert_non_null(t->columns[t->csv_order[i]].csv_name);
            for (size_t j = 0; j < i; j++) assert_int_not_equal(t->csv_order[i], t->csv_order[j]);
        }
    }
}

static void headers_come_from_the_schema(void **state)
{
    (void)state;
    assert_string_equal(dop_frame_csv_header(), dop_result_csv_header(DOP_RESULT_FRAMES));
    assert_string_equal(dop_beat_csv_header(), dop_result_csv_header(DOP_RESULT_BEATS));
    assert_string_equal(dop_summary_csv_header(), dop_result_csv_header(DOP_RESULT_SUMMARY));
    /* the first columns, as documented in the README */
    assert_memory_equal(dop_frame_csv_header(), "time_s,vmax_cm_s,vmean_cm_s,", 28);
    assert_memory_equal(dop_beat_csv_header(), "beat,start_s,end_s,", 19);
    assert_string_equal(dop_result_csv_header(DOP_RESULT_SPECTRA), ""); /* HDF5 only */
}

static void h5_paths(void **state)
{
    (void)state;
    char buf[64];
    assert_string_equal(dop_result_h5_path(DOP_RESULT_FRAMES, DOP_FRAME_BEAT, buf, sizeof buf), "/frames/beat_index");
    assert_string_equal(dop_result_h5_path(DOP_RESULT_SPECTRA, DOP_SPECTRA_TIME, buf, sizeof buf), "/time_s");
    assert_string_equal(dop_result_h5_path(DOP_RESULT_BEATS, DOP_BEAT_PI_TAMEAN, buf, sizeof buf), ""); /* CSV only */
    assert_string_equal(dop_result_h5_path(DOP_RESULT_SUMMARY, DOP_SUMMARY_FLOW, buf, sizeof buf), "");
    assert_string_equal(dop_result_column_of(DOP_RESULT_FRAMES, DOP_FRAME_FLOW)->unit, "ml/min");
}

static void out_of_range_is_refused(void **state)
{
    (void)state;
    char buf[8] = "x";
    assert_null(dop_result_schema(DOP_RESULT_KINDS));
    assert_null(dop_result_schema((dop_result_kind)-1));
    assert_null(dop_result_column_of(DOP_RESULT_FRAMES, DOP_FRAME_COLUMNS));
    assert_null(dop_result_column_of(DOP_RESULT_FRAMES, -1));
    assert_string_equal(dop_result_csv_header(DOP_RESULT_KINDS), "");
    assert_string_equal(dop_result_h5_path(DOP_RESULT_KINDS, 0, buf, sizeof buf), "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(tables_are_consistent),
        cmocka_unit_test(headers_come_from_the_schema),
        cmocka_unit_test(h5_paths),
        cmocka_unit_test(out_of_range_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

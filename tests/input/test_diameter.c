/* Diameter track from CSV: interpolation, the CSV dialects spreadsheets
 * write, and every rejected file. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dopflow/analysis.h"
#include "dopflow/diameter.h"
#include "io_util.h"


static dop_status load_text(const char *dir, const char *text, size_t len, dop_diameter_track **track, dop_error *err)
{
    char path[512];
    io_path_join(path, sizeof path, dir, "diameter.csv");
    assert_int_equal(io_file_write(path, text, len), 0);
    return dop_diameter_track_load(path, track, err);
}

static void test_interpolation(void **state)
{
    const char *text = "time_s,diameter_mm\n0.0,6.0\n1.0,7.0\n3.0,5.0\n";
    dop_diameter_track *t = NULL;
    dop_error err = {""};
    assert_int_equal(load_text(*state, text, strlen(text), &t, &err), DOP_OK);
    assert_int_equal(dop_diameter_track_count(t), 3);
    /* The signature of dop_diameter_fn, so it plugs into the analysis. */
    dop_diameter_fn fn = dop_diameter_track_at;
    assert_float_equal(fn(0.0, t), 6.0, 1e-12);
    assert_float_equal(fn(0.25, t), 6.25, 1e-12);
    assert_float_equal(fn(1.0, t), 7.0, 1e-12);
    assert_float_equal(fn(2.0, t), 6.0, 1e-12);
    assert_float_equal(fn(2.5, t), 5.5, 1e-12);
    /* Held constant beyond the ends. */
    assert_float_equal(fn(-10.0, t), 6.0, 0.0);
    assert_float_equal(fn(1e6, t), 5.0, 0.0);
    assert_true(isnan(fn(NAN, t)));
    dop_diameter_track_destroy(t);
    dop_diameter_track_destroy(NULL);
}

static void test_single_row_is_constant(void **state)
{
    const char *text = "time_s,diameter_mm\n12.5,4.2";  /* no final newline */
    dop_diameter_track *t = NULL;
    assert_int_equal(load_text(*state, text, strlen(text), &t, NULL), DOP_OK);
    assert_float_equal(dop_diameter_track_at(0.0, t), 4.2, 0.0);
    assert_float_equal(dop_diameter_track_at(100.0, t), 4.2, 0.0);
    dop_diameter_track_destroy(t);
}

static void test_spreadsheet_dialect(void **state)
{
    /* UTF-8 BOM, CRLF, quoted header, extra columns, columns swapped,
     * a quoted field with a comma, blanks around numbers. */
    const char text[] = "\xEF\xBB\xBF\"frame\",\"diameter_mm\",\"note, free text\",\"time_s\"\r\n"
                        "1,\"6.0\",\"start, ok\", 0.0 \r\n"
                        "2,8.0,,2.0\r\n"
                        "\r\n"
                        "3,7.0,\"said \"\"fine\"\"\",4\r\n";
    dop_diameter_track *t = NULL;
    dop_error err = {""};
    dop_status st = load_text(*state, text, sizeof text - 1, &t, &err);
    if (st != DOP_OK) fail_msg("%s", err.message);
    assert_int_equal(dop_diameter_track_count(t), 3);
    assert_float_equal(dop_diameter_track_at(1.0, t), 7.0, 1e-12);
    assert_float_equal(dop_diameter_track_at(3.0, t), 7.5, 1e-12);
    dop_diameter_track_destroy(t);
}

static void expect_error(const char *dir, const char *text, dop_status expected, const char *fragment)
{
    dop_diameter_track *t = NULL;
    dop_error err = {""};
    dop_status st = load_text(dir, text, strlen(text), &t, &err);
    if (st != expected) fail_msg("\"%s\": got %s (%s)", text, dop_strerror(st), err.message);
    assert_null(t);
    if (!strstr(err.message, fragment)) fail_msg("message \"%s\" lacks \"%s\"", err.message, fragment);
    if (!strstr(err.message, "diameter.csv")) fail_msg("message \"%s\" does not name the file", err.message);
}

static void test_errors(void **state)
{
    const char *dir = *state;
    expect_error(dir, "", DOP_ERR_METADATA, "empty");
    expect_error(dir, "time_s,diameter_mm\n", DOP_ERR_METADATA, "no data rows");
    expect_error(dir, "time,diameter_mm\n0,5\n", DOP_ERR_METADATA, "time_s");
    expect_error(dir, "time_s,d\n0,5\n", DOP_ERR_METADATA, "diameter_mm");
    expect_error(dir, "time_s,diameter_mm,time_s\n0,5,0\n", DOP_ERR_METADATA, "twice");
    expect_error(dir, "time_s,diameter_mm\n0,5\n1,abc\n", DOP_ERR_METADATA, "row 3");
    expect_error(dir, "time_s,diameter_mm\n0,5\n1,abc\n", DOP_ERR_METADATA, "not a number");
    expect_error(dir, "time_s,diameter_mm\n0,5\n1,5mm\n", DOP_ERR_METADATA, "not a number");
    expect_error(dir, "time_s,diameter_mm\n0,5\n,5\n", DOP_ERR_METADATA, "not a number");
    expect_error(dir, "time_s,diameter_mm\n0,5\n1\n", DOP_ERR_METADATA, "no value for diameter_mm");
    expect_error(dir, "time_s,diameter_mm\n0,5\n2,5\n1,5\n", DOP_ERR_METADATA, "does not increase");
    expect_error(dir, "time_s,diameter_mm\n0,5\n0,6\n", DOP_ERR_METADATA, "does not increase");
    expect_error(dir, "time_s,diameter_mm\n0,0\n", DOP_ERR_METADATA, "(0, 100] mm");
    expect_error(dir, "time_s,diameter_mm\n0,-3\n", DOP_ERR_METADATA, "(0, 100] mm");
    expect_error(dir, "time_s,diameter_mm\n0,150\n", DOP_ERR_METADATA, "(0, 100] mm");
    expect_error(dir, "time_s,diameter_mm\n0,nan\n", DOP_ERR_METADATA, "not a number");
    expect_error(dir, "time_s,diameter_mm\n0,\"5\n", DOP_ERR_METADATA, "malformed");

    dop_diameter_track *t = NULL;
    dop_error err = {""};
    char path[512];
    io_path_join(path, sizeof path, dir, "missing.csv");
    assert_int_equal(dop_diameter_track_load(path, &t, &err), DOP_ERR_IO);
    assert_null(t);
    assert_non_null(strstr(err.message, "missing.csv"));
}

static void test_long_file(void **state)
{
    /* More rows than one read block (64 KiB) and than the first allocation;
     * diameter(t) = 5 + 0.5 sin(t) mm sampled every 10 ms. */
    size_t cap = 1 << 20, len = 0;
    char *text = malloc(cap);
    len += (size_t)snprintf(text, cap, "time_s,diameter_mm\n");
    for (int i = 0; i < 20000; i++)
        len += (size_t)snprintf(text + len, cap - len, "%.3f,%.4f\n", 0.01 * i, 5.0 + 0.5 * sin(0.01 * i));
    dop_diameter_track *t = NULL;
    dop_error err = {""};
    assert_int_equal(load_text(*state, text, len, &t, &err), DOP_OK);
    assert_int_equal(dop_diameter_track_count(t), 20000);
    assert_float_equal(dop_diameter_track_at(100.0, t), 5.0 + 0.5 * sin(100.0), 1e-4);
    assert_float_equal(dop_diameter_track_at(150.005, t), 5.0 + 0.5 * sin(150.005), 1e-4);
    dop_diameter_track_destroy(t);
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_interpolation),
        cmocka_unit_test(test_single_row_is_constant),
        cmocka_unit_test(test_spreadsheet_dialect),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_long_file),
    };
    return cmocka_run_group_tests(tests, io_tmpdir_setup, io_tmpdir_teardown);
}

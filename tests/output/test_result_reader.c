/* The result reader (dopflow/result_reader.h): an HDF5 result written by
 * dop_h5_writer reads back, column by column at its schema paths, as the
 * values written; CSV files stream row by row with RFC 4180 quoting, CR LF
 * and blank lines; columns are found by their schema names; numbers parse
 * strictly; every failure (missing file, not HDF5, missing dataset, empty
 * or malformed CSV, a row callback's error) is reported with the path. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dopflow/h5_writer.h"
#include "dopflow/result_reader.h"
#include "io_util.h"

#define FRAMES 30

static void write_h5(const char *path)
{
    const float axis_cm_s[3] = {-10.0f, 0.0f, 10.0f}, row[3] = {-70.0f, -60.0f, -50.0f};
    dop_h5_writer *w = NULL;
    assert_int_equal(dop_h5_writer_create(path, 3, axis_cm_s, &w, NULL), DOP_OK);
    for (int i = 0; i < 4; i++) assert_int_equal(dop_h5_writer_add_spectrum(w, 0.01 * i, row, NULL), DOP_OK);
    for (int i = 0; i < FRAMES; i++) {
        dop_frame f = {.index = i, .time_s = 0.01 * i, .vmax_cm_s = 30.0 + i, .vmean_cm_s = 0.5 * i,
                       .diameter_mm = NAN, .flow_ml_min = NAN, .shear_rate_s = NAN, .beat_index = -1};
        assert_int_equal(dop_h5_writer_add_frame(w, &f, NULL), DOP_OK);
    }
    assert_int_equal(dop_h5_writer_commit(w, NULL), DOP_OK);
}

static void h5_columns_read_back(void **state)
{
    char path[512];
    io_path_join(path, sizeof path, *state, "r.h5");
    write_h5(path);
    int64_t file = -1;
    assert_int_equal(dop_result_h5_open(path, &file, NULL), DOP_OK);
    double *v = NULL;
    size_t n = 0;
    assert_int_equal(dop_result_h5_read_column(file, path, DOP_RESULT_FRAMES, DOP_FRAME_VMAX, &v, &n, NULL), DOP_OK);
    assert_int_equal(n, FRAMES);
    for (size_t i = 0; i < n; i++) assert_float_equal(v[i], 30.0 + (double)i, 0.0);
    free(v);
    assert_int_equal(dop_result_h5_read_column(file, path, DOP_RESULT_SPECTRA, DOP_SPECTRA_VELOCITY, &v, &n, NULL),
                     DOP_OK);
    assert_int_equal(n, 3);
    assert_float_equal(v[2], 10.0, 0.0);
    free(v);
    /* A dataset that is not there (no beats were written): named in the message. */
    dop_error err = {{0}};
    assert_int_equal(dop_result_h5_read_doubles(file, path, "frames/no_such", &v, &n, &err), DOP_ERR_FORMAT);
    assert_non_null(strstr(err.message, "/frames/no_such"));
    assert_null(v);
    assert_int_equal(dop_result_h5_read_doubles(file, path, "spectrogram", &v, &n, &err), DOP_ERR_FORMAT); /* 2-D */
    dop_result_h5_close(file);
    dop_result_h5_close(-1);
}

static void h5_open_errors(void **state)
{
    char path[512];
    dop_error err = {{0}};
    int64_t file = 0;
    io_path_join(path, sizeof path, *state, "missing.h5");
    assert_int_equal(dop_result_h5_open(path, &file, &err), DOP_ERR_IO);
    assert_non_null(strstr(err.message, path));
    assert_true(file < 0);
    io_path_join(path, sizeof path, *state, "text.h5");
    assert_int_equal(io_file_write(path, "time_s\n1\n", 9), 0);
    assert_int_equal(dop_result_h5_open(path, &file, &err), DOP_ERR_FORMAT);
    assert_non_null(strstr(err.message, "not an HDF5 file"));
}

/* Every row of a CSV, joined back with '|' between fields, ';' after rows. */
typedef struct joined {
    char text[512];
    int fail_at; /* row whose callback fails, or -1 */
} joined;

static dop_status join_row(const char *const *fields, size_t count, size_t row, void *user, dop_error *err)
{
    joined *j = user;
    if ((int)row == j->fail_at) return dop_error_set(err, DOP_ERR_INVALID_ARG, "row %zu refused", row);
    for (size_t i = 0; i < count; i++) {
        strncat(j->text, fields[i], sizeof j->text - strlen(j->text) - 1);
        strncat(j->text, i + 1 < count ? "|" : ";", sizeof j->text - strlen(j->text) - 1);
    }
    return DOP_OK;
}

static void csv_rows_stream(void **state)
{
    char path[512];
    io_path_join(path, sizeof path, *state, "r.csv");
    const char *csv = "epoch, flow_ml_min ,time_s\r\n\"pre, rest\",39.5,\"a \"\"b\"\"\"\r\n\r\npost,,2\n";
    assert_int_equal(io_file_write(path, csv, strlen(csv)), 0);
    joined j = {.fail_at = -1};
    assert_int_equal(dop_result_csv_read(path, join_row, &j, NULL), DOP_OK);
    assert_string_equal(j.text, "epoch|flow_ml_min|time_s;pre, rest|39.5|a \"b\";post||2;"); /* spaces around unquoted fields trimmed */
    /* A callback's error stops the read and is returned as it is. */
    joined k = {.fail_at = 1};
    dop_error err = {{0}};
    assert_int_equal(dop_result_csv_read(path, join_row, &k, &err), DOP_ERR_INVALID_ARG);
    assert_string_equal(err.message, "row 1 refused");
}

static void csv_columns_and_numbers(void **state)
{
    (void)state;
    const char *header[] = {"epoch", " flow_ml_min ", "time_s\r"};
    assert_int_equal(dop_result_csv_column(header, 3, "flow_ml_min"), 1);
    assert_int_equal(dop_result_csv_column(header, 3, "time_s"), 2);
    assert_int_equal(dop_result_csv_column(header, 3, "vmax_cm_s"), -1);
    assert_int_equal(dop_result_csv_column_of(header, 3, DOP_RESULT_SUMMARY, DOP_SUMMARY_FLOW), 1);
    assert_int_equal(dop_result_csv_column_of(header, 3, DOP_RESULT_SUMMARY, DOP_SUMMARY_EPOCH), 0);
    assert_int_equal(dop_result_csv_column_of(header, 3, DOP_RESULT_FRAMES, DOP_FRAME_INDEX), -1); /* no CSV name */
    assert_int_equal(dop_result_csv_column_of(header, 3, DOP_RESULT_KINDS, 0), -1);
    assert_float_equal(dop_result_csv_number(" 1.5 "), 1.5, 0.0);
    assert_float_equal(dop_result_csv_number("-2e3\r"), -2000.0, 0.0);
    const char *not_numbers[] = {"", "  ", "abc", "1.5x", "inf", "nan"};
    for (size_t i = 0; i < sizeof not_numbers / sizeof not_numbers[0]; i++)
        assert_true(isnan(dop_result_csv_number(not_numbers[i])));
    assert_true(isnan(dop_result_csv_number(NULL)));
}

static void csv_errors(void **state)
{
    char path[512];
    dop_error err = {{0}};
    joined j = {.fail_at = -1};
    io_path_join(path, sizeof path, *state, "missing.csv");
    assert_int_equal(dop_result_csv_read(path, join_row, &j, &err), DOP_ERR_IO);
    assert_non_null(strstr(err.message, path));
    io_path_join(path, sizeof path, *state, "empty.csv");
    assert_int_equal(io_file_write(path, "", 0), 0);
    assert_int_equal(dop_result_csv_read(path, join_row, &j, &err), DOP_ERR_FORMAT);
    assert_non_null(strstr(err.message, "empty"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(h5_columns_read_back),
        cmocka_unit_test(h5_open_errors),
        cmocka_unit_test(csv_rows_stream),
        cmocka_unit_test(csv_columns_and_numbers),
        cmocka_unit_test(csv_errors),
    };
    return cmocka_run_group_tests(tests, io_tmpdir_setup, io_tmpdir_teardown);
}

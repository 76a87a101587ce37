/* HDF5 result file: what is written reads back through the plain HDF5 API
 * with the documented layout; abort and commit leave no stray files. */
#include <hdf5.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "dopflow/h5_writer.h"
#include "io_util.h"

#define BINS 5
#define ROWS 150   /* two full 64-row blocks and a partial one */
#define FRAMES 1500 /* more than one 1024-value block of the 1-D series */


static float power_at(int row, int bin) { return -60.0f + 0.5f * row - 3.0f * bin; }

/* Dimensions of a dataset; returns its rank. */
static int dataset_dims(hid_t file, const char *name, hsize_t dims[2])
{
    hid_t d = H5Dopen2(file, name, H5P_DEFAULT);
    if (d < 0) fail_msg("dataset %s missing", name);
    hid_t s = H5Dget_space(d);
    int rank = H5Sget_simple_extent_dims(s, dims, NULL);
    H5Sclose(s);
    H5Dclose(d);
    return rank;
}

static void read_doubles(hid_t file, const char *name, double *out)
{
    hid_t d = H5Dopen2(file, name, H5P_DEFAULT);
    if (d < 0) fail_msg("dataset %s missing", name);
    assert_true(H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, out) >= 0);
    H5Dclose(d);
}

/* Class and size of the stored type. */
static void expect_type(hid_t file, const char *name, H5T_class_t cls, size_t size)
{
    hid_t d = H5Dopen2(file, name, H5P_DEFAULT);
    assert_true(d >= 0);
    hid_t t = H5Dget_type(d);
    assert_int_equal(H5Tget_class(t), cls);
    assert_int_equal(H5Tget_size(t), size);
    H5Tclose(t);
    H5Dclose(d);
}

/* Velocity axis of the test result, cm/s. */
static const float axis_cm_s[BINS] = {-100.0f, -50.0f, 0.0f, 50.0f, 100.0f};

/* Write the test result (ROWS spectra, FRAMES frames, 2 beats, attributes)
 * to path in dir: nothing at the final name before commit, only it after. */
static void write_result(const char *dir, const char *path)
{
    dop_h5_writer *w = NULL;
    dop_error err = {""};
    assert_int_equal(dop_h5_writer_create(path, BINS, axis_cm_s, &w, &err), DOP_OK);
    /* Nothing at the final name until commit. */
    assert_int_equal(access(path, F_OK), -1);

    float row[BINS];
    for (int r = 0; r < ROWS; r++) {
        for (int b = 0; b < BINS; b++) row[b] = power_at(r, b);
        assert_int_equal(dop_h5_writer_add_spectrum(w, 0.01 * r + 0.005, row, &err), DOP_OK);
    }
    for (int i = 0; i < FRAMES; i++) {
        dop_frame f = {.index = i, .time_s = 0.01 * i, .vmax_cm_s = 20.0 + i, .vmax_forward_cm_s = 20.0 + i,
                       .vmax_reverse_cm_s = -1.0, .vmean_cm_s = 10.0, .diameter_mm = NAN, .flow_ml_min = NAN,
                       .shear_rate_s = NAN, .noise_db = -80.0, .snr_db = 25.0,
                       .flags = (i % 3 == 0) ? 0x21u : 0u, .beat_index = i / 100};
        assert_int_equal(dop_h5_writer_add_frame(w, &f, &err), DOP_OK);
    }
    for (int i = 0; i < 2; i++) {
        dop_beat b = {.index = i, .start_s = i, .end_s = i + 1.0, .heart_rate_bpm = 60.0, .psv_cm_s = 90.0 + i,
                      .edv_cm_s = 20.0, .tamax_cm_s = 45.0, .tamean_cm_s = 22.0, .pi = 1.5, .ri = 0.78,
                      .flow_ml_min = 300.0, .shear_rate_s = 400.0, .artifact_fraction = 0.1 * i, .rejected = i};
        assert_int_equal(dop_h5_writer_add_beat(w, &b, &err), DOP_OK);
    }
    assert_int_equal(dop_h5_writer_set_number(w, "wall_hz", 50.0, &err), DOP_OK);
    assert_int_equal(dop_h5_writer_set_number(w, "f0_hz", 4e6, &err), DOP_OK);
    assert_int_equal(dop_h5_writer_set_number(w, "f0_hz", 5e6, &err), DOP_OK); /* replaced */
    assert_int_equal(dop_h5_writer_set_string(w, "input_file", "carotid left.wav", &err), DOP_OK);
    assert_int_equal(dop_h5_writer_set_string(w, "input_sha256", "ba7816bf", &err), DOP_OK);
    assert_int_equal(dop_h5_writer_commit(w, &err), DOP_OK);
    /* Only the final file is left in the folder: no temporary. */
    assert_int_equal(io_dir_count(dir), 1);
    assert_int_equal(access(path, R_OK), 0);
}

/* The spectrogram (chunked, compressed) and its two axes. */
static void check_spectra(hid_t file)
{
    hsize_t dims[2] = {0, 0};
    assert_int_equal(dataset_dims(file, "/spectrogram", dims), 2);
    assert_int_equal(dims[0], ROWS);
    assert_int_equal(dims[1], BINS);
    expect_type(file, "/spectrogram", H5T_FLOAT, 4);
    float *spec = malloc(sizeof *spec * ROWS * BINS);
    hid_t d = H5Dopen2(file, "/spectrogram", H5P_DEFAULT);
    assert_true(H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, spec) >= 0);
    /* Chunked and compressed as documented. */
    hid_t dcpl = H5Dget_create_plist(d);
    assert_int_equal(H5Pget_layout(dcpl), H5D_CHUNKED);
    hsize_t chunk[2];
    assert_int_equal(H5Pget_chunk(dcpl, 2, chunk), 2);
    assert_int_equal(chunk[0], 64);
    assert_int_equal(chunk[1], BINS);
    assert_true(H5Pget_nfilters(dcpl) >= 1);
    H5Pclose(dcpl);
    H5Dclose(d);
    for (int r = 0; r < ROWS; r++)
        for (int b = 0; b < BINS; b++) assert_float_equal(spec[r * BINS + b], power_at(r, b), 0.0);
    free(spec);

    double *values = malloc(sizeof *values * (ROWS > BINS ? ROWS : BINS));
    assert_int_equal(dataset_dims(file, "/time_s", dims), 1);
    assert_int_equal(dims[0], ROWS);
    read_doubles(file, "/time_s", values);
    for (int r = 0; r < ROWS; r++) assert_float_equal(values[r], 0.01 * r + 0.005, 1e-15);

    assert_int_equal(dataset_dims(file, "/velocity_cm_s", dims), 1);
    assert_int_equal(dims[0], BINS);
    expect_type(file, "/velocity_cm_s", H5T_FLOAT, 4);
    read_doubles(file, "/velocity_cm_s", values);
    for (int b = 0; b < BINS; b++) assert_float_equal(values[b], axis_cm_s[b], 0.0);
    free(values);
}

/* One dataset per record field in /frames and /beats, with the values and types written. */
static void check_records(hid_t file)
{
    hsize_t dims[2] = {0, 0};
    double *values = malloc(sizeof *values * FRAMES);
    const char *frame_fields[] = {"index", "time_s", "vmax_cm_s", "vmax_forward_cm_s", "vmax_reverse_cm_s",
                                  "vmean_cm_s", "diameter_mm", "flow_ml_min", "shear_rate_s", "noise_db",
                                  "snr_db", "flags", "beat_index"};
    for (size_t i = 0; i < sizeof frame_fields / sizeof frame_fields[0]; i++) {
        char name[128];
        snprintf(name, sizeof name, "/frames/%s", frame_fields[i]);
        assert_int_equal(dataset_dims(file, name, dims), 1);
        assert_int_equal(dims[0], FRAMES);
    }
    read_doubles(file, "/frames/vmax_cm_s", values);
    for (int i = 0; i < FRAMES; i++) assert_float_equal(values[i], 20.0 + i, 0.0);
    read_doubles(file, "/frames/diameter_mm", values);
    assert_true(isnan(values[0]) && isnan(values[FRAMES - 1]));
    read_doubles(file, "/frames/beat_index", values);
    assert_float_equal(values[1499], 14.0, 0.0);
    expect_type(file, "/frames/flags", H5T_INTEGER, 4);
    expect_type(file, "/frames/vmax_cm_s", H5T_FLOAT, 8);
    uint32_t *flags = malloc(sizeof *flags * FRAMES);
    hid_t d = H5Dopen2(file, "/frames/flags", H5P_DEFAULT);
    assert_true(H5Dread(d, H5T_NATIVE_UINT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, flags) >= 0);
    H5Dclose(d);
    for (int i = 0; i < FRAMES; i++) assert_int_equal(flags[i], (i % 3 == 0) ? 0x21u : 0u);
    free(flags);

    assert_int_equal(dataset_dims(file, "/beats/psv_cm_s", dims), 1);
    assert_int_equal(dims[0], 2);
    read_doubles(file, "/beats/psv_cm_s", values);
    assert_float_equal(values[1], 91.0, 0.0);
    expect_type(file, "/beats/rejected", H5T_INTEGER, 4);
    read_doubles(file, "/beats/rejected", values);
    assert_float_equal(values[0], 0.0, 0.0);
    assert_float_equal(values[1], 1.0, 0.0);
    read_doubles(file, "/beats/ri", values);
    assert_float_equal(values[0], 0.78, 0.0);
    free(values);
}

/* Root attributes: numbers (the last value set) and strings. */
static void check_attributes(hid_t file)
{
    double number = 0;
    hid_t a = H5Aopen(file, "f0_hz", H5P_DEFAULT);
    assert_true(a >= 0);
    assert_true(H5Aread(a, H5T_NATIVE_DOUBLE, &number) >= 0);
    H5Aclose(a);
    assert_float_equal(number, 5e6, 0.0);
    a = H5Aopen(file, "wall_hz", H5P_DEFAULT);
    assert_true(H5Aread(a, H5T_NATIVE_DOUBLE, &number) >= 0);
    H5Aclose(a);
    assert_float_equal(number, 50.0, 0.0);
    const char *names[] = {"input_file", "dopflow_version"};
    const char *expect[] = {"carotid left.wav", DOPFLOW_VERSION};
    for (int i = 0; i < 2; i++) {
        a = H5Aopen(file, names[i], H5P_DEFAULT);
        assert_true(a >= 0);
        hid_t t = H5Aget_type(a);
        char *text = NULL;
        assert_true(H5Tis_variable_str(t) > 0);
        assert_true(H5Aread(a, t, &text) >= 0);
        assert_string_equal(text, expect[i]);
        H5free_memory(text);
        H5Tclose(t);
        H5Aclose(a);
    }
}

static void test_write_and_read_back(void **state)
{
    const char *dir = *state;
    char path[512];
    io_path_join(path, sizeof path, dir, "result.h5");
    write_result(dir, path);
    hid_t file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    assert_true(file >= 0);
    check_spectra(file);
    check_records(file);
    check_attributes(file);
    H5Fclose(file);
    unlink(path);
}

static void test_empty_records(void **state)
{
    const char *dir = *state;
    char path[512];
    io_path_join(path, sizeof path, dir, "empty.h5");
    float velocity[1] = {0.0f};
    dop_h5_writer *w = NULL;
    assert_int_equal(dop_h5_writer_create(path, 1, velocity, &w, NULL), DOP_OK);
    assert_int_equal(dop_h5_writer_commit(w, NULL), DOP_OK);
    hid_t file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    assert_true(file >= 0);
    hsize_t dims[2];
    assert_int_equal(dataset_dims(file, "/spectrogram", dims), 2);
    assert_int_equal(dims[0], 0);
    assert_int_equal(dataset_dims(file, "/beats/pi", dims), 1);
    assert_int_equal(dims[0], 0);
    H5Fclose(file);
    unlink(path);
}

static void test_abort_leaves_nothing(void **state)
{
    const char *dir = *state;
    char path[512];
    io_path_join(path, sizeof path, dir, "aborted.h5");
    float velocity[3] = {-1, 0, 1};
    float row[3] = {1, 2, 3};
    dop_h5_writer *w = NULL;
    assert_int_equal(dop_h5_writer_create(path, 3, velocity, &w, NULL), DOP_OK);
    assert_int_equal(io_dir_count(dir), 1); /* the temporary file */
    for (int r = 0; r < 100; r++) assert_int_equal(dop_h5_writer_add_spectrum(w, r, row, NULL), DOP_OK);
    dop_h5_writer_abort(w);
    assert_int_equal(io_dir_count(dir), 0);
    dop_h5_writer_abort(NULL);

    /* An existing result survives an aborted rewrite. */
    assert_int_equal(dop_h5_writer_create(path, 3, velocity, &w, NULL), DOP_OK);
    assert_int_equal(dop_h5_writer_commit(w, NULL), DOP_OK);
    assert_int_equal(dop_h5_writer_create(path, 3, velocity, &w, NULL), DOP_OK);
    dop_h5_writer_abort(w);
    assert_int_equal(io_dir_count(dir), 1);
    hid_t file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    assert_true(file >= 0);
    H5Fclose(file);
    unlink(path);
}

static void test_create_errors(void **state)
{
    const char *dir = *state;
    char path[512];
    io_path_join(path, sizeof path, dir, "no_such_folder/result.h5");
    float velocity[2] = {0, 1};
    dop_h5_writer *w = NULL;
    dop_error err = {""};
    assert_int_equal(dop_h5_writer_create(path, 2, velocity, &w, &err), DOP_ERR_IO);
    assert_null(w);
    assert_non_null(strstr(err.message, "no_such_folder"));
    io_path_join(path, sizeof path, dir, "x.h5");
    assert_int_equal(dop_h5_writer_create(path, 0, velocity, &w, &err), DOP_ERR_INVALID_ARG);
    assert_int_equal(dop_h5_writer_create("-", 2, velocity, &w, &err), DOP_ERR_INVALID_ARG);
    assert_int_equal(io_dir_count(dir), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_write_and_read_back),
        cmocka_unit_test(test_empty_records),
        cmocka_unit_test(test_abort_leaves_nothing),
        cmocka_unit_test(test_create_errors),
    };
    return cmocka_run_group_tests(tests, io_tmpdir_setup, io_tmpdir_teardown);
}

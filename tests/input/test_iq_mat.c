/* Slow-time IQ in MATLAB .mat files (libmatio): what the simulator's MAT
 * sink writes reads back as the same samples; MAT v5 files (compressed or
 * not) and v7.3 in every accepted layout; where the PRF comes from; which
 * variable is read; and every malformed file fails cleanly with a message
 * that names the file. Files are made here with libmatio from an integer
 * pattern whose values are exact in int16, single and double. */
#include <complex.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <matio.h>

#include "input/reader_backend.h"
#include "io_util.h"
#include "iq_check.h"

/* ---------------------------------------------------------------- MAT files */

typedef enum { MAT_COMPLEX_COLUMNS, MAT_COMPLEX_ROW, MAT_REAL_PAIRS } mat_layout;

static size_t class_bytes(enum matio_classes cls) { return cls == MAT_C_INT16 ? 2 : cls == MAT_C_SINGLE ? 4 : 8; }

static enum matio_types type_of(enum matio_classes cls)
{
    return cls == MAT_C_INT16 ? MAT_T_INT16 : cls == MAT_C_SINGLE ? MAT_T_SINGLE : MAT_T_DOUBLE;
}

static void store(unsigned char *base, enum matio_classes cls, size_t i, double value)
{
    if (cls == MAT_C_INT16) {
        int16_t v = (int16_t)value;
        memcpy(base + 2 * i, &v, 2);
    } else if (cls == MAT_C_SINGLE) {
        float v = (float)value;
        memcpy(base + 4 * i, &v, 4);
    } else {
        memcpy(base + 8 * i, &value, 8);
    }
}

/* Write variable `name` holding N pulses of G gates in `layout` (MATLAB
 * column-major); a NaN replaces Q of (nan_pulse, nan_gate) when >= 0. */
static void mat_write_iq(mat_t *mat, const char *name, enum matio_classes cls, mat_layout layout, size_t N, size_t G,
                         enum matio_compression comp, long nan_pulse, long nan_gate)
{
    const size_t elem = class_bytes(cls);
    unsigned char *re = calloc(N * G, elem), *im = calloc(N * G, elem);
    assert_non_null(re);
    assert_non_null(im);
    for (size_t g = 0; g < G; g++)
        for (size_t p = 0; p < N; p++) {
            double scale = cls == MAT_C_INT16 ? 1.0 : 1.0 / 4096.0;
            store(re, cls, g * N + p, iq_pattern(p, g, 0) * scale);
            double q = iq_pattern(p, g, 1) * scale;
            if ((long)p == nan_pulse && (long)g == nan_gate) q = NAN;
            store(im, cls, g * N + p, q);
        }
    matvar_t *v;
    if (layout == MAT_REAL_PAIRS) {
        unsigned char *both = malloc(2 * N * G * elem); /* I columns, then Q columns */
        assert_non_null(both);
        memcpy(both, re, N * G * elem);
        memcpy(both + N * G * elem, im, N * G * elem);
        size_t dims[3] = {N, G, 2};
        if (G == 1) dims[1] = 2;
        v = Mat_VarCreate(name, cls, type_of(cls), G == 1 ? 2 : 3, dims, both, 0);
        free(both);
    } else {
        size_t dims[2] = {N, G};
        if (layout == MAT_COMPLEX_ROW) dims[0] = 1, dims[1] = N;
        mat_complex_split_t z = {re, im};
        v = Mat_VarCreate(name, cls, type_of(cls), 2, dims, &z, MAT_F_COMPLEX);
    }
    assert_non_null(v);
    assert_int_equal(Mat_VarWrite(mat, v, comp), 0);
    Mat_VarFree(v);
    free(re);
    free(im);
}

static void mat_write_scalar_as(mat_t *mat, const char *name, double value, enum matio_compression comp)
{
    size_t dims[2] = {1, 1};
    matvar_t *v = Mat_VarCreate(name, MAT_C_DOUBLE, MAT_T_DOUBLE, 2, dims, &value, 0);
    assert_non_null(v);
    assert_int_equal(Mat_VarWrite(mat, v, comp), 0);
    Mat_VarFree(v);
}

static void mat_write_scalar(mat_t *mat, const char *name, double value)
{
    mat_write_scalar_as(mat, name, value, MAT_COMPRESSION_NONE);
}

static mat_t *mat_create(const char *path, enum mat_ft version)
{
    mat_t *mat = Mat_CreateVer(path, NULL, version);
    assert_non_null(mat);
    return mat;
}

/* A v5 file at `path` holding prf_hz, ready for more variables. */
static mat_t *mat_with_prf(const char *path)
{
    mat_t *mat = mat_create(path, MAT_FT_MAT5);
    mat_write_scalar(mat, "prf_hz", PRF_HZ);
    return mat;
}

/* One uncompressed rows x cols variable. */
static void mat_put(mat_t *mat, const char *name, enum matio_classes cls, enum matio_types type, size_t rows,
                    size_t cols, void *data)
{
    size_t dims[2] = {rows, cols};
    matvar_t *v = Mat_VarCreate(name, cls, type, 2, dims, data, 0);
    assert_non_null(v);
    assert_int_equal(Mat_VarWrite(mat, v, MAT_COMPRESSION_NONE), 0);
    Mat_VarFree(v);
}

/* A v5 (or v7.3) file with prf_hz and one IQ variable "iq". */
static void mat_file(const char *path, enum mat_ft version, enum matio_classes cls, mat_layout layout, size_t N, size_t G,
                     enum matio_compression comp)
{
    mat_t *mat = mat_create(path, version);
    mat_write_scalar_as(mat, "prf_hz", PRF_HZ, comp);
    mat_write_iq(mat, "iq", cls, layout, N, G, comp, -1, -1);
    Mat_Close(mat);
}

static void test_mat_sink_round_trip(void **state)
{
    char path[512];
    iq_sink_round_trips(state, &sim_sink_mat, ".mat", DOP_INPUT_MAT, "MATLAB 7.3 (matio)", "iq complex single (1000 x 4)",
                     path, sizeof path);
}

/* v5 files, compressed or not, in every accepted layout and class; one v7.3. */
static void test_mat_v5_layouts(void **state)
{
    typedef struct {
        enum matio_classes cls;
        mat_layout layout;
        size_t N, G;
    } layout_case;
    static const layout_case cases[] = {
        {MAT_C_SINGLE, MAT_COMPLEX_COLUMNS, 300, 1}, {MAT_C_DOUBLE, MAT_COMPLEX_ROW, 301, 1},
        {MAT_C_INT16, MAT_COMPLEX_COLUMNS, 250, 3},  {MAT_C_DOUBLE, MAT_REAL_PAIRS, 299, 1},
        {MAT_C_SINGLE, MAT_REAL_PAIRS, 200, 4},      {MAT_C_INT16, MAT_REAL_PAIRS, 123, 2},
    };
    char path[512];
    for (int comp = 0; comp < 2; comp++)
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
            const layout_case *c = &cases[i];
            char file[64];
            snprintf(file, sizeof file, "v5_%d_%zu.mat", comp, i);
            iq_path_in(path, sizeof path, state, file);
            mat_file(path, MAT_FT_MAT5, c->cls, c->layout, c->N, c->G, comp ? MAT_COMPRESSION_ZLIB : MAT_COMPRESSION_NONE);
            const int is_int16 = c->cls == MAT_C_INT16;
            for (int f = 0; f < 2; f++) {
                dop_reader_config cfg = iq_config(path, f ? DOP_INPUT_AUTO : DOP_INPUT_MAT);
                dop_reader *r = iq_open_ok(&cfg);
                const dop_reader_info *info = dop_reader_get_info(r);
                assert_int_equal(info->kind, DOP_INPUT_MAT);
                assert_string_equal(info->format, "MATLAB 5.0 (matio)");
                assert_int_equal(info->frames, (int64_t)c->N);
                assert_int_equal(info->file_gates, (long)c->G);
                assert_true(info->rate_hz == PRF_HZ);
                assert_true(isnan(info->file_acq.f0_hz));
                assert_int_equal(iq_read_compare(r, f ? 64 : 1000, 0, iq_pattern_value, &is_int16), c->N);
                dop_reader_close(r);
            }
            if (c->G > 2) { /* the last gates only */
                dop_reader_config cfg = iq_config(path, DOP_INPUT_MAT);
                cfg.gate_first = (long)c->G - 2;
                dop_reader *r = iq_open_ok(&cfg);
                assert_int_equal(iq_read_compare(r, 33, c->G - 2, iq_pattern_value, &is_int16), c->N);
                dop_reader_close(r);
            }
        }
    /* v7.3, real N x G x 2 int16 (HDF5 underneath: hyperslab reads). */
    iq_path_in(path, sizeof path, state, "v73_real.mat");
    mat_file(path, MAT_FT_MAT73, MAT_C_INT16, MAT_REAL_PAIRS, 400, 3, MAT_COMPRESSION_NONE);
    dop_reader_config cfg = iq_config(path, DOP_INPUT_AUTO);
    cfg.gate_first = 1;
    dop_reader *r = iq_open_ok(&cfg);
    assert_string_equal(dop_reader_get_info(r)->format, "MATLAB 7.3 (matio)");
    assert_string_equal(dop_reader_get_info(r)->layout, "iq real int16 (400 x 3 x 2)");
    const int is_int16 = 1;
    assert_int_equal(iq_read_compare(r, 128, 1, iq_pattern_value, &is_int16), 400);
    dop_reader_close(r);
}

/* More than one internal block (4 MiB): one big read, many small ones and
 * a seek give the same samples. */
static void test_mat_many_blocks_and_seek(void **state)
{
    char path[512];
    iq_path_in(path, sizeof path, state, "long.mat");
    const size_t N = 300000; /* x 16 bytes (complex double) > 4 MiB */
    mat_file(path, MAT_FT_MAT5, MAT_C_DOUBLE, MAT_COMPLEX_COLUMNS, N, 1, MAT_COMPRESSION_NONE);
    const int is_int16 = 0;
    dop_reader_config cfg = iq_config(path, DOP_INPUT_AUTO);
    dop_reader *r = iq_open_ok(&cfg);
    assert_int_equal(iq_read_compare(r, N, 0, iq_pattern_value, &is_int16), N);
    dop_reader_close(r);
    r = iq_open_ok(&cfg);
    assert_int_equal(iq_read_compare(r, 4099, 0, iq_pattern_value, &is_int16), N);
    dop_error err = {{0}};
    assert_int_equal(dop_reader_skip_to(r, 123456, &err), DOP_OK);
    float complex x[3];
    size_t got = 0;
    assert_int_equal(dop_reader_read(r, x, 3, &got, &err), DOP_OK);
    assert_int_equal(got, 3);
    for (size_t k = 0; k < 3; k++)
        assert_true(x[k] == CMPLXF(iq_expected(0, 123456 + k, 0, 0), iq_expected(0, 123456 + k, 0, 1)));
    assert_int_equal(dop_reader_skip_to(r, (int64_t)N + 10, &err), DOP_OK);
    assert_int_equal(dop_reader_read(r, x, 3, &got, &err), DOP_OK);
    assert_int_equal(got, 0);
    dop_reader_close(r);
}

static void test_mat_prf_sources(void **state)
{
    char path[512];
    iq_path_in(path, sizeof path, state, "prf.mat");
    mat_t *mat = mat_with_prf(path);
    mat_write_scalar(mat, "fs", 2500.0);
    mat_write_scalar(mat, "bad_rate", -3.0);
    mat_write_iq(mat, "iq", MAT_C_SINGLE, MAT_COMPLEX_COLUMNS, 50, 2, MAT_COMPRESSION_NONE, -1, -1);
    mat_write_scalar(mat, "f0_hz", 4e6);
    mat_write_scalar(mat, "angle_deg", 45.0);
    Mat_Close(mat);

    dop_reader_config cfg = iq_config(path, DOP_INPUT_MAT);
    cfg.variable = "iq"; /* prf_hz, fs, ... are scalars: iq is the only array anyway */
    dop_reader *r = iq_open_ok(&cfg);
    assert_true(dop_reader_get_info(r)->rate_hz == PRF_HZ);
    assert_true(dop_reader_get_info(r)->file_acq.f0_hz == 4e6);
    assert_true(dop_reader_get_info(r)->file_acq.angle_deg == 45.0);
    assert_true(isnan(dop_reader_get_info(r)->file_acq.c_m_s));
    dop_reader_close(r);

    cfg.rate_variable = "fs"; /* --prf-var */
    r = iq_open_ok(&cfg);
    assert_true(dop_reader_get_info(r)->rate_hz == 2500.0);
    assert_true(dop_reader_get_info(r)->duration_s == 50.0 / 2500.0);
    dop_reader_close(r);

    cfg.raw_rate_hz = 1234.5; /* --prf wins over both */
    r = iq_open_ok(&cfg);
    assert_true(dop_reader_get_info(r)->rate_hz == 1234.5);
    dop_reader_close(r);

    cfg.raw_rate_hz = NAN;
    cfg.rate_variable = "nope";
    iq_open_fails(&cfg, DOP_ERR_FORMAT, "nope");
    cfg.rate_variable = "bad_rate";
    iq_open_fails(&cfg, DOP_ERR_FORMAT, "not positive");
    cfg.rate_variable = "iq";
    iq_open_fails(&cfg, DOP_ERR_FORMAT, "scalar");

    /* No PRF anywhere. */
    iq_path_in(path, sizeof path, state, "no_prf.mat");
    mat = mat_create(path, MAT_FT_MAT5);
    mat_write_iq(mat, "iq", MAT_C_SINGLE, MAT_COMPLEX_COLUMNS, 50, 1, MAT_COMPRESSION_ZLIB, -1, -1);
    Mat_Close(mat);
    cfg = iq_config(path, DOP_INPUT_AUTO);
    iq_open_fails(&cfg, DOP_ERR_FORMAT, "give prf_hz in Hz or a rate_variable");
    cfg.raw_rate_hz = 1000.0;
    r = iq_open_ok(&cfg);
    assert_true(dop_reader_get_info(r)->rate_hz == 1000.0);
    dop_reader_close(r);
}

static void test_mat_variable_choice(void **state)
{
    char path[512];
    iq_path_in(path, sizeof path, state, "two.mat");
    mat_t *mat = mat_with_prf(path);
    mat_write_iq(mat, "iq_a", MAT_C_SINGLE, MAT_COMPLEX_COLUMNS, 40, 2, MAT_COMPRESSION_NONE, -1, -1);
    mat_write_iq(mat, "iq_b", MAT_C_INT16, MAT_REAL_PAIRS, 30, 1, MAT_COMPRESSION_ZLIB, -1, -1);
    Mat_Close(mat);
    dop_reader_config cfg = iq_config(path, DOP_INPUT_MAT);
    iq_open_fails(&cfg, DOP_ERR_FORMAT, "variable = NAME");
    iq_open_fails(&cfg, DOP_ERR_FORMAT, "iq_b (int16 30 x 2)");
    cfg.variable = "iq_b";
    dop_reader *r = iq_open_ok(&cfg);
    const int is_int16 = 1;
    assert_int_equal(iq_read_compare(r, 7, 0, iq_pattern_value, &is_int16), 30);
    assert_string_equal(dop_reader_get_info(r)->layout, "iq_b real int16 (30 x 2), compressed");
    dop_reader_close(r);
    cfg.variable = "iq_c";
    iq_open_fails(&cfg, DOP_ERR_FORMAT, "no variable iq_c");
}

/* ---------------------------------------------------------------- malformed MAT */

static void test_mat_malformed(void **state)
{
    char path[512];
    dop_reader_config cfg;

    /* Wrong class: char; no numeric array at all. */
    iq_path_in(path, sizeof path, state, "char.mat");
    mat_t *mat = mat_with_prf(path);
    mat_put(mat, "iq", MAT_C_CHAR, MAT_T_UINT8, 1, 11, "hello world");
    Mat_Close(mat);
    cfg = iq_config(path, DOP_INPUT_AUTO);
    iq_open_fails(&cfg, DOP_ERR_FORMAT, "no numeric array");
    cfg.variable = "iq";
    iq_open_fails(&cfg, DOP_ERR_FORMAT, "not a numeric array");

    /* Wrong dims: real N x 3; a class that is not read (int32). */
    iq_path_in(path, sizeof path, state, "dims.mat");
    mat = mat_with_prf(path);
    double d3[30] = {0};
    mat_put(mat, "iq", MAT_C_DOUBLE, MAT_T_DOUBLE, 10, 3, d3);
    int32_t i32[20] = {0};
    mat_put(mat, "iq32", MAT_C_INT32, MAT_T_INT32, 10, 2, i32);
    Mat_Close(mat);
    cfg = iq_config(path, DOP_INPUT_MAT);
    cfg.variable = "iq";
    iq_open_fails(&cfg, DOP_ERR_FORMAT, "unusable shape");
    cfg.variable = "iq32";
    iq_open_fails(&cfg, DOP_ERR_FORMAT, "int32");

    /* Empty variable. */
    iq_path_in(path, sizeof path, state, "empty.mat");
    mat = mat_with_prf(path);
    mat_put(mat, "iq", MAT_C_DOUBLE, MAT_T_DOUBLE, 0, 0, NULL);
    Mat_Close(mat);
    cfg = iq_config(path, DOP_INPUT_MAT);
    iq_open_fails(&cfg, DOP_ERR_FORMAT, "no numeric array");
    cfg.variable = "iq";
    iq_open_fails(&cfg, DOP_ERR_FORMAT, "empty");

    /* NaN sample: the pulses before it come back, then the error. */
    iq_path_in(path, sizeof path, state, "nan.mat");
    mat = mat_with_prf(path);
    mat_write_iq(mat, "iq", MAT_C_DOUBLE, MAT_COMPLEX_COLUMNS, 20, 3, MAT_COMPRESSION_NONE, 5, 1);
    Mat_Close(mat);
    cfg = iq_config(path, DOP_INPUT_AUTO);
    dop_reader *r = iq_open_ok(&cfg);
    float complex x[20 * 3];
    size_t got = 99;
    dop_error err = {{0}};
    assert_int_equal(dop_reader_read(r, x, 20, &got, &err), DOP_ERR_FORMAT);
    assert_int_equal(got, 5);
    assert_non_null(strstr(err.message, path));
    assert_non_null(strstr(err.message, "pulse 5 gate 1 (Q) is NaN"));
    assert_true(x[4 * 3 + 2] == CMPLXF(iq_expected(0, 4, 2, 0), iq_expected(0, 4, 2, 1)));
    dop_reader_close(r);

    /* Huge declared dimensions (a patched v5 header): refused before any
     * allocation of that size. The first variable's dims start at byte 160. */
    iq_path_in(path, sizeof path, state, "huge.mat");
    mat = mat_create(path, MAT_FT_MAT5);
    mat_write_iq(mat, "iq", MAT_C_SINGLE, MAT_COMPLEX_COLUMNS, 8, 1, MAT_COMPRESSION_NONE, -1, -1);
    mat_write_scalar(mat, "prf_hz", PRF_HZ);
    Mat_Close(mat);
    char *bytes = NULL;
    size_t len = 0;
    assert_int_equal(io_file_read(path, &bytes, &len), 0);
    int32_t d0;
    memcpy(&d0, bytes + 160, 4);
    assert_int_equal(d0, 8);
    const int32_t huge = 0x7fffffff;
    memcpy(bytes + 160, &huge, 4);
    assert_int_equal(io_file_write(path, bytes, len), 0);
    cfg = iq_config(path, DOP_INPUT_AUTO);
    iq_open_fails(&cfg, DOP_ERR_FORMAT, "needs at least");
    memcpy(bytes + 160, &d0, 4);
    memcpy(bytes + 164, &huge, 4); /* 8 pulses of 2^31 - 1 gates */
    assert_int_equal(io_file_write(path, bytes, len), 0);
    iq_open_fails(&cfg, DOP_ERR_FORMAT, NULL);
    free(bytes);

    /* Truncated: v5 uncompressed (the data is shorter than declared), v5
     * compressed (the inflate stops), v7.3 (HDF5 refuses the file). */
    iq_path_in(path, sizeof path, state, "trunc5.mat");
    mat_file(path, MAT_FT_MAT5, MAT_C_SINGLE, MAT_COMPLEX_COLUMNS, 1000, 4, MAT_COMPRESSION_NONE);
    assert_int_equal(io_file_truncate(path, 128 + 2000), 0);
    cfg = iq_config(path, DOP_INPUT_AUTO);
    iq_open_fails(&cfg, DOP_ERR_FORMAT, "truncated");

    iq_path_in(path, sizeof path, state, "trunc5z.mat");
    mat_file(path, MAT_FT_MAT5, MAT_C_SINGLE, MAT_COMPLEX_COLUMNS, 4000, 2, MAT_COMPRESSION_ZLIB);
    assert_int_equal(io_file_read(path, &bytes, &len), 0);
    free(bytes);
    assert_int_equal(io_file_truncate(path, len / 2), 0);
    cfg = iq_config(path, DOP_INPUT_MAT);
    r = NULL;
    dop_status st = dop_reader_open(&cfg, &r, &err);
    if (st == DOP_OK) {
        float complex *buf = malloc(4000 * 2 * sizeof *buf);
        assert_non_null(buf);
        st = dop_reader_read(r, buf, 4000, &got, &err);
        free(buf);
        dop_reader_close(r);
    }
    assert_int_not_equal(st, DOP_OK);
    assert_non_null(strstr(err.message, path));

    iq_path_in(path, sizeof path, state, "trunc73.mat");
    mat_file(path, MAT_FT_MAT73, MAT_C_SINGLE, MAT_COMPLEX_COLUMNS, 1000, 4, MAT_COMPRESSION_NONE);
    assert_int_equal(io_file_read(path, &bytes, &len), 0);
    free(bytes);
    assert_int_equal(io_file_truncate(path, len / 2), 0);
    cfg = iq_config(path, DOP_INPUT_AUTO);
    iq_open_fails(&cfg, DOP_ERR_FORMAT, NULL);

    /* Not a MAT file at all, but asked to read one; a missing file. */
    iq_path_in(path, sizeof path, state, "text.mat");
    assert_int_equal(io_file_write(path, "MATLAB? no, just text\n", 22), 0);
    cfg = iq_config(path, DOP_INPUT_MAT);
    iq_open_fails(&cfg, DOP_ERR_FORMAT, NULL);
    iq_path_in(path, sizeof path, state, "missing.mat");
    cfg = iq_config(path, DOP_INPUT_MAT);
    iq_open_fails(&cfg, DOP_ERR_IO, NULL);
}

/* A MAT v7.3 file is HDF5 underneath: the MAT back end claims it, the UFF
 * back end does not. */
static void test_mat_v73_is_not_uff(void **state)
{
    char path[512];
    iq_path_in(path, sizeof path, state, "v73_probe.mat");
    mat_file(path, MAT_FT_MAT73, MAT_C_SINGLE, MAT_COMPLEX_COLUMNS, 10, 1, MAT_COMPRESSION_NONE);
    assert_int_equal(dop_reader_backend_uff.probe(path), 0);
    assert_int_equal(dop_reader_backend_mat.probe(path), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mat_sink_round_trip),
        cmocka_unit_test(test_mat_v5_layouts),
        cmocka_unit_test(test_mat_many_blocks_and_seek),
        cmocka_unit_test(test_mat_prf_sources),
        cmocka_unit_test(test_mat_variable_choice),
        cmocka_unit_test(test_mat_malformed),
        cmocka_unit_test(test_mat_v73_is_not_uff),
    };
    return cmocka_run_group_tests(tests, io_tmpdir_setup, io_tmpdir_teardown);
}

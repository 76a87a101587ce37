/* Slow-time IQ in MATLAB .mat (libmatio) and USTB UFF (HDF5) files: what the
 * simulator's sinks write reads back as the same samples; MAT v5 files
 * (compressed or not) and v7.3 in every accepted layout; where the PRF comes
 * from; and every malformed file fails cleanly with a message that names
 * the file. Files are made here, with libmatio and HDF5, from an integer
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
#include <hdf5.h>
#include <matio.h>

#include "dopflow/reader.h"
#include "io_util.h"
#include "input/reader_backend.h"
#include "sim/sink/sim_sink.h"

#define PRF_HZ 4000.0

/* The stored integer of sample (pulse p, gate g), part c (0 = I, 1 = Q). */
static int pattern(size_t p, size_t g, int c) { return (int)((p * 37 + g * 101 + (size_t)c * 53) % 4001) - 2000; }

/* What the reader must return for it: int16 is full scale 32768; floats are
 * stored as pattern / 4096 (exact) and read as stored. */
static float expected(int is_int16, size_t p, size_t g, int c)
{
    return is_int16 ? (float)pattern(p, g, c) / 32768.0f : (float)pattern(p, g, c) / 4096.0f;
}

static void path_in(char *out, size_t size, void **state, const char *name)
{
    io_path_join(out, size, (const char *)*state, name);
}

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
            store(re, cls, g * N + p, pattern(p, g, 0) * scale);
            double q = pattern(p, g, 1) * scale;
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

/* ---------------------------------------------------------------- reading */

static dop_reader_config config(const char *path, dop_input_format format)
{
    dop_reader_config cfg = dop_reader_config_default();
    cfg.path = path;
    cfg.format = format;
    return cfg;
}

static dop_reader *open_ok(const dop_reader_config *cfg)
{
    dop_reader *r = NULL;
    dop_error err = {{0}};
    dop_status st = dop_reader_open(cfg, &r, &err);
    if (st != DOP_OK) fail_msg("%s: %s", cfg->path, err.message);
    return r;
}

/* Open must fail with `status` and a message naming the file (and holding
 * `words` when given). */
static void open_fails(const dop_reader_config *cfg, dop_status status, const char *words)
{
    dop_reader *r = NULL;
    dop_error err = {{0}};
    dop_status st = dop_reader_open(cfg, &r, &err);
    if (st != status) fail_msg("%s: status %d, expected %d (%s)", cfg->path, (int)st, (int)status, err.message);
    assert_null(r);
    if (!strstr(err.message, cfg->path)) fail_msg("message does not name the file: %s", err.message);
    if (words && !strstr(err.message, words)) fail_msg("message lacks '%s': %s", words, err.message);
}

/* Every pulse, `capacity` at a time, compared with fn(p, g, c) for gates
 * g0.. of the file; returns the pulses read. */
typedef float (*value_fn)(const void *ctx, size_t p, size_t g, int c);

static size_t read_compare(dop_reader *r, size_t capacity, size_t g0, value_fn fn, const void *ctx)
{
    const dop_reader_info *info = dop_reader_get_info(r);
    const size_t G = (size_t)info->gates;
    float complex *buf = malloc(capacity * G * sizeof *buf);
    assert_non_null(buf);
    size_t p = 0, got = 0;
    dop_error err = {{0}};
    do {
        dop_status st = dop_reader_read(r, buf, capacity, &got, &err);
        if (st != DOP_OK) fail_msg("read: %s", err.message);
        for (size_t k = 0; k < got; k++)
            for (size_t g = 0; g < G; g++) {
                float complex want = CMPLXF(fn(ctx, p + k, g0 + g, 0), fn(ctx, p + k, g0 + g, 1));
                if (buf[k * G + g] != want)
                    fail_msg("pulse %zu gate %zu: %g%+gj, expected %g%+gj", p + k, g0 + g, crealf(buf[k * G + g]),
                             cimagf(buf[k * G + g]), crealf(want), cimagf(want));
            }
        p += got;
    } while (got > 0);
    free(buf);
    return p;
}

static float pattern_value(const void *ctx, size_t p, size_t g, int c) { return expected(*(const int *)ctx, p, g, c); }

/* ---------------------------------------------------------------- sinks */

typedef struct sink_data {
    size_t N, G;
    float complex *x;    /* unscaled, pulse-major */
    int16_t *pcm;        /* what sim_scale_pcm16 makes of it */
    float *flt;          /* what sim_scale_float makes of it */
} sink_data;

static float sink_value(const void *ctx, size_t p, size_t g, int c)
{
    const sink_data *d = ctx;
    size_t i = 2 * (p * d->G + g) + (size_t)c;
    return d->pcm ? (float)d->pcm[i] / 32768.0f : d->flt[i];
}

/* Write N pulses of G gates through `ops` in three uneven pieces. */
static void sink_write(const sim_sink_ops *ops, const char *path, size_t N, size_t G, int float_samples, sink_data *d)
{
    d->N = N, d->G = G;
    d->x = malloc(N * G * sizeof *d->x);
    assert_non_null(d->x);
    for (size_t p = 0; p < N; p++)
        for (size_t g = 0; g < G; g++)
            d->x[p * G + g] = CMPLXF(1.3f * sinf(0.01f * (float)(p + 7 * g)), -1.1f * cosf(0.013f * (float)(p * (g + 1))));
    sim_sink_params sp = {
        .prf_hz = PRF_HZ, .pulses = (int64_t)N, .gates = (long)G, .f0_hz = 5e6, .angle_deg = 60.0, .c_m_s = 1540.0,
        .diameter_mm = 6.0, .float_samples = float_samples, .scale = 0.7, .clip = 0,
    };
    int64_t clipped = 0, expected_clipped = 0;
    if (float_samples) {
        d->flt = malloc(2 * N * G * sizeof *d->flt);
        assert_non_null(d->flt);
        sim_scale_float(d->x, N * G, sp.scale, sp.clip, d->flt, &expected_clipped);
    } else {
        d->pcm = malloc(2 * N * G * sizeof *d->pcm);
        assert_non_null(d->pcm);
        sim_scale_pcm16(d->x, N * G, sp.scale, d->pcm, &expected_clipped);
    }
    void *state = NULL;
    dop_error err = {{0}};
    if (ops->open(path, path, &sp, &state, &err) != DOP_OK) fail_msg("%s", err.message);
    const size_t pieces[3] = {N / 3, N / 3 + 1, N - (N / 3) - (N / 3 + 1)};
    size_t done = 0;
    for (int i = 0; i < 3; i++) {
        if (ops->write(state, d->x + done * G, pieces[i], &clipped, &err) != DOP_OK) fail_msg("%s", err.message);
        done += pieces[i];
    }
    if (ops->finish(state, &err) != DOP_OK) fail_msg("%s", err.message);
    assert_int_equal(clipped, expected_clipped);
}

static void sink_data_free(sink_data *d)
{
    free(d->x);
    free(d->pcm);
    free(d->flt);
}

static void check_acquisition(const dop_reader_info *info)
{
    assert_true(info->rate_hz == PRF_HZ);
    assert_true(info->file_acq.f0_hz == 5e6);
    assert_true(info->file_acq.angle_deg == 60.0);
    assert_true(info->file_acq.c_m_s == 1540.0);
    assert_true(info->file_acq.diameter_mm == 6.0);
    assert_int_equal(info->channels, DOP_CHANNELS_IQ);
}

static void sink_round_trip(void **state, const sim_sink_ops *ops, const char *file, dop_input_format kind, size_t N,
                            size_t G, int float_samples)
{
    char path[512];
    path_in(path, sizeof path, state, file);
    sink_data d = {0};
    sink_write(ops, path, N, G, float_samples, &d);
    const dop_input_format formats[2] = {kind, DOP_INPUT_AUTO};
    for (int f = 0; f < 2; f++) {
        dop_reader_config cfg = config(path, formats[f]);
        dop_reader *r = open_ok(&cfg);
        const dop_reader_info *info = dop_reader_get_info(r);
        assert_int_equal(info->kind, kind);
        assert_int_equal(info->frames, (int64_t)N);
        assert_int_equal(info->gates, (long)G);
        assert_int_equal(info->file_gates, (long)G);
        assert_int_equal(info->is_float, float_samples);
        check_acquisition(info);
        assert_int_equal(read_compare(r, f ? 97 : N, 0, sink_value, &d), N);
        dop_reader_close(r);
    }
    /* A gate range: the middle gates, pulse-major as before. */
    if (G > 2) {
        dop_reader_config cfg = config(path, kind);
        cfg.gate_first = 1;
        cfg.gate_last = (long)G - 2;
        dop_reader *r = open_ok(&cfg);
        assert_int_equal(dop_reader_get_info(r)->gates, (long)G - 2);
        assert_int_equal(dop_reader_get_info(r)->gate_first, 1);
        assert_int_equal(read_compare(r, 50, 1, sink_value, &d), N);
        dop_reader_close(r);
        cfg.gate_first = 0;
        cfg.gate_last = (long)G;
        open_fails(&cfg, DOP_ERR_INVALID_ARG, "gate");
    }
    sink_data_free(&d);
}

/* Three round trips through a sink (float 1000 x 4, int16 777 x 1, int16
 * 500 x 5); then the float file, found by content, must describe itself
 * with `format` and a layout starting with `layout`. Its path is left in
 * path. */
static void sink_round_trips(void **state, const sim_sink_ops *sink, const char *ext, dop_input_format format,
                             const char *format_name, const char *layout, char *path, size_t size)
{
    const struct { const char *stem; size_t pulses, gates; int is_float; } runs[] = {
        {"sim_float", 1000, 4, 1}, {"sim_int16", 777, 1, 0}, {"sim_int16_gates", 500, 5, 0}};
    char name[64];
    for (int i = 0; i < 3; i++) {
        snprintf(name, sizeof name, "%s%s", runs[i].stem, ext);
        sink_round_trip(state, sink, name, format, runs[i].pulses, runs[i].gates, runs[i].is_float);
    }
    snprintf(name, sizeof name, "sim_float%s", ext);
    path_in(path, size, state, name);
    dop_reader_config cfg = config(path, DOP_INPUT_AUTO);
    dop_reader *r = open_ok(&cfg);
    assert_string_equal(dop_reader_get_info(r)->format, format_name);
    assert_memory_equal(dop_reader_get_info(r)->layout, layout, strlen(layout));
    dop_reader_close(r);
}

static void test_mat_sink_round_trip(void **state)
{
    char path[512];
    sink_round_trips(state, &sim_sink_mat, ".mat", DOP_INPUT_MAT, "MATLAB 7.3 (matio)", "iq complex single (1000 x 4)",
                     path, sizeof path);
}

static void test_uff_sink_round_trip(void **state)
{
    /* USTB's structure: root version, class attributes, the data's shape. */
    char path[512];
    sink_round_trips(state, &sim_sink_uff, ".uff", DOP_INPUT_UFF, "USTB UFF v1.2.0",
                     "/b_data/data complex single [4 pixels x 1 channel x 1 waves x 1000 frames]", path, sizeof path);
    hid_t file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    assert_true(file >= 0);
    hid_t dset = H5Dopen2(file, "/b_data/data/real", H5P_DEFAULT);
    hid_t space = H5Dget_space(dset);
    hsize_t dims[4];
    assert_int_equal(H5Sget_simple_extent_dims(space, dims, NULL), 4);
    assert_true(dims[0] == 1000 && dims[1] == 1 && dims[2] == 1 && dims[3] == 4);
    H5Sclose(space);
    H5Dclose(dset);
    static const char *const objects[] = {"/b_data/data/imag", "/b_data/scan/z_axis", "/b_data/scan/x_axis",
                                          "/b_data/frame_rate", "/b_data/modulation_frequency",
                                          "/b_data/pulse/center_frequency"};
    for (size_t i = 0; i < sizeof objects / sizeof objects[0]; i++)
        assert_true(H5Lexists(file, "/b_data", H5P_DEFAULT) > 0 && H5Oexists_by_name(file, objects[i], H5P_DEFAULT) > 0);
    hid_t attr = H5Aopen_by_name(file, "/b_data", "class", H5P_DEFAULT, H5P_DEFAULT);
    char cls[32] = "";
    hid_t type = H5Aget_type(attr);
    assert_int_equal(H5Tget_size(type), strlen("uff.beamformed_data"));
    assert_true(H5Aread(attr, type, cls) >= 0);
    assert_string_equal(cls, "uff.beamformed_data");
    H5Tclose(type);
    H5Aclose(attr);
    H5Fclose(file);
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
            path_in(path, sizeof path, state, file);
            mat_file(path, MAT_FT_MAT5, c->cls, c->layout, c->N, c->G, comp ? MAT_COMPRESSION_ZLIB : MAT_COMPRESSION_NONE);
            const int is_int16 = c->cls == MAT_C_INT16;
            for (int f = 0; f < 2; f++) {
                dop_reader_config cfg = config(path, f ? DOP_INPUT_AUTO : DOP_INPUT_MAT);
                dop_reader *r = open_ok(&cfg);
                const dop_reader_info *info = dop_reader_get_info(r);
                assert_int_equal(info->kind, DOP_INPUT_MAT);
                assert_string_equal(info->format, "MATLAB 5.0 (matio)");
                assert_int_equal(info->frames, (int64_t)c->N);
                assert_int_equal(info->file_gates, (long)c->G);
                assert_true(info->rate_hz == PRF_HZ);
                assert_true(isnan(info->file_acq.f0_hz));
                assert_int_equal(read_compare(r, f ? 64 : 1000, 0, pattern_value, &is_int16), c->N);
                dop_reader_close(r);
            }
            if (c->G > 2) { /* the last gates only */
                dop_reader_config cfg = config(path, DOP_INPUT_MAT);
                cfg.gate_first = (long)c->G - 2;
                dop_reader *r = open_ok(&cfg);
                assert_int_equal(read_compare(r, 33, c->G - 2, pattern_value, &is_int16), c->N);
                dop_reader_close(r);
            }
        }
    /* v7.3, real N x G x 2 int16 (HDF5 underneath: hyperslab reads). */
    path_in(path, sizeof path, state, "v73_real.mat");
    mat_file(path, MAT_FT_MAT73, MAT_C_INT16, MAT_REAL_PAIRS, 400, 3, MAT_COMPRESSION_NONE);
    dop_reader_config cfg = config(path, DOP_INPUT_AUTO);
    cfg.gate_first = 1;
    dop_reader *r = open_ok(&cfg);
    assert_string_equal(dop_reader_get_info(r)->format, "MATLAB 7.3 (matio)");
    assert_string_equal(dop_reader_get_info(r)->layout, "iq real int16 (400 x 3 x 2)");
    const int is_int16 = 1;
    assert_int_equal(read_compare(r, 128, 1, pattern_value, &is_int16), 400);
    dop_reader_close(r);
}

/* More than one internal block (4 MiB): one big read, many small ones and
 * a seek give the same samples. */
static void test_mat_many_blocks_and_seek(void **state)
{
    char path[512];
    path_in(path, sizeof path, state, "long.mat");
    const size_t N = 300000; /* x 16 bytes (complex double) > 4 MiB */
    mat_file(path, MAT_FT_MAT5, MAT_C_DOUBLE, MAT_COMPLEX_COLUMNS, N, 1, MAT_COMPRESSION_NONE);
    const int is_int16 = 0;
    dop_reader_config cfg = config(path, DOP_INPUT_AUTO);
    dop_reader *r = open_ok(&cfg);
    assert_int_equal(read_compare(r, N, 0, pattern_value, &is_int16), N);
    dop_reader_close(r);
    r = open_ok(&cfg);
    assert_int_equal(read_compare(r, 4099, 0, pattern_value, &is_int16), N);
    dop_error err = {{0}};
    assert_int_equal(dop_reader_skip_to(r, 123456, &err), DOP_OK);
    float complex x[3];
    size_t got = 0;
    assert_int_equal(dop_reader_read(r, x, 3, &got, &err), DOP_OK);
    assert_int_equal(got, 3);
    for (size_t k = 0; k < 3; k++)
        assert_true(x[k] == CMPLXF(expected(0, 123456 + k, 0, 0), expected(0, 123456 + k, 0, 1)));
    assert_int_equal(dop_reader_skip_to(r, (int64_t)N + 10, &err), DOP_OK);
    assert_int_equal(dop_reader_read(r, x, 3, &got, &err), DOP_OK);
    assert_int_equal(got, 0);
    dop_reader_close(r);
}

static void test_mat_prf_sources(void **state)
{
    char path[512];
    path_in(path, sizeof path, state, "prf.mat");
    mat_t *mat = mat_with_prf(path);
    mat_write_scalar(mat, "fs", 2500.0);
    mat_write_scalar(mat, "bad_rate", -3.0);
    mat_write_iq(mat, "iq", MAT_C_SINGLE, MAT_COMPLEX_COLUMNS, 50, 2, MAT_COMPRESSION_NONE, -1, -1);
    mat_write_scalar(mat, "f0_hz", 4e6);
    mat_write_scalar(mat, "angle_deg", 45.0);
    Mat_Close(mat);

    dop_reader_config cfg = config(path, DOP_INPUT_MAT);
    cfg.variable = "iq"; /* prf_hz, fs, ... are scalars: iq is the only array anyway */
    dop_reader *r = open_ok(&cfg);
    assert_true(dop_reader_get_info(r)->rate_hz == PRF_HZ);
    assert_true(dop_reader_get_info(r)->file_acq.f0_hz == 4e6);
    assert_true(dop_reader_get_info(r)->file_acq.angle_deg == 45.0);
    assert_true(isnan(dop_reader_get_info(r)->file_acq.c_m_s));
    dop_reader_close(r);

    cfg.rate_variable = "fs"; /* --prf-var */
    r = open_ok(&cfg);
    assert_true(dop_reader_get_info(r)->rate_hz == 2500.0);
    assert_true(dop_reader_get_info(r)->duration_s == 50.0 / 2500.0);
    dop_reader_close(r);

    cfg.raw_rate_hz = 1234.5; /* --prf wins over both */
    r = open_ok(&cfg);
    assert_true(dop_reader_get_info(r)->rate_hz == 1234.5);
    dop_reader_close(r);

    cfg.raw_rate_hz = NAN;
    cfg.rate_variable = "nope";
    open_fails(&cfg, DOP_ERR_FORMAT, "nope");
    cfg.rate_variable = "bad_rate";
    open_fails(&cfg, DOP_ERR_FORMAT, "not positive");
    cfg.rate_variable = "iq";
    open_fails(&cfg, DOP_ERR_FORMAT, "scalar");

    /* No PRF anywhere. */
    path_in(path, sizeof path, state, "no_prf.mat");
    mat = mat_create(path, MAT_FT_MAT5);
    mat_write_iq(mat, "iq", MAT_C_SINGLE, MAT_COMPLEX_COLUMNS, 50, 1, MAT_COMPRESSION_ZLIB, -1, -1);
    Mat_Close(mat);
    cfg = config(path, DOP_INPUT_AUTO);
    open_fails(&cfg, DOP_ERR_FORMAT, "give prf_hz in Hz or a rate_variable");
    cfg.raw_rate_hz = 1000.0;
    r = open_ok(&cfg);
    assert_true(dop_reader_get_info(r)->rate_hz == 1000.0);
    dop_reader_close(r);
}

static void test_mat_variable_choice(void **state)
{
    char path[512];
    path_in(path, sizeof path, state, "two.mat");
    mat_t *mat = mat_with_prf(path);
    mat_write_iq(mat, "iq_a", MAT_C_SINGLE, MAT_COMPLEX_COLUMNS, 40, 2, MAT_COMPRESSION_NONE, -1, -1);
    mat_write_iq(mat, "iq_b", MAT_C_INT16, MAT_REAL_PAIRS, 30, 1, MAT_COMPRESSION_ZLIB, -1, -1);
    Mat_Close(mat);
    dop_reader_config cfg = config(path, DOP_INPUT_MAT);
    open_fails(&cfg, DOP_ERR_FORMAT, "variable = NAME");
    open_fails(&cfg, DOP_ERR_FORMAT, "iq_b (int16 30 x 2)");
    cfg.variable = "iq_b";
    dop_reader *r = open_ok(&cfg);
    const int is_int16 = 1;
    assert_int_equal(read_compare(r, 7, 0, pattern_value, &is_int16), 30);
    assert_string_equal(dop_reader_get_info(r)->layout, "iq_b real int16 (30 x 2), compressed");
    dop_reader_close(r);
    cfg.variable = "iq_c";
    open_fails(&cfg, DOP_ERR_FORMAT, "no variable iq_c");
}

/* ---------------------------------------------------------------- malformed MAT */

static void test_mat_malformed(void **state)
{
    char path[512];
    dop_reader_config cfg;

    /* Wrong class: char; no numeric array at all. */
    path_in(path, sizeof path, state, "char.mat");
    mat_t *mat = mat_with_prf(path);
    mat_put(mat, "iq", MAT_C_CHAR, MAT_T_UINT8, 1, 11, "hello world");
    Mat_Close(mat);
    cfg = config(path, DOP_INPUT_AUTO);
    open_fails(&cfg, DOP_ERR_FORMAT, "no numeric array");
    cfg.variable = "iq";
    open_fails(&cfg, DOP_ERR_FORMAT, "not a numeric array");

    /* Wrong dims: real N x 3; a class that is not read (int32). */
    path_in(path, sizeof path, state, "dims.mat");
    mat = mat_with_prf(path);
    double d3[30] = {0};
    mat_put(mat, "iq", MAT_C_DOUBLE, MAT_T_DOUBLE, 10, 3, d3);
    int32_t i32[20] = {0};
    mat_put(mat, "iq32", MAT_C_INT32, MAT_T_INT32, 10, 2, i32);
    Mat_Close(mat);
    cfg = config(path, DOP_INPUT_MAT);
    cfg.variable = "iq";
    open_fails(&cfg, DOP_ERR_FORMAT, "unusable shape");
    cfg.variable = "iq32";
    open_fails(&cfg, DOP_ERR_FORMAT, "int32");

    /* Empty variable. */
    path_in(path, sizeof path, state, "empty.mat");
    mat = mat_with_prf(path);
    mat_put(mat, "iq", MAT_C_DOUBLE, MAT_T_DOUBLE, 0, 0, NULL);
    Mat_Close(mat);
    cfg = config(path, DOP_INPUT_MAT);
    open_fails(&cfg, DOP_ERR_FORMAT, "no numeric array");
    cfg.variable = "iq";
    open_fails(&cfg, DOP_ERR_FORMAT, "empty");

    /* NaN sample: the pulses before it come back, then the error. */
    path_in(path, sizeof path, state, "nan.mat");
    mat = mat_with_prf(path);
    mat_write_iq(mat, "iq", MAT_C_DOUBLE, MAT_COMPLEX_COLUMNS, 20, 3, MAT_COMPRESSION_NONE, 5, 1);
    Mat_Close(mat);
    cfg = config(path, DOP_INPUT_AUTO);
    dop_reader *r = open_ok(&cfg);
    float complex x[20 * 3];
    size_t got = 99;
    dop_error err = {{0}};
    assert_int_equal(dop_reader_read(r, x, 20, &got, &err), DOP_ERR_FORMAT);
    assert_int_equal(got, 5);
    assert_non_null(strstr(err.message, path));
    assert_non_null(strstr(err.message, "pulse 5 gate 1 (Q) is NaN"));
    assert_true(x[4 * 3 + 2] == CMPLXF(expected(0, 4, 2, 0), expected(0, 4, 2, 1)));
    dop_reader_close(r);

    /* Huge declared dimensions (a patched v5 header): refused before any
     * allocation of that size. The first variable's dims start at byte 160. */
    path_in(path, sizeof path, state, "huge.mat");
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
    cfg = config(path, DOP_INPUT_AUTO);
    open_fails(&cfg, DOP_ERR_FORMAT, "needs at least");
    memcpy(bytes + 160, &d0, 4);
    memcpy(bytes + 164, &huge, 4); /* 8 pulses of 2^31 - 1 gates */
    assert_int_equal(io_file_write(path, bytes, len), 0);
    open_fails(&cfg, DOP_ERR_FORMAT, NULL);
    free(bytes);

    /* Truncated: v5 uncompressed (the data is shorter than declared), v5
     * compressed (the inflate stops), v7.3 (HDF5 refuses the file). */
    path_in(path, sizeof path, state, "trunc5.mat");
    mat_file(path, MAT_FT_MAT5, MAT_C_SINGLE, MAT_COMPLEX_COLUMNS, 1000, 4, MAT_COMPRESSION_NONE);
    assert_int_equal(io_file_truncate(path, 128 + 2000), 0);
    cfg = config(path, DOP_INPUT_AUTO);
    open_fails(&cfg, DOP_ERR_FORMAT, "truncated");

    path_in(path, sizeof path, state, "trunc5z.mat");
    mat_file(path, MAT_FT_MAT5, MAT_C_SINGLE, MAT_COMPLEX_COLUMNS, 4000, 2, MAT_COMPRESSION_ZLIB);
    assert_int_equal(io_file_read(path, &bytes, &len), 0);
    free(bytes);
    assert_int_equal(io_file_truncate(path, len / 2), 0);
    cfg = config(path, DOP_INPUT_MAT);
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

    path_in(path, sizeof path, state, "trunc73.mat");
    mat_file(path, MAT_FT_MAT73, MAT_C_SINGLE, MAT_COMPLEX_COLUMNS, 1000, 4, MAT_COMPRESSION_NONE);
    assert_int_equal(io_file_read(path, &bytes, &len), 0);
    free(bytes);
    assert_int_equal(io_file_truncate(path, len / 2), 0);
    cfg = config(path, DOP_INPUT_AUTO);
    open_fails(&cfg, DOP_ERR_FORMAT, NULL);

    /* Not a MAT file at all, but asked to read one; a missing file. */
    path_in(path, sizeof path, state, "text.mat");
    assert_int_equal(io_file_write(path, "MATLAB? no, just text\n", 22), 0);
    cfg = config(path, DOP_INPUT_MAT);
    open_fails(&cfg, DOP_ERR_FORMAT, NULL);
    path_in(path, sizeof path, state, "missing.mat");
    cfg = config(path, DOP_INPUT_MAT);
    open_fails(&cfg, DOP_ERR_IO, NULL);
}

/* ---------------------------------------------------------------- UFF files */

/* A variable-length UTF-8 string attribute, as h5py (pyuff_ustb) writes them. */
static void attr_vstring(hid_t obj, const char *name, const char *value)
{
    hid_t type = H5Tcopy(H5T_C_S1);
    H5Tset_size(type, H5T_VARIABLE);
    H5Tset_cset(type, H5T_CSET_UTF8);
    hid_t space = H5Screate(H5S_SCALAR);
    hid_t attr = H5Acreate2(obj, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
    assert_true(attr >= 0);
    assert_true(H5Awrite(attr, type, &value) >= 0);
    H5Aclose(attr);
    H5Sclose(space);
    H5Tclose(type);
}

static void attr_number(hid_t obj, const char *name, double value)
{
    hid_t space = H5Screate(H5S_SCALAR);
    hid_t attr = H5Acreate2(obj, name, H5T_IEEE_F64LE, space, H5P_DEFAULT, H5P_DEFAULT);
    assert_true(attr >= 0 && H5Awrite(attr, H5T_NATIVE_DOUBLE, &value) >= 0);
    H5Aclose(attr);
    H5Sclose(space);
}

static void dataset_number(hid_t where, const char *name, double value)
{
    hsize_t dims[2] = {1, 1};
    hid_t space = H5Screate_simple(2, dims, NULL);
    hid_t dset = H5Dcreate2(where, name, H5T_IEEE_F32LE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    assert_true(dset >= 0 && H5Dwrite(dset, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, &value) >= 0);
    attr_vstring(dset, "class", "single");
    H5Dclose(dset);
    H5Sclose(space);
}

typedef struct uff_case {
    const char *cls;        /* class of /b_data (NULL: none) */
    int data;               /* 0: no data; 1: real/imag group; 2: a real dataset */
    int rank;
    hsize_t dims[5];        /* HDF5 order: (frames, waves, channels, pixels) */
    double frame_rate;      /* NAN: none */
    double prf_attr;        /* NAN: none */
    long nan_pulse, nan_pixel;
} uff_case;

/* A UFF file as MATLAB's USTB writes it (plus what the case changes): the
 * data's slow index s and pixel x hold pattern(s, x, part) / 4096. */
static void uff_file(const char *path, const uff_case *c)
{
    hid_t file = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    assert_true(file >= 0);
    hid_t root = H5Gopen2(file, "/", H5P_DEFAULT);
    attr_vstring(root, "version", "v1.2.0");
    H5Gclose(root);
    hid_t other = H5Gcreate2(file, "a_channel_data", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    attr_vstring(other, "class", "uff.channel_data"); /* searched past, not inside */
    H5Gclose(other);
    hid_t bf = H5Gcreate2(file, "b_data", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (c->cls) attr_vstring(bf, "class", c->cls);
    if (!isnan(c->frame_rate)) dataset_number(bf, "frame_rate", c->frame_rate);
    if (!isnan(c->prf_attr)) attr_number(bf, "prf_hz", c->prf_attr);
    dataset_number(bf, "modulation_frequency", 5.2e6);
    hid_t seq = H5Gcreate2(bf, "sequence", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    hid_t wave = H5Gcreate2(seq, "sequence_0001", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    dataset_number(wave, "sound_speed", 1500.0);
    H5Gclose(wave);
    H5Gclose(seq);
    if (c->data) {
        hsize_t n = 1;
        for (int i = 0; i < c->rank; i++) n *= c->dims[i];
        const hsize_t pixels = c->dims[c->rank - 1];
        float *re = malloc((n + 1) * sizeof *re), *im = malloc((n + 1) * sizeof *im);
        assert_non_null(re);
        assert_non_null(im);
        for (hsize_t i = 0; i < n; i++) {
            re[i] = (float)pattern(i / pixels, i % pixels, 0) / 4096.0f;
            im[i] = (float)pattern(i / pixels, i % pixels, 1) / 4096.0f;
        }
        if (c->nan_pulse >= 0) re[c->nan_pulse * (long)pixels + c->nan_pixel] = NAN;
        hid_t space = H5Screate_simple(c->rank, c->dims, NULL);
        if (c->data == 2) {
            hid_t d = H5Dcreate2(bf, "data", H5T_IEEE_F32LE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
            assert_true(d >= 0 && H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, re) >= 0);
            H5Dclose(d);
        } else {
            hid_t g = H5Gcreate2(bf, "data", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
            attr_vstring(g, "class", "single");
            attr_number(g, "complex", 1.0);
            const char *parts[2] = {"real", "imag"};
            for (int i = 0; i < 2; i++) {
                hid_t d = H5Dcreate2(g, parts[i], H5T_IEEE_F32LE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
                assert_true(d >= 0 && H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, i ? im : re) >= 0);
                H5Dclose(d);
            }
            H5Gclose(g);
        }
        H5Sclose(space);
        free(re);
        free(im);
    }
    H5Gclose(bf);
    H5Fclose(file);
}

static const uff_case USTB_FRAMES = {"uff.beamformed_data", 1, 4, {600, 1, 1, 6}, 2500.0, NAN, -1, -1};

/* A file as MATLAB's USTB writes it: float32 frames, frame_rate as the PRF,
 * f0 from modulation_frequency, c from the first wave. */
static void test_uff_ustb_file(void **state)
{
    char path[512];
    path_in(path, sizeof path, state, "ustb.uff");
    uff_file(path, &USTB_FRAMES);
    const int is_int16 = 0;
    for (int f = 0; f < 2; f++) {
        dop_reader_config cfg = config(path, f ? DOP_INPUT_AUTO : DOP_INPUT_UFF);
        dop_reader *r = open_ok(&cfg);
        const dop_reader_info *info = dop_reader_get_info(r);
        assert_int_equal(info->kind, DOP_INPUT_UFF);
        assert_true(info->rate_hz == 2500.0);
        assert_int_equal(info->frames, 600);
        assert_int_equal(info->file_gates, 6);
        assert_true(info->file_acq.f0_hz == 5.2e6);
        assert_true(info->file_acq.c_m_s == 1500.0);
        assert_true(isnan(info->file_acq.angle_deg));
        assert_string_equal(info->format, "USTB UFF v1.2.0");
        assert_int_equal(read_compare(r, f ? 41 : 600, 0, pattern_value, &is_int16), 600);
        dop_reader_close(r);
    }
    /* --gate picks pixels; --variable names the group. */
    dop_reader_config cfg = config(path, DOP_INPUT_UFF);
    cfg.variable = "b_data";
    cfg.gate_first = 2;
    cfg.gate_last = 2;
    dop_reader *r = open_ok(&cfg);
    assert_int_equal(dop_reader_get_info(r)->gates, 1);
    assert_int_equal(read_compare(r, 77, 2, pattern_value, &is_int16), 600);
    dop_reader_close(r);

    /* One frame of 40 waves: the waves are the slow time (no PRF then). */
    uff_case waves = USTB_FRAMES;
    waves.rank = 3;
    waves.dims[0] = 40, waves.dims[1] = 1, waves.dims[2] = 6;
    path_in(path, sizeof path, state, "waves.uff");
    uff_file(path, &waves);
    cfg = config(path, DOP_INPUT_AUTO);
    open_fails(&cfg, DOP_ERR_FORMAT, "waves");
    cfg.raw_rate_hz = 1000.0;
    r = open_ok(&cfg);
    assert_int_equal(dop_reader_get_info(r)->frames, 40);
    assert_int_equal(read_compare(r, 40, 0, pattern_value, &is_int16), 40);
    dop_reader_close(r);

    /* The probe: a native /iq file is not UFF; a MAT v7.3 file is not either. */
    assert_int_equal(dop_reader_backend_uff.probe(path), 1);
    assert_int_equal(dop_reader_backend_mat.probe(path), 0);
    hid_t file = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    hsize_t dims[2] = {4, 2};
    hid_t space = H5Screate_simple(2, dims, NULL);
    hid_t iq = H5Dcreate2(file, "iq", H5T_IEEE_F32LE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dclose(iq);
    H5Sclose(space);
    H5Fclose(file);
    assert_int_equal(dop_reader_backend_uff.probe(path), 0);
    path_in(path, sizeof path, state, "v73_probe.mat");
    mat_file(path, MAT_FT_MAT73, MAT_C_SINGLE, MAT_COMPLEX_COLUMNS, 10, 1, MAT_COMPRESSION_NONE);
    assert_int_equal(dop_reader_backend_uff.probe(path), 0);
    assert_int_equal(dop_reader_backend_mat.probe(path), 1);
}

static void test_uff_malformed(void **state)
{
    char path[512];
    dop_reader_config cfg;
    typedef struct {
        const char *file;
        uff_case c;
        const char *words;
    } bad_case;
    static const bad_case cases[] = {
        {"no_data.uff", {"uff.beamformed_data", 0, 4, {600, 1, 1, 6}, 2500.0, NAN, -1, -1}, "has no data"},
        {"rank5.uff", {"uff.beamformed_data", 1, 5, {2, 3, 1, 1, 6}, 2500.0, NAN, -1, -1}, "rank 5"},
        {"real.uff", {"uff.beamformed_data", 2, 4, {600, 1, 1, 6}, 2500.0, NAN, -1, -1}, "real"},
        {"default_rate.uff", {"uff.beamformed_data", 1, 4, {600, 1, 1, 6}, 1.0, NAN, -1, -1}, "give prf_hz"},
        {"no_rate.uff", {"uff.beamformed_data", 1, 4, {600, 1, 1, 6}, NAN, NAN, -1, -1}, "give prf_hz"},
        {"bad_rate.uff", {"uff.beamformed_data", 1, 4, {600, 1, 1, 6}, NAN, -5.0, -1, -1}, "not positive"},
        {"channels.uff", {"uff.beamformed_data", 1, 4, {600, 1, 3, 6}, 2500.0, NAN, -1, -1}, "3 channels"},
        {"waves_frames.uff", {"uff.beamformed_data", 1, 4, {10, 4, 1, 6}, 2500.0, NAN, -1, -1}, "compound"},
        {"empty.uff", {"uff.beamformed_data", 1, 4, {0, 1, 1, 6}, 2500.0, NAN, -1, -1}, "empty"},
        {"no_class.uff", {NULL, 1, 4, {600, 1, 1, 6}, 2500.0, NAN, -1, -1}, "no USTB uff.beamformed_data"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        path_in(path, sizeof path, state, cases[i].file);
        uff_file(path, &cases[i].c);
        cfg = config(path, DOP_INPUT_UFF);
        open_fails(&cfg, DOP_ERR_FORMAT, cases[i].words);
    }
    /* A group of another class, named. */
    path_in(path, sizeof path, state, "no_class.uff");
    cfg = config(path, DOP_INPUT_UFF);
    cfg.variable = "/a_channel_data";
    open_fails(&cfg, DOP_ERR_FORMAT, "uff.channel_data");
    cfg.variable = "/nowhere/b_data";
    open_fails(&cfg, DOP_ERR_FORMAT, "no group");

    /* NaN sample. */
    uff_case nan_case = USTB_FRAMES;
    nan_case.nan_pulse = 5, nan_case.nan_pixel = 1;
    path_in(path, sizeof path, state, "nan.uff");
    uff_file(path, &nan_case);
    cfg = config(path, DOP_INPUT_AUTO);
    dop_reader *r = open_ok(&cfg);
    float complex x[600 * 6];
    size_t got = 0;
    dop_error err = {{0}};
    assert_int_equal(dop_reader_read(r, x, 600, &got, &err), DOP_ERR_FORMAT);
    assert_int_equal(got, 5);
    assert_non_null(strstr(err.message, path));
    assert_non_null(strstr(err.message, "pulse 5 pixel 1 (real) is NaN"));
    dop_reader_close(r);

    /* Truncated; not HDF5; missing. */
    path_in(path, sizeof path, state, "trunc.uff");
    uff_file(path, &USTB_FRAMES);
    char *bytes = NULL;
    size_t len = 0;
    assert_int_equal(io_file_read(path, &bytes, &len), 0);
    free(bytes);
    assert_int_equal(io_file_truncate(path, len / 2), 0);
    cfg = config(path, DOP_INPUT_UFF);
    open_fails(&cfg, DOP_ERR_FORMAT, "not a readable HDF5 file");
    path_in(path, sizeof path, state, "text.uff");
    assert_int_equal(io_file_write(path, "not hdf5\n", 9), 0);
    cfg = config(path, DOP_INPUT_UFF);
    open_fails(&cfg, DOP_ERR_FORMAT, NULL);
    path_in(path, sizeof path, state, "missing.uff");
    cfg = config(path, DOP_INPUT_UFF);
    open_fails(&cfg, DOP_ERR_IO, NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mat_sink_round_trip),
        cmocka_unit_test(test_uff_sink_round_trip),
        cmocka_unit_test(test_mat_v5_layouts),
        cmocka_unit_test(test_mat_many_blocks_and_seek),
        cmocka_unit_test(test_mat_prf_sources),
        cmocka_unit_test(test_mat_variable_choice),
        cmocka_unit_test(test_mat_malformed),
        cmocka_unit_test(test_uff_ustb_file),
        cmocka_unit_test(test_uff_malformed),
    };
    return cmocka_run_group_tests(tests, io_tmpdir_setup, io_tmpdir_teardown);
}

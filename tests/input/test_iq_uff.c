/* Slow-time IQ in USTB UFF files (HDF5): what the simulator's UFF sink
 * writes reads back as the same samples and has USTB's structure; a file
 * laid out as USTB writes it is read with its acquisition; and every
 * malformed file fails cleanly with a message that names the file. */
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

#include "input/reader_backend.h"
#include "io_util.h"
#include "iq_check.h"

static void test_uff_sink_round_trip(void **state)
{
    /* USTB's structure: root version, class attributes, the data's shape. */
    char path[512];
    iq_sink_round_trips(state, &sim_sink_uff, ".uff", DOP_INPUT_UFF, "USTB UFF v1.2.0",
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
 * data's slow index s and pixel x hold iq_pattern(s, x, part) / 4096. */
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
            re[i] = (float)iq_pattern(i / pixels, i % pixels, 0) / 4096.0f;
            im[i] = (float)iq_pattern(i / pixels, i % pixels, 1) / 4096.0f;
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
    iq_path_in(path, sizeof path, state, "ustb.uff");
    uff_file(path, &USTB_FRAMES);
    const int is_int16 = 0;
    for (int f = 0; f < 2; f++) {
        dop_reader_config cfg = iq_config(path, f ? DOP_INPUT_AUTO : DOP_INPUT_UFF);
        dop_reader *r = iq_open_ok(&cfg);
        const dop_reader_info *info = dop_reader_get_info(r);
        assert_int_equal(info->kind, DOP_INPUT_UFF);
        assert_true(info->rate_hz == 2500.0);
        assert_int_equal(info->frames, 600);
        assert_int_equal(info->file_gates, 6);
        assert_true(info->file_acq.f0_hz == 5.2e6);
        assert_true(info->file_acq.c_m_s == 1500.0);
        assert_true(isnan(info->file_acq.angle_deg));
        assert_string_equal(info->format, "USTB UFF v1.2.0");
        assert_int_equal(iq_read_compare(r, f ? 41 : 600, 0, iq_pattern_value, &is_int16), 600);
        dop_reader_close(r);
    }
    /* --gate picks pixels; --variable names the group. */
    dop_reader_config cfg = iq_config(path, DOP_INPUT_UFF);
    cfg.variable = "b_data";
    cfg.gate_first = 2;
    cfg.gate_last = 2;
    dop_reader *r = iq_open_ok(&cfg);
    assert_int_equal(dop_reader_get_info(r)->gates, 1);
    assert_int_equal(iq_read_compare(r, 77, 2, iq_pattern_value, &is_int16), 600);
    dop_reader_close(r);

    /* One frame of 40 waves: the waves are the slow time (no PRF then). */
    uff_case waves = USTB_FRAMES;
    waves.rank = 3;
    waves.dims[0] = 40, waves.dims[1] = 1, waves.dims[2] = 6;
    iq_path_in(path, sizeof path, state, "waves.uff");
    uff_file(path, &waves);
    cfg = iq_config(path, DOP_INPUT_AUTO);
    iq_open_fails(&cfg, DOP_ERR_FORMAT, "waves");
    cfg.raw_rate_hz = 1000.0;
    r = iq_open_ok(&cfg);
    assert_int_equal(dop_reader_get_info(r)->frames, 40);
    assert_int_equal(iq_read_compare(r, 40, 0, iq_pattern_value, &is_int16), 40);
    dop_reader_close(r);

    /* The probe: UFF is not MAT; with a native /iq dataset added it is not UFF. */
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
    /* (A MAT v7.3 file, HDF5 too, is not UFF: tests/input/test_iq_mat.c.) */
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
        iq_path_in(path, sizeof path, state, cases[i].file);
        uff_file(path, &cases[i].c);
        cfg = iq_config(path, DOP_INPUT_UFF);
        iq_open_fails(&cfg, DOP_ERR_FORMAT, cases[i].words);
    }
    /* A group of another class, named. */
    iq_path_in(path, sizeof path, state, "no_class.uff");
    cfg = iq_config(path, DOP_INPUT_UFF);
    cfg.variable = "/a_channel_data";
    iq_open_fails(&cfg, DOP_ERR_FORMAT, "uff.channel_data");
    cfg.variable = "/nowhere/b_data";
    iq_open_fails(&cfg, DOP_ERR_FORMAT, "no group");

    /* NaN sample. */
    uff_case nan_case = USTB_FRAMES;
    nan_case.nan_pulse = 5, nan_case.nan_pixel = 1;
    iq_path_in(path, sizeof path, state, "nan.uff");
    uff_file(path, &nan_case);
    cfg = iq_config(path, DOP_INPUT_AUTO);
    dop_reader *r = iq_open_ok(&cfg);
    float complex x[600 * 6];
    size_t got = 0;
    dop_error err = {{0}};
    assert_int_equal(dop_reader_read(r, x, 600, &got, &err), DOP_ERR_FORMAT);
    assert_int_equal(got, 5);
    assert_non_null(strstr(err.message, path));
    assert_non_null(strstr(err.message, "pulse 5 pixel 1 (real) is NaN"));
    dop_reader_close(r);

    /* Truncated; not HDF5; missing. */
    iq_path_in(path, sizeof path, state, "trunc.uff");
    uff_file(path, &USTB_FRAMES);
    char *bytes = NULL;
    size_t len = 0;
    assert_int_equal(io_file_read(path, &bytes, &len), 0);
    free(bytes);
    assert_int_equal(io_file_truncate(path, len / 2), 0);
    cfg = iq_config(path, DOP_INPUT_UFF);
    iq_open_fails(&cfg, DOP_ERR_FORMAT, "not a readable HDF5 file");
    iq_path_in(path, sizeof path, state, "text.uff");
    assert_int_equal(io_file_write(path, "not hdf5\n", 9), 0);
    cfg = iq_config(path, DOP_INPUT_UFF);
    iq_open_fails(&cfg, DOP_ERR_FORMAT, NULL);
    iq_path_in(path, sizeof path, state, "missing.uff");
    cfg = iq_config(path, DOP_INPUT_UFF);
    iq_open_fails(&cfg, DOP_ERR_IO, NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_uff_sink_round_trip),
        cmocka_unit_test(test_uff_ustb_file),
        cmocka_unit_test(test_uff_malformed),
    };
    return cmocka_run_group_tests(tests, io_tmpdir_setup, io_tmpdir_teardown);
}

/* dopflow analyze end to end: outputs with their columns and physics, and
 * every error path: one line on stderr naming the file and the problem, the
 * documented exit code, and no output file (or temporary file) left behind. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <hdf5.h>

#include "cli_run.h"
#include "dopflow/h5_writer.h"
#include "dopflow/analysis.h"
#include "io_util.h"
#include "signal_gen.h"

#define FS 12500.0

typedef struct fixture {
    char dir[256];
    char wav[512];        /* pulsatile flow, sidecar beside it */
    double true_mean_cm_s;
} fixture;

static int setup(void **state)
{
    fixture *fx = calloc(1, sizeof *fx);
    if (io_tmpdir_make(fx->dir, sizeof fx->dir) != 0) return -1;
    io_path_join(fx->wav, sizeof fx->wav, fx->dir, "flow.wav");
    fx->true_mean_cm_s = sg_write_flow_recording(fx->wav, 8.0);
    if (fx->true_mean_cm_s < 0.0) return -1;
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    fixture *fx = *state;
    io_tmpdir_remove(fx->dir);
    free(fx);
    return 0;
}

static void outputs_have_named_columns_and_physics(void **state)
{
    fixture *fx = *state;
    char args[4096], summary[512], frames[512], beats[512], h5[512];
    io_path_join(summary, sizeof summary, fx->dir, "summary.csv");
    io_path_join(frames, sizeof frames, fx->dir, "frames.csv");
    io_path_join(beats, sizeof beats, fx->dir, "beats.csv");
    io_path_join(h5, sizeof h5, fx->dir, "result.h5");
    snprintf(args, sizeof args, "analyze '%s' --summary '%s' --frames '%s' --beats '%s' --h5 '%s'", fx->wav, summary,
             frames, beats, h5);
    char *out = NULL, *err = NULL;
    assert_int_equal(cli_run(args, NULL, &out, &err), 0);
    char *text = NULL;
    assert_int_equal(io_file_read(summary, &text, NULL), 0);
    const char *required = "epoch,start_s,end_s,mean_velocity_cm_s,tamax_cm_s,flow_ml_min,heart_rate_bpm,n_beats,pi,ri,"
                           "rejected_fraction";
    assert_int_equal(strncmp(text, required, strlen(required)), 0);
    double mean = io_csv_value(text, "mean_velocity_cm_s", 0), flow = io_csv_value(text, "flow_ml_min", 0);
    double hr = io_csv_value(text, "heart_rate_bpm", 0);
    print_message("summary: mean %.2f (true %.2f) cm/s, flow %.1f ml/min, HR %.1f\n", mean, fx->true_mean_cm_s, flow, hr);
    assert_true(fabs(mean - fx->true_mean_cm_s) <= 0.05 * fx->true_mean_cm_s);
    assert_float_equal(flow, mean * M_PI * 0.2 * 0.2 * 60.0, 0.01 * flow);
    assert_true(fabs(hr - 70.0) <= 3.0);
    free(text);
    assert_int_equal(io_file_read(frames, &text, NULL), 0);
    const char *frame_columns = "time_s,vmax_cm_s,vmean_cm_s,flow_ml_min,quality";
    assert_int_equal(strncmp(text, frame_columns, strlen(frame_columns)), 0);
    assert_true(cli_count_lines(text) > 700); /* 8 s at 10 ms frames */
    free(text);
    assert_int_equal(io_file_read(beats, &text, NULL), 0);
    const char *beat_columns = "beat,start_s,end_s,heart_rate_bpm,psv_cm_s,edv_cm_s,tamax_cm_s,tamean_cm_s,pi";
    assert_int_equal(strncmp(text, beat_columns, strlen(beat_columns)), 0);
    free(text);
    assert_true(io_exists(h5));
    struct stat st;
    assert_int_equal(stat(summary, &st), 0);
    assert_true(st.st_mode & S_IRGRP); /* not left 0600 by the temporary file */
    assert_int_equal(io_dir_count(fx->dir), 6); /* wav, json, 4 outputs: no temporary files */
    free(out);
    free(err);
    unlink(summary);
    unlink(frames);
    unlink(beats);
    unlink(h5);
}

/* The HDF5 result: spectrogram frames x bins with matching axes, traces,
 * and provenance attributes (version, input name and SHA-256). */
static void h5_result_layout(void **state)
{
    fixture *fx = *state;
    char args[4096], h5[512];
    io_path_join(h5, sizeof h5, fx->dir, "layout.h5");
    snprintf(args, sizeof args, "analyze '%s' --h5 '%s'", fx->wav, h5);
    assert_int_equal(cli_run(args, NULL, NULL, NULL), 0);
    hid_t file = H5Fopen(h5, H5F_ACC_RDONLY, H5P_DEFAULT);
    assert_true(file >= 0);
    hsize_t dims[2] = {0, 0}, tdims[1] = {0}, vdims[1] = {0}, fdims[1] = {0};
    hid_t d = H5Dopen2(file, "/spectrogram", H5P_DEFAULT);
    hid_t space = H5Dget_space(d);
    assert_int_equal(H5Sget_simple_extent_ndims(space), 2);
    H5Sget_simple_extent_dims(space, dims, NULL);
    H5Sclose(space);
    H5Dclose(d);
    const char *names[] = {"/time_s", "/velocity_cm_s", "/frames/vmean_cm_s"};
    hsize_t *out[] = {tdims, vdims, fdims};
    for (int i = 0; i < 3; i++) {
        d = H5Dopen2(file, names[i], H5P_DEFAULT);
        assert_true(d >= 0);
        space = H5Dget_space(d);
        H5Sget_simple_extent_dims(space, out[i], NULL);
        H5Sclose(space);
        H5Dclose(d);
    }
    assert_int_equal(dims[1], 256);            /* 20 ms at 12.5 kHz -> FFT 256 */
    assert_int_equal(vdims[0], dims[1]);
    assert_int_equal(tdims[0], dims[0]);
    assert_int_equal(fdims[0], dims[0]);       /* one trace row per spectrogram row */
    assert_true(dims[0] > 700);
    char expected[65];
    assert_int_equal(dop_file_sha256(fx->wav, expected, NULL), DOP_OK);
    hid_t attr = H5Aopen(file, "input_sha256", H5P_DEFAULT);
    assert_true(attr >= 0);
    hid_t type = H5Aget_type(attr);
    char *value = NULL;
    if (H5Tis_variable_str(type) > 0) {
        hid_t mem = H5Tcopy(H5T_C_S1);
        H5Tset_size(mem, H5T_VARIABLE);
        H5Tset_cset(mem, H5T_CSET_UTF8);
        assert_true(H5Aread(attr, mem, &value) >= 0);
        assert_string_equal(value, expected);
        H5free_memory(value);
        H5Tclose(mem);
    } else {
        char fixed[128] = {0};
        assert_true(H5Aread(attr, type, fixed) >= 0);
        assert_string_equal(fixed, expected);
    }
    H5Tclose(type);
    H5Aclose(attr);
    assert_true(H5Aexists(file, "f0_hz") > 0);
    assert_true(H5Aexists(file, "wall_hz") > 0);
    assert_true(H5Aexists(file, "dopflow_version") > 0);
    H5Fclose(file);
    unlink(h5);
}

/* A diameter track: constant 4 mm gives the flow of --diameter 4; 8 mm
 * gives four times the flow at the same velocity. */
static void diameter_track_scales_flow(void **state)
{
    fixture *fx = *state;
    char args[4096], csv[512];
    char *out = NULL;
    io_path_join(csv, sizeof csv, fx->dir, "diameter.csv");
    const double diameters[] = {4.0, 8.0};
    double flows[2];
    for (int i = 0; i < 2; i++) {
        char text[128];
        int len = snprintf(text, sizeof text, "time_s,diameter_mm\r\n0,%g\r\n100,%g\r\n", diameters[i], diameters[i]);
        io_file_write(csv, text, (size_t)len);
        snprintf(args, sizeof args, "analyze '%s' --diameter-csv '%s' --summary -", fx->wav, csv);
        assert_int_equal(cli_run(args, NULL, &out, NULL), 0);
        flows[i] = io_csv_value(out, "flow_ml_min", 0);
        free(out);
    }
    snprintf(args, sizeof args, "analyze '%s' --diameter 4 --summary -", fx->wav);
    assert_int_equal(cli_run(args, NULL, &out, NULL), 0);
    assert_float_equal(io_csv_value(out, "flow_ml_min", 0), flows[0], 1e-3 * flows[0]);
    assert_float_equal(flows[1] / flows[0], 4.0, 1e-3);
    free(out);
    unlink(csv);
}

static void epochs_and_overrides(void **state)
{
    fixture *fx = *state;
    char args[2048];
    char *out = NULL, *err = NULL;
    snprintf(args, sizeof args, "analyze '%s' --epochs 'a:0:4,b:4:8' --summary -", fx->wav);
    assert_int_equal(cli_run(args, NULL, &out, &err), 0);
    assert_int_equal(cli_count_lines(out), 3);
    assert_non_null(strstr(out, "\na,0,4,"));
    assert_non_null(strstr(out, "\nb,4,8,"));
    double mean_a = io_csv_value(out, "mean_velocity_cm_s", 0);
    free(out);
    free(err);
    /* --angle 45 overrides the sidecar's 60: velocities scale by cos 60 / cos 45. */
    snprintf(args, sizeof args, "analyze '%s' --epochs 'a:0:4' --angle 45 --summary -", fx->wav);
    assert_int_equal(cli_run(args, NULL, &out, &err), 0);
    double mean_45 = io_csv_value(out, "mean_velocity_cm_s", 0);
    assert_float_equal(mean_45 / mean_a, cos(M_PI / 3) / cos(M_PI / 4), 1e-3);
    free(out);
    free(err);
}

/* Run args expecting failure `code`; stderr is one line containing `needle`,
 * and the folder holds exactly `entries` files afterwards. */
static void expect_failure(const fixture *fx, const char *args, int code, const char *needle, int entries)
{
    char *out = NULL, *err = NULL;
    int got = cli_run(args, NULL, &out, &err);
    print_message("exit %d: %s", got, err);
    assert_int_equal(got, code);
    assert_int_equal(cli_count_lines(err), 1);
    assert_non_null(strstr(err, needle));
    assert_int_equal(io_dir_count(fx->dir), entries);
    free(out);
    free(err);
}

static void error_paths(void **state)
{
    fixture *fx = *state;
    char args[8192], path[512], sidecar[512], outs[4096];
    char s_out[512], f_out[512], b_out[512], h_out[512];
    io_path_join(s_out, sizeof s_out, fx->dir, "s.csv");
    io_path_join(f_out, sizeof f_out, fx->dir, "f.csv");
    io_path_join(b_out, sizeof b_out, fx->dir, "b.csv");
    io_path_join(h_out, sizeof h_out, fx->dir, "r.h5");
    snprintf(outs, sizeof outs, "--summary '%s' --frames '%s' --beats '%s' --h5 '%s'", s_out, f_out, b_out, h_out);
    const int base = io_dir_count(fx->dir); /* flow.wav + flow.json */

    /* Missing file. */
    io_path_join(path, sizeof path, fx->dir, "missing.wav");
    snprintf(args, sizeof args, "analyze '%s' --f0 4e6 --angle 60 %s", path, outs);
    expect_failure(fx, args, 3, "missing.wav", base);

    /* Not audio. */
    io_path_join(path, sizeof path, fx->dir, "notes.wav");
    io_file_write(path, "these are not samples\n", 22);
    snprintf(args, sizeof args, "analyze '%s' --f0 4e6 --angle 60 %s", path, outs);
    expect_failure(fx, args, 3, "notes.wav", base + 1);
    unlink(path);

    /* Wall cutoff above Nyquist (fs/2 = 6250 Hz). */
    snprintf(args, sizeof args, "analyze '%s' --wall-hz 7000 %s", fx->wav, outs);
    expect_failure(fx, args, 2, "7000", base);

    /* Sample rate too low for arterial velocities: aliasing. */
    io_path_join(path, sizeof path, fx->dir, "slow.wav");
    float complex slow[4000] = {0};
    sg_add_tone(slow, 4000, 1000.0, 100.0, 0.1);
    dop_acquisition acq = sg_test_acquisition();
    sg_write_wav(path, slow, 4000, 1000.0, &acq);
    snprintf(args, sizeof args, "analyze '%s' %s", path, outs);
    expect_failure(fx, args, 5, "alias", base + 2);
    unlink(path);
    io_path_join(sidecar, sizeof sidecar, fx->dir, "slow.json");
    unlink(sidecar);

    /* Bad sidecars: malformed, wrong type, diameter <= 0, angle 90, f0 0. */
    const struct { const char *json; const char *needle; } bad[] = {
        {"{\"f0_hz\": 4e6, \"angle_deg\": ", "malformed"},
        {"{\"f0_hz\": \"four MHz\", \"angle_deg\": 60}", "f0_hz"},
        {"{\"f0_hz\": 4e6, \"angle_deg\": 60, \"diameter_mm\": -3}", "diameter_mm"},
        {"{\"f0_hz\": 4e6, \"angle_deg\": 90}", "angle_deg"},
        {"{\"f0_hz\": 0, \"angle_deg\": 60}", "f0_hz"},
        {"{\"f0_hz\": 4e6, \"angle_deg\": 60, \"channels\": \"stereo\"}", "channels"},
    };
    io_path_join(sidecar, sizeof sidecar, fx->dir, "bad.json");
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        io_file_write(sidecar, bad[i].json, strlen(bad[i].json));
        snprintf(args, sizeof args, "analyze '%s' --meta '%s' %s", fx->wav, sidecar, outs);
        expect_failure(fx, args, 4, bad[i].needle, base + 1);
        char *err = NULL;
        cli_run(args, NULL, NULL, &err);
        assert_non_null(strstr(err, "bad.json"));
        free(err);
    }
    unlink(sidecar);

    /* Missing metadata: no sidecar and no --f0. The library names the
     * parameter (f0_hz), the command line adds its flag. */
    io_path_join(path, sizeof path, fx->dir, "bare.wav");
    sg_write_wav(path, slow, 4000, 12500.0, NULL);
    snprintf(args, sizeof args, "analyze '%s' %s", path, outs);
    expect_failure(fx, args, 4, "f0_hz is unknown: give it in Hz, or f0_hz in the sidecar; on the command line: --f0 HZ",
                   base + 1);
    unlink(path);

    /* Usage errors. */
    snprintf(args, sizeof args, "analyze '%s' --window triangle", fx->wav);
    expect_failure(fx, args, 2, "triangle", base);
    snprintf(args, sizeof args, "analyze '%s' --epochs 'a:5:2'", fx->wav);
    expect_failure(fx, args, 2, "a:5:2", base);
    snprintf(args, sizeof args, "analyze '%s' --start 100 %s", fx->wav, outs);
    expect_failure(fx, args, 3, "start_s = 100 s is past the end", base);
    snprintf(args, sizeof args, "analyze '%s' --start 100 %s", fx->wav, outs);
    expect_failure(fx, args, 3, "; on the command line: --start S", base);
}

/* Raw s16 samples on standard input, frames streamed to standard output. */
static void raw_stdin_streams_frames(void **state)
{
    fixture *fx = *state;
    char raw[512], args[1024];
    io_path_join(raw, sizeof raw, fx->dir, "feed.s16");
    const size_t n = (size_t)(3.0 * FS);
    float complex *x = calloc(n, sizeof *x);
    sg_add_tone(x, n, FS, 1000.0, 0.2);
    sg_add_noise(x, n, 1e-5, 3);
    int16_t *pcm = malloc(2 * n * sizeof *pcm);
    for (size_t i = 0; i < n; i++) {
        pcm[2 * i] = (int16_t)lrintf(crealf(x[i]) * 32767.0f);
        pcm[2 * i + 1] = (int16_t)lrintf(cimagf(x[i]) * 32767.0f);
    }
    io_file_write(raw, pcm, 2 * n * sizeof *pcm);
    snprintf(args, sizeof args, "analyze - --raw-format s16 --rate 12500 --f0 4e6 --angle 60 --frames -");
    char *out = NULL, *err = NULL;
    assert_int_equal(cli_run(args, raw, &out, &err), 0);
    assert_int_equal(strncmp(out, "time_s,vmax_cm_s,vmean_cm_s", 27), 0);
    assert_true(cli_count_lines(out) >= 290);
    /* 1000 Hz at 4 MHz and 60 degrees: 38.5 cm/s. */
    double v = io_csv_value(out, "vmean_cm_s", 150);
    assert_true(fabs(v - 38.5) < 0.5);
    free(out);
    free(err);
    free(x);
    free(pcm);
    unlink(raw);
}

static int is_png(const char *path)
{
    char *data = NULL;
    size_t len = 0;
    if (io_file_read(path, &data, &len) != 0) return 0;
    int ok = len > 1000 && memcmp(data, "\x89PNG\r\n\x1a\n", 8) == 0;
    free(data);
    return ok;
}

/* --plots: figures beside the outputs; the study embeds its figure in report.md. */
static void plots_beside_outputs(void **state)
{
    fixture *fx = *state;
    char args[4096], h5[512], sono[512], flow[512], manifest[512], outdir[512], study_png[512], report[512];
    io_path_join(h5, sizeof h5, fx->dir, "fig.h5");
    io_path_join(sono, sizeof sono, fx->dir, "fig.sonogram.png");
    io_path_join(flow, sizeof flow, fx->dir, "fig.flow.png");
    snprintf(args, sizeof args, "analyze '%s' --h5 '%s' --plots", fx->wav, h5);
    assert_int_equal(cli_run(args, NULL, NULL, NULL), 0);
    assert_true(is_png(sono));
    assert_true(is_png(flow));
    unlink(h5);
    unlink(sono);
    unlink(flow);
    snprintf(args, sizeof args, "analyze '%s' --summary - --plots", fx->wav);
    assert_int_equal(cli_run(args, NULL, NULL, NULL), 2);

    io_path_join(manifest, sizeof manifest, fx->dir, "manifest.csv");
    const char *rows = "subject,condition,artery,file\nS1,rest,brachial,flow.wav\nS2,rest,brachial,flow.wav\n";
    io_file_write(manifest, rows, strlen(rows));
    io_path_join(outdir, sizeof outdir, fx->dir, "study");
    snprintf(args, sizeof args, "study '%s' -o '%s' --plots", manifest, outdir);
    assert_int_equal(cli_run(args, NULL, NULL, NULL), 0);
    io_path_join(study_png, sizeof study_png, outdir, "study.png");
    io_path_join(report, sizeof report, outdir, "report.md");
    assert_true(is_png(study_png));
    char *text = NULL;
    assert_int_equal(io_file_read(report, &text, NULL), 0);
    assert_non_null(strstr(text, "](study.png)"));
    free(text);
    io_tmpdir_remove(outdir);
    unlink(manifest);
}

static void help_lists_exit_codes(void **state)
{
    (void)state;
    char *out = NULL;
    assert_int_equal(cli_run("analyze --help", NULL, &out, NULL), 0);
    assert_non_null(strstr(out, "Exit codes"));
    assert_non_null(strstr(out, "--wall-hz"));
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(outputs_have_named_columns_and_physics),
        cmocka_unit_test(h5_result_layout),
        cmocka_unit_test(diameter_track_scales_flow),
        cmocka_unit_test(epochs_and_overrides),
        cmocka_unit_test(error_paths),
        cmocka_unit_test(raw_stdin_streams_frames),
        cmocka_unit_test(plots_beside_outputs),
        cmocka_unit_test(help_lists_exit_codes),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

/* dopflow plot: every figure is produced in the format its extension asks
 * for, at the requested size, is not blank, and every bad input fails
 * cleanly: the documented exit code, one line on stderr naming the file and
 * the problem, and no figure (or temporary file) left behind.
 *
 * The inputs are made here: a synthetic pulsatile I/Q recording analysed by
 * `dopflow analyze` (HDF5 result, frames and beats CSV), and a study
 * conditions.csv written by hand (brachial and femoral arteries, four
 * conditions, four epochs; rest flow 39 and 371 ml/min, exercise ~3x). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <cairo.h>
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli_run.h"
#include "io_util.h"
#include "signal_gen.h"

#define FS 12500.0

typedef struct fixture {
    char dir[256];
    char wav[512], h5[512], frames[512], beats[512], study[512];
} fixture;

/* ---- fixture --------------------------------------------------------------- */

static int write_conditions(const char *folder)
{
    char path[600];
    snprintf(path, sizeof path, "%s/conditions.csv", folder);
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    fputs("artery,condition,epoch,n,flow_ml_min_mean,flow_ml_min_sd,flow_ml_min_sem,mean_velocity_cm_s_mean,"
          "mean_velocity_cm_s_sd,mean_velocity_cm_s_sem,flow_change_pct,p_value,p_adjusted\n",
          f);
    static const char *const arteries[] = {"brachial", "femoral"};
    static const double rest[] = {39.0, 371.0}, diameter_cm[] = {0.38, 0.85};
    static const char *const conditions[] = {"effleurage", "petrissage", "tapotement", "exercise"};
    static const double gain[4][4] = {
        {1.0, 1.10, 1.05, 1.00}, {1.0, 1.22, 1.10, 1.02}, {1.0, 1.30, 1.12, 1.01}, {1.0, 3.00, 2.10, 1.35}};
    static const char *const epochs[] = {"pre", "t5", "t10", "t20"};
    for (int a = 0; a < 2; a++)
        for (int c = 0; c < 4; c++)
            for (int e = 0; e < 4; e++) {
                const int n = 12;
                double mean = rest[a] * gain[c][e], sd = 0.22 * mean, sem = sd / sqrt(n);
                double area = M_PI * diameter_cm[a] * diameter_cm[a] / 4.0, v = mean / 60.0 / area;
                if (e == 0) {
                    fprintf(f, "%s,%s,%s,%d,%.3f,%.3f,%.3f,%.3f,%.3f,%.3f,,,\n", arteries[a], conditions[c],
                            epochs[e], n, mean, sd, sem, v, 0.22 * v, 0.22 * v / sqrt(n));
                } else {
                    double change = 100.0 * (gain[c][e] - 1.0);
                    double p = gain[c][e] > 2.0 ? 1e-5 : gain[c][e] > 1.2 ? 0.004 : 0.4;
                    fprintf(f, "%s,%s,%s,%d,%.3f,%.3f,%.3f,%.3f,%.3f,%.3f,%.2f,%.4g,%.4g\n", arteries[a],
                            conditions[c], epochs[e], n, mean, sd, sem, v, 0.22 * v, 0.22 * v / sqrt(n), change, p,
                            fmin(1.0, 3.0 * p));
                }
            }
    return fclose(f) == 0 ? 0 : -1;
}

static int setup(void **state)
{
    fixture *fx = calloc(1, sizeof *fx);
    if (!fx || io_tmpdir_make(fx->dir, sizeof fx->dir) != 0) return -1;
    io_path_join(fx->wav, sizeof fx->wav, fx->dir, "flow.wav");
    io_path_join(fx->h5, sizeof fx->h5, fx->dir, "flow.h5");
    io_path_join(fx->frames, sizeof fx->frames, fx->dir, "frames.csv");
    io_path_join(fx->beats, sizeof fx->beats, fx->dir, "beats.csv");
    io_path_join(fx->study, sizeof fx->study, fx->dir, "study");
    if (sg_write_flow_recording(fx->wav, 10.0) < 0.0) return -1;
    char args[4096];
    snprintf(args, sizeof args, "analyze '%s' --h5 '%s' --frames '%s' --beats '%s'", fx->wav, fx->h5, fx->frames,
             fx->beats);
    if (cli_run(args, NULL, NULL, NULL) != 0) return -1;
    if (mkdir(fx->study, 0777) != 0 || write_conditions(fx->study) != 0) return -1;
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

/* ---- figure checks ---------------------------------------------------------- */

/* Width and height from the PNG signature and IHDR chunk; 0 if not a PNG. */
static int png_size(const char *path, unsigned *w, unsigned *h)
{
    static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    unsigned char b[24];
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    size_t got = fread(b, 1, sizeof b, f);
    fclose(f);
    if (got != sizeof b || memcmp(b, sig, 8) != 0 || memcmp(b + 12, "IHDR", 4) != 0) return 0;
    *w = (unsigned)b[16] << 24 | (unsigned)b[17] << 16 | (unsigned)b[18] << 8 | b[19];
    *h = (unsigned)b[20] << 24 | (unsigned)b[21] << 16 | (unsigned)b[22] << 8 | b[23];
    return 1;
}

typedef struct pixel_stats {
    double luma_sd;      /* standard deviation of luminance, 0..255 */
    int colours;         /* distinct colours, counted up to 4096 */
} pixel_stats;

/* Decode with cairo and measure how much is drawn. */
static pixel_stats png_pixels(const char *path)
{
    pixel_stats st = {0.0, 0};
    cairo_surface_t *img = cairo_image_surface_create_from_png(path);
    assert_int_equal(cairo_surface_status(img), CAIRO_STATUS_SUCCESS);
    int w = cairo_image_surface_get_width(img), h = cairo_image_surface_get_height(img);
    int stride = cairo_image_surface_get_stride(img);
    const unsigned char *data = cairo_image_surface_get_data(img);
    enum { SEEN_MAX = 4096 };
    static uint32_t seen[SEEN_MAX];
    double sum = 0.0, sum2 = 0.0;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            uint32_t p = *(const uint32_t *)(data + (size_t)y * stride + 4 * (size_t)x) & 0xFFFFFFu;
            double luma = 0.299 * ((p >> 16) & 255) + 0.587 * ((p >> 8) & 255) + 0.114 * (p & 255);
            sum += luma;
            sum2 += luma * luma;
            if (st.colours < SEEN_MAX && (x % 3 == 0 && y % 3 == 0)) {
                int known = 0;
                for (int i = 0; i < st.colours && !known; i++) known = seen[i] == p;
                if (!known) seen[st.colours++] = p;
            }
        }
    double n = (double)w * h, mean = sum / n;
    st.luma_sd = sqrt(fmax(0.0, sum2 / n - mean * mean));
    cairo_surface_destroy(img);
    return st;
}

static void assert_png(const char *path, unsigned w, unsigned h, int min_colours)
{
    unsigned pw = 0, ph = 0;
    assert_true(png_size(path, &pw, &ph));
    assert_int_equal(pw, w);
    assert_int_equal(ph, h);
    pixel_stats st = png_pixels(path);
    print_message("%s: %ux%u, %d colours, luminance sd %.1f\n", strrchr(path, '/') + 1, pw, ph, st.colours,
                  st.luma_sd);
    assert_true(st.colours >= min_colours);
    assert_true(st.luma_sd > 10.0);
}

static void assert_starts_with(const char *path, const char *const *prefixes, int count)
{
    char *text = NULL;
    size_t len = 0;
    assert_int_equal(io_file_read(path, &text, &len), 0);
    assert_true(len > 1000);
    int ok = 0;
    for (int i = 0; i < count; i++) ok |= strncmp(text, prefixes[i], strlen(prefixes[i])) == 0;
    assert_true(ok);
    free(text);
}

static void assert_svg(const char *path)
{
    static const char *const prefixes[] = {"<?xml", "<svg"};
    assert_starts_with(path, prefixes, 2);
    char *text = NULL;
    assert_int_equal(io_file_read(path, &text, NULL), 0);
    assert_non_null(strstr(text, "<svg"));
    free(text);
}

static void assert_pdf(const char *path)
{
    static const char *const prefixes[] = {"%PDF"};
    assert_starts_with(path, prefixes, 1);
}

/* Run `dopflow ARGS`, expect exit `code`; returns stderr (caller frees). */
static char *run_expect(const char *args, int code)
{
    char *out = NULL, *err = NULL;
    int rc = cli_run(args, NULL, &out, &err);
    if (rc != code) print_message("dopflow %s -> %d (expected %d): %s", args, rc, code, err);
    assert_int_equal(rc, code);
    free(out);
    return err;
}

/* A failure: exit code, one line on stderr containing `needle`, no output
 * and no temporary file in the folder. */
static void expect_failure(const fixture *fx, const char *args, int code, const char *needle, const char *out)
{
    int before = io_dir_count(fx->dir);
    char *err = run_expect(args, code);
    print_message("  %s", err);
    assert_int_equal(cli_count_lines(err), 1);
    assert_non_null(strstr(err, needle));
    if (out) assert_false(io_exists(out));
    assert_int_equal(io_dir_count(fx->dir), before);
    free(err);
}

/* ---- figures ---------------------------------------------------------------- */

static void sonogram_png_at_requested_size(void **state)
{
    fixture *fx = *state;
    char out[600], args[2048];
    io_path_join(out, sizeof out, fx->dir, "sono.png");
    snprintf(args, sizeof args, "plot sonogram '%s' -o '%s' --width 900 --height 480", fx->h5, out);
    free(run_expect(args, 0));
    assert_png(out, 900, 480, 64);
    unlink(out);
    /* Defaults. */
    snprintf(args, sizeof args, "plot sonogram '%s' -o '%s'", fx->h5, out);
    free(run_expect(args, 0));
    assert_png(out, 1200, 560, 64);
    unlink(out);
}

static void sonogram_excerpt_and_colormaps(void **state)
{
    fixture *fx = *state;
    char out[600], args[2048];
    static const char *const maps[] = {"viridis", "grey", "hot"};
    for (int i = 0; i < 3; i++) {
        io_path_join(out, sizeof out, fx->dir, "excerpt.png");
        snprintf(args, sizeof args, "plot sonogram '%s' -o '%s' --from 2 --to 5.5 --colormap %s --range-db 50",
                 fx->h5, out, maps[i]);
        free(run_expect(args, 0));
        assert_png(out, 1200, 560, 32);
        unlink(out);
    }
    /* The whole Nyquist range, and a fixed window. */
    snprintf(args, sizeof args, "plot sonogram '%s' -o '%s' --velocity full", fx->h5, out);
    free(run_expect(args, 0));
    assert_png(out, 1200, 560, 32);
    unlink(out);
    snprintf(args, sizeof args, "plot sonogram '%s' -o '%s' --velocity -20:120", fx->h5, out);
    free(run_expect(args, 0));
    unlink(out);
}

static void sonogram_svg_and_pdf(void **state)
{
    fixture *fx = *state;
    char out[600], args[2048];
    io_path_join(out, sizeof out, fx->dir, "sono.svg");
    snprintf(args, sizeof args, "plot sonogram '%s' -o '%s'", fx->h5, out);
    free(run_expect(args, 0));
    assert_svg(out);
    unlink(out);
    io_path_join(out, sizeof out, fx->dir, "sono.PDF"); /* extensions in any case */
    snprintf(args, sizeof args, "plot sonogram '%s' -o '%s'", fx->h5, out);
    free(run_expect(args, 0));
    assert_pdf(out);
    unlink(out);
}

static void flow_from_h5_and_csv(void **state)
{
    fixture *fx = *state;
    char out[600], args[2048];
    io_path_join(out, sizeof out, fx->dir, "flow.png");
    snprintf(args, sizeof args, "plot flow '%s' -o '%s' --epochs rest:0:4,late:5:10", fx->h5, out);
    free(run_expect(args, 0));
    assert_png(out, 1200, 700, 16);
    unlink(out);
    snprintf(args, sizeof args, "plot flow '%s' -o '%s' --width 640 --height 480", fx->frames, out);
    free(run_expect(args, 0));
    assert_png(out, 640, 480, 16);
    unlink(out);
    io_path_join(out, sizeof out, fx->dir, "flow.svg");
    snprintf(args, sizeof args, "plot flow '%s' -o '%s' --epochs rest:0:4", fx->frames, out);
    free(run_expect(args, 0));
    assert_svg(out);
    unlink(out);
}

/* Without a diameter the flow column is empty: velocity is still drawn. */
static void flow_without_diameter(void **state)
{
    fixture *fx = *state;
    char csv[600], out[600], args[2048];
    io_path_join(csv, sizeof csv, fx->dir, "nodiam.csv");
    io_path_join(out, sizeof out, fx->dir, "nodiam.pdf");
    FILE *f = fopen(csv, "w");
    assert_non_null(f);
    fputs("time_s,vmax_cm_s,vmean_cm_s,flow_ml_min,quality,beat\n", f);
    for (int i = 1; i <= 500; i++) {
        double t = 0.01 * i;
        fprintf(f, "%.2f,%.3f,%.3f,,%s,%d\n", t, 40 + 30 * sin(7 * t), 20 + 15 * sin(7 * t),
                i % 97 == 0 ? "burst" : "ok", i / 90);
    }
    fclose(f);
    snprintf(args, sizeof args, "plot flow '%s' -o '%s'", csv, out);
    free(run_expect(args, 0));
    assert_pdf(out);
    unlink(out);
    unlink(csv);
}

static void study_png_svg_pdf(void **state)
{
    fixture *fx = *state;
    char out[600], args[2048];
    io_path_join(out, sizeof out, fx->dir, "study.png");
    snprintf(args, sizeof args, "plot study '%s' -o '%s'", fx->study, out);
    free(run_expect(args, 0));
    assert_png(out, 1200, 580, 16); /* two panels: 200 + 2 x 500 by 140 + 440 */
    unlink(out);
    snprintf(args, sizeof args, "plot study '%s/conditions.csv' -o '%s' --width 1000 --height 500", fx->study, out);
    free(run_expect(args, 0));
    assert_png(out, 1000, 500, 16);
    unlink(out);
    io_path_join(out, sizeof out, fx->dir, "study.svg");
    snprintf(args, sizeof args, "plot study '%s' -o '%s'", fx->study, out);
    free(run_expect(args, 0));
    assert_svg(out);
    unlink(out);
    io_path_join(out, sizeof out, fx->dir, "study.pdf");
    snprintf(args, sizeof args, "plot study '%s' -o '%s'", fx->study, out);
    free(run_expect(args, 0));
    assert_pdf(out);
    unlink(out);
}

/* ---- errors ----------------------------------------------------------------- */

static void missing_inputs_exit_3(void **state)
{
    fixture *fx = *state;
    char out[600], missing[600], args[2048];
    io_path_join(out, sizeof out, fx->dir, "never.png");
    io_path_join(missing, sizeof missing, fx->dir, "missing.h5");
    snprintf(args, sizeof args, "plot sonogram '%s' -o '%s'", missing, out);
    expect_failure(fx, args, 3, "missing.h5", out);
    snprintf(args, sizeof args, "plot flow '%s' -o '%s'", missing, out);
    expect_failure(fx, args, 3, "missing.h5", out);
    io_path_join(missing, sizeof missing, fx->dir, "nostudy");
    snprintf(args, sizeof args, "plot study '%s' -o '%s'", missing, out);
    expect_failure(fx, args, 3, "nostudy", out);
    /* A folder without conditions.csv names the file it looked for. */
    snprintf(args, sizeof args, "plot study '%s' -o '%s'", fx->dir, out);
    expect_failure(fx, args, 3, "conditions.csv", out);
}

static void unusable_inputs_exit_3(void **state)
{
    fixture *fx = *state;
    char out[600], bad[600], args[2048];
    io_path_join(out, sizeof out, fx->dir, "never.png");
    /* An HDF5 file without /spectrogram. */
    io_path_join(bad, sizeof bad, fx->dir, "empty.h5");
    hid_t file = H5Fcreate(bad, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    assert_true(file >= 0);
    hid_t group = H5Gcreate2(file, "frames", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Gclose(group);
    H5Fclose(file);
    snprintf(args, sizeof args, "plot sonogram '%s' -o '%s'", bad, out);
    expect_failure(fx, args, 3, "no /spectrogram", out);
    snprintf(args, sizeof args, "plot flow '%s' -o '%s'", bad, out);
    expect_failure(fx, args, 3, "frames/time_s", out);
    unlink(bad);
    /* Not HDF5 at all. */
    snprintf(args, sizeof args, "plot sonogram '%s' -o '%s'", fx->frames, out);
    expect_failure(fx, args, 3, "not an HDF5 file", out);
    /* A CSV without the needed columns: the beats CSV has no time_s. */
    snprintf(args, sizeof args, "plot flow '%s' -o '%s'", fx->beats, out);
    expect_failure(fx, args, 3, "no column 'time_s'", out);
    /* A conditions.csv without flow columns. */
    io_path_join(bad, sizeof bad, fx->dir, "conditions_bad.csv");
    assert_int_equal(io_file_write(bad, "artery,condition,epoch,n\nbrachial,rest,pre,3\n", 44), 0);
    snprintf(args, sizeof args, "plot study '%s' -o '%s'", bad, out);
    expect_failure(fx, args, 3, "no column 'flow_ml_min_mean'", out);
    unlink(bad);
    /* A span with no data. */
    snprintf(args, sizeof args, "plot sonogram '%s' -o '%s' --from 100 --to 200", fx->h5, out);
    expect_failure(fx, args, 3, "no spectrogram rows", out);
}

static void usage_errors_exit_2(void **state)
{
    fixture *fx = *state;
    char out[600], args[2048];
    io_path_join(out, sizeof out, fx->dir, "figure.gif");
    snprintf(args, sizeof args, "plot sonogram '%s' -o '%s'", fx->h5, out);
    expect_failure(fx, args, 2, "unknown figure format", out);
    io_path_join(out, sizeof out, fx->dir, "figure");
    snprintf(args, sizeof args, "plot flow '%s' -o '%s'", fx->h5, out);
    expect_failure(fx, args, 2, "unknown figure format", out);
    io_path_join(out, sizeof out, fx->dir, "figure.png");
    snprintf(args, sizeof args, "plot sonogram '%s' -o '%s' --width 12", fx->h5, out);
    expect_failure(fx, args, 2, "--width", out);
    snprintf(args, sizeof args, "plot flow '%s' -o '%s' --epochs pre:5:1", fx->h5, out);
    expect_failure(fx, args, 2, "pre:5:1", out);
    snprintf(args, sizeof args, "plot sonogram '%s' -o '%s' --colormap rainbow", fx->h5, out);
    expect_failure(fx, args, 2, "rainbow", out);
    snprintf(args, sizeof args, "plot sonogram '%s' -o '%s' --velocity 50:10", fx->h5, out);
    expect_failure(fx, args, 2, "--velocity", out);
    snprintf(args, sizeof args, "plot sonogram '%s'", fx->h5);
    expect_failure(fx, args, 2, "-o", NULL);
    snprintf(args, sizeof args, "plot histogram '%s' -o '%s'", fx->h5, out);
    expect_failure(fx, args, 2, "histogram", out);
}

static void unwritable_output_exit_6(void **state)
{
    fixture *fx = *state;
    char out[600], args[2048];
    io_path_join(out, sizeof out, fx->dir, "no/such/folder/sono.png");
    snprintf(args, sizeof args, "plot sonogram '%s' -o '%s'", fx->h5, out);
    expect_failure(fx, args, 6, "no/such/folder/sono.png", out);
}

/* A failed run leaves an existing figure as it was. */
static void failure_keeps_previous_figure(void **state)
{
    fixture *fx = *state;
    char out[600], args[2048];
    io_path_join(out, sizeof out, fx->dir, "keep.png");
    assert_int_equal(io_file_write(out, "previous", 8), 0);
    snprintf(args, sizeof args, "plot flow '%s' -o '%s'", fx->beats, out);
    expect_failure(fx, args, 3, "time_s", NULL);
    char *text = NULL;
    assert_int_equal(io_file_read(out, &text, NULL), 0);
    assert_string_equal(text, "previous");
    free(text);
    unlink(out);
}

/* Pixels left of the colour bar (x < 80 % of the width) whose colour is
 * warm (red to yellow: flow toward the probe) and blue (away). */
static void count_flow_colours(const char *path, int *warm, int *blue)
{
    cairo_surface_t *img = cairo_image_surface_create_from_png(path);
    assert_int_equal(cairo_surface_status(img), CAIRO_STATUS_SUCCESS);
    int w = cairo_image_surface_get_width(img), h = cairo_image_surface_get_height(img);
    int stride = cairo_image_surface_get_stride(img);
    const unsigned char *data = cairo_image_surface_get_data(img);
    *warm = *blue = 0;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < 4 * w / 5; x++) {
            uint32_t p = *(const uint32_t *)(data + (size_t)y * stride + 4 * (size_t)x);
            int r = (p >> 16) & 255, b = p & 255;
            *warm += r > 180 && b < 120;
            *blue += b > 150 && r < 60;
        }
    cairo_surface_destroy(img);
}

/* A colour-flow frame: a band of depth samples with flow toward the probe
 * is drawn red, the rest grey; nothing blue. */
static void color_frame_png(void **state)
{
    const fixture *fx = *state;
    char csv[512], png[512], args[2048];
    io_path_join(csv, sizeof csv, fx->dir, "color.csv");
    io_path_join(png, sizeof png, fx->dir, "color.png");
    FILE *f = fopen(csv, "w");
    assert_non_null(f);
    fprintf(f, "frame,line,depth_sample,phase_rad,velocity_cm_s,power_db,clutter_db,correlation\n");
    for (int line = 0; line < 20; line++)
        for (int d = 0; d < 60; d++) {
            int flow = d >= 20 && d < 35;
            fprintf(f, "0,%d,%d,%.3f,%.2f,%.1f,%.1f,%.2f\n", line, d, flow ? 1.0 : 0.02, flow ? 12.0 : 0.2,
                    flow ? -60.0 : -95.0, -30.0 - (d % 7), flow ? 0.9 : 0.2);
        }
    fclose(f);
    snprintf(args, sizeof args, "plot color '%s' -o '%s' --width 600 --height 500", csv, png);
    free(run_expect(args, 0));
    assert_png(png, 600, 500, 8);
    int warm = 0, blue = 0;
    count_flow_colours(png, &warm, &blue);
    print_message("color.png: %d warm (flow toward the probe) and %d blue pixels\n", warm, blue);
    assert_true(warm > 600 * 500 / 10); /* the band: 15 of 60 depth samples of the plot area */
    assert_int_equal(blue, 0);
    /* A CSV without the colour-flow columns: exit 3, nothing written. */
    char none[512];
    snprintf(none, sizeof none, "%s/none.png", fx->dir);
    snprintf(args, sizeof args, "plot color '%s' -o '%s'", fx->frames, none);
    expect_failure(fx, args, 3, "no column", none);
}

static void help_texts(void **state)
{
    (void)state;
    static const char *const kinds[] = {"", "sonogram ", "flow ", "study ", "color "};
    static const char *const needles[] = {"Kinds:", "--colormap", "--epochs", "p_adjusted", "clutter_db"};
    for (int i = 0; i < 5; i++) {
        char args[256], *out = NULL, *err = NULL;
        snprintf(args, sizeof args, "plot %s--help", kinds[i]);
        assert_int_equal(cli_run(args, NULL, &out, &err), 0);
        assert_non_null(strstr(out, "Exit codes:"));
        assert_non_null(strstr(out, "6 cannot write output"));
        assert_non_null(strstr(out, needles[i]));
        assert_string_equal(err, "");
        free(out);
        free(err);
    }
    char *out = NULL;
    assert_int_equal(cli_run("--help", NULL, &out, NULL), 0);
    assert_non_null(strstr(out, "plot"));
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sonogram_png_at_requested_size),
        cmocka_unit_test(sonogram_excerpt_and_colormaps),
        cmocka_unit_test(sonogram_svg_and_pdf),
        cmocka_unit_test(flow_from_h5_and_csv),
        cmocka_unit_test(flow_without_diameter),
        cmocka_unit_test(study_png_svg_pdf),
        cmocka_unit_test(missing_inputs_exit_3),
        cmocka_unit_test(unusable_inputs_exit_3),
        cmocka_unit_test(usage_errors_exit_2),
        cmocka_unit_test(unwritable_output_exit_6),
        cmocka_unit_test(failure_keeps_previous_figure),
        cmocka_unit_test(color_frame_png),
        cmocka_unit_test(help_texts),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

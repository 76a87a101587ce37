/* Behaviour on real recordings from ../shared/data/real (not part of the
 * project; the test skips when the folder is absent). Nothing here has a
 * true velocity; what the data's README states is checked:
 *  - carotid_mono_22k.wav: one channel, non-directional: read, analysed
 *    one-sided and reported as such (directional = 0), velocities >= 0;
 *  - cardiac_cw_iq_100k.wav: I/Q, bidirectional flow: with a cardiac wall
 *    cutoff (400 Hz) most frames carry both forward and reverse flow;
 *  - clarius_carotid_color/carotid_iq.raw: one colour-Doppler frame (104 beam
 *    lines x 352 depth samples x 12 shots): after the order-1 regression
 *    filter the carotid lumen reads a lag-1 phase of about +1 rad, while
 *    stationary tissue reads about 0. */
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

#include "dopflow/clarius_raw.h"
#include "dopflow/ensemble.h"

#include "cli_run.h"
#include "io_util.h"

#define REAL_DIR DOPFLOW_SOURCE_DIR "/../shared/data/real"

static int have(const char *name)
{
    char path[1024];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", REAL_DIR, name);
    return stat(path, &st) == 0;
}

/* Index of `name` in a CSV header line. */
static int column(const char *header, const char *name)
{
    int index = 0;
    for (const char *p = header; *p && *p != '\n'; index++) {
        size_t len = strcspn(p, ",\n");
        if (len == strlen(name) && strncmp(p, name, len) == 0) return index;
        p += len;
        if (*p == ',') p++;
    }
    return -1;
}

static double field(const char *line, int index)
{
    for (int i = 0; i < index; i++) {
        line = strchr(line, ',');
        if (!line) return 0.0;
        line++;
    }
    return strtod(line, NULL);
}

static void mono_carotid_is_non_directional(void **state)
{
    (void)state;
    if (!have("carotid_mono_22k.wav")) skip();
    char *out = NULL, *err = NULL;
    int code = cli_run("analyze '" REAL_DIR "/carotid_mono_22k.wav' --f0 4e6 --angle 60 --frames -", NULL, &out, &err);
    assert_int_equal(code, 0);
    assert_non_null(strstr(err, "non-directional"));
    int reverse = column(out, "vmax_reverse_cm_s"), mean = column(out, "vmean_cm_s");
    assert_true(reverse >= 0 && mean >= 0);
    int rows = 0;
    for (const char *line = strchr(out, '\n'); line && line[1]; line = strchr(line + 1, '\n')) {
        assert_true(field(line + 1, reverse) == 0.0); /* nothing reverse in a one-sided analysis */
        assert_true(field(line + 1, mean) >= -1e-9);
        rows++;
    }
    assert_true(rows > 500); /* 5.3 s at 10 ms frames */
    free(out);
    free(err);
    out = err = NULL;
    assert_int_equal(cli_run("analyze '" REAL_DIR "/carotid_mono_22k.wav' --f0 4e6 --angle 60 --summary -", NULL, &out,
                             &err),
                     0);
    assert_non_null(strstr(out, ",0\n")); /* directional = 0, the last column */
    free(out);
    free(err);
}

static void cw_cardiac_is_bidirectional(void **state)
{
    (void)state;
    if (!have("cardiac_cw_iq_100k.wav")) skip();
    char *out = NULL, *err = NULL;
    int code = cli_run("analyze '" REAL_DIR "/cardiac_cw_iq_100k.wav' --f0 2.5e6 --angle 0 --wall-hz 400 --frames -",
                       NULL, &out, &err);
    assert_int_equal(code, 0);
    int fwd = column(out, "vmax_forward_cm_s"), rev = column(out, "vmax_reverse_cm_s");
    int rows = 0, forward = 0, reverse = 0;
    for (const char *line = strchr(out, '\n'); line && line[1]; line = strchr(line + 1, '\n')) {
        forward += field(line + 1, fwd) > 20.0;
        reverse += field(line + 1, rev) < -20.0;
        rows++;
    }
    print_message("CW cardiac: %d frames, forward flow in %d, reverse in %d\n", rows, forward, reverse);
    assert_true(rows > 900);
    assert_true(forward > rows / 2);
    assert_true(reverse > rows / 2);
    free(out);
    free(err);
}

static int compare_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Circular statistics of n phases: mean direction, circular standard
 * deviation sqrt(-2 ln R) (Mardia & Jupp, Directional Statistics, 2000,
 * section 2.3.4), and quantiles of the phases unwrapped around the mean
 * (sorts `phase` in place). */
typedef struct circ_stats {
    double mean, std, median, p10, p90;
    size_t n;
} circ_stats;

static circ_stats circular(double *phase, size_t n)
{
    circ_stats st = {0};
    double s = 0.0, c = 0.0;
    for (size_t i = 0; i < n; i++) {
        s += sin(phase[i]);
        c += cos(phase[i]);
    }
    st.n = n;
    st.mean = atan2(s, c);
    st.std = sqrt(-2.0 * log(hypot(s, c) / (double)n));
    for (size_t i = 0; i < n; i++) phase[i] = st.mean + remainder(phase[i] - st.mean, 2.0 * M_PI);
    qsort(phase, n, sizeof *phase, compare_double);
    st.median = phase[n / 2];
    st.p10 = phase[n / 10];
    st.p90 = phase[9 * n / 10];
    return st;
}

/* The Clarius colour frame, estimated like a scanner's colour mode: order-1
 * regression wall filter, lag-1 autocorrelation per pixel (no axial
 * averaging), PRF 5 kHz (from the screen's +/-38.5 cm/s scale), 5 MHz, angle
 * 0 (axial velocity, as the screen shows it).
 *  - Lumen: over the middle half of the beam lines (the vessel runs slightly
 *    oblique across the image), the depth profile of the mean filtered power
 *    peaks in the lumen; the lumen window is the contiguous band of depths
 *    within 6 dB of that peak (found from the data, printed). Its median phase
 *    is about +1 rad (measured 1.15) and the spread is small (circular SD
 *    measured 0.29 rad, which includes the true velocity profile: slower near
 *    the walls). Tolerances: |median - 1| < 0.3 rad, circular SD < 0.4 rad.
 *  - Tissue: pixels whose power before the filter is 40 dB above the frame's
 *    median filtered power (the noise floor) and falls by more than 40 dB
 *    through the filter. The phase of the unfiltered signal there is the
 *    tissue's own motion: measured median 0.008 rad, circular SD 0.006;
 *    tolerance |median| < 0.05 rad, circular SD < 0.05 rad. (After the filter
 *    those pixels hold coloured noise only, whose phase means nothing.) */
static void clarius_colour_lumen_and_tissue(void **state)
{
    (void)state;
    if (!have("clarius_carotid_color/carotid_iq.raw")) skip();
    dop_clarius_raw_config rc = dop_clarius_raw_config_default();
    rc.path = REAL_DIR "/clarius_carotid_color/carotid_iq.raw";
    dop_clarius_raw *raw = NULL;
    dop_error err = {{0}};
    if (dop_clarius_raw_open(&rc, &raw, &err) != DOP_OK) fail_msg("%s", err.message);
    const dop_clarius_raw_info *info = dop_clarius_raw_get_info(raw);
    assert_int_equal(info->frames, 1);
    assert_int_equal(info->beam_lines, 104);
    assert_int_equal(info->samples, 352);
    const size_t lines = info->beam_lines, depth = info->samples, shots = info->ensemble;
    const double prf = 5000.0, f0 = 5e6, c = 1540.0, fs_iq = 15e6, delay_samples = 108.0;

    dop_ensemble_config cfg = dop_ensemble_config_default();
    cfg.ensemble = shots;
    cfg.max_depth = depth;
    cfg.prf_hz = prf;
    cfg.acq.f0_hz = f0;
    cfg.acq.angle_deg = 0.0;
    cfg.acq.c_m_s = c;
    dop_ensemble *filtered = NULL, *unfiltered = NULL;
    assert_int_equal(dop_ensemble_create(&cfg, &filtered, NULL), DOP_OK); /* order 1 */
    cfg.wall_order = -1;
    assert_int_equal(dop_ensemble_create(&cfg, &unfiltered, NULL), DOP_OK);

    float complex *block = malloc(depth * shots * sizeof *block);
    dop_ensemble_pixel *after = malloc(lines * depth * sizeof *after), *before = malloc(lines * depth * sizeof *before);
    double *scratch = malloc(lines * depth * sizeof *scratch);
    assert_true(block && after && before && scratch);
    for (size_t l = 0; l < lines; l++) {
        if (dop_clarius_raw_read_line(raw, 0, l, block, depth * shots, &err) != DOP_OK) fail_msg("%s", err.message);
        assert_int_equal(dop_ensemble_push(filtered, block, depth, after + l * depth, NULL), DOP_OK);
        assert_int_equal(dop_ensemble_push(unfiltered, block, depth, before + l * depth, NULL), DOP_OK);
    }

    /* noise floor: the median filtered power of the frame */
    for (size_t i = 0; i < lines * depth; i++) scratch[i] = after[i].power_db;
    qsort(scratch, lines * depth, sizeof *scratch, compare_double);
    double floor_db = scratch[lines * depth / 2];

    /* lumen window: depth profile of the mean filtered power over the middle lines */
    size_t l0 = lines / 4, l1 = 3 * lines / 4, peak = 0;
    double *profile = malloc(depth * sizeof *profile);
    for (size_t d = 0; d < depth; d++) {
        double sum = 0.0;
        for (size_t l = l0; l < l1; l++) sum += pow(10.0, after[l * depth + d].power_db / 10.0);
        profile[d] = 10.0 * log10(sum / (double)(l1 - l0));
        if (profile[d] > profile[peak]) peak = d;
    }
    size_t lo = peak, hi = peak;
    while (lo > 0 && profile[lo - 1] > profile[peak] - 6.0) lo--;
    while (hi + 1 < depth && profile[hi + 1] > profile[peak] - 6.0) hi++;
    double mm_per_sample = c / (2.0 * fs_iq) * 1e3;
    size_t n = 0;
    for (size_t l = l0; l < l1; l++)
        for (size_t d = lo; d <= hi; d++) scratch[n++] = after[l * depth + d].phase_rad;
    circ_stats lumen = circular(scratch, n);
    double v_median = 100.0 * c * prf * lumen.median / (4.0 * M_PI * f0);
    print_message("Clarius colour frame: noise floor (median filtered power) %.1f dB; lumen peak %.1f dB at depth "
                  "sample %zu\n", floor_db, profile[peak], peak);
    print_message("lumen window: depth samples %zu..%zu (%.1f..%.1f mm with the 108-sample delay), beam lines "
                  "%zu..%zu, %zu pixels\n", lo, hi, (delay_samples + (double)lo) * mm_per_sample,
                  (delay_samples + (double)hi) * mm_per_sample, l0, l1 - 1, lumen.n);
    print_message("lumen phase (order-1 filter): median %.3f rad, circular mean %.3f, circular SD %.3f, "
                  "10-90%% %.3f..%.3f\n", lumen.median, lumen.mean, lumen.std, lumen.p10, lumen.p90);
    print_message("lumen median axial velocity at PRF 5 kHz, 5 MHz: %.1f cm/s (Nyquist %.1f cm/s)\n", v_median,
                  100.0 * c * prf / (4.0 * f0));

    /* tissue: strong before the filter, gone after it; phase of the unfiltered signal */
    n = 0;
    size_t bright = 0;
    for (size_t i = 0; i < lines * depth; i++) {
        if (after[i].clutter_db < floor_db + 40.0) continue;
        bright++;
        if (after[i].clutter_db - after[i].power_db > 40.0) scratch[n++] = before[i].phase_rad;
    }
    circ_stats tissue = circular(scratch, n);
    print_message("tissue (>= 40 dB above the floor before the filter, > 40 dB removed by it): %zu of %zu bright "
                  "pixels; unfiltered phase median %.4f rad, circular SD %.4f, 10-90%% %.4f..%.4f\n", tissue.n, bright,
                  tissue.median, tissue.std, tissue.p10, tissue.p90);

    assert_true(hi - lo + 1 >= 40);                    /* a vessel a few mm wide, not a speck */
    assert_true(profile[peak] > floor_db + 10.0);      /* flow well above the noise */
    assert_true(fabs(lumen.median - 1.0) < 0.3);
    assert_true(lumen.std < 0.4);
    assert_true(tissue.n > 1000);
    assert_true(fabs(tissue.median) < 0.05);
    assert_true(tissue.std < 0.05);

    free(profile);
    free(scratch);
    free(block);
    free(after);
    free(before);
    dop_ensemble_destroy(filtered);
    dop_ensemble_destroy(unfiltered);
    dop_clarius_raw_close(raw);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(mono_carotid_is_non_directional),
        cmocka_unit_test(cw_cardiac_is_bidirectional),
        cmocka_unit_test(clarius_colour_lumen_and_tissue),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

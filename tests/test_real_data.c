/* Behaviour on real recordings from ../shared/data/real (not part of the
 * project; the test skips when the folder is absent). Nothing here has a
 * true velocity; what the data's README states is checked:
 *  - carotid_mono_22k.wav: one channel, non-directional: read, analysed
 *    one-sided and reported as such (directional = 0), velocities >= 0;
 *  - cardiac_cw_iq_100k.wav: I/Q, bidirectional flow: with a cardiac wall
 *    cutoff (400 Hz) most frames carry both forward and reverse flow. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(mono_carotid_is_non_directional),
        cmocka_unit_test(cw_cardiac_is_bidirectional),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* dop_acquisition_resolve (include/dopflow/acquisition.h): which sidecar
 * applies, the layers sidecar < manifest row < command line, and every
 * error: a named sidecar that is missing, a malformed one, a guessed one
 * that exists but is not JSON, a NULL input. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "dopflow/acquisition.h"
#include "io_util.h"

static void write_text(const char *dir, const char *name, const char *text, char *path, size_t size)
{
    io_path_join(path, size, dir, name);
    assert_int_equal(io_file_write(path, text, strlen(text)), 0);
}

static void test_layers(void **state)
{
    char input[512], sidecar[512];
    io_path_join(input, sizeof input, *state, "rec.wav");
    write_text(*state, "rec.json", "{\"f0_hz\": 4e6, \"angle_deg\": 60, \"diameter_mm\": 4}", sidecar,
               sizeof sidecar);
    dop_acquisition row = dop_acquisition_unset(), cli = dop_acquisition_unset();
    row.angle_deg = 45;
    row.diameter_mm = 5;
    cli.diameter_mm = 6;
    dop_acquisition_layers m;
    assert_int_equal(dop_acquisition_resolve(input, NULL, &row, &cli, &m, NULL), DOP_OK);
    assert_string_equal(m.sidecar_path, sidecar); /* rec.wav -> rec.json, found */
    assert_true(m.sidecar.f0_hz == 4e6 && m.sidecar.angle_deg == 60);
    assert_true(isnan(m.overrides.f0_hz) && m.overrides.angle_deg == 45 && m.overrides.diameter_mm == 6);
    assert_true(m.layered.f0_hz == 4e6 && m.layered.angle_deg == 45 && m.layered.diameter_mm == 6);
    /* no sidecar beside another input, none for standard input */
    io_path_join(input, sizeof input, *state, "other.wav");
    assert_int_equal(dop_acquisition_resolve(input, NULL, NULL, &cli, &m, NULL), DOP_OK);
    assert_string_equal(m.sidecar_path, "");
    assert_true(isnan(m.layered.f0_hz) && m.layered.diameter_mm == 6);
    assert_int_equal(dop_acquisition_resolve("-", NULL, NULL, NULL, &m, NULL), DOP_OK);
    assert_string_equal(m.sidecar_path, "");
    /* a named sidecar wins over the guessed one */
    write_text(*state, "named.json", "{\"f0_hz\": 5e6}", sidecar, sizeof sidecar);
    io_path_join(input, sizeof input, *state, "rec.wav");
    assert_int_equal(dop_acquisition_resolve(input, sidecar, NULL, NULL, &m, NULL), DOP_OK);
    assert_true(m.layered.f0_hz == 5e6 && isnan(m.layered.angle_deg));
}

static void test_errors(void **state)
{
    char input[512], path[512];
    dop_acquisition_layers m;
    dop_error err = {""};
    io_path_join(input, sizeof input, *state, "bad.wav");
    io_path_join(path, sizeof path, *state, "absent.json");
    /* named but missing: metadata, not skipped */
    assert_int_equal(dop_acquisition_resolve(input, path, NULL, NULL, &m, &err), DOP_ERR_METADATA);
    assert_non_null(strstr(err.message, "absent.json"));
    assert_string_equal(m.sidecar_path, "");
    /* the guessed sidecar exists but is not JSON */
    write_text(*state, "bad.json", "{f0_hz: 4e6", path, sizeof path);
    dop_acquisition cli = dop_acquisition_unset();
    cli.f0_hz = 3e6;
    assert_int_equal(dop_acquisition_resolve(input, NULL, NULL, &cli, &m, &err), DOP_ERR_METADATA);
    assert_non_null(strstr(err.message, "bad.json"));
    assert_true(m.layered.f0_hz == 3e6 && isnan(m.sidecar.f0_hz)); /* the other layers stay */
    assert_int_equal(dop_acquisition_resolve(NULL, NULL, NULL, NULL, &m, &err), DOP_ERR_INVALID_ARG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layers),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, io_tmpdir_setup, io_tmpdir_teardown);
}

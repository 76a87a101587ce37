/* Epoch specs (dop_epochs_parse in include/dopflow/summary.h): what a
 * study's --epochs becomes for each recording, including the onset offset,
 * and every way a spec can be wrong (the message names the item). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dopflow/summary.h"

static void test_paper_epochs(void **state)
{
    (void)state;
    /* Shoemaker et al. 1997: before, and 5, 10, 20 s after onset. */
    dop_epoch *e = NULL;
    size_t n = 0;
    dop_error err;
    assert_int_equal(dop_epochs_parse("pre:-10:0,t5:2.5:7.5,t10:7.5:12.5,t20:17.5:22.5", 0.0, &e, &n, &err), DOP_OK);
    assert_int_equal(n, 4);
    assert_string_equal(e[0].label, "pre");
    assert_true(e[0].start_s == -10.0 && e[0].end_s == 0.0);
    assert_string_equal(e[1].label, "t5");
    assert_true(e[1].start_s == 2.5 && e[1].end_s == 7.5);
    assert_string_equal(e[3].label, "t20");
    assert_true(e[3].start_s == 17.5 && e[3].end_s == 22.5);
    free(e);
}

static void test_offsets(void **state)
{
    (void)state;
    dop_epoch *e = NULL;
    size_t n = 0;
    /* onset 30 s into the recording: the spec is relative to it */
    assert_int_equal(dop_epochs_parse("pre:-10:0,t5:2.5:7.5", 30.0, &e, &n, NULL), DOP_OK);
    assert_int_equal(n, 2);
    assert_true(e[0].start_s == 20.0 && e[0].end_s == 30.0);
    assert_true(e[1].start_s == 32.5 && e[1].end_s == 37.5);
    free(e);
    /* fractional and negative offsets shift both bounds alike */
    assert_int_equal(dop_epochs_parse("a:0:1", -0.25, &e, &n, NULL), DOP_OK);
    assert_true(e[0].start_s == -0.25 && e[0].end_s == 0.75);
    free(e);
    assert_int_equal(dop_epochs_parse("a:1e1:2.5e1", 12.125, &e, &n, NULL), DOP_OK);
    assert_true(fabs(e[0].start_s - 22.125) < 1e-12 && fabs(e[0].end_s - 37.125) < 1e-12);
    free(e);
}

static void test_labels(void **state)
{
    (void)state;
    dop_epoch *e = NULL;
    size_t n = 0;
    char spec[200], label[80];
    /* 63 characters is the longest label */
    memset(label, 'x', 63);
    label[63] = '\0';
    snprintf(spec, sizeof spec, "%s:0:1,b-2_c.3:1:2", label);
    assert_int_equal(dop_epochs_parse(spec, 0.0, &e, &n, NULL), DOP_OK);
    assert_int_equal(n, 2);
    assert_string_equal(e[0].label, label);
    assert_string_equal(e[1].label, "b-2_c.3");
    free(e);
    /* one epoch, overlapping epochs and any order are allowed */
    assert_int_equal(dop_epochs_parse("late:10:20,early:0:15", 0.0, &e, &n, NULL), DOP_OK);
    assert_int_equal(n, 2);
    assert_string_equal(e[0].label, "late");
    free(e);
}

static void expect_invalid(const char *spec, const char *fragment)
{
    dop_epoch *e = (dop_epoch *)&e; /* must become NULL */
    size_t n = 7;
    dop_error err;
    dop_error_clear(&err);
    dop_status st = dop_epochs_parse(spec, 5.0, &e, &n, &err);
    if (st != DOP_ERR_INVALID_ARG) fail_msg("spec \"%s\": status %d, expected DOP_ERR_INVALID_ARG", spec ? spec : "(null)", (int)st);
    assert_null(e);
    assert_int_equal(n, 0);
    assert_true(err.message[0] != '\0');
    if (fragment && !strstr(err.message, fragment))
        fail_msg("spec \"%s\": message '%s' does not name '%s'", spec, err.message, fragment);
}

static void test_errors(void **state)
{
    (void)state;
    expect_invalid("", NULL);                           /* empty spec */
    expect_invalid(NULL, NULL);
    expect_invalid("pre:-10", "pre");                   /* missing field */
    expect_invalid("pre", "pre");
    expect_invalid("pre:1:2:3", "pre");                 /* extra field */
    expect_invalid("pre:2:2", "pre");                   /* start == end */
    expect_invalid("pre:3:1", "pre");                   /* start > end */
    expect_invalid("pre:x:1", "x");                     /* bad number */
    /* found by tools/fuzz.sh: a span that vanishes (or overflows) once the
     * onset is added */
    dop_epoch *e = NULL;
    size_t n = 0;
    dop_error err;
    assert_int_equal(dop_epochs_parse("a:0:8e-33", 2.5, &e, &n, &err), DOP_ERR_INVALID_ARG);
    assert_non_null(strstr(err.message, "a:0:8e-33"));
    assert_int_equal(dop_epochs_parse("a:1e308:1.7e308", 1e308, &e, &n, &err), DOP_ERR_INVALID_ARG);
    assert_null(e);
    expect_invalid("pre:0:1s", "1s");
    expect_invalid("pre::1", "pre");
    expect_invalid("pre:0:inf", "inf");                 /* not finite */
    expect_invalid("pre:nan:1", "nan");
    expect_invalid("a:0:1,a:1:2", "a");                 /* duplicate label */
    expect_invalid(":0:1", NULL);                       /* empty label */
    expect_invalid("a b:0:1", "a b");                   /* bad label characters */
    expect_invalid("a/b:0:1", "a/b");
    expect_invalid("a:0:1,,b:1:2", NULL);               /* empty item */
    expect_invalid("a:0:1,", NULL);                     /* trailing comma */
    expect_invalid(",a:0:1", NULL);
    char spec[200], label[80];
    memset(label, 'y', 64);                            /* label too long */
    label[64] = '\0';
    snprintf(spec, sizeof spec, "%s:0:1", label);
    expect_invalid(spec, NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_paper_epochs),
        cmocka_unit_test(test_offsets),
        cmocka_unit_test(test_labels),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

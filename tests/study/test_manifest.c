/* Study manifests (include/dopflow/manifest.h): CSV details, every error
 * path with its line and column, path resolution, and a 10^6-row file. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "dopflow/manifest.h"
#include "dopflow/study.h"
#include "cli_run.h"
#include "io_util.h"

static dop_status parse_text(const char *text, dop_manifest **m, dop_error *err)
{
    FILE *f = fmemopen((void *)text, strlen(text), "rb");
    assert_non_null(f);
    dop_error_clear(err);
    dop_status st = dop_manifest_read_stream(f, "m.csv", "base", m, err);
    fclose(f);
    return st;
}

static const char *name_of(const dop_manifest *m, dop_manifest_key key, size_t id)
{
    const char *s = dop_manifest_name(m, key, id);
    assert_non_null(s);
    return s;
}

static void expect_error(const char *text, const char *fragment1, const char *fragment2)
{
    dop_manifest *m = NULL;
    dop_error err;
    dop_status st = parse_text(text, &m, &err);
    if (st != DOP_ERR_FORMAT) fail_msg("expected a format error for:\n%s\ngot status %d", text, (int)st);
    assert_null(m);
    if (fragment1 && !strstr(err.message, fragment1))
        fail_msg("message '%s' does not contain '%s'", err.message, fragment1);
    if (fragment2 && !strstr(err.message, fragment2))
        fail_msg("message '%s' does not contain '%s'", err.message, fragment2);
}

static void test_basic_columns(void **state)
{
    (void)state;
    const char *text = "subject,condition,artery,file,onset_s,f0_hz,angle_deg,diameter_mm,c_m_s,channels,notes\n"
                       "S1,rest,brachial,s1/rest.wav,12.5,8e6,60,4.1,1540,iq,first\n"
                       "S2,rest,brachial,/abs//s2.wav,,,,,,,\n"
                       "S1,exercise,femoral,s1/ex.wav,3,,45,,,mono,\n";
    dop_manifest *m;
    dop_error err;
    assert_int_equal(parse_text(text, &m, &err), DOP_OK);
    assert_int_equal(dop_manifest_row_count(m), 3);
    const dop_manifest_row *r = dop_manifest_row_at(m, 0);
    assert_int_equal(r->line, 2);
    assert_string_equal(name_of(m, DOP_MANIFEST_SUBJECT, r->subject), "S1");
    assert_string_equal(name_of(m, DOP_MANIFEST_CONDITION, r->condition), "rest");
    assert_string_equal(name_of(m, DOP_MANIFEST_ARTERY, r->artery), "brachial");
    assert_string_equal(r->file, "s1/rest.wav");
    assert_string_equal(r->path, "base/s1/rest.wav"); /* relative: against the manifest's folder */
    assert_true(r->onset_s == 12.5);
    assert_true(r->overrides.f0_hz == 8e6);
    assert_true(r->overrides.angle_deg == 60);
    assert_true(r->overrides.diameter_mm == 4.1);
    assert_true(r->overrides.c_m_s == 1540);
    assert_int_equal(r->overrides.channels, DOP_CHANNELS_IQ);
    r = dop_manifest_row_at(m, 1);
    assert_string_equal(r->path, "/abs/s2.wav"); /* absolute: as written, "//" cleaned */
    assert_true(isnan(r->onset_s) && isnan(r->overrides.f0_hz) && isnan(r->overrides.diameter_mm));
    assert_int_equal(r->overrides.channels, DOP_CHANNELS_UNSET);
    r = dop_manifest_row_at(m, 2);
    assert_int_equal(r->subject, dop_manifest_row_at(m, 0)->subject); /* interned */
    assert_int_equal(r->overrides.channels, DOP_CHANNELS_MONO);
    assert_int_equal(dop_manifest_name_count(m, DOP_MANIFEST_SUBJECT), 2);
    assert_int_equal(dop_manifest_name_count(m, DOP_MANIFEST_CONDITION), 2);
    assert_int_equal(dop_manifest_name_count(m, DOP_MANIFEST_ARTERY), 2);
    assert_null(dop_manifest_row_at(m, 3));
    assert_null(dop_manifest_name(m, DOP_MANIFEST_SUBJECT, 2));
    assert_true(dop_manifest_has_column(m, "notes"));
    assert_false(dop_manifest_has_column(m, "date"));
    assert_int_equal(strlen(dop_manifest_sha256(m)), 64);
    dop_manifest_destroy(m);
}

/* Quotes, commas and line breaks inside fields, doubled quotes, CRLF line
 * ends, a byte-order mark, columns in any order, no artery column. */
static void test_quotes_crlf_bom(void **state)
{
    (void)state;
    const char *text = "\xEF\xBB\xBF"
                       "file,\"condition\",subject\r\n"
                       "\"rec, one.wav\",\"massage \"\"deep\"\"\",\"Smith, J.\"\r\n"
                       "\r\n"
                       "\"multi\nline.wav\",rest,\"Ng\"\r\n"
                       "plain.wav,rest,Ng\r\n"
                       "x.wav,rest,Ng"; /* no final line break */
    dop_manifest *m;
    dop_error err;
    assert_int_equal(parse_text(text, &m, &err), DOP_OK);
    assert_int_equal(dop_manifest_row_count(m), 4);
    const dop_manifest_row *r = dop_manifest_row_at(m, 0);
    assert_string_equal(r->file, "rec, one.wav");
    assert_string_equal(name_of(m, DOP_MANIFEST_CONDITION, r->condition), "massage \"deep\"");
    assert_string_equal(name_of(m, DOP_MANIFEST_SUBJECT, r->subject), "Smith, J.");
    assert_string_equal(name_of(m, DOP_MANIFEST_ARTERY, r->artery), ""); /* no artery column */
    assert_int_equal(r->line, 2);
    r = dop_manifest_row_at(m, 1);
    assert_string_equal(r->file, "multi\nline.wav");
    assert_int_equal(r->line, 4); /* after a blank line */
    assert_int_equal(dop_manifest_row_at(m, 2)->line, 6); /* the quoted line break took line 5 */
    assert_int_equal(dop_manifest_row_at(m, 3)->line, 7);
    assert_true(dop_manifest_has_column(m, "condition"));
    assert_false(dop_manifest_has_column(m, "artery"));
    dop_manifest_destroy(m);
}

static void test_missing_columns(void **state)
{
    (void)state;
    expect_error("subject,condition\nS1,rest\n", "file", "missing");
    expect_error("subject,file\nS1,a.wav\n", "condition", "missing");
    expect_error("condition,file\nrest,a.wav\n", "subject", "missing");
    expect_error("", "empty", NULL);
    expect_error("\n\n", "empty", NULL);
    /* a repeated known column is ambiguous */
    expect_error("subject,condition,file,file\nS1,rest,a.wav,b.wav\n", "column 4 (file)", "repeats column 3");
}

static void test_bad_values(void **state)
{
    (void)state;
    expect_error("subject,condition,file,f0_hz\nS1,rest,a.wav,8e6\nS2,rest,b.wav,8 MHz\n", "line 3, column 4 (f0_hz)",
                 "'8 MHz' is not a finite number");
    expect_error("subject,condition,file,onset_s\nS1,rest,a.wav,nan\n", "line 2, column 4 (onset_s)", "nan");
    expect_error("subject,condition,file,angle_deg\nS1,rest,a.wav,1e999\n", "line 2, column 4 (angle_deg)", NULL);
    expect_error("subject,condition,file,channels\nS1,rest,a.wav,stereo\n", "line 2, column 4 (channels)", "stereo");
    expect_error("subject,condition,file\nS1,,a.wav\n", "line 2, column 2 (condition)", "empty");
    expect_error("subject,condition,file\nS1,rest,a.wav\nS2,rest\n", "line 3", "2 field(s), the header has 3");
    expect_error("subject,condition,file\nS1,rest,a.wav,extra\n", "line 2", "4 field(s)");
    /* malformed quoting */
    expect_error("subject,condition,file\nS1,re\"st,a.wav\n", "line 2", "malformed CSV");
    expect_error("subject,condition,file\nS1,rest,\"a.wav\n", "malformed CSV", "unterminated quote");
    /* the line of a record after a multi-line quoted field */
    expect_error("subject,condition,file,c_m_s\n\"S\n1\",rest,a.wav,1540\nS2,rest,b.wav,fast\n", "line 4", "c_m_s");
}

static void test_duplicates(void **state)
{
    (void)state;
    expect_error("subject,condition,artery,file\n"
                 "S1,rest,brachial,a.wav\n"
                 "S1,rest,femoral,a.wav\n"
                 "S2,rest,brachial,a.wav\n"
                 "S1,rest,brachial,a.wav\n",
                 "line 5", "duplicate of line 2");
    /* the same file written two ways resolves to the same path */
    expect_error("subject,condition,file\nS1,rest,a.wav\nS1,rest,./x//../a.wav\nS1,rest,.//a.wav\n", "line 4",
                 "duplicate of line 2");
    /* differing only in a key column is fine */
    dop_manifest *m;
    dop_error err;
    assert_int_equal(parse_text("subject,condition,artery,file\nS1,rest,brachial,a.wav\nS1,ex,brachial,a.wav\n", &m,
                                &err),
                     DOP_OK);
    assert_int_equal(dop_manifest_row_count(m), 2);
    dop_manifest_destroy(m);
}

static void test_non_utf8(void **state)
{
    (void)state;
    expect_error("subject,condition,file\nS1,caf\xE9,a.wav\n", "line 2, column 2 (condition)", "not UTF-8");
    expect_error("subject,condition,file\nS1,rest,a.wav\nS2,rest,\xC0\xAF.wav\n", "line 3, column 3 (file)",
                 "not UTF-8"); /* overlong '/' */
    expect_error("subject,condition,file\nS1,rest,\xED\xA0\x80.wav\n", "column 3", "not UTF-8"); /* surrogate */
    expect_error("subject,cond\xFF,file\nS1,rest,a.wav\n", "line 1, column 2", "not UTF-8");
    /* valid multi-byte text passes */
    dop_manifest *m;
    dop_error err;
    assert_int_equal(parse_text("subject,condition,file\nJos\xC3\xA9,p\xC3\xA9trissage,\xE2\x82\xAC\xF0\x9F\x98\x80.wav\n",
                                &m, &err),
                     DOP_OK);
    assert_string_equal(name_of(m, DOP_MANIFEST_CONDITION, 0), "p\xC3\xA9trissage");
    dop_manifest_destroy(m);
    size_t bad = 99;
    assert_false(dop_utf8_valid("ab\xE2\x82", 4, &bad)); /* truncated sequence */
    assert_int_equal(bad, 2);
    assert_true(dop_utf8_valid("", 0, NULL));
}

static void test_nul_byte(void **state)
{
    (void)state;
    static const char text[] = "subject,condition,file\nS1,re\0st,a.wav\n";
    FILE *f = fmemopen((void *)text, sizeof text - 1, "rb");
    assert_non_null(f);
    dop_manifest *m = NULL;
    dop_error err;
    assert_int_equal(dop_manifest_read_stream(f, "m.csv", NULL, &m, &err), DOP_ERR_FORMAT);
    fclose(f);
    assert_non_null(strstr(err.message, "NUL"));
    assert_non_null(strstr(err.message, "line 2, column 2"));
}

/* Files on disk: relative paths resolve against the manifest's folder; a
 * manifest that cannot be opened is an I/O error; a recording that does
 * not exist parses and, in a study, becomes a failure (not a crash). */
static void test_files_and_missing_recording(void **state)
{
    (void)state;
    char dir[256], sub[300], path[400], out[400];
    assert_int_equal(io_tmpdir_make(dir, sizeof dir), 0);
    io_path_join(sub, sizeof sub, dir, "study");
    assert_int_equal(mkdir(sub, 0777), 0);
    io_path_join(path, sizeof path, sub, "manifest.csv");
    const char *text = "subject,condition,file\nS1,rest,missing.wav\nS2,rest,also/missing.wav\n";
    assert_int_equal(io_file_write(path, text, strlen(text)), 0);

    dop_manifest *m;
    dop_error err;
    assert_int_equal(dop_manifest_read(path, &m, &err), DOP_OK);
    char want[500];
    snprintf(want, sizeof want, "%s/missing.wav", sub);
    assert_string_equal(dop_manifest_row_at(m, 0)->path, want);
    dop_manifest_destroy(m);

    io_path_join(out, sizeof out, dir, "nope.csv");
    assert_int_equal(dop_manifest_read(out, &m, &err), DOP_ERR_IO);
    assert_non_null(strstr(err.message, "nope.csv"));

    dop_study_config cfg = dop_study_config_default();
    io_path_join(out, sizeof out, dir, "out");
    cfg.manifest_path = path;
    cfg.out_dir = out;
    dop_study_summary sum;
    assert_int_equal(dop_study_run(&cfg, &sum, &err), DOP_OK);
    assert_int_equal(sum.rows, 2);
    assert_int_equal(sum.failed, 2);
    char fpath[500], *data;
    io_path_join(fpath, sizeof fpath, out, "failures.csv");
    assert_int_equal(io_file_read(fpath, &data, NULL), 0);
    assert_non_null(strstr(data, "subject,condition,artery,file,error\n"));
    assert_non_null(strstr(data, "S1,rest,,missing.wav,"));
    assert_non_null(strstr(data, "S2,rest,,also/missing.wav,"));
    assert_int_equal(cli_count_lines(data), 3);
    free(data);
    io_tmpdir_remove(dir);
}

/* 10^6 rows: linear reading (hash tables for names and duplicates). Only
 * correctness is asserted; the time is whatever it takes. */
static void test_million_rows(void **state)
{
    (void)state;
    char dir[256], path[400];
    assert_int_equal(io_tmpdir_make(dir, sizeof dir), 0);
    io_path_join(path, sizeof path, dir, "big.csv");
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs("subject,condition,artery,file,onset_s\r\n", f);
    const size_t rows = 1000000;
    for (size_t i = 0; i < rows; i++)
        fprintf(f, "S%zu,c%zu,%s,rec/%zu.wav,%zu.5\r\n", i % 5000, i % 7, i % 2 ? "femoral" : "brachial", i, i % 30);
    assert_int_equal(fclose(f), 0);

    dop_manifest *m;
    dop_error err;
    assert_int_equal(dop_manifest_read(path, &m, &err), DOP_OK);
    assert_int_equal(dop_manifest_row_count(m), rows);
    assert_int_equal(dop_manifest_name_count(m, DOP_MANIFEST_SUBJECT), 5000);
    assert_int_equal(dop_manifest_name_count(m, DOP_MANIFEST_CONDITION), 7);
    assert_int_equal(dop_manifest_name_count(m, DOP_MANIFEST_ARTERY), 2);
    const dop_manifest_row *r = dop_manifest_row_at(m, rows - 1);
    assert_int_equal(r->line, rows + 1);
    assert_string_equal(r->file, "rec/999999.wav");
    assert_true(r->onset_s == 9.5);
    assert_string_equal(name_of(m, DOP_MANIFEST_SUBJECT, r->subject), "S4999");
    dop_manifest_destroy(m);

    /* a duplicate of the first row at the very end is still found */
    f = fopen(path, "ab");
    assert_non_null(f);
    fputs("S0,c0,brachial,rec/0.wav,0.5\r\n", f);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(dop_manifest_read(path, &m, &err), DOP_ERR_FORMAT);
    assert_non_null(strstr(err.message, "line 1000002"));
    assert_non_null(strstr(err.message, "duplicate of line 2"));
    io_tmpdir_remove(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_basic_columns),
        cmocka_unit_test(test_quotes_crlf_bom),
        cmocka_unit_test(test_missing_columns),
        cmocka_unit_test(test_bad_values),
        cmocka_unit_test(test_duplicates),
        cmocka_unit_test(test_non_utf8),
        cmocka_unit_test(test_nul_byte),
        cmocka_unit_test(test_files_and_missing_recording),
        cmocka_unit_test(test_million_rows),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

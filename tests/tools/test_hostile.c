/* Hostile inputs through every command, with uniform checks.
 *
 * The corpus is generated here (nothing committed): broken and absurd WAV
 * files, raw streams, sidecars, epoch specs, manifests, simulation specs
 * and figure inputs. Each is run through the commands that read it (info,
 * analyze with every output and --plots, study on a one-row manifest,
 * simulate, plot) and every run must:
 *  - end by itself: exit code < 124 (no signal, no timeout: each run is
 *    killed after 20 s) with its virtual memory limited to 2 GB;
 *  - give the expected result: an error exit code (2-7), or where a hostile
 *    input is still a valid recording (all-zero audio, clipping, a header
 *    that claims more data than exists, overlapping epochs) a clean success,
 *    or for study exit code 1 with the file in failures.csv;
 *  - on an error, say exactly one line on stderr that names the file (or the
 *    option) and the problem;
 *  - on an error, leave no output at all; and never leave a temporary
 *    (".NAME.tmp.XXXXXX") file anywhere.
 * The corpus size is printed at the end. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli_run.h"
#include "io_util.h"

#define RUN_SECONDS 20
#define FS 12500

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif
#ifndef UNDER_ASAN
#define UNDER_ASAN 0
#endif

/* 2 GB of address space; none under AddressSanitizer (its shadow memory
 * needs terabytes of address space). */
static long mem_limit_kib(void)
{
    if (UNDER_ASAN || getenv("DOPFLOW_TEST_NO_ULIMIT")) return 0;
    return 2000000;
}

enum expect {
    EXPECT_OK,      /* exit 0 */
    EXPECT_ERROR,   /* exit 2..7, one line on stderr naming `mention`, no output */
    EXPECT_PARTIAL  /* study: exit 1, `mention` in failures.csv */
};

static char dir[256];       /* the corpus */
static char out[512];       /* output folder of each run, emptied after it */
static int corpus_size, run_count;

/* ---- files ---- */

static void put16(unsigned char *p, unsigned v) { p[0] = v & 0xff; p[1] = (v >> 8) & 0xff; }
static void put32(unsigned char *p, uint32_t v) { put16(p, v & 0xffff); put16(p + 2, v >> 16); }

static char *path_of(const char *name)
{
    static char buf[4][768];
    static int k;
    k = (k + 1) % 4;
    io_path_join(buf[k], sizeof buf[k], dir, name);
    return buf[k];
}

static void write_file(const char *name, const void *data, size_t len)
{
    assert_int_equal(io_file_write(path_of(name), data, len), 0);
}

static void write_text(const char *name, const char *text) { write_file(name, text, strlen(text)); }

/* A canonical 44-byte-header WAV (format 1 = PCM, 3 = float) whose data
 * chunk claims `claimed` bytes (the real length when claimed == 0). */
static void write_wav(const char *name, int channels, uint32_t rate, int bits, int format, const void *data,
                      size_t len, uint32_t claimed)
{
    unsigned char *bytes = malloc(44 + len);
    unsigned block = (unsigned)(channels * bits / 8);
    memcpy(bytes, "RIFF", 4);
    put32(bytes + 4, (uint32_t)(36 + len));
    memcpy(bytes + 8, "WAVEfmt ", 8);
    put32(bytes + 16, 16);
    put16(bytes + 20, (unsigned)format);
    put16(bytes + 22, (unsigned)channels);
    put32(bytes + 24, rate);
    put32(bytes + 28, rate * block);
    put16(bytes + 32, block);
    put16(bytes + 34, (unsigned)bits);
    memcpy(bytes + 36, "data", 4);
    put32(bytes + 40, claimed ? claimed : (uint32_t)len);
    memcpy(bytes + 44, data, len);
    write_file(name, bytes, 44 + len);
    free(bytes);
}

/* n frames of 16-bit I/Q: a 1 kHz tone at amplitude amp (clipped to full
 * scale), or mono (I only) when channels == 1. */
static int16_t *tone16(size_t n, int channels, double amp)
{
    int16_t *x = malloc(n * (size_t)channels * sizeof *x);
    for (size_t i = 0; i < n; i++) {
        double ph = 2.0 * M_PI * 1000.0 * (double)i / FS;
        double v[2] = {amp * cos(ph), amp * sin(ph)};
        for (int c = 0; c < channels; c++) x[i * (size_t)channels + (size_t)c] = (int16_t)fmax(-32768.0, fmin(32767.0, v[c]));
    }
    return x;
}

static const char good_sidecar[] = "{\"f0_hz\": 4e6, \"angle_deg\": 60, \"diameter_mm\": 4}";

/* Every audio file of the corpus, with the good sidecar beside it. */
static void make_audio(void)
{
    const size_t n = 3 * FS;
    int16_t *iq = tone16(n, 2, 8000.0), *clip = tone16(n, 2, 80000.0), *mono = tone16(n, 1, 8000.0);
    size_t bytes = n * 4;
    write_wav("good.wav", 2, FS, 16, 1, iq, bytes, 0);
    write_wav("claims_more.wav", 2, FS, 16, 1, iq, bytes, 1000000000u);
    write_wav("clipped.wav", 2, FS, 16, 1, clip, bytes, 0);
    write_wav("mono.wav", 1, FS, 16, 1, mono, n * 2, 0);
    write_wav("eight_channels.wav", 8, FS, 16, 1, iq, bytes, 0);
    write_wav("zero_channels.wav", 0, FS, 16, 1, iq, 4000, 0);
    write_wav("rate_1hz.wav", 2, 1, 16, 1, iq, bytes, 0);
    write_wav("rate_10mhz.wav", 2, 10000000u, 16, 1, iq, bytes, 0);        /* 3.75 ms: too short */
    write_wav("rate_4ghz.wav", 2, 4000000000u, 16, 1, iq, bytes, 0);
    write_wav("trunc_data.wav", 2, FS, 16, 1, iq, 400, bytes);             /* 100 of 37500 frames */
    memset(iq, 0, bytes);
    write_wav("zeros.wav", 2, FS, 16, 1, iq, bytes, 0);
    /* float I/Q with a NaN or an infinity after 1.6 s */
    float *f = malloc(n * 2 * sizeof *f);
    for (size_t i = 0; i < 2 * n; i++) f[i] = 0.1f * (float)((i * 7919) % 13) / 13.0f;
    f[2 * 20000] = NAN;
    write_wav("nan.wav", 2, FS, 32, 3, f, n * 8, 0);
    f[2 * 20000] = INFINITY;
    write_wav("inf.wav", 2, FS, 32, 3, f, n * 8, 0);
    free(f);
    /* truncated header: the first 30 bytes of a good file */
    char *good = NULL;
    assert_int_equal(io_file_read(path_of("good.wav"), &good, NULL), 0);
    write_file("trunc_header.wav", good, 30);
    free(good);
    write_file("empty.wav", "", 0);
    unsigned char junk[5000];
    memcpy(junk, "%PDF-1.4\n", 9);
    for (size_t i = 9; i < sizeof junk; i++) junk[i] = (unsigned char)((i * 2654435761u) >> 13);
    write_file("not_audio.wav", junk, sizeof junk);
    free(iq);
    free(clip);
    free(mono);
}

static void set_sidecar(const char *wav, const char *json)
{
    char name[256];
    snprintf(name, sizeof name, "%.*s.json", (int)(strlen(wav) - 4), wav);
    write_text(name, json);
}

/* ---- checks ---- */

static int tmp_found;
static char tmp_name[1024];

static int find_tmp(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag;
    if (strstr(path + ftw->base, ".tmp.")) {
        tmp_found = 1;
        snprintf(tmp_name, sizeof tmp_name, "%s", path);
    }
    return 0;
}

static void reset_out(void)
{
    io_tmpdir_remove(out);
    assert_int_equal(mkdir(out, 0755), 0);
}

static int first_line_has(const char *text, const char *what)
{
    const char *nl = strchr(text, '\n');
    size_t len = nl ? (size_t)(nl - text) : strlen(text);
    char *line = strndup(text, len);
    int found = strstr(line, what) != NULL;
    free(line);
    return found;
}

/* Run `dopflow ARGS` (stdin from stdin_name in the corpus, or /dev/null) and
 * apply the uniform checks; the caller may look at `out` before the next run. */
static void check_run(const char *label, enum expect expect, const char *mention, const char *stdin_name,
                      const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static void check_run(const char *label, enum expect expect, const char *mention, const char *stdin_name,
                      const char *fmt, ...)
{
    static char args[200000];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    reset_out();
    char *err = NULL;
    int rc = cli_run_bounded(args, RUN_SECONDS, mem_limit_kib(), stdin_name ? path_of(stdin_name) : NULL, NULL, &err);
    run_count++;
    if (rc < 0 || rc >= 124)
        fail_msg("%s: `dopflow %s` ended with %d (%s): %s", label, args, rc,
                 rc == 124 || rc == 137 ? "timeout" : rc > 128 ? "signal" : "could not run", err);
    switch (expect) {
    case EXPECT_OK:
        if (rc != 0) fail_msg("%s: expected success, got exit %d: %s", label, rc, err);
        break;
    case EXPECT_ERROR:
        if (rc < 2 || rc > 7) fail_msg("%s: expected an error exit code 2-7, got %d: %s", label, rc, err);
        if (cli_count_lines(err) != 1 || strncmp(err, "dopflow ", 8) != 0)
            fail_msg("%s: expected one line 'dopflow CMD: ...' on stderr, got:\n%s", label, err);
        if (mention && !first_line_has(err, mention))
            fail_msg("%s: the error does not name '%s': %s", label, mention, err);
        if (io_dir_count(out) != 0) fail_msg("%s: an error left output behind (exit %d: %s)", label, rc, err);
        break;
    case EXPECT_PARTIAL: {
        if (rc != 1) fail_msg("%s: expected exit 1 (failed recordings), got %d: %s", label, rc, err);
        if (cli_count_lines(err) != 1 || !strstr(err, "failures.csv"))
            fail_msg("%s: expected one line naming failures.csv, got:\n%s", label, err);
        char path[1024], *failures = NULL;
        snprintf(path, sizeof path, "%s/st/failures.csv", out);
        assert_int_equal(io_file_read(path, &failures, NULL), 0);
        if (mention && !strstr(failures, mention))
            fail_msg("%s: failures.csv does not name '%s':\n%s", label, mention, failures);
        free(failures);
        break;
    }
    }
    tmp_found = 0;
    nftw(dir, find_tmp, 16, FTW_PHYS);
    if (tmp_found) fail_msg("%s: temporary file left behind: %s", label, tmp_name);
    free(err);
}

/* The analysis commands on one recording. */
static void check_recording(const char *wav, const char *extra, enum expect expect, const char *mention)
{
    char label[512];
    const char *p = path_of(wav);
    snprintf(label, sizeof label, "analyze %s %s", wav, extra);
    check_run(label, expect, mention, NULL,
              "analyze '%s' %s --summary '%s/s.csv' --frames '%s/f.csv' --beats '%s/b.csv' --h5 '%s/r.h5' --plots", p,
              extra, out, out, out, out);
    if (expect == EXPECT_OK) {
        char path[1024];
        struct stat st;
        static const char *const files[] = {"s.csv", "f.csv", "b.csv", "r.h5", "r.sonogram.png", "r.flow.png"};
        for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
            snprintf(path, sizeof path, "%s/%s", out, files[i]);
            if (stat(path, &st) != 0 || st.st_size == 0) fail_msg("%s: %s missing or empty", label, files[i]);
        }
    }
    /* study on a one-row manifest: the broken recording lands in failures.csv */
    char manifest[300], text[600];
    snprintf(manifest, sizeof manifest, "m_%s.csv", wav);
    snprintf(text, sizeof text, "subject,condition,file\nS1,rest,%s\n", wav);
    write_text(manifest, text);
    snprintf(label, sizeof label, "study [%s] %s", wav, extra);
    check_run(label, expect == EXPECT_OK ? EXPECT_OK : EXPECT_PARTIAL, mention, NULL, "study '%s' %s -o '%s/st'",
              path_of(manifest), extra, out);
    unlink(path_of(manifest));
}

/* Column `name` of the first data row of CSV text (static buffer). */
static const char *csv_cell(const char *text, const char *name)
{
    static char cell[64];
    const char *row = strchr(text, '\n');
    if (!row) return NULL;
    row++;
    const char *h = text, *r = row;
    while (*h && *h != '\n') {
        size_t hl = strcspn(h, ",\n"), rl = strcspn(r, ",\n");
        if (hl == strlen(name) && strncmp(h, name, hl) == 0) {
            snprintf(cell, sizeof cell, "%.*s", (int)rl, r);
            return cell;
        }
        h += hl + (h[hl] == ',');
        r += rl + (r[rl] == ',');
    }
    return NULL;
}

/* ---- the corpus ---- */

static void test_audio(void **state)
{
    (void)state;
    make_audio();
    static const struct {
        const char *wav, *extra;
        enum expect info, analyze;
        const char *mention;
    } cases[] = {
        {"good.wav", "", EXPECT_OK, EXPECT_OK, NULL},
        {"empty.wav", "", EXPECT_ERROR, EXPECT_ERROR, "empty.wav"},
        {"trunc_header.wav", "", EXPECT_ERROR, EXPECT_ERROR, "trunc_header.wav"},
        {"trunc_data.wav", "", EXPECT_OK, EXPECT_ERROR, "trunc_data.wav"},
        {"claims_more.wav", "", EXPECT_OK, EXPECT_OK, NULL},  /* documented: ends early */
        {"zero_channels.wav", "", EXPECT_ERROR, EXPECT_ERROR, "zero_channels.wav"},
        {"eight_channels.wav", "", EXPECT_ERROR, EXPECT_ERROR, "eight_channels.wav"},
        {"rate_1hz.wav", "", EXPECT_OK, EXPECT_ERROR, "rate_1hz.wav"},
        {"rate_10mhz.wav", "", EXPECT_OK, EXPECT_ERROR, "rate_10mhz.wav"},
        {"rate_4ghz.wav", "", EXPECT_ERROR, EXPECT_ERROR, "rate_4ghz.wav"},
        {"nan.wav", "", EXPECT_OK, EXPECT_ERROR, "nan.wav"},
        {"inf.wav", "", EXPECT_OK, EXPECT_ERROR, "inf.wav"},
        {"zeros.wav", "", EXPECT_OK, EXPECT_OK, NULL},
        {"clipped.wav", "", EXPECT_OK, EXPECT_OK, NULL},
        {"mono.wav", "--channels iq", EXPECT_ERROR, EXPECT_ERROR, "mono.wav"},
        {"not_audio.wav", "", EXPECT_ERROR, EXPECT_ERROR, "not_audio.wav"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        set_sidecar(cases[i].wav, good_sidecar);
        char label[256];
        snprintf(label, sizeof label, "info %s", cases[i].wav);
        check_run(label, cases[i].info, cases[i].mention, NULL, "info '%s' %s", path_of(cases[i].wav), cases[i].extra);
        check_recording(cases[i].wav, cases[i].extra, cases[i].analyze, cases[i].mention);
        if (i > 0) corpus_size++;
    }
    /* mono declared iq in its sidecar */
    set_sidecar("mono.wav", "{\"f0_hz\": 4e6, \"angle_deg\": 60, \"channels\": \"iq\"}");
    check_recording("mono.wav", "", EXPECT_ERROR, "mono.wav");
    corpus_size++;
    set_sidecar("mono.wav", good_sidecar);

    /* all-zero audio: flow 0 (or no value), not a crash or a made-up flow */
    check_run("zeros summary", EXPECT_OK, NULL, NULL, "analyze '%s' --summary '%s/s.csv'", path_of("zeros.wav"), out);
    char path[1024], *text = NULL;
    snprintf(path, sizeof path, "%s/s.csv", out);
    assert_int_equal(io_file_read(path, &text, NULL), 0);
    const char *flow = csv_cell(text, "flow_ml_min");
    assert_non_null(flow);
    if (flow[0] && fabs(atof(flow)) > 1e-6) fail_msg("all-zero audio reads a flow of %s ml/min", flow);
    free(text);
    /* clipped: the frames say so */
    check_run("clipped frames", EXPECT_OK, NULL, NULL, "analyze '%s' --frames '%s/f.csv'", path_of("clipped.wav"), out);
    snprintf(path, sizeof path, "%s/f.csv", out);
    assert_int_equal(io_file_read(path, &text, NULL), 0);
    assert_non_null(strstr(text, "saturated"));
    free(text);
}

static void test_raw_streams(void **state)
{
    (void)state;
    int16_t *iq = tone16(FS, 2, 8000.0);
    write_file("odd.raw", iq, 4 * 1000 + 3);      /* ends inside a sample */
    write_file("odd_short.raw", iq, 4 * 100 + 1);
    write_file("empty.raw", "", 0);
    float nanbuf[4000];
    for (int i = 0; i < 4000; i++) nanbuf[i] = i == 3001 ? NAN : 0.01f * (float)(i % 7);
    write_file("nan.raw", nanbuf, sizeof nanbuf);
    write_file("tone.raw", iq, 4 * FS);
    free(iq);
    const char *meta = "--f0 4e6 --angle 60";
    static const struct { const char *stdin_name, *opts; enum expect expect; const char *mention; } cases[] = {
        {"empty.raw", "--raw-format s16 --rate 12500", EXPECT_ERROR, "standard input"},
        {"odd.raw", "--raw-format s16 --rate 12500", EXPECT_OK, NULL},   /* a torn last sample is dropped */
        {"odd_short.raw", "--raw-format s16 --rate 12500", EXPECT_ERROR, "too short"},
        {"nan.raw", "--raw-format f32 --rate 12500", EXPECT_ERROR, "NaN"},
        {"tone.raw", "--raw-format s16 --rate 0", EXPECT_ERROR, "rate"},
        {"tone.raw", "--raw-format s16 --rate 1e12", EXPECT_ERROR, "1e+12"},
        {"tone.raw", "--raw-format s16 --rate nan", EXPECT_ERROR, "--rate"},
        {"tone.raw", "--rate 12500", EXPECT_ERROR, "raw"},
        {"tone.raw", "--raw-format s16 --rate 12500 --angle 90", EXPECT_ERROR, "angle"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char label[256];
        snprintf(label, sizeof label, "analyze - %s < %s", cases[i].opts, cases[i].stdin_name);
        check_run(label, cases[i].expect, cases[i].mention, cases[i].stdin_name,
                  "analyze - %s %s --summary '%s/s.csv' --frames '%s/f.csv' --beats '%s/b.csv' --h5 '%s/r.h5'", meta,
                  cases[i].opts, out, out, out, out);
        corpus_size++;
    }
    check_run("raw tone", EXPECT_OK, NULL, "tone.raw", "analyze - %s --raw-format s16 --rate 12500 --summary '%s/s.csv'",
              meta, out);
}

static void test_sidecars(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",                                                   /* empty */
        "{",                                                  /* malformed */
        "{\"f0_hz\": 4e6, \"angle_deg\": 60,}",               /* trailing comma */
        "[4e6, 60]",                                          /* not an object */
        "{\"f0_hz\": \"4e6\", \"angle_deg\": 60}",            /* wrong type */
        "{\"f0_hz\": 4e6, \"angle_deg\": true}",              /* wrong type */
        "{\"f0_hz\": 4e6, \"angle_deg\": 60, \"diameter_mm\": -3}",
        "{\"f0_hz\": 4e6, \"angle_deg\": 60, \"diameter_mm\": 0}",
        "{\"f0_hz\": 4e6, \"angle_deg\": 90}",
        "{\"f0_hz\": 0, \"angle_deg\": 60}",
        "{\"f0_hz\": -4e6, \"angle_deg\": 60}",
        "{\"f0_hz\": 1e400, \"angle_deg\": 60}",
        "{\"f0_hz\": 4e6, \"angle_deg\": 60, \"c_m_s\": 0}",
        "{\"f0_hz\": 4e6, \"angle_deg\": 60, \"channels\": \"xy\"}",
        "{\"f0_hz\": 4e6, \"angle_deg\": 60, \"channels\": 2}",
        "\xff\xfe{\"f0_hz\": 4e6}",                           /* not UTF-8 */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        set_sidecar("good.wav", bad[i]);
        char label[256];
        snprintf(label, sizeof label, "info, sidecar %s", bad[i]);
        check_run(label, EXPECT_ERROR, "good.json", NULL, "info '%s'", path_of("good.wav"));
        check_recording("good.wav", "", EXPECT_ERROR, "good.json");
        corpus_size++;
    }
    set_sidecar("good.wav", good_sidecar);
    /* --meta pointing at nothing, and at a folder */
    check_run("meta missing", EXPECT_ERROR, "nothing.json", NULL, "analyze '%s' --meta '%s' --summary '%s/s.csv'",
              path_of("good.wav"), path_of("nothing.json"), out);
    check_run("meta folder", EXPECT_ERROR, NULL, NULL, "analyze '%s' --meta '%s' --summary '%s/s.csv'",
              path_of("good.wav"), dir, out);
    corpus_size += 2;
}

static void test_epochs(void **state)
{
    (void)state;
    char wav[768];
    snprintf(wav, sizeof wav, "%s", path_of("good.wav")); /* 3 s */
    static const struct { const char *spec; enum expect expect; const char *mention; } cases[] = {
        {"a:0:2,b:1:3", EXPECT_OK, NULL},          /* overlapping: each epoch is its own average */
        {"a:10:20", EXPECT_OK, NULL},              /* outside: an empty row and a warning */
        {"a:-10:-5,b:0:1", EXPECT_OK, NULL},
        {"", EXPECT_ERROR, "empty"},
        {",", EXPECT_ERROR, "epoch"},
        {"a:2:1", EXPECT_ERROR, "a:2:1"},
        {"a:1:1", EXPECT_ERROR, "a:1:1"},
        {"a:nan:1", EXPECT_ERROR, "nan"},
        {"a:0:inf", EXPECT_ERROR, "inf"},
        {"a:0:1,a:1:2", EXPECT_ERROR, "twice"},
        {":0:1", EXPECT_ERROR, "label"},
        {"a:0:1:2", EXPECT_ERROR, "a:0:1:2"},
        {"a", EXPECT_ERROR, "expected"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char label[256];
        snprintf(label, sizeof label, "analyze --epochs '%s'", cases[i].spec);
        check_run(label, cases[i].expect, cases[i].mention, NULL,
                  "analyze '%s' --epochs '%s' --summary '%s/s.csv' --frames '%s/f.csv' --beats '%s/b.csv' --h5 '%s/r.h5'",
                  wav, cases[i].spec, out, out, out, out);
        /* study: epochs relative to each onset; the same spec errors the same way */
        snprintf(label, sizeof label, "study --epochs '%s'", cases[i].spec);
        write_text("m_epochs.csv", "subject,condition,file\nS1,rest,good.wav\n");
        check_run(label, cases[i].expect, cases[i].mention, NULL, "study '%s' --epochs '%s' -o '%s/st'",
                  path_of("m_epochs.csv"), cases[i].spec, out);
        corpus_size++;
    }
    /* 5000 epochs, most outside the recording */
    size_t cap = 5000 * 24;
    char *spec = malloc(cap), *p = spec;
    for (int i = 0; i < 5000; i++) p += sprintf(p, "%se%d:%g:%g", i ? "," : "", i, i / 1000.0, i / 1000.0 + 1);
    check_run("5000 epochs", EXPECT_OK, NULL, NULL, "analyze '%s' --epochs '%s' --summary '%s/s.csv'", wav, spec, out);
    free(spec);
    corpus_size++;
}

static void test_manifests(void **state)
{
    (void)state;
    static const struct { const char *name, *text; enum expect expect; const char *mention; } cases[] = {
        {"m_no_condition.csv", "subject,file\nS1,good.wav\n", EXPECT_ERROR, "condition"},
        {"m_missing_files.csv", "subject,condition,file\nS1,rest,nope1.wav\nS2,rest,nope2.wav\n", EXPECT_PARTIAL,
         "nope2.wav"},
        {"m_duplicate.csv", "subject,condition,file\nS1,rest,good.wav\nS1,rest,good.wav\n", EXPECT_ERROR, "duplicate"},
        {"m_quotes.csv", "subject,condition,file\n\"S \"\"1\"\", x\",rest,\"good.wav\"\n", EXPECT_OK, NULL},
        {"m_open_quote.csv", "subject,condition,file\n\"S1,rest,good.wav\n", EXPECT_ERROR, "m_open_quote.csv"},
        {"m_crlf.csv", "subject,condition,file\r\nS1,rest,good.wav\r\nS2,rest,good.wav\r\n", EXPECT_OK, NULL},
        {"m_bom.csv", "\xef\xbb\xbfsubject,condition,file\nS1,rest,good.wav\n", EXPECT_OK, NULL},
        {"m_not_utf8.csv", "subject,condition,file\nS\xff" "1,rest,good.wav\n", EXPECT_ERROR, "UTF-8"},
        {"m_empty.csv", "", EXPECT_ERROR, "m_empty.csv"},
        {"m_header_only.csv", "subject,condition,file\n", EXPECT_ERROR, "m_header_only.csv"},
        {"m_short_row.csv", "subject,condition,file\nS1,rest\n", EXPECT_ERROR, "line 2"},
        {"m_bad_number.csv", "subject,condition,file,f0_hz\nS1,rest,good.wav,fast\n", EXPECT_ERROR, "f0_hz"},
        {"m_bad_angle.csv", "subject,condition,file,angle_deg\nS1,rest,good.wav,90\n", EXPECT_PARTIAL, "angle"},
        {"m_folder.csv", "subject,condition,file\nS1,rest,.\n", EXPECT_PARTIAL, "S1"},
        {"m_binary.csv", "\x7f" "ELF\x02\x01\x01\n\x01\x02,,\n", EXPECT_ERROR, "m_binary.csv"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        write_text(cases[i].name, cases[i].text);
        char label[256];
        snprintf(label, sizeof label, "study %s", cases[i].name);
        check_run(label, cases[i].expect, cases[i].mention, NULL, "study '%s' -o '%s/st' -j 2", path_of(cases[i].name),
                  out);
        corpus_size++;
    }
    /* A NUL byte (not expressible in a C string literal). */
    static const char nul[] = "subject,condition,file\nS1\0,rest,good.wav\n";
    write_file("m_nul.csv", nul, sizeof nul - 1);
    check_run("study m_nul.csv", EXPECT_ERROR, "NUL", NULL, "study '%s' -o '%s/st'", path_of("m_nul.csv"), out);
    corpus_size++;
    /* 10^6 rows pointing at missing files with a broken last row: the whole
     * manifest is read and checked, and refused, before anything runs. */
    FILE *f = fopen(path_of("m_million.csv"), "w");
    assert_non_null(f);
    fputs("subject,condition,file\n", f);
    for (int i = 0; i < 1000000; i++) fprintf(f, "S%d,rest,missing%d.wav\n", i, i);
    fputs("S1,rest\n", f);
    assert_int_equal(fclose(f), 0);
    check_run("study 10^6 rows, last broken", EXPECT_ERROR, "line 1000002", NULL, "study '%s' -o '%s/st'",
              path_of("m_million.csv"), out);
    /* ... and without the broken row, a deterministic 1/2000 shard: every
     * row is read, 500 missing files land in failures.csv. */
    f = fopen(path_of("m_million.csv"), "w");
    fputs("subject,condition,file\n", f);
    for (int i = 0; i < 1000000; i++) fprintf(f, "S%d,rest,missing%d.wav\n", i, i);
    assert_int_equal(fclose(f), 0);
    check_run("study 10^6 rows, shard 1/2000", EXPECT_PARTIAL, "missing998000.wav", NULL,
              "study '%s' -o '%s/st' --shard 1/2000 -j 2", path_of("m_million.csv"), out);
    unlink(path_of("m_million.csv"));
    corpus_size += 2;
}

static void test_specs(void **state)
{
    (void)state;
    static const struct { const char *text; enum expect expect; const char *mention; } cases[] = {
        {"", EXPECT_ERROR, "spec.json"},
        {"{", EXPECT_ERROR, "malformed"},
        {"[]", EXPECT_ERROR, "object"},
        {"{\"duration_s\": \"10\"}", EXPECT_ERROR, "duration_s"},
        {"{\"duration_s\": -1}", EXPECT_ERROR, "duration_s"},
        {"{\"duration_s\": 1e9}", EXPECT_ERROR, "duration_s"},
        {"{\"duration_s\": 1e400}", EXPECT_ERROR, "spec.json"},
        {"{\"sample_rate_hz\": 1}", EXPECT_ERROR, "sample_rate_hz"},
        {"{\"sample_rate_hz\": 10000000}", EXPECT_ERROR, "sample_rate_hz"},
        {"{\"bogus\": 1}", EXPECT_ERROR, "bogus"},
        {"{\"kind\": \"cohort\"}", EXPECT_ERROR, "spec.json"},
        {"{\"kind\": 7}", EXPECT_ERROR, "kind"},
        {"{\"duration_s\": 1, \"acquisition\": {\"f0_hz\": 0}}", EXPECT_ERROR, "f0_hz"},
        {"{\"duration_s\": 1, \"acquisition\": {\"angle_deg\": 90}}", EXPECT_ERROR, "angle_deg"},
        {"{\"duration_s\": 1, \"vessel\": {\"diameter_mm\": -1}}", EXPECT_ERROR, "diameter_mm"},
        {"{\"duration_s\": 1, \"epochs\": [{\"label\": \"a\", \"start_s\": 0, \"end_s\": 5}]}", EXPECT_ERROR, "epochs"},
        {"{\"duration_s\": 1, \"epochs\": [{\"label\": \"a\", \"start_s\": 0.5, \"end_s\": 0.5}]}", EXPECT_ERROR,
         "epochs"},
        {"{\"duration_s\": 1, \"epochs\": 3}", EXPECT_ERROR, "epochs"},
        {"{\"duration_s\": 1, \"dropouts\": [{\"start_s\": 5, \"duration_s\": 1}]}", EXPECT_ERROR, "dropouts"},
        {"{\"duration_s\": 1, \"description\": \"\xff\xfe\"}", EXPECT_ERROR, "spec.json"},
        {"{\"duration_s\": 1, \"epochs\": []}", EXPECT_OK, NULL},
        {"{\"duration_s\": 1, \"epochs\": [{\"label\": \"a\", \"start_s\": 0, \"end_s\": 0.6},"
         " {\"label\": \"b\", \"start_s\": 0.4, \"end_s\": 1}]}", EXPECT_OK, NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        write_text("spec.json", cases[i].text);
        char label[256];
        snprintf(label, sizeof label, "simulate %s", cases[i].text);
        check_run(label, cases[i].expect, cases[i].mention, NULL, "simulate '%s' -o '%s/r.wav' -q", path_of("spec.json"),
                  out);
        if (cases[i].expect == EXPECT_OK) assert_int_equal(io_dir_count(out), 5);
        corpus_size++;
    }
    /* a cohort spec that is not one */
    write_text("spec.json", "{\"kind\": \"cohort\", \"name\": \"x\", \"subjects\": -1}");
    check_run("simulate cohort", EXPECT_ERROR, "spec.json", NULL, "simulate '%s' -o '%s/c' -q", path_of("spec.json"), out);
    corpus_size++;
}

static void test_plot_inputs(void **state)
{
    (void)state;
    /* a real result, then broken copies of it */
    char good_h5[768], good_csv[768];
    snprintf(good_h5, sizeof good_h5, "%s", path_of("result.h5"));
    snprintf(good_csv, sizeof good_csv, "%s", path_of("result.csv"));
    char args[2048];
    snprintf(args, sizeof args, "analyze '%s' --h5 '%s' --frames '%s'", path_of("good.wav"), good_h5, good_csv);
    assert_int_equal(cli_run(args, NULL, NULL, NULL), 0);
    char *h5 = NULL;
    size_t h5_len = 0;
    assert_int_equal(io_file_read(good_h5, &h5, &h5_len), 0);
    write_file("trunc_small.h5", h5, 100);
    write_file("trunc_half.h5", h5, h5_len / 2);
    h5[h5_len / 3] ^= 0x5a; /* one corrupt byte in the middle */
    h5[h5_len / 3 + 1] ^= 0xa5;
    write_file("corrupt.h5", h5, h5_len);
    free(h5);
    write_text("bad_frames.csv", "time_s,vmax_cm_s\n1,nan\nx,y\n");
    write_text("header_frames.csv", "time_s,vmax_cm_s,vmean_cm_s,flow_ml_min,quality,beat\n");
    write_text("nan_frames.csv", "time_s,vmax_cm_s,vmean_cm_s,flow_ml_min,quality,beat\nnan,1,1,1,ok,0\n"
                                 "inf,1,1,1,ok,0\n");
    char study_dir[768];
    snprintf(study_dir, sizeof study_dir, "%s", path_of("bad_study"));
    mkdir(study_dir, 0755);
    write_text("bad_study/conditions.csv", "garbage\n\x01\x02");
    static const struct { const char *kind, *input; enum expect expect; const char *mention; } cases[] = {
        {"sonogram", "not_audio.wav", EXPECT_ERROR, "not_audio.wav"},
        {"sonogram", "empty.wav", EXPECT_ERROR, "empty.wav"},
        {"sonogram", "trunc_small.h5", EXPECT_ERROR, "trunc_small.h5"},
        {"sonogram", "trunc_half.h5", EXPECT_ERROR, "trunc_half.h5"},
        {"flow", "trunc_half.h5", EXPECT_ERROR, "trunc_half.h5"},
        {"sonogram", "good.wav", EXPECT_ERROR, "good.wav"},
        {"flow", "bad_frames.csv", EXPECT_ERROR, "bad_frames.csv"},
        {"flow", "header_frames.csv", EXPECT_ERROR, "header_frames.csv"},
        {"flow", "not_audio.wav", EXPECT_ERROR, "not_audio.wav"},
        {"study", "bad_study", EXPECT_ERROR, "conditions.csv"},
        {"study", "no_such_folder", EXPECT_ERROR, "no_such_folder"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char label[256];
        snprintf(label, sizeof label, "plot %s %s", cases[i].kind, cases[i].input);
        check_run(label, cases[i].expect, cases[i].mention, NULL, "plot %s '%s' -o '%s/x.png'", cases[i].kind,
                  path_of(cases[i].input), out);
        corpus_size++;
    }
    /* corrupt and NaN inputs: an error or a figure, never a crash */
    static const struct { const char *kind, *input; } any[] = {
        {"sonogram", "corrupt.h5"}, {"flow", "corrupt.h5"}, {"flow", "nan_frames.csv"}};
    for (size_t i = 0; i < sizeof any / sizeof any[0]; i++) {
        reset_out();
        char *err = NULL;
        snprintf(args, sizeof args, "plot %s '%s' -o '%s/x.png'", any[i].kind, path_of(any[i].input), out);
        int rc = cli_run_bounded(args, RUN_SECONDS, mem_limit_kib(), NULL, NULL, &err);
        run_count++;
        if (rc < 0 || rc >= 124 || rc == 1) fail_msg("plot %s %s: exit %d: %s", any[i].kind, any[i].input, rc, err);
        if (rc != 0 && (io_dir_count(out) != 0 || cli_count_lines(err) != 1))
            fail_msg("plot %s %s: exit %d left output or said:\n%s", any[i].kind, any[i].input, rc, err);
        free(err);
        corpus_size++;
    }
}

/* Every command documents its exit codes in --help (README "Exit codes"). */
static void test_help_exit_codes(void **state)
{
    (void)state;
    static const char *const commands[] = {"--help", "analyze --help", "info --help", "study --help",
                                           "study merge --help", "simulate --help", "plot --help",
                                           "plot sonogram --help", "plot flow --help", "plot study --help"};
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        char *text = NULL;
        assert_int_equal(cli_run(commands[i], NULL, &text, NULL), 0);
        if (!strstr(text, "Exit codes") || !strstr(text, "130 interrupted") || !strstr(text, "2 usage error"))
            fail_msg("dopflow %s does not list the exit codes", commands[i]);
        free(text);
    }
}

static void test_report(void **state)
{
    (void)state;
    printf("hostile corpus: %d inputs, %d command runs\n", corpus_size, run_count);
}

static int setup(void **state)
{
    (void)state;
    if (io_tmpdir_make(dir, sizeof dir) != 0) return -1;
    io_path_join(out, sizeof out, dir, "out");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    io_tmpdir_remove(dir);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_audio),     cmocka_unit_test(test_raw_streams), cmocka_unit_test(test_sidecars),
        cmocka_unit_test(test_epochs),    cmocka_unit_test(test_manifests),   cmocka_unit_test(test_specs),
        cmocka_unit_test(test_plot_inputs), cmocka_unit_test(test_help_exit_codes), cmocka_unit_test(test_report),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

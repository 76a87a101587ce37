/* Reader: recordings written here with libsndfile (or as raw bytes) read
 * back as the complex Doppler signal they encode; every error path. */
#include <complex.h>
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
#include <sndfile.h>

#include "dopflow/reader.h"
#include "io_util.h"

#define FS_HZ 8000
#define TONE_HZ 500.0     /* positive Doppler shift: flow toward the probe */
#define TONE_AMPLITUDE 0.5
#define TONE_FRAMES 20000 /* more than the reader's internal block (8192) */

typedef struct fixture {
    char dir[256];
    char tone_wav[512];        /* stereo int16, I = cos, Q = sin at +TONE_HZ */
    short *tone;               /* the interleaved values written */
} fixture;

static int write_wav_short(const char *path, int channels, int rate, const short *data, sf_count_t frames)
{
    SF_INFO info = {.samplerate = rate, .channels = channels, .format = SF_FORMAT_WAV | SF_FORMAT_PCM_16};
    SNDFILE *f = sf_open(path, SFM_WRITE, &info);
    if (!f) return -1;
    sf_count_t n = sf_writef_short(f, data, frames);
    sf_close(f);
    return n == frames ? 0 : -1;
}

static int write_wav_float(const char *path, int channels, int rate, const float *data, sf_count_t frames)
{
    SF_INFO info = {.samplerate = rate, .channels = channels, .format = SF_FORMAT_WAV | SF_FORMAT_FLOAT};
    SNDFILE *f = sf_open(path, SFM_WRITE, &info);
    if (!f) return -1;
    sf_count_t n = sf_writef_float(f, data, frames);
    sf_close(f);
    return n == frames ? 0 : -1;
}

static int setup(void **state)
{
    fixture *fx = calloc(1, sizeof *fx);
    if (!fx || io_tmpdir_make(fx->dir, sizeof fx->dir) != 0) return -1;
    io_path_join(fx->tone_wav, sizeof fx->tone_wav, fx->dir, "tone.wav");
    fx->tone = malloc(sizeof *fx->tone * 2 * TONE_FRAMES);
    if (!fx->tone) return -1;
    for (int n = 0; n < TONE_FRAMES; n++) {
        double phase = 2.0 * M_PI * TONE_HZ * n / FS_HZ;
        fx->tone[2 * n] = (short)lrint(TONE_AMPLITUDE * 32767.0 * cos(phase));
        fx->tone[2 * n + 1] = (short)lrint(TONE_AMPLITUDE * 32767.0 * sin(phase));
    }
    if (write_wav_short(fx->tone_wav, 2, FS_HZ, fx->tone, TONE_FRAMES) != 0) return -1;
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    fixture *fx = *state;
    io_tmpdir_remove(fx->dir);
    free(fx->tone);
    free(fx);
    return 0;
}

static dop_reader *open_or_fail(const char *path, dop_channels channels)
{
    dop_reader_config cfg = dop_reader_config_default();
    cfg.path = path;
    cfg.channels = channels;
    dop_reader *r = NULL;
    dop_error err = {""};
    dop_status st = dop_reader_open(&cfg, &r, &err);
    if (st != DOP_OK) fail_msg("open %s: %s", path, err.message);
    return r;
}

/* Read everything in blocks of `block` samples; returns the count. */
static size_t read_all(dop_reader *r, float complex *out, size_t capacity, size_t block)
{
    size_t total = 0;
    for (;;) {
        size_t want = capacity - total < block ? capacity - total : block;
        size_t got = 0;
        dop_error err = {""};
        assert_int_equal(dop_reader_read(r, out + total, want, &got, &err), DOP_OK);
        if (got == 0) break;
        total += got;
        if (total == capacity) break;
    }
    return total;
}

/* Mean phase advance per sample, radians: the Doppler frequency x 2 pi / fs. */
static double phase_advance(const float complex *x, size_t n)
{
    double complex acc = 0;
    for (size_t i = 1; i < n; i++) acc += x[i] * conjf(x[i - 1]);
    return carg(acc);
}

static void expect_open_error(const dop_reader_config *cfg, dop_status expected, const char *fragment)
{
    dop_reader *r = NULL;
    dop_error err = {""};
    dop_status st = dop_reader_open(cfg, &r, &err);
    if (st != expected) fail_msg("%s: status %s (%s), expected %s", cfg->path, dop_strerror(st), err.message, dop_strerror(expected));
    assert_null(r);
    if (fragment && !strstr(err.message, fragment)) fail_msg("message \"%s\" lacks \"%s\"", err.message, fragment);
}

static void test_stereo_iq_tone(void **state)
{
    fixture *fx = *state;
    dop_reader *r = open_or_fail(fx->tone_wav, DOP_CHANNELS_UNSET);
    const dop_reader_info *info = dop_reader_get_info(r);
    assert_float_equal(info->rate_hz, FS_HZ, 0.0);
    assert_int_equal(info->file_channels, 2);
    assert_int_equal(info->channels, DOP_CHANNELS_IQ);
    assert_int_equal(info->frames, TONE_FRAMES);
    assert_float_equal(info->duration_s, (double)TONE_FRAMES / FS_HZ, 1e-12);
    assert_int_equal(info->is_float, 0);
    assert_non_null(strstr(info->format, "WAV"));
    assert_non_null(strstr(info->format, "16"));

    float complex *x = malloc(sizeof *x * (TONE_FRAMES + 10));
    assert_int_equal(read_all(r, x, TONE_FRAMES + 10, TONE_FRAMES + 10), TONE_FRAMES);
    for (int n = 0; n < TONE_FRAMES; n++) {
        /* int16 full scale is 32768: the same scaling as libsndfile. */
        assert_float_equal(crealf(x[n]), fx->tone[2 * n] / 32768.0, 1e-7);
        assert_float_equal(cimagf(x[n]), fx->tone[2 * n + 1] / 32768.0, 1e-7);
    }
    /* A tone at +500 Hz advances the phase by +2 pi 500 / 8000 per sample. */
    assert_float_equal(phase_advance(x, TONE_FRAMES), 2.0 * M_PI * TONE_HZ / FS_HZ, 1e-4);
    assert_float_equal(cabsf(x[100]), TONE_AMPLITUDE, 1e-3);
    size_t got = 1;
    assert_int_equal(dop_reader_read(r, x, 16, &got, NULL), DOP_OK);
    assert_int_equal(got, 0); /* at the end */
    free(x);
    dop_reader_close(r);
}

static void test_qi_swaps_direction(void **state)
{
    fixture *fx = *state;
    dop_reader *iq = open_or_fail(fx->tone_wav, DOP_CHANNELS_IQ);
    dop_reader *qi = open_or_fail(fx->tone_wav, DOP_CHANNELS_QI);
    assert_int_equal(dop_reader_get_info(qi)->channels, DOP_CHANNELS_QI);
    float complex *a = malloc(sizeof *a * TONE_FRAMES), *b = malloc(sizeof *b * TONE_FRAMES);
    assert_int_equal(read_all(iq, a, TONE_FRAMES, 4096), TONE_FRAMES);
    assert_int_equal(read_all(qi, b, TONE_FRAMES, 4096), TONE_FRAMES);
    /* Q + jI = j conj(I + jQ): the same tone at the opposite frequency. */
    for (int n = 0; n < TONE_FRAMES; n++) {
        float complex expect = I * conjf(a[n]);
        assert_float_equal(crealf(b[n]), crealf(expect), 0.0);
        assert_float_equal(cimagf(b[n]), cimagf(expect), 0.0);
    }
    assert_float_equal(phase_advance(b, TONE_FRAMES), -2.0 * M_PI * TONE_HZ / FS_HZ, 1e-4);
    free(a);
    free(b);
    dop_reader_close(iq);
    dop_reader_close(qi);
}

static void test_mono_gives_zero_q(void **state)
{
    fixture *fx = *state;
    char path[512];
    io_path_join(path, sizeof path, fx->dir, "mono.wav");
    short data[1000];
    for (int n = 0; n < 1000; n++) data[n] = (short)(n * 31 - 15000);
    assert_int_equal(write_wav_short(path, 1, 4000, data, 1000), 0);

    dop_reader *r = open_or_fail(path, DOP_CHANNELS_UNSET);
    assert_int_equal(dop_reader_get_info(r)->channels, DOP_CHANNELS_MONO);
    assert_int_equal(dop_reader_get_info(r)->file_channels, 1);
    float complex x[1000];
    assert_int_equal(read_all(r, x, 1000, 333), 1000);
    for (int n = 0; n < 1000; n++) {
        assert_float_equal(crealf(x[n]), data[n] / 32768.0, 1e-7);
        assert_float_equal(cimagf(x[n]), 0.0, 0.0);
    }
    dop_reader_close(r);

    /* Mono declared as I/Q: refused, naming the file and the conflict. */
    dop_reader_config cfg = dop_reader_config_default();
    cfg.path = path;
    cfg.channels = DOP_CHANNELS_IQ;
    expect_open_error(&cfg, DOP_ERR_FORMAT, "has 1 channel but channels = iq needs 2");
    expect_open_error(&cfg, DOP_ERR_FORMAT, "mono.wav");
}

static void test_stereo_as_mono_takes_left(void **state)
{
    fixture *fx = *state;
    dop_reader *r = open_or_fail(fx->tone_wav, DOP_CHANNELS_MONO);
    assert_int_equal(dop_reader_get_info(r)->file_channels, 2);
    float complex x[500];
    assert_int_equal(read_all(r, x, 500, 500), 500);
    for (int n = 0; n < 500; n++) {
        assert_float_equal(crealf(x[n]), fx->tone[2 * n] / 32768.0, 1e-7);
        assert_float_equal(cimagf(x[n]), 0.0, 0.0);
    }
    dop_reader_close(r);
}

static void test_float_wav_with_nan(void **state)
{
    fixture *fx = *state;
    char path[512];
    io_path_join(path, sizeof path, fx->dir, "nan.wav");
    enum { N = 3000, BAD = 1234 };
    float *data = malloc(sizeof *data * 2 * N);
    for (int n = 0; n < 2 * N; n++) data[n] = 0.25f * sinf(0.01f * n);
    data[2 * BAD + 1] = NAN; /* the Q sample of frame 1234 */
    assert_int_equal(write_wav_float(path, 2, FS_HZ, data, N), 0);

    dop_reader *r = open_or_fail(path, DOP_CHANNELS_UNSET);
    assert_int_equal(dop_reader_get_info(r)->is_float, 1);
    float complex *x = malloc(sizeof *x * N);
    size_t got = 0;
    dop_error err = {""};
    assert_int_equal(dop_reader_read(r, x, N, &got, &err), DOP_ERR_FORMAT);
    assert_int_equal(got, BAD); /* the good samples before it are delivered */
    assert_non_null(strstr(err.message, "sample 1234"));
    assert_non_null(strstr(err.message, "NaN"));
    assert_non_null(strstr(err.message, "nan.wav"));
    for (int n = 0; n < BAD; n++) assert_float_equal(crealf(x[n]), data[2 * n], 0.0);
    dop_reader_close(r);

    /* Infinity too, and found whatever the block size. */
    data[2 * BAD + 1] = 0.0f;
    data[2 * 2999] = -INFINITY;
    assert_int_equal(write_wav_float(path, 2, FS_HZ, data, N), 0);
    r = open_or_fail(path, DOP_CHANNELS_UNSET);
    size_t total = 0;
    dop_status st = DOP_OK;
    while (st == DOP_OK) {
        /* never past the end of x (valgrind: libsndfile reads in place) */
        st = dop_reader_read(r, x + total, N - total < 7 ? N - total : 7, &got, &err);
        total += got;
        if (st == DOP_OK && got == 0) break;
    }
    assert_int_equal(st, DOP_ERR_FORMAT);
    assert_int_equal(total, 2999);
    assert_non_null(strstr(err.message, "sample 2999"));
    assert_non_null(strstr(err.message, "infinite"));
    dop_reader_close(r);
    free(x);
    free(data);
}

static void test_eight_channels_refused(void **state)
{
    fixture *fx = *state;
    char path[512];
    io_path_join(path, sizeof path, fx->dir, "eight.wav");
    short data[8 * 100] = {0};
    assert_int_equal(write_wav_short(path, 8, FS_HZ, data, 100), 0);
    dop_reader_config cfg = dop_reader_config_default();
    cfg.path = path;
    expect_open_error(&cfg, DOP_ERR_FORMAT, "has 8 channels; dopflow reads 1 (mono) or 2 (I/Q)");
    cfg.channels = DOP_CHANNELS_MONO;
    expect_open_error(&cfg, DOP_ERR_FORMAT, "has 8 channels");
}

static void test_not_audio(void **state)
{
    fixture *fx = *state;
    char path[512];
    dop_reader_config cfg = dop_reader_config_default();
    cfg.path = path;

    io_path_join(path, sizeof path, fx->dir, "empty.wav");
    assert_int_equal(io_file_write(path, "", 0), 0);
    expect_open_error(&cfg, DOP_ERR_FORMAT, "empty.wav");

    io_path_join(path, sizeof path, fx->dir, "notes.wav");
    const char *text = "time,velocity\n0.0,12.5\n0.1,13.0\nThis is not a recording at all.\n";
    assert_int_equal(io_file_write(path, text, strlen(text)), 0);
    expect_open_error(&cfg, DOP_ERR_FORMAT, "not a recognised audio file");
    expect_open_error(&cfg, DOP_ERR_FORMAT, "notes.wav");

    /* The first 20 bytes of a real WAV: RIFF header and half a fmt chunk. */
    char *bytes = NULL;
    size_t len = 0;
    assert_int_equal(io_file_read(fx->tone_wav, &bytes, &len), 0);
    io_path_join(path, sizeof path, fx->dir, "truncated.wav");
    assert_int_equal(io_file_write(path, bytes, 20), 0);
    expect_open_error(&cfg, DOP_ERR_FORMAT, "truncated.wav");
    free(bytes);

    /* A WAV header with a sample rate of 0 Hz. */
    static const unsigned char zero_rate[44] = {
        'R', 'I', 'F', 'F', 36 + 8, 0, 0, 0, 'W', 'A', 'V', 'E', 'f', 'm', 't', ' ', 16, 0, 0, 0,
        1, 0, 2, 0, /* PCM, 2 channels */
        0, 0, 0, 0, /* 0 Hz */
        0, 0, 0, 0, 4, 0, 16, 0, 'd', 'a', 't', 'a', 8, 0, 0, 0};
    unsigned char file[52] = {0};
    memcpy(file, zero_rate, sizeof zero_rate);
    io_path_join(path, sizeof path, fx->dir, "zero_rate.wav");
    assert_int_equal(io_file_write(path, file, sizeof file), 0);
    expect_open_error(&cfg, DOP_ERR_FORMAT, "zero_rate.wav");
}

static void test_missing_and_directory(void **state)
{
    fixture *fx = *state;
    char path[512];
    io_path_join(path, sizeof path, fx->dir, "no_such_recording.wav");
    dop_reader_config cfg = dop_reader_config_default();
    cfg.path = path;
    expect_open_error(&cfg, DOP_ERR_IO, "no_such_recording.wav");
    cfg.raw_format = DOP_RAW_S16;
    cfg.raw_rate_hz = 1000;
    expect_open_error(&cfg, DOP_ERR_IO, "no_such_recording.wav");
    cfg = dop_reader_config_default();
    cfg.path = fx->dir;
    expect_open_error(&cfg, DOP_ERR_IO, "directory");
}

static void test_header_claims_more_than_exists(void **state)
{
    fixture *fx = *state;
    char *bytes = NULL;
    size_t len = 0;
    assert_int_equal(io_file_read(fx->tone_wav, &bytes, &len), 0);
    size_t header = len - 4 * (size_t)TONE_FRAMES; /* 4 bytes per stereo int16 frame */
    char path[512];
    io_path_join(path, sizeof path, fx->dir, "cut.wav");
    /* 6000 whole frames and half a frame: the data chunk still says 20000. */
    assert_int_equal(io_file_write(path, bytes, header + 4 * 6000 + 2), 0);
    free(bytes);

    dop_reader *r = open_or_fail(path, DOP_CHANNELS_UNSET);
    float complex *x = malloc(sizeof *x * TONE_FRAMES);
    assert_int_equal(read_all(r, x, TONE_FRAMES, 4096), 6000);
    for (int n = 0; n < 6000; n++) {
        assert_float_equal(crealf(x[n]), fx->tone[2 * n] / 32768.0, 1e-7);
        assert_float_equal(cimagf(x[n]), fx->tone[2 * n + 1] / 32768.0, 1e-7);
    }
    free(x);
    dop_reader_close(r);
}

static void put_le16(unsigned char *p, int16_t v)
{
    uint16_t u = (uint16_t)v;
    p[0] = (unsigned char)(u & 0xff);
    p[1] = (unsigned char)(u >> 8);
}

static void put_le32f(unsigned char *p, float v)
{
    uint32_t u;
    memcpy(&u, &v, sizeof u);
    for (int i = 0; i < 4; i++) p[i] = (unsigned char)(u >> (8 * i));
}

static void test_raw_s16_and_f32(void **state)
{
    fixture *fx = *state;
    enum { N = 5000 };
    char s16_path[512], f32_path[512];
    io_path_join(s16_path, sizeof s16_path, fx->dir, "iq.s16");
    io_path_join(f32_path, sizeof f32_path, fx->dir, "iq.f32");
    unsigned char *s16 = malloc(4 * N + 1), *f32 = malloc(8 * N);
    for (int n = 0; n < N; n++) {
        put_le16(s16 + 4 * n, (int16_t)(n - 2500));
        put_le16(s16 + 4 * n + 2, (int16_t)(-3 * n));
        put_le32f(f32 + 8 * n, 0.001f * n);
        put_le32f(f32 + 8 * n + 4, -1.5f + 0.0005f * n); /* float may exceed full scale */
    }
    s16[4 * N] = 0x7f; /* a stray byte: not a whole frame, ignored */
    assert_int_equal(io_file_write(s16_path, s16, 4 * N + 1), 0);
    assert_int_equal(io_file_write(f32_path, f32, 8 * N), 0);

    dop_reader_config cfg = dop_reader_config_default();
    cfg.path = s16_path;
    cfg.raw_format = DOP_RAW_S16;
    cfg.raw_rate_hz = 2500.0;
    dop_reader *r = NULL;
    assert_int_equal(dop_reader_open(&cfg, &r, NULL), DOP_OK);
    const dop_reader_info *info = dop_reader_get_info(r);
    assert_float_equal(info->rate_hz, 2500.0, 0.0);
    assert_int_equal(info->frames, N);
    assert_float_equal(info->duration_s, 2.0, 1e-12);
    assert_int_equal(info->channels, DOP_CHANNELS_IQ);
    assert_int_equal(info->is_float, 0);
    assert_non_null(strstr(info->format, "raw s16"));
    float complex *x = malloc(sizeof *x * (N + 1));
    assert_int_equal(read_all(r, x, N + 1, 999), N);
    for (int n = 0; n < N; n++) {
        assert_float_equal(crealf(x[n]), (n - 2500) / 32768.0, 1e-9);
        assert_float_equal(cimagf(x[n]), (-3 * n) / 32768.0, 1e-9);
    }
    dop_reader_close(r);

    cfg.path = f32_path;
    cfg.raw_format = DOP_RAW_F32;
    cfg.channels = DOP_CHANNELS_QI;
    assert_int_equal(dop_reader_open(&cfg, &r, NULL), DOP_OK);
    assert_int_equal(dop_reader_get_info(r)->is_float, 1);
    assert_int_equal(read_all(r, x, N + 1, 4096), N);
    for (int n = 0; n < N; n++) {
        assert_float_equal(cimagf(x[n]), 0.001f * n, 0.0); /* QI: left is Q */
        assert_float_equal(crealf(x[n]), -1.5f + 0.0005f * n, 0.0);
    }
    dop_reader_close(r);

    /* Raw mono: one value per sample. */
    cfg.channels = DOP_CHANNELS_MONO;
    assert_int_equal(dop_reader_open(&cfg, &r, NULL), DOP_OK);
    assert_int_equal(dop_reader_get_info(r)->frames, 2 * N);
    assert_int_equal(read_all(r, x, 10, 10), 10);
    assert_float_equal(crealf(x[1]), -1.5f, 0.0);
    assert_float_equal(cimagf(x[1]), 0.0f, 0.0);
    dop_reader_close(r);

    /* Standard input: the stream path (forward skip by reading). */
    FILE *in = freopen(s16_path, "rb", stdin);
    assert_non_null(in);
    cfg = dop_reader_config_default();
    cfg.path = "-";
    cfg.raw_format = DOP_RAW_S16;
    cfg.raw_rate_hz = 2500.0;
    assert_int_equal(dop_reader_open(&cfg, &r, NULL), DOP_OK);
    assert_int_equal(dop_reader_skip_to(r, 1000, NULL), DOP_OK);
    assert_int_equal(read_all(r, x, N + 1, 777), N - 1000);
    assert_float_equal(crealf(x[0]), (1000 - 2500) / 32768.0, 1e-9);
    dop_error err = {""};
    assert_int_equal(dop_reader_skip_to(r, 10, &err), DOP_ERR_INVALID_ARG); /* no going back in a stream */
    dop_reader_close(r);

    free(x);
    free(s16);
    free(f32);
}

static void test_raw_argument_errors(void **state)
{
    fixture *fx = *state;
    char path[512];
    io_path_join(path, sizeof path, fx->dir, "some.raw");
    assert_int_equal(io_file_write(path, "\0\0\0\0", 4), 0);
    dop_reader_config cfg = dop_reader_config_default();
    cfg.path = path;
    cfg.raw_format = DOP_RAW_S16; /* no rate */
    expect_open_error(&cfg, DOP_ERR_INVALID_ARG, "raw_rate_hz");
    cfg.raw_rate_hz = -8000.0;
    expect_open_error(&cfg, DOP_ERR_INVALID_ARG, "raw_rate_hz");
    cfg.raw_rate_hz = INFINITY;
    expect_open_error(&cfg, DOP_ERR_INVALID_ARG, "raw_rate_hz");
    cfg = dop_reader_config_default();
    cfg.path = "-"; /* standard input needs a raw format */
    expect_open_error(&cfg, DOP_ERR_INVALID_ARG, "raw");
    cfg.path = NULL;
    expect_open_error(&cfg, DOP_ERR_INVALID_ARG, NULL);
}

static void test_block_size_invariance(void **state)
{
    fixture *fx = *state;
    float complex *ref = malloc(sizeof *ref * TONE_FRAMES);
    float complex *x = malloc(sizeof *x * TONE_FRAMES);
    dop_reader *r = open_or_fail(fx->tone_wav, DOP_CHANNELS_UNSET);
    assert_int_equal(read_all(r, ref, TONE_FRAMES, TONE_FRAMES), TONE_FRAMES);
    dop_reader_close(r);
    const size_t blocks[] = {1, 7, 4096, 8193};
    for (size_t b = 0; b < sizeof blocks / sizeof blocks[0]; b++) {
        memset(x, 0, sizeof *x * TONE_FRAMES);
        r = open_or_fail(fx->tone_wav, DOP_CHANNELS_UNSET);
        assert_int_equal(read_all(r, x, TONE_FRAMES, blocks[b]), TONE_FRAMES);
        assert_memory_equal(x, ref, sizeof *x * TONE_FRAMES);
        dop_reader_close(r);
    }
    free(ref);
    free(x);
}

static void test_skip_to(void **state)
{
    fixture *fx = *state;
    float complex *ref = malloc(sizeof *ref * TONE_FRAMES);
    float complex *x = malloc(sizeof *x * TONE_FRAMES);
    dop_reader *r = open_or_fail(fx->tone_wav, DOP_CHANNELS_UNSET);
    assert_int_equal(read_all(r, ref, TONE_FRAMES, TONE_FRAMES), TONE_FRAMES);
    dop_reader_close(r);

    r = open_or_fail(fx->tone_wav, DOP_CHANNELS_UNSET);
    assert_int_equal(dop_reader_skip_to(r, 12345, NULL), DOP_OK);
    assert_int_equal(read_all(r, x, TONE_FRAMES, 1000), TONE_FRAMES - 12345);
    assert_memory_equal(x, ref + 12345, sizeof *x * (TONE_FRAMES - 12345));
    /* Back again in a seekable file. */
    assert_int_equal(dop_reader_skip_to(r, 10, NULL), DOP_OK);
    assert_int_equal(read_all(r, x, 5, 5), 5);
    assert_memory_equal(x, ref + 10, sizeof *x * 5);
    /* Past the end: nothing more to read, not an error. */
    assert_int_equal(dop_reader_skip_to(r, TONE_FRAMES + 50, NULL), DOP_OK);
    assert_int_equal(read_all(r, x, 100, 100), 0);
    dop_error err = {""};
    assert_int_equal(dop_reader_skip_to(r, -1, &err), DOP_ERR_INVALID_ARG);
    dop_reader_close(r);

    /* Raw file: seek by bytes. */
    char path[512];
    io_path_join(path, sizeof path, fx->dir, "tone.s16");
    unsigned char *bytes = malloc(4 * TONE_FRAMES);
    for (int n = 0; n < 2 * TONE_FRAMES; n++) put_le16(bytes + 2 * n, fx->tone[n]);
    assert_int_equal(io_file_write(path, bytes, 4 * TONE_FRAMES), 0);
    free(bytes);
    dop_reader_config cfg = dop_reader_config_default();
    cfg.path = path;
    cfg.raw_format = DOP_RAW_S16;
    cfg.raw_rate_hz = FS_HZ;
    assert_int_equal(dop_reader_open(&cfg, &r, NULL), DOP_OK);
    assert_int_equal(dop_reader_skip_to(r, 9000, NULL), DOP_OK);
    assert_int_equal(read_all(r, x, TONE_FRAMES, 3000), TONE_FRAMES - 9000);
    assert_memory_equal(x, ref + 9000, sizeof *x * (TONE_FRAMES - 9000)); /* raw == WAV decoding */
    dop_reader_close(r);
    free(ref);
    free(x);
}

static void test_close_null(void **state)
{
    (void)state;
    dop_reader_close(NULL);
    dop_reader_config cfg = dop_reader_config_default();
    assert_null(cfg.path);
    assert_int_equal(cfg.channels, DOP_CHANNELS_UNSET);
    assert_int_equal(cfg.raw_format, DOP_RAW_NONE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stereo_iq_tone),
        cmocka_unit_test(test_qi_swaps_direction),
        cmocka_unit_test(test_mono_gives_zero_q),
        cmocka_unit_test(test_stereo_as_mono_takes_left),
        cmocka_unit_test(test_float_wav_with_nan),
        cmocka_unit_test(test_eight_channels_refused),
        cmocka_unit_test(test_not_audio),
        cmocka_unit_test(test_missing_and_directory),
        cmocka_unit_test(test_header_claims_more_than_exists),
        cmocka_unit_test(test_raw_s16_and_f32),
        cmocka_unit_test(test_raw_argument_errors),
        cmocka_unit_test(test_block_size_invariance),
        cmocka_unit_test(test_skip_to),
        cmocka_unit_test(test_close_null),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

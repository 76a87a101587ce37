/* Slow-time IQ file checks shared by the IQ reader tests (see iq_check.h). */
#include "iq_check.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "io_util.h"

/* The stored integer of sample (pulse p, gate g), part c (0 = I, 1 = Q). */
int iq_pattern(size_t p, size_t g, int c) { return (int)((p * 37 + g * 101 + (size_t)c * 53) % 4001) - 2000; }

/* What the reader must return for it: int16 is full scale 32768; floats are
 * stored as pattern / 4096 (exact) and read as stored. */
float iq_expected(int is_int16, size_t p, size_t g, int c)
{
    return is_int16 ? (float)iq_pattern(p, g, c) / 32768.0f : (float)iq_pattern(p, g, c) / 4096.0f;
}

void iq_path_in(char *out, size_t size, void **state, const char *name)
{
    io_path_join(out, size, (const char *)*state, name);
}

/* ---------------------------------------------------------------- reading */

dop_reader_config iq_config(const char *path, dop_input_format format)
{
    dop_reader_config cfg = dop_reader_config_default();
    cfg.path = path;
    cfg.format = format;
    return cfg;
}

dop_reader *iq_open_ok(const dop_reader_config *cfg)
{
    dop_reader *r = NULL;
    dop_error err = {{0}};
    dop_status st = dop_reader_open(cfg, &r, &err);
    if (st != DOP_OK) fail_msg("%s: %s", cfg->path, err.message);
    return r;
}

/* Open must fail with `status` and a message naming the file (and holding
 * `words` when given). */
void iq_open_fails(const dop_reader_config *cfg, dop_status status, const char *words)
{
    dop_reader *r = NULL;
    dop_error err = {{0}};
    dop_status st = dop_reader_open(cfg, &r, &err);
    if (st != status) fail_msg("%s: status %d, expected %d (%s)", cfg->path, (int)st, (int)status, err.message);
    assert_null(r);
    if (!strstr(err.message, cfg->path)) fail_msg("message does not name the file: %s", err.message);
    if (words && !strstr(err.message, words)) fail_msg("message lacks '%s': %s", words, err.message);
}

/* Every pulse, `capacity` at a time, compared with fn(p, g, c) for gates
 * g0.. of the file; returns the pulses read. */

size_t iq_read_compare(dop_reader *r, size_t capacity, size_t g0, iq_value_fn fn, const void *ctx)
{
    const dop_reader_info *info = dop_reader_get_info(r);
    const size_t G = (size_t)info->gates;
    float complex *buf = malloc(capacity * G * sizeof *buf);
    assert_non_null(buf);
    size_t p = 0, got = 0;
    dop_error err = {{0}};
    do {
        dop_status st = dop_reader_read(r, buf, capacity, &got, &err);
        if (st != DOP_OK) fail_msg("read: %s", err.message);
        for (size_t k = 0; k < got; k++)
            for (size_t g = 0; g < G; g++) {
                float complex want = CMPLXF(fn(ctx, p + k, g0 + g, 0), fn(ctx, p + k, g0 + g, 1));
                if (buf[k * G + g] != want)
                    fail_msg("pulse %zu gate %zu: %g%+gj, expected %g%+gj", p + k, g0 + g, crealf(buf[k * G + g]),
                             cimagf(buf[k * G + g]), crealf(want), cimagf(want));
            }
        p += got;
    } while (got > 0);
    free(buf);
    return p;
}

float iq_pattern_value(const void *ctx, size_t p, size_t g, int c) { return iq_expected(*(const int *)ctx, p, g, c); }

/* ---------------------------------------------------------------- sinks */

float iq_sink_value(const void *ctx, size_t p, size_t g, int c)
{
    const iq_sink_data *d = ctx;
    size_t i = 2 * (p * d->G + g) + (size_t)c;
    return d->pcm ? (float)d->pcm[i] / 32768.0f : d->flt[i];
}

/* Write N pulses of G gates through `ops` in three uneven pieces. */
void iq_sink_write(const sim_sink_ops *ops, const char *path, size_t N, size_t G, int float_samples, iq_sink_data *d)
{
    d->N = N, d->G = G;
    d->x = malloc(N * G * sizeof *d->x);
    assert_non_null(d->x);
    for (size_t p = 0; p < N; p++)
        for (size_t g = 0; g < G; g++)
            d->x[p * G + g] = CMPLXF(1.3f * sinf(0.01f * (float)(p + 7 * g)), -1.1f * cosf(0.013f * (float)(p * (g + 1))));
    sim_sink_params sp = {
        .prf_hz = PRF_HZ, .pulses = (int64_t)N, .gates = (long)G, .f0_hz = 5e6, .angle_deg = 60.0, .c_m_s = 1540.0,
        .diameter_mm = 6.0, .float_samples = float_samples, .scale = 0.7, .clip = 0,
    };
    int64_t clipped = 0, expected_clipped = 0;
    if (float_samples) {
        d->flt = malloc(2 * N * G * sizeof *d->flt);
        assert_non_null(d->flt);
        sim_scale_float(d->x, N * G, sp.scale, sp.clip, d->flt, &expected_clipped);
    } else {
        d->pcm = malloc(2 * N * G * sizeof *d->pcm);
        assert_non_null(d->pcm);
        sim_scale_pcm16(d->x, N * G, sp.scale, d->pcm, &expected_clipped);
    }
    void *state = NULL;
    dop_error err = {{0}};
    if (ops->open(path, path, &sp, &state, &err) != DOP_OK) fail_msg("%s", err.message);
    const size_t pieces[3] = {N / 3, N / 3 + 1, N - (N / 3) - (N / 3 + 1)};
    size_t done = 0;
    for (int i = 0; i < 3; i++) {
        if (ops->write(state, d->x + done * G, pieces[i], &clipped, &err) != DOP_OK) fail_msg("%s", err.message);
        done += pieces[i];
    }
    if (ops->finish(state, &err) != DOP_OK) fail_msg("%s", err.message);
    assert_int_equal(clipped, expected_clipped);
}

void iq_sink_data_free(iq_sink_data *d)
{
    free(d->x);
    free(d->pcm);
    free(d->flt);
}

void iq_check_acquisition(const dop_reader_info *info)
{
    assert_true(info->rate_hz == PRF_HZ);
    assert_true(info->file_acq.f0_hz == 5e6);
    assert_true(info->file_acq.angle_deg == 60.0);
    assert_true(info->file_acq.c_m_s == 1540.0);
    assert_true(info->file_acq.diameter_mm == 6.0);
    assert_int_equal(info->channels, DOP_CHANNELS_IQ);
}

void iq_sink_round_trip(void **state, const sim_sink_ops *ops, const char *file, dop_input_format kind, size_t N,
                            size_t G, int float_samples)
{
    char path[512];
    iq_path_in(path, sizeof path, state, file);
    iq_sink_data d = {0};
    iq_sink_write(ops, path, N, G, float_samples, &d);
    const dop_input_format formats[2] = {kind, DOP_INPUT_AUTO};
    for (int f = 0; f < 2; f++) {
        dop_reader_config cfg = iq_config(path, formats[f]);
        dop_reader *r = iq_open_ok(&cfg);
        const dop_reader_info *info = dop_reader_get_info(r);
        assert_int_equal(info->kind, kind);
        assert_int_equal(info->frames, (int64_t)N);
        assert_int_equal(info->gates, (long)G);
        assert_int_equal(info->file_gates, (long)G);
        assert_int_equal(info->is_float, float_samples);
        iq_check_acquisition(info);
        assert_int_equal(iq_read_compare(r, f ? 97 : N, 0, iq_sink_value, &d), N);
        dop_reader_close(r);
    }
    /* A gate range: the middle gates, pulse-major as before. */
    if (G > 2) {
        dop_reader_config cfg = iq_config(path, kind);
        cfg.gate_first = 1;
        cfg.gate_last = (long)G - 2;
        dop_reader *r = iq_open_ok(&cfg);
        assert_int_equal(dop_reader_get_info(r)->gates, (long)G - 2);
        assert_int_equal(dop_reader_get_info(r)->gate_first, 1);
        assert_int_equal(iq_read_compare(r, 50, 1, iq_sink_value, &d), N);
        dop_reader_close(r);
        cfg.gate_first = 0;
        cfg.gate_last = (long)G;
        iq_open_fails(&cfg, DOP_ERR_INVALID_ARG, "gate");
    }
    iq_sink_data_free(&d);
}

/* Three round trips through a sink (float 1000 x 4, int16 777 x 1, int16
 * 500 x 5); then the float file, found by content, must describe itself
 * with `format` and a layout starting with `layout`. Its path is left in
 * path. */
void iq_sink_round_trips(void **state, const sim_sink_ops *sink, const char *ext, dop_input_format format,
                             const char *format_name, const char *layout, char *path, size_t size)
{
    const struct { const char *stem; size_t pulses, gates; int is_float; } runs[] = {
        {"sim_float", 1000, 4, 1}, {"sim_int16", 777, 1, 0}, {"sim_int16_gates", 500, 5, 0}};
    char name[64];
    for (int i = 0; i < 3; i++) {
        snprintf(name, sizeof name, "%s%s", runs[i].stem, ext);
        iq_sink_round_trip(state, sink, name, format, runs[i].pulses, runs[i].gates, runs[i].is_float);
    }
    snprintf(name, sizeof name, "sim_float%s", ext);
    iq_path_in(path, size, state, name);
    dop_reader_config cfg = iq_config(path, DOP_INPUT_AUTO);
    dop_reader *r = iq_open_ok(&cfg);
    assert_string_equal(dop_reader_get_info(r)->format, format_name);
    assert_memory_equal(dop_reader_get_info(r)->layout, layout, strlen(layout));
    dop_reader_close(r);
}

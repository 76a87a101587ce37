/* Stage 2: short-time Fourier transform with FFTW (single precision).
 *
 * A linear buffer holds the current window; when full, the windowed samples
 * are zero-padded into the FFT input, transformed, and the periodogram is
 * scaled to a PSD and fft-shifted; the buffer then slides by one hop. The
 * plan is made once with FFTW_ESTIMATE, which is deterministic (MEASURE may
 * pick different algorithms run to run and change the last bits). */
#include "dopflow/spectrum.h"

#include <fftw3.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

struct dop_spectrum {
    dop_spectrum_config cfg;
    size_t window_len, hop_len, fft_size;
    float *window;            /* window_len coefficients */
    float complex *buffer;    /* window_len samples, `fill` of them valid */
    size_t fill;
    fftwf_complex *fft_in, *fft_out;
    fftwf_plan plan;
    float *psd;               /* fft_size, shifted */
    double psd_scale;         /* 1 / (fs sum w^2) */
    int64_t frame_index;
};

dop_spectrum_config dop_spectrum_config_default(void)
{
    dop_spectrum_config cfg = {.fs_hz = 0.0, .window_ms = 20.0, .hop_ms = 10.0, .fft_size = 0,
                               .window = DOP_WINDOW_HANN};
    return cfg;
}

static double window_value(dop_window type, size_t i, size_t n)
{
    /* Symmetric-periodic ("DFT-even") forms, x in [0, 1). */
    double x = (double)i / (double)n;
    switch (type) {
    case DOP_WINDOW_HAMMING: return 0.54 - 0.46 * cos(2.0 * M_PI * x);
    case DOP_WINDOW_BLACKMAN: return 0.42 - 0.5 * cos(2.0 * M_PI * x) + 0.08 * cos(4.0 * M_PI * x);
    case DOP_WINDOW_GAUSSIAN: {
        double u = ((double)i - (double)(n - 1) / 2.0) / ((double)n / 6.0);
        return exp(-0.5 * u * u);
    }
    case DOP_WINDOW_HANN:
    default: return 0.5 - 0.5 * cos(2.0 * M_PI * x);
    }
}

static size_t next_pow2(size_t n)
{
    size_t p = 1;
    while (p < n) p <<= 1;
    return p;
}

dop_status dop_spectrum_create(const dop_spectrum_config *cfg, dop_spectrum **out, dop_error *err)
{
    *out = NULL;
    if (!(cfg->fs_hz > 0.0) || !isfinite(cfg->fs_hz))
        return dop_error_set(err, DOP_ERR_INVALID_ARG, "spectrum: sample rate %g Hz is not positive", cfg->fs_hz);
    double window_samples = cfg->window_ms * 1e-3 * cfg->fs_hz;
    double hop_samples = cfg->hop_ms * 1e-3 * cfg->fs_hz;
    if (!(window_samples >= 4.0) || window_samples > 1 << 20)
        return dop_error_set(err, DOP_ERR_INVALID_ARG,
                             "window %g ms is %.1f samples at %g Hz; need 4 to 1048576", cfg->window_ms,
                             window_samples, cfg->fs_hz);
    if (!(hop_samples >= 1.0) || cfg->hop_ms > cfg->window_ms)
        return dop_error_set(err, DOP_ERR_INVALID_ARG, "hop %g ms must be at least one sample and at most the window (%g ms)",
                             cfg->hop_ms, cfg->window_ms);
    size_t window_len = (size_t)lround(window_samples);
    size_t fft_size = cfg->fft_size ? cfg->fft_size : next_pow2(window_len);
    if (fft_size < window_len || fft_size % 2)
        return dop_error_set(err, DOP_ERR_INVALID_ARG, "FFT size %zu must be even and at least the window (%zu samples)",
                             fft_size, window_len);

    dop_spectrum *s = calloc(1, sizeof *s);
    if (!s) return dop_error_set(err, DOP_ERR_NOMEM, "spectrum: out of memory");
    s->cfg = *cfg;
    s->window_len = window_len;
    s->hop_len = (size_t)lround(hop_samples);
    s->fft_size = fft_size;
    s->window = malloc(window_len * sizeof *s->window);
    s->buffer = malloc(window_len * sizeof *s->buffer);
    s->psd = malloc(fft_size * sizeof *s->psd);
    s->fft_in = fftwf_alloc_complex(fft_size);
    s->fft_out = fftwf_alloc_complex(fft_size);
    if (!s->window || !s->buffer || !s->psd || !s->fft_in || !s->fft_out) {
        dop_spectrum_destroy(s);
        return dop_error_set(err, DOP_ERR_NOMEM, "spectrum: out of memory for FFT size %zu", fft_size);
    }
    s->plan = fftwf_plan_dft_1d((int)fft_size, s->fft_in, s->fft_out, FFTW_FORWARD, FFTW_ESTIMATE);
    if (!s->plan) {
        dop_spectrum_destroy(s);
        return dop_error_set(err, DOP_ERR_FFT, "FFTW could not plan a transform of size %zu", fft_size);
    }
    double sum_w2 = 0.0;
    for (size_t i = 0; i < window_len; i++) {
        double w = window_value(cfg->window, i, window_len);
        s->window[i] = (float)w;
        sum_w2 += w * w;
    }
    s->psd_scale = 1.0 / (cfg->fs_hz * sum_w2);
    memset(s->fft_in, 0, fft_size * sizeof *s->fft_in);
    *out = s;
    return DOP_OK;
}

size_t dop_spectrum_bins(const dop_spectrum *s) { return s->fft_size; }
double dop_spectrum_bin_hz(const dop_spectrum *s) { return s->cfg.fs_hz / (double)s->fft_size; }
double dop_spectrum_frame_rate(const dop_spectrum *s) { return s->cfg.fs_hz / (double)s->hop_len; }

static int emit_frame(dop_spectrum *s, dop_spectrum_frame_fn on_frame, void *user)
{
    const size_t n = s->fft_size, half = n / 2;
    float peak = 0.0f;
    for (size_t i = 0; i < s->window_len; i++) {
        float complex x = s->buffer[i];
        float a = fabsf(crealf(x)), b = fabsf(cimagf(x));
        if (a > peak) peak = a;
        if (b > peak) peak = b;
        s->fft_in[i] = x * s->window[i]; /* fftwf_complex is float complex with complex.h */
    }
    fftwf_execute(s->plan);
    const float scale = (float)s->psd_scale;
    for (size_t k = 0; k < n; k++) {
        float re = crealf(s->fft_out[k]), im = cimagf(s->fft_out[k]);
        s->psd[(k + half) % n] = (re * re + im * im) * scale;
    }
    dop_spectrum_frame frame = {
        .index = s->frame_index,
        .time_s = ((double)s->frame_index * (double)s->hop_len + (double)s->window_len / 2.0) / s->cfg.fs_hz,
        .psd = s->psd,
        .bins = n,
        .peak = peak,
    };
    s->frame_index++;
    return on_frame ? on_frame(&frame, user) : 0;
}

dop_status dop_spectrum_push(dop_spectrum *s, const float complex *x, size_t n, dop_spectrum_frame_fn on_frame,
                             void *user)
{
    size_t used = 0;
    while (used < n) {
        size_t take = s->window_len - s->fill;
        if (take > n - used) take = n - used;
        memcpy(s->buffer + s->fill, x + used, take * sizeof *x);
        s->fill += take;
        used += take;
        if (s->fill == s->window_len) {
            int stop = emit_frame(s, on_frame, user);
            memmove(s->buffer, s->buffer + s->hop_len, (s->window_len - s->hop_len) * sizeof *s->buffer);
            s->fill = s->window_len - s->hop_len;
            if (stop) return DOP_ERR_INTERRUPTED;
        }
    }
    return DOP_OK;
}

void dop_spectrum_reset(dop_spectrum *s)
{
    s->fill = 0;
    s->frame_index = 0;
}

void dop_spectrum_destroy(dop_spectrum *s)
{
    if (!s) return;
    if (s->plan) fftwf_destroy_plan(s->plan);
    fftwf_free(s->fft_in);
    fftwf_free(s->fft_out);
    free(s->window);
    free(s->buffer);
    free(s->psd);
    free(s);
}

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
#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#include "core/cpu.h"
#if DOP_HAVE_AVX512_PATHS
#include <immintrin.h>
#endif

struct dop_spectrum {
    dop_spectrum_config cfg;
    size_t window_len, hop_len, fft_size;
    float *window;            /* window_len coefficients, each twice (for I and Q) */
    float complex *buffer;    /* window_len samples, `fill` of them valid */
    size_t fill;
    fftwf_complex *fft_in, *fft_out;
    fftwf_plan plan;
    float *psd;               /* fft_size, shifted */
    double psd_scale;         /* 1 / (fs sum w^2) */
    double hwhm_bins;         /* main lobe's half-power half-width, FFT bins */
    int64_t frame_index;
    int avx;                  /* dop_cpu_use_avx() at creation */
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

/* |W(nu)|^2 of the window (2 floats per coefficient) at nu FFT bins. */
static double window_response(const float *window, size_t n, size_t fft_size, double nu)
{
    double re = 0.0, im = 0.0;
    for (size_t i = 0; i < n; i++) {
        double phase = -2.0 * M_PI * nu * ((double)i - 0.5 * (double)(n - 1)) / (double)fft_size;
        re += window[2 * i] * cos(phase);
        im += window[2 * i] * sin(phase);
    }
    return re * re + im * im;
}

/* The frequency offset (FFT bins) where the window's power response falls to
 * half its peak: bisection between 0 and the first null of a rectangular
 * window of the same length times four (beyond every window's -3 dB point).
 * Hann without zero padding: 0.72 bins (Harris, Proc. IEEE 1978;66:51-83,
 * table I: 3-dB bandwidth 1.44 bins). O(n) per step, at create only. */
static double main_lobe_hwhm(const float *window, size_t n, size_t fft_size)
{
    const double peak = window_response(window, n, fft_size, 0.0);
    double lo = 0.0, hi = 4.0 * (double)fft_size / (double)n;
    for (int step = 0; step < 40; step++) {
        double mid = 0.5 * (lo + hi);
        if (window_response(window, n, fft_size, mid) > 0.5 * peak) lo = mid;
        else hi = mid;
    }
    return 0.5 * (lo + hi);
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
    s->window = malloc(2 * window_len * sizeof *s->window);
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
        s->window[2 * i] = s->window[2 * i + 1] = (float)w;
        sum_w2 += w * w;
    }
    s->psd_scale = 1.0 / (cfg->fs_hz * sum_w2);
    s->hwhm_bins = main_lobe_hwhm(s->window, window_len, fft_size);
    s->avx = dop_cpu_use_avx();
    memset(s->fft_in, 0, fft_size * sizeof *s->fft_in);
    *out = s;
    return DOP_OK;
}

size_t dop_spectrum_bins(const dop_spectrum *s) { return s->fft_size; }
double dop_spectrum_bin_hz(const dop_spectrum *s) { return s->cfg.fs_hz / (double)s->fft_size; }
double dop_spectrum_frame_rate(const dop_spectrum *s) { return s->cfg.fs_hz / (double)s->hop_len; }
size_t dop_spectrum_hop_samples(const dop_spectrum *s) { return s->hop_len; }
double dop_spectrum_window_hwhm_bins(const dop_spectrum *s) { return s->hwhm_bins; }

/* Largest |x[i]| (0 for none; NaNs are passed over). The maximum does
 * not depend on the order of comparisons, so lanes give the same value. */
static float peak_magnitude(const float *x, size_t n)
{
    float peak = 0.0f;
    size_t i = 0;
#if defined(__SSE2__)
    const __m128 abs_mask = _mm_castsi128_ps(_mm_set1_epi32(0x7FFFFFFF));
    __m128 p0 = _mm_setzero_ps(), p1 = p0, p2 = p0, p3 = p0;
    for (; i + 16 <= n; i += 16) {
        /* max(a, p) returns p when a is NaN: as `if (a > p) p = a` */
        p0 = _mm_max_ps(_mm_and_ps(_mm_loadu_ps(x + i), abs_mask), p0);
        p1 = _mm_max_ps(_mm_and_ps(_mm_loadu_ps(x + i + 4), abs_mask), p1);
        p2 = _mm_max_ps(_mm_and_ps(_mm_loadu_ps(x + i + 8), abs_mask), p2);
        p3 = _mm_max_ps(_mm_and_ps(_mm_loadu_ps(x + i + 12), abs_mask), p3);
    }
    float lanes[4];
    _mm_storeu_ps(lanes, _mm_max_ps(_mm_max_ps(p0, p1), _mm_max_ps(p2, p3)));
    for (int j = 0; j < 4; j++)
        if (lanes[j] > peak) peak = lanes[j];
#endif
    for (; i < n; i++) {
        float a = fabsf(x[i]);
        if (a > peak) peak = a;
    }
    return peak;
}

/* I w and Q w of the len values at in (len / 2 samples): a float complex
 * times a real is these two products. */
static inline void apply_window(const float *restrict in, const float *restrict w, float *restrict windowed, size_t len)
{
    for (size_t i = 0; i < len; i++) windowed[i] = in[i] * w[i];
}

/* The PSD of the n bins (re, im interleaved), scaled and fft-shifted: bin
 * k goes to (k + n/2) mod n, in two runs (no division per bin). */
static inline void shifted_psd(const float *restrict bins, float *restrict psd, size_t n, float scale)
{
    const size_t half = n / 2;
    for (size_t k = 0; k < half; k++)
        psd[k + half] = (bins[2 * k] * bins[2 * k] + bins[2 * k + 1] * bins[2 * k + 1]) * scale;
    for (size_t k = half; k < n; k++)
        psd[k - half] = (bins[2 * k] * bins[2 * k] + bins[2 * k + 1] * bins[2 * k + 1]) * scale;
}

#if DOP_HAVE_AVX512_PATHS
/* peak_magnitude in AVX registers (the largest is the same in any order,
 * NaN passed over as there), and the two loops above compiled for AVX:
 * products and sums one by one, never fused, so the same bits. */
__attribute__((target("avx"))) static float peak_magnitude_avx(const float *x, size_t n)
{
    const __m256 abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7FFFFFFF));
    __m256 p0 = _mm256_setzero_ps(), p1 = p0, p2 = p0, p3 = p0;
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        p0 = _mm256_max_ps(_mm256_and_ps(_mm256_loadu_ps(x + i), abs_mask), p0);
        p1 = _mm256_max_ps(_mm256_and_ps(_mm256_loadu_ps(x + i + 8), abs_mask), p1);
        p2 = _mm256_max_ps(_mm256_and_ps(_mm256_loadu_ps(x + i + 16), abs_mask), p2);
        p3 = _mm256_max_ps(_mm256_and_ps(_mm256_loadu_ps(x + i + 24), abs_mask), p3);
    }
    float lanes[8];
    _mm256_storeu_ps(lanes, _mm256_max_ps(_mm256_max_ps(p0, p1), _mm256_max_ps(p2, p3)));
    float peak = 0.0f;
    for (int j = 0; j < 8; j++)
        if (lanes[j] > peak) peak = lanes[j];
    const float rest = peak_magnitude(x + i, n - i);
    return rest > peak ? rest : peak;
}

__attribute__((target("avx"))) static void apply_window_avx(const float *in, const float *w, float *windowed, size_t len)
{
    apply_window(in, w, windowed, len);
}

__attribute__((target("avx"))) static void shifted_psd_avx(const float *bins, float *psd, size_t n, float scale)
{
    shifted_psd(bins, psd, n, scale);
}
#endif

/* The frame of the window_len samples at x. */
static int emit_frame(dop_spectrum *s, const float complex *x, dop_spectrum_frame_fn on_frame, void *user)
{
    const size_t n = s->fft_size, len = 2 * s->window_len;
    const float *in = (const float *)x, scale = (float)s->psd_scale;
    float peak;
#if DOP_HAVE_AVX512_PATHS
    if (s->avx) {
        peak = peak_magnitude_avx(in, len);
        apply_window_avx(in, s->window, (float *)s->fft_in, len);
        fftwf_execute(s->plan);
        shifted_psd_avx((const float *)s->fft_out, s->psd, n, scale);
    } else
#endif
    {
        peak = peak_magnitude(in, len);
        apply_window(in, s->window, (float *)s->fft_in, len);
        fftwf_execute(s->plan);
        shifted_psd((const float *)s->fft_out, s->psd, n, scale);
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

/* The buffer holds the `fill` samples from the next window's start up to
 * x[0]. Windows that start in the buffer are completed there; windows that
 * lie inside x are transformed where they are (no copy); what is left over
 * at the end goes to the buffer. */
dop_status dop_spectrum_push(dop_spectrum *s, const float complex *x, size_t n, dop_spectrum_frame_fn on_frame,
                             void *user)
{
    const size_t window = s->window_len, hop = s->hop_len;
    size_t start = 0; /* next window's start in x, once the buffer is used up */
    while (s->fill > 0) {
        size_t take = window - s->fill;
        if (take > n) {
            memcpy(s->buffer + s->fill, x, n * sizeof *x);
            s->fill += n;
            return DOP_OK;
        }
        memcpy(s->buffer + s->fill, x, take * sizeof *x);
        size_t had = s->fill;
        int stop = emit_frame(s, s->buffer, on_frame, user);
        if (hop >= had) { /* the next window starts inside x */
            s->fill = 0;
            start = hop - had;
        } else {
            memmove(s->buffer, s->buffer + hop, (window - hop) * sizeof *s->buffer);
            s->fill = window - hop;
            x += take; /* now in the buffer */
            n -= take;
        }
        if (stop) {
            if (s->fill == 0) goto keep_rest;
            return DOP_ERR_INTERRUPTED;
        }
    }
    while (start + window <= n) {
        int stop = emit_frame(s, x + start, on_frame, user);
        start += hop;
        if (stop) {
            s->fill = 0;
            goto keep_rest;
        }
    }
    memcpy(s->buffer, x + start, (n - start) * sizeof *x);
    s->fill = n - start;
    return DOP_OK;
keep_rest: /* stopped by on_frame with the next window in x: keep its start (the push ends here) */
    if (start < n) {
        size_t rest = n - start < window ? n - start : window - 1;
        memcpy(s->buffer, x + start, rest * sizeof *x);
        s->fill = rest;
    }
    return DOP_ERR_INTERRUPTED;
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

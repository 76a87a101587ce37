/* dopflow stage 2: short-time Fourier transform (FFTW, single precision).
 *
 * Frames of window_ms are taken every hop_ms, weighted by the window,
 * zero-padded to fft_size and transformed. The two-sided power spectral
 * density is delivered fft-shifted: bin k is at f = (k - fft_size/2) * fs /
 * fft_size Hz, so reverse flow (negative f) is below the middle and forward
 * flow above. PSD units: (full scale)^2 / Hz, normalised by fs * sum(w^2) so
 * that sum(P) * df equals the mean power in the window (Welch scaling).
 * Frame m covers samples [m*hop, m*hop + window) and is stamped at its
 * centre. Plans are made at create; push never allocates. */
#ifndef DOPFLOW_SPECTRUM_H
#define DOPFLOW_SPECTRUM_H

#include "dopflow/export.h"

#include <complex.h>
#include <stddef.h>
#include <stdint.h>

#include "dopflow/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum dop_window {
    DOP_WINDOW_HANN = 0,
    DOP_WINDOW_HAMMING,
    DOP_WINDOW_BLACKMAN,
    DOP_WINDOW_GAUSSIAN   /* sigma = window/6 (truncated at +/- 3 sigma) */
} dop_window;

typedef struct dop_spectrum_config {
    double fs_hz;       /* sample rate, Hz */
    double window_ms;   /* analysis window length, ms */
    double hop_ms;      /* frame step, ms (<= window_ms) */
    size_t fft_size;    /* >= window length in samples; 0 = next power of two */
    dop_window window;
} dop_spectrum_config;

/* A completed frame: psd has `bins` values (fft-shifted), peak is the
 * largest |I| or |Q| sample magnitude in the window (for clipping checks). */
typedef struct dop_spectrum_frame {
    int64_t index;
    double time_s;       /* window centre, s from the first pushed sample */
    const float *psd;
    size_t bins;
    float peak;
} dop_spectrum_frame;

typedef int (*dop_spectrum_frame_fn)(const dop_spectrum_frame *frame, void *user);

typedef struct dop_spectrum dop_spectrum;

/* Life: config_default, create, push, reset, destroy. No flush: a frame
 * needs a whole window, so the samples after the last whole window make no
 * frame (a zero-padded tail frame would read as a drop in flow).
 *
 * Hann, 20 ms window, 10 ms hop, FFT size the next power of two. Errors: none. */
DOP_API dop_spectrum_config dop_spectrum_config_default(void);

/* Errors: DOP_ERR_INVALID_ARG (window shorter than 4 samples, hop not in
 * (0, window], fft_size < window), DOP_ERR_FFT, DOP_ERR_NOMEM. */
DOP_API dop_status dop_spectrum_create(const dop_spectrum_config *cfg, dop_spectrum **out, dop_error *err);

/* Errors: none. */
DOP_API size_t dop_spectrum_bins(const dop_spectrum *s);
DOP_API double dop_spectrum_bin_hz(const dop_spectrum *s);     /* fs / fft_size */
DOP_API double dop_spectrum_frame_rate(const dop_spectrum *s); /* frames per second */
DOP_API size_t dop_spectrum_hop_samples(const dop_spectrum *s); /* samples between frames */
/* Half-power half-width of the window's main lobe in FFT bins (Hann: 0.72
 * times fft_size / window length): the spectral broadening the analysis
 * window adds to every frame. */
DOP_API double dop_spectrum_window_hwhm_bins(const dop_spectrum *s);

/* Push samples; on_frame is called for every frame completed. A non-zero
 * return from on_frame stops the push. Never allocates. Errors:
 * DOP_ERR_INTERRUPTED (on_frame returned non-zero). */
DOP_API dop_status dop_spectrum_push(dop_spectrum *s, const float complex *x, size_t n,
                                     dop_spectrum_frame_fn on_frame, void *user);

/* Drop the samples held (as after create). Errors: none. */
DOP_API void dop_spectrum_reset(dop_spectrum *s);
/* NULL is fine. Errors: none. */
DOP_API void dop_spectrum_destroy(dop_spectrum *s);

#ifdef __cplusplus
}
#endif
#endif

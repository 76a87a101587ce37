/* dopflow: the lag-one autocorrelation ("Kasai") mean-frequency estimator
 * (Kasai, Namekawa, Koyano, Omoto, IEEE Trans Sonics Ultrason
 * 1985;32:458-464): f_mean = fs / (2 pi) arg R(1), R(1) = sum_n x[n+1] x*[n].
 *
 * Computed from the frame's power spectrum (Wiener-Khinchin): for a frame
 * of L windowed samples zero-padded to M > L, sum_k P_k e^{j 2 pi f_k / fs}
 * is proportional to R(1) of the windowed samples, exactly (the circular
 * lag-1 product of a zero-padded frame is the linear one). With several
 * gates the averaged spectrum gives the sum of the gates' R(1). White noise
 * adds nothing to R(1) on average, which is the estimator's strength; its
 * weaknesses are the wrap of arg() at +/- fs/2 and the pull of any residual
 * clutter toward 0 Hz. */
#ifndef DOPFLOW_KASAI_H
#define DOPFLOW_KASAI_H

#include "dopflow/export.h"

#include <stddef.h>

#include "dopflow/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dop_kasai dop_kasai;

/* Life: create, mean_hz, destroy. No config struct (two numbers describe
 * the spectra), and no push, flush or reset: mean_hz is a pure function of
 * one frame's spectrum and keeps no state (create only precomputes the
 * phase factors).
 *
 * bins: fft size (even, >= 8); fs_hz: sample rate or PRF. Errors:
 * DOP_ERR_INVALID_ARG (bins odd or < 8, fs_hz not > 0), DOP_ERR_NOMEM. */
DOP_API dop_status dop_kasai_create(size_t bins, double fs_hz, dop_kasai **out, dop_error *err);

/* Mean frequency, Hz in [-fs/2, fs/2), of an fft-shifted PSD of `bins`
 * values (0 when the spectrum is all zero). Never allocates. Errors: none. */
DOP_API double dop_kasai_mean_hz(const dop_kasai *k, const float *psd);

/* NULL is fine. Errors: none. */
DOP_API void dop_kasai_destroy(dop_kasai *k);

#ifdef __cplusplus
}
#endif
#endif

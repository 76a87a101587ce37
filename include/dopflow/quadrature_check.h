/* dopflow: is a stereo recording really a quadrature (I/Q) pair?
 *
 * Some devices write one real Doppler signal to both channels (the second a
 * weak, phase-shifted copy of the first). Read as I + jQ such a file gives a
 * spectrum that is nearly symmetric about 0 Hz and two channels of very
 * different power; a true quadrature pair of Doppler flow has channels of
 * comparable power and a spectrum with the flow on one side.
 *
 * Method (dsp/input/quadrature_check.c): z = L + jR over the first
 * DOP_QUADRATURE_CHECK_SECONDS of the file; Welch averaged power spectrum
 * P(f) (Hann segments of DOP_QUADRATURE_CHECK_NFFT points, 50 % overlap,
 * FFTW single precision). Two measures:
 *   channel ratio  |10 log10(P_L / P_R)|, dB (P = mean square of a channel);
 *   asymmetry      A = mean of |P(f) - P(-f)| / (P(f) + P(-f)) over the
 *                  pairs of bins (f, -f), f != 0, f != fs/2, in which either
 *                  bin exceeds the median bin power by 6 dB (the signal bins);
 *                  each pair counts once, so that strong wall clutter around
 *                  0 Hz does not decide alone. A = 0: a real signal
 *                  (Hermitian spectrum); A = 1: all the power on one side.
 * Not quadrature when channel ratio > DOP_QUADRATURE_MAX_RATIO_DB or
 * A < DOP_QUADRATURE_MIN_ASYMMETRY. */
#ifndef DOPFLOW_QUADRATURE_CHECK_H
#define DOPFLOW_QUADRATURE_CHECK_H

#include <complex.h>
#include <stddef.h>

#include "dopflow/export.h"
#include "dopflow/reader.h"
#include "dopflow/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define DOP_QUADRATURE_CHECK_SECONDS 10.0 /* s of the file examined, from its start */
#define DOP_QUADRATURE_CHECK_NFFT 1024     /* Welch segment length, samples */
#define DOP_QUADRATURE_MAX_RATIO_DB 10.0   /* channel power ratio above this: not I/Q */
#define DOP_QUADRATURE_MIN_ASYMMETRY 0.1   /* spectral asymmetry below this: not I/Q */

typedef struct dop_quadrature_result {
    int checked;             /* 1: measured; 0: not run (not stereo audio, channels chosen,
                                stream, too short, or silent) */
    int is_quadrature;       /* 1 = treat as I/Q (also when not checked) */
    double channel_ratio_db; /* |10 log10(P_L / P_R)|, dB; INFINITY if one channel is silent */
    double asymmetry;        /* A in [0, 1] (see above) */
    double analysed_s;       /* seconds examined */
} dop_quadrature_result;

/* Measure z[0..n) (L = real part, R = imaginary part) sampled at fs_hz.
 * With fewer than DOP_QUADRATURE_CHECK_NFFT samples, or both channels
 * silent, *out says checked = 0, is_quadrature = 1. Errors: DOP_ERR_NOMEM. */
DOP_API dop_status dop_quadrature_measure(const float complex *z, size_t n, double fs_hz, dop_quadrature_result *out,
                                  dop_error *err);

/* Decide the channel mapping of a recording whose mapping was not chosen:
 * when cfg->channels is UNSET and cfg names a stereo audio file (not standard
 * input), open it as I/Q, read its first DOP_QUADRATURE_CHECK_SECONDS through
 * the reader, close it and measure; if it is not quadrature, set
 * cfg->channels = DOP_CHANNELS_LEFT. Anything else leaves cfg untouched and
 * *out unchecked. Errors: those of dop_reader_open / dop_reader_read (the
 * same the analysis would meet), DOP_ERR_NOMEM. */
DOP_API dop_status dop_quadrature_resolve(dop_reader_config *cfg, dop_quadrature_result *out, dop_error *err);

#ifdef __cplusplus
}
#endif
#endif

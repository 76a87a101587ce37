/* Stage 2b: stationary spectral lines (mains hum and its harmonics, a
 * hand-held kit's oscillator leaking into the audio) found and left out.
 *
 * A line is a narrow run of bins (at most DOP_SPECTRAL_LINE_MAX_BINS)
 * whose typical power (a running median per bin, Robbins-Monro quantile
 * tracking) stands at least 10 dB above the typical power of the bins
 * around it, and whose power is deterministic: the median of a bin holding
 * a steady tone is close to its mean (Rician statistics, ratio near 1),
 * while the power of blood or of noise in a bin is the square of a
 * complex Gaussian amplitude (speckle: exponential, median = ln 2 x mean;
 * Mo & Cobbold, IEEE Trans Biomed Eng 1986;33:20). That second test keeps
 * a narrow but random band (steady plug flow, a phantom) from being taken
 * for interference. Lines are looked for every 0.5 s, after 2 s of data,
 * away from the wall filter's stop band (just past it, the leakage of
 * strong echoes of still tissue is steady too), and are left out only
 * where a band of blood signal lies beside them (24 bins whose mean power is
 * 6 dB above the quiet bins'): a steady tone alone, such as a test tone or a string
 * phantom, is the signal.
 *
 * Each frame's spectrum comes back with the bins of every line replaced by
 * the straight line between the frame's own bins just beside it, so that
 * the noise floor, the envelopes, the mean velocity and the beat evidence
 * see the flow and noise around the line, not the line. Without a line the
 * spectrum comes back untouched (the very same buffer). Memory: a few
 * floats per bin; no latency.
 *
 * Life: config_default, create, push (one frame in, the same frame with
 * its lines removed, so no flush), reset, destroy. */
#ifndef DOPFLOW_SPECTRAL_LINES_H
#define DOPFLOW_SPECTRAL_LINES_H

#include "dopflow/export.h"

#include <stddef.h>
#include <stdint.h>

#include "dopflow/status.h"

#define DOP_SPECTRAL_LINE_MAX_BINS 7 /* wider runs are not lines (a Hann window's main lobe is 4 bins) */

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dop_spectral_lines dop_spectral_lines;

typedef struct dop_spectral_lines_config {
    size_t bins;               /* bins per spectrum */
    double frame_rate_hz;      /* spectra per second */
    const uint8_t *eligible;   /* bins that may hold a line (outside the wall filter's stop band); NULL: all; copied */
} dop_spectral_lines_config;

/* bins and frame rate unset (0), every bin eligible. Errors: none. */
DOP_API dop_spectral_lines_config dop_spectral_lines_config_default(void);

/* Errors: DOP_ERR_INVALID_ARG (fewer bins than a line and its
 * surroundings need, frame rate not > 0), DOP_ERR_NOMEM. */
DOP_API dop_status dop_spectral_lines_create(const dop_spectral_lines_config *cfg, dop_spectral_lines **out,
                                             dop_error *err);

/* Feed one power spectrum (cfg.bins values) and get it back without the
 * lines found so far: psd itself when there are none, else a buffer owned
 * by s, valid until the next call. Never allocates. Errors: none. */
DOP_API const float *dop_spectral_lines_push(dop_spectral_lines *s, const float *psd);

/* Bins in lines now (0: none), and frames whose spectrum had a line
 * removed. Errors: none. */
DOP_API size_t dop_spectral_lines_bins(const dop_spectral_lines *s);
DOP_API long long dop_spectral_lines_frames(const dop_spectral_lines *s);

/* Forget the lines and the levels tracked (as after create). Errors: none. */
DOP_API void dop_spectral_lines_reset(dop_spectral_lines *s);
/* NULL is fine. Errors: none. */
DOP_API void dop_spectral_lines_destroy(dop_spectral_lines *s);

#ifdef __cplusplus
}
#endif
#endif

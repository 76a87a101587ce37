/* dopflow: the streaming analysis pipeline.
 *
 *   samples -> wall filter -> STFT -> noise floor -> artifact flags
 *           -> [aliasing: baseline shift, unwrap] -> envelopes (fmax, fmean)
 *           -> velocity (Doppler equation) -> flow -> beat segmentation
 *           -> annotated frames + beats
 *
 * Several gates (depth samples of pulsed-wave IQ): each gate has its own
 * wall filter and STFT, and the frame's power spectrum is the mean of the
 * gates' spectra (a sample volume; averaging G independent speckle patterns
 * divides the variance of each bin by up to G).
 *
 * Push complex samples in blocks of any size; results come out through
 * callbacks. Memory is fixed at create; push never allocates, so a file of
 * any length runs in constant memory. Identical output for any block split.
 *
 * Velocity from Doppler frequency: v = f c / (2 f0 cos(angle)) (m/s, x100
 * for cm/s). Mean velocity: intensity-weighted spectral mean (spatial mean
 * under uniform insonation; see envelope.h) or, with
 * DOP_VMEAN_HALF_MAX, half the maximum envelope (exact for a parabolic
 * profile). Flow: Q = vmean [cm/s] x pi D^2 / 4 [cm^2] x 60 [ml/min]. */
#ifndef DOPFLOW_ANALYSIS_H
#define DOPFLOW_ANALYSIS_H

#include "dopflow/export.h"

#include <complex.h>
#include <stddef.h>

#include "dopflow/acquisition.h"
#include "dopflow/beats.h"
#include "dopflow/doppler.h"
#include "dopflow/envelope.h"
#include "dopflow/noise_floor.h"
#include "dopflow/records.h"
#include "dopflow/spectrum.h"
#include "dopflow/status.h"
#include "dopflow/wall_filter.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum dop_vmean_method {
    DOP_VMEAN_INTENSITY = 0,  /* intensity-weighted spectral mean (default) */
    DOP_VMEAN_HALF_MAX,       /* vmax / 2: parabolic profile assumption */
    DOP_VMEAN_KASAI           /* lag-one autocorrelation phase (Kasai et al., IEEE Trans
                                 Sonics Ultrason 1985;32:458-464); see kasai.h */
} dop_vmean_method;

/* Unwrapping of aliased bands (alias.h). The analysis treats AUTO as OFF;
 * dop_job turns it ON for slow-time IQ input (pulsed-wave, where the PRF
 * is often close to the velocities measured). */
typedef enum dop_unwrap_mode {
    DOP_UNWRAP_AUTO = 0,
    DOP_UNWRAP_OFF,
    DOP_UNWRAP_ON
} dop_unwrap_mode;

/* Gates averaged at most (each has its own filter and FFT state, ~40 kB). */
#define DOP_ANALYSIS_MAX_GATES 4096

/* Diameter as a function of time, mm (NULL = constant acq.diameter_mm). */
typedef double (*dop_diameter_fn)(double time_s, void *user);

typedef struct dop_analysis_config {
    double fs_hz;                      /* sample rate (PRF) of the pushed samples */
    long gates;                        /* complex samples per pulse, averaged as spectra; default 1 */
    dop_acquisition acq;               /* f0, angle, c required; diameter optional */
    double time_offset_s;              /* time of the first pushed sample (for --start) */
    dop_wall_filter_config wall;       /* fs filled in from fs_hz */
    dop_spectrum_config spectrum;      /* fs filled in from fs_hz */
    dop_noise_floor_config noise;      /* frame rate filled in */
    dop_envelope_config envelope;      /* bins, gap, gain filled in */
    dop_beats_config beats;            /* frame rate filled in */
    dop_vmean_method vmean_method;
    double burst_factor;               /* frame floor above tracked floor => burst; default 4 (6 dB) */
    double dropout_factor;             /* frame power below floor / factor => dropout; default 4 */
    double clip_level;                 /* |I| or |Q| at or above this (full scale 1) => saturated;
                                          default 0.999; INFINITY: no check (floating-point input,
                                          which is not limited to full scale) */
    double min_nyquist_cm_s;           /* refuse when Nyquist velocity is lower; default 20 */
    double baseline_shift_cm_s;        /* zero line moved: range [-Vn + s, Vn + s); default 0 */
    dop_unwrap_mode unwrap;            /* default AUTO (= OFF here) */
    dop_diameter_fn diameter_fn;
    void *diameter_user;
} dop_analysis_config;

typedef struct dop_analysis_output {
    /* Spectrum of every frame as computed (before beat annotation), with
     * the noise level; for spectrogram files. May be NULL. */
    int (*on_spectrum)(const dop_spectrum_frame *frame, double noise, void *user);
    int (*on_frame)(const dop_frame *frame, void *user); /* annotated; may be NULL */
    int (*on_beat)(const dop_beat *beat, void *user);    /* may be NULL */
    void *user;
} dop_analysis_output;

typedef struct dop_analysis dop_analysis;

/* Life: config_default, create, push, flush, reset, destroy.
 *
 * Defaults of every stage; fs and acq unset. Errors: none. */
DOP_API dop_analysis_config dop_analysis_config_default(void);

/* Errors: DOP_ERR_METADATA (acquisition), DOP_ERR_ALIASING (Nyquist
 * velocity c fs / (4 f0 cos angle) below min_nyquist_cm_s), and those of
 * each stage's create (DOP_ERR_INVALID_ARG, DOP_ERR_FFT, DOP_ERR_NOMEM),
 * DOP_ERR_FORMAT (sample rate not > 0). */
DOP_API dop_status dop_analysis_create(const dop_analysis_config *cfg, const dop_analysis_output *output,
                                       dop_analysis **out, dop_error *err);

/* Velocity of each spectrum bin, cm/s (bins values); valid after create.
 * The spectra delivered to on_spectrum are the physical (wrapped) ones.
 * These accessors and the counters below cannot fail (Errors: none). */
DOP_API const float *dop_analysis_velocity_axis(const dop_analysis *a);
DOP_API size_t dop_analysis_bins(const dop_analysis *a);
DOP_API double dop_analysis_frame_period_s(const dop_analysis *a);
DOP_API double dop_analysis_nyquist_cm_s(const dop_analysis *a);
DOP_API double dop_analysis_cm_s_per_hz(const dop_analysis *a);

/* Push n pulses: n x gates samples, pulse-major (x[p * gates + g]). Never
 * allocates. Errors: DOP_ERR_INTERRUPTED (an output callback returned non-zero). */
DOP_API dop_status dop_analysis_push(dop_analysis *a, const float complex *x, size_t n, dop_error *err);
/* Frames whose band was unwrapped past the Nyquist limit so far. */
DOP_API long long dop_analysis_unwrapped_frames(const dop_analysis *a);
/* Frames whose spectrum had a stationary spectral line (hum, interference)
 * left out so far (spectral_lines.h). */
DOP_API long long dop_analysis_spectral_line_frames(const dop_analysis *a);
/* Frames without periodic cardiac evidence so far (no beats there; see
 * beats.h), and the periodicity z of the most periodic window. */
DOP_API long long dop_analysis_not_pulsatile_frames(const dop_analysis *a);
DOP_API double dop_analysis_best_periodicity(const dop_analysis *a);
/* End of data: the beats still pending are fixed and the frames held
 * emitted. Errors: DOP_ERR_INTERRUPTED (an output callback returned non-zero). */
DOP_API dop_status dop_analysis_flush(dop_analysis *a, dop_error *err);
/* Every stage back to its state after create (nothing is emitted): the
 * next push starts a new recording with the same configuration. Errors: none. */
DOP_API void dop_analysis_reset(dop_analysis *a);
/* NULL is fine. Errors: none. */
DOP_API void dop_analysis_destroy(dop_analysis *a);


#ifdef __cplusplus
}
#endif
#endif

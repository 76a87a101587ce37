/* dopflow: colour-flow (ensemble) velocity estimation, what a scanner's
 * colour mode does for every pixel of the image.
 *
 * A colour frame fires E pulses ("shots", the ensemble, typically 8-16) down
 * each beam line at the pulse repetition frequency PRF; each depth sample of
 * the line then has a slow-time ensemble x[0..E-1] of complex baseband values.
 * Per pixel:
 *  1. polynomial-regression wall filter of order P: the projection of x on
 *     the polynomials of degree 0..P in slow time (stationary and slowly
 *     moving tissue) is subtracted, y = x - B B^H x, with B an orthonormal
 *     basis (Gram-Schmidt on 1, t, t^2, ... over the E shots, built once at
 *     create). Hoeks, van de Vorst, Dabekaussen, Brands, Reneman, "An
 *     efficient algorithm to remove low frequency Doppler signals in digital
 *     Doppler systems", Ultrasonic Imaging 1991;13:135-144; Bjaerum, Torp,
 *     Kristoffersen, "Clutter filter design for ultrasound color flow
 *     imaging", IEEE Trans Ultrason Ferroelectr Freq Control 2002;49:204-216.
 *     Unlike an IIR filter it has no start-up transient, which matters with
 *     E = 12 shots;
 *  2. lag-one autocorrelation R1 = sum_n y[n+1] conj(y[n]) and power
 *     R0 = sum_n |y[n]|^2 (Kasai, Namekawa, Koyano, Omoto, IEEE Trans Sonics
 *     Ultrason 1985;32:458-464), optionally summed over a centred window of
 *     `axial_samples` depth samples (the averaging of the 2-D
 *     autocorrelation of Loupas, Powers, Gill, IEEE Trans Ultrason
 *     Ferroelectr Freq Control 1995;42:672-688, without its RF-frequency
 *     term);
 *  3. mean Doppler phase per shot phi = arg R1 (rad, (-pi, pi]), and when the
 *     PRF and the transmit frequency are known the velocity
 *        v = c PRF phi / (4 pi f0 cos(angle))          (cm/s)
 *     (the Doppler equation with f_D = PRF phi / (2 pi)). |phi| = pi is the
 *     Nyquist (aliasing) limit v = c PRF / (4 f0 cos(angle)).
 *
 * Sign: positive phase = positive Doppler shift = motion toward the probe
 * (the convention of IQ demodulation by exp(-j 2 pi f0 t)).
 *
 * Known limits: the filter attenuates flow whose phase step is small (see
 * dop_ensemble_wall_gain; order 1, E = 12: -10.8 dB at 0.25 rad per shot,
 * -2 dB at 0.5) and biases it (order 1, E = 12: <= 0.016 rad for steps of
 * 0.75 to 3 rad, up to 0.06 rad below); it also colours white noise, whose
 * output has E[R1] = -sigma^2 sum_n (B B^T)[n+1][n] (-1.67 sigma^2 for
 * order 1, E = 12): noise-only pixels read near +/- pi and weak flow is
 * pulled toward the Nyquist phase, so a display should gate pixels on
 * power (as scanners do) before trusting the phase.
 *
 * The object holds no state between lines, so there is no flush or reset:
 * dop_ensemble_push() is a pure function of its input (never allocates). */
#ifndef DOPFLOW_ENSEMBLE_H
#define DOPFLOW_ENSEMBLE_H

#include "dopflow/export.h"

#include <complex.h>
#include <stddef.h>

#include "dopflow/acquisition.h"
#include "dopflow/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define DOP_ENSEMBLE_MAX_SHOTS 1024   /* largest ensemble accepted */
#define DOP_ENSEMBLE_MAX_DEPTH 65536  /* most depth samples per line */
#define DOP_ENSEMBLE_FLOOR_DB (-300.0) /* power reported for an all-zero pixel */

typedef struct dop_ensemble_config {
    size_t ensemble;      /* E: shots per pixel, [2, DOP_ENSEMBLE_MAX_SHOTS] (default 12) */
    int wall_order;       /* P: regression order, -1 (no wall filter) to E - 2; 0 removes
                             the mean, 1 mean and linear drift, ... (default 1) */
    size_t axial_samples; /* odd window of depth samples summed into R0, R1, centred on
                             each pixel and cut at the line's ends; 1 = none (default 1) */
    size_t max_depth;     /* most depth samples per push, [1, DOP_ENSEMBLE_MAX_DEPTH]
                             (default 1024); sizes the scratch memory */
    double prf_hz;        /* pulse repetition frequency, Hz; NAN = unknown (default):
                             phase and power only, velocity NAN */
    dop_acquisition acq;  /* f0_hz (NAN = unknown: no velocity), angle_deg beam-to-flow
                             (default 0: axial velocity, as a colour display shows it),
                             c_m_s (default 1540); checked by dop_acquisition_validate
                             when both f0 and the PRF are known */
} dop_ensemble_config;

/* Estimates for one pixel (one depth sample of a line). */
typedef struct dop_ensemble_pixel {
    float phase_rad;     /* arg R1 after the wall filter, (-pi, pi]; 0 when R1 = 0 */
    float velocity_cm_s; /* c PRF phase / (4 pi f0 cos angle); NAN when PRF or f0 unknown */
    float power_db;      /* 10 log10(R0 / E) after the wall filter: mean power per shot,
                            dB re full scale^2 (int16 full scale = 1.0); floor
                            DOP_ENSEMBLE_FLOOR_DB */
    float clutter_db;    /* the same before the wall filter (tissue + blood) */
    float correlation;   /* |R1| / R0 with both as means per product, [0, ~1]: 1 for a
                            pure tone, ~0 for white noise (Kasai's spectral width is
                            PRF/(2 pi) sqrt(2 (1 - correlation))); 0 when R0 = 0 */
} dop_ensemble_pixel;

typedef struct dop_ensemble dop_ensemble;

/* Velocity per radian of lag-one phase, cm/s per rad: the Doppler equation
 * (dop_doppler_cm_s_per_hz, analysis.h) at f_D = PRF phase / (2 pi), so
 * v = c PRF phase / (4 pi f0 cos angle) (Kasai et al. 1985). */
DOP_API double dop_ensemble_cm_s_per_rad(double prf_hz, const dop_acquisition *acq);

/* E = 12, P = 1, axial window 1, max depth 1024, PRF and f0 unknown,
 * angle 0, c 1540 m/s. */
DOP_API dop_ensemble_config dop_ensemble_config_default(void);

/* Builds the orthonormal wall-filter basis and the scratch memory.
 * Errors: DOP_ERR_INVALID_ARG (ensemble, order, window or depth out of range,
 * PRF not positive), DOP_ERR_METADATA (f0, angle or c not physical),
 * DOP_ERR_NOMEM. */
DOP_API dop_status dop_ensemble_create(const dop_ensemble_config *cfg, dop_ensemble **out, dop_error *err);

/* One beam line: `block` holds depth x E samples, depth-major
 * (block[d * E + n] = shot n of depth sample d); out receives `depth` pixels.
 * Never allocates. Errors: DOP_ERR_INVALID_ARG (depth 0 or above max_depth,
 * NULL pointers). */
DOP_API dop_status dop_ensemble_push(dop_ensemble *e, const float complex *block, size_t depth, dop_ensemble_pixel *out,
                                     dop_error *err);

/* The wall filter alone on one ensemble of E samples (in == out is fine):
 * out = in - B B^H in, computed in double. Never allocates. */
DOP_API void dop_ensemble_wall_filter(dop_ensemble *e, const float complex *in, float complex *out);

/* Power gain (0..1) of the wall filter for a complex exponential of
 * `phase_per_shot_rad` (= 2 pi f_D / PRF): ||(I - B B^H) s||^2 / ||s||^2, the
 * regression filter's frequency response as defined by Bjaerum et al. 2002
 * (the filter is not time-invariant, so this is the response to a tone
 * spanning the ensemble). 0 at DC when P >= 0; 1 everywhere when P = -1. */
DOP_API double dop_ensemble_wall_gain(const dop_ensemble *e, double phase_per_shot_rad);

/* The configuration in use. */
DOP_API const dop_ensemble_config *dop_ensemble_get_config(const dop_ensemble *e);

DOP_API void dop_ensemble_destroy(dop_ensemble *e); /* NULL is fine */

#ifdef __cplusplus
}
#endif
#endif

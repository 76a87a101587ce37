/* dopflow: the heart period from the periodicity of several beat features
 * (used by beats.h; public so that it can be tested on its own).
 *
 * Each feature's onset strength (the rise of a trace: maximum or mean
 * velocity, excess power; or the spectral flux) over a window of a few
 * seconds is standardised and autocorrelated. Its period is the lag of the
 * highest autocorrelation peak between 60/max_hr and 60/min_hr (weighted by
 * a tempo prior and by how far the peak repeats at twice its lag), or half
 * of it when the half lag carries at least 0.9 of that peak and a peak
 * stands at three half lags (a true period always has a peak at twice
 * itself, a second click per cycle does not make a peak at half the period
 * as high). The peak's significance is
 * z = r sqrt(n / tau): r against the standard error of an autocorrelation
 * of n samples whose own correlation length is tau (Bartlett; tau = 1 + 2
 * sum of r(k) up to its first zero). Features are then combined with
 * weights (z_k - z_best / 2)^2 (zero for a feature with less than half the
 * best significance): the most reliable evidence dominates and unreliable
 * evidence is left out, after the signal-quality driven selection of
 * Wadehn & Heldt (IEEE EMBC 2018) and the periodicity scoring of beat
 * trackers (Ellis, J New Music Res 2007;36:51-60) and fetal Doppler heart
 * rate monitors (autocorrelation of the Doppler envelope, e.g. Lawson et
 * al., Br J Obstet Gynaecol 1983;90:1183). The combination's own
 * autocorrelation gives the period and the significance z; the window is
 * pulsatile when z >= z_min. The period must be a lag of every feature that
 * is periodic on its own (z >= z_min): a lag that is half the period of
 * one of them (its autocorrelation there below half its peak at twice the
 * lag) is doubled. Two even valve clicks per cycle make the flux periodic
 * at twice the heart rate, the velocity traces rise once per cycle.
 * A period must also be corroborated: where two or more features vary, the
 * second most significant of them at the period (its own autocorrelation
 * peak within 10 % of the lag) must reach CORROBORATION_SHARE x z_min,
 * unless the period's own z is at least STANDS_ALONE_SHARE x z_min (a
 * clean click train; chance does not reach that far). A
 * heart cycle moves the velocities and the power or the flux together;
 * the speckle of steady flow gives each feature chance peaks of its own
 * at unrelated lags. z is the largest of many lags' values, so one
 * feature's chance peak passes z_min now and then (in 17 of 40 simulated
 * 20 s steady-flow recordings, twice running, before this rule); two
 * features' chance peaks rarely meet at one lag (3 of those 40 after). */
#ifndef DOPFLOW_BEAT_TEMPO_H
#define DOPFLOW_BEAT_TEMPO_H

#include "dopflow/export.h"

#include <stddef.h>

#include "dopflow/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define DOP_TEMPO_FEATURES 4   /* vmax trace, vmean trace, excess power, flux */

typedef struct dop_tempo_config {
    double rate_hz;            /* samples per second of the onset strengths */
    double min_hr_bpm;         /* longest period 60/min_hr; default 30 */
    double max_hr_bpm;         /* shortest period 60/max_hr; default 220 */
    double z_min;              /* pulsatile when z >= z_min; default 3 */
    size_t max_samples;        /* longest window, samples */
} dop_tempo_config;

typedef struct dop_tempo_estimate {
    double period_s;                        /* NAN when no peak was found */
    double periodicity;                     /* autocorrelation at the period, -1..1 */
    double z;                               /* significance of that peak */
    int pulsatile;                          /* z >= z_min, corroborated or standing alone (above) */
    double feature_z[DOP_TEMPO_FEATURES];   /* each feature's own significance */
    double corroboration_z;                 /* the second largest feature significance at the
                                               period (NAN with fewer than two features varying) */
    double weight[DOP_TEMPO_FEATURES];      /* of the standardised onset strengths */
    double mean[DOP_TEMPO_FEATURES], sd[DOP_TEMPO_FEATURES]; /* over the window */
} dop_tempo_estimate;

typedef struct dop_tempo dop_tempo;

/* Life: config_default, create, estimate_window, destroy. No push, flush
 * or reset: the caller (beats.h) keeps the sliding window of onsets, and
 * estimate_window is a pure function of the window it is given (create
 * only sizes the work buffers), so nothing carries from one call to the next.
 *
 * Rate and window unset (0); heart rate 30 to 220 bpm; z_min 3. Errors: none. */
DOP_API dop_tempo_config dop_tempo_config_default(void);

/* Errors: DOP_ERR_INVALID_ARG (rate not > 0, HR range empty, no samples),
 * DOP_ERR_NOMEM. */
DOP_API dop_status dop_tempo_create(const dop_tempo_config *cfg, dop_tempo **out, dop_error *err);

/* onset[k][i], i < n <= max_samples: the window. Never allocates. Errors: none. */
DOP_API void dop_tempo_estimate_window(dop_tempo *t, const double *const onset[DOP_TEMPO_FEATURES], size_t n,
                               dop_tempo_estimate *out);

/* NULL is fine. Errors: none. */
DOP_API void dop_tempo_destroy(dop_tempo *t);

#ifdef __cplusplus
}
#endif
#endif

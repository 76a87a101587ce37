/* dopflow: simulated quadrature Doppler recordings whose true velocities,
 * flow and beats are known.
 *
 * The blood signal is band-limited complex Gaussian noise whose power
 * spectrum follows the instantaneous distribution of velocities over the
 * vessel cross-section (the stochastic model of the Doppler signal from
 * blood: Mo & Cobbold, IEEE Trans Biomed Eng 1992;39:450-461; spectral
 * synthesis in short overlapped blocks as in Kerr & Hunt, Ultrasound Med
 * Biol 1992;18:861-872). Uniform insonation of the lumen makes the power at
 * each Doppler frequency proportional to the cross-section area moving at
 * the corresponding velocity (f = 2 f0 v cos(angle) / c), so the power-
 * weighted mean frequency is the spatial-mean velocity and the upper edge
 * follows the centreline velocity. Wall and tissue clutter, white noise,
 * probe-motion artifacts of massage, dropouts and clipping are added on
 * request (see datasets/README.md for the spec format and every default).
 *
 * With model = DOP_SIM_MODEL_SCATTERERS the blood signal is instead the sum
 * of the echoes of point scatterers moving with a Womersley or power-law
 * velocity field through a Gaussian-beam, gated sample volume, and massage
 * displaces a tissue layer: a second model, independent of the spectral
 * picture the estimators assume (dsp/sim/sim_scatterers.c).
 *
 * Units: velocities cm/s (positive = toward the probe = positive Doppler
 * frequency), times s, frequencies Hz, diameters mm, flow ml/min, powers
 * relative to the nominal blood power (= 1 before output scaling).
 *
 * Life of the generator: dop_sim_config_default() (or a spec parsed from
 * JSON), dop_sim_create() (all allocation, FFT planning, beat schedule and
 * truth), dop_sim_generate() (pull samples, never allocates), dop_sim_reset()
 * (start again: the same samples), dop_sim_destroy(). dop_sim_write() does
 * all of it and writes the WAV, sidecar and truth files. */
#ifndef DOPFLOW_SIMULATE_H
#define DOPFLOW_SIMULATE_H

#include "dopflow/export.h"

#include <complex.h>
#include <stddef.h>
#include <stdint.h>

#include "dopflow/status.h"
#include "dopflow/summary.h"

#ifdef __cplusplus
extern "C" {
#endif

#define DOP_SIM_MAX_BUMPS 8
#define DOP_SIM_MAX_DROPOUTS 32
#define DOP_SIM_MAX_EPOCHS 16
#define DOP_SIM_NAME_MAX 32

/* Truth rows are interval averages over this step. */
#define DOP_SIM_TRUTH_STEP_S 0.01

/* Velocity profile u(r) = u_c (1 - (r/R)^n) over the lumen (quasi-steady:
 * the whole profile scales with u_c(t), also in reverse flow), or
 * Womersley's oscillatory-flow solution (scatterer model only). */
typedef enum dop_sim_profile {
    DOP_SIM_PROFILE_PARABOLIC = 0, /* n = 2: mean = u_c / 2 */
    DOP_SIM_PROFILE_POWER_LAW,     /* n = profile_n in [2, 50]: mean = u_c n / (n + 2) */
    DOP_SIM_PROFILE_PLUG,          /* n -> infinity: mean = u_c */
    DOP_SIM_PROFILE_WOMERSLEY      /* each harmonic of the waveform with its own profile
                                      (Womersley, J Physiol 1955;127:553-563); scatterers only */
} dop_sim_profile;

/* How the blood signal is made. */
typedef enum dop_sim_model {
    DOP_SIM_MODEL_SPECTRAL = 0,    /* shaped Gaussian noise from the velocity distribution (default) */
    DOP_SIM_MODEL_SCATTERERS       /* point scatterers moving through a sample volume (dsp/sim/sim_scatterers.c) */
} dop_sim_model;

/* Where the sample volume of the scatterer model sits in the vessel. */
typedef enum dop_sim_volume {
    DOP_SIM_VOLUME_VESSEL = 0,     /* gate and beam wider than the lumen: the whole cross-section */
    DOP_SIM_VOLUME_CENTRE,         /* a small volume on the axis */
    DOP_SIM_VOLUME_OFF_CENTRE      /* a small volume offset_mm from the axis (deeper) */
} dop_sim_volume;

/* Scatterer model parameters (ignored by the spectral model). Sizes NAN =
 * the default of the volume type (see datasets/README.md). */
typedef struct dop_sim_scatterers {
    dop_sim_volume volume;
    size_t count;                  /* scatterers in the simulated segment, [100, 200000] */
    double beam_width_mm;          /* -6 dB (amplitude) width of the Gaussian beam across, (0, 50] */
    double gate_mm;                /* gate length along the beam, (0, 100] */
    double offset_mm;              /* OFF_CENTRE: distance of the volume centre from the axis, [0, R) */
    double viscosity_mpa_s;        /* blood dynamic viscosity, [1, 20] mPa s */
    double density_kg_m3;          /* blood density, [900, 1200] kg/m^3 */
    size_t harmonics;              /* Fourier harmonics of the waveform driving the profile, [1, 64] */
    double massage_velocity_mm_s;  /* peak tissue velocity of a massage stroke or tap, [0, 500];
                                      NAN = by artifact type (5, 10, 50 mm/s) */
} dop_sim_scatterers;

typedef enum dop_sim_format {
    DOP_SIM_FORMAT_PCM16 = 0,      /* 16-bit integer WAV */
    DOP_SIM_FORMAT_FLOAT           /* 32-bit float WAV */
} dop_sim_format;

typedef enum dop_sim_artifact_type {
    DOP_SIM_ARTIFACT_NONE = 0,
    DOP_SIM_ARTIFACT_EFFLEURAGE,   /* slow gliding strokes: low-level low-frequency thumps */
    DOP_SIM_ARTIFACT_PETRISSAGE,   /* kneading: stronger, wider low-frequency thumps */
    DOP_SIM_ARTIFACT_TAPOTEMENT    /* percussion: broadband bursts of 20-40 ms, several per second */
} dop_sim_artifact_type;

/* One piece of a beat's velocity template, in beat phase [0, 1]: rises as
 * sin^2 from `start` to `peak`, falls as cos^2 from `peak` to `end`. */
typedef struct dop_sim_bump {
    double amplitude;              /* relative units, may be negative (reverse flow) */
    double start, peak, end;       /* 0 <= start <= peak <= end <= 1, start < end */
} dop_sim_bump;

/* Spatial-mean velocity over one beat, in relative units; scaled at run
 * time so that its average over the beat is the target mean velocity. */
typedef struct dop_sim_waveform {
    char name[DOP_SIM_NAME_MAX];   /* "triphasic", "exercise", "constant" or "custom" */
    double baseline;
    size_t n_bumps;
    dop_sim_bump bumps[DOP_SIM_MAX_BUMPS];
} dop_sim_waveform;

/* Built-in waveforms: "triphasic" (resting peripheral artery, high
 * resistance: systolic peak, early-diastolic reverse flow, small late
 * forward wave), "exercise" (low resistance: broader systole, forward flow
 * through diastole), "constant" (no pulsation). Errors: DOP_ERR_INVALID_ARG
 * for another name. */
DOP_API dop_status dop_sim_waveform_builtin(const char *name, dop_sim_waveform *out, dop_error *err);

/* Average of the template over one beat (relative units). */
DOP_API double dop_sim_waveform_mean(const dop_sim_waveform *w);

/* Haemodynamic state: before the event (or throughout) and after it. */
typedef struct dop_sim_state {
    dop_sim_waveform waveform;
    double mean_velocity_cm_s;     /* target time-averaged spatial-mean velocity */
    double heart_rate_bpm;         /* mean heart rate, [20, 250] */
} dop_sim_state;

typedef struct dop_sim_artifact {
    dop_sim_artifact_type type;
    double start_s, end_s;         /* active span, s from file start */
    double level_db;               /* artifact power during a stroke/burst re nominal blood power */
    double rate_hz;                /* strokes or taps per second */
    double duration_ms;            /* length of a stroke or burst */
    double bandwidth_hz;           /* rms bandwidth of low-frequency thumps (effleurage, petrissage) */
    double motion_mm_s;            /* peak probe-motion velocity, moves the clutter */
} dop_sim_artifact;

/* Defaults of an artifact type (start 0, end infinity). */
DOP_API dop_sim_artifact dop_sim_artifact_default(dop_sim_artifact_type type);
DOP_API const char *dop_sim_artifact_name(dop_sim_artifact_type type);

typedef struct dop_sim_dropout {
    double start_s, duration_s;    /* blood, clutter and artifacts vanish; noise remains */
} dop_sim_dropout;

typedef struct dop_sim_config {
    uint64_t seed;                 /* same config and seed: the same samples, byte for byte */
    double duration_s;             /* (0, 3600] */
    double fs_hz;                  /* sample rate (IQ output: PRF), integer Hz in [1000, 192000] */
    dop_sim_format format;
    long gates;                    /* gates (depth samples) per pulse, [1, 256]; IQ outputs only.
                                      Each gate sees the same flow with its own speckle and noise */
    unsigned realisation;          /* speckle/noise realisation (gate) 0..; 0 = the recording's own */

    double f0_hz, angle_deg, c_m_s;          /* acquisition (written to the sidecar) */
    double diameter_mm;                      /* vessel inner diameter, constant */
    dop_sim_model model;
    dop_sim_scatterers scat;                 /* model SCATTERERS only */
    dop_sim_profile profile;
    double profile_n;                        /* for POWER_LAW */

    dop_sim_state rest;                      /* before the event */
    int has_event;                           /* step change at onset_s */
    double onset_s;
    dop_sim_state after;                     /* target after the event */
    double tau_s;                            /* first-order time constant of the flow level, s */
    double tau_shape_s;                      /* of the waveform blend rest -> after, s */
    double tau_hr_s;                         /* of the heart rate, s */

    double hrv_percent;                      /* SD of beat-to-beat RR jitter, % of RR */
    double rsa_percent;                      /* respiratory sinus arrhythmia amplitude, % of RR */
    double respiration_hz;                   /* breathing rate (RSA, tissue motion) */

    size_t block;                            /* synthesis hop, samples: power of two in [32, 4096] */
    double broadening_percent;               /* intrinsic spectral broadening, sigma in % of f */
    double broadening_hz;                    /* extra constant broadening sigma, Hz */

    double clutter_db;                       /* clutter-to-blood power, dB; NAN = no clutter */
    double wall_velocity_mm_s;               /* peak radial wall velocity */
    double wall_fraction;                    /* share of clutter power from the moving walls */
    double tissue_motion_mm;                 /* respiratory tissue displacement amplitude */

    double snr_db;                           /* blood power / noise power over the full band fs; NAN = none */

    dop_sim_artifact artifact;
    size_t n_dropouts;
    dop_sim_dropout dropouts[DOP_SIM_MAX_DROPOUTS];

    double headroom_db;                      /* output: peak this far below full scale */
    double saturation_db;                    /* > 0: drive peaks this far above full scale and clip */

    int blood, clutter, noise, artifacts;    /* component switches (1 = present) */

    size_t n_epochs;
    dop_epoch epochs[DOP_SIM_MAX_EPOCHS];    /* truth per epoch (file time) */
} dop_sim_config;

/* 10 s at 12500 Hz, 5 MHz, 60 degrees, 1540 m/s, 4 mm parabolic, triphasic
 * 10 cm/s at 65 bpm, no event, HRV 3 %, RSA 2 %, block 128, broadening 4 %,
 * no clutter, no noise, no artifact, headroom 1 dB, all components on. */
DOP_API dop_sim_config dop_sim_config_default(void);

/* Scatterer-model defaults: VESSEL, 2000 scatterers, sizes by volume type
 * (NAN), 3.5 mPa s, 1060 kg/m^3, 16 harmonics. */
DOP_API dop_sim_scatterers dop_sim_scatterers_default(void);

/* Check every field; the message names the spec key (e.g. "vessel.diameter_mm
 * = -3 must be in (0, 100] mm"). Errors: DOP_ERR_INVALID_ARG. */
DOP_API dop_status dop_sim_config_validate(const dop_sim_config *cfg, dop_error *err);

/* Mean / centreline velocity of the profile: 1/2, n/(n+2) or 1; NAN for
 * Womersley (the ratio changes through the beat). */
DOP_API double dop_sim_profile_mean_ratio(const dop_sim_config *cfg);

/* Nyquist velocity c fs / (4 f0 cos(angle)), cm/s. */
DOP_API double dop_sim_nyquist_cm_s(const dop_sim_config *cfg);

/* ---- Spec files (JSON, see datasets/README.md) ---- */

typedef enum dop_sim_spec_kind {
    DOP_SIM_SPEC_RECORDING = 0,
    DOP_SIM_SPEC_COHORT
} dop_sim_spec_kind;

/* Parse a recording spec. Unknown keys, wrong types, unknown enum values
 * and values out of range are rejected with a message naming the key.
 * `name` labels messages (file name). Errors: DOP_ERR_FORMAT (any problem
 * with the spec's content, including malformed JSON). */
DOP_API dop_status dop_sim_spec_parse(const char *json_text, const char *name, dop_sim_config *cfg, dop_error *err);
/* Same from a file; DOP_ERR_IO when it cannot be read. */
DOP_API dop_status dop_sim_spec_load(const char *path, dop_sim_config *cfg, dop_error *err);
/* Whether a spec file is a recording or a cohort (top-level "kind"). */
DOP_API dop_status dop_sim_spec_kind_of(const char *path, dop_sim_spec_kind *kind, dop_error *err);

/* ---- Generator ---- */

typedef struct dop_sim dop_sim;

/* One truth row: averages over [t - step/2, t + step/2) of the waveform
 * as synthesised, t = time_s. */
typedef struct dop_sim_truth_row {
    double time_s;
    double mean_velocity_cm_s;       /* spatial mean over the cross-section */
    double centreline_velocity_cm_s; /* maximum over the cross-section */
    double flow_ml_min;              /* mean x pi D^2/4 x 60 */
    double diameter_mm;
    double heart_rate_bpm;           /* 60 / RR of the beat in progress */
} dop_sim_truth_row;

typedef struct dop_sim_beat {
    int64_t index;
    double start_s, end_s;           /* onset of this beat and of the next */
} dop_sim_beat;

typedef struct dop_sim_epoch_truth {
    char label[DOP_EPOCH_LABEL_MAX];
    double start_s, end_s;
    double mean_velocity_cm_s;       /* time average of the spatial mean */
    double tamax_cm_s;               /* time average of the centreline velocity */
    double flow_ml_min;
    double heart_rate_bpm;           /* time average of the instantaneous heart rate */
    double beats_heart_rate_bpm;     /* 60 / mean RR of beats whose onset lies in the epoch */
    int64_t n_beats;
} dop_sim_epoch_result;

/* Errors: those of dop_sim_config_validate, DOP_ERR_NOMEM, DOP_ERR_FFT. */
DOP_API dop_status dop_sim_create(const dop_sim_config *cfg, dop_sim **out, dop_error *err);

/* Total samples of the recording. */
DOP_API int64_t dop_sim_length(const dop_sim *sim);

/* Next samples, unscaled (nominal blood power 1). *count = written, 0 at
 * the end. Any split of the calls gives the same samples. Never allocates. */
DOP_API void dop_sim_generate(dop_sim *sim, float complex *out, size_t capacity, size_t *count);

/* Back to the first sample (the same samples follow). */
DOP_API void dop_sim_reset(dop_sim *sim);

/* Truth, available right after create. Pointers valid until destroy. */
DOP_API const dop_sim_truth_row *dop_sim_truth(const dop_sim *sim, size_t *count);
DOP_API const dop_sim_beat *dop_sim_beats(const dop_sim *sim, size_t *count);
/* Truth over [start_s, end_s) computed sample by sample. Errors:
 * DOP_ERR_INVALID_ARG (span empty or outside the recording). */
DOP_API dop_status dop_sim_epoch_truth(const dop_sim *sim, const char *label, double start_s, double end_s,
                                       dop_sim_epoch_result *out, dop_error *err);
/* Largest |centreline velocity| of the recording, cm/s. */
DOP_API double dop_sim_peak_velocity_cm_s(const dop_sim *sim);

/* Nominal component powers (relative to blood = 1; 0 when absent). */
typedef struct dop_sim_powers {
    double blood, clutter, noise;
} dop_sim_powers;
DOP_API dop_sim_powers dop_sim_get_powers(const dop_sim *sim);

DOP_API void dop_sim_destroy(dop_sim *sim); /* NULL is fine */

/* ---- Writer ---- */

typedef struct dop_sim_write_report {
    int64_t samples;
    double scale;                    /* full scale per simulation unit (blood rms = scale) */
    double peak;                     /* largest |I| or |Q| before scaling */
    int64_t clipped;                 /* samples clipped (I or Q) */
    double peak_velocity_cm_s;
    double nyquist_cm_s;
} dop_sim_write_report;

/* Write OUT.wav (stereo: left I, right Q), OUT.json (sidecar),
 * OUT.truth.csv, OUT.beats.csv and OUT.truth.json, each atomically. `spec`
 * (may be NULL) is echoed into OUT.truth.json. Errors: those of create,
 * DOP_ERR_IO. On error no output file is left behind. */
DOP_API dop_status dop_sim_write(const dop_sim_config *cfg, const char *wav_path, const char *spec_json,
                                 dop_sim_write_report *report, dop_error *err);

/* ---- Cohorts (several subjects x arteries x conditions) ---- */

typedef struct dop_sim_cohort dop_sim_cohort;

typedef struct dop_sim_cohort_item {
    char subject[DOP_SIM_NAME_MAX];
    char artery[DOP_SIM_NAME_MAX];
    char condition[DOP_SIM_NAME_MAX];
    char file[3 * DOP_SIM_NAME_MAX + 8]; /* relative WAV path */
    double onset_s;                      /* event onset, s from file start */
    dop_sim_config config;
    const char *spec_json;               /* resolved recording spec */
} dop_sim_cohort_item;

/* Load a cohort spec and draw every subject's values (deterministic by the
 * cohort seed). Errors: DOP_ERR_IO, DOP_ERR_FORMAT, DOP_ERR_INVALID_ARG
 * (including a recording whose peak velocity comes closer to Nyquist than
 * the spec's max_nyquist_fraction allows). */
DOP_API dop_status dop_sim_cohort_load(const char *path, dop_sim_cohort **out, dop_error *err);
DOP_API size_t dop_sim_cohort_count(const dop_sim_cohort *cohort);
DOP_API const dop_sim_cohort_item *dop_sim_cohort_item_at(const dop_sim_cohort *cohort, size_t i);

/* Called before each recording; non-zero return stops with DOP_ERR_INTERRUPTED. */
typedef int (*dop_sim_progress_fn)(size_t index, size_t total, const char *file, void *user);

/* Write every recording into `dir` (created if missing) and then
 * manifest.csv (subject,condition,artery,file,onset_s), truth.csv (true
 * per-recording per-epoch values) and subjects.csv (drawn parameters).
 * Errors: DOP_ERR_IO, those of dop_sim_write, DOP_ERR_INTERRUPTED. */
DOP_API dop_status dop_sim_cohort_write(const dop_sim_cohort *cohort, const char *dir, dop_sim_progress_fn progress,
                                        void *user, dop_error *err);
DOP_API void dop_sim_cohort_destroy(dop_sim_cohort *cohort); /* NULL is fine */

#ifdef __cplusplus
}
#endif
#endif

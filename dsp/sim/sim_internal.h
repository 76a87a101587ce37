/* Private pieces shared by the simulator stages (dsp/sim/sim_*.c). */
#ifndef DOPFLOW_SIM_INTERNAL_H
#define DOPFLOW_SIM_INTERNAL_H

#include <stdarg.h>
#include <complex.h>
#include <stddef.h>
#include <stdint.h>

#include <fftw3.h>
#include <gsl/gsl_rng.h>
#include <jansson.h>

#include "dopflow/simulate.h"

/* Independent random streams, one per component, so that switching one
 * component off leaves the others' samples unchanged. */
enum {
    SIM_RNG_BEATS = 0,
    SIM_RNG_BLOOD,
    SIM_RNG_ARTIFACT,
    SIM_RNG_NOISE,
    SIM_RNG_CLUTTER,
    SIM_RNG_COUNT
};

/* A stream seeded from the config seed and the stream id (SplitMix64). */
gsl_rng *sim_rng_new(uint64_t seed, unsigned stream);

/* "NAME: message" as DOP_ERR_FORMAT into err: the spec and cohort parsers'
 * error line (sim_spec.c). */
dop_status sim_spec_fail(const char *name, dop_error *err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* ---- sim_waveform.c: beats, kinetics, the velocity waveform ---- */

typedef struct sim_beat {
    double start_s, rr_s;
} sim_beat;

typedef struct sim_waveform {
    dop_sim_config cfg;
    sim_beat *beats;              /* sorted, covering [-RR, duration + RR] */
    size_t n_beats;
    double mean_rest, mean_after; /* template means (relative units) */
} sim_waveform;

dop_status sim_waveform_init(sim_waveform *w, const dop_sim_config *cfg, dop_error *err);
void sim_waveform_free(sim_waveform *w);
/* Beat in progress at t (index into beats); hint speeds up monotone scans. */
size_t sim_waveform_beat_at(const sim_waveform *w, double t, size_t hint);
/* Spatial-mean velocity at time t, cm/s, and the beat phase in [0, 1). */
double sim_waveform_mean_velocity(const sim_waveform *w, double t, size_t *hint, double *phase);
/* The waveform at t as a mix of the two states' normalised templates:
 * u_mean(t) = w_rest T_rest(phase) / mean_rest + w_after T_after(phase) / mean_after. */
typedef struct sim_mix {
    size_t beat;                  /* index into beats */
    double phase, rr_s;
    double w_rest, w_after;       /* cm/s */
} sim_mix;
void sim_waveform_mix(const sim_waveform *w, double t, size_t *hint, sim_mix *out);
/* Raw template value at phase (relative units). */
double sim_template_eval(const dop_sim_waveform *t, double phase);
/* Heart-synchronous wall distension at time t, in [0, 1] (1 = maximum). */
double sim_wall_shape(const sim_waveform *w, double t, size_t *hint);
/* Distension sin^2(pi (phase - START) / WIDTH) over [START, START + WIDTH]:
 * its steepest slope is pi / WIDTH per unit phase. */
#define SIM_WALL_START 0.05
#define SIM_WALL_WIDTH 0.40

/* ---- sim_spectrum.c: velocity distribution -> Doppler PSD -> shaped noise ---- */

#define SIM_CELLS 64

typedef struct sim_spectrum {
    size_t hop, size;             /* H and M = 2H */
    double fs_hz;
    double hz_per_cm_s;           /* 2 f0 cos(angle) / c, per cm/s */
    double cell[SIM_CELLS];       /* conditional mean velocity of equal-area cells, / u_c */
    double rel_sigma, abs_sigma_hz;
    float *window;                /* sine window, M */
    double *psd;                  /* blood PSD, M bins (sums to 1) */
    double *lf_shape;             /* artifact low-frequency PSD shape (sums to 1) */
    double *tmp;                  /* M, scratch */
    fftwf_complex *bins;          /* M (float complex: complex.h comes before fftw3.h) */
    fftwf_complex *seg;           /* M */
    fftwf_plan plan;
    float complex *ola;           /* M */
} sim_spectrum;

dop_status sim_spectrum_init(sim_spectrum *s, const dop_sim_config *cfg, dop_error *err);
void sim_spectrum_free(sim_spectrum *s);
/* Doppler PSD of the velocity distribution with centreline velocity uc
 * (cm/s) into s->psd: mass 1 over the M bins (aliased frequencies wrap). */
void sim_spectrum_psd(sim_spectrum *s, double uc_cm_s);
/* Add one synthesis segment: blood with power pb (PSD in s->psd) and
 * low-frequency artifact with power pa (shape s->lf_shape); rngs may be NULL
 * for absent components. Writes the H finished samples to out. */
void sim_spectrum_segment(sim_spectrum *s, double pb, gsl_rng *rb, double pa, gsl_rng *ra, float complex *out);
void sim_spectrum_reset(sim_spectrum *s);

/* ---- sim_impairments.c: clutter, noise, massage artifacts, dropouts ---- */

typedef struct sim_burst {
    double start_s, duration_s;
} sim_burst;

typedef struct sim_impairments {
    const sim_waveform *wave;
    double fs_hz;
    double alpha;                 /* Doppler phase per metre of axial displacement, 4 pi f0 cos / c */
    /* clutter */
    int clutter_on;
    double amp_tissue, amp_near, amp_far;  /* amplitudes after calibration */
    double ph_tissue, ph_near, ph_far;     /* initial phases */
    double wall_scale;            /* metres of wall displacement per unit template */
    double resp_m, resp_hz, resp_phase;
    size_t wall_hint;
    /* noise */
    double noise_sigma;           /* per I or Q */
    /* artifact strokes (effleurage, petrissage) and taps (tapotement) */
    dop_sim_artifact art;
    sim_burst *strokes;
    size_t n_strokes;
    double stroke_power;          /* artifact power during a stroke, re blood */
    double motion_amp_m;          /* probe displacement amplitude per stroke */
    /* dropouts */
    const dop_sim_dropout *drops;
    size_t n_drops;
} sim_impairments;

dop_status sim_impairments_init(sim_impairments *imp, const dop_sim_config *cfg, const sim_waveform *wave,
                                gsl_rng *rng_artifact, gsl_rng *rng_clutter, dop_error *err);
void sim_impairments_free(sim_impairments *imp);
/* Displacement toward the probe shared by everything under it at t, m:
 * breathing plus the probe motion of massage strokes (moves the clutter;
 * the scatterer model moves its blood and tissue echoes with it too). */
double sim_impairments_common_displacement(const sim_impairments *imp, double t);
/* The stroke or tap in progress at t, NULL between them. */
const sim_burst *sim_impairments_stroke_at(const sim_impairments *imp, double t);
/* Low-frequency artifact power at time t (re blood), for the spectral part. */
double sim_impairments_lf_power(const sim_impairments *imp, double t);
/* Add clutter for samples [n0, n0 + n) to out (scaled by gain[]). */
void sim_impairments_clutter(sim_impairments *imp, int64_t n0, size_t n, const float *gain, float complex *out);
/* Add broadband tapotement bursts for samples [n0, n0 + n). */
void sim_impairments_bursts(const sim_impairments *imp, int64_t n0, size_t n, gsl_rng *rng, const float *gain,
                            float complex *out);
/* Add white noise. */
void sim_impairments_noise(const sim_impairments *imp, size_t n, gsl_rng *rng, float complex *out);
/* Dropout gain (0..1) of samples [n0, n0 + n) into gain. */
void sim_impairments_gain(const sim_impairments *imp, int64_t n0, size_t n, float *gain);
/* Mean clutter power over the first `samples`, synthesised in blocks of
 * `block` as the generator does; -1 when out of memory. */
double sim_impairments_clutter_power(sim_impairments *imp, int64_t samples, size_t block);

/* ---- sim_womersley.c: velocity field of the scatterer model ---- */

#define SIM_FIELD_RADII 129       /* radial grid x_j = j / 128 of r / R */

typedef struct sim_field {
    const sim_waveform *wave;
    dop_sim_profile profile;
    size_t harmonics;             /* Womersley harmonics H (0 for quasi-steady profiles) */
    double radius_m, nu_m2_s;     /* lumen radius, kinematic viscosity mu / rho */
    double complex *coef_rest, *coef_after; /* H + 1 Fourier coefficients of the templates (mean 1) */
    double complex *shape;        /* (H + 1) x RADII profiles of the cached beat, grid mean 1 */
    size_t cached_beat;
    double x[SIM_FIELD_RADII];
    double weight[SIM_FIELD_RADII]; /* spatial mean = sum weight_j u_j (piecewise-linear u) */
    double quasi[SIM_FIELD_RADII];  /* quasi-steady shape, grid mean 1 */
} sim_field;

/* Unnormalised Womersley shape 1 - J0(k x)/J0(k), k = i^{3/2} alpha, at the
 * n points x[] in [0, 1]. */
void sim_womersley_shape(double alpha, size_t n, const double *x, double complex *out);
dop_status sim_field_init(sim_field *f, const dop_sim_config *cfg, const sim_waveform *wave, dop_error *err);
void sim_field_free(sim_field *f);
/* Field at time t: u[j] = u(x_j) in cm/s (u may be NULL), *centre = u(0);
 * returns the spatial mean (cm/s), equal to sim_waveform_mean_velocity. */
double sim_field_profile(sim_field *f, double t, size_t *hint, double *u, double *centre);
/* Spatial mean of a grid profile (the quadrature of sim_field_profile). */
double sim_field_grid_mean(const sim_field *f, const double *u);

/* ---- sim_scatterers.c: blood signal from moving point scatterers ---- */

#define SIM_LANES 8               /* partial sums of the scatterer synthesis */
#define SIM_STEP_MAX 128          /* largest motion step, samples */

/* Scatterers the volume sees in the current step, structure of arrays. */
typedef struct sim_lanes {
    size_t *idx;
    float *pr, *pi, *cr, *ci, *a0, *da; /* phasor, rotation per sample, amplitude ramp */
} sim_lanes;

typedef struct sim_scatterers {
    sim_field field;
    size_t n, step;               /* scatterers; samples per motion step */
    double fs_hz, radius_m;
    double cos_t, sin_t;          /* insonation angle between beam and vessel axis */
    double yc_m;                  /* sample-volume centre: depth offset from the axis */
    double flat_m, taper_m;       /* gate window: flat half-length, cos^2 taper length */
    double inv_2sig2, beam_cut2;  /* Gaussian beam: 1 / (2 sigma^2), squared cut-off radius */
    double box_m;                 /* periodic segment length along the axis */
    double ylo, yhi, zhalf;       /* cross-section region filled (within the lumen) */
    double k_phase;               /* 4 pi f0 cos(angle) / c: Doppler phase per metre of axial motion */
    double amp;                   /* scatterer amplitude: nominal blood power 1 */
    float *x, *y, *z, *xr, *w;    /* positions (m), radial grid coordinate, weight */
    float complex *ph;            /* phasors */
    double u[SIM_FIELD_RADII];    /* profile of the current step, cm/s */
    size_t hint;
    sim_lanes act;                /* n + SIM_LANES entries */
    float (*acc_r)[SIM_LANES], (*acc_i)[SIM_LANES]; /* step x lanes partial sums */
} sim_scatterers;

/* Amplitude weight of the sample volume at beam coordinates: s along the
 * beam from the volume centre, rho2 squared distance from the beam axis (m). */
float sim_scatterers_weight_beam(const sim_scatterers *s, double sv, double rho2);

/* Samples per motion step: a power of two <= block, about 0.5 ms. */
size_t sim_scatterers_step(const dop_sim_config *cfg);
dop_status sim_scatterers_init(sim_scatterers *s, const dop_sim_config *cfg, const sim_waveform *wave, dop_error *err);
void sim_scatterers_free(sim_scatterers *s);
/* A new population drawn from rng (the same rng state: the same population). */
void sim_scatterers_reset(sim_scatterers *s, gsl_rng *rng);
/* Add the blood signal of samples [n0, n0 + n) to out; n0 is a multiple
 * of the step. Never allocates. */
void sim_scatterers_add(sim_scatterers *s, int64_t n0, size_t n, gsl_rng *rng, float complex *out);

/* ---- sim_tissue.c: massage as displacement of a tissue layer (scatterer model) ---- */

typedef struct sim_tissue {
    const sim_scatterers *sv;     /* sample-volume geometry and motion step */
    const sim_impairments *imp;   /* stroke / tap schedule */
    dop_sim_artifact_type type;
    double v_peak;                /* peak tissue velocity, m/s */
    double k2;                    /* 4 pi f0 / c: phase per metre along the beam */
    size_t n;
    float *s0, *l0, *m0;          /* rest positions in beam coordinates, m */
    float complex *ph;            /* random phases */
    double amp;                   /* echo power level_db re blood */
    double complex sum0;          /* weighted phasor sum at the last step end */
    double phase0;                /* along-beam Doppler phase at the last step end */
    double last_a, last_b;        /* displacement at the last step end, m */
} sim_tissue;

/* on = 0: nothing is added (no massage artifact, or the spectral model). */
dop_status sim_tissue_init(sim_tissue *t, const dop_sim_config *cfg, const sim_scatterers *sv, const sim_impairments *imp,
                           gsl_rng *rng, dop_error *err);
void sim_tissue_free(sim_tissue *t);
void sim_tissue_reset(sim_tissue *t);
/* Add the tissue echo of samples [n0, n0 + n) to out. */
void sim_tissue_add(sim_tissue *t, int64_t n0, size_t n, float complex *out);

/* ---- sim_spec.c ---- */

/* Recording spec from parsed JSON (messages prefixed with name). */
dop_status sim_spec_from_json(json_t *root, const char *name, dop_sim_config *cfg, dop_error *err);
/* Read and parse a JSON file (DOP_ERR_IO, DOP_ERR_FORMAT). */
dop_status sim_spec_load_json(const char *path, json_t **out, dop_error *err);

#endif

/* Private pieces of the cohort (sim_cohort*.c). A cohort is made in three
 * steps, each in its own file:
 *   parse (sim_cohort_parse.c): the cohort spec's JSON to a cohort_design,
 *         validated once, with nothing drawn;
 *   draw  (sim_cohort_draw.c): every random value of the cohort into
 *         cohort_draws; the only code that uses the random generator;
 *   emit  (sim_cohort_emit.c): design and draws to one recording spec per
 *         item and subjects.csv, then the files (dop_sim_cohort_write).
 * sim_cohort.c runs the three steps and checks the result against aliasing. */
#ifndef DOPFLOW_SIM_COHORT_INTERNAL_H
#define DOPFLOW_SIM_COHORT_INTERNAL_H

#include "sim_internal.h"

#define COHORT_MAX_ARTERIES 8
#define COHORT_MAX_CONDITIONS 16

struct dop_sim_cohort {
    char name[64];
    size_t n_items;
    dop_sim_cohort_item *items;
    char **specs;
    char *subjects_csv;         /* drawn parameters, ready to write */
    char epochs_text[512];      /* "label:start:end,..." relative to onset */
};

/* A group value: mean and SD (SD 0 for a fixed value). */
typedef struct cohort_dist {
    double mean, sd;
} cohort_dist;

/* One artery of the design ("arteries.NAME"). */
typedef struct cohort_artery {
    const char *name;
    double f0_hz, angle_deg[2];             /* angle drawn uniformly in [lo, hi] */
    const char *profile;
    double profile_n;                       /* NAN = not given */
    cohort_dist diameter_mm, rest_velocity_cm_s, rest_flow_ml_min, exercise_flow_ml_min;
    double hr_rise_bpm[2];                  /* exercise heart-rate rise, uniform in [lo, hi] */
    const char *rest_waveform, *exercise_waveform;
    double tau_s, tau_hr_s;
    double wall_velocity_mm_s;              /* NAN = not given */
    double ratio_mean, ratio_log_sd;        /* exercise flow ratio Q_ex / Q_rest, log-normal */
} cohort_artery;

/* One condition of the design ("conditions.NAME"). */
typedef struct cohort_condition {
    const char *name;
    const char *artifact;  /* NULL = none */
    int exercise;
} cohort_condition;

/* The cohort spec, validated. Names and JSON point into root. */
typedef struct cohort_design {
    const char *path;              /* the spec file, for messages */
    json_t *root;                  /* the parsed spec (owned) */
    char name[64];
    uint64_t seed;
    size_t subjects;               /* 1-999 */
    double onset_s, duration_s;
    double max_nyquist_fraction;   /* (0, 1] */
    double truncate_sd;            /* normal draws redrawn beyond this many SDs; 0 = never */
    double within_subject_cv;      /* [0, 0.5) */
    json_t *recording;             /* shared recording spec, NULL = none */
    json_t *epochs;                /* array of {label, start_s, end_s} relative to onset, NULL = none */
    double heart_rate_bpm[2];      /* resting heart rate, uniform in [lo, hi] */
    double snr_db[2], clutter_db[2]; /* uniform in [lo, hi]; NAN = not drawn */
    cohort_artery arteries[COHORT_MAX_ARTERIES];
    size_t n_arteries;
    cohort_condition conditions[COHORT_MAX_CONDITIONS];
    size_t n_conditions;
} cohort_design;

/* Parse and validate the cohort spec at path (DOP_ERR_IO, DOP_ERR_FORMAT). */
dop_status cohort_parse(const char *path, cohort_design *d, dop_error *err);
void cohort_design_free(cohort_design *d);

/* One subject's vessel in one artery. */
typedef struct cohort_vessel_draw {
    double diameter_mm, rest_velocity_cm_s;
    double exercise_ratio;         /* Q_ex / Q_rest, at least 1.2 */
} cohort_vessel_draw;

/* One recording (subject x artery x condition). */
typedef struct cohort_recording_draw {
    double velocity_cm_s;          /* resting velocity of this recording (within-subject variation) */
    double angle_deg, hr_rise_bpm;
    double snr_db, clutter_db;     /* NAN = not drawn */
} cohort_recording_draw;

/* Every random value of a cohort, in the order the items are numbered. */
typedef struct cohort_draws {
    double *heart_rate_bpm;              /* per subject, resting */
    cohort_vessel_draw *vessels;         /* subjects x arteries */
    cohort_recording_draw *recordings;   /* subjects x arteries x conditions */
} cohort_draws;

dop_status cohort_draw(const cohort_design *d, cohort_draws *out, dop_error *err);
void cohort_draws_free(cohort_draws *dr);

/* Items, their resolved recording specs, subjects.csv and the epochs text
 * into co (n_items and the arrays allocated here). */
dop_status cohort_emit(const cohort_design *d, const cohort_draws *dr, dop_sim_cohort *co, dop_error *err);

#endif

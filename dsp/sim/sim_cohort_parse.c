/* Cohorts, step 1: the cohort spec's JSON to a cohort_design, validated
 * once (every key, type and range), with nothing drawn. Group values are
 * given as mean and SD, or mean and SE of n subjects (SD = SE sqrt(n)); the
 * exercise flow ratio's log-normal parameters are derived here (see
 * sim_cohort_draw.c). Messages name the key and are prefixed with the spec's
 * path. */
#include "sim_cohort_internal.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

typedef struct cparser {
    const char *name;
    dop_error *err;
    int subjects;
} cparser;

/* A message naming the key, prefixed with the spec's path. */
#define cfail(p, ...) sim_spec_fail((p)->name, (p)->err, __VA_ARGS__)

static dop_status check_keys(cparser *p, json_t *obj, const char *where, const char *const *allowed)
{
    const char *key;
    json_t *value;
    json_object_foreach(obj, key, value) {
        int ok = 0;
        for (size_t i = 0; allowed[i]; i++) ok |= strcmp(key, allowed[i]) == 0;
        if (!ok) return cfail(p, "unknown key \"%s%s\"", where, key);
    }
    return DOP_OK;
}

static dop_status get_number(cparser *p, json_t *obj, const char *where, const char *key, int required, double *out)
{
    json_t *v = json_object_get(obj, key);
    if (!v) return required ? cfail(p, "key \"%s%s\" is required", where, key) : DOP_OK;
    if (!json_is_number(v) || !isfinite(json_number_value(v))) return cfail(p, "key \"%s%s\" must be a number", where, key);
    *out = json_number_value(v);
    return DOP_OK;
}

/* [lo, hi] (uniform draw) or a single number (lo = hi). */
static dop_status get_range(cparser *p, json_t *obj, const char *where, const char *key, int required, double out[2])
{
    json_t *v = json_object_get(obj, key);
    if (!v) return required ? cfail(p, "key \"%s%s\" is required", where, key) : DOP_OK;
    if (json_is_number(v)) {
        out[0] = out[1] = json_number_value(v);
        return DOP_OK;
    }
    if (!json_is_array(v) || json_array_size(v) != 2 || !json_is_number(json_array_get(v, 0)) ||
        !json_is_number(json_array_get(v, 1)))
        return cfail(p, "key \"%s%s\" must be a number or [low, high]", where, key);
    out[0] = json_number_value(json_array_get(v, 0));
    out[1] = json_number_value(json_array_get(v, 1));
    if (!(out[0] <= out[1])) return cfail(p, "key \"%s%s\": low must not exceed high", where, key);
    return DOP_OK;
}

/* {"mean": m, "sd": s} or {"mean": m, "se": s} (SD = SE sqrt(subjects)). */
static dop_status get_dist(cparser *p, json_t *obj, const char *where, const char *key, int required, cohort_dist *out)
{
    json_t *v = json_object_get(obj, key);
    if (!v) return required ? cfail(p, "key \"%s%s\" is required", where, key) : DOP_OK;
    char w[96];
    snprintf(w, sizeof w, "%s%s.", where, key);
    if (json_is_number(v)) {
        out->mean = json_number_value(v);
        out->sd = 0.0;
        return DOP_OK;
    }
    static const char *const keys[] = {"mean", "sd", "se", NULL};
    if (!json_is_object(v)) return cfail(p, "key \"%s%s\" must be a number or {mean, sd | se}", where, key);
    dop_status st = check_keys(p, v, w, keys);
    if (st != DOP_OK) return st;
    double sd = NAN, se = NAN;
    if ((st = get_number(p, v, w, "mean", 1, &out->mean)) != DOP_OK || (st = get_number(p, v, w, "sd", 0, &sd)) != DOP_OK ||
        (st = get_number(p, v, w, "se", 0, &se)) != DOP_OK)
        return st;
    if (!isnan(sd) && !isnan(se)) return cfail(p, "key \"%s%s\": give sd or se, not both", where, key);
    out->sd = !isnan(sd) ? sd : !isnan(se) ? se * sqrt((double)p->subjects) : 0.0;
    if (out->sd < 0.0) return cfail(p, "key \"%s%s\": the spread must not be negative", where, key);
    return DOP_OK;
}

/* The exercise flow ratio R = Q_ex / Q_rest, log-normal around the ratio of
 * the group means, with the log-SD that adds the published exercise variance
 * to the resting one: CV_ex^2 = CV_rest^2 + s^2 (floor 0.1). Resting flow
 * statistics: given, or implied by velocity and diameter (Q [ml/min] =
 * v [cm/s] x pi (D/20)^2 [cm^2] x 60). */
static void derive_exercise_ratio(cohort_artery *a)
{
    const cohort_dist *v = &a->rest_velocity_cm_s, *q = &a->rest_flow_ml_min, *ex = &a->exercise_flow_ml_min;
    double area = M_PI * (a->diameter_mm.mean / 20.0) * (a->diameter_mm.mean / 20.0);
    double q_rest = isnan(q->mean) ? v->mean * area * 60.0 : q->mean;
    double cv_rest = isnan(q->mean) ? v->sd / v->mean : q->sd / q_rest;
    double cv_ex = ex->sd / ex->mean;
    a->ratio_mean = ex->mean / q_rest;
    double var = cv_ex * cv_ex - cv_rest * cv_rest;
    a->ratio_log_sd = var > 0.01 ? sqrt(log(1.0 + var)) : 0.1;
}

static dop_status parse_artery(cparser *p, const char *name, json_t *o, cohort_artery *a)
{
    static const char *const keys[] = {"f0_hz", "angle_deg", "profile", "profile_n", "diameter_mm", "rest_velocity_cm_s",
                                       "rest_flow_ml_min", "exercise_flow_ml_min", "exercise_heart_rate_rise_bpm",
                                       "rest_waveform", "exercise_waveform", "tau_s", "tau_hr_s", "wall_velocity_mm_s",
                                       NULL};
    char w[64];
    snprintf(w, sizeof w, "arteries.%s.", name);
    if (!json_is_object(o)) return cfail(p, "key \"arteries.%s\" must be an object", name);
    dop_status st = check_keys(p, o, w, keys);
    if (st != DOP_OK) return st;
    memset(a, 0, sizeof *a);
    a->name = name;
    a->profile = "parabolic";
    a->profile_n = NAN;
    a->rest_waveform = "triphasic";
    a->exercise_waveform = "exercise";
    a->tau_s = 5.0;
    a->tau_hr_s = 3.0;
    a->wall_velocity_mm_s = NAN;
    a->rest_flow_ml_min.mean = NAN;
    if ((st = get_number(p, o, w, "f0_hz", 1, &a->f0_hz)) != DOP_OK ||
        (st = get_range(p, o, w, "angle_deg", 1, a->angle_deg)) != DOP_OK ||
        (st = get_number(p, o, w, "profile_n", 0, &a->profile_n)) != DOP_OK ||
        (st = get_dist(p, o, w, "diameter_mm", 1, &a->diameter_mm)) != DOP_OK ||
        (st = get_dist(p, o, w, "rest_velocity_cm_s", 1, &a->rest_velocity_cm_s)) != DOP_OK ||
        (st = get_dist(p, o, w, "rest_flow_ml_min", 0, &a->rest_flow_ml_min)) != DOP_OK ||
        (st = get_dist(p, o, w, "exercise_flow_ml_min", 1, &a->exercise_flow_ml_min)) != DOP_OK ||
        (st = get_range(p, o, w, "exercise_heart_rate_rise_bpm", 1, a->hr_rise_bpm)) != DOP_OK ||
        (st = get_number(p, o, w, "tau_s", 0, &a->tau_s)) != DOP_OK ||
        (st = get_number(p, o, w, "tau_hr_s", 0, &a->tau_hr_s)) != DOP_OK ||
        (st = get_number(p, o, w, "wall_velocity_mm_s", 0, &a->wall_velocity_mm_s)) != DOP_OK)
        return st;
    json_t *s;
    if ((s = json_object_get(o, "profile"))) {
        if (!json_is_string(s)) return cfail(p, "key \"%sprofile\" must be a string", w);
        a->profile = json_string_value(s);
    }
    if ((s = json_object_get(o, "rest_waveform"))) {
        if (!json_is_string(s)) return cfail(p, "key \"%srest_waveform\" must be a waveform name", w);
        a->rest_waveform = json_string_value(s);
    }
    if ((s = json_object_get(o, "exercise_waveform"))) {
        if (!json_is_string(s)) return cfail(p, "key \"%sexercise_waveform\" must be a waveform name", w);
        a->exercise_waveform = json_string_value(s);
    }
    if (!(a->diameter_mm.mean > 0.0) || !(a->rest_velocity_cm_s.mean > 0.0) || !(a->exercise_flow_ml_min.mean > 0.0))
        return cfail(p, "\"%s\": diameter, resting velocity and exercise flow must be positive", w);
    derive_exercise_ratio(a);
    return DOP_OK;
}

static dop_status parse_condition(cparser *p, const char *name, json_t *o, cohort_condition *c)
{
    static const char *const keys[] = {"artifact", "exercise", NULL};
    char w[64];
    snprintf(w, sizeof w, "conditions.%s.", name);
    if (!json_is_object(o)) return cfail(p, "key \"conditions.%s\" must be an object", name);
    dop_status st = check_keys(p, o, w, keys);
    if (st != DOP_OK) return st;
    c->name = name;
    c->artifact = NULL;
    c->exercise = 0;
    json_t *a = json_object_get(o, "artifact"), *e = json_object_get(o, "exercise");
    if (a && !json_is_null(a)) {
        if (!json_is_string(a)) return cfail(p, "key \"%sartifact\" must be an artifact type", w);
        c->artifact = json_string_value(a);
    }
    if (e) {
        if (!json_is_boolean(e)) return cfail(p, "key \"%sexercise\" must be true or false", w);
        c->exercise = json_is_true(e);
    }
    return DOP_OK;
}

static int valid_name(const char *s)
{
    if (!*s || strlen(s) >= DOP_SIM_NAME_MAX) return 0;
    for (; *s; s++)
        if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_' || *s == '-'))
            return 0;
    return 1;
}

/* "kind", "name" and the numbers at the top level. */
static dop_status parse_top(cparser *p, json_t *root, cohort_design *d)
{
    static const char *const top[] = {"kind", "name", "description", "source", "seed", "subjects", "onset_s", "duration_s",
                                      "max_nyquist_fraction", "truncate_sd", "within_subject_cv", "recording", "epochs",
                                      "draws", "arteries", "conditions", NULL};
    if (!json_is_object(root)) return cfail(p, "a cohort spec must be a JSON object");
    dop_status st = check_keys(p, root, "", top);
    if (st != DOP_OK) return st;
    json_t *kind = json_object_get(root, "kind");
    if (!json_is_string(kind) || strcmp(json_string_value(kind), "cohort") != 0)
        return cfail(p, "key \"kind\" must be \"cohort\"");
    json_t *name = json_object_get(root, "name");
    if (!json_is_string(name) || !valid_name(json_string_value(name)))
        return cfail(p, "key \"name\" must be a short name of letters, digits, '_' or '-'");
    snprintf(d->name, sizeof d->name, "%s", json_string_value(name));
    double seed = 1, subjects = 0, onset = NAN, duration = NAN, max_nyq = 0.8, trunc_sd = 2.0, within_cv = 0.0;
    if ((st = get_number(p, root, "", "seed", 1, &seed)) != DOP_OK ||
        (st = get_number(p, root, "", "subjects", 1, &subjects)) != DOP_OK ||
        (st = get_number(p, root, "", "onset_s", 1, &onset)) != DOP_OK ||
        (st = get_number(p, root, "", "duration_s", 1, &duration)) != DOP_OK ||
        (st = get_number(p, root, "", "max_nyquist_fraction", 0, &max_nyq)) != DOP_OK ||
        (st = get_number(p, root, "", "truncate_sd", 0, &trunc_sd)) != DOP_OK ||
        (st = get_number(p, root, "", "within_subject_cv", 0, &within_cv)) != DOP_OK)
        return st;
    if (seed < 0 || seed != floor(seed) || subjects < 1 || subjects > 999 || subjects != floor(subjects) ||
        !(max_nyq > 0.0 && max_nyq <= 1.0) || !(trunc_sd >= 0.0) || !(within_cv >= 0.0 && within_cv < 0.5) ||
        !(onset >= 0.0 && onset < duration))
        return cfail(p, "seed, subjects (1-999), onset_s (< duration_s), max_nyquist_fraction (0, 1], truncate_sd >= 0 "
                        "and within_subject_cv [0, 0.5) must be valid");
    d->seed = (uint64_t)seed;
    d->subjects = (size_t)subjects;
    d->onset_s = onset;
    d->duration_s = duration;
    d->max_nyquist_fraction = max_nyq;
    d->truncate_sd = trunc_sd;
    d->within_subject_cv = within_cv;
    p->subjects = (int)subjects;
    return DOP_OK;
}

/* "recording": the shared spec, without the keys the cohort sets per recording. */
static dop_status parse_recording(cparser *p, json_t *root, cohort_design *d)
{
    json_t *base = json_object_get(root, "recording");
    if (base && !json_is_object(base)) return cfail(p, "key \"recording\" must be an object (the shared recording spec)");
    static const char *const managed[] = {"seed", "duration_s", "acquisition", "vessel", "flow", "event", "artifact",
                                          "epochs", NULL};
    for (size_t i = 0; base && managed[i]; i++)
        if (json_object_get(base, managed[i]))
            return cfail(p, "key \"recording.%s\" is set per recording by the cohort; remove it", managed[i]);
    d->recording = base;
    return DOP_OK;
}

/* "draws": the ranges of heart rate, SNR and clutter level. */
static dop_status parse_draws(cparser *p, json_t *root, cohort_design *d)
{
    d->heart_rate_bpm[0] = d->heart_rate_bpm[1] = 65;
    d->snr_db[0] = d->snr_db[1] = d->clutter_db[0] = d->clutter_db[1] = NAN;
    json_t *draws = json_object_get(root, "draws");
    if (!draws) return DOP_OK;
    static const char *const dkeys[] = {"heart_rate_bpm", "snr_db", "clutter_db", NULL};
    if (!json_is_object(draws)) return cfail(p, "key \"draws\" must be an object");
    dop_status st;
    if ((st = check_keys(p, draws, "draws.", dkeys)) != DOP_OK ||
        (st = get_range(p, draws, "draws.", "heart_rate_bpm", 0, d->heart_rate_bpm)) != DOP_OK ||
        (st = get_range(p, draws, "draws.", "snr_db", 0, d->snr_db)) != DOP_OK ||
        (st = get_range(p, draws, "draws.", "clutter_db", 0, d->clutter_db)) != DOP_OK)
        return st;
    return DOP_OK;
}

/* "arteries" (1-8) and "conditions" (1-16). */
static dop_status parse_groups(cparser *p, json_t *root, cohort_design *d)
{
    json_t *arts = json_object_get(root, "arteries"), *conds = json_object_get(root, "conditions");
    if (!json_is_object(arts) || json_object_size(arts) == 0 || json_object_size(arts) > COHORT_MAX_ARTERIES)
        return cfail(p, "key \"arteries\" must be an object of 1-8 arteries");
    if (!json_is_object(conds) || json_object_size(conds) == 0 || json_object_size(conds) > COHORT_MAX_CONDITIONS)
        return cfail(p, "key \"conditions\" must be an object of 1-16 conditions");
    const char *key;
    json_t *val;
    dop_status st;
    json_object_foreach(arts, key, val) {
        if (!valid_name(key)) return cfail(p, "artery name \"%s\": letters, digits, '_' or '-' only", key);
        if ((st = parse_artery(p, key, val, &d->arteries[d->n_arteries++])) != DOP_OK) return st;
    }
    json_object_foreach(conds, key, val) {
        if (!valid_name(key)) return cfail(p, "condition name \"%s\": letters, digits, '_' or '-' only", key);
        if ((st = parse_condition(p, key, val, &d->conditions[d->n_conditions++])) != DOP_OK) return st;
    }
    return DOP_OK;
}

/* "epochs": an array of {label, start_s, end_s}, s relative to onset. */
static dop_status parse_epochs(cparser *p, json_t *root, cohort_design *d)
{
    json_t *epochs = json_object_get(root, "epochs");
    if (!epochs) return DOP_OK;
    if (!json_is_array(epochs))
        return cfail(p, "key \"epochs\" must be an array of {label, start_s, end_s} relative to onset_s");
    size_t i;
    json_t *e;
    json_array_foreach(epochs, i, e) {
        json_t *lab = json_object_get(e, "label"), *s0 = json_object_get(e, "start_s"), *s1 = json_object_get(e, "end_s");
        if (!json_is_object(e) || !json_is_string(lab) || !json_is_number(s0) || !json_is_number(s1) ||
            json_object_size(e) != 3)
            return cfail(p, "key \"epochs[%zu]\" must be {label, start_s, end_s} (s relative to onset)", i);
    }
    d->epochs = epochs;
    return DOP_OK;
}

dop_status cohort_parse(const char *path, cohort_design *d, dop_error *err)
{
    memset(d, 0, sizeof *d);
    d->path = path;
    dop_status st = sim_spec_load_json(path, &d->root, err);
    if (st != DOP_OK) return st;
    cparser p = {path, err, 0};
    if ((st = parse_top(&p, d->root, d)) != DOP_OK || (st = parse_recording(&p, d->root, d)) != DOP_OK ||
        (st = parse_draws(&p, d->root, d)) != DOP_OK || (st = parse_groups(&p, d->root, d)) != DOP_OK ||
        (st = parse_epochs(&p, d->root, d)) != DOP_OK) {
        cohort_design_free(d);
        return st;
    }
    return DOP_OK;
}

void cohort_design_free(cohort_design *d)
{
    json_decref(d->root);
    d->root = NULL;
}

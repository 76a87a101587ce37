/* Simulation specs: JSON (jansson) to dop_sim_config. Strict: unknown keys,
 * wrong types and unknown enum values are errors that name the key, so a
 * typo never silently falls back to a default. The format is documented
 * key by key in datasets/README.md. */
#include "sim_internal.h"

#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

typedef struct parser {
    const char *name;
    dop_error *err;
} parser;

dop_status sim_spec_fail(const char *name, dop_error *err, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return dop_error_set(err, DOP_ERR_FORMAT, "%s: %s", name, msg);
}

/* A message naming the key, prefixed with the spec's name. */
#define fail(p, ...) sim_spec_fail((p)->name, (p)->err, __VA_ARGS__)

static const char *type_name(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER:
    case JSON_REAL: return "a number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    default: return "null";
    }
}

static dop_status check_keys(parser *p, json_t *obj, const char *where, const char *const *allowed)
{
    const char *key;
    json_t *value;
    json_object_foreach(obj, key, value) {
        int ok = 0;
        for (size_t i = 0; allowed[i]; i++)
            if (strcmp(key, allowed[i]) == 0) ok = 1;
        if (!ok) {
            char list[300] = "";
            for (size_t i = 0; allowed[i]; i++) {
                strncat(list, i ? ", " : "", sizeof list - strlen(list) - 1);
                strncat(list, allowed[i], sizeof list - strlen(list) - 1);
            }
            return fail(p, "unknown key \"%s%s\" (allowed here: %s)", where, key, list);
        }
    }
    return DOP_OK;
}

/* Optional number: *out is left alone when the key is absent. */
static dop_status opt_number(parser *p, json_t *obj, const char *where, const char *key, double *out)
{
    json_t *v = json_object_get(obj, key);
    if (!v) return DOP_OK;
    if (!json_is_number(v)) return fail(p, "key \"%s%s\" must be a number, not %s", where, key, type_name(v));
    double x = json_number_value(v);
    if (!isfinite(x)) return fail(p, "key \"%s%s\" is not finite", where, key);
    *out = x;
    return DOP_OK;
}

/* Optional number that may be null (= component absent -> NAN). */
static dop_status opt_number_or_null(parser *p, json_t *obj, const char *where, const char *key, double *out)
{
    json_t *v = json_object_get(obj, key);
    if (v && json_is_null(v)) {
        *out = NAN;
        return DOP_OK;
    }
    return opt_number(p, obj, where, key, out);
}

static dop_status opt_whole(parser *p, json_t *obj, const char *where, const char *key, double lo, double hi, double *out)
{
    double x = *out;
    dop_status st = opt_number(p, obj, where, key, &x);
    if (st != DOP_OK) return st;
    if (x != floor(x) || x < lo || x > hi) return fail(p, "key \"%s%s\" must be a whole number in [%.0f, %.0f]", where, key, lo, hi);
    *out = x;
    return DOP_OK;
}

static dop_status opt_bool(parser *p, json_t *obj, const char *where, const char *key, int *out)
{
    json_t *v = json_object_get(obj, key);
    if (!v) return DOP_OK;
    if (!json_is_boolean(v)) return fail(p, "key \"%s%s\" must be true or false, not %s", where, key, type_name(v));
    *out = json_is_true(v);
    return DOP_OK;
}

static dop_status opt_enum(parser *p, json_t *obj, const char *where, const char *key, const char *const *names,
                           int *out)
{
    json_t *v = json_object_get(obj, key);
    if (!v) return DOP_OK;
    char list[200] = "";
    for (int i = 0; names[i]; i++) {
        strncat(list, i ? ", " : "", sizeof list - strlen(list) - 1);
        strncat(list, names[i], sizeof list - strlen(list) - 1);
    }
    if (!json_is_string(v)) return fail(p, "key \"%s%s\" must be a string (one of %s)", where, key, list);
    for (int i = 0; names[i]; i++)
        if (strcmp(json_string_value(v), names[i]) == 0) {
            *out = i;
            return DOP_OK;
        }
    return fail(p, "key \"%s%s\": unknown value \"%s\" (expected one of %s)", where, key, json_string_value(v), list);
}

/* An optional sub-object: NULL when absent or null. */
static dop_status opt_object(parser *p, json_t *obj, const char *key, json_t **out)
{
    json_t *v = json_object_get(obj, key);
    *out = NULL;
    if (!v || json_is_null(v)) return DOP_OK;
    if (!json_is_object(v)) return fail(p, "key \"%s\" must be an object, not %s", key, type_name(v));
    *out = v;
    return DOP_OK;
}

static dop_status parse_waveform(parser *p, json_t *v, const char *key, dop_sim_waveform *out)
{
    if (json_is_string(v)) {
        dop_error e;
        if (dop_sim_waveform_builtin(json_string_value(v), out, &e) != DOP_OK) return fail(p, "key \"%s\": %s", key, e.message);
        return DOP_OK;
    }
    if (!json_is_object(v))
        return fail(p, "key \"%s\" must be a waveform name or an object {baseline, bumps}, not %s", key, type_name(v));
    static const char *const keys[] = {"baseline", "bumps", NULL};
    char where[64];
    snprintf(where, sizeof where, "%s.", key);
    dop_status st = check_keys(p, v, where, keys);
    if (st != DOP_OK) return st;
    memset(out, 0, sizeof *out);
    snprintf(out->name, sizeof out->name, "custom");
    if ((st = opt_number(p, v, where, "baseline", &out->baseline)) != DOP_OK) return st;
    json_t *bumps = json_object_get(v, "bumps");
    if (bumps) {
        if (!json_is_array(bumps)) return fail(p, "key \"%sbumps\" must be an array of [amplitude, start, peak, end]", where);
        if (json_array_size(bumps) > DOP_SIM_MAX_BUMPS) return fail(p, "key \"%sbumps\": at most %d bumps", where, DOP_SIM_MAX_BUMPS);
        size_t i;
        json_t *b;
        json_array_foreach(bumps, i, b) {
            if (!json_is_array(b) || json_array_size(b) != 4)
                return fail(p, "key \"%sbumps[%zu]\" must be [amplitude, start, peak, end]", where, i);
            double x[4];
            for (size_t j = 0; j < 4; j++) {
                json_t *n = json_array_get(b, j);
                if (!json_is_number(n)) return fail(p, "key \"%sbumps[%zu]\" must hold 4 numbers", where, i);
                x[j] = json_number_value(n);
            }
            out->bumps[i] = (dop_sim_bump){x[0], x[1], x[2], x[3]};
        }
        out->n_bumps = json_array_size(bumps);
    }
    return DOP_OK;
}

/* flow / event: waveform, mean_velocity_cm_s or flow_ml_min, heart_rate_bpm. */
static dop_status parse_state(parser *p, json_t *obj, const char *section, double diameter_mm, dop_sim_state *out)
{
    char where[32];
    snprintf(where, sizeof where, "%s.", section);
    dop_status st;
    json_t *w = json_object_get(obj, "waveform");
    if (w) {
        char key[48];
        snprintf(key, sizeof key, "%swaveform", where);
        if ((st = parse_waveform(p, w, key, &out->waveform)) != DOP_OK) return st;
    }
    json_t *v = json_object_get(obj, "mean_velocity_cm_s"), *q = json_object_get(obj, "flow_ml_min");
    if (v && q) return fail(p, "give either \"%smean_velocity_cm_s\" or \"%sflow_ml_min\", not both", where, where);
    if ((st = opt_number(p, obj, where, "mean_velocity_cm_s", &out->mean_velocity_cm_s)) != DOP_OK) return st;
    if (q) {
        double flow = NAN;
        if ((st = opt_number(p, obj, where, "flow_ml_min", &flow)) != DOP_OK) return st;
        /* v [cm/s] = Q [ml/min] / 60 / (pi D^2 / 4) [cm^2] */
        double area = M_PI * (diameter_mm / 20.0) * (diameter_mm / 20.0);
        out->mean_velocity_cm_s = flow / 60.0 / area;
    }
    return opt_number(p, obj, where, "heart_rate_bpm", &out->heart_rate_bpm);
}

static dop_status parse_epochs(parser *p, json_t *arr, dop_sim_config *c)
{
    if (!json_is_array(arr)) return fail(p, "key \"epochs\" must be an array of {label, start_s, end_s}");
    if (json_array_size(arr) > DOP_SIM_MAX_EPOCHS) return fail(p, "key \"epochs\": at most %d epochs", DOP_SIM_MAX_EPOCHS);
    static const char *const keys[] = {"label", "start_s", "end_s", NULL};
    size_t i;
    json_t *e;
    json_array_foreach(arr, i, e) {
        char where[32];
        snprintf(where, sizeof where, "epochs[%zu].", i);
        if (!json_is_object(e)) return fail(p, "key \"epochs[%zu]\" must be an object {label, start_s, end_s}", i);
        dop_status st = check_keys(p, e, where, keys);
        if (st != DOP_OK) return st;
        json_t *label = json_object_get(e, "label");
        if (!json_is_string(label) || json_string_length(label) == 0 || json_string_length(label) >= DOP_EPOCH_LABEL_MAX)
            return fail(p, "key \"%slabel\" must be a string of 1-%d characters", where, DOP_EPOCH_LABEL_MAX - 1);
        for (const char *s = json_string_value(label); *s; s++)
            if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_' ||
                  *s == '.' || *s == '-'))
                return fail(p, "key \"%slabel\": \"%s\" may only hold letters, digits, '_', '.' and '-'", where,
                            json_string_value(label));
        dop_epoch *out = &c->epochs[i];
        snprintf(out->label, sizeof out->label, "%s", json_string_value(label));
        out->start_s = out->end_s = NAN;
        if ((st = opt_number(p, e, where, "start_s", &out->start_s)) != DOP_OK) return st;
        if ((st = opt_number(p, e, where, "end_s", &out->end_s)) != DOP_OK) return st;
        if (isnan(out->start_s) || isnan(out->end_s)) return fail(p, "key \"%s\": start_s and end_s are required", where);
    }
    c->n_epochs = json_array_size(arr);
    return DOP_OK;
}

/* "model" and the "scatterers" object (scatterer model only). */
static dop_status parse_model(parser *p, json_t *root, dop_sim_config *c)
{
    static const char *const models[] = {"spectral", "scatterers", NULL};
    int model = (int)c->model;
    dop_status st = opt_enum(p, root, "", "model", models, &model);
    if (st != DOP_OK) return st;
    c->model = (dop_sim_model)model;
    json_t *o;
    if ((st = opt_object(p, root, "scatterers", &o)) != DOP_OK) return st;
    if (!o) return DOP_OK;
    if (c->model != DOP_SIM_MODEL_SCATTERERS) return fail(p, "key \"scatterers\" needs \"model\": \"scatterers\"");
    static const char *const keys[] = {"sample_volume", "count", "beam_width_mm", "gate_mm", "offset_mm",
                                       "viscosity_mpa_s", "density_kg_m3", "harmonics", "massage_velocity_mm_s", NULL};
    static const char *const volumes[] = {"vessel", "centre", "off_centre", NULL};
    int vol = (int)c->scat.volume;
    double count = (double)c->scat.count, harm = (double)c->scat.harmonics;
    if ((st = check_keys(p, o, "scatterers.", keys)) != DOP_OK ||
        (st = opt_enum(p, o, "scatterers.", "sample_volume", volumes, &vol)) != DOP_OK ||
        (st = opt_whole(p, o, "scatterers.", "count", 100.0, 200000.0, &count)) != DOP_OK ||
        (st = opt_number(p, o, "scatterers.", "beam_width_mm", &c->scat.beam_width_mm)) != DOP_OK ||
        (st = opt_number(p, o, "scatterers.", "gate_mm", &c->scat.gate_mm)) != DOP_OK ||
        (st = opt_number(p, o, "scatterers.", "offset_mm", &c->scat.offset_mm)) != DOP_OK ||
        (st = opt_number(p, o, "scatterers.", "viscosity_mpa_s", &c->scat.viscosity_mpa_s)) != DOP_OK ||
        (st = opt_number(p, o, "scatterers.", "density_kg_m3", &c->scat.density_kg_m3)) != DOP_OK ||
        (st = opt_whole(p, o, "scatterers.", "harmonics", 1.0, 64.0, &harm)) != DOP_OK ||
        (st = opt_number(p, o, "scatterers.", "massage_velocity_mm_s", &c->scat.massage_velocity_mm_s)) != DOP_OK)
        return st;
    c->scat.volume = (dop_sim_volume)vol;
    c->scat.count = (size_t)count;
    c->scat.harmonics = (size_t)harm;
    return DOP_OK;
}

/* The top level: kind, description, model, seed, duration, sample rate and format, gates. */
static dop_status parse_top(parser *p, json_t *root, dop_sim_config *c)
{
    static const char *const top[] = {"kind", "description", "model", "scatterers", "seed", "duration_s",
                                      "sample_rate_hz", "sample_format", "gates", "acquisition", "vessel", "flow",
                                      "heart", "event", "artifact", "clutter", "noise", "dropouts", "synthesis",
                                      "output", "epochs", NULL};
    dop_status st;
    if ((st = check_keys(p, root, "", top)) != DOP_OK) return st;
    json_t *kind = json_object_get(root, "kind");
    if (kind && !(json_is_string(kind) && strcmp(json_string_value(kind), "recording") == 0))
        return fail(p, "key \"kind\" must be \"recording\" here (cohort specs are loaded as cohorts)");
    json_t *desc = json_object_get(root, "description");
    if (desc && !json_is_string(desc)) return fail(p, "key \"description\" must be a string");
    if ((st = parse_model(p, root, c)) != DOP_OK) return st;
    /* The scatterer model moves its blood with Womersley's profile unless told otherwise. */
    if (c->model == DOP_SIM_MODEL_SCATTERERS) c->profile = DOP_SIM_PROFILE_WOMERSLEY;

    double seed = 1.0;
    if ((st = opt_whole(p, root, "", "seed", 0.0, 9007199254740991.0, &seed)) != DOP_OK) return st;
    c->seed = (uint64_t)seed;
    if ((st = opt_number(p, root, "", "duration_s", &c->duration_s)) != DOP_OK) return st;
    if ((st = opt_whole(p, root, "", "sample_rate_hz", 1000.0, 192000.0, &c->fs_hz)) != DOP_OK) return st;
    static const char *const formats[] = {"pcm16", "float", NULL};
    int fmt = (int)c->format;
    if ((st = opt_enum(p, root, "", "sample_format", formats, &fmt)) != DOP_OK) return st;
    c->format = (dop_sim_format)fmt;
    double gates = 1.0;
    if ((st = opt_whole(p, root, "", "gates", 1.0, 256.0, &gates)) != DOP_OK) return st;
    c->gates = (long)gates;
    return DOP_OK;
}

/* "acquisition": f0 (Hz), beam-to-flow angle (degrees), speed of sound (m/s). */
static dop_status parse_acquisition(parser *p, json_t *root, dop_sim_config *c)
{
    json_t *o;
    dop_status st = opt_object(p, root, "acquisition", &o);
    if (st != DOP_OK || !o) return st;
    static const char *const keys[] = {"f0_hz", "angle_deg", "c_m_s", NULL};
    if ((st = check_keys(p, o, "acquisition.", keys)) != DOP_OK ||
        (st = opt_number(p, o, "acquisition.", "f0_hz", &c->f0_hz)) != DOP_OK ||
        (st = opt_number(p, o, "acquisition.", "angle_deg", &c->angle_deg)) != DOP_OK ||
        (st = opt_number(p, o, "acquisition.", "c_m_s", &c->c_m_s)) != DOP_OK)
        return st;
    return DOP_OK;
}

/* "vessel": diameter (mm) and velocity profile; the diameter is checked even when absent. */
static dop_status parse_vessel(parser *p, json_t *root, dop_sim_config *c)
{
    json_t *o;
    dop_status st = opt_object(p, root, "vessel", &o);
    if (st != DOP_OK) return st;
    if (o) {
        static const char *const keys[] = {"diameter_mm", "profile", "profile_n", NULL};
        static const char *const profiles[] = {"parabolic", "power_law", "plug", "womersley", NULL};
        int prof = (int)c->profile;
        if ((st = check_keys(p, o, "vessel.", keys)) != DOP_OK ||
            (st = opt_number(p, o, "vessel.", "diameter_mm", &c->diameter_mm)) != DOP_OK ||
            (st = opt_enum(p, o, "vessel.", "profile", profiles, &prof)) != DOP_OK ||
            (st = opt_number(p, o, "vessel.", "profile_n", &c->profile_n)) != DOP_OK)
            return st;
        c->profile = (dop_sim_profile)prof;
        if (json_object_get(o, "profile_n") && c->profile != DOP_SIM_PROFILE_POWER_LAW)
            return fail(p, "key \"vessel.profile_n\" applies only to \"profile\": \"power_law\"");
        if (c->profile == DOP_SIM_PROFILE_PARABOLIC) c->profile_n = 2.0;
    }
    if (!(isfinite(c->diameter_mm) && c->diameter_mm > 0.0))
        return fail(p, "key \"vessel.diameter_mm\" = %g must be a positive diameter in mm", c->diameter_mm);
    return DOP_OK;
}

/* "flow": the resting state; the state after the event starts as a copy of it. */
static dop_status parse_flow(parser *p, json_t *root, dop_sim_config *c)
{
    static const char *const state_keys[] = {"waveform", "mean_velocity_cm_s", "flow_ml_min", "heart_rate_bpm", NULL};
    json_t *o;
    dop_status st = opt_object(p, root, "flow", &o);
    if (st != DOP_OK) return st;
    if (o) {
        if ((st = check_keys(p, o, "flow.", state_keys)) != DOP_OK ||
            (st = parse_state(p, o, "flow", c->diameter_mm, &c->rest)) != DOP_OK)
            return st;
    }
    c->after = c->rest;
    return DOP_OK;
}

/* "heart": heart-rate variability, respiratory sinus arrhythmia (%), respiration (Hz). */
static dop_status parse_heart(parser *p, json_t *root, dop_sim_config *c)
{
    json_t *o;
    dop_status st = opt_object(p, root, "heart", &o);
    if (st != DOP_OK || !o) return st;
    static const char *const keys[] = {"hrv_percent", "rsa_percent", "respiration_hz", NULL};
    if ((st = check_keys(p, o, "heart.", keys)) != DOP_OK ||
        (st = opt_number(p, o, "heart.", "hrv_percent", &c->hrv_percent)) != DOP_OK ||
        (st = opt_number(p, o, "heart.", "rsa_percent", &c->rsa_percent)) != DOP_OK ||
        (st = opt_number(p, o, "heart.", "respiration_hz", &c->respiration_hz)) != DOP_OK)
        return st;
    return DOP_OK;
}

/* "event": onset (s, required), the state after it and its time constants (s). */
static dop_status parse_event(parser *p, json_t *root, dop_sim_config *c)
{
    json_t *o;
    dop_status st = opt_object(p, root, "event", &o);
    if (st != DOP_OK || !o) return st;
    static const char *const keys[] = {"onset_s", "waveform", "mean_velocity_cm_s", "flow_ml_min", "heart_rate_bpm",
                                       "tau_s", "tau_shape_s", "tau_hr_s", NULL};
    if ((st = check_keys(p, o, "event.", keys)) != DOP_OK) return st;
    c->has_event = 1;
    c->onset_s = NAN;
    if ((st = opt_number(p, o, "event.", "onset_s", &c->onset_s)) != DOP_OK) return st;
    if (isnan(c->onset_s)) return fail(p, "key \"event.onset_s\" is required in an event");
    if ((st = parse_state(p, o, "event", c->diameter_mm, &c->after)) != DOP_OK ||
        (st = opt_number(p, o, "event.", "tau_s", &c->tau_s)) != DOP_OK)
        return st;
    c->tau_shape_s = c->tau_s;
    if ((st = opt_number(p, o, "event.", "tau_shape_s", &c->tau_shape_s)) != DOP_OK ||
        (st = opt_number(p, o, "event.", "tau_hr_s", &c->tau_hr_s)) != DOP_OK)
        return st;
    return DOP_OK;
}

/* "artifact": massage type (required) and its defaults, overridden key by key. */
static dop_status parse_artifact(parser *p, json_t *root, dop_sim_config *c)
{
    json_t *o;
    dop_status st = opt_object(p, root, "artifact", &o);
    if (st != DOP_OK || !o) return st;
    static const char *const keys[] = {"type", "start_s", "end_s", "level_db", "rate_hz", "duration_ms",
                                       "bandwidth_hz", "motion_mm_s", NULL};
    static const char *const types[] = {"none", "effleurage", "petrissage", "tapotement", NULL};
    if ((st = check_keys(p, o, "artifact.", keys)) != DOP_OK) return st;
    if (!json_object_get(o, "type")) return fail(p, "key \"artifact.type\" is required in an artifact");
    int type = 0;
    if ((st = opt_enum(p, o, "artifact.", "type", types, &type)) != DOP_OK) return st;
    c->artifact = dop_sim_artifact_default((dop_sim_artifact_type)type);
    if (type != DOP_SIM_ARTIFACT_NONE) {
        c->artifact.start_s = c->has_event ? c->onset_s : 0.0;
        c->artifact.end_s = c->duration_s;
    }
    if ((st = opt_number(p, o, "artifact.", "start_s", &c->artifact.start_s)) != DOP_OK ||
        (st = opt_number(p, o, "artifact.", "end_s", &c->artifact.end_s)) != DOP_OK ||
        (st = opt_number(p, o, "artifact.", "level_db", &c->artifact.level_db)) != DOP_OK ||
        (st = opt_number(p, o, "artifact.", "rate_hz", &c->artifact.rate_hz)) != DOP_OK ||
        (st = opt_number(p, o, "artifact.", "duration_ms", &c->artifact.duration_ms)) != DOP_OK ||
        (st = opt_number(p, o, "artifact.", "bandwidth_hz", &c->artifact.bandwidth_hz)) != DOP_OK ||
        (st = opt_number(p, o, "artifact.", "motion_mm_s", &c->artifact.motion_mm_s)) != DOP_OK)
        return st;
    return DOP_OK;
}

/* "clutter" (level 30 dB re blood when the section is given) and "noise" (SNR 20 dB). */
static dop_status parse_clutter_noise(parser *p, json_t *root, dop_sim_config *c)
{
    json_t *o;
    dop_status st;
    if ((st = opt_object(p, root, "clutter", &o)) != DOP_OK) return st;
    if (o) {
        static const char *const keys[] = {"level_db", "wall_velocity_mm_s", "wall_fraction", "tissue_motion_mm", NULL};
        c->clutter_db = 30.0;
        if ((st = check_keys(p, o, "clutter.", keys)) != DOP_OK ||
            (st = opt_number_or_null(p, o, "clutter.", "level_db", &c->clutter_db)) != DOP_OK ||
            (st = opt_number(p, o, "clutter.", "wall_velocity_mm_s", &c->wall_velocity_mm_s)) != DOP_OK ||
            (st = opt_number(p, o, "clutter.", "wall_fraction", &c->wall_fraction)) != DOP_OK ||
            (st = opt_number(p, o, "clutter.", "tissue_motion_mm", &c->tissue_motion_mm)) != DOP_OK)
            return st;
    }
    if ((st = opt_object(p, root, "noise", &o)) != DOP_OK) return st;
    if (o) {
        static const char *const keys[] = {"snr_db", NULL};
        c->snr_db = 20.0;
        if ((st = check_keys(p, o, "noise.", keys)) != DOP_OK ||
            (st = opt_number_or_null(p, o, "noise.", "snr_db", &c->snr_db)) != DOP_OK)
            return st;
    }
    return DOP_OK;
}

/* "dropouts": an array of {start_s, duration_s}. */
static dop_status parse_dropouts(parser *p, json_t *root, dop_sim_config *c)
{
    json_t *drops = json_object_get(root, "dropouts");
    if (!drops) return DOP_OK;
    static const char *const keys[] = {"start_s", "duration_s", NULL};
    if (!json_is_array(drops)) return fail(p, "key \"dropouts\" must be an array of {start_s, duration_s}");
    if (json_array_size(drops) > DOP_SIM_MAX_DROPOUTS) return fail(p, "key \"dropouts\": at most %d", DOP_SIM_MAX_DROPOUTS);
    size_t i;
    json_t *d;
    json_array_foreach(drops, i, d) {
        char where[32];
        snprintf(where, sizeof where, "dropouts[%zu].", i);
        if (!json_is_object(d)) return fail(p, "key \"dropouts[%zu]\" must be an object {start_s, duration_s}", i);
        c->dropouts[i].start_s = c->dropouts[i].duration_s = NAN;
        dop_status st;
        if ((st = check_keys(p, d, where, keys)) != DOP_OK ||
            (st = opt_number(p, d, where, "start_s", &c->dropouts[i].start_s)) != DOP_OK ||
            (st = opt_number(p, d, where, "duration_s", &c->dropouts[i].duration_s)) != DOP_OK)
            return st;
        if (isnan(c->dropouts[i].start_s) || isnan(c->dropouts[i].duration_s))
            return fail(p, "key \"%s\": start_s and duration_s are required", where);
    }
    c->n_dropouts = json_array_size(drops);
    return DOP_OK;
}

/* "synthesis": block (samples) and spectral broadening (% and Hz). */
static dop_status parse_synthesis(parser *p, json_t *root, dop_sim_config *c)
{
    json_t *o;
    dop_status st = opt_object(p, root, "synthesis", &o);
    if (st != DOP_OK || !o) return st;
    static const char *const keys[] = {"block", "broadening_percent", "broadening_hz", NULL};
    double block = (double)c->block;
    if ((st = check_keys(p, o, "synthesis.", keys)) != DOP_OK ||
        (st = opt_whole(p, o, "synthesis.", "block", 32.0, 4096.0, &block)) != DOP_OK ||
        (st = opt_number(p, o, "synthesis.", "broadening_percent", &c->broadening_percent)) != DOP_OK ||
        (st = opt_number(p, o, "synthesis.", "broadening_hz", &c->broadening_hz)) != DOP_OK)
        return st;
    c->block = (size_t)block;
    return DOP_OK;
}

/* "output": headroom and saturation (dB) and the components switched on. */
static dop_status parse_output(parser *p, json_t *root, dop_sim_config *c)
{
    json_t *o;
    dop_status st = opt_object(p, root, "output", &o);
    if (st != DOP_OK || !o) return st;
    static const char *const keys[] = {"headroom_db", "saturation_db", "components", NULL};
    if ((st = check_keys(p, o, "output.", keys)) != DOP_OK ||
        (st = opt_number(p, o, "output.", "headroom_db", &c->headroom_db)) != DOP_OK ||
        (st = opt_number(p, o, "output.", "saturation_db", &c->saturation_db)) != DOP_OK)
        return st;
    json_t *comp;
    if ((st = opt_object(p, o, "components", &comp)) != DOP_OK || !comp) return st;
    static const char *const ckeys[] = {"blood", "clutter", "noise", "artifacts", NULL};
    if ((st = check_keys(p, comp, "output.components.", ckeys)) != DOP_OK ||
        (st = opt_bool(p, comp, "output.components.", "blood", &c->blood)) != DOP_OK ||
        (st = opt_bool(p, comp, "output.components.", "clutter", &c->clutter)) != DOP_OK ||
        (st = opt_bool(p, comp, "output.components.", "noise", &c->noise)) != DOP_OK ||
        (st = opt_bool(p, comp, "output.components.", "artifacts", &c->artifacts)) != DOP_OK)
        return st;
    return DOP_OK;
}

/* One parser per spec section, in the order the sections depend on each other
 * (the vessel's diameter converts flows, the event's onset starts the artifact). */
typedef dop_status (*section_parser)(parser *p, json_t *root, dop_sim_config *c);
static const section_parser sections[] = {
    parse_top,      parse_acquisition,   parse_vessel,   parse_flow,      parse_heart,  parse_event,
    parse_artifact, parse_clutter_noise, parse_dropouts, parse_synthesis, parse_output,
};

dop_status sim_spec_from_json(json_t *root, const char *name, dop_sim_config *cfg, dop_error *err)
{
    parser p = {name, err};
    dop_sim_config c = dop_sim_config_default();
    dop_status st;
    if (!json_is_object(root)) return fail(&p, "a spec must be a JSON object");
    for (size_t i = 0; i < sizeof sections / sizeof sections[0]; i++)
        if ((st = sections[i](&p, root, &c)) != DOP_OK) return st;
    json_t *epochs = json_object_get(root, "epochs");
    if (epochs && (st = parse_epochs(&p, epochs, &c)) != DOP_OK) return st;

    dop_error verr;
    if (dop_sim_config_validate(&c, &verr) != DOP_OK) return fail(&p, "%s", verr.message);
    *cfg = c;
    return DOP_OK;
}

dop_status dop_sim_spec_parse(const char *json_text, const char *name, dop_sim_config *cfg, dop_error *err)
{
    json_error_t jerr;
    json_t *root = json_loads(json_text, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return dop_error_set(err, DOP_ERR_FORMAT, "%s: malformed JSON at line %d, column %d: %s", name, jerr.line,
                             jerr.column, jerr.text);
    dop_status st = sim_spec_from_json(root, name, cfg, err);
    json_decref(root);
    return st;
}

dop_status sim_spec_load_json(const char *path, json_t **out, dop_error *err)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return dop_error_set(err, DOP_ERR_IO, "%s: cannot open spec", path);
    json_error_t jerr;
    json_t *root = json_loadf(f, JSON_REJECT_DUPLICATES, &jerr);
    fclose(f);
    if (!root)
        return dop_error_set(err, DOP_ERR_FORMAT, "%s: malformed JSON at line %d, column %d: %s", path, jerr.line,
                             jerr.column, jerr.text);
    *out = root;
    return DOP_OK;
}

dop_status dop_sim_spec_load(const char *path, dop_sim_config *cfg, dop_error *err)
{
    json_t *root;
    dop_status st = sim_spec_load_json(path, &root, err);
    if (st != DOP_OK) return st;
    st = sim_spec_from_json(root, path, cfg, err);
    json_decref(root);
    return st;
}

dop_status dop_sim_spec_kind_of(const char *path, dop_sim_spec_kind *kind, dop_error *err)
{
    json_t *root;
    dop_status st = sim_spec_load_json(path, &root, err);
    if (st != DOP_OK) return st;
    *kind = DOP_SIM_SPEC_RECORDING;
    json_t *k = json_is_object(root) ? json_object_get(root, "kind") : NULL;
    if (k) {
        if (json_is_string(k) && strcmp(json_string_value(k), "cohort") == 0) *kind = DOP_SIM_SPEC_COHORT;
        else if (!(json_is_string(k) && strcmp(json_string_value(k), "recording") == 0))
            st = dop_error_set(err, DOP_ERR_FORMAT, "%s: key \"kind\": expected \"recording\" or \"cohort\"", path);
    }
    json_decref(root);
    return st;
}

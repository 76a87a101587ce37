/* Cohorts: a study design turned into one recording spec per subject x
 * artery x condition, with subject-to-subject variation drawn from the
 * published group statistics (deterministic by the cohort seed), and the
 * files a study needs: manifest.csv, truth.csv, subjects.csv.
 *
 * Group values are given as mean and SD, or mean and SE of n subjects
 * (SD = SE sqrt(n)). Draws are normal, truncated at +/- truncate_sd SDs
 * (redrawn), so that no subject is physiologically absurd. Exercise is a
 * per-subject flow ratio R = Q_ex / Q_rest, log-normal around the ratio of
 * the group means, with the log-SD that adds the published exercise
 * variance to the resting one: CV_ex^2 = CV_rest^2 + s^2 (floor 0.1). The
 * velocity then scales with the subject's own resting velocity, as it does
 * in a vessel whose diameter does not change (Shoemaker et al. measured
 * diameters before and after and found them unchanged). */
#include "sim_internal.h"

#include "core/fs.h"
#include "dopflow/atomic_file.h"

#include <gsl/gsl_randist.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct dop_sim_cohort {
    char name[64];
    size_t n_items;
    dop_sim_cohort_item *items;
    char **specs;
    char *subjects_csv;         /* drawn parameters, ready to write */
    char epochs_text[512];      /* "label:start:end,..." relative to onset */
};

typedef struct dist {
    double mean, sd;
} dist;

typedef struct cparser {
    const char *name;
    dop_error *err;
    int subjects;
} cparser;

static dop_status cfail(cparser *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static dop_status cfail(cparser *p, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    dop_status status = sim_spec_fail_v(p->name, p->err, fmt, ap);
    va_end(ap);
    return status;
}

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
static dop_status get_dist(cparser *p, json_t *obj, const char *where, const char *key, int required, dist *out)
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

static double truncated_normal(gsl_rng *r, double limit)
{
    for (;;) {
        double z = gsl_ran_gaussian_ziggurat(r, 1.0);
        if (limit <= 0.0 || fabs(z) <= limit) return z;
    }
}

static double uniform_in(gsl_rng *r, const double range[2])
{
    return range[0] + (range[1] - range[0]) * gsl_rng_uniform(r);
}

static char *sprintf_alloc(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *sprintf_alloc(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *s = malloc((size_t)n + 1);
    if (!s) return NULL;
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}

/* Append to a growing string buffer. */
typedef struct sbuf {
    char *s;
    size_t len, cap;
} sbuf;

static int sbuf_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int sbuf_printf(sbuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (b->len + (size_t)n + 1 > b->cap) {
        size_t cap = (b->cap + (size_t)n + 1) * 2;
        char *s = realloc(b->s, cap);
        if (!s) return -1;
        b->s = s;
        b->cap = cap;
    }
    va_start(ap, fmt);
    vsnprintf(b->s + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

typedef struct artery_spec {
    const char *name;
    json_t *obj;
    double f0_hz, angle[2];
    const char *profile;
    double profile_n;
    dist diameter, rest_velocity, rest_flow, exercise_flow;
    double hr_rise[2];
    const char *rest_waveform, *exercise_waveform;
    double tau_s, tau_hr_s;
    double wall_velocity_mm_s;
    double ratio_mean, ratio_log_sd; /* exercise flow ratio */
} artery_spec;

static dop_status parse_artery(cparser *p, const char *name, json_t *o, artery_spec *a)
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
    a->obj = o;
    a->profile = "parabolic";
    a->profile_n = NAN;
    a->rest_waveform = "triphasic";
    a->exercise_waveform = "exercise";
    a->tau_s = 5.0;
    a->tau_hr_s = 3.0;
    a->wall_velocity_mm_s = NAN;
    a->rest_flow.mean = NAN;
    if ((st = get_number(p, o, w, "f0_hz", 1, &a->f0_hz)) != DOP_OK ||
        (st = get_range(p, o, w, "angle_deg", 1, a->angle)) != DOP_OK ||
        (st = get_number(p, o, w, "profile_n", 0, &a->profile_n)) != DOP_OK ||
        (st = get_dist(p, o, w, "diameter_mm", 1, &a->diameter)) != DOP_OK ||
        (st = get_dist(p, o, w, "rest_velocity_cm_s", 1, &a->rest_velocity)) != DOP_OK ||
        (st = get_dist(p, o, w, "rest_flow_ml_min", 0, &a->rest_flow)) != DOP_OK ||
        (st = get_dist(p, o, w, "exercise_flow_ml_min", 1, &a->exercise_flow)) != DOP_OK ||
        (st = get_range(p, o, w, "exercise_heart_rate_rise_bpm", 1, a->hr_rise)) != DOP_OK ||
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
    if (!(a->diameter.mean > 0.0) || !(a->rest_velocity.mean > 0.0) || !(a->exercise_flow.mean > 0.0))
        return cfail(p, "\"%s\": diameter, resting velocity and exercise flow must be positive", w);
    /* Resting flow statistics: given, or implied by velocity and diameter. */
    double area = M_PI * (a->diameter.mean / 20.0) * (a->diameter.mean / 20.0);
    double q_rest = isnan(a->rest_flow.mean) ? a->rest_velocity.mean * area * 60.0 : a->rest_flow.mean;
    double cv_rest = isnan(a->rest_flow.mean) ? a->rest_velocity.sd / a->rest_velocity.mean : a->rest_flow.sd / q_rest;
    double cv_ex = a->exercise_flow.sd / a->exercise_flow.mean;
    a->ratio_mean = a->exercise_flow.mean / q_rest;
    double var = cv_ex * cv_ex - cv_rest * cv_rest;
    a->ratio_log_sd = var > 0.01 ? sqrt(log(1.0 + var)) : 0.1;
    return DOP_OK;
}

typedef struct condition_spec {
    const char *name;
    const char *artifact;  /* NULL = none */
    int exercise;
} condition_spec;

static dop_status parse_condition(cparser *p, const char *name, json_t *o, condition_spec *c)
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

/* Merge `key: value` into the object root[section] (created if absent). */
static void set_in(json_t *root, const char *section, const char *key, json_t *value)
{
    json_t *o = json_object_get(root, section);
    if (!json_is_object(o)) {
        o = json_object();
        json_object_set_new(root, section, o);
    }
    json_object_set_new(o, key, value);
}

dop_status dop_sim_cohort_load(const char *path, dop_sim_cohort **out, dop_error *err)
{
    *out = NULL;
    json_t *root = NULL;
    dop_status st = sim_spec_load_json(path, &root, err);
    if (st != DOP_OK) return st;
    cparser p = {path, err, 0};
    dop_sim_cohort *co = calloc(1, sizeof *co);
    gsl_rng *rng = NULL;
    artery_spec arteries[8];
    condition_spec conditions[16];
    size_t n_art = 0, n_cond = 0;
    sbuf subj = {0};
    if (!co) {
        json_decref(root);
        return dop_error_set(err, DOP_ERR_NOMEM, "out of memory");
    }
    static const char *const top[] = {"kind", "name", "description", "source", "seed", "subjects", "onset_s", "duration_s",
                                      "max_nyquist_fraction", "truncate_sd", "within_subject_cv", "recording", "epochs",
                                      "draws", "arteries", "conditions", NULL};
    if (!json_is_object(root)) {
        st = cfail(&p, "a cohort spec must be a JSON object");
        goto fail;
    }
    if ((st = check_keys(&p, root, "", top)) != DOP_OK) goto fail;
    json_t *kind = json_object_get(root, "kind");
    if (!json_is_string(kind) || strcmp(json_string_value(kind), "cohort") != 0) {
        st = cfail(&p, "key \"kind\" must be \"cohort\"");
        goto fail;
    }
    json_t *name = json_object_get(root, "name");
    if (!json_is_string(name) || !valid_name(json_string_value(name))) {
        st = cfail(&p, "key \"name\" must be a short name of letters, digits, '_' or '-'");
        goto fail;
    }
    snprintf(co->name, sizeof co->name, "%s", json_string_value(name));
    double seed = 1, subjects = 0, onset = NAN, duration = NAN, max_nyq = 0.8, trunc_sd = 2.0, within_cv = 0.0;
    if ((st = get_number(&p, root, "", "seed", 1, &seed)) != DOP_OK ||
        (st = get_number(&p, root, "", "subjects", 1, &subjects)) != DOP_OK ||
        (st = get_number(&p, root, "", "onset_s", 1, &onset)) != DOP_OK ||
        (st = get_number(&p, root, "", "duration_s", 1, &duration)) != DOP_OK ||
        (st = get_number(&p, root, "", "max_nyquist_fraction", 0, &max_nyq)) != DOP_OK ||
        (st = get_number(&p, root, "", "truncate_sd", 0, &trunc_sd)) != DOP_OK ||
        (st = get_number(&p, root, "", "within_subject_cv", 0, &within_cv)) != DOP_OK)
        goto fail;
    if (seed < 0 || seed != floor(seed) || subjects < 1 || subjects > 999 || subjects != floor(subjects) ||
        !(max_nyq > 0.0 && max_nyq <= 1.0) || !(trunc_sd >= 0.0) || !(within_cv >= 0.0 && within_cv < 0.5) ||
        !(onset >= 0.0 && onset < duration)) {
        st = cfail(&p, "seed, subjects (1-999), onset_s (< duration_s), max_nyquist_fraction (0, 1], truncate_sd >= 0 "
                       "and within_subject_cv [0, 0.5) must be valid");
        goto fail;
    }
    p.subjects = (int)subjects;

    json_t *base = json_object_get(root, "recording");
    if (base && !json_is_object(base)) {
        st = cfail(&p, "key \"recording\" must be an object (the shared recording spec)");
        goto fail;
    }
    static const char *const managed[] = {"seed", "duration_s", "acquisition", "vessel", "flow", "event", "artifact",
                                          "epochs", NULL};
    for (size_t i = 0; base && managed[i]; i++)
        if (json_object_get(base, managed[i])) {
            st = cfail(&p, "key \"recording.%s\" is set per recording by the cohort; remove it", managed[i]);
            goto fail;
        }

    json_t *draws = json_object_get(root, "draws");
    double hr[2] = {65, 65}, snr[2] = {NAN, NAN}, clut[2] = {NAN, NAN};
    if (draws) {
        static const char *const dkeys[] = {"heart_rate_bpm", "snr_db", "clutter_db", NULL};
        if (!json_is_object(draws)) {
            st = cfail(&p, "key \"draws\" must be an object");
            goto fail;
        }
        if ((st = check_keys(&p, draws, "draws.", dkeys)) != DOP_OK ||
            (st = get_range(&p, draws, "draws.", "heart_rate_bpm", 0, hr)) != DOP_OK ||
            (st = get_range(&p, draws, "draws.", "snr_db", 0, snr)) != DOP_OK ||
            (st = get_range(&p, draws, "draws.", "clutter_db", 0, clut)) != DOP_OK)
            goto fail;
    }

    json_t *arts = json_object_get(root, "arteries"), *conds = json_object_get(root, "conditions");
    if (!json_is_object(arts) || json_object_size(arts) == 0 || json_object_size(arts) > 8) {
        st = cfail(&p, "key \"arteries\" must be an object of 1-8 arteries");
        goto fail;
    }
    if (!json_is_object(conds) || json_object_size(conds) == 0 || json_object_size(conds) > 16) {
        st = cfail(&p, "key \"conditions\" must be an object of 1-16 conditions");
        goto fail;
    }
    const char *key;
    json_t *val;
    json_object_foreach(arts, key, val) {
        if (!valid_name(key)) {
            st = cfail(&p, "artery name \"%s\": letters, digits, '_' or '-' only", key);
            goto fail;
        }
        if ((st = parse_artery(&p, key, val, &arteries[n_art++])) != DOP_OK) goto fail;
    }
    json_object_foreach(conds, key, val) {
        if (!valid_name(key)) {
            st = cfail(&p, "condition name \"%s\": letters, digits, '_' or '-' only", key);
            goto fail;
        }
        if ((st = parse_condition(&p, key, val, &conditions[n_cond++])) != DOP_OK) goto fail;
    }

    /* Epochs relative to onset. */
    json_t *epochs = json_object_get(root, "epochs");
    if (epochs && !json_is_array(epochs)) {
        st = cfail(&p, "key \"epochs\" must be an array of {label, start_s, end_s} relative to onset_s");
        goto fail;
    }

    co->n_items = (size_t)subjects * n_art * n_cond;
    co->items = calloc(co->n_items, sizeof *co->items);
    co->specs = calloc(co->n_items, sizeof *co->specs);
    rng = sim_rng_new((uint64_t)seed, 100);
    if (!co->items || !co->specs || !rng) {
        st = dop_error_set(err, DOP_ERR_NOMEM, "out of memory");
        goto fail;
    }
    if (sbuf_printf(&subj, "subject,artery,diameter_mm,rest_velocity_cm_s,rest_flow_ml_min,exercise_flow_ratio,"
                           "rest_heart_rate_bpm\n") != 0) {
        st = dop_error_set(err, DOP_ERR_NOMEM, "out of memory");
        goto fail;
    }

    size_t k = 0;
    for (int s = 0; s < (int)subjects; s++) {
        char sname[DOP_SIM_NAME_MAX];
        snprintf(sname, sizeof sname, "S%02d", s + 1);
        double hr_rest = uniform_in(rng, hr);
        for (size_t a = 0; a < n_art; a++) {
            const artery_spec *A = &arteries[a];
            double d = A->diameter.mean + A->diameter.sd * truncated_normal(rng, trunc_sd);
            double v = A->rest_velocity.mean + A->rest_velocity.sd * truncated_normal(rng, trunc_sd);
            double ratio = A->ratio_mean * exp(A->ratio_log_sd * truncated_normal(rng, trunc_sd) -
                                               0.5 * A->ratio_log_sd * A->ratio_log_sd);
            if (ratio < 1.2) ratio = 1.2;
            double area = M_PI * (d / 20.0) * (d / 20.0);
            if (sbuf_printf(&subj, "%s,%s,%.4f,%.4f,%.4f,%.4f,%.2f\n", sname, A->name, d, v, v * area * 60.0, ratio,
                            hr_rest) != 0) {
                st = dop_error_set(err, DOP_ERR_NOMEM, "out of memory");
                goto fail;
            }
            for (size_t c = 0; c < n_cond; c++, k++) {
                const condition_spec *C = &conditions[c];
                dop_sim_cohort_item *it = &co->items[k];
                snprintf(it->subject, sizeof it->subject, "%s", sname);
                snprintf(it->artery, sizeof it->artery, "%s", A->name);
                snprintf(it->condition, sizeof it->condition, "%s", C->name);
                snprintf(it->file, sizeof it->file, "%s_%s_%s.wav", sname, A->name, C->name);
                it->onset_s = onset;
                /* Draws in a fixed order, whatever the condition. */
                double v_rec = v * (1.0 + within_cv * truncated_normal(rng, trunc_sd));
                double angle = uniform_in(rng, A->angle);
                double hr_rise = uniform_in(rng, A->hr_rise);
                double snr_db = isnan(snr[0]) ? NAN : uniform_in(rng, snr);
                double clutter_db = isnan(clut[0]) ? NAN : uniform_in(rng, clut);
                uint64_t rec_seed = (uint64_t)seed * 1000003ull + k + 1;

                json_t *r = base ? json_deep_copy(base) : json_object();
                char *desc = sprintf_alloc("%s cohort, subject %s, %s artery, %s (simulated)", co->name, sname, A->name,
                                           C->name);
                if (desc) json_object_set_new(r, "description", json_string(desc));
                free(desc);
                json_object_set_new(r, "seed", json_integer((json_int_t)rec_seed));
                json_object_set_new(r, "duration_s", json_real(duration));
                set_in(r, "acquisition", "f0_hz", json_real(A->f0_hz));
                set_in(r, "acquisition", "angle_deg", json_real(round(angle * 10.0) / 10.0));
                set_in(r, "vessel", "diameter_mm", json_real(round(d * 1000.0) / 1000.0));
                set_in(r, "vessel", "profile", json_string(A->profile));
                if (!isnan(A->profile_n)) set_in(r, "vessel", "profile_n", json_real(A->profile_n));
                set_in(r, "flow", "waveform", json_string(A->rest_waveform));
                set_in(r, "flow", "mean_velocity_cm_s", json_real(round(v_rec * 10000.0) / 10000.0));
                set_in(r, "flow", "heart_rate_bpm", json_real(round(hr_rest * 10.0) / 10.0));
                set_in(r, "event", "onset_s", json_real(onset));
                if (C->exercise) {
                    set_in(r, "event", "waveform", json_string(A->exercise_waveform));
                    set_in(r, "event", "mean_velocity_cm_s", json_real(round(v_rec * ratio * 10000.0) / 10000.0));
                    set_in(r, "event", "heart_rate_bpm", json_real(round((hr_rest + hr_rise) * 10.0) / 10.0));
                    set_in(r, "event", "tau_s", json_real(A->tau_s));
                    set_in(r, "event", "tau_hr_s", json_real(A->tau_hr_s));
                }
                if (C->artifact) set_in(r, "artifact", "type", json_string(C->artifact));
                if (!isnan(clutter_db)) {
                    set_in(r, "clutter", "level_db", json_real(round(clutter_db * 10.0) / 10.0));
                    if (!isnan(A->wall_velocity_mm_s))
                        set_in(r, "clutter", "wall_velocity_mm_s", json_real(A->wall_velocity_mm_s));
                }
                if (!isnan(snr_db)) set_in(r, "noise", "snr_db", json_real(round(snr_db * 10.0) / 10.0));
                if (epochs) {
                    json_t *ea = json_array();
                    size_t i;
                    json_t *e;
                    json_array_foreach(epochs, i, e) {
                        json_t *lab = json_object_get(e, "label"), *s0 = json_object_get(e, "start_s"),
                               *s1 = json_object_get(e, "end_s");
                        if (!json_is_object(e) || !json_is_string(lab) || !json_is_number(s0) || !json_is_number(s1) ||
                            json_object_size(e) != 3) {
                            json_decref(ea);
                            json_decref(r);
                            st = cfail(&p, "key \"epochs[%zu]\" must be {label, start_s, end_s} (s relative to onset)", i);
                            goto fail;
                        }
                        json_t *o = json_object();
                        json_object_set(o, "label", lab);
                        json_object_set_new(o, "start_s", json_real(onset + json_number_value(s0)));
                        json_object_set_new(o, "end_s", json_real(onset + json_number_value(s1)));
                        json_array_append_new(ea, o);
                    }
                    json_object_set_new(r, "epochs", ea);
                }
                char label[200];
                snprintf(label, sizeof label, "%s (%s)", path, it->file);
                st = sim_spec_from_json(r, label, &it->config, err);
                if (st == DOP_OK) {
                    co->specs[k] = json_dumps(r, JSON_INDENT(2) | JSON_REAL_PRECISION(10));
                    if (!co->specs[k]) st = dop_error_set(err, DOP_ERR_NOMEM, "out of memory");
                    it->spec_json = co->specs[k];
                }
                json_decref(r);
                if (st != DOP_OK) goto fail;
            }
        }
    }
    /* Epoch text for `dopflow study --epochs` (relative to onset). */
    if (epochs) {
        size_t i;
        json_t *e;
        json_array_foreach(epochs, i, e) {
            size_t len = strlen(co->epochs_text);
            snprintf(co->epochs_text + len, sizeof co->epochs_text - len, "%s%s:%g:%g", i ? "," : "",
                     json_string_value(json_object_get(e, "label")), json_number_value(json_object_get(e, "start_s")),
                     json_number_value(json_object_get(e, "end_s")));
        }
    }

    /* Every recording must stay clear of aliasing by the cohort's margin. */
    for (size_t i = 0; i < co->n_items; i++) {
        dop_sim *sim = NULL;
        if ((st = dop_sim_create(&co->items[i].config, &sim, err)) != DOP_OK) goto fail;
        const dop_sim_config *c = &co->items[i].config;
        double peak = dop_sim_peak_velocity_cm_s(sim) * (1.0 + 2.0 * c->broadening_percent / 100.0);
        double nyq = dop_sim_nyquist_cm_s(c);
        dop_sim_destroy(sim);
        if (peak > max_nyq * nyq) {
            st = dop_error_set(err, DOP_ERR_FORMAT,
                               "%s: %s: peak velocity %.1f cm/s (with broadening) exceeds %.0f%% of the Nyquist velocity "
                               "%.1f cm/s; lower f0, raise the sample rate or the angle's cosine",
                               path, co->items[i].file, peak, 100.0 * max_nyq, nyq);
            goto fail;
        }
    }
    co->subjects_csv = subj.s;
    subj.s = NULL;
    gsl_rng_free(rng);
    json_decref(root);
    *out = co;
    return DOP_OK;

fail:
    free(subj.s);
    if (rng) gsl_rng_free(rng);
    json_decref(root);
    dop_sim_cohort_destroy(co);
    return st;
}

size_t dop_sim_cohort_count(const dop_sim_cohort *co) { return co->n_items; }

const dop_sim_cohort_item *dop_sim_cohort_item_at(const dop_sim_cohort *co, size_t i)
{
    return i < co->n_items ? &co->items[i] : NULL;
}

void dop_sim_cohort_destroy(dop_sim_cohort *co)
{
    if (!co) return;
    for (size_t i = 0; co->specs && i < co->n_items; i++) free(co->specs[i]);
    free(co->specs);
    free(co->items);
    free(co->subjects_csv);
    free(co);
}

static dop_status write_text(const char *path, const char *text, dop_error *err)
{
    dop_atomic_file *f = NULL;
    dop_status st = dop_atomic_open(path, &f, err);
    if (st != DOP_OK) return st;
    fputs(text, dop_atomic_stream(f));
    return dop_atomic_commit(f, err);
}

dop_status dop_sim_cohort_write(const dop_sim_cohort *co, const char *dir, dop_sim_progress_fn progress, void *user,
                                dop_error *err)
{
    dop_status st = dop_fs_make_dirs(dir, err);
    if (st != DOP_OK) return st;
    sbuf manifest = {0}, truth = {0};
    char *path = NULL;
    int nomem = sbuf_printf(&manifest, "subject,condition,artery,file,onset_s\n") ||
                sbuf_printf(&truth, "subject,condition,artery,file,epoch,start_s,end_s,mean_velocity_cm_s,tamax_cm_s,"
                                    "flow_ml_min,heart_rate_bpm,beats_heart_rate_bpm,n_beats,diameter_mm\n");
    for (size_t i = 0; i < co->n_items && !nomem; i++) {
        const dop_sim_cohort_item *it = &co->items[i];
        if (progress && progress(i, co->n_items, it->file, user) != 0) {
            st = dop_error_set(err, DOP_ERR_INTERRUPTED, "stopped before %s", it->file);
            goto done;
        }
        free(path);
        path = sprintf_alloc("%s/%s", dir, it->file);
        if (!path) break;
        if ((st = dop_sim_write(&it->config, path, it->spec_json, NULL, err)) != DOP_OK) goto done;
        /* The resolved spec beside the recording: regenerate any one alone. */
        size_t len = strlen(path);
        char *spec_path = sprintf_alloc("%.*s.spec.json", (int)(len - 4), path);
        if (!spec_path) break;
        st = write_text(spec_path, it->spec_json, err);
        free(spec_path);
        if (st != DOP_OK) goto done;
        nomem |= sbuf_printf(&manifest, "%s,%s,%s,%s,%.3f\n", it->subject, it->condition, it->artery, it->file, it->onset_s);
        dop_sim *sim = NULL;
        if ((st = dop_sim_create(&it->config, &sim, err)) != DOP_OK) goto done;
        for (size_t e = 0; e < it->config.n_epochs; e++) {
            const dop_epoch *ep = &it->config.epochs[e];
            dop_sim_epoch_result r;
            if ((st = dop_sim_epoch_truth(sim, ep->label, ep->start_s, ep->end_s, &r, err)) != DOP_OK) {
                dop_sim_destroy(sim);
                goto done;
            }
            nomem |= sbuf_printf(&truth, "%s,%s,%s,%s,%s,%.3f,%.3f,%.6f,%.6f,%.6f,%.4f,%.4f,%lld,%.4f\n", it->subject,
                                 it->condition, it->artery, it->file, r.label, r.start_s, r.end_s, r.mean_velocity_cm_s,
                                 r.tamax_cm_s, r.flow_ml_min, r.heart_rate_bpm, r.beats_heart_rate_bpm,
                                 (long long)r.n_beats, it->config.diameter_mm);
        }
        dop_sim_destroy(sim);
    }
    if (nomem || !path) {
        st = dop_error_set(err, DOP_ERR_NOMEM, "out of memory");
        goto done;
    }
    const struct {
        const char *name;
        const char *text;
    } files[] = {{"subjects.csv", co->subjects_csv}, {"truth.csv", truth.s}, {"epochs.txt", NULL}, {"manifest.csv", manifest.s}};
    for (size_t f = 0; f < sizeof files / sizeof files[0]; f++) {
        free(path);
        path = sprintf_alloc("%s/%s", dir, files[f].name);
        if (!path) {
            st = dop_error_set(err, DOP_ERR_NOMEM, "out of memory");
            goto done;
        }
        char epochs_line[600];
        snprintf(epochs_line, sizeof epochs_line, "%s\n", co->epochs_text);
        /* manifest.csv last: its presence means the cohort is complete. */
        if ((st = write_text(path, files[f].text ? files[f].text : epochs_line, err)) != DOP_OK) goto done;
    }
    st = DOP_OK;
done:
    free(path);
    free(manifest.s);
    free(truth.s);
    return st;
}

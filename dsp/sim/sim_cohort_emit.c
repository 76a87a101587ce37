/* Cohorts, step 3: the design and its draws written out. In memory: one
 * resolved recording spec per subject x artery x condition (checked by the
 * recording parser), subjects.csv (the drawn parameters) and the epochs for
 * `dopflow study --epochs`. On disk (dop_sim_cohort_write): every recording
 * with its spec beside it, then subjects.csv, truth.csv, epochs.txt and
 * manifest.csv, last, so that its presence means the cohort is complete. */
#include "sim_cohort_internal.h"

#include "core/fs.h"
#include "dopflow/atomic_file.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* ---- in memory ---- */

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

/* The design's epochs (relative to onset) as absolute {label, start_s, end_s}. */
static json_t *absolute_epochs(const cohort_design *d)
{
    json_t *ea = json_array();
    size_t i;
    json_t *e;
    json_array_foreach(d->epochs, i, e) {
        json_t *o = json_object();
        json_object_set(o, "label", json_object_get(e, "label"));
        json_object_set_new(o, "start_s", json_real(d->onset_s + json_number_value(json_object_get(e, "start_s"))));
        json_object_set_new(o, "end_s", json_real(d->onset_s + json_number_value(json_object_get(e, "end_s"))));
        json_array_append_new(ea, o);
    }
    return ea;
}

/* Where one recording of the cohort stands. */
typedef struct cohort_place {
    size_t item;                   /* index: subject x artery x condition */
    const char *subject;
    const cohort_artery *artery;
    const cohort_condition *condition;
    double heart_rate_bpm;         /* the subject's resting heart rate */
    const cohort_vessel_draw *vessel;
    const cohort_recording_draw *draw;
} cohort_place;

/* The recording spec of one item: the shared "recording" with the cohort's
 * keys set. Values are rounded as a person would write them. */
static json_t *recording_spec(const cohort_design *d, const cohort_place *at)
{
    const cohort_artery *a = at->artery;
    const cohort_recording_draw *r = at->draw;
    json_t *spec = d->recording ? json_deep_copy(d->recording) : json_object();
    char *desc = sprintf_alloc("%s cohort, subject %s, %s artery, %s (simulated)", d->name, at->subject, a->name,
                               at->condition->name);
    if (desc) json_object_set_new(spec, "description", json_string(desc));
    free(desc);
    uint64_t rec_seed = d->seed * 1000003ull + at->item + 1;
    json_object_set_new(spec, "seed", json_integer((json_int_t)rec_seed));
    json_object_set_new(spec, "duration_s", json_real(d->duration_s));
    set_in(spec, "acquisition", "f0_hz", json_real(a->f0_hz));
    set_in(spec, "acquisition", "angle_deg", json_real(round(r->angle_deg * 10.0) / 10.0));
    set_in(spec, "vessel", "diameter_mm", json_real(round(at->vessel->diameter_mm * 1000.0) / 1000.0));
    set_in(spec, "vessel", "profile", json_string(a->profile));
    if (!isnan(a->profile_n)) set_in(spec, "vessel", "profile_n", json_real(a->profile_n));
    set_in(spec, "flow", "waveform", json_string(a->rest_waveform));
    set_in(spec, "flow", "mean_velocity_cm_s", json_real(round(r->velocity_cm_s * 10000.0) / 10000.0));
    set_in(spec, "flow", "heart_rate_bpm", json_real(round(at->heart_rate_bpm * 10.0) / 10.0));
    set_in(spec, "event", "onset_s", json_real(d->onset_s));
    if (at->condition->exercise) {
        double ratio = at->vessel->exercise_ratio;
        set_in(spec, "event", "waveform", json_string(a->exercise_waveform));
        set_in(spec, "event", "mean_velocity_cm_s", json_real(round(r->velocity_cm_s * ratio * 10000.0) / 10000.0));
        set_in(spec, "event", "heart_rate_bpm", json_real(round((at->heart_rate_bpm + r->hr_rise_bpm) * 10.0) / 10.0));
        set_in(spec, "event", "tau_s", json_real(a->tau_s));
        set_in(spec, "event", "tau_hr_s", json_real(a->tau_hr_s));
    }
    if (at->condition->artifact) set_in(spec, "artifact", "type", json_string(at->condition->artifact));
    if (!isnan(r->clutter_db)) {
        set_in(spec, "clutter", "level_db", json_real(round(r->clutter_db * 10.0) / 10.0));
        if (!isnan(a->wall_velocity_mm_s)) set_in(spec, "clutter", "wall_velocity_mm_s", json_real(a->wall_velocity_mm_s));
    }
    if (!isnan(r->snr_db)) set_in(spec, "noise", "snr_db", json_real(round(r->snr_db * 10.0) / 10.0));
    if (d->epochs) json_object_set_new(spec, "epochs", absolute_epochs(d));
    return spec;
}

/* One item: names, the resolved spec (parsed as any recording spec) and its text. */
static dop_status emit_item(const cohort_design *d, const cohort_place *at, dop_sim_cohort *co, dop_error *err)
{
    dop_sim_cohort_item *it = &co->items[at->item];
    snprintf(it->subject, sizeof it->subject, "%s", at->subject);
    snprintf(it->artery, sizeof it->artery, "%s", at->artery->name);
    snprintf(it->condition, sizeof it->condition, "%s", at->condition->name);
    snprintf(it->file, sizeof it->file, "%s_%s_%s.wav", at->subject, at->artery->name, at->condition->name);
    it->onset_s = d->onset_s;
    json_t *spec = recording_spec(d, at);
    char label[200];
    snprintf(label, sizeof label, "%s (%s)", d->path, it->file);
    dop_status st = sim_spec_from_json(spec, label, &it->config, err);
    if (st == DOP_OK) {
        co->specs[at->item] = json_dumps(spec, JSON_INDENT(2) | JSON_REAL_PRECISION(10));
        if (!co->specs[at->item]) st = dop_error_set(err, DOP_ERR_NOMEM, "out of memory");
        it->spec_json = co->specs[at->item];
    }
    json_decref(spec);
    return st;
}

/* subjects.csv: one row per subject x artery with the drawn values. */
static dop_status subjects_csv(const cohort_design *d, const cohort_draws *dr, char **out, dop_error *err)
{
    sbuf subj = {0};
    int nomem = sbuf_printf(&subj, "subject,artery,diameter_mm,rest_velocity_cm_s,rest_flow_ml_min,exercise_flow_ratio,"
                                   "rest_heart_rate_bpm\n");
    for (size_t s = 0; s < d->subjects && !nomem; s++)
        for (size_t a = 0; a < d->n_arteries && !nomem; a++) {
            const cohort_vessel_draw *v = &dr->vessels[s * d->n_arteries + a];
            double area = M_PI * (v->diameter_mm / 20.0) * (v->diameter_mm / 20.0); /* cm^2 */
            nomem = sbuf_printf(&subj, "S%02d,%s,%.4f,%.4f,%.4f,%.4f,%.2f\n", (int)s + 1, d->arteries[a].name,
                                v->diameter_mm, v->rest_velocity_cm_s, v->rest_velocity_cm_s * area * 60.0,
                                v->exercise_ratio, dr->heart_rate_bpm[s]);
        }
    if (nomem) {
        free(subj.s);
        return dop_error_set(err, DOP_ERR_NOMEM, "out of memory");
    }
    *out = subj.s;
    return DOP_OK;
}

/* Epoch text for `dopflow study --epochs` (relative to onset). */
static void epochs_text(const cohort_design *d, char *text, size_t size)
{
    size_t i;
    json_t *e;
    json_array_foreach(d->epochs, i, e) {
        size_t len = strlen(text);
        snprintf(text + len, size - len, "%s%s:%g:%g", i ? "," : "", json_string_value(json_object_get(e, "label")),
                 json_number_value(json_object_get(e, "start_s")), json_number_value(json_object_get(e, "end_s")));
    }
}

dop_status cohort_emit(const cohort_design *d, const cohort_draws *dr, dop_sim_cohort *co, dop_error *err)
{
    snprintf(co->name, sizeof co->name, "%s", d->name);
    co->n_items = d->subjects * d->n_arteries * d->n_conditions;
    co->items = calloc(co->n_items, sizeof *co->items);
    co->specs = calloc(co->n_items, sizeof *co->specs);
    if (!co->items || !co->specs) return dop_error_set(err, DOP_ERR_NOMEM, "out of memory");
    dop_status st = subjects_csv(d, dr, &co->subjects_csv, err);
    if (st != DOP_OK) return st;
    cohort_place at = {0};
    for (size_t s = 0; s < d->subjects; s++) {
        char subject[DOP_SIM_NAME_MAX];
        snprintf(subject, sizeof subject, "S%02d", (int)s + 1);
        at.subject = subject;
        at.heart_rate_bpm = dr->heart_rate_bpm[s];
        for (size_t a = 0; a < d->n_arteries; a++) {
            at.artery = &d->arteries[a];
            at.vessel = &dr->vessels[s * d->n_arteries + a];
            for (size_t c = 0; c < d->n_conditions; c++, at.item++) {
                at.condition = &d->conditions[c];
                at.draw = &dr->recordings[at.item];
                if ((st = emit_item(d, &at, co, err)) != DOP_OK) return st;
            }
        }
    }
    if (d->epochs) epochs_text(d, co->epochs_text, sizeof co->epochs_text);
    return DOP_OK;
}

/* ---- on disk ---- */

static dop_status write_text(const char *path, const char *text, dop_error *err)
{
    dop_atomic_file *f = NULL;
    dop_status st = dop_atomic_open(path, &f, err);
    if (st != DOP_OK) return st;
    fputs(text, dop_atomic_stream(f));
    return dop_atomic_commit(f, err);
}

/* The recording of one item and its resolved spec beside it (dir/NAME.wav,
 * dir/NAME.spec.json): any one can be regenerated alone. */
static dop_status write_recording(const dop_sim_cohort_item *it, const char *dir, int *nomem, dop_error *err)
{
    char *path = sprintf_alloc("%s/%s", dir, it->file);
    if (!path) {
        *nomem = 1;
        return DOP_OK;
    }
    dop_status st = dop_sim_write(&it->config, path, it->spec_json, NULL, err);
    char *spec_path = st == DOP_OK ? sprintf_alloc("%.*s.spec.json", (int)(strlen(path) - 4), path) : NULL;
    free(path);
    if (st != DOP_OK) return st;
    if (!spec_path) {
        *nomem = 1;
        return DOP_OK;
    }
    st = write_text(spec_path, it->spec_json, err);
    free(spec_path);
    return st;
}

/* truth.csv rows of one item: the simulator's truth over each epoch. */
static dop_status truth_rows(const dop_sim_cohort_item *it, sbuf *truth, int *nomem, dop_error *err)
{
    dop_sim *sim = NULL;
    dop_status st = dop_sim_create(&it->config, &sim, err);
    if (st != DOP_OK) return st;
    for (size_t e = 0; e < it->config.n_epochs; e++) {
        const dop_epoch *ep = &it->config.epochs[e];
        dop_sim_epoch_result r;
        if ((st = dop_sim_epoch_truth(sim, ep->label, ep->start_s, ep->end_s, &r, err)) != DOP_OK) break;
        *nomem |= sbuf_printf(truth, "%s,%s,%s,%s,%s,%.3f,%.3f,%.6f,%.6f,%.6f,%.4f,%.4f,%lld,%.4f\n", it->subject,
                              it->condition, it->artery, it->file, r.label, r.start_s, r.end_s, r.mean_velocity_cm_s,
                              r.tamax_cm_s, r.flow_ml_min, r.heart_rate_bpm, r.beats_heart_rate_bpm,
                              (long long)r.n_beats, it->config.diameter_mm);
    }
    dop_sim_destroy(sim);
    return st;
}

/* subjects.csv, truth.csv, epochs.txt, then manifest.csv: its presence
 * means the cohort is complete. */
static dop_status write_tables(const dop_sim_cohort *co, const char *dir, const char *truth, const char *manifest,
                               dop_error *err)
{
    char epochs_line[600];
    snprintf(epochs_line, sizeof epochs_line, "%s\n", co->epochs_text);
    const struct {
        const char *name;
        const char *text;
    } files[] = {{"subjects.csv", co->subjects_csv}, {"truth.csv", truth}, {"epochs.txt", epochs_line},
                 {"manifest.csv", manifest}};
    for (size_t f = 0; f < sizeof files / sizeof files[0]; f++) {
        char *path = sprintf_alloc("%s/%s", dir, files[f].name);
        if (!path) return dop_error_set(err, DOP_ERR_NOMEM, "out of memory");
        dop_status st = write_text(path, files[f].text, err);
        free(path);
        if (st != DOP_OK) return st;
    }
    return DOP_OK;
}

dop_status dop_sim_cohort_write(const dop_sim_cohort *co, const char *dir, dop_sim_progress_fn progress, void *user,
                                dop_error *err)
{
    dop_status st = dop_fs_make_dirs(dir, err);
    if (st != DOP_OK) return st;
    sbuf manifest = {0}, truth = {0};
    int nomem = sbuf_printf(&manifest, "subject,condition,artery,file,onset_s\n") ||
                sbuf_printf(&truth, "subject,condition,artery,file,epoch,start_s,end_s,mean_velocity_cm_s,tamax_cm_s,"
                                    "flow_ml_min,heart_rate_bpm,beats_heart_rate_bpm,n_beats,diameter_mm\n");
    for (size_t i = 0; i < co->n_items && !nomem; i++) {
        const dop_sim_cohort_item *it = &co->items[i];
        if (progress && progress(i, co->n_items, it->file, user) != 0) {
            st = dop_error_set(err, DOP_ERR_INTERRUPTED, "stopped before %s", it->file);
            goto done;
        }
        if ((st = write_recording(it, dir, &nomem, err)) != DOP_OK) goto done;
        if (nomem) break;
        nomem |= sbuf_printf(&manifest, "%s,%s,%s,%s,%.3f\n", it->subject, it->condition, it->artery, it->file, it->onset_s);
        if ((st = truth_rows(it, &truth, &nomem, err)) != DOP_OK) goto done;
    }
    if (nomem || co->n_items == 0) {
        st = dop_error_set(err, DOP_ERR_NOMEM, "out of memory");
        goto done;
    }
    st = write_tables(co, dir, truth.s, manifest.s, err);
done:
    free(manifest.s);
    free(truth.s);
    return st;
}

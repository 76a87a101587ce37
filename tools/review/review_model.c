/* The review page's data (see review_model.h). */
#include "review_model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void rec_clear(rm_recording *r)
{
    free(r->vmax);
    free(r->vmean);
    free(r->flags);
    free(r->spec);
    free(r->beats);
    free(r->summaries);
    r->vmax = r->vmean = NULL;
    r->flags = NULL;
    r->spec = NULL;
    r->beats = NULL;
    r->summaries = NULL;
    r->n_frames = r->cap_frames = r->n_rows = r->cap_spec = r->n_beats = r->cap_beats = r->n_summaries = 0;
    r->analysed = 0;
    r->error[0] = '\0';
}

dop_status rm_model_open(rm_model *m, const char *input, int is_manifest, dop_error *err)
{
    m->recs = NULL;
    m->n_recs = m->current = 0;
    m->manifest = NULL;
    if (is_manifest) {
        dop_status st = dop_manifest_read(input, &m->manifest, err);
        if (st != DOP_OK) return st;
        m->n_recs = dop_manifest_row_count(m->manifest);
        if (m->n_recs == 0) return dop_error_set(err, DOP_ERR_NO_DATA, "%s: no recordings", input);
    } else {
        m->n_recs = 1;
    }
    m->recs = calloc(m->n_recs, sizeof *m->recs);
    if (!m->recs) return dop_error_set(err, DOP_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < m->n_recs; i++) {
        rm_recording *r = &m->recs[i];
        r->onset_s = NAN;
        r->overrides = dop_acquisition_unset();
        if (m->manifest) {
            const dop_manifest_row *row = dop_manifest_row_at(m->manifest, i);
            r->path = row->path;
            r->onset_s = row->onset_s;
            r->overrides = row->overrides;
            const char *artery = dop_manifest_name(m->manifest, DOP_MANIFEST_ARTERY, row->artery);
            snprintf(r->label, sizeof r->label, "%s / %s%s%s / %s",
                     dop_manifest_name(m->manifest, DOP_MANIFEST_SUBJECT, row->subject),
                     dop_manifest_name(m->manifest, DOP_MANIFEST_CONDITION, row->condition),
                     artery && artery[0] ? " / " : "", artery ? artery : "", row->file);
        } else {
            r->path = input;
            snprintf(r->label, sizeof r->label, "%s", input);
        }
        r->review_path = dop_review_path_for(r->path);
        if (!r->review_path) return dop_error_set(err, DOP_ERR_NOMEM, "out of memory");
    }
    return DOP_OK;
}

void rm_model_close(rm_model *m)
{
    for (size_t i = 0; i < m->n_recs; i++) {
        rec_clear(&m->recs[i]);
        free(m->recs[i].review_path);
    }
    free(m->recs);
    dop_manifest_destroy(m->manifest);
    m->recs = NULL;
    m->manifest = NULL;
}

/* ---- the tap: what the job computes, kept --------------------------- */

typedef struct tap_state {
    rm_recording *r;
    const float *axis;
    size_t analysis_bins;
    int failed;
} tap_state;

static int grow(void **p, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap) return 0;
    size_t n = *cap ? *cap : 1024;
    while (n < need) n *= 2;
    void *q = realloc(*p, n * size);
    if (!q) return -1;
    *p = q;
    *cap = n;
    return 0;
}

static int tap_start(const float *axis, size_t bins, double frame_period_s, void *user)
{
    tap_state *t = user;
    rm_recording *r = t->r;
    t->analysis_bins = bins;
    r->pool = (bins + RM_MAX_BINS - 1) / RM_MAX_BINS;
    r->bins = bins / r->pool;
    r->frame_period_s = frame_period_s;
    r->v_lo = axis[0];
    r->v_hi = axis[r->bins * r->pool - 1];
    return 0;
}

static int tap_spectrum(double time_s, const float *db, size_t bins, void *user)
{
    tap_state *t = user;
    rm_recording *r = t->r;
    if (grow((void **)&r->spec, &r->cap_spec, (r->n_rows + 1) * r->bins, 1) != 0) return 1;
    uint8_t *row = r->spec + r->n_rows * r->bins;
    for (size_t k = 0; k < r->bins; k++) {
        float best = -INFINITY;
        for (size_t j = 0; j < r->pool; j++)
            if (db[k * r->pool + j] > best) best = db[k * r->pool + j];
        double x = (best - RM_DB_LO) / (RM_DB_HI - RM_DB_LO) * 254.0;
        row[k] = (uint8_t)(1.0 + (x < 0.0 ? 0.0 : x > 254.0 ? 254.0 : x));
    }
    if (r->n_rows == 0) r->first_time_s = time_s;
    r->n_rows++;
    (void)bins;
    return 0;
}

static int tap_frame(const dop_frame *f, void *user)
{
    tap_state *t = user;
    rm_recording *r = t->r;
    size_t need = r->n_frames + 1, cap = r->cap_frames;
    if (grow((void **)&r->vmax, &cap, need, sizeof *r->vmax) != 0) return 1;
    cap = r->cap_frames;
    if (grow((void **)&r->vmean, &cap, need, sizeof *r->vmean) != 0) return 1;
    cap = r->cap_frames;
    if (grow((void **)&r->flags, &cap, need, sizeof *r->flags) != 0) return 1;
    r->cap_frames = cap;
    if (r->n_frames == 0 && r->n_rows == 0) r->first_time_s = f->time_s;
    r->vmax[r->n_frames] = (float)f->vmax_cm_s;
    r->vmean[r->n_frames] = (float)f->vmean_cm_s;
    r->flags[r->n_frames] = f->flags;
    r->n_frames++;
    return 0;
}

static int tap_beat(const dop_beat *b, const char *reason, void *user)
{
    tap_state *t = user;
    rm_recording *r = t->r;
    if (grow((void **)&r->beats, &r->cap_beats, r->n_beats + 1, sizeof *r->beats) != 0) return 1;
    rm_beat *out = &r->beats[r->n_beats++];
    out->start_s = b->start_s;
    out->end_s = b->end_s;
    out->flow_ml_min = b->flow_ml_min;
    out->tamean_cm_s = b->tamean_cm_s;
    out->psv_cm_s = b->psv_cm_s;
    out->heart_rate_bpm = b->heart_rate_bpm;
    out->rejected = b->rejected;
    snprintf(out->reason, sizeof out->reason, "%s", reason ? reason : b->rejected ? "artifacts" : "");
    return 0;
}

dop_status rm_analyse(rm_model *m, size_t i, dop_error *err)
{
    rm_recording *r = &m->recs[i];
    rec_clear(r);
    double t_start = now_s();
    dop_job job = m->job;
    job.input.path = r->path;
    job.overrides = r->overrides;
    dop_acquisition_overlay(&job.overrides, &m->job.overrides);
    job.summary_path = job.frames_path = job.beats_path = job.h5_path = NULL;
    tap_state ts = {r, NULL, 0, 0};
    dop_job_tap tap = {tap_start, tap_spectrum, tap_frame, tap_beat, &ts};
    job.tap = &tap;
    dop_epoch *epochs = NULL;
    size_t n_epochs = 0;
    dop_status st = DOP_OK;
    if (m->epochs_spec) {
        st = dop_epochs_parse(m->epochs_spec, isfinite(r->onset_s) ? r->onset_s : 0.0, &epochs, &n_epochs, err);
        job.epochs = epochs;
        job.n_epochs = n_epochs;
    }
    r->n_summaries = n_epochs ? n_epochs : 1;
    r->summaries = calloc(r->n_summaries, sizeof *r->summaries);
    if (st == DOP_OK && !r->summaries) st = dop_error_set(err, DOP_ERR_NOMEM, "out of memory");
    if (st == DOP_OK) st = dop_job_run(&job, r->summaries, &r->report, err);
    if (st == DOP_OK && !r->input_sha256[0]) st = dop_file_sha256(r->path, r->input_sha256, err);
    free(epochs);
    r->analyse_s = now_s() - t_start;
    r->analysed = 1;
    if (st != DOP_OK) {
        char message[sizeof r->error];
        snprintf(message, sizeof message, "%s", err && err->message[0] ? err->message : dop_strerror(st));
        rec_clear(r);
        r->analysed = 1;
        snprintf(r->error, sizeof r->error, "%s", message);
    }
    return st;
}

/* ---- JSON ------------------------------------------------------------- */

static json_t *number_or_null(double x) { return isfinite(x) ? json_real(x) : json_null(); }

static char *dump(json_t *o)
{
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    return text;
}

/* The review file as the page edits it: the file's JSON, or a new one. */
static json_t *review_json(const rm_recording *r)
{
    json_error_t jerr;
    json_t *review = access(r->review_path, F_OK) == 0 ? json_load_file(r->review_path, 0, &jerr) : NULL;
    if (!json_is_object(review)) {
        json_decref(review);
        review = json_pack("{s:i, s:b, s:s, s:[]}", "dopflow_review", 1, "reviewed", 0, "note", "", "edits");
        if (review && r->input_sha256[0]) json_object_set_new(review, "input_sha256", json_string(r->input_sha256));
    }
    return review;
}

static json_t *summary_json(const dop_summary *s)
{
    return json_pack("{s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:I, s:I, s:o, s:o, s:o, s:o}", "epoch", s->epoch,
                     "start_s", number_or_null(s->start_s), "end_s", number_or_null(s->end_s),
                     "mean_velocity_cm_s", number_or_null(s->mean_velocity_cm_s),
                     "tamax_cm_s", number_or_null(s->tamax_cm_s), "flow_ml_min", number_or_null(s->flow_ml_min),
                     "heart_rate_bpm", number_or_null(s->heart_rate_bpm), "n_beats", (json_int_t)s->n_beats,
                     "n_beats_rejected", (json_int_t)s->n_beats_rejected, "pi", number_or_null(s->pi),
                     "ri", number_or_null(s->ri), "rejected_fraction", number_or_null(s->rejected_fraction),
                     "analysed_s", number_or_null(s->analysed_s));
}

/* Status of recording i for the list: reviewed (from its file), beats
 * rejected by review (when analysed). */
static json_t *list_item(const rm_recording *r)
{
    int reviewed = 0;
    dop_review *rv = NULL;
    if (access(r->review_path, F_OK) == 0 && dop_review_load(r->review_path, &rv, NULL) == DOP_OK) {
        reviewed = dop_review_is_reviewed(rv);
        dop_review_destroy(rv);
    }
    json_t *o = json_pack("{s:s, s:b, s:b, s:b}", "label", r->label, "reviewed", reviewed, "analysed", r->analysed,
                          "has_review", access(r->review_path, F_OK) == 0);
    if (o && r->analysed && !r->error[0])
        json_object_set_new(o, "beats_rejected_by_review", json_integer(r->report.review_rejected_beats));
    return o;
}

char *rm_state_json(const rm_model *m, size_t i)
{
    const rm_recording *r = &m->recs[i];
    json_t *list = json_array();
    for (size_t k = 0; k < m->n_recs; k++) json_array_append_new(list, list_item(&m->recs[k]));
    json_t *summaries = json_array();
    for (size_t k = 0; r->summaries && k < r->n_summaries; k++)
        json_array_append_new(summaries, summary_json(&r->summaries[k]));
    double duration = r->n_frames ? r->first_time_s + (double)r->n_frames * r->frame_period_s : 0.0;
    json_t *o = json_pack("{s:I, s:o, s:s, s:s, s:s, s:f, s:f, s:f, s:f, s:f, s:I, s:o, s:o, s:s, s:f}",
                          "current", (json_int_t)i, "recordings", list, "path", r->path, "review_path", r->review_path,
                          "error", r->error, "start_s", r->first_time_s, "end_s", duration,
                          "frame_period_s", r->frame_period_s, "v_lo", r->v_lo, "v_hi", r->v_hi,
                          "n_beats", (json_int_t)r->n_beats, "summaries", summaries, "review", review_json(r),
                          "unmatched", r->report.review_unmatched_text, "analyse_s", r->analyse_s);
    if (o) {
        json_object_set_new(o, "db_lo", json_real(RM_DB_LO));
        json_object_set_new(o, "db_hi", json_real(RM_DB_HI));
        json_object_set_new(o, "review_excluded_s", json_real(r->report.review_excluded_s));
        json_object_set_new(o, "review_rejected_beats", json_integer(r->report.review_rejected_beats));
        json_object_set_new(o, "review_unmatched", json_integer(r->report.review_unmatched));
    }
    return dump(o);
}

static char *base64(const uint8_t *data, size_t n)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char *out = malloc(4 * ((n + 2) / 3) + 1), *p = out;
    if (!out) return NULL;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)data[i] << 16 | (i + 1 < n ? (uint32_t)data[i + 1] << 8 : 0) | (i + 2 < n ? data[i + 2] : 0);
        *p++ = tab[v >> 18 & 63];
        *p++ = tab[v >> 12 & 63];
        *p++ = i + 1 < n ? tab[v >> 6 & 63] : '=';
        *p++ = i + 2 < n ? tab[v & 63] : '=';
    }
    *p = '\0';
    return out;
}

/* Frames [a, b) of column c of `columns` over [t0, t1): max-pooled; when
 * zoomed in further than one frame per column, the frame under the column. */
static void column_frames(const rm_recording *r, size_t n, double t0, double dt, size_t c, size_t *a, size_t *b)
{
    double fa = (t0 + dt * (double)c - r->first_time_s) / r->frame_period_s;
    double fb = (t0 + dt * (double)(c + 1) - r->first_time_s) / r->frame_period_s;
    long long ia = (long long)floor(fa + 0.5), ib = (long long)floor(fb + 0.5);
    if (ib <= ia) ib = ia + 1;
    if (ia < 0) ia = 0;
    if (ib > (long long)n) ib = (long long)n;
    *a = (size_t)ia;
    *b = ib > ia ? (size_t)ib : (size_t)ia;
}

char *rm_window_json(const rm_model *m, size_t i, double t0, double t1, size_t columns)
{
    const rm_recording *r = &m->recs[i];
    if (columns < 1) columns = 1;
    if (columns > RM_MAX_COLUMNS) columns = RM_MAX_COLUMNS;
    if (!(t1 > t0)) t1 = t0 + 1.0;
    const double dt = (t1 - t0) / (double)columns;
    uint8_t *img = calloc(columns * (r->bins ? r->bins : 1), 1);
    json_t *vmax = json_array(), *vmean = json_array(), *flags = json_array(), *beats = json_array();
    if (!img) return NULL;
    for (size_t c = 0; c < columns; c++) {
        size_t a, b;
        column_frames(r, r->n_rows, t0, dt, c, &a, &b);
        for (size_t f = a; f < b; f++)
            for (size_t k = 0; k < r->bins; k++)
                if (r->spec[f * r->bins + k] > img[c * r->bins + k]) img[c * r->bins + k] = r->spec[f * r->bins + k];
        column_frames(r, r->n_frames, t0, dt, c, &a, &b);
        if (a >= b) {
            json_array_append_new(vmax, json_null());
            json_array_append_new(vmean, json_null());
            json_array_append_new(flags, json_integer(0));
            continue;
        }
        float peak = r->vmax[a];
        double sum = 0.0;
        uint32_t fl = 0;
        for (size_t f = a; f < b; f++) {
            if (fabsf(r->vmax[f]) > fabsf(peak)) peak = r->vmax[f];
            sum += r->vmean[f];
            fl |= r->flags[f];
        }
        json_array_append_new(vmax, number_or_null(peak));
        json_array_append_new(vmean, number_or_null(sum / (double)(b - a)));
        json_array_append_new(flags, json_integer(fl));
    }
    size_t in_window = 0;
    for (size_t k = 0; k < r->n_beats; k++)
        in_window += r->beats[k].end_s > t0 && r->beats[k].start_s < t1;
    for (size_t k = 0; k < r->n_beats && in_window <= RM_MAX_WINDOW_BEATS; k++) {
        const rm_beat *b = &r->beats[k];
        if (!(b->end_s > t0 && b->start_s < t1)) continue;
        json_array_append_new(beats, json_pack("{s:I, s:f, s:f, s:b, s:s, s:o, s:o, s:o, s:o}", "i", (json_int_t)k,
                                               "s", b->start_s, "e", b->end_s, "rej", b->rejected, "why", b->reason,
                                               "flow", number_or_null(b->flow_ml_min),
                                               "vmean", number_or_null(b->tamean_cm_s),
                                               "psv", number_or_null(b->psv_cm_s),
                                               "hr", number_or_null(b->heart_rate_bpm)));
    }
    char *image = base64(img, columns * r->bins);
    free(img);
    json_t *o = json_pack("{s:f, s:f, s:I, s:I, s:s, s:o, s:o, s:o, s:o, s:b}", "t0", t0, "t1", t1, "columns",
                          (json_int_t)columns, "bins", (json_int_t)r->bins, "image", image ? image : "", "vmax", vmax,
                          "vmean", vmean, "flags", flags, "beats", beats, "too_many_beats",
                          in_window > RM_MAX_WINDOW_BEATS);
    free(image);
    return dump(o);
}

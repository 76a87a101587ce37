/* Review files and their replay (see review.h).
 *
 * Parsing is strict: an unknown key or action is an error, not ignored,
 * because a misspelt edit that did nothing would look like a review that
 * was applied. JSON by jansson; SHA-256 by nettle. */
#include "dopflow/review.h"
#include "dopflow/beat_measure.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "core/fs.h"

struct dop_review {
    dop_review_edit *edits;
    size_t n_edits;
    int reviewed;
    char *note;
    char input_sha256[65];
    char sha256[65];
    char *edits_json;
};

static const char *const action_names[] = {"reject_beat", "restore_beat", "add_beat", "exclude"};

char *dop_review_path_for(const char *input_path)
{
    const char *slash = strrchr(input_path, '/');
    const char *dot = strrchr(input_path, '.');
    size_t stem = (dot && (!slash || dot > slash)) ? (size_t)(dot - input_path) : strlen(input_path);
    static const char suffix[] = ".review.json";
    char *path = malloc(stem + sizeof suffix);
    if (!path) return NULL;
    memcpy(path, input_path, stem);
    memcpy(path + stem, suffix, sizeof suffix);
    return path;
}

/* A time in seconds: a finite number >= 0. */
static dop_status read_time(json_t *edit, const char *key, double *out, const char *name, size_t i, dop_error *err)
{
    json_t *v = json_object_get(edit, key);
    if (!v) return dop_error_set(err, DOP_ERR_METADATA, "%s: edit %zu: \"%s\" is missing", name, i + 1, key);
    if (!json_is_number(v))
        return dop_error_set(err, DOP_ERR_METADATA, "%s: edit %zu: \"%s\" must be a number of seconds", name, i + 1, key);
    double t = json_number_value(v);
    if (!isfinite(t) || t < 0.0)
        return dop_error_set(err, DOP_ERR_METADATA, "%s: edit %zu: \"%s\" is %g: a time must be >= 0 s", name, i + 1,
                             key, t);
    *out = t;
    return DOP_OK;
}

static int key_allowed(const char *key, const char *const *allowed)
{
    for (; *allowed; allowed++)
        if (strcmp(key, *allowed) == 0) return 1;
    return 0;
}

static dop_status parse_edit(json_t *edit, size_t i, const char *name, dop_review_edit *out, dop_error *err)
{
    static const char *const beat_keys[] = {"action", "onset_s", "reason", NULL};
    static const char *const span_keys[] = {"action", "start_s", "end_s", "reason", NULL};
    memset(out, 0, sizeof *out);
    if (!json_is_object(edit)) return dop_error_set(err, DOP_ERR_METADATA, "%s: edit %zu is not an object", name, i + 1);
    json_t *action = json_object_get(edit, "action");
    if (!json_is_string(action))
        return dop_error_set(err, DOP_ERR_METADATA, "%s: edit %zu: \"action\" is missing or not a string", name, i + 1);
    int a = -1;
    for (int k = 0; k < 4; k++)
        if (strcmp(json_string_value(action), action_names[k]) == 0) a = k;
    if (a < 0)
        return dop_error_set(err, DOP_ERR_METADATA,
                             "%s: edit %zu: unknown action \"%.60s\" (expected reject_beat, restore_beat, add_beat "
                             "or exclude)", name, i + 1, json_string_value(action));
    out->action = (dop_review_action)a;
    const char *const *allowed = a == DOP_REVIEW_EXCLUDE ? span_keys : beat_keys;
    const char *key;
    json_t *value;
    json_object_foreach(edit, key, value) {
        if (!key_allowed(key, allowed))
            return dop_error_set(err, DOP_ERR_METADATA, "%s: edit %zu: unknown key \"%.60s\" for %s", name, i + 1, key,
                                 action_names[a]);
    }
    json_t *reason = json_object_get(edit, "reason");
    if (reason && !json_is_string(reason))
        return dop_error_set(err, DOP_ERR_METADATA, "%s: edit %zu: \"reason\" must be a string", name, i + 1);
    if (reason) {
        const char *text = json_string_value(reason);
        if (strlen(text) >= DOP_REVIEW_REASON_MAX)
            return dop_error_set(err, DOP_ERR_METADATA, "%s: edit %zu: reason longer than %d bytes", name, i + 1,
                                 DOP_REVIEW_REASON_MAX - 1);
        for (const char *c = text; *c; c++)
            if ((unsigned char)*c < 0x20)
                return dop_error_set(err, DOP_ERR_METADATA, "%s: edit %zu: reason holds a control character", name,
                                     i + 1);
        snprintf(out->reason, sizeof out->reason, "%s", text);
    }
    dop_status st;
    if (a != DOP_REVIEW_EXCLUDE) return read_time(edit, "onset_s", &out->onset_s, name, i, err);
    if ((st = read_time(edit, "start_s", &out->start_s, name, i, err)) != DOP_OK) return st;
    if ((st = read_time(edit, "end_s", &out->end_s, name, i, err)) != DOP_OK) return st;
    if (!(out->end_s > out->start_s))
        return dop_error_set(err, DOP_ERR_METADATA, "%s: edit %zu: exclude span ends (%g s) before it starts (%g s)",
                             name, i + 1, out->end_s, out->start_s);
    return DOP_OK;
}

static dop_status parse_root(json_t *root, const char *name, dop_review *r, dop_error *err)
{
    static const char *const root_keys[] = {"dopflow_review", "input_sha256", "reviewed", "note", "edits", NULL};
    if (!json_is_object(root)) return dop_error_set(err, DOP_ERR_METADATA, "%s: a review file is a JSON object", name);
    const char *key;
    json_t *value;
    json_object_foreach(root, key, value) {
        if (!key_allowed(key, root_keys))
            return dop_error_set(err, DOP_ERR_METADATA, "%s: unknown key \"%.60s\"", name, key);
    }
    json_t *version = json_object_get(root, "dopflow_review");
    if (!json_is_integer(version) || json_integer_value(version) != 1)
        return dop_error_set(err, DOP_ERR_METADATA, "%s: \"dopflow_review\": 1 is missing (not a review file, or a "
                             "newer version)", name);
    json_t *sha = json_object_get(root, "input_sha256");
    if (sha && !json_is_null(sha)) {
        const char *s = json_is_string(sha) ? json_string_value(sha) : "";
        int ok = strlen(s) == 64;
        for (int i = 0; ok && i < 64; i++) ok = isxdigit((unsigned char)s[i]);
        if (!ok) return dop_error_set(err, DOP_ERR_METADATA, "%s: \"input_sha256\" must be 64 hex digits", name);
        for (int i = 0; i < 64; i++) r->input_sha256[i] = (char)tolower((unsigned char)s[i]);
        r->input_sha256[64] = '\0';
    }
    json_t *reviewed = json_object_get(root, "reviewed");
    if (reviewed && !json_is_boolean(reviewed))
        return dop_error_set(err, DOP_ERR_METADATA, "%s: \"reviewed\" must be true or false", name);
    r->reviewed = reviewed && json_is_true(reviewed);
    json_t *note = json_object_get(root, "note");
    if (note && !json_is_string(note)) return dop_error_set(err, DOP_ERR_METADATA, "%s: \"note\" must be a string", name);
    if (note && strlen(json_string_value(note)) >= DOP_REVIEW_NOTE_MAX)
        return dop_error_set(err, DOP_ERR_METADATA, "%s: note longer than %d bytes", name, DOP_REVIEW_NOTE_MAX - 1);
    r->note = strdup(note ? json_string_value(note) : "");
    if (!r->note) return dop_error_set(err, DOP_ERR_NOMEM, "out of memory");
    json_t *edits = json_object_get(root, "edits");
    if (edits && !json_is_array(edits)) return dop_error_set(err, DOP_ERR_METADATA, "%s: \"edits\" must be an array", name);
    size_t n = edits ? json_array_size(edits) : 0;
    r->edits = calloc(n ? n : 1, sizeof *r->edits);
    if (!r->edits) return dop_error_set(err, DOP_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        dop_status st = parse_edit(json_array_get(edits, i), i, name, &r->edits[i], err);
        if (st != DOP_OK) return st;
    }
    r->n_edits = n;
    r->edits_json = edits ? json_dumps(edits, JSON_COMPACT | JSON_PRESERVE_ORDER) : strdup("[]");
    if (!r->edits_json) return dop_error_set(err, DOP_ERR_NOMEM, "out of memory");
    return DOP_OK;
}

dop_status dop_review_parse(const char *text, size_t len, const char *name, dop_review **out, dop_error *err)
{
    *out = NULL;
    json_error_t jerr;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return dop_error_set(err, DOP_ERR_METADATA, "%s: malformed JSON at line %d: %s", name, jerr.line, jerr.text);
    dop_review *r = calloc(1, sizeof *r);
    dop_status st = r ? parse_root(root, name, r, err) : dop_error_set(err, DOP_ERR_NOMEM, "out of memory");
    json_decref(root);
    if (st != DOP_OK) {
        dop_review_destroy(r);
        return st;
    }
    dop_fs_sha256_text(text, len, r->sha256);
    *out = r;
    return DOP_OK;
}

dop_status dop_review_load(const char *path, dop_review **out, dop_error *err)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return dop_error_set(err, DOP_ERR_METADATA, "%s: cannot open review file: %s", path, strerror(errno));
    char *text = NULL;
    size_t len = 0, cap = 0;
    dop_status st = DOP_OK;
    for (;;) {
        if (len == cap) {
            if (cap >= DOP_REVIEW_FILE_MAX) {
                st = dop_error_set(err, DOP_ERR_METADATA, "%s: review file larger than %u bytes", path,
                                   DOP_REVIEW_FILE_MAX);
                break;
            }
            cap = cap ? 2 * cap : 4096;
            char *grown = realloc(text, cap + 1);
            if (!grown) {
                st = dop_error_set(err, DOP_ERR_NOMEM, "out of memory");
                break;
            }
            text = grown;
        }
        size_t got = fread(text + len, 1, cap - len, f);
        len += got;
        if (got == 0) {
            if (ferror(f)) st = dop_error_set(err, DOP_ERR_METADATA, "%s: cannot read review file", path);
            break;
        }
    }
    fclose(f);
    if (st == DOP_OK) st = dop_review_parse(text ? text : "", len, path, out, err);
    free(text);
    return st;
}

dop_status dop_review_create_empty(dop_review **out, dop_error *err)
{
    static const char empty[] = "{\"dopflow_review\": 1, \"edits\": []}";
    return dop_review_parse(empty, sizeof empty - 1, "empty review", out, err);
}

size_t dop_review_edit_count(const dop_review *r) { return r->n_edits; }
const dop_review_edit *dop_review_edit_at(const dop_review *r, size_t i) { return &r->edits[i]; }
int dop_review_is_reviewed(const dop_review *r) { return r->reviewed; }
const char *dop_review_note(const dop_review *r) { return r->note; }
const char *dop_review_input_sha256(const dop_review *r) { return r->input_sha256; }
const char *dop_review_sha256(const dop_review *r) { return r->sha256; }
const char *dop_review_edits_json(const dop_review *r) { return r->edits_json; }

dop_status dop_review_check_input(const dop_review *r, const char *input_sha256, const char *review_name,
                                  const char *input_name, dop_error *err)
{
    if (!r->input_sha256[0]) return DOP_OK;
    if (strlen(input_sha256) == 64 && strncasecmp(r->input_sha256, input_sha256, 64) == 0) return DOP_OK;
    return dop_error_set(err, DOP_ERR_METADATA, "%s: input_sha256 %.12s... does not match %s (%.12s...): the review "
                         "was made for other recording bytes", review_name, r->input_sha256, input_name, input_sha256);
}

void dop_review_edit_text(const dop_review_edit *e, char *buf, size_t size)
{
    if (e->action == DOP_REVIEW_EXCLUDE)
        snprintf(buf, size, "exclude %g to %g s", e->start_s, e->end_s);
    else
        snprintf(buf, size, "%s at %g s", action_names[e->action], e->onset_s);
}

void dop_review_destroy(dop_review *r)
{
    if (!r) return;
    free(r->edits);
    free(r->note);
    free(r->edits_json);
    free(r);
}

/* ---- replay ---------------------------------------------------------- */

struct dop_review_replay {
    const dop_review *review;
    dop_review_replay_config cfg;
    dop_review_replay_output output;
    dop_frame *held;               /* frames of the beat being closed */
    size_t n_held, cap_held;
    size_t *splits;                /* split points inside the held beat (frame offsets) */
    unsigned char *matched;        /* per edit */
    int64_t index_shift;           /* beats added so far */
    dop_review_replay_stats stats;
    int stopped;
};

dop_status dop_review_replay_create(const dop_review *review, const dop_review_replay_config *cfg,
                                    const dop_review_replay_output *output, dop_review_replay **out, dop_error *err)
{
    *out = NULL;
    if (!(cfg->frame_period_s > 0.0) || !(cfg->reject_fraction >= 0.0 && cfg->reject_fraction <= 1.0))
        return dop_error_set(err, DOP_ERR_INVALID_ARG, "review replay: frame_period_s %g must be > 0 and "
                             "reject_fraction %g in [0, 1]", cfg->frame_period_s, cfg->reject_fraction);
    dop_review_replay *rp = calloc(1, sizeof *rp);
    if (!rp) return dop_error_set(err, DOP_ERR_NOMEM, "review replay: out of memory");
    rp->review = review;
    rp->cfg = *cfg;
    rp->output = *output;
    size_t n = review->n_edits;
    rp->matched = calloc(n ? n : 1, 1);
    rp->splits = calloc(n + 2, sizeof *rp->splits);
    rp->cap_held = 1024;
    rp->held = malloc(rp->cap_held * sizeof *rp->held);
    if (!rp->matched || !rp->splits || !rp->held) {
        dop_review_replay_destroy(rp);
        return dop_error_set(err, DOP_ERR_NOMEM, "review replay: out of memory");
    }
    *out = rp;
    return DOP_OK;
}

/* The exclude span holding time t, or NULL. */
static const dop_review_edit *span_at(const dop_review *r, double t)
{
    for (size_t i = 0; i < r->n_edits; i++) {
        const dop_review_edit *e = &r->edits[i];
        if (e->action == DOP_REVIEW_EXCLUDE && t >= e->start_s && t < e->end_s) return e;
    }
    return NULL;
}

static int emit_frame(dop_review_replay *rp, const dop_frame *f)
{
    if (f->flags & DOP_FRAME_EXCLUDED) rp->stats.frames_excluded++;
    if (!rp->stopped && rp->output.on_frame && rp->output.on_frame(f, rp->output.user)) rp->stopped = 1;
    return rp->stopped;
}

static void mark_span_frame(dop_review_replay *rp, dop_frame *f)
{
    const dop_review_edit *span = span_at(rp->review, f->time_s);
    if (!span) return;
    f->flags |= DOP_FRAME_EXCLUDED;
    rp->matched[span - rp->review->edits] = 1;
}

dop_status dop_review_replay_frame(dop_review_replay *rp, const dop_frame *frame)
{
    if (rp->stopped) return DOP_ERR_INTERRUPTED;
    dop_frame f = *frame;
    mark_span_frame(rp, &f);
    if (f.beat_index < 0 && rp->n_held == 0) {
        emit_frame(rp, &f);
        return rp->stopped ? DOP_ERR_INTERRUPTED : DOP_OK;
    }
    if (rp->n_held == rp->cap_held) {
        dop_frame *grown = realloc(rp->held, 2 * rp->cap_held * sizeof *grown);
        if (!grown) return DOP_ERR_NOMEM;
        rp->held = grown;
        rp->cap_held *= 2;
    }
    rp->held[rp->n_held++] = f;
    return DOP_OK;
}

/* Linear interpolation of the artifact frames of a beat that is accepted
 * after all (restored, or a split part), as the beat segmenter does. */
static void bridge_artifacts(dop_frame *f, size_t m)
{
    for (size_t s = 0; s < m; s++) {
        if (!(f[s].flags & DOP_FRAME_ARTIFACT_MASK) || (f[s].flags & DOP_FRAME_BRIDGED)) continue;
        const dop_frame *prev = NULL, *next = NULL;
        for (size_t p = s; p-- > 0 && !prev;)
            if (!(f[p].flags & DOP_FRAME_ARTIFACT_MASK)) prev = &f[p];
        for (size_t q = s + 1; q < m && !next; q++)
            if (!(f[q].flags & DOP_FRAME_ARTIFACT_MASK)) next = &f[q];
        if (!prev && !next) continue;
        double t = prev && next ? (f[s].time_s - prev->time_s) / (next->time_s - prev->time_s) : 0.0;
        dop_frame_bridge(&f[s], prev ? prev : next, next ? next : prev, t);
    }
}

/* The beat's statistics from its m frames (the segmenter's definitions,
 * beats.h); end_s is the next onset. */
static void beat_stats(dop_beat *beat, const dop_frame *f, size_t m, double end_s)
{
    dop_beat_sums sums = dop_beat_sums_empty();
    for (size_t s = 0; s < m; s++) dop_beat_sums_add(&sums, &f[s]);
    beat->start_s = f[0].time_s;
    beat->end_s = end_s;
    beat->heart_rate_bpm = 60.0 / (beat->end_s - beat->start_s);
    dop_beat_set_indices(beat, &sums, m >= 2 ? 0.5 * (f[m - 1].vmax_cm_s + f[m - 2].vmax_cm_s) : f[m - 1].vmax_cm_s);
    if (beat->incomplete) dop_beat_clear_indices(beat);
}

/* The reject/restore edit that names the onset at `onset_s` of a beat
 * ending at end_s: within DOP_REVIEW_MATCH_S and nearer this onset than the
 * next. The last such edit in file order wins; all of them are matched. */
static const dop_review_edit *beat_edit(dop_review_replay *rp, double onset_s, double end_s)
{
    const dop_review_edit *found = NULL;
    for (size_t i = 0; i < rp->review->n_edits; i++) {
        const dop_review_edit *e = &rp->review->edits[i];
        if (e->action != DOP_REVIEW_REJECT_BEAT && e->action != DOP_REVIEW_RESTORE_BEAT) continue;
        if (rp->matched[i]) continue;
        double d = fabs(e->onset_s - onset_s);
        if (d <= DOP_REVIEW_MATCH_S && d <= fabs(e->onset_s - end_s)) {
            rp->matched[i] = 1;
            found = e;
        }
    }
    return found;
}

/* Split points: frame offsets in (0, m) where an add_beat edit starts a new
 * beat; an added onset within DOP_REVIEW_MATCH_S of a detected one is that
 * one (matched, nothing to split). Returns the count. */
static size_t find_splits(dop_review_replay *rp, const dop_frame *f, size_t m, double end_s)
{
    size_t n = 0;
    for (size_t i = 0; i < rp->review->n_edits; i++) {
        const dop_review_edit *e = &rp->review->edits[i];
        if (e->action != DOP_REVIEW_ADD_BEAT || rp->matched[i]) continue;
        if (e->onset_s < f[0].time_s - DOP_REVIEW_MATCH_S || e->onset_s >= end_s) continue;
        if (fabs(e->onset_s - f[0].time_s) <= DOP_REVIEW_MATCH_S || fabs(e->onset_s - end_s) <= DOP_REVIEW_MATCH_S) {
            rp->matched[i] = 1; /* already an onset */
            continue;
        }
        if (e->onset_s < f[0].time_s) continue;
        size_t s = 1;
        while (s < m && f[s].time_s < e->onset_s) s++;
        if (s >= m) continue;
        rp->matched[i] = 1;
        size_t k = n++;
        while (k > 0 && rp->splits[k - 1] > s) { /* keep sorted */
            rp->splits[k] = rp->splits[k - 1];
            k--;
        }
        rp->splits[k] = s;
    }
    /* two adds on the same frame are one split */
    size_t u = 0;
    for (size_t k = 0; k < n; k++)
        if (u == 0 || rp->splits[u - 1] != rp->splits[k]) rp->splits[u++] = rp->splits[k];
    return u;
}

/* Decide, annotate and emit one (part of a) beat: frames f[0..m). */
static void settle_beat(dop_review_replay *rp, dop_beat beat, dop_frame *f, size_t m, double end_s, int split)
{
    char reason[DOP_REVIEW_REASON_MAX + 16] = "";
    if (split) {
        /* A part of a split beat is checked afresh: artifact frames already
         * bridged in the whole count as artifacts again. */
        beat_stats(&beat, f, m, end_s);
        beat.rejected = beat.artifact_fraction > rp->cfg.reject_fraction;
    }
    int was_rejected = beat.rejected;
    if (was_rejected) snprintf(reason, sizeof reason, "artifacts");
    /* Mostly inside an excluded span: rejected with the span's reason. */
    size_t inside = 0;
    const dop_review_edit *span = NULL;
    for (size_t s = 0; s < m; s++)
        if (f[s].flags & DOP_FRAME_EXCLUDED) {
            inside++;
            if (!span) span = span_at(rp->review, f[s].time_s);
        }
    int by_review = 0;
    if (2 * inside > m) {
        beat.rejected = 1;
        beat.reject_reason = DOP_BEAT_REVIEW;
        by_review = 1;
        snprintf(reason, sizeof reason, "review: %s", span && span->reason[0] ? span->reason : "excluded");
    }
    const dop_review_edit *e = beat_edit(rp, beat.start_s, end_s);
    if (e && e->action == DOP_REVIEW_REJECT_BEAT) {
        beat.rejected = 1;
        beat.reject_reason = DOP_BEAT_REVIEW;
        by_review = 1;
        snprintf(reason, sizeof reason, "review: %s", e->reason[0] ? e->reason : "rejected");
    } else if (e && e->action == DOP_REVIEW_RESTORE_BEAT) {
        if (beat.rejected) rp->stats.beats_restored += !by_review;
        beat.rejected = 0;
        beat.reject_reason = DOP_BEAT_ACCEPTED;
        by_review = 0;
        reason[0] = '\0';
    }
    if (!beat.rejected && (was_rejected || split)) {
        bridge_artifacts(f, m);
        beat_stats(&beat, f, m, end_s);
    }
    rp->stats.beats_rejected += by_review;
    for (size_t s = 0; s < m; s++) {
        f[s].beat_index = beat.index;
        if (beat.rejected) f[s].flags |= DOP_FRAME_REJECTED_BEAT;
        else f[s].flags &= ~(uint32_t)DOP_FRAME_REJECTED_BEAT;
        /* frames the review takes out of the averages */
        if (by_review && !(f[s].flags & DOP_FRAME_EXCLUDED)) rp->stats.frames_excluded++;
        emit_frame(rp, &f[s]);
    }
    if (!rp->stopped && rp->output.on_beat && rp->output.on_beat(&beat, reason, rp->output.user)) rp->stopped = 1;
}

dop_status dop_review_replay_beat(dop_review_replay *rp, const dop_beat *beat_in)
{
    if (rp->stopped) return DOP_ERR_INTERRUPTED;
    /* The beat's frames are the held ones with its index (the segmenter
     * emits no unassigned frame between a beat's frames and the beat). */
    size_t m = rp->n_held;
    dop_frame *f = rp->held;
    dop_beat beat = *beat_in;
    if (m == 0) { /* not from the segmenter (a beat always has frames): passed on, renumbered */
        beat.index += rp->index_shift;
        if (rp->output.on_beat && rp->output.on_beat(&beat, beat.rejected ? "artifacts" : "", rp->output.user))
            rp->stopped = 1;
        return rp->stopped ? DOP_ERR_INTERRUPTED : DOP_OK;
    }
    size_t n_splits = find_splits(rp, f, m, beat.end_s);
    size_t from = 0;
    for (size_t k = 0; k <= n_splits && !rp->stopped; k++) {
        size_t to = k < n_splits ? rp->splits[k] : m;
        double end_s = k < n_splits ? f[to].time_s : beat.end_s;
        dop_beat part = beat;
        part.index = beat.index + rp->index_shift + (int64_t)k;
        part.incomplete = k == n_splits && beat.incomplete; /* only the last part is cut short */
        settle_beat(rp, part, f + from, to - from, end_s, n_splits > 0);
        from = to;
    }
    rp->index_shift += (int64_t)n_splits;
    rp->stats.beats_added += (int64_t)n_splits;
    rp->n_held = 0;
    return rp->stopped ? DOP_ERR_INTERRUPTED : DOP_OK;
}

dop_status dop_review_replay_flush(dop_review_replay *rp)
{
    for (size_t s = 0; s < rp->n_held && !rp->stopped; s++) {
        rp->held[s].beat_index = -1;
        emit_frame(rp, &rp->held[s]);
    }
    rp->n_held = 0;
    rp->stats.unmatched = 0;
    for (size_t i = 0; i < rp->review->n_edits; i++) rp->stats.unmatched += !rp->matched[i];
    return rp->stopped ? DOP_ERR_INTERRUPTED : DOP_OK;
}

void dop_review_replay_get_stats(const dop_review_replay *rp, dop_review_replay_stats *stats)
{
    *stats = rp->stats;
    stats->excluded_s = (double)rp->stats.frames_excluded * rp->cfg.frame_period_s;
}

int dop_review_replay_edit_matched(const dop_review_replay *rp, size_t i)
{
    return i < rp->review->n_edits && rp->matched[i];
}

void dop_review_replay_destroy(dop_review_replay *rp)
{
    if (!rp) return;
    free(rp->held);
    free(rp->splits);
    free(rp->matched);
    free(rp);
}

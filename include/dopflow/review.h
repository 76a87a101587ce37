/* dopflow: a reviewer's edits kept as data and replayed by every analysis.
 *
 * A review file (REC.review.json beside REC.wav; format in the README) holds
 * edits named by time, not by beat index, so that they survive a reanalysis
 * with other parameters:
 *   reject_beat  {onset_s, reason}: the beat whose onset is nearest onset_s
 *                (within DOP_REVIEW_MATCH_S) is rejected ("review: reason");
 *   restore_beat {onset_s}: that beat is accepted even if the automatic
 *                checks rejected it;
 *   add_beat     {onset_s}: an onset the detector missed splits the beat it
 *                falls in;
 *   exclude      {start_s, end_s, reason}: frames in [start_s, end_s) are
 *                left out like artifact frames (DOP_FRAME_EXCLUDED), and a
 *                beat with more than half of its frames inside is rejected.
 * An edit that matches no beat is counted as unmatched, never dropped
 * silently: the caller reports it.
 *
 * Two objects: dop_review (the parsed, validated file) and dop_review_replay
 * (the stage that applies it to the annotated frames and beats coming out of
 * the beat segmenter, before they reach the averages). The replay buffers
 * the frames of one beat at a time; memory is bounded by the longest beat. */
#ifndef DOPFLOW_REVIEW_H
#define DOPFLOW_REVIEW_H

#include <stddef.h>
#include <stdint.h>

#include "dopflow/records.h"
#include "dopflow/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define DOP_REVIEW_MATCH_S 0.15    /* an edit names the onset nearest it within this, s */
#define DOP_REVIEW_REASON_MAX 200  /* bytes of a reason, NUL included */
#define DOP_REVIEW_NOTE_MAX 4096   /* bytes of the note, NUL included */
#define DOP_REVIEW_FILE_MAX (16u << 20) /* a review file larger than this is refused */

typedef enum dop_review_action {
    DOP_REVIEW_REJECT_BEAT = 0,
    DOP_REVIEW_RESTORE_BEAT,
    DOP_REVIEW_ADD_BEAT,
    DOP_REVIEW_EXCLUDE
} dop_review_action;

typedef struct dop_review_edit {
    dop_review_action action;
    double onset_s;                /* beat edits: s from file start, >= 0 */
    double start_s, end_s;         /* exclude: 0 <= start < end, s */
    char reason[DOP_REVIEW_REASON_MAX]; /* "" if none */
} dop_review_edit;

typedef struct dop_review dop_review;

/* REC.review.json for REC.wav (any extension replaced); malloc'd, NULL
 * without memory. */
char *dop_review_path_for(const char *input_path);

/* Parse and validate a review held in memory; `name` names it in messages.
 * Errors (DOP_ERR_METADATA, one line naming `name` and the fault): malformed
 * JSON, not an object, dopflow_review missing or not 1, unknown key, unknown
 * action, missing or non-numeric time, negative or non-finite time, span
 * with end_s <= start_s, input_sha256 not 64 hex digits, reason or note too
 * long; DOP_ERR_NOMEM. */
dop_status dop_review_parse(const char *text, size_t len, const char *name, dop_review **out, dop_error *err);

/* Read and parse a file (DOP_ERR_METADATA also when it cannot be read or is
 * larger than DOP_REVIEW_FILE_MAX). */
dop_status dop_review_load(const char *path, dop_review **out, dop_error *err);

/* A review with no edits (what the page starts from). */
dop_status dop_review_create_empty(dop_review **out, dop_error *err);

size_t dop_review_edit_count(const dop_review *r);
const dop_review_edit *dop_review_edit_at(const dop_review *r, size_t i);
int dop_review_is_reviewed(const dop_review *r);    /* "reviewed": true */
const char *dop_review_note(const dop_review *r);   /* "" if none */
const char *dop_review_input_sha256(const dop_review *r); /* lower-case hex, "" if not given */
const char *dop_review_sha256(const dop_review *r); /* of the file's bytes (parse: of the text) */
/* The edits as compact JSON (an array), for provenance in result files. */
const char *dop_review_edits_json(const dop_review *r);

/* Check input_sha256 against the recording's (hex, any case). Error:
 * DOP_ERR_METADATA naming review_name and input_name. */
dop_status dop_review_check_input(const dop_review *r, const char *input_sha256, const char *review_name,
                                  const char *input_name, dop_error *err);

/* "reject_beat at 12.34 s" / "exclude 40 to 43.5 s" (for messages). */
void dop_review_edit_text(const dop_review_edit *e, char *buf, size_t size);

void dop_review_destroy(dop_review *r);

/* ---- the replay stage ---------------------------------------------- */

typedef struct dop_review_replay_config {
    double frame_period_s;         /* s per frame (for the excluded seconds) */
    double reject_fraction;        /* the beat segmenter's: a split beat with more
                                      artifact frames is rejected automatically */
} dop_review_replay_config;

/* A beat as replayed: the record and why it is rejected ("" if accepted;
 * "review: ..." for the review's rejections, "artifacts" for the automatic
 * check). */
typedef struct dop_review_replay_output {
    int (*on_frame)(const dop_frame *frame, void *user);
    int (*on_beat)(const dop_beat *beat, const char *reject_reason, void *user);
    void *user;
} dop_review_replay_output;

typedef struct dop_review_replay_stats {
    int64_t unmatched;             /* edits that matched no beat */
    int64_t beats_rejected;        /* beats rejected by the review (edit or span) */
    int64_t beats_restored;
    int64_t beats_added;
    int64_t frames_excluded;       /* frames left out by the review (span or rejected beat) */
    double excluded_s;             /* frames_excluded x frame period */
} dop_review_replay_stats;

typedef struct dop_review_replay dop_review_replay;

/* `review` must outlive the replay. Errors: DOP_ERR_INVALID_ARG, DOP_ERR_NOMEM. */
dop_status dop_review_replay_create(const dop_review *review, const dop_review_replay_config *cfg,
                                    const dop_review_replay_output *output, dop_review_replay **out, dop_error *err);

/* Feed what the beat segmenter emits, in its order (frames of a beat, then
 * the beat). A non-zero callback return gives DOP_ERR_INTERRUPTED. May grow
 * its frame buffer (a beat longer than any seen so far). */
dop_status dop_review_replay_frame(dop_review_replay *rp, const dop_frame *frame);
dop_status dop_review_replay_beat(dop_review_replay *rp, const dop_beat *beat);
/* End of data: frames still held go out unassigned. */
dop_status dop_review_replay_flush(dop_review_replay *rp);

void dop_review_replay_get_stats(const dop_review_replay *rp, dop_review_replay_stats *stats);
/* Whether edit i (dop_review_edit_at order) matched a beat; valid after flush. */
int dop_review_replay_edit_matched(const dop_review_replay *rp, size_t i);

void dop_review_replay_destroy(dop_review_replay *rp);

#ifdef __cplusplus
}
#endif
#endif

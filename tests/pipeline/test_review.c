/* Review files (review.h): parsing, every validation error, and the replay
 * of each action on a synthetic sequence of frames and beats (10 ms frames,
 * beats of 1 s with onsets at 0, 1, ..., 8 s). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dopflow/review.h"

#define FRAMES_PER_BEAT 100
#define N_BEATS 9
#define MAX_OUT 64

typedef struct captured {
    dop_frame frames[(N_BEATS + 2) * FRAMES_PER_BEAT];
    size_t n_frames;
    dop_beat beats[MAX_OUT];
    char reasons[MAX_OUT][DOP_REVIEW_REASON_MAX + 16];
    size_t n_beats;
} captured;

static int on_frame(const dop_frame *f, void *user)
{
    captured *c = user;
    c->frames[c->n_frames++] = *f;
    return 0;
}

static int on_beat(const dop_beat *b, const char *reason, void *user)
{
    captured *c = user;
    c->beats[c->n_beats] = *b;
    snprintf(c->reasons[c->n_beats], sizeof c->reasons[0], "%s", reason);
    c->n_beats++;
    return 0;
}

static dop_review *parse(const char *text)
{
    dop_review *r = NULL;
    dop_error err;
    dop_status st = dop_review_parse(text, strlen(text), "t.review.json", &r, &err);
    if (st != DOP_OK) print_message("%s\n", err.message);
    assert_int_equal(st, DOP_OK);
    return r;
}

/* Feed 9 beats of 1 s (beat `auto_rejected` rejected with artifacts in its
 * first half, -1 for none) and 50 unassigned frames after them. */
static void replay(const dop_review *r, int auto_rejected, captured *c, dop_review_replay_stats *stats)
{
    memset(c, 0, sizeof *c);
    dop_review_replay_config cfg = {0.01, 0.3};
    dop_review_replay_output out = {on_frame, on_beat, c};
    dop_review_replay *rp = NULL;
    assert_int_equal(dop_review_replay_create(r, &cfg, &out, &rp, NULL), DOP_OK);
    for (int k = 0; k < N_BEATS; k++) {
        for (int s = 0; s < FRAMES_PER_BEAT; s++) {
            dop_frame f = {0};
            f.index = k * FRAMES_PER_BEAT + s;
            f.time_s = k + 0.01 * s;
            f.vmax_cm_s = f.vmax_forward_cm_s = s < 20 ? 80.0 - 3.0 * s : 20.0;
            f.vmean_cm_s = f.vmax_cm_s / 2.0;
            f.flow_ml_min = f.shear_rate_s = NAN;
            f.beat_index = k;
            if (k == auto_rejected) f.flags |= s < 50 ? DOP_FRAME_BURST | DOP_FRAME_REJECTED_BEAT
                                                      : DOP_FRAME_REJECTED_BEAT;
            assert_int_equal(dop_review_replay_frame(rp, &f), DOP_OK);
        }
        dop_beat b = {0};
        b.index = k;
        b.start_s = k;
        b.end_s = k + 1;
        b.heart_rate_bpm = 60.0;
        b.rejected = k == auto_rejected;
        b.artifact_fraction = k == auto_rejected ? 0.5 : 0.0;
        assert_int_equal(dop_review_replay_beat(rp, &b), DOP_OK);
    }
    for (int s = 0; s < 50; s++) {
        dop_frame f = {0};
        f.time_s = N_BEATS + 0.01 * s;
        f.beat_index = -1;
        assert_int_equal(dop_review_replay_frame(rp, &f), DOP_OK);
    }
    assert_int_equal(dop_review_replay_flush(rp), DOP_OK);
    dop_review_replay_get_stats(rp, stats);
    dop_review_replay_destroy(rp);
    assert_int_equal(c->n_frames, N_BEATS * FRAMES_PER_BEAT + 50);
}

static void parses_every_key(void **state)
{
    (void)state;
    dop_review *r = parse("{\"dopflow_review\": 1, \"input_sha256\": \"ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef0123456789\","
                          " \"reviewed\": true, \"note\": \"ok\", \"edits\": ["
                          "{\"action\": \"reject_beat\", \"onset_s\": 12.34, \"reason\": \"probe slipped\"},"
                          "{\"action\": \"restore_beat\", \"onset_s\": 20.10},"
                          "{\"action\": \"add_beat\", \"onset_s\": 31.05},"
                          "{\"action\": \"exclude\", \"start_s\": 40.0, \"end_s\": 43.5, \"reason\": \"cough\"}]}");
    assert_int_equal(dop_review_edit_count(r), 4);
    assert_true(dop_review_is_reviewed(r));
    assert_string_equal(dop_review_note(r), "ok");
    assert_string_equal(dop_review_input_sha256(r), "abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789");
    assert_int_equal(dop_review_edit_at(r, 0)->action, DOP_REVIEW_REJECT_BEAT);
    assert_string_equal(dop_review_edit_at(r, 0)->reason, "probe slipped");
    assert_float_equal(dop_review_edit_at(r, 1)->onset_s, 20.10, 1e-12);
    assert_int_equal(dop_review_edit_at(r, 2)->action, DOP_REVIEW_ADD_BEAT);
    assert_float_equal(dop_review_edit_at(r, 3)->end_s, 43.5, 1e-12);
    assert_int_equal(strlen(dop_review_sha256(r)), 64);
    assert_non_null(strstr(dop_review_edits_json(r), "\"cough\""));
    assert_int_equal(dop_review_check_input(r, "abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789", "t",
                                            "x", NULL), DOP_OK);
    dop_error err;
    assert_int_equal(dop_review_check_input(r, "00cdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789", "t",
                                            "rec.wav", &err), DOP_ERR_METADATA);
    assert_non_null(strstr(err.message, "rec.wav"));
    dop_review_destroy(r);
    r = parse("{\"dopflow_review\": 1}");
    assert_int_equal(dop_review_edit_count(r), 0);
    assert_false(dop_review_is_reviewed(r));
    dop_review_destroy(r);
    char *path = dop_review_path_for("dir.x/rec.wav");
    assert_string_equal(path, "dir.x/rec.review.json");
    free(path);
    path = dop_review_path_for("dir.x/rec");
    assert_string_equal(path, "dir.x/rec.review.json");
    free(path);
}

static void every_malformed_file_is_refused(void **state)
{
    (void)state;
    static const struct { const char *text, *says; } bad[] = {
        {"{\"dopflow_review\": 1,", "malformed JSON"},
        {"[1, 2]", "JSON object"},
        {"{\"edits\": []}", "dopflow_review"},
        {"{\"dopflow_review\": 2}", "dopflow_review"},
        {"{\"dopflow_review\": 1, \"colour\": 1}", "unknown key \"colour\""},
        {"{\"dopflow_review\": 1, \"dopflow_review\": 1}", "malformed JSON"},
        {"{\"dopflow_review\": 1, \"edits\": {}}", "must be an array"},
        {"{\"dopflow_review\": 1, \"edits\": [3]}", "edit 1 is not an object"},
        {"{\"dopflow_review\": 1, \"edits\": [{\"onset_s\": 1}]}", "\"action\" is missing"},
        {"{\"dopflow_review\": 1, \"edits\": [{\"action\": \"delete_beat\", \"onset_s\": 1}]}", "unknown action \"delete_beat\""},
        {"{\"dopflow_review\": 1, \"edits\": [{\"action\": \"reject_beat\"}]}", "\"onset_s\" is missing"},
        {"{\"dopflow_review\": 1, \"edits\": [{\"action\": \"reject_beat\", \"onset_s\": \"1\"}]}", "must be a number"},
        {"{\"dopflow_review\": 1, \"edits\": [{\"action\": \"add_beat\", \"onset_s\": -0.5}]}", ">= 0"},
        {"{\"dopflow_review\": 1, \"edits\": [{\"action\": \"exclude\", \"start_s\": -1, \"end_s\": 2}]}", ">= 0"},
        {"{\"dopflow_review\": 1, \"edits\": [{\"action\": \"exclude\", \"start_s\": 5, \"end_s\": 4}]}", "before it starts"},
        {"{\"dopflow_review\": 1, \"edits\": [{\"action\": \"exclude\", \"start_s\": 5, \"end_s\": 5}]}", "before it starts"},
        {"{\"dopflow_review\": 1, \"edits\": [{\"action\": \"exclude\", \"start_s\": 5}]}", "\"end_s\" is missing"},
        {"{\"dopflow_review\": 1, \"edits\": [{\"action\": \"reject_beat\", \"onset_s\": 1, \"start_s\": 2}]}", "unknown key \"start_s\""},
        {"{\"dopflow_review\": 1, \"edits\": [{\"action\": \"reject_beat\", \"onset_s\": 1, \"reason\": 5}]}", "\"reason\" must be a string"},
        {"{\"dopflow_review\": 1, \"input_sha256\": \"abc\"}", "64 hex digits"},
        {"{\"dopflow_review\": 1, \"reviewed\": \"yes\"}", "true or false"},
        {"{\"dopflow_review\": 1, \"note\": 3}", "\"note\" must be a string"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        dop_review *r = (dop_review *)1;
        dop_error err;
        dop_error_clear(&err);
        dop_status st = dop_review_parse(bad[i].text, strlen(bad[i].text), "bad.review.json", &r, &err);
        print_message("%s -> %s\n", bad[i].text, err.message);
        assert_int_equal(st, DOP_ERR_METADATA);
        assert_null(r);
        assert_int_equal(strncmp(err.message, "bad.review.json: ", 17), 0);
        assert_non_null(strstr(err.message, bad[i].says));
        assert_null(strchr(err.message, '\n'));
    }
    dop_review *r = NULL;
    dop_error err;
    assert_int_equal(dop_review_load("/nonexistent/x.review.json", &r, &err), DOP_ERR_METADATA);
    assert_non_null(strstr(err.message, "/nonexistent/x.review.json"));
}

static void without_edits_nothing_changes(void **state)
{
    (void)state;
    dop_review *r = parse("{\"dopflow_review\": 1}");
    captured *c = calloc(1, sizeof *c);
    dop_review_replay_stats st;
    replay(r, 4, c, &st);
    assert_int_equal(c->n_beats, N_BEATS);
    for (size_t k = 0; k < N_BEATS; k++) {
        assert_int_equal(c->beats[k].index, (int64_t)k);
        assert_int_equal(c->beats[k].rejected, k == 4);
        assert_string_equal(c->reasons[k], k == 4 ? "artifacts" : "");
    }
    for (size_t i = 0; i < c->n_frames; i++) assert_false(c->frames[i].flags & DOP_FRAME_EXCLUDED);
    assert_int_equal(st.unmatched, 0);
    assert_int_equal(st.frames_excluded, 0);
    free(c);
    dop_review_destroy(r);
}

static void reject_beat_names_the_nearest_onset(void **state)
{
    (void)state;
    /* 3.05: beat 3; 5.9: nearer onset 6 than 5 -> beat 6 */
    dop_review *r = parse("{\"dopflow_review\": 1, \"edits\": [{\"action\": \"reject_beat\", \"onset_s\": 3.05, "
                          "\"reason\": \"probe slipped\"}, {\"action\": \"reject_beat\", \"onset_s\": 5.9}]}");
    captured *c = calloc(1, sizeof *c);
    dop_review_replay_stats st;
    replay(r, -1, c, &st);
    assert_int_equal(c->n_beats, N_BEATS);
    for (size_t k = 0; k < N_BEATS; k++) assert_int_equal(c->beats[k].rejected, k == 3 || k == 6);
    assert_string_equal(c->reasons[3], "review: probe slipped");
    assert_string_equal(c->reasons[6], "review: rejected");
    for (size_t i = 0; i < c->n_frames; i++) {
        int64_t b = c->frames[i].beat_index;
        assert_int_equal((c->frames[i].flags & DOP_FRAME_REJECTED_BEAT) != 0, b == 3 || b == 6);
    }
    assert_int_equal(st.beats_rejected, 2);
    assert_int_equal(st.frames_excluded, 2 * FRAMES_PER_BEAT);
    assert_float_equal(st.excluded_s, 2.0, 1e-9);
    assert_int_equal(st.unmatched, 0);
    free(c);
    dop_review_destroy(r);
}

static void restore_beat_accepts_an_automatic_rejection(void **state)
{
    (void)state;
    dop_review *r = parse("{\"dopflow_review\": 1, \"edits\": [{\"action\": \"restore_beat\", \"onset_s\": 4.1}]}");
    captured *c = calloc(1, sizeof *c);
    dop_review_replay_stats st;
    replay(r, 4, c, &st);
    assert_int_equal(c->beats[4].rejected, 0);
    assert_string_equal(c->reasons[4], "");
    assert_int_equal(st.beats_restored, 1);
    /* its artifact frames are bridged (interpolated) as in an accepted beat */
    for (size_t i = 400; i < 500; i++) {
        assert_false(c->frames[i].flags & DOP_FRAME_REJECTED_BEAT);
        if (i < 450) assert_true(c->frames[i].flags & DOP_FRAME_BRIDGED);
    }
    assert_float_equal(c->beats[4].psv_cm_s, 20.0, 1e-9); /* the bridged first half holds the clean value */
    free(c);
    dop_review_destroy(r);
}

static void add_beat_splits_and_renumbers(void **state)
{
    (void)state;
    dop_review *r = parse("{\"dopflow_review\": 1, \"edits\": [{\"action\": \"add_beat\", \"onset_s\": 5.5},"
                          "{\"action\": \"add_beat\", \"onset_s\": 2.04}]}"); /* 2.04: onset 2 is already there */
    captured *c = calloc(1, sizeof *c);
    dop_review_replay_stats st;
    replay(r, -1, c, &st);
    assert_int_equal(c->n_beats, N_BEATS + 1);
    assert_int_equal(st.beats_added, 1);
    assert_int_equal(st.unmatched, 0);
    assert_float_equal(c->beats[5].start_s, 5.0, 1e-9);
    assert_float_equal(c->beats[5].end_s, 5.5, 1e-9);
    assert_float_equal(c->beats[6].start_s, 5.5, 1e-9);
    assert_float_equal(c->beats[6].end_s, 6.0, 1e-9);
    assert_float_equal(c->beats[6].heart_rate_bpm, 120.0, 1e-6);
    assert_float_equal(c->beats[6].psv_cm_s, 20.0, 1e-9);
    for (size_t k = 0; k < c->n_beats; k++) assert_int_equal(c->beats[k].index, (int64_t)k);
    assert_int_equal(c->frames[549].beat_index, 5);
    assert_int_equal(c->frames[550].beat_index, 6);
    assert_int_equal(c->frames[899].beat_index, 9);
    free(c);
    dop_review_destroy(r);
}

static void exclude_flags_frames_and_rejects_beats_mostly_inside(void **state)
{
    (void)state;
    dop_review *r = parse("{\"dopflow_review\": 1, \"edits\": [{\"action\": \"exclude\", \"start_s\": 2.0, "
                          "\"end_s\": 3.7, \"reason\": \"cough\"}]}");
    captured *c = calloc(1, sizeof *c);
    dop_review_replay_stats st;
    replay(r, -1, c, &st);
    assert_int_equal(c->beats[2].rejected, 1);
    assert_int_equal(c->beats[3].rejected, 1); /* 70% inside */
    assert_int_equal(c->beats[1].rejected, 0);
    assert_int_equal(c->beats[4].rejected, 0);
    assert_string_equal(c->reasons[3], "review: cough");
    for (size_t i = 0; i < c->n_frames; i++) {
        double t = c->frames[i].time_s;
        assert_int_equal((c->frames[i].flags & DOP_FRAME_EXCLUDED) != 0, t >= 2.0 - 1e-9 && t < 3.7 - 1e-9);
    }
    assert_int_equal(st.beats_rejected, 2);
    assert_int_equal(st.frames_excluded, 200); /* the span and the rest of beat 3 */
    assert_int_equal(st.unmatched, 0);
    free(c);
    dop_review_destroy(r);
}

static void unmatched_edits_are_counted(void **state)
{
    (void)state;
    dop_review *r = parse("{\"dopflow_review\": 1, \"edits\": ["
                          "{\"action\": \"reject_beat\", \"onset_s\": 3.5},"      /* between onsets */
                          "{\"action\": \"restore_beat\", \"onset_s\": 30},"      /* after the end */
                          "{\"action\": \"add_beat\", \"onset_s\": 9.2},"         /* in no beat */
                          "{\"action\": \"exclude\", \"start_s\": 50, \"end_s\": 60},"
                          "{\"action\": \"reject_beat\", \"onset_s\": 7.14}]}");  /* matched */
    captured *c = calloc(1, sizeof *c);
    dop_review_replay_stats st;
    dop_review_replay_config cfg = {0.01, 0.3};
    dop_review_replay_output out = {on_frame, on_beat, c};
    replay(r, -1, c, &st);
    assert_int_equal(st.unmatched, 4);
    assert_int_equal(c->beats[7].rejected, 1);
    dop_review_replay *rp = NULL;
    assert_int_equal(dop_review_replay_create(r, &cfg, &out, &rp, NULL), DOP_OK);
    assert_int_equal(dop_review_replay_flush(rp), DOP_OK);
    for (size_t i = 0; i < 5; i++) assert_false(dop_review_replay_edit_matched(rp, i));
    dop_review_replay_destroy(rp);
    char text[128];
    dop_review_edit_text(dop_review_edit_at(r, 3), text, sizeof text);
    assert_string_equal(text, "exclude 50 to 60 s");
    free(c);
    dop_review_destroy(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parses_every_key),
        cmocka_unit_test(every_malformed_file_is_refused),
        cmocka_unit_test(without_edits_nothing_changes),
        cmocka_unit_test(reject_beat_names_the_nearest_onset),
        cmocka_unit_test(restore_beat_accepts_an_automatic_rejection),
        cmocka_unit_test(add_beat_splits_and_renumbers),
        cmocka_unit_test(exclude_flags_frames_and_rejects_beats_mostly_inside),
        cmocka_unit_test(unmatched_edits_are_counted),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Review files end to end: dopflow analyze replays REC.review.json (or
 * --review FILE) on a simulated brachial recording, matching beats by onset
 * time also after a reanalysis with other parameters; every malformed file
 * is refused with exit code 4, one line naming the file, and no output; the
 * HDF5 result records the review; dopflow study applies each recording's
 * review and reanalyses it with --resume when the review changes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <hdf5.h>

#include "cli_run.h"
#include "io_util.h"

typedef struct fixture {
    char dir[256];
    char wav[512], review[512], beats[512], summary[512], frames[512];
    double onsets[64]; /* detected onsets without a review */
    int n_onsets;
} fixture;

static char *read_text(const char *path)
{
    char *text = NULL;
    assert_int_equal(io_file_read(path, &text, NULL), 0);
    return text;
}

static int setup(void **state)
{
    fixture *fx = calloc(1, sizeof *fx);
    if (io_tmpdir_make(fx->dir, sizeof fx->dir) != 0) return -1;
    io_path_join(fx->wav, sizeof fx->wav, fx->dir, "rec.wav");
    io_path_join(fx->review, sizeof fx->review, fx->dir, "rec.review.json");
    io_path_join(fx->beats, sizeof fx->beats, fx->dir, "beats.csv");
    io_path_join(fx->summary, sizeof fx->summary, fx->dir, "summary.csv");
    io_path_join(fx->frames, sizeof fx->frames, fx->dir, "frames.csv");
    char args[2048];
    snprintf(args, sizeof args, "simulate '%s/datasets/examples/brachial_rest.json' -o '%s'", DOPFLOW_SOURCE_DIR,
             fx->wav);
    if (cli_run(args, NULL, NULL, NULL) != 0) return -1;
    snprintf(args, sizeof args, "analyze '%s' --beats '%s'", fx->wav, fx->beats);
    if (cli_run(args, NULL, NULL, NULL) != 0) return -1;
    char *text = NULL;
    if (io_file_read(fx->beats, &text, NULL) != 0) return -1;
    for (int r = 0; r < 64; r++) {
        double t = io_csv_value(text, "start_s", r);
        if (isnan(t)) break;
        fx->onsets[fx->n_onsets++] = t;
    }
    free(text);
    unlink(fx->beats);
    *state = fx;
    return fx->n_onsets >= 8 ? 0 : -1;
}

static int teardown(void **state)
{
    fixture *fx = *state;
    io_tmpdir_remove(fx->dir);
    free(fx);
    return 0;
}

static void write_review(const fixture *fx, const char *edits, int reviewed)
{
    char text[4096];
    snprintf(text, sizeof text, "{\"dopflow_review\": 1, \"reviewed\": %s, \"note\": \"test\", \"edits\": [%s]}\n",
             reviewed ? "true" : "false", edits);
    assert_int_equal(io_file_write(fx->review, text, strlen(text)), 0);
}

/* analyze with extra options into beats and summary; returns the exit code. */
static int analyze(const fixture *fx, const char *extra, char **err)
{
    char args[4096];
    unlink(fx->beats);
    unlink(fx->summary);
    unlink(fx->frames);
    snprintf(args, sizeof args, "analyze '%s' --beats '%s' --summary '%s' --frames '%s' %s", fx->wav, fx->beats,
             fx->summary, fx->frames, extra ? extra : "");
    return cli_run(args, NULL, NULL, err);
}

/* Row of the beat starting within 0.15 s of t, -1 if none. */
static int beat_row_at(const char *beats, double t)
{
    for (int r = 0; r < 64; r++) {
        double s = io_csv_value(beats, "start_s", r);
        if (isnan(s)) return -1;
        if (fabs(s - t) <= 0.15) return r;
    }
    return -1;
}

static void no_review_file_changes_nothing(void **state)
{
    fixture *fx = *state;
    unlink(fx->review);
    assert_int_equal(analyze(fx, NULL, NULL), 0);
    char *beats = read_text(fx->beats), *summary = read_text(fx->summary);
    assert_null(strstr(beats, "review:"));     /* reject_reason holds only automatic reasons */
    assert_null(strstr(summary, "reviewed"));
    /* with a review file present, --no-review gives the same bytes */
    write_review(fx, "{\"action\": \"reject_beat\", \"onset_s\": 3.0}", 1);
    assert_int_equal(analyze(fx, "--no-review", NULL), 0);
    char *beats2 = read_text(fx->beats), *summary2 = read_text(fx->summary);
    assert_string_equal(beats, beats2);
    assert_string_equal(summary, summary2);
    free(beats);
    free(summary);
    free(beats2);
    free(summary2);
    unlink(fx->review);
}

static void reject_beat_survives_reanalysis_with_other_parameters(void **state)
{
    fixture *fx = *state;
    const double onset = fx->onsets[3];
    char edits[256];
    snprintf(edits, sizeof edits, "{\"action\": \"reject_beat\", \"onset_s\": %.3f, \"reason\": \"probe slipped\"}",
             onset + 0.05);
    write_review(fx, edits, 1);
    const char *variants[] = {"", "--hop-ms 5 --window-ms 15", "--window hamming --wall-hz 80"};
    for (int v = 0; v < 3; v++) {
        char *err = NULL;
        assert_int_equal(analyze(fx, variants[v], &err), 0);
        assert_non_null(strstr(err, "review"));
        assert_null(strstr(err, "matches no beat"));
        char *beats = read_text(fx->beats), *summary = read_text(fx->summary);
        int row = beat_row_at(beats, onset);
        print_message("%s: beat at %.2f s is row %d\n", variants[v], onset, row);
        assert_true(row >= 0);
        assert_float_equal(io_csv_value(beats, "rejected", row), 1.0, 0);
        assert_non_null(strstr(beats, ",reject_reason,incomplete\n"));
        assert_non_null(strstr(beats, "\"review: probe slipped\""));
        assert_float_equal(io_csv_value(summary, "reviewed", 0), 1.0, 0);
        assert_float_equal(io_csv_value(summary, "n_beats_rejected", 0), 1.0, 0);
        assert_float_equal(io_csv_value(summary, "n_review_edits_unmatched", 0), 0.0, 0);
        free(beats);
        free(summary);
        free(err);
    }
    unlink(fx->review);
}

static void restore_add_and_exclude(void **state)
{
    fixture *fx = *state;
    assert_int_equal(analyze(fx, "--no-review", NULL), 0);
    char *before = read_text(fx->summary);
    const double n_before = io_csv_value(before, "n_beats", 0);
    /* restore an accepted beat: matched, nothing changes; add a beat in the
     * middle of beat 2; exclude the whole of beats 5 and 6 */
    char edits[1024];
    double mid = 0.5 * (fx->onsets[2] + fx->onsets[3]);
    snprintf(edits, sizeof edits,
             "{\"action\": \"restore_beat\", \"onset_s\": %.3f}, {\"action\": \"add_beat\", \"onset_s\": %.3f},"
             "{\"action\": \"exclude\", \"start_s\": %.3f, \"end_s\": %.3f, \"reason\": \"cough\"}",
             fx->onsets[1], mid, fx->onsets[5] - 0.02, fx->onsets[7] - 0.01);
    write_review(fx, edits, 0);
    char *err = NULL;
    assert_int_equal(analyze(fx, NULL, &err), 0);
    print_message("%s", err);
    char *beats = read_text(fx->beats), *summary = read_text(fx->summary), *frames = read_text(fx->frames);
    assert_true(beat_row_at(beats, mid) >= 0); /* the added onset starts a beat */
    assert_float_equal(io_csv_value(beats, "rejected", beat_row_at(beats, mid)), 0.0, 0);
    assert_float_equal(io_csv_value(beats, "rejected", beat_row_at(beats, fx->onsets[5])), 1.0, 0);
    assert_float_equal(io_csv_value(beats, "rejected", beat_row_at(beats, fx->onsets[6])), 1.0, 0);
    assert_non_null(strstr(beats, "\"review: cough\""));
    assert_non_null(strstr(frames, ",excluded,"));
    /* one beat more, two rejected */
    assert_float_equal(io_csv_value(summary, "n_beats", 0), n_before + 1 - 2, 0);
    assert_float_equal(io_csv_value(summary, "n_beats_rejected", 0), 2.0, 0);
    assert_float_equal(io_csv_value(summary, "reviewed", 0), 0.0, 0);
    assert_true(io_csv_value(summary, "rejected_fraction", 0) > 0.15);
    assert_non_null(strstr(err, "not yet marked reviewed"));
    free(before);
    free(beats);
    free(summary);
    free(frames);
    free(err);
    unlink(fx->review);
}

static void unmatched_edits_are_reported(void **state)
{
    fixture *fx = *state;
    char edits[512];
    snprintf(edits, sizeof edits, "{\"action\": \"reject_beat\", \"onset_s\": 100}, {\"action\": \"reject_beat\", "
                                  "\"onset_s\": %.3f}, {\"action\": \"exclude\", \"start_s\": 200, \"end_s\": 201}",
             0.5 * (fx->onsets[4] + fx->onsets[5]));
    write_review(fx, edits, 1);
    char *err = NULL;
    assert_int_equal(analyze(fx, NULL, &err), 0);
    print_message("%s", err);
    char *summary = read_text(fx->summary);
    assert_float_equal(io_csv_value(summary, "n_review_edits_unmatched", 0), 3.0, 0);
    assert_non_null(strstr(err, "edit 1 (reject_beat at 100 s) matches no beat"));
    assert_non_null(strstr(err, "edit 2 (reject_beat at"));
    assert_non_null(strstr(err, "edit 3 (exclude 200 to 201 s) matches no beat"));
    free(summary);
    free(err);
    unlink(fx->review);
}

static void malformed_review_exits_4_without_output(void **state)
{
    fixture *fx = *state;
    static const struct { const char *text, *says; } bad[] = {
        {"{\"dopflow_review\": 1, \"edits\": [", "malformed JSON"},
        {"{\"dopflow_review\": 1, \"edits\": [{\"action\": \"smooth\", \"onset_s\": 1}]}", "unknown action"},
        {"{\"dopflow_review\": 1, \"edits\": [{\"action\": \"exclude\", \"start_s\": 4, \"end_s\": 3}]}", "before it starts"},
        {"{\"dopflow_review\": 1, \"edits\": [{\"action\": \"reject_beat\", \"onset_s\": -2}]}", ">= 0"},
        {"{\"dopflow_review\": 1, \"input_sha256\": \"0000000000000000000000000000000000000000000000000000000000000000\"}",
         "does not match"},
        {"{\"reviewed\": true}", "dopflow_review"},
    };
    char h5[512], args[4096];
    io_path_join(h5, sizeof h5, fx->dir, "r.h5");
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(io_file_write(fx->review, bad[i].text, strlen(bad[i].text)), 0);
        int before = io_dir_count(fx->dir);
        char *err = NULL;
        snprintf(args, sizeof args, "analyze '%s' --beats '%s' --summary '%s' --h5 '%s'", fx->wav, fx->beats,
                 fx->summary, h5);
        unlink(fx->beats);
        unlink(fx->summary);
        before = io_dir_count(fx->dir);
        assert_int_equal(cli_run(args, NULL, NULL, &err), 4);
        print_message("%s", err);
        assert_int_equal(cli_count_lines(err), 1);
        assert_non_null(strstr(err, "rec.review.json: "));
        assert_non_null(strstr(err, bad[i].says));
        assert_int_equal(io_dir_count(fx->dir), before); /* nothing written, no temporary file */
        free(err);
    }
    /* --review names another file; a missing one is an error too */
    snprintf(args, sizeof args, "analyze '%s' --review '%s/none.review.json'", fx->wav, fx->dir);
    char *err = NULL;
    assert_int_equal(cli_run(args, NULL, NULL, &err), 4);
    assert_non_null(strstr(err, "none.review.json"));
    free(err);
    snprintf(args, sizeof args, "analyze '%s' --review x --no-review", fx->wav);
    assert_int_equal(cli_run(args, NULL, NULL, NULL), 2);
    unlink(fx->review);
}

static void review_named_elsewhere_and_recorded_in_h5(void **state)
{
    fixture *fx = *state;
    char other[512], h5[512], args[4096], sha[65] = "";
    io_path_join(other, sizeof other, fx->dir, "mine.json");
    io_path_join(h5, sizeof h5, fx->dir, "r.h5");
    /* input_sha256 of the right bytes is accepted */
    snprintf(args, sizeof args, "sha256sum '%s' > '%s/sha.txt'", fx->wav, fx->dir);
    assert_int_equal(system(args), 0);
    snprintf(args, sizeof args, "%s/sha.txt", fx->dir);
    char *text = read_text(args);
    memcpy(sha, text, 64);
    free(text);
    unlink(args);
    char body[1024];
    snprintf(body, sizeof body, "{\"dopflow_review\": 1, \"input_sha256\": \"%s\", \"reviewed\": true, \"edits\": "
                                "[{\"action\": \"reject_beat\", \"onset_s\": %.3f, \"reason\": \"x\"}]}", sha,
             fx->onsets[2]);
    assert_int_equal(io_file_write(other, body, strlen(body)), 0);
    snprintf(args, sizeof args, "analyze '%s' --review '%s' --h5 '%s'", fx->wav, other, h5);
    assert_int_equal(cli_run(args, NULL, NULL, NULL), 0);
    hid_t f = H5Fopen(h5, H5F_ACC_RDONLY, H5P_DEFAULT);
    assert_true(f >= 0);
    const char *names[] = {"review_sha256", "review_edits", "review_file", "reviewed"};
    for (int i = 0; i < 4; i++) assert_true(H5Aexists(f, names[i]) > 0);
    hid_t a = H5Aopen(f, "review_edits", H5P_DEFAULT);
    hid_t type = H5Aget_type(a);
    char *value = NULL;
    assert_true(H5Aread(a, type, &value) >= 0);
    assert_non_null(strstr(value, "\"reject_beat\""));
    H5free_memory(value);
    H5Tclose(type);
    H5Aclose(a);
    H5Fclose(f);
    unlink(h5);
    unlink(other);
}

static void study_applies_reviews_and_resume_follows_changes(void **state)
{
    fixture *fx = *state;
    char manifest[512], out[512], args[4096], path[600];
    io_path_join(manifest, sizeof manifest, fx->dir, "manifest.csv");
    io_path_join(out, sizeof out, fx->dir, "study");
    const char *m = "subject,condition,file\ns1,rest,rec.wav\ns2,rest,copy.wav\n";
    assert_int_equal(io_file_write(manifest, m, strlen(m)), 0);
    snprintf(args, sizeof args, "cp '%s' '%s/copy.wav' && cp '%s/rec.json' '%s/copy.json'", fx->wav, fx->dir, fx->dir,
             fx->dir);
    assert_int_equal(system(args), 0);
    char edits[256];
    snprintf(edits, sizeof edits, "{\"action\": \"reject_beat\", \"onset_s\": %.3f}", fx->onsets[4]);
    write_review(fx, edits, 0);
    snprintf(args, sizeof args, "study '%s' -o '%s'", manifest, out);
    assert_int_equal(cli_run(args, NULL, NULL, NULL), 0);
    io_path_join(path, sizeof path, out, "report.md");
    char *report = read_text(path);
    assert_non_null(strstr(report, "## Review"));
    assert_non_null(strstr(report, "| s1 | rest |  | rec.wav | no | 1 |"));
    assert_non_null(strstr(report, "Not yet marked reviewed: 2 recordings"));
    assert_non_null(strstr(report, "`copy.wav` (no review file)"));
    free(report);
    io_path_join(path, sizeof path, out, "recordings.csv");
    char *rec1 = read_text(path);
    /* the review changes: --resume reanalyses that recording */
    snprintf(edits, sizeof edits, "{\"action\": \"reject_beat\", \"onset_s\": %.3f}, {\"action\": \"reject_beat\", "
                                  "\"onset_s\": %.3f}", fx->onsets[4], fx->onsets[5]);
    write_review(fx, edits, 1);
    snprintf(args, sizeof args, "study '%s' -o '%s' --resume", manifest, out);
    assert_int_equal(cli_run(args, NULL, NULL, NULL), 0);
    io_path_join(path, sizeof path, out, "report.md");
    report = read_text(path);
    assert_non_null(strstr(report, "| s1 | rest |  | rec.wav | yes | 2 |"));
    assert_non_null(strstr(report, "Not yet marked reviewed: 1 recording:"));
    free(report);
    io_path_join(path, sizeof path, out, "recordings.csv");
    char *rec2 = read_text(path);
    assert_string_not_equal(rec1, rec2); /* s1's averages changed */
    free(rec1);
    free(rec2);
    /* shards merged give the same report, Review section included */
    for (int k = 1; k <= 2; k++) {
        snprintf(args, sizeof args, "study '%s' -o '%s/shard%d' --shard %d/2", manifest, fx->dir, k, k);
        assert_int_equal(cli_run(args, NULL, NULL, NULL), 0);
    }
    snprintf(args, sizeof args, "study merge -o '%s/merged' '%s/shard1' '%s/shard2'", fx->dir, fx->dir, fx->dir);
    assert_int_equal(cli_run(args, NULL, NULL, NULL), 0);
    snprintf(path, sizeof path, "%s/merged/report.md", fx->dir);
    char *merged = read_text(path);
    io_path_join(path, sizeof path, out, "report.md");
    report = read_text(path);
    assert_string_equal(merged, report);
    free(merged);
    free(report);
    /* without review files: no Review section */
    unlink(fx->review);
    snprintf(args, sizeof args, "study '%s' -o '%s' --resume", manifest, out);
    assert_int_equal(cli_run(args, NULL, NULL, NULL), 0);
    io_path_join(path, sizeof path, out, "report.md");
    report = read_text(path);
    assert_null(strstr(report, "## Review"));
    free(report);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(no_review_file_changes_nothing),
        cmocka_unit_test(reject_beat_survives_reanalysis_with_other_parameters),
        cmocka_unit_test(restore_add_and_exclude),
        cmocka_unit_test(unmatched_edits_are_reported),
        cmocka_unit_test(malformed_review_exits_4_without_output),
        cmocka_unit_test(review_named_elsewhere_and_recorded_in_h5),
        cmocka_unit_test(study_applies_reviews_and_resume_follows_changes),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

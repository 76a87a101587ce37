/* libFuzzer: review files (dop_review_parse) on arbitrary bytes, and the
 * replay of whatever parses on a short synthetic run of frames and beats. */
#include <math.h>

#include "dopflow/review.h"
#include <stdlib.h>
#include <string.h>

static int count_frame(const dop_frame *f, void *user)
{
    (void)f;
    ++*(size_t *)user;
    return 0;
}

static int check_beat(const dop_beat *b, const char *reason, void *user)
{
    (void)user;
    if (!(b->end_s > b->start_s) || !reason) abort();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    dop_review *r = NULL;
    dop_error err;
    dop_status st = dop_review_parse((const char *)data, size, "fuzz.review.json", &r, &err);
    if (st != DOP_OK) {
        if (r || !memchr(err.message, '\0', sizeof err.message) || !err.message[0]) abort();
        return 0;
    }
    for (size_t i = 0; i < dop_review_edit_count(r); i++) {
        const dop_review_edit *e = dop_review_edit_at(r, i);
        if (e->action == DOP_REVIEW_EXCLUDE ? !(e->end_s > e->start_s && e->start_s >= 0) : !(e->onset_s >= 0)) abort();
    }
    size_t frames = 0;
    dop_review_replay_config cfg = {0.01, 0.3};
    dop_review_replay_output out = {count_frame, check_beat, &frames};
    dop_review_replay *rp = NULL;
    if (dop_review_replay_create(r, &cfg, &out, &rp, &err) != DOP_OK) abort();
    for (int k = 0; k < 5; k++) {
        for (int s = 0; s < 50; s++) {
            dop_frame f = {0};
            f.time_s = 0.5 * k + 0.01 * s;
            f.vmax_cm_s = s < 10 ? 50.0 : 10.0;
            f.beat_index = k;
            f.flags = s % 7 == 0 ? DOP_FRAME_BURST : 0;
            dop_review_replay_frame(rp, &f);
        }
        dop_beat b = {0};
        b.index = k;
        b.start_s = 0.5 * k;
        b.end_s = 0.5 * (k + 1);
        dop_review_replay_beat(rp, &b);
    }
    dop_review_replay_flush(rp);
    if (frames != 250) abort();
    dop_review_replay_destroy(rp);
    dop_review_destroy(r);
    return 0;
}

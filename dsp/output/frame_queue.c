/* The frames CSV written by a second thread (see frame_queue.h).
 *
 * Two batches of FRAME_QUEUE_BATCH frames: the job fills one while the
 * worker (core/worker.h) writes the other; handing a full batch over waits
 * only when the writer has not finished the one before. */
#include "output/frame_queue.h"

#include <stdlib.h>

#include "core/worker.h"
#include "dopflow/result_csv.h"

#define FRAME_QUEUE_BATCH 1024 /* frames per hand-over: 10.24 s of a 10 ms hop */

typedef struct frame_batch {
    FILE *out;
    size_t fill;
    dop_frame frames[FRAME_QUEUE_BATCH];
} frame_batch;

struct dop_frame_queue {
    dop_worker *writer; /* NULL: rows written at once by push */
    frame_batch batch[2];
    int filling;        /* the batch the job fills */
};

static void write_row(FILE *out, const dop_frame *f)
{
    dop_frame_csv_row(out, f);
    fputc('\n', out);
}

/* The worker's job: one batch's rows, in order. */
static void write_batch(void *arg)
{
    frame_batch *b = arg;
    for (size_t i = 0; i < b->fill; i++) write_row(b->out, &b->frames[i]);
}

dop_status dop_frame_queue_create(FILE *out, dop_frame_queue **out_queue, dop_error *err)
{
    *out_queue = NULL;
    dop_frame_queue *q = malloc(sizeof *q);
    if (!q) return dop_error_set(err, DOP_ERR_NOMEM, "frames output: out of memory");
    for (int i = 0; i < 2; i++) {
        q->batch[i].out = out;
        q->batch[i].fill = 0;
    }
    q->filling = 0;
    q->writer = dop_worker_create();
    *out_queue = q;
    return DOP_OK;
}

/* Hand the batch being filled to the writer, and fill the other one:
 * dop_worker_post has waited until it was written. */
static void hand_over(dop_frame_queue *q)
{
    dop_worker_post(q->writer, write_batch, &q->batch[q->filling]);
    q->filling ^= 1;
    q->batch[q->filling].fill = 0;
}

void dop_frame_queue_push(dop_frame_queue *q, const dop_frame *frame)
{
    if (!q->writer) {
        write_row(q->batch[0].out, frame);
        return;
    }
    frame_batch *b = &q->batch[q->filling];
    b->frames[b->fill++] = *frame;
    if (b->fill == FRAME_QUEUE_BATCH) hand_over(q);
}

void dop_frame_queue_finish(dop_frame_queue *q)
{
    if (!q) return;
    if (q->writer) {
        if (q->batch[q->filling].fill > 0) hand_over(q);
        dop_worker_destroy(q->writer); /* waits for the last batch */
    }
    free(q);
}

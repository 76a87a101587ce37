/* The frames CSV written by a second thread (see frame_queue.h).
 *
 * FRAME_QUEUE_BATCHES batches of FRAME_QUEUE_BATCH frames form a ring:
 * the job fills batch `handed % BATCHES`, then hands it over (handed++);
 * the writer writes batch `written % BATCHES`, then frees it (written++).
 * One mutex and one condition variable guard the two counters; each side
 * waits only when the ring is full (the job) or empty (the writer). */
#include "output/frame_queue.h"

#include <pthread.h>
#include <stdlib.h>

#include "dopflow/result_csv.h"

#define FRAME_QUEUE_BATCH 256  /* frames per hand-over: 2.56 s of a 10 ms hop */
#define FRAME_QUEUE_BATCHES 4

struct dop_frame_queue {
    FILE *out;
    int threaded;            /* 0: rows written at once by push */
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t changed;  /* handed, written or finishing changed */
    size_t handed, written;  /* batches handed over / written, since the start */
    int finishing;           /* no more batches will come */
    size_t fill[FRAME_QUEUE_BATCHES];
    dop_frame batch[FRAME_QUEUE_BATCHES][FRAME_QUEUE_BATCH];
};

static void write_row(FILE *out, const dop_frame *f)
{
    dop_frame_csv_row(out, f);
    fputc('\n', out);
}

static void *writer_main(void *arg)
{
    dop_frame_queue *q = arg;
    pthread_mutex_lock(&q->lock);
    for (;;) {
        while (q->written == q->handed && !q->finishing) pthread_cond_wait(&q->changed, &q->lock);
        if (q->written == q->handed) break; /* finishing and nothing left */
        const size_t b = q->written % FRAME_QUEUE_BATCHES;
        pthread_mutex_unlock(&q->lock);
        for (size_t i = 0; i < q->fill[b]; i++) write_row(q->out, &q->batch[b][i]);
        pthread_mutex_lock(&q->lock);
        q->written++;
        pthread_cond_broadcast(&q->changed);
    }
    pthread_mutex_unlock(&q->lock);
    return NULL;
}

dop_status dop_frame_queue_create(FILE *out, dop_frame_queue **out_queue, dop_error *err)
{
    *out_queue = NULL;
    dop_frame_queue *q = calloc(1, sizeof *q);
    if (!q) return dop_error_set(err, DOP_ERR_NOMEM, "frames output: out of memory");
    q->out = out;
    if (pthread_mutex_init(&q->lock, NULL) == 0) {
        if (pthread_cond_init(&q->changed, NULL) == 0) {
            q->threaded = pthread_create(&q->thread, NULL, writer_main, q) == 0;
            if (!q->threaded) pthread_cond_destroy(&q->changed);
        }
        if (!q->threaded) pthread_mutex_destroy(&q->lock);
    }
    *out_queue = q;
    return DOP_OK;
}

/* Hand the batch being filled to the writer; wait while the ring is full. */
static void hand_over(dop_frame_queue *q)
{
    pthread_mutex_lock(&q->lock);
    q->handed++;
    pthread_cond_broadcast(&q->changed);
    while (q->handed - q->written == FRAME_QUEUE_BATCHES) pthread_cond_wait(&q->changed, &q->lock);
    pthread_mutex_unlock(&q->lock);
    q->fill[q->handed % FRAME_QUEUE_BATCHES] = 0;
}

void dop_frame_queue_push(dop_frame_queue *q, const dop_frame *frame)
{
    if (!q->threaded) {
        write_row(q->out, frame);
        return;
    }
    const size_t b = q->handed % FRAME_QUEUE_BATCHES;
    q->batch[b][q->fill[b]++] = *frame;
    if (q->fill[b] == FRAME_QUEUE_BATCH) hand_over(q);
}

void dop_frame_queue_finish(dop_frame_queue *q)
{
    if (!q) return;
    if (q->threaded) {
        pthread_mutex_lock(&q->lock);
        if (q->fill[q->handed % FRAME_QUEUE_BATCHES] > 0) q->handed++;
        q->finishing = 1;
        pthread_cond_broadcast(&q->changed);
        pthread_mutex_unlock(&q->lock);
        pthread_join(q->thread, NULL);
        pthread_cond_destroy(&q->changed);
        pthread_mutex_destroy(&q->lock);
    }
    free(q);
}

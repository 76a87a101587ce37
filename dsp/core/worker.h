/* One job at a time on a second thread (internal to the library).
 *
 * The frames CSV writer (output/frame_queue.c), the WAV read-ahead
 * (input/read_ahead.c) and the analysis (analysis.c: wall filter, STFT and
 * per-frame measurements one chunk ahead)
 * each hand one job to a worker and go on with their own work meanwhile.
 * A job is a function and its argument; the worker runs them in the order
 * posted, one at a time. Whatever the job touches belongs to it from
 * dop_worker_post() until dop_worker_wait() (or the next post) returns.
 * One thread, the worker's owner, posts and waits (not thread-safe).
 *
 * Without a thread (dop_worker_create() returned NULL: the system refused
 * one), dop_worker_post(NULL, ...) runs the job at once: the same results. */
#ifndef DOPFLOW_WORKER_H
#define DOPFLOW_WORKER_H

typedef struct dop_worker dop_worker;
typedef void (*dop_worker_job)(void *arg);

/* A worker with its thread, or NULL (out of memory or threads, or the
 * environment sets DOPFLOW_NO_THREADS to anything but "" or "0"). */
dop_worker *dop_worker_create(void);

/* Wait for the job in flight, then start job(arg) on the worker. */
void dop_worker_post(dop_worker *w, dop_worker_job job, void *arg);

/* Wait until no job is in flight. NULL is fine. */
void dop_worker_wait(dop_worker *w);

/* Wait, then end the thread and free. NULL is fine. */
void dop_worker_destroy(dop_worker *w);

#endif

/* One job at a time on a second thread (see worker.h).
 *
 * Two semaphores hand the job slot over: `posted` wakes the thread for a
 * job, `done` tells the owner it is finished. The owner (the one thread
 * that posts and waits) knows whether a job is in flight (busy), so no
 * lock is needed. sem_post makes a system call only when the other side
 * sleeps; a wake-up costs about 30 us of system time in this VM, and a
 * mutex with condition variables took about four system calls per
 * hand-over (glibc takes the mutex back from a condition wait as
 * contended, so the next unlock always calls the kernel). */
#include "core/worker.h"

#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdlib.h>
#include <string.h>

struct dop_worker {
    pthread_t thread;
    sem_t posted;        /* a job (or quit) is in the slot */
    sem_t done;          /* the job in the slot is finished */
    int busy;            /* the owner's: a job was posted and not yet waited for */
    int quit;
    dop_worker_job job;
    void *arg;
};

static void sem_wait_fully(sem_t *s)
{
    while (sem_wait(s) != 0 && errno == EINTR) {
    }
}

static void *worker_main(void *arg)
{
    dop_worker *w = arg;
    for (;;) {
        sem_wait_fully(&w->posted);
        if (w->quit) return NULL;
        w->job(w->arg);
        sem_post(&w->done);
    }
}

dop_worker *dop_worker_create(void)
{
    /* DOPFLOW_NO_THREADS set and not "0": every job runs in its poster's
     * thread (on a machine whose cores are all busy, e.g. a study with one
     * worker process per core, the hand-overs only cost). */
    const char *off = getenv("DOPFLOW_NO_THREADS");
    if (off && *off && strcmp(off, "0") != 0) return NULL;
    dop_worker *w = calloc(1, sizeof *w);
    if (!w) return NULL;
    int posted = sem_init(&w->posted, 0, 0) == 0;
    int done = posted && sem_init(&w->done, 0, 0) == 0;
    if (done && pthread_create(&w->thread, NULL, worker_main, w) == 0) return w;
    if (done) sem_destroy(&w->done);
    if (posted) sem_destroy(&w->posted);
    free(w);
    return NULL;
}

void dop_worker_wait(dop_worker *w)
{
    if (!w || !w->busy) return;
    sem_wait_fully(&w->done);
    w->busy = 0;
}

void dop_worker_post(dop_worker *w, dop_worker_job job, void *arg)
{
    if (!w) {
        job(arg);
        return;
    }
    dop_worker_wait(w);
    w->job = job;
    w->arg = arg;
    w->busy = 1;
    sem_post(&w->posted);
}

void dop_worker_destroy(dop_worker *w)
{
    if (!w) return;
    dop_worker_wait(w);
    w->quit = 1;
    sem_post(&w->posted);
    pthread_join(w->thread, NULL);
    sem_destroy(&w->done);
    sem_destroy(&w->posted);
    free(w);
}

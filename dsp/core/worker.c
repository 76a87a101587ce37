/* One job at a time on a second thread (see worker.h): a mutex and one
 * condition variable guard the job slot; the thread sleeps while it is
 * empty, a poster or waiter while it is full. */
#include "core/worker.h"

#include <pthread.h>
#include <stdlib.h>

struct dop_worker {
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t changed; /* job or quit changed */
    dop_worker_job job;     /* the job in flight, or NULL */
    void *arg;
    int quit;
};

static void *worker_main(void *arg)
{
    dop_worker *w = arg;
    pthread_mutex_lock(&w->lock);
    for (;;) {
        while (!w->job && !w->quit) pthread_cond_wait(&w->changed, &w->lock);
        if (!w->job) break; /* quit, nothing left */
        dop_worker_job job = w->job;
        void *job_arg = w->arg;
        pthread_mutex_unlock(&w->lock);
        job(job_arg);
        pthread_mutex_lock(&w->lock);
        w->job = NULL;
        pthread_cond_broadcast(&w->changed);
    }
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

dop_worker *dop_worker_create(void)
{
    dop_worker *w = calloc(1, sizeof *w);
    if (!w) return NULL;
    int started = 0;
    if (pthread_mutex_init(&w->lock, NULL) == 0) {
        if (pthread_cond_init(&w->changed, NULL) == 0) {
            started = pthread_create(&w->thread, NULL, worker_main, w) == 0;
            if (!started) pthread_cond_destroy(&w->changed);
        }
        if (!started) pthread_mutex_destroy(&w->lock);
    }
    if (!started) {
        free(w);
        return NULL;
    }
    return w;
}

/* With the lock held: until the slot is empty. */
static void wait_locked(dop_worker *w)
{
    while (w->job) pthread_cond_wait(&w->changed, &w->lock);
}

void dop_worker_post(dop_worker *w, dop_worker_job job, void *arg)
{
    if (!w) {
        job(arg);
        return;
    }
    pthread_mutex_lock(&w->lock);
    wait_locked(w);
    w->job = job;
    w->arg = arg;
    pthread_cond_broadcast(&w->changed);
    pthread_mutex_unlock(&w->lock);
}

void dop_worker_wait(dop_worker *w)
{
    if (!w) return;
    pthread_mutex_lock(&w->lock);
    wait_locked(w);
    pthread_mutex_unlock(&w->lock);
}

void dop_worker_destroy(dop_worker *w)
{
    if (!w) return;
    pthread_mutex_lock(&w->lock);
    wait_locked(w);
    w->quit = 1;
    pthread_cond_broadcast(&w->changed);
    pthread_mutex_unlock(&w->lock);
    pthread_join(w->thread, NULL);
    pthread_cond_destroy(&w->changed);
    pthread_mutex_destroy(&w->lock);
    free(w);
}

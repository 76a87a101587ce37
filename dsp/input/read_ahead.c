/* Reading a file's next block on a second thread (see read_ahead.h).
 *
 * One block at a time: the caller asks for a block (ASKED), the thread
 * preads it into its own buffer (READY), and the next dop_read_ahead_read()
 * takes it by exchanging buffers when it is the block wanted; any other
 * block (after a seek, or a shorter last block) is read in place and the
 * one read ahead is dropped. A failed read ahead is not reported: the read
 * in place that follows meets the same error. */
#include "input/read_ahead.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

enum ahead_state { AHEAD_IDLE, AHEAD_ASKED, AHEAD_READY };

struct dop_read_ahead {
    int fd;
    size_t capacity;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t changed; /* state or quit changed */
    enum ahead_state state;
    int quit;
    void *buf;              /* capacity bytes */
    off_t offset;           /* the block asked for */
    size_t want;
    ssize_t got;            /* its bytes, or -1 */
};

/* pread until `want` bytes, the end of the file or an error (-1, errno). */
static ssize_t pread_full(int fd, void *buf, size_t want, off_t offset)
{
    size_t have = 0;
    while (have < want) {
        ssize_t g = pread(fd, (unsigned char *)buf + have, want - have, offset + (off_t)have);
        if (g < 0 && errno == EINTR) continue;
        if (g < 0) return -1;
        if (g == 0) break; /* the file is shorter (shortened since it was opened) */
        have += (size_t)g;
    }
    return (ssize_t)have;
}

static void *ahead_main(void *arg)
{
    dop_read_ahead *ra = arg;
    pthread_mutex_lock(&ra->lock);
    for (;;) {
        while (ra->state != AHEAD_ASKED && !ra->quit) pthread_cond_wait(&ra->changed, &ra->lock);
        if (ra->quit) break;
        const off_t offset = ra->offset;
        const size_t want = ra->want;
        pthread_mutex_unlock(&ra->lock);
        ssize_t got = pread_full(ra->fd, ra->buf, want, offset);
        pthread_mutex_lock(&ra->lock);
        ra->got = got;
        ra->state = AHEAD_READY;
        pthread_cond_broadcast(&ra->changed);
    }
    pthread_mutex_unlock(&ra->lock);
    return NULL;
}

dop_read_ahead *dop_read_ahead_start(int fd, size_t capacity)
{
    dop_read_ahead *ra = calloc(1, sizeof *ra);
    if (!ra) return NULL;
    ra->fd = fd;
    ra->capacity = capacity;
    ra->buf = malloc(capacity);
    int started = 0;
    if (ra->buf && pthread_mutex_init(&ra->lock, NULL) == 0) {
        if (pthread_cond_init(&ra->changed, NULL) == 0) {
            started = pthread_create(&ra->thread, NULL, ahead_main, ra) == 0;
            if (!started) pthread_cond_destroy(&ra->changed);
        }
        if (!started) pthread_mutex_destroy(&ra->lock);
    }
    if (!started) {
        free(ra->buf);
        free(ra);
        return NULL;
    }
    return ra;
}

ssize_t dop_read_ahead_read(dop_read_ahead *ra, int fd, void **buf, off_t offset, size_t want, off_t next,
                            size_t next_want)
{
    if (!ra) return pread_full(fd, *buf, want, offset);
    ssize_t got = -1;
    pthread_mutex_lock(&ra->lock);
    while (ra->state == AHEAD_ASKED) pthread_cond_wait(&ra->changed, &ra->lock);
    const int hit = ra->state == AHEAD_READY && ra->offset == offset && ra->want >= want && ra->got >= 0;
    if (hit) {
        void *mine = *buf;
        *buf = ra->buf;
        ra->buf = mine;
        got = ra->got < (ssize_t)want ? ra->got : (ssize_t)want;
    }
    ra->state = AHEAD_IDLE;
    pthread_mutex_unlock(&ra->lock);
    if (!hit) got = pread_full(fd, *buf, want, offset);
    if (got == (ssize_t)want && next_want > 0 && next_want <= ra->capacity) {
        pthread_mutex_lock(&ra->lock);
        ra->offset = next;
        ra->want = next_want;
        ra->state = AHEAD_ASKED;
        pthread_cond_broadcast(&ra->changed);
        pthread_mutex_unlock(&ra->lock);
    }
    return got;
}

void dop_read_ahead_stop(dop_read_ahead *ra)
{
    if (!ra) return;
    pthread_mutex_lock(&ra->lock);
    ra->quit = 1; /* a read in flight ends first */
    pthread_cond_broadcast(&ra->changed);
    pthread_mutex_unlock(&ra->lock);
    pthread_join(ra->thread, NULL);
    pthread_cond_destroy(&ra->changed);
    pthread_mutex_destroy(&ra->lock);
    free(ra->buf);
    free(ra);
}

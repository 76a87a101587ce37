/* Reading a file's next block on a second thread (see read_ahead.h).
 *
 * One block at a time: the block asked for is pread by the worker
 * (core/worker.h) into the read-ahead's own buffer, and the next
 * dop_read_ahead_read() takes it by exchanging buffers when it is the
 * block wanted; any other block (after a seek, or a longer one) is read
 * in place and the one read ahead is dropped. A failed read ahead is not
 * reported: the read in place that follows meets the same error. */
#include "input/read_ahead.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "core/worker.h"

struct dop_read_ahead {
    dop_worker *reader;
    int fd;
    size_t capacity;
    void *buf;      /* capacity bytes */
    int asked;      /* a block was asked for: */
    off_t offset;   /* its first byte */
    size_t want;    /* its length */
    ssize_t got;    /* its bytes read, or -1 */
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

/* The worker's job: the block asked for. */
static void read_block_ahead(void *arg)
{
    dop_read_ahead *ra = arg;
    ra->got = pread_full(ra->fd, ra->buf, ra->want, ra->offset);
}

dop_read_ahead *dop_read_ahead_start(int fd, size_t capacity)
{
    dop_read_ahead *ra = calloc(1, sizeof *ra);
    if (!ra) return NULL;
    ra->fd = fd;
    ra->capacity = capacity;
    ra->buf = malloc(capacity);
    ra->reader = ra->buf ? dop_worker_create() : NULL;
    if (!ra->reader) {
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
    dop_worker_wait(ra->reader);
    ssize_t got;
    if (ra->asked && ra->offset == offset && ra->want >= want && ra->got >= 0) {
        void *mine = *buf;
        *buf = ra->buf;
        ra->buf = mine;
        got = ra->got < (ssize_t)want ? ra->got : (ssize_t)want;
    } else {
        got = pread_full(fd, *buf, want, offset);
    }
    ra->asked = got == (ssize_t)want && next_want > 0 && next_want <= ra->capacity;
    if (ra->asked) {
        ra->offset = next;
        ra->want = next_want;
        dop_worker_post(ra->reader, read_block_ahead, ra);
    }
    return got;
}

void dop_read_ahead_stop(dop_read_ahead *ra)
{
    if (!ra) return;
    dop_worker_destroy(ra->reader); /* a read in flight ends first */
    free(ra->buf);
    free(ra);
}

/* Reading a file's next block on a second thread (internal to the reader).
 *
 * The 16-bit WAV reader (reader.c, "direct") preads 256 KiB blocks one after
 * another; the kernel's copy of each block from the page cache took about 4 %
 * of a 10-minute analysis. With a read-ahead, the block after the one
 * returned is read by a second thread while the caller converts and
 * analyses this one. The bytes are the file's either way.
 *
 * Life: dop_read_ahead_start() (NULL when no thread can be started: then
 * dop_read_ahead_read(NULL, ...) reads in place) -> dop_read_ahead_read()
 * per block -> dop_read_ahead_stop() (waits for a read in flight; NULL is
 * fine). */
#ifndef DOPFLOW_READ_AHEAD_H
#define DOPFLOW_READ_AHEAD_H

#include <stddef.h>
#include <sys/types.h>

typedef struct dop_read_ahead dop_read_ahead;

/* A read-ahead of blocks of at most `capacity` bytes from descriptor fd. */
dop_read_ahead *dop_read_ahead_start(int fd, size_t capacity);

/* Bytes [offset, offset + want) of the file (want <= capacity) into *buf, a
 * buffer of `capacity` bytes from malloc: when the block read ahead holds
 * them, *buf is exchanged for its buffer (the caller frees whichever buffer
 * it holds at the end, as before). Then bytes [next, next + next_want) are
 * read ahead (next_want 0: nothing). Returns the bytes read, fewer than
 * `want` only at the end of the file, or -1 with errno set. */
ssize_t dop_read_ahead_read(dop_read_ahead *ra, int fd, void **buf, off_t offset, size_t want, off_t next,
                            size_t next_want);

void dop_read_ahead_stop(dop_read_ahead *ra);

#endif

/* The read-ahead of the 16-bit WAV reader (dsp/input/read_ahead.c): blocks
 * read in order, after a jump, shorter than the one read ahead, and past
 * the end give the file's bytes, with or without the second thread. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "input/read_ahead.h"
#include "io_util.h"

enum { FILE_BYTES = 100000, BLOCK = 4096 };

/* Read [offset, offset + want) and check it against the file's bytes. */
static void expect_block(dop_read_ahead *ra, int fd, void **buf, const unsigned char *file, size_t offset,
                         size_t want, size_t next_want)
{
    ssize_t got = dop_read_ahead_read(ra, fd, buf, (off_t)offset, want, (off_t)(offset + want), next_want);
    size_t expected = offset >= FILE_BYTES ? 0 : FILE_BYTES - offset < want ? FILE_BYTES - offset : want;
    assert_int_equal(got, (ssize_t)expected);
    if (expected > 0) assert_memory_equal(*buf, file + offset, expected);
}

static void test_blocks_are_the_files_bytes(void **state)
{
    unsigned char *file = malloc(FILE_BYTES);
    for (size_t i = 0; i < FILE_BYTES; i++) file[i] = (unsigned char)(i * 7 + i / 251);
    char path[512];
    io_path_join(path, sizeof path, *state, "samples.bin");
    assert_int_equal(io_file_write(path, file, FILE_BYTES), 0);
    int fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    for (int threaded = 0; threaded < 2; threaded++) {
        dop_read_ahead *ra = threaded ? dop_read_ahead_start(fd, BLOCK) : NULL;
        if (threaded) assert_non_null(ra);
        void *buf = malloc(BLOCK);
        size_t at = 0;
        for (int i = 0; i < 5; i++, at += BLOCK) expect_block(ra, fd, &buf, file, at, BLOCK, BLOCK); /* in order */
        at = 50000; /* a jump: the block read ahead is dropped */
        expect_block(ra, fd, &buf, file, at, BLOCK, BLOCK);
        expect_block(ra, fd, &buf, file, at + BLOCK, 1000, BLOCK); /* shorter than the one read ahead */
        for (at = 90000; at < FILE_BYTES + BLOCK; at += BLOCK) expect_block(ra, fd, &buf, file, at, BLOCK, BLOCK);
        expect_block(ra, fd, &buf, file, 0, BLOCK, 0); /* nothing read ahead */
        expect_block(ra, fd, &buf, file, BLOCK, BLOCK, BLOCK);
        dop_read_ahead_stop(ra); /* with a block in flight */
        free(buf);
    }
    dop_read_ahead_stop(NULL);
    close(fd);
    free(file);
}

static void test_read_error_is_reported(void **state)
{
    (void)state;
    void *buf = malloc(BLOCK);
    assert_int_equal(dop_read_ahead_read(NULL, -1, &buf, 0, BLOCK, BLOCK, BLOCK), -1);
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_blocks_are_the_files_bytes, io_tmpdir_setup, io_tmpdir_teardown),
        cmocka_unit_test(test_read_error_is_reported),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

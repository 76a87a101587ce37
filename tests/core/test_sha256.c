/* SHA-256 of files against the FIPS 180-2 test vectors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dopflow/h5_writer.h"
#include "io_util.h"


static void expect_digest(const char *dir, const void *data, size_t len, const char *digest)
{
    char path[512], hex[65];
    io_path_join(path, sizeof path, dir, "data.bin");
    assert_int_equal(io_file_write(path, data, len), 0);
    dop_error err = {""};
    assert_int_equal(dop_file_sha256(path, hex, &err), DOP_OK);
    assert_string_equal(hex, digest);
}

static void test_known_digests(void **state)
{
    expect_digest(*state, "abc", 3, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    expect_digest(*state, "", 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    const char *two_blocks = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    expect_digest(*state, two_blocks, strlen(two_blocks),
                  "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

static void test_file_larger_than_a_block(void **state)
{
    /* One million 'a': streamed over 16 blocks of 64 KiB. */
    size_t n = 1000000;
    char *data = malloc(n);
    memset(data, 'a', n);
    expect_digest(*state, data, n, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    free(data);
}

static void test_missing_file(void **state)
{
    char path[512], hex[65] = "x";
    io_path_join(path, sizeof path, *state, "absent.wav");
    dop_error err = {""};
    assert_int_equal(dop_file_sha256(path, hex, &err), DOP_ERR_IO);
    assert_non_null(strstr(err.message, "absent.wav"));
    assert_string_equal(hex, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_digests),
        cmocka_unit_test(test_file_larger_than_a_block),
        cmocka_unit_test(test_missing_file),
    };
    return cmocka_run_group_tests(tests, io_tmpdir_setup, io_tmpdir_teardown);
}

/* Atomic outputs: dop_atomic_commit_all() renames every file into place
 * complete, replaces older files, leaves no temporary file, and on a
 * failure commits nothing (a write failed) or only the files before the
 * one that could not be renamed. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "dopflow/atomic_file.h"
#include "io_util.h"

enum { FILES = 3 };
static const char *const names[FILES] = {"summary.csv", "frames.csv", "beats.csv"};

/* Open the three files under `dir` and write "NAME,i\n" rows to each. */
static void open_and_write(const char *dir, dop_atomic_file *files[FILES], int rows)
{
    for (int f = 0; f < FILES; f++) {
        char path[512];
        io_path_join(path, sizeof path, dir, names[f]);
        dop_error err = {""};
        assert_int_equal(dop_atomic_open(path, &files[f], &err), DOP_OK);
        for (int i = 0; i < rows; i++) fprintf(dop_atomic_stream(files[f]), "%s,%d\n", names[f], i);
    }
}

static void expect_rows(const char *dir, const char *name, int rows)
{
    char path[512], *data = NULL;
    size_t len = 0;
    io_path_join(path, sizeof path, dir, name);
    assert_int_equal(io_file_read(path, &data, &len), 0);
    int lines = 0;
    for (size_t i = 0; i < len; i++) lines += data[i] == '\n';
    assert_int_equal(lines, rows);
    assert_int_equal(strncmp(data, name, strlen(name)), 0);
    free(data);
}

static void test_commit_all_replaces_every_file(void **state)
{
    const char *dir = *state;
    dop_atomic_file *files[FILES];
    open_and_write(dir, files, 3);
    size_t committed = 99;
    dop_error err = {""};
    assert_int_equal(dop_atomic_commit_all(files, FILES, &committed, &err), DOP_OK);
    assert_int_equal(committed, FILES);
    /* again, longer (more than the 256 KiB stream buffer): the old files are replaced */
    open_and_write(dir, files, 40000);
    assert_int_equal(dop_atomic_commit_all(files, FILES, &committed, &err), DOP_OK);
    for (int f = 0; f < FILES; f++) expect_rows(dir, names[f], 40000);
    assert_int_equal(io_dir_count(dir), FILES); /* no temporary file left */
    assert_int_equal(dop_atomic_commit_all(NULL, 0, NULL, &err), DOP_OK);
}

static void test_failed_rename_keeps_the_files_before(void **state)
{
    const char *dir = *state;
    char blocker[512], inside[512];
    /* frames.csv is a folder that is not empty: it cannot be replaced */
    io_path_join(blocker, sizeof blocker, dir, names[1]);
    assert_int_equal(mkdir(blocker, 0755), 0);
    io_path_join(inside, sizeof inside, blocker, "keep");
    assert_int_equal(io_file_write(inside, "x", 1), 0);
    dop_atomic_file *files[FILES];
    open_and_write(dir, files, 5);
    size_t committed = 99;
    dop_error err = {""};
    assert_int_equal(dop_atomic_commit_all(files, FILES, &committed, &err), DOP_ERR_IO);
    assert_int_equal(committed, 1);
    assert_non_null(strstr(err.message, "rename"));
    expect_rows(dir, names[0], 5);
    assert_int_equal(io_exists(inside), 1);
    char later[512];
    io_path_join(later, sizeof later, dir, names[2]);
    assert_int_equal(io_exists(later), 0);
    assert_int_equal(io_dir_count(dir), 2); /* summary.csv and the folder: no temporary file */
    unlink(inside);
    rmdir(blocker);
}

static void test_failed_write_commits_nothing(void **state)
{
    const char *dir = *state;
    dop_atomic_file *files[FILES];
    open_and_write(dir, files, 5);
    /* the frames stream's descriptor now refuses writes: its flush fails */
    int ro = open("/dev/null", O_RDONLY);
    assert_true(ro >= 0);
    assert_true(dup2(ro, fileno(dop_atomic_stream(files[1]))) >= 0);
    close(ro);
    size_t committed = 99;
    dop_error err = {""};
    assert_int_equal(dop_atomic_commit_all(files, FILES, &committed, &err), DOP_ERR_IO);
    assert_int_equal(committed, 0);
    assert_non_null(strstr(err.message, "frames.csv"));
    assert_int_equal(io_dir_count(dir), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_commit_all_replaces_every_file, io_tmpdir_setup, io_tmpdir_teardown),
        cmocka_unit_test_setup_teardown(test_failed_rename_keeps_the_files_before, io_tmpdir_setup,
                                        io_tmpdir_teardown),
        cmocka_unit_test_setup_teardown(test_failed_write_commits_nothing, io_tmpdir_setup, io_tmpdir_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

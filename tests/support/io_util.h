/* Test helpers of the input/output tests: scratch folders and small files. */
#ifndef DOPFLOW_TESTS_IO_UTIL_H
#define DOPFLOW_TESTS_IO_UTIL_H

#include <stddef.h>

/* Make a fresh folder under $TMPDIR (or /tmp); path written to out
 * (size >= 64). Returns 0 on success. */
int io_tmpdir_make(char *out, size_t size);

/* cmocka group fixtures: *state = a fresh temporary folder (char *), removed
 * with everything in it afterwards. */
int io_tmpdir_setup(void **state);
int io_tmpdir_teardown(void **state);

/* Remove a folder and everything in it. */
void io_tmpdir_remove(const char *path);

/* folder + "/" + name into out. */
void io_path_join(char *out, size_t size, const char *folder, const char *name);

/* Write / read a whole file; 0 on success. io_file_read: NUL-terminated
 * malloc'd buffer in *data (caller frees), length in *len (may be NULL). */
int io_file_write(const char *path, const void *data, size_t len);
int io_file_read(const char *path, char **data, size_t *len);

/* Truncate a file to len bytes; 0 on success. */
int io_file_truncate(const char *path, size_t len);

/* Number of entries in a folder (not counting . and ..), -1 on error. */
int io_dir_count(const char *path);

/* 1 if something exists at path (file, folder, ...), 0 if not. */
int io_exists(const char *path);

/* Value of column `name` in data row `row` (0 = first) of CSV text; NAN if
 * the column, the row or the value is absent. */
double io_csv_value(const char *text, const char *name, int row);

#endif

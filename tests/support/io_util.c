/* Test helpers of the input/output tests (see io_util.h). */
#include "io_util.h"

#include <dirent.h>
#include <math.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int io_tmpdir_make(char *out, size_t size)
{
    const char *base = getenv("TMPDIR");
    if (!base || !base[0]) base = "/tmp";
    if (snprintf(out, size, "%s/dopflow-io-XXXXXX", base) >= (int)size) return -1;
    return mkdtemp(out) ? 0 : -1;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

void io_tmpdir_remove(const char *path)
{
    if (path && path[0]) nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

void io_path_join(char *out, size_t size, const char *folder, const char *name)
{
    snprintf(out, size, "%s/%s", folder, name);
}

int io_file_write(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    int ok = fwrite(data, 1, len, f) == len;
    if (fclose(f) != 0) ok = 0;
    return ok ? 0 : -1;
}

int io_file_read(const char *path, char **data, size_t *len)
{
    *data = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap + 1);
    while (buf) {
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (n < cap) break;
        char *bigger = realloc(buf, 2 * cap + 1);
        if (!bigger) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = bigger;
        cap *= 2;
    }
    fclose(f);
    if (!buf) return -1;
    buf[n] = '\0';
    *data = buf;
    if (len) *len = n;
    return 0;
}

int io_file_truncate(const char *path, size_t len) { return truncate(path, (off_t)len); }

int io_dir_count(const char *path)
{
    DIR *dir = opendir(path);
    if (!dir) return -1;
    int count = 0;
    struct dirent *e;
    while ((e = readdir(dir)) != NULL)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) count++;
    closedir(dir);
    return count;
}

int io_tmpdir_setup(void **state)
{
    char *dir = malloc(256);
    if (!dir || io_tmpdir_make(dir, 256) != 0) {
        free(dir);
        return -1;
    }
    *state = dir;
    return 0;
}

int io_tmpdir_teardown(void **state)
{
    io_tmpdir_remove(*state);
    free(*state);
    return 0;
}

int io_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* Value of column `name` in data row `row` of CSV text (NAN if absent). */
double io_csv_value(const char *text, const char *name, int row)
{
    const char *p = text;
    int target = -1;
    for (int c = 0; *p && *p != '\n'; c++) {
        const char *end = p;
        while (*end && *end != ',' && *end != '\n') end++;
        if ((size_t)(end - p) == strlen(name) && strncmp(p, name, strlen(name)) == 0) target = c;
        p = *end == ',' ? end + 1 : end;
    }
    if (target < 0) return NAN;
    for (int r = 0; r <= row; r++) {
        p = strchr(p, '\n');
        if (!p) return NAN;
        p++;
    }
    for (int c = 0; c < target; c++) {
        p = strpbrk(p, ",\n");
        if (!p || *p == '\n') return NAN;
        p++;
    }
    if (*p == ',' || *p == '\n' || !*p) return NAN;
    return strtod(p, NULL);
}

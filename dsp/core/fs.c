/* Filesystem and file-hashing helpers (see fs.h), and dop_file_sha256()
 * for the provenance of result files (input_sha256, h5_writer.h). */
#include "core/fs.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "dopflow/h5_writer.h"

#define HASH_BLOCK_BYTES (64 * 1024)

char *dop_fs_path_join(const char *dir, const char *name)
{
    size_t a = strlen(dir), b = strlen(name);
    char *p = malloc(a + b + 2);
    if (!p) return NULL;
    memcpy(p, dir, a);
    size_t n = a;
    if (a && dir[a - 1] != '/') p[n++] = '/';
    memcpy(p + n, name, b + 1);
    return p;
}

int dop_fs_is_file(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

/* mkdir that accepts an existing entry (checked by the caller). */
static dop_status make_one_dir(const char *path, dop_error *err)
{
    if (mkdir(path, 0777) != 0 && errno != EEXIST)
        return dop_error_set(err, DOP_ERR_IO, "%s: cannot create folder: %s", path, strerror(errno));
    return DOP_OK;
}

dop_status dop_fs_make_dirs(const char *path, dop_error *err)
{
    char *p = strdup(path);
    if (!p) return dop_error_set(err, DOP_ERR_NOMEM, "out of memory");
    dop_status st = DOP_OK;
    for (char *s = p + 1; *s && st == DOP_OK; s++) {
        if (*s != '/') continue;
        *s = '\0';
        st = make_one_dir(p, err);
        *s = '/';
    }
    if (st == DOP_OK) st = make_one_dir(p, err);
    struct stat sb;
    if (st == DOP_OK && (stat(p, &sb) != 0 || !S_ISDIR(sb.st_mode)))
        st = dop_error_set(err, DOP_ERR_IO, "%s: not a folder", p);
    free(p);
    return st;
}

int dop_fs_sha256_feed(FILE *in, struct sha256_ctx *sha)
{
    uint8_t *block = malloc(HASH_BLOCK_BYTES);
    if (!block) {
        errno = ENOMEM;
        return -1;
    }
    size_t got;
    while ((got = fread(block, 1, HASH_BLOCK_BYTES, in)) > 0) sha256_update(sha, got, block);
    free(block);
    return ferror(in) ? -1 : 0;
}

void dop_fs_sha256_hex(struct sha256_ctx *sha, char hex[DOP_SHA256_HEX])
{
    static const char digits[] = "0123456789abcdef";
    uint8_t digest[SHA256_DIGEST_SIZE];
    sha256_digest(sha, SHA256_DIGEST_SIZE, digest);
    for (size_t i = 0; i < SHA256_DIGEST_SIZE; i++) {
        hex[2 * i] = digits[digest[i] >> 4];
        hex[2 * i + 1] = digits[digest[i] & 0x0f];
    }
    hex[2 * SHA256_DIGEST_SIZE] = '\0';
}

void dop_fs_sha256_text(const void *data, size_t n, char hex[DOP_SHA256_HEX])
{
    struct sha256_ctx sha;
    sha256_init(&sha);
    sha256_update(&sha, n, data);
    dop_fs_sha256_hex(&sha, hex);
}

int dop_fs_sha256_tagged_file(struct sha256_ctx *sha, const char *tag, const char *path, dop_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (errno == ENOENT) return 0;
        dop_error_set(err, DOP_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode)) {
        fclose(f);
        dop_error_set(err, DOP_ERR_IO, "%s: not a regular file", path);
        return -1;
    }
    char head[128];
    int n = snprintf(head, sizeof head, "%s size=%jd\n", tag, (intmax_t)sb.st_size);
    sha256_update(sha, (size_t)n, (const uint8_t *)head);
    int bad = dop_fs_sha256_feed(f, sha);
    fclose(f);
    if (bad) {
        dop_error_set(err, DOP_ERR_IO, "%s: read error", path);
        return -1;
    }
    return 1;
}

dop_status dop_file_sha256(const char *path, char hex[65], dop_error *err)
{
    hex[0] = '\0';
    FILE *file = fopen(path, "rb");
    if (!file) return dop_error_set(err, DOP_ERR_IO, "%s: cannot open for checksum: %s", path, strerror(errno));
    struct sha256_ctx sha;
    sha256_init(&sha);
    dop_status status = DOP_OK;
    if (dop_fs_sha256_feed(file, &sha) != 0)
        status = errno == ENOMEM ? dop_error_set(err, DOP_ERR_NOMEM, "%s: out of memory for checksum", path)
                                 : dop_error_set(err, DOP_ERR_IO, "%s: read error during checksum: %s", path,
                                                 strerror(errno));
    else
        dop_fs_sha256_hex(&sha, hex);
    fclose(file);
    return status;
}

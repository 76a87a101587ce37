/* Output files written to a temporary name and renamed into place when
 * complete (see include/dopflow/atomic_file.h). rename(2) within one folder
 * is atomic on POSIX file systems, so readers see the old file or the new
 * one, never a prefix. */
#include "dopflow/atomic_file.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define STREAM_BUFFER (256 * 1024)

struct dop_atomic_file {
    FILE *stream;
    char *buffer;     /* the stream's buffer (freed after fclose), or NULL */
    int is_stdout;
    char *final_path;
    char *temp_path;
};

static char *temp_name_for(const char *path)
{
    const char *slash = strrchr(path, '/');
    size_t dir_len = slash ? (size_t)(slash - path + 1) : 0;
    const char *base = path + dir_len;
    size_t len = dir_len + strlen(base) + 16;
    char *temp = malloc(len);
    if (!temp) return NULL;
    snprintf(temp, len, "%.*s.%s.tmp.XXXXXX", (int)dir_len, path, base);
    return temp;
}

dop_status dop_atomic_open(const char *path, dop_atomic_file **out, dop_error *err)
{
    *out = NULL;
    dop_atomic_file *file = calloc(1, sizeof *file);
    if (!file) return dop_error_set(err, DOP_ERR_NOMEM, "out of memory opening %s", path);
    if (strcmp(path, "-") == 0) {
        file->stream = stdout;
        file->is_stdout = 1;
        *out = file;
        return DOP_OK;
    }
    file->final_path = strdup(path);
    file->temp_path = temp_name_for(path);
    if (!file->final_path || !file->temp_path) {
        dop_atomic_abort(file);
        return dop_error_set(err, DOP_ERR_NOMEM, "out of memory opening %s", path);
    }
    int fd = mkstemp(file->temp_path);
    if (fd < 0) {
        int e = errno;
        free(file->temp_path);
        file->temp_path = NULL;
        dop_atomic_abort(file);
        return dop_error_set(err, DOP_ERR_IO, "%s: cannot create output: %s", path, strerror(e));
    }
    /* mkstemp creates 0600; results should get the usual 0666 minus umask. */
    mode_t mask = umask(0);
    umask(mask);
    fchmod(fd, 0666 & ~mask);
    file->stream = fdopen(fd, "w");
    if (!file->stream) {
        close(fd);
        dop_atomic_abort(file);
        return dop_error_set(err, DOP_ERR_IO, "%s: cannot open output stream", path);
    }
    /* Results can be long (a frames row every 10 ms): write in 256 KiB
     * pieces rather than stdio's 4 KiB (glibc ignores the size unless it is
     * given the buffer). Without the memory, the default buffer. */
    file->buffer = malloc(STREAM_BUFFER);
    if (file->buffer) setvbuf(file->stream, file->buffer, _IOFBF, STREAM_BUFFER);
    *out = file;
    return DOP_OK;
}

FILE *dop_atomic_stream(dop_atomic_file *file) { return file->stream; }

const char *dop_atomic_temp_path(const dop_atomic_file *file)
{
    return file->is_stdout ? "-" : file->temp_path;
}

void dop_atomic_release_stream(dop_atomic_file *file)
{
    if (file && !file->is_stdout && file->stream) {
        fclose(file->stream);
        file->stream = NULL;
    }
}

dop_status dop_atomic_commit(dop_atomic_file *file, dop_error *err)
{
    dop_status status = DOP_OK;
    if (file->is_stdout) {
        if (fflush(stdout) != 0)
            status = dop_error_set(err, DOP_ERR_IO, "standard output: write failed: %s", strerror(errno));
        free(file);
        return status;
    }
    if (file->stream) {
        int failed = ferror(file->stream) || fflush(file->stream) != 0 || fsync(fileno(file->stream)) != 0;
        if (fclose(file->stream) != 0) failed = 1;
        file->stream = NULL;
        if (failed) {
            status = dop_error_set(err, DOP_ERR_IO, "%s: write failed: %s", file->final_path, strerror(errno));
            dop_atomic_abort(file);
            return status;
        }
    }
    if (rename(file->temp_path, file->final_path) != 0) {
        status = dop_error_set(err, DOP_ERR_IO, "%s: cannot rename into place: %s", file->final_path, strerror(errno));
        dop_atomic_abort(file);
        return status;
    }
    free(file->buffer);
    free(file->temp_path);
    free(file->final_path);
    free(file);
    return DOP_OK;
}

void dop_atomic_abort(dop_atomic_file *file)
{
    if (!file) return;
    if (!file->is_stdout) {
        if (file->stream) fclose(file->stream);
        if (file->temp_path) unlink(file->temp_path);
    }
    free(file->buffer);
    free(file->temp_path);
    free(file->final_path);
    free(file);
}

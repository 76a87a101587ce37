/* Output files written to a temporary name and renamed into place when
 * complete (see include/dopflow/atomic_file.h). rename(2) within one folder
 * is atomic on POSIX file systems, so readers see the old file or the new
 * one, never a prefix. */
#define _GNU_SOURCE /* sync_file_range (Linux) */
#include "dopflow/atomic_file.h"

#include <errno.h>
#include <fcntl.h>
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

/* Commit in three phases over all the files, so that their disk writes
 * overlap instead of following one another:
 *  1. flush each stream and ask the kernel to start writing it out
 *     (sync_file_range, without waiting; Linux only, elsewhere the fsync
 *     below does all the work);
 *  2. fsync and close each: by now the data is mostly on its way, and one
 *     journal commit often covers several files;
 *  3. rename each into place, after every fsync: a rename that replaces a
 *     file waits for the journal, so it is not interleaved with the fsyncs.
 * Each file still reaches the disk before its rename, as with one commit
 * at a time. Three analysis outputs (4.7 MB): about 21 -> 13 ms of waiting
 * on the benchmark machine (BENCHMARKS.md, 2026-12-07). */

/* Phase 1 for one file: 0, or -1 with errno set. */
static int flush_and_start(dop_atomic_file *file)
{
    if ((!file->is_stdout && ferror(file->stream)) || fflush(file->stream) != 0) return -1;
#ifdef SYNC_FILE_RANGE_WRITE
    /* a hint: its errors are left to fsync */
    if (!file->is_stdout) sync_file_range(fileno(file->stream), 0, 0, SYNC_FILE_RANGE_WRITE);
#endif
    return 0;
}

/* Phase 2 for one file (the stream of a released file is already closed). */
static int sync_and_close(dop_atomic_file *file)
{
    if (file->is_stdout || !file->stream) return 0;
    int failed = fsync(fileno(file->stream)) != 0;
    int saved = errno;
    if (fclose(file->stream) != 0) failed = 1;
    else errno = saved;
    file->stream = NULL;
    return failed ? -1 : 0;
}

static dop_status write_failed(dop_atomic_file *file, dop_error *err)
{
    if (file->is_stdout) return dop_error_set(err, DOP_ERR_IO, "standard output: write failed: %s", strerror(errno));
    return dop_error_set(err, DOP_ERR_IO, "%s: write failed: %s", file->final_path, strerror(errno));
}

/* After the fsync: rename (not for stdout) and free. */
static dop_status rename_and_free(dop_atomic_file *file, dop_error *err)
{
    if (!file->is_stdout && rename(file->temp_path, file->final_path) != 0) {
        dop_status status =
            dop_error_set(err, DOP_ERR_IO, "%s: cannot rename into place: %s", file->final_path, strerror(errno));
        dop_atomic_abort(file);
        return status;
    }
    free(file->buffer);
    free(file->temp_path);
    free(file->final_path);
    free(file);
    return DOP_OK;
}

dop_status dop_atomic_commit_all(dop_atomic_file **files, size_t n, size_t *committed, dop_error *err)
{
    dop_status status = DOP_OK;
    for (size_t i = 0; i < n && status == DOP_OK; i++)
        if (files[i]->stream && flush_and_start(files[i]) != 0) status = write_failed(files[i], err);
    for (size_t i = 0; i < n && status == DOP_OK; i++)
        if (sync_and_close(files[i]) != 0) status = write_failed(files[i], err);
    size_t freed = 0, renamed = 0;
    while (status == DOP_OK && freed < n) {
        status = rename_and_free(files[freed++], err); /* on failure it removes the temporary file */
        renamed += status == DOP_OK;
    }
    for (size_t i = freed; i < n; i++) dop_atomic_abort(files[i]);
    if (committed) *committed = renamed;
    return status;
}

dop_status dop_atomic_commit(dop_atomic_file *file, dop_error *err)
{
    return dop_atomic_commit_all(&file, 1, NULL, err);
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

/* The worker pool of a study: the only file that forks. Rows are handed,
 * one at a time, to worker processes over socket pairs; each worker runs
 * study_recording_run() and reports one fixed-size message on a shared
 * pipe (messages < PIPE_BUF are written atomically). A worker that dies
 * turns its row into a failed recording and is replaced; a stop request
 * sends SIGTERM to every worker. Worker processes, not threads: FFTW's
 * planner is not thread-safe. */
#include "study/study_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

typedef struct worker_msg {
    uint64_t row;      /* position in the selection */
    int32_t worker;
    study_outcome o;
} worker_msg;

_Static_assert(sizeof(worker_msg) <= PIPE_BUF, "worker messages must be written atomically");

typedef struct worker {
    pid_t pid;         /* 0 = not running */
    int cmd_fd;        /* parent's end of the command socket; -1 = closed */
    int64_t in_flight; /* position in the selection being analysed, -1 = idle */
} worker;

typedef struct pool {
    const study_ctx *ctx;
    const size_t *selection; /* manifest row of each selected position */
    size_t n_selected;
    worker *workers;
    unsigned n_workers;
    int res_read, res_write;
    char acc[sizeof(worker_msg)]; /* a message being read from the pipe */
    size_t acc_len;
} pool;

static const char no_memory_text[] = "out of memory";

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int read_full(int fd, void *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, (char *)buf + got, n - got);
        if (r == 0) return 0;
        if (r < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        got += (size_t)r;
    }
    return 1;
}

static void worker_main(const pool *p, unsigned id, int cmd_fd)
{
    for (;;) {
        uint64_t pos;
        if (read_full(cmd_fd, &pos, sizeof pos) != 1) break;
        worker_msg msg;
        memset(&msg, 0, sizeof msg);
        study_recording_run(p->ctx, p->selection[pos], &msg.o);
        msg.row = pos;
        msg.worker = (int32_t)id;
        const char *b = (const char *)&msg;
        size_t left = sizeof msg;
        while (left) { /* one write: atomic on a pipe below PIPE_BUF */
            ssize_t w = write(p->res_write, b, left);
            if (w < 0 && errno == EINTR) continue;
            if (w <= 0) _exit(3);
            b += w;
            left -= (size_t)w;
        }
    }
    _exit(0);
}

static int spawn_worker(pool *p, unsigned id)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) return -1;
    pid_t pid = fork();
    if (pid < 0) {
        close(sv[0]);
        close(sv[1]);
        return -1;
    }
    if (pid == 0) {
        /* Child: keep only its own command end and the result pipe, so
         * that every worker sees the end of its commands when the parent
         * closes its end. */
        close(sv[0]);
        close(p->res_read);
        for (unsigned j = 0; j < p->n_workers; j++)
            if (p->workers[j].cmd_fd >= 0) close(p->workers[j].cmd_fd);
        /* Recordings already run side by side: the analysis's helper
         * threads (core/worker.h) would only compete with the other
         * workers for the cores (unless the user chose otherwise). */
        if (p->n_workers > 1) setenv("DOPFLOW_NO_THREADS", "1", 0);
        worker_main(p, id, sv[1]);
    }
    close(sv[1]);
    p->workers[id].pid = pid;
    p->workers[id].cmd_fd = sv[0];
    p->workers[id].in_flight = -1;
    return 0;
}

static void close_commands(worker *w)
{
    if (w->cmd_fd >= 0) close(w->cmd_fd);
    w->cmd_fd = -1;
}

static void report_progress(const study_ctx *ctx, const study_pool_state *rs, size_t total)
{
    if (!ctx->cfg->progress) return;
    dop_study_progress pr = {total, rs->done, rs->failed, rs->reused, now_s() - rs->t0};
    ctx->cfg->progress(&pr, ctx->cfg->progress_user);
}

static void dispatch(pool *p, study_pool_state *rs, unsigned id)
{
    worker *w = &p->workers[id];
    if (w->cmd_fd < 0) return;
    if (rs->stopping || rs->next >= p->n_selected) {
        close_commands(w);
        return;
    }
    uint64_t pos = rs->next;
    /* MSG_NOSIGNAL: a worker that died must not kill us with SIGPIPE. */
    if (send(w->cmd_fd, &pos, sizeof pos, MSG_NOSIGNAL) != (ssize_t)sizeof pos) {
        close_commands(w); /* reaped below; the row is handed to another worker */
        return;
    }
    w->in_flight = (int64_t)pos;
    rs->next++;
}

static void record(pool *p, study_pool_state *rs, const worker_msg *msg)
{
    if (msg->row >= p->n_selected) return;
    study_row_result *slot = &rs->results[msg->row];
    if (msg->worker >= 0 && (unsigned)msg->worker < p->n_workers &&
        p->workers[msg->worker].in_flight == (int64_t)msg->row)
        p->workers[msg->worker].in_flight = -1;
    if (msg->o.outcome == STUDY_INTERRUPTED) return;
    memcpy(slot->key, msg->o.key, sizeof slot->key);
    slot->outcome = (uint8_t)msg->o.outcome;
    if (slot->error != no_memory_text) free(slot->error);
    slot->error = NULL;
    if (msg->o.outcome == STUDY_FAILED) {
        slot->error = strdup(msg->o.error);
        if (!slot->error) slot->error = (char *)no_memory_text; /* static: never freed */
    }
    rs->done++;
    if (msg->o.outcome == STUDY_FAILED) rs->failed++;
    if (msg->o.outcome == STUDY_REUSED) rs->reused++;
    if (msg->o.outcome == STUDY_ANALYSED) rs->analysed++;
    report_progress(p->ctx, rs, p->n_selected);
}

/* Every complete message in the pipe; each frees its worker for the next row. */
static void drain(pool *p, study_pool_state *rs)
{
    for (;;) {
        ssize_t r = read(p->res_read, p->acc + p->acc_len, sizeof(worker_msg) - p->acc_len);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return;
        p->acc_len += (size_t)r;
        if (p->acc_len < sizeof(worker_msg)) continue;
        worker_msg msg;
        memcpy(&msg, p->acc, sizeof msg);
        p->acc_len = 0;
        record(p, rs, &msg);
        if (msg.worker >= 0 && (unsigned)msg.worker < p->n_workers) dispatch(p, rs, (unsigned)msg.worker);
    }
}

/* The row of a worker that ended while analysing it: interrupted when
 * stopping, else failed with how the process ended. */
static void record_lost_row(pool *p, study_pool_state *rs, unsigned id, pid_t r, int ws)
{
    worker_msg msg;
    memset(&msg, 0, sizeof msg);
    msg.row = (uint64_t)p->workers[id].in_flight;
    msg.worker = (int32_t)id;
    if (rs->stopping) {
        msg.o.outcome = STUDY_INTERRUPTED;
    } else {
        msg.o.outcome = STUDY_FAILED;
        if (r > 0 && WIFSIGNALED(ws))
            snprintf(msg.o.error, sizeof msg.o.error,
                     "the analysis process ended on signal %d (%s) while analysing this recording", WTERMSIG(ws),
                     strsignal(WTERMSIG(ws)));
        else
            snprintf(msg.o.error, sizeof msg.o.error,
                     "the analysis process ended unexpectedly while analysing this recording");
    }
    record(p, rs, &msg);
    p->workers[id].in_flight = -1;
}

/* Reap worker id if it ended (waiting when it is about to), replace it
 * while rows remain. Returns the change in live workers: -1 when it
 * ended and was not replaced, else 0. */
static int reap_worker(pool *p, study_pool_state *rs, unsigned id)
{
    worker *w = &p->workers[id];
    if (w->pid <= 0) return 0;
    int ws;
    /* A worker with no row in flight whose commands are closed is
     * exiting now: wait for it rather than poll again (the poll's
     * 100 ms would be the batch's last 100 ms). */
    int exiting = w->cmd_fd < 0 && w->in_flight < 0;
    pid_t r = waitpid(w->pid, &ws, exiting ? 0 : WNOHANG);
    if (r == 0 || (r < 0 && errno == EINTR)) return 0;
    /* Gone: its last message, if any, is already in the pipe. */
    drain(p, rs);
    w->pid = 0;
    close_commands(w);
    int change = -1;
    if (w->in_flight >= 0) record_lost_row(p, rs, id, r, ws);
    if (!rs->stopping && rs->next < p->n_selected && spawn_worker(p, id) == 0) {
        change++;
        dispatch(p, rs, id);
    }
    return change;
}

static void stop_workers(pool *p)
{
    for (unsigned i = 0; i < p->n_workers; i++) {
        close_commands(&p->workers[i]);
        if (p->workers[i].pid > 0) kill(p->workers[i].pid, SIGTERM);
    }
}

/* The result pipe and the worker slots. */
static dop_status pool_open(pool *p, const study_ctx *ctx, const size_t *selection, size_t n_selected,
                            dop_error *err)
{
    memset(p, 0, sizeof *p);
    p->ctx = ctx;
    p->selection = selection;
    p->n_selected = n_selected;
    p->n_workers = ctx->cfg->jobs < n_selected ? ctx->cfg->jobs : (unsigned)n_selected;
    p->workers = calloc(p->n_workers, sizeof *p->workers);
    if (!p->workers) return dop_error_set(err, DOP_ERR_NOMEM, "out of memory");
    for (unsigned i = 0; i < p->n_workers; i++) p->workers[i].cmd_fd = -1;
    int fds[2];
    if (pipe(fds) != 0) {
        free(p->workers);
        return dop_error_set(err, DOP_ERR_IO, "cannot create a pipe: %s", strerror(errno));
    }
    p->res_read = fds[0];
    p->res_write = fds[1];
    fcntl(p->res_read, F_SETFL, fcntl(p->res_read, F_GETFL) | O_NONBLOCK);
    fcntl(p->res_read, F_SETFD, FD_CLOEXEC);
    return DOP_OK;
}

dop_status study_pool_run(const study_ctx *ctx, const size_t *selection, size_t n_selected, study_pool_state *rs,
                          dop_error *err)
{
    const dop_study_config *cfg = ctx->cfg;
    rs->t0 = now_s();
    report_progress(ctx, rs, n_selected);
    if (n_selected == 0) return DOP_OK;
    pool p;
    dop_status status = pool_open(&p, ctx, selection, n_selected, err);
    if (status != DOP_OK) return status;
    int live = 0;
    for (unsigned i = 0; i < p.n_workers; i++) {
        if (spawn_worker(&p, i) != 0) {
            status = dop_error_set(err, DOP_ERR_IO, "cannot start a worker process: %s", strerror(errno));
            rs->stopping = 1;
            break;
        }
        live++;
        dispatch(&p, rs, i);
    }
    while (live > 0) {
        struct pollfd pfd = {p.res_read, POLLIN, 0};
        poll(&pfd, 1, 100); /* EINTR (a signal) just ends the wait early */
        drain(&p, rs);
        if (!rs->stopping && cfg->stop && *cfg->stop) {
            rs->stopping = 1;
            stop_workers(&p);
        }
        for (unsigned i = 0; i < p.n_workers; i++) live += reap_worker(&p, rs, i);
        if (live == 0 && !rs->stopping && rs->next < n_selected) {
            status = dop_error_set(err, DOP_ERR_IO, "cannot start a worker process: %s", strerror(errno));
            break;
        }
    }
    drain(&p, rs);
    close(p.res_read);
    close(p.res_write);
    free(p.workers);
    if (status == DOP_OK && (rs->stopping || rs->done < n_selected))
        status = dop_error_set(err, DOP_ERR_INTERRUPTED, "stopped after %zu of %zu recordings; finished results are "
                               "kept, run again with --resume to continue", rs->done, n_selected);
    return status;
}

void study_pool_state_free(study_pool_state *rs, size_t n_selected)
{
    if (rs->results)
        for (size_t i = 0; i < n_selected; i++)
            if (rs->results[i].error != no_memory_text) free(rs->results[i].error);
    free(rs->results);
    rs->results = NULL;
}

/* Studies: many recordings analysed in worker processes, then aggregated
 * into the comparison a paper reports (see include/dopflow/study.h).
 *
 * The run has three stages:
 *   1. select the rows of this shard and hand them, one at a time, to
 *      worker processes over socket pairs; each worker hashes the inputs
 *      into the result key, skips the recording when resuming and its
 *      result exists, else runs dop_job_run() and writes
 *      .results/KEY.csv atomically, then reports one fixed-size message on
 *      a shared pipe (messages < PIPE_BUF are written atomically);
 *   2. write .study/index.csv (each row's key or error) and
 *      .study/shard.json (what the folder holds);
 *   3. aggregate from the index and the result files, in manifest order
 *      (the same code aggregates merged shards, so both give the same
 *      bytes).
 * The library never prints: progress goes to a callback. */
#include "dopflow/study.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <csv.h>
#include <jansson.h>
#include <nettle/sha2.h>

#include "core/fs.h"
#include "dopflow/atomic_file.h"
#include "dopflow/dopflow.h"
#include "dopflow/manifest.h"
#include "dopflow/stats.h"

#define STUDY_FORMAT "dopflow-study/1"
#define KEY_HEX (2 * SHA256_DIGEST_SIZE)
#define ALPHA 0.05          /* significance level of the marks in report.md */
#define REPORT_LIST_MAX 50  /* items listed per section of report.md */

/* ------------------------------------------------------------------ */
/* small helpers                                                        */
/* ------------------------------------------------------------------ */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* One CSV field, quoted when it has to be (RFC 4180). */
static void csv_put(FILE *f, const char *s)
{
    size_t n = strlen(s);
    int quote = strpbrk(s, ",\"\r\n") != NULL ||
                (n && (s[0] == ' ' || s[0] == '\t' || s[n - 1] == ' ' || s[n - 1] == '\t'));
    if (!quote) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"') fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

/* A number for a CSV cell: empty when not finite. */
static void csv_num(FILE *f, double x)
{
    if (isfinite(x)) fprintf(f, "%.6g", x);
}

/* n numbers separated by commas (no leading or trailing comma). */
static void csv_nums(FILE *f, const double *x, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (i) fputc(',', f);
        csv_num(f, x[i]);
    }
}

/* Commit an output and forget it: the handle is gone either way (a failed
 * commit removes its temporary file). */
static dop_status commit_clear(dop_atomic_file **file, dop_error *err)
{
    dop_status st = dop_atomic_commit(*file, err);
    *file = NULL;
    return st;
}

/* Markdown table cell text: '|' escaped, line breaks as spaces. */
static void md_put(FILE *f, const char *s)
{
    for (; *s; s++) {
        if (*s == '|')
            fputs("\\|", f);
        else if (*s == '\n' || *s == '\r')
            fputc(' ', f);
        else
            fputc(*s, f);
    }
}

/* ------------------------------------------------------------------ */
/* result keys                                                          */
/* ------------------------------------------------------------------ */

dop_study_config dop_study_config_default(void)
{
    dop_study_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.job = dop_job_default();
    cfg.jobs = 1;
    cfg.shard_index = 1;
    cfg.shard_count = 1;
    return cfg;
}

static void put_acq(FILE *f, const char *prefix, const dop_acquisition *a)
{
    fprintf(f, "%s.f0_hz=%.17g\n%s.angle_deg=%.17g\n%s.c_m_s=%.17g\n%s.diameter_mm=%.17g\n%s.channels=%d\n",
            prefix, a->f0_hz, prefix, a->angle_deg, prefix, a->c_m_s, prefix, a->diameter_mm, prefix,
            (int)a->channels);
}

dop_status dop_study_params_text(const dop_job *job, char **out, dop_error *err)
{
    /* Every option that changes a summary. Paths of the metadata file and
     * the diameter CSV are not here: their bytes go into the key. */
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) return dop_error_set(err, DOP_ERR_NOMEM, "out of memory");
    const dop_analysis_config *a = &job->analysis;
    fprintf(f, "input.channels=%d\ninput.raw_format=%d\ninput.raw_rate_hz=%.17g\n", (int)job->input.channels,
            (int)job->input.raw_format, job->input.raw_rate_hz);
    put_acq(f, "overrides", &job->overrides);
    fprintf(f, "meta=%s\ndiameter_csv=%s\nstart_s=%.17g\nend_s=%.17g\n", job->meta_path ? "file" : "sidecar",
            job->diameter_csv ? "file" : "constant", job->start_s, job->end_s);
    fprintf(f, "vmean_method=%d\nburst_factor=%.17g\ndropout_factor=%.17g\nmin_nyquist_cm_s=%.17g\n",
            (int)a->vmean_method, a->burst_factor, a->dropout_factor, a->min_nyquist_cm_s);
    fprintf(f, "wall.cutoff_hz=%.17g\nwall.order=%d\n", a->wall.cutoff_hz, a->wall.order);
    fprintf(f, "spectrum.window_ms=%.17g\nspectrum.hop_ms=%.17g\nspectrum.fft_size=%zu\nspectrum.window=%d\n",
            a->spectrum.window_ms, a->spectrum.hop_ms, a->spectrum.fft_size, (int)a->spectrum.window);
    fprintf(f, "noise.quantile=%.17g\nnoise.rise_time_s=%.17g\n", a->noise.quantile, a->noise.rise_time_s);
    fprintf(f,
            "envelope.method=%d\nenvelope.percentile=%.17g\nenvelope.threshold_db=%.17g\n"
            "envelope.detect_sigma=%.17g\nenvelope.gap_hz=%.17g\nenvelope.one_sided=%d\n",
            (int)a->envelope.method, a->envelope.percentile, a->envelope.threshold_db, a->envelope.detect_sigma,
            a->envelope.gap_hz, a->envelope.one_sided);
    fprintf(f, "beats.min_hr_bpm=%.17g\nbeats.max_hr_bpm=%.17g\nbeats.reject_fraction=%.17g\n",
            a->beats.min_hr_bpm, a->beats.max_hr_bpm, a->beats.reject_fraction);
    if (fclose(f) != 0 || !buf) {
        free(buf);
        return dop_error_set(err, DOP_ERR_NOMEM, "out of memory");
    }
    *out = buf;
    return DOP_OK;
}

static dop_status compute_key(const char *params_text, const dop_job *job, const char *sidecar_path,
                              const dop_epoch *epochs, size_t n_epochs, char key[KEY_HEX + 1], dop_error *err)
{
    struct sha256_ctx sha;
    sha256_init(&sha);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f) return dop_error_set(err, DOP_ERR_NOMEM, "out of memory");
    fprintf(f, "%s\nversion=%s\n%s", STUDY_FORMAT, dop_version(), params_text);
    put_acq(f, "row", &job->overrides);
    if (epochs)
        for (size_t i = 0; i < n_epochs; i++)
            fprintf(f, "epoch=%s:%.17g:%.17g\n", epochs[i].label, epochs[i].start_s, epochs[i].end_s);
    else
        fputs("epoch=all\n", f);
    if (fclose(f) != 0 || !text) {
        free(text);
        return dop_error_set(err, DOP_ERR_NOMEM, "out of memory");
    }
    sha256_update(&sha, len, (const uint8_t *)text);
    free(text);

    int got = dop_fs_sha256_tagged_file(&sha, "input", job->input.path, err);
    if (got == 0) return dop_error_set(err, DOP_ERR_IO, "%s: cannot open: %s", job->input.path, strerror(ENOENT));
    if (got < 0) return DOP_ERR_IO;
    got = sidecar_path[0] ? dop_fs_sha256_tagged_file(&sha, "sidecar", sidecar_path, err) : 0;
    if (got < 0) return DOP_ERR_IO;
    if (got == 0) sha256_update(&sha, 13, (const uint8_t *)"sidecar none\n");
    /* The review file (review.h): a changed review is a new result. Without
     * one, nothing is hashed, so keys of unreviewed studies stay as they were. */
    if (job->no_review) {
        sha256_update(&sha, 11, (const uint8_t *)"review off\n");
    } else {
        char *review = dop_review_path_for(job->input.path);
        if (!review) return dop_error_set(err, DOP_ERR_NOMEM, "out of memory");
        got = dop_fs_sha256_tagged_file(&sha, "review", review, err);
        free(review);
        if (got < 0) return DOP_ERR_IO;
    }
    if (job->diameter_csv) {
        got = dop_fs_sha256_tagged_file(&sha, "diameter_csv", job->diameter_csv, err);
        if (got < 0) return DOP_ERR_IO;
        if (got == 0) sha256_update(&sha, 18, (const uint8_t *)"diameter_csv none\n");
    }
    dop_fs_sha256_hex(&sha, key);
    return DOP_OK;
}

/* ------------------------------------------------------------------ */
/* one recording                                                        */
/* ------------------------------------------------------------------ */

enum { OUTCOME_ANALYSED = 1, OUTCOME_REUSED, OUTCOME_FAILED, OUTCOME_INTERRUPTED };

typedef struct worker_msg {
    uint64_t row;
    int32_t worker;
    int32_t outcome;
    char key[KEY_HEX + 1];
    char error[512];
} worker_msg;

_Static_assert(sizeof(worker_msg) <= PIPE_BUF, "worker messages must be written atomically");

typedef struct study_ctx {
    const dop_study_config *cfg;
    const dop_manifest *manifest;
    char *params_text;
    char *results_dir;
} study_ctx;

/* Open results_dir/KEY<suffix> for an atomic write. */
static dop_status open_result(const char *results_dir, const char *key, const char *suffix, dop_atomic_file **af,
                              dop_error *err)
{
    char name[KEY_HEX + 16];
    snprintf(name, sizeof name, "%s%s", key, suffix);
    char *path = dop_fs_path_join(results_dir, name);
    if (!path) return dop_error_set(err, DOP_ERR_NOMEM, "out of memory");
    dop_status st = dop_atomic_open(path, af, err);
    free(path);
    return st;
}

static dop_status write_results(const char *results_dir, const char *key, const dop_summary *s, size_t n,
                                dop_error *err)
{
    dop_atomic_file *af;
    dop_status st = open_result(results_dir, key, ".csv", &af, err);
    if (st != DOP_OK) return st;
    FILE *f = dop_atomic_stream(af);
    fprintf(f, "%s\n", dop_summary_csv_header());
    for (size_t i = 0; i < n; i++) {
        dop_summary_csv_row(f, &s[i]);
        fputc('\n', f);
    }
    return dop_atomic_commit(af, err);
}

#define REVIEW_RESULT_HEADER "reviewed,beats_rejected,excluded_s,edits,unmatched"

/* KEY.review.csv beside KEY.csv: what the recording's review did (for report.md). */
static dop_status write_review_result(const char *results_dir, const char *key, const dop_job_report *r,
                                      dop_error *err)
{
    dop_atomic_file *af;
    dop_status st = open_result(results_dir, key, ".review.csv", &af, err);
    if (st != DOP_OK) return st;
    fprintf(dop_atomic_stream(af), REVIEW_RESULT_HEADER "\n%d,%lld,%.6g,%lld,%lld\n", r->reviewed,
            (long long)r->review_rejected_beats, r->review_excluded_s, (long long)r->review_edits,
            (long long)r->review_unmatched);
    return dop_atomic_commit(af, err);
}

static void process_row(const study_ctx *ctx, size_t index, worker_msg *msg)
{
    const dop_study_config *cfg = ctx->cfg;
    const dop_manifest_row *r = dop_manifest_row_at(ctx->manifest, index);
    dop_error e;
    dop_error_clear(&e);
    msg->row = index;
    msg->key[0] = '\0';
    msg->error[0] = '\0';
    if (cfg->stop && *cfg->stop) {
        msg->outcome = OUTCOME_INTERRUPTED;
        return;
    }

    dop_job job = cfg->job;
    job.input.path = r->path;
    job.summary_path = job.frames_path = job.beats_path = job.h5_path = NULL;
    job.frames_stream = 0;
    job.stop = cfg->stop;
    dop_epoch *epochs = NULL;
    size_t n_epochs = 0;
    dop_summary *summaries = NULL;
    dop_status st = DOP_OK;
    if (cfg->epochs_spec) {
        st = dop_epochs_parse(cfg->epochs_spec, isfinite(r->onset_s) ? r->onset_s : 0.0, &epochs, &n_epochs, &e);
        if (st != DOP_OK) goto fail;
        job.epochs = epochs;
        job.n_epochs = n_epochs;
    } else {
        job.epochs = NULL;
        job.n_epochs = 0;
    }
    /* Precedence: sidecar < manifest row < command line; the job reads the sidecar itself. */
    dop_acquisition_layers meta;
    st = dop_acquisition_resolve(r->path, cfg->job.meta_path, &r->overrides, &cfg->job.overrides, &meta, &e);
    job.overrides = meta.overrides;
    if (st != DOP_OK) goto fail;
    st = compute_key(ctx->params_text, &job, meta.sidecar_path, epochs, n_epochs, msg->key, &e);
    if (st != DOP_OK) {
        msg->key[0] = '\0';
        goto fail;
    }
    if (cfg->resume) {
        char name[KEY_HEX + 8];
        snprintf(name, sizeof name, "%s.csv", msg->key);
        char *path = dop_fs_path_join(ctx->results_dir, name);
        int have = path && dop_fs_is_file(path);
        free(path);
        if (have) {
            msg->outcome = OUTCOME_REUSED;
            free(epochs);
            return;
        }
    }
    size_t n_out = n_epochs ? n_epochs : 1;
    summaries = calloc(n_out, sizeof *summaries);
    if (!summaries) {
        st = dop_error_set(&e, DOP_ERR_NOMEM, "out of memory");
        goto fail;
    }
    dop_job_report report;
    st = dop_job_run(&job, summaries, &report, &e);
    if (st == DOP_OK && report.review_used[0]) st = write_review_result(ctx->results_dir, msg->key, &report, &e);
    if (st == DOP_OK) st = write_results(ctx->results_dir, msg->key, summaries, n_out, &e);
    if (st != DOP_OK) goto fail;
    msg->outcome = OUTCOME_ANALYSED;
    free(summaries);
    free(epochs);
    return;
fail:
    free(summaries);
    free(epochs);
    if (st == DOP_ERR_INTERRUPTED) {
        msg->outcome = OUTCOME_INTERRUPTED;
        return;
    }
    msg->outcome = OUTCOME_FAILED;
    snprintf(msg->error, sizeof msg->error, "%s", e.message[0] ? e.message : dop_strerror(st));
}

/* ------------------------------------------------------------------ */
/* worker processes                                                     */
/* ------------------------------------------------------------------ */

typedef struct worker {
    pid_t pid;        /* 0 = not running */
    int cmd_fd;       /* parent's end of the command socket; -1 = closed */
    int64_t in_flight; /* position in the selection being analysed, -1 = idle */
} worker;

typedef struct pool {
    const study_ctx *ctx;
    const size_t *selection; /* manifest row of each selected position */
    size_t n_selected;
    worker *workers;
    unsigned n_workers;
    int res_read, res_write;
} pool;

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
        process_row(p->ctx, p->selection[pos], &msg);
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

/* What the parent keeps of each selected row (a worker_msg is ~600 bytes:
 * too much to keep for 10^6 rows). */
typedef struct row_result {
    char key[KEY_HEX + 1];
    uint8_t outcome;     /* 0 = not done */
    char *error;         /* failures only (malloc'd) */
} row_result;

static const char no_memory_text[] = "out of memory";

typedef struct run_state {
    row_result *results; /* per selected position */
    size_t next;
    size_t done, failed, reused, analysed;
    int stopping;
    double t0;
} run_state;

static void report_progress(const study_ctx *ctx, const run_state *rs, size_t total)
{
    if (!ctx->cfg->progress) return;
    dop_study_progress pr = {total, rs->done, rs->failed, rs->reused, now_s() - rs->t0};
    ctx->cfg->progress(&pr, ctx->cfg->progress_user);
}

static void dispatch(pool *p, run_state *rs, unsigned id)
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

static void record(pool *p, run_state *rs, const worker_msg *msg)
{
    if (msg->row >= p->n_selected) return;
    row_result *slot = &rs->results[msg->row];
    if (msg->worker >= 0 && (unsigned)msg->worker < p->n_workers &&
        p->workers[msg->worker].in_flight == (int64_t)msg->row)
        p->workers[msg->worker].in_flight = -1;
    if (msg->outcome == OUTCOME_INTERRUPTED) return;
    memcpy(slot->key, msg->key, sizeof slot->key);
    slot->outcome = (uint8_t)msg->outcome;
    if (slot->error != no_memory_text) free(slot->error);
    slot->error = NULL;
    if (msg->outcome == OUTCOME_FAILED) {
        slot->error = strdup(msg->error);
        if (!slot->error) slot->error = (char *)no_memory_text; /* static: never freed */
    }
    rs->done++;
    if (msg->outcome == OUTCOME_FAILED) rs->failed++;
    if (msg->outcome == OUTCOME_REUSED) rs->reused++;
    if (msg->outcome == OUTCOME_ANALYSED) rs->analysed++;
    report_progress(p->ctx, rs, p->n_selected);
}

static void drain(pool *p, run_state *rs, char *acc, size_t *acc_len)
{
    for (;;) {
        ssize_t r = read(p->res_read, acc + *acc_len, sizeof(worker_msg) - *acc_len);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return;
        *acc_len += (size_t)r;
        if (*acc_len < sizeof(worker_msg)) continue;
        worker_msg msg;
        memcpy(&msg, acc, sizeof msg);
        *acc_len = 0;
        record(p, rs, &msg);
        if (msg.worker >= 0 && (unsigned)msg.worker < p->n_workers) dispatch(p, rs, (unsigned)msg.worker);
    }
}

/* Run every selected row; DOP_ERR_INTERRUPTED when stopped. */
static dop_status run_pool(const study_ctx *ctx, const size_t *selection, size_t n_selected, run_state *rs,
                           dop_error *err)
{
    const dop_study_config *cfg = ctx->cfg;
    rs->t0 = now_s();
    report_progress(ctx, rs, n_selected);
    if (n_selected == 0) return DOP_OK;

    pool p;
    memset(&p, 0, sizeof p);
    p.ctx = ctx;
    p.selection = selection;
    p.n_selected = n_selected;
    p.n_workers = cfg->jobs < n_selected ? cfg->jobs : (unsigned)n_selected;
    p.workers = calloc(p.n_workers, sizeof *p.workers);
    if (!p.workers) return dop_error_set(err, DOP_ERR_NOMEM, "out of memory");
    for (unsigned i = 0; i < p.n_workers; i++) p.workers[i].cmd_fd = -1;
    int fds[2];
    if (pipe(fds) != 0) {
        free(p.workers);
        return dop_error_set(err, DOP_ERR_IO, "cannot create a pipe: %s", strerror(errno));
    }
    p.res_read = fds[0];
    p.res_write = fds[1];
    fcntl(p.res_read, F_SETFL, fcntl(p.res_read, F_GETFL) | O_NONBLOCK);
    fcntl(p.res_read, F_SETFD, FD_CLOEXEC);

    dop_status status = DOP_OK;
    unsigned live = 0;
    for (unsigned i = 0; i < p.n_workers; i++) {
        if (spawn_worker(&p, i) != 0) {
            status = dop_error_set(err, DOP_ERR_IO, "cannot start a worker process: %s", strerror(errno));
            rs->stopping = 1;
            break;
        }
        live++;
        dispatch(&p, rs, i);
    }

    char acc[sizeof(worker_msg)];
    size_t acc_len = 0;
    while (live > 0) {
        struct pollfd pfd = {p.res_read, POLLIN, 0};
        poll(&pfd, 1, 100); /* EINTR (a signal) just ends the wait early */
        drain(&p, rs, acc, &acc_len);
        if (!rs->stopping && cfg->stop && *cfg->stop) {
            rs->stopping = 1;
            for (unsigned i = 0; i < p.n_workers; i++) {
                close_commands(&p.workers[i]);
                if (p.workers[i].pid > 0) kill(p.workers[i].pid, SIGTERM);
            }
        }
        for (unsigned i = 0; i < p.n_workers; i++) {
            worker *w = &p.workers[i];
            if (w->pid <= 0) continue;
            int ws;
            /* A worker with no row in flight whose commands are closed is
             * exiting now: wait for it rather than poll again (the poll's
             * 100 ms would be the batch's last 100 ms). */
            int exiting = w->cmd_fd < 0 && w->in_flight < 0;
            pid_t r = waitpid(w->pid, &ws, exiting ? 0 : WNOHANG);
            if (r == 0 || (r < 0 && errno == EINTR)) continue;
            /* Gone: its last message, if any, is already in the pipe. */
            drain(&p, rs, acc, &acc_len);
            w->pid = 0;
            close_commands(w);
            live--;
            if (w->in_flight >= 0) {
                worker_msg msg;
                memset(&msg, 0, sizeof msg);
                msg.row = (uint64_t)w->in_flight;
                msg.worker = (int32_t)i;
                if (rs->stopping) {
                    msg.outcome = OUTCOME_INTERRUPTED;
                } else {
                    msg.outcome = OUTCOME_FAILED;
                    if (r > 0 && WIFSIGNALED(ws))
                        snprintf(msg.error, sizeof msg.error,
                                 "the analysis process ended on signal %d (%s) while analysing this recording",
                                 WTERMSIG(ws), strsignal(WTERMSIG(ws)));
                    else
                        snprintf(msg.error, sizeof msg.error,
                                 "the analysis process ended unexpectedly while analysing this recording");
                }
                record(&p, rs, &msg);
                w->in_flight = -1;
            }
            if (!rs->stopping && rs->next < n_selected) {
                if (spawn_worker(&p, i) == 0) {
                    live++;
                    dispatch(&p, rs, i);
                }
            }
        }
        if (live == 0 && !rs->stopping && rs->next < n_selected) {
            status = dop_error_set(err, DOP_ERR_IO, "cannot start a worker process: %s", strerror(errno));
            break;
        }
    }
    drain(&p, rs, acc, &acc_len);
    close(p.res_read);
    close(p.res_write);
    free(p.workers);
    if (status == DOP_OK && (rs->stopping || rs->done < n_selected))
        status = dop_error_set(err, DOP_ERR_INTERRUPTED, "stopped after %zu of %zu recordings; finished results are "
                               "kept, run again with --resume to continue", rs->done, n_selected);
    return status;
}

/* ------------------------------------------------------------------ */
/* folder metadata                                                      */
/* ------------------------------------------------------------------ */

typedef struct study_meta {
    char *version;
    char *manifest;
    char *manifest_sha256;
    size_t rows;
    int onset_column;
    char *epochs;      /* NULL = one epoch "all" */
    char *reference;
    char *parameters_sha256;
    char *command;     /* NULL = none */
    unsigned shard, shard_count;
} study_meta;

static void meta_free(study_meta *m)
{
    free(m->version);
    free(m->manifest);
    free(m->manifest_sha256);
    free(m->epochs);
    free(m->reference);
    free(m->parameters_sha256);
    free(m->command);
    memset(m, 0, sizeof *m);
}

static dop_status meta_write(const char *path, const study_meta *m, dop_error *err)
{
    json_t *o = json_object();
    if (!o) return dop_error_set(err, DOP_ERR_NOMEM, "out of memory");
    json_object_set_new(o, "format", json_string(STUDY_FORMAT));
    json_object_set_new(o, "dopflow_version", json_string(m->version));
    json_object_set_new(o, "manifest", json_string(m->manifest));
    json_object_set_new(o, "manifest_sha256", json_string(m->manifest_sha256));
    json_object_set_new(o, "rows", json_integer((json_int_t)m->rows));
    json_object_set_new(o, "onset_column", json_boolean(m->onset_column));
    json_object_set_new(o, "epochs", m->epochs ? json_string(m->epochs) : json_null());
    json_object_set_new(o, "reference_epoch", json_string(m->reference));
    json_object_set_new(o, "parameters_sha256", json_string(m->parameters_sha256));
    json_object_set_new(o, "command", m->command ? json_string(m->command) : json_null());
    json_object_set_new(o, "shard", json_integer(m->shard));
    json_object_set_new(o, "shard_count", json_integer(m->shard_count));
    json_object_set_new(o, "complete", json_true());
    dop_atomic_file *af;
    dop_status st = dop_atomic_open(path, &af, err);
    if (st == DOP_OK) {
        FILE *f = dop_atomic_stream(af);
        json_dumpf(o, f, JSON_INDENT(2) | JSON_SORT_KEYS);
        fputc('\n', f);
        st = dop_atomic_commit(af, err);
    }
    json_decref(o);
    return st;
}

static char *json_dup_string(json_t *o, const char *key, int *bad)
{
    json_t *v = json_object_get(o, key);
    if (json_is_null(v)) return NULL;
    if (!json_is_string(v)) {
        *bad = 1;
        return NULL;
    }
    char *s = strdup(json_string_value(v));
    if (!s) *bad = 1;
    return s;
}

static dop_status meta_read(const char *dir, study_meta *m, dop_error *err)
{
    memset(m, 0, sizeof *m);
    char *path = dop_fs_path_join(dir, ".study/shard.json");
    if (!path) return dop_error_set(err, DOP_ERR_NOMEM, "out of memory");
    json_error_t je;
    json_t *o = json_load_file(path, 0, &je);
    if (!o) {
        dop_status st = dop_fs_is_file(path)
                            ? dop_error_set(err, DOP_ERR_FORMAT, "%s: %s (line %d)", path, je.text, je.line)
                            : dop_error_set(err, DOP_ERR_FORMAT, "%s: not a study folder (no .study/shard.json; "
                                            "was the shard run finished?)", dir);
        free(path);
        return st;
    }
    int bad = 0;
    json_t *fmt = json_object_get(o, "format");
    if (!json_is_string(fmt) || strcmp(json_string_value(fmt), STUDY_FORMAT) != 0) bad = 1;
    m->version = json_dup_string(o, "dopflow_version", &bad);
    m->manifest = json_dup_string(o, "manifest", &bad);
    m->manifest_sha256 = json_dup_string(o, "manifest_sha256", &bad);
    m->epochs = json_dup_string(o, "epochs", &bad);
    m->reference = json_dup_string(o, "reference_epoch", &bad);
    m->parameters_sha256 = json_dup_string(o, "parameters_sha256", &bad);
    m->command = json_dup_string(o, "command", &bad);
    json_t *rows = json_object_get(o, "rows"), *shard = json_object_get(o, "shard"),
           *count = json_object_get(o, "shard_count"), *onset = json_object_get(o, "onset_column");
    if (!json_is_integer(rows) || !json_is_integer(shard) || !json_is_integer(count) || !json_is_boolean(onset) ||
        !m->version || !m->manifest || !m->manifest_sha256 || !m->reference || !m->parameters_sha256)
        bad = 1;
    if (!bad) {
        m->rows = (size_t)json_integer_value(rows);
        m->shard = (unsigned)json_integer_value(shard);
        m->shard_count = (unsigned)json_integer_value(count);
        m->onset_column = json_is_true(onset);
        if (!json_is_true(json_object_get(o, "complete"))) bad = 2;
    }
    json_decref(o);
    if (bad) {
        meta_free(m);
        dop_status st = dop_error_set(err, DOP_ERR_FORMAT, bad == 2 ? "%s: the shard run did not finish"
                                                                    : "%s: not a dopflow study folder description",
                                      path);
        free(path);
        return st;
    }
    free(path);
    return DOP_OK;
}

/* ------------------------------------------------------------------ */
/* aggregation                                                          */
/* ------------------------------------------------------------------ */

typedef struct entry {
    size_t row;
    const char *subject, *condition, *artery, *file;
    char key[KEY_HEX + 1];
    const char *error;        /* NULL = analysed; results in results_dir/KEY.csv */
    const char *results_dir;
} entry;

static dop_status index_write(const char *path, const entry *e, size_t n, dop_error *err)
{
    dop_atomic_file *af;
    dop_status st = dop_atomic_open(path, &af, err);
    if (st != DOP_OK) return st;
    FILE *f = dop_atomic_stream(af);
    fputs("row,subject,condition,artery,file,key,error\n", f);
    for (size_t i = 0; i < n; i++) {
        fprintf(f, "%zu,", e[i].row);
        csv_put(f, e[i].subject);
        fputc(',', f);
        csv_put(f, e[i].condition);
        fputc(',', f);
        csv_put(f, e[i].artery);
        fputc(',', f);
        csv_put(f, e[i].file);
        fprintf(f, ",%s,", e[i].error ? "" : e[i].key);
        if (e[i].error) csv_put(f, e[i].error);
        fputc('\n', f);
    }
    return dop_atomic_commit(af, err);
}

typedef struct epoch_set {
    dop_epoch *epochs;  /* relative bounds (offset 0); NULL for "all" */
    size_t k;
    const char **labels; /* k labels */
    size_t ref;
} epoch_set;

static void epoch_set_free(epoch_set *es)
{
    free(es->epochs);
    free((void *)es->labels);
    memset(es, 0, sizeof *es);
}

static dop_status epoch_set_make(const char *spec, const char *reference, epoch_set *es, dop_error *err)
{
    memset(es, 0, sizeof *es);
    if (spec) {
        dop_status st = dop_epochs_parse(spec, 0.0, &es->epochs, &es->k, err);
        if (st != DOP_OK) return st;
    } else {
        es->k = 1;
    }
    es->labels = calloc(es->k, sizeof *es->labels);
    if (!es->labels) {
        epoch_set_free(es);
        return dop_error_set(err, DOP_ERR_NOMEM, "out of memory");
    }
    for (size_t j = 0; j < es->k; j++) es->labels[j] = spec ? es->epochs[j].label : "all";
    es->ref = 0;
    if (reference) {
        size_t j = 0;
        while (j < es->k && strcmp(es->labels[j], reference) != 0) j++;
        if (j == es->k) {
            epoch_set_free(es);
            return dop_error_set(err, DOP_ERR_INVALID_ARG, "reference epoch '%s' is not one of the epochs", reference);
        }
        es->ref = j;
    }
    return DOP_OK;
}

/* Split a result line (numbers and an epoch label: no quoting) in place. */
static size_t split_commas(char *line, char **fields, size_t cap)
{
    size_t n = 0;
    char *s = line;
    while (n < cap) {
        fields[n++] = s;
        char *c = strchr(s, ',');
        if (!c) break;
        *c = '\0';
        s = c + 1;
    }
    return n;
}

static double parse_cell(const char *s)
{
    if (!*s) return NAN;
    char *end;
    double v = strtod(s, &end);
    return *end ? NAN : v;
}

typedef struct result_columns {
    size_t n, epoch, velocity, flow;
} result_columns;

static int result_columns_find(result_columns *rc)
{
    char *h = strdup(dop_summary_csv_header());
    if (!h) return -1;
    char *fields[256];
    rc->n = split_commas(h, fields, 256);
    rc->epoch = rc->velocity = rc->flow = SIZE_MAX;
    for (size_t i = 0; i < rc->n; i++) {
        if (strcmp(fields[i], "epoch") == 0) rc->epoch = i;
        if (strcmp(fields[i], "mean_velocity_cm_s") == 0) rc->velocity = i;
        if (strcmp(fields[i], "flow_ml_min") == 0) rc->flow = i;
    }
    free(h);
    return rc->epoch == SIZE_MAX || rc->velocity == SIZE_MAX || rc->flow == SIZE_MAX ? -1 : 0;
}

/* Copy one recording's result rows into recordings.csv and keep the
 * epoch values (k per recording) for the statistics. */
static dop_status copy_results(FILE *out, const entry *e, const result_columns *rc, const epoch_set *es,
                               double *velocity, double *flow, dop_error *err)
{
    char name[KEY_HEX + 8];
    snprintf(name, sizeof name, "%s.csv", e->key);
    char *path = dop_fs_path_join(e->results_dir, name);
    if (!path) return dop_error_set(err, DOP_ERR_NOMEM, "out of memory");
    FILE *in = fopen(path, "rb");
    if (!in) {
        dop_status st = dop_error_set(err, DOP_ERR_IO, "%s: result of manifest row %zu (%s) is missing: %s", path,
                                      e->row + 1, e->file, strerror(errno));
        free(path);
        return st;
    }
    char *line = NULL, *copy = NULL;
    size_t cap = 0;
    ssize_t got;
    size_t n_line = 0;
    dop_status st = DOP_OK;
    const char *header = dop_summary_csv_header();
    char **fields = malloc(rc->n * sizeof *fields);
    if (!fields) st = dop_error_set(err, DOP_ERR_NOMEM, "out of memory");
    while (st == DOP_OK && (got = getline(&line, &cap, in)) > 0) {
        while (got > 0 && (line[got - 1] == '\n' || line[got - 1] == '\r')) line[--got] = '\0';
        if (n_line++ == 0) {
            if (strcmp(line, header) != 0)
                st = dop_error_set(err, DOP_ERR_FORMAT, "%s: written by another dopflow version (summary "
                                   "columns differ); run the study again without --resume", path);
            continue;
        }
        csv_put(out, e->subject);
        fputc(',', out);
        csv_put(out, e->condition);
        fputc(',', out);
        csv_put(out, e->artery);
        fputc(',', out);
        csv_put(out, e->file);
        fputc(',', out);
        fputs(line, out);
        fputc('\n', out);
        free(copy);
        copy = strdup(line);
        if (!copy) {
            st = dop_error_set(err, DOP_ERR_NOMEM, "out of memory");
            break;
        }
        size_t nf = split_commas(copy, fields, rc->n);
        if (nf != rc->n) {
            st = dop_error_set(err, DOP_ERR_FORMAT, "%s line %zu: %zu fields, expected %zu", path, n_line, nf, rc->n);
            break;
        }
        for (size_t j = 0; j < es->k; j++)
            if (strcmp(fields[rc->epoch], es->labels[j]) == 0) {
                velocity[j] = parse_cell(fields[rc->velocity]);
                flow[j] = parse_cell(fields[rc->flow]);
                break;
            }
    }
    if (st == DOP_OK && n_line == 0)
        st = dop_error_set(err, DOP_ERR_FORMAT, "%s: empty result file", path);
    free(fields);
    free(copy);
    free(line);
    fclose(in);
    free(path);
    return st;
}

/* Sorting entries by names and then by manifest row, through pointers so
 * that no comparator needs global state (the library has none). */
#define ENTRY_OF(p) (*(const entry *const *)(p))

static int cmp_row(const entry *a, const entry *b) { return (a->row > b->row) - (a->row < b->row); }
static int cmp_group(const void *pa, const void *pb)
{
    const entry *a = ENTRY_OF(pa), *b = ENTRY_OF(pb);
    int c = strcmp(a->artery, b->artery);
    if (!c) c = strcmp(a->condition, b->condition);
    if (!c) c = strcmp(a->subject, b->subject);
    return c ? c : cmp_row(a, b);
}
static int cmp_subject(const void *pa, const void *pb)
{
    int c = strcmp(ENTRY_OF(pa)->subject, ENTRY_OF(pb)->subject);
    return c ? c : cmp_row(ENTRY_OF(pa), ENTRY_OF(pb));
}
static int cmp_artery(const void *pa, const void *pb)
{
    int c = strcmp(ENTRY_OF(pa)->artery, ENTRY_OF(pb)->artery);
    return c ? c : cmp_row(ENTRY_OF(pa), ENTRY_OF(pb));
}
static int cmp_condition(const void *pa, const void *pb)
{
    int c = strcmp(ENTRY_OF(pa)->condition, ENTRY_OF(pb)->condition);
    return c ? c : cmp_row(ENTRY_OF(pa), ENTRY_OF(pb));
}
static int cmp_first_row(const void *pa, const void *pb) { return cmp_row(ENTRY_OF(pa), ENTRY_OF(pb)); }

typedef const char *(*name_of_fn)(const entry *e);
static const char *name_subject(const entry *e) { return e->subject; }
static const char *name_artery(const entry *e) { return e->artery; }
static const char *name_condition(const entry *e) { return e->condition; }

/* Distinct names in order of first appearance, as positions into
 * entries; SIZE_MAX on no memory. O(n log n). */
static size_t distinct_names(const entry *entries, size_t n, int (*cmp)(const void *, const void *), name_of_fn name,
                             size_t **out)
{
    const entry **ptr = malloc((n ? n : 1) * sizeof *ptr);
    size_t *pos = malloc((n ? n : 1) * sizeof *pos);
    if (!ptr || !pos) {
        free(ptr);
        free(pos);
        return SIZE_MAX;
    }
    for (size_t i = 0; i < n; i++) ptr[i] = &entries[i];
    qsort(ptr, n, sizeof *ptr, cmp);
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (i == 0 || strcmp(name(ptr[i]), name(ptr[m - 1])) != 0) ptr[m++] = ptr[i];
    qsort(ptr, m, sizeof *ptr, cmp_first_row);
    for (size_t i = 0; i < m; i++) pos[i] = (size_t)(ptr[i] - entries);
    free(ptr);
    *out = pos;
    return m;
}

typedef struct group_epoch {
    size_t n;                              /* subjects with a mean velocity */
    size_t n_flow;
    double v_mean, v_sd, v_sem;
    double q_mean, q_sd, q_sem;
    size_t n_paired;
    double change_pct, p, p_adj;
} group_epoch;

typedef struct group {
    const char *artery, *condition;
    size_t first;        /* position in the sorted order of entries */
    size_t count;        /* entries of the group */
    size_t min_row;
    size_t n_subjects;   /* with at least one analysed recording */
    group_epoch *ep;     /* k */
    dop_rm_anova_result anova;
    int anova_ok;
    size_t anova_excluded;
} group;

static int cmp_group_order(const void *pa, const void *pb)
{
    const group *a = pa, *b = pb;
    return (a->min_row > b->min_row) - (a->min_row < b->min_row);
}

typedef struct text_list {
    FILE *f;
    char *buf;
    size_t len;
    size_t items;
} text_list;

static int text_list_open(text_list *l)
{
    memset(l, 0, sizeof *l);
    l->f = open_memstream(&l->buf, &l->len);
    return l->f ? 0 : -1;
}

/* Start a list item if fewer than REPORT_LIST_MAX were written; NULL = skip. */
static FILE *text_list_item(text_list *l)
{
    return l->items++ < REPORT_LIST_MAX ? l->f : NULL;
}

/* "- artery / condition, subject S" (the start of a report list item). */
static void subject_item(FILE *f, const group *g, const char *subject)
{
    fputs("- ", f);
    md_put(f, g->artery[0] ? g->artery : "(no artery)");
    fputs(" / ", f);
    md_put(f, g->condition);
    fputs(", subject ", f);
    md_put(f, subject);
}

static void text_list_close(text_list *l)
{
    if (l->f) fclose(l->f);
    l->f = NULL;
}

static void fmt_mean_se(FILE *f, double mean, double se)
{
    if (!isfinite(mean)) {
        fputs("–", f);
        return;
    }
    double a = fabs(mean);
    int d = a >= 100 ? 0 : a >= 10 ? 1 : 2;
    if (isfinite(se))
        fprintf(f, "%.*f ± %.*f", d, mean, d, se);
    else
        fprintf(f, "%.*f", d, mean);
}

static void fmt_p(FILE *f, double p)
{
    if (!isfinite(p))
        fputs("–", f);
    else if (p < 0.001)
        fputs("<0.001", f);
    else
        fprintf(f, "%.3f", p);
}

/* The review of entry e (from KEY.review.csv); 0 if it had none. */
static int read_review_result(const entry *e, int *reviewed, long long *beats, double *excluded_s,
                              long long *unmatched)
{
    char name[KEY_HEX + 16];
    snprintf(name, sizeof name, "%s.review.csv", e->key);
    char *path = dop_fs_path_join(e->results_dir, name);
    FILE *f = path ? fopen(path, "r") : NULL;
    free(path);
    if (!f) return 0;
    long long edits = 0;
    int ok = fscanf(f, REVIEW_RESULT_HEADER " %d,%lld,%lf,%lld,%lld", reviewed, beats, excluded_s, &edits,
                    unmatched) == 5;
    fclose(f);
    return ok;
}

/* "## Review": per recording with a review file, the beats and seconds it
 * excluded; then the recordings not yet marked reviewed. Nothing when no
 * recording has a review file (reports of unreviewed studies unchanged). */
static void report_reviews(FILE *fm, const entry *E, size_t n)
{
    size_t with = 0, analysed = 0;
    int reviewed;
    long long beats, unmatched;
    double excluded_s;
    for (size_t i = 0; i < n; i++) {
        if (E[i].error) continue;
        analysed++;
        with += read_review_result(&E[i], &reviewed, &beats, &excluded_s, &unmatched);
    }
    if (with == 0) return;
    fprintf(fm, "## Review\n\n%zu of %zu analysed recordings have a review file (REC.review.json).\n\n"
                "| Subject | Condition | Artery | File | Reviewed | Beats rejected by review | "
                "Seconds excluded by review | Edits unmatched |\n|---|---|---|---|---|---:|---:|---:|\n",
            with, analysed);
    size_t not_reviewed = 0;
    for (size_t i = 0; i < n; i++) {
        if (E[i].error) continue;
        int has = read_review_result(&E[i], &reviewed, &beats, &excluded_s, &unmatched);
        if (!has || !reviewed) not_reviewed++;
        if (!has) continue;
        const char *cells[] = {E[i].subject, E[i].condition, E[i].artery, E[i].file};
        for (int c = 0; c < 4; c++) {
            fputs(c ? " | " : "| ", fm);
            md_put(fm, cells[c]);
        }
        fprintf(fm, " | %s | %lld | %.2f | %lld |\n", reviewed ? "yes" : "no", beats, excluded_s, unmatched);
    }
    fprintf(fm, "\nNot yet marked reviewed: %zu recording%s", not_reviewed, not_reviewed == 1 ? "" : "s");
    if (not_reviewed == 0) {
        fputs(".\n\n", fm);
        return;
    }
    fputs(":\n\n", fm);
    size_t listed = 0;
    for (size_t i = 0; i < n; i++) {
        if (E[i].error) continue;
        int has = read_review_result(&E[i], &reviewed, &beats, &excluded_s, &unmatched);
        if (has && reviewed) continue;
        if (listed++ == REPORT_LIST_MAX) {
            fprintf(fm, "- ... and %zu more\n", not_reviewed - REPORT_LIST_MAX);
            break;
        }
        fputs("- subject ", fm);
        md_put(fm, E[i].subject);
        fputs(", `", fm);
        md_put(fm, E[i].file);
        fputs(has ? "` (review file without \"reviewed\": true)\n" : "` (no review file)\n", fm);
    }
    fputc('\n', fm);
}

typedef struct aggregate_in {
    const char *out_dir;
    const study_meta *meta;
    const entry *entries; /* in manifest order */
    size_t n;
    const char *figure;   /* figure file embedded in report.md, or NULL */
} aggregate_in;

static dop_status aggregate(const aggregate_in *in, dop_study_summary *summary, dop_error *err)
{
    const entry *E = in->entries;
    size_t n = in->n;
    const study_meta *meta = in->meta;
    dop_status st;
    epoch_set es;
    st = epoch_set_make(meta->epochs, meta->reference, &es, err);
    if (st != DOP_OK) return st;
    size_t k = es.k;
    result_columns rc;
    if (result_columns_find(&rc) != 0) {
        epoch_set_free(&es);
        return dop_error_set(err, DOP_ERR_FORMAT, "summary columns lack epoch, mean_velocity_cm_s or flow_ml_min");
    }

    double *vel = malloc((n ? n : 1) * k * sizeof *vel);
    double *flow = malloc((n ? n : 1) * k * sizeof *flow);
    const entry **order = malloc((n ? n : 1) * sizeof *order); /* grouped: artery, condition, subject, row */
    group *groups = NULL;
    size_t n_groups = 0;
    size_t *subj = NULL, *arteries = NULL, *conditions = NULL;
    size_t n_subj = 0, n_art = 0, n_cond = 0;
    double *mat_v = NULL, *mat_q = NULL, *col = NULL, *col2 = NULL, *anova_data = NULL, *pvals = NULL;
    char *rec_path = NULL, *fail_path = NULL, *cond_path = NULL, *anova_path = NULL, *report_path = NULL;
    dop_atomic_file *rec = NULL, *fails = NULL, *cond = NULL, *anova = NULL, *report = NULL;
    text_list excl, averaged;
    memset(&excl, 0, sizeof excl);
    memset(&averaged, 0, sizeof averaged);
    size_t failed = 0;

    if (!vel || !flow || !order) {
        st = dop_error_set(err, DOP_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < n * k; i++) vel[i] = flow[i] = NAN;

    rec_path = dop_fs_path_join(in->out_dir, "recordings.csv");
    fail_path = dop_fs_path_join(in->out_dir, "failures.csv");
    cond_path = dop_fs_path_join(in->out_dir, "conditions.csv");
    anova_path = dop_fs_path_join(in->out_dir, "anova.csv");
    report_path = dop_fs_path_join(in->out_dir, "report.md");
    if (!rec_path || !fail_path || !cond_path || !anova_path || !report_path) {
        st = dop_error_set(err, DOP_ERR_NOMEM, "out of memory");
        goto done;
    }

    /* recordings.csv and failures.csv, in manifest order */
    if ((st = dop_atomic_open(rec_path, &rec, err)) != DOP_OK) goto done;
    if ((st = dop_atomic_open(fail_path, &fails, err)) != DOP_OK) goto done;
    FILE *fr = dop_atomic_stream(rec), *ff = dop_atomic_stream(fails);
    fprintf(fr, "subject,condition,artery,file,%s\n", dop_summary_csv_header());
    fputs("subject,condition,artery,file,error\n", ff);
    for (size_t i = 0; i < n; i++) {
        if (E[i].error) {
            failed++;
            csv_put(ff, E[i].subject);
            fputc(',', ff);
            csv_put(ff, E[i].condition);
            fputc(',', ff);
            csv_put(ff, E[i].artery);
            fputc(',', ff);
            csv_put(ff, E[i].file);
            fputc(',', ff);
            csv_put(ff, E[i].error);
            fputc('\n', ff);
            continue;
        }
        st = copy_results(fr, &E[i], &rc, &es, vel + i * k, flow + i * k, err);
        if (st != DOP_OK) goto done;
    }

    /* groups: artery x condition, in order of first appearance */
    for (size_t i = 0; i < n; i++) order[i] = &E[i];
    qsort(order, n, sizeof *order, cmp_group);
    groups = calloc(n ? n : 1, sizeof *groups);
    if (!groups) {
        st = dop_error_set(err, DOP_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        const entry *e = order[i];
        group *g = n_groups ? &groups[n_groups - 1] : NULL;
        if (!g || strcmp(g->artery, e->artery) != 0 || strcmp(g->condition, e->condition) != 0) {
            g = &groups[n_groups++];
            g->artery = e->artery;
            g->condition = e->condition;
            g->first = i;
            g->min_row = e->row;
        }
        g->count++;
        if (e->row < g->min_row) g->min_row = e->row;
    }
    qsort(groups, n_groups, sizeof *groups, cmp_group_order);

    n_subj = distinct_names(E, n, cmp_subject, name_subject, &subj);
    n_art = distinct_names(E, n, cmp_artery, name_artery, &arteries);
    n_cond = distinct_names(E, n, cmp_condition, name_condition, &conditions);
    if (n_subj == SIZE_MAX || n_art == SIZE_MAX || n_cond == SIZE_MAX) {
        st = dop_error_set(err, DOP_ERR_NOMEM, "out of memory");
        goto done;
    }
    if (text_list_open(&excl) != 0 || text_list_open(&averaged) != 0) {
        st = dop_error_set(err, DOP_ERR_NOMEM, "out of memory");
        goto done;
    }

    /* per group: subject x epoch matrices (a subject's recordings averaged) */
    size_t max_count = 0;
    for (size_t g = 0; g < n_groups; g++)
        if (groups[g].count > max_count) max_count = groups[g].count;
    mat_v = malloc((max_count ? max_count : 1) * k * sizeof *mat_v);
    mat_q = malloc((max_count ? max_count : 1) * k * sizeof *mat_q);
    col = malloc((max_count ? max_count : 1) * sizeof *col);
    col2 = malloc((max_count ? max_count : 1) * sizeof *col2);
    anova_data = malloc((max_count ? max_count : 1) * k * sizeof *anova_data);
    pvals = malloc(k * sizeof *pvals);
    if (!mat_v || !mat_q || !col || !col2 || !anova_data || !pvals) {
        st = dop_error_set(err, DOP_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (size_t gi = 0; gi < n_groups; gi++) {
        group *g = &groups[gi];
        g->ep = calloc(k, sizeof *g->ep);
        if (!g->ep) {
            st = dop_error_set(err, DOP_ERR_NOMEM, "out of memory");
            goto done;
        }
        /* subjects are runs of equal subject inside the group's sorted range */
        size_t s = 0;
        size_t i = g->first, end = g->first + g->count;
        while (i < end) {
            size_t j = i;
            while (j < end && strcmp(order[j]->subject, order[i]->subject) == 0) j++;
            size_t analysed = 0;
            for (size_t c = 0; c < k; c++) {
                double sv = 0, sq = 0;
                size_t nv = 0, nq = 0;
                for (size_t r = i; r < j; r++) {
                    const entry *e = order[r];
                    if (e->error) continue;
                    size_t at = (size_t)(e - E) * k + c;
                    double v = vel[at], q = flow[at];
                    if (isfinite(v)) sv += v, nv++;
                    if (isfinite(q)) sq += q, nq++;
                }
                mat_v[s * k + c] = nv ? sv / (double)nv : NAN;
                mat_q[s * k + c] = nq ? sq / (double)nq : NAN;
            }
            for (size_t r = i; r < j; r++)
                if (!order[r]->error) analysed++;
            if (analysed > 1) {
                FILE *f = text_list_item(&averaged);
                if (f) {
                    subject_item(f, g, order[i]->subject);
                    fprintf(f, ": %zu recordings averaged\n", analysed);
                }
            }
            if (analysed > 0) {
                /* missing epochs of an analysed subject */
                int missing = 0;
                for (size_t c = 0; c < k; c++)
                    if (!isfinite(mat_q[s * k + c])) missing = 1;
                if (missing && k > 1) {
                    FILE *f = text_list_item(&excl);
                    if (f) {
                        subject_item(f, g, order[i]->subject);
                        fputs(": no flow for ", f);
                        int first = 1;
                        for (size_t c = 0; c < k; c++)
                            if (!isfinite(mat_q[s * k + c])) {
                                fprintf(f, "%s%s", first ? "" : ", ", es.labels[c]);
                                first = 0;
                            }
                        fputs(!isfinite(mat_q[s * k + es.ref]) ? " (left out of every paired test and the ANOVA)\n"
                                                               : " (left out of those paired tests and the ANOVA)\n",
                              f);
                    }
                }
                s++;
            }
            i = j;
        }
        g->n_subjects = s;

        /* descriptives and paired tests against the reference epoch */
        for (size_t c = 0; c < k; c++) {
            group_epoch *ge = &g->ep[c];
            for (size_t r = 0; r < s; r++) col[r] = mat_v[r * k + c];
            dop_stats_describe(col, s, &ge->n, &ge->v_mean, &ge->v_sd, &ge->v_sem);
            for (size_t r = 0; r < s; r++) col[r] = mat_q[r * k + c];
            dop_stats_describe(col, s, &ge->n_flow, &ge->q_mean, &ge->q_sd, &ge->q_sem);
            ge->change_pct = ge->p = ge->p_adj = NAN;
            pvals[c] = NAN;
            if (c == es.ref) continue;
            size_t m = 0;
            double sum_x = 0, sum_r = 0;
            for (size_t r = 0; r < s; r++) {
                double x = mat_q[r * k + c], y = mat_q[r * k + es.ref];
                if (!isfinite(x) || !isfinite(y)) continue;
                col[m] = x;
                col2[m] = y;
                sum_x += x;
                sum_r += y;
                m++;
            }
            ge->n_paired = m;
            if (m > 0 && sum_r != 0.0) ge->change_pct = 100.0 * (sum_x - sum_r) / sum_r;
            dop_ttest_result t;
            if (m >= 2 && dop_stats_paired_t(col, col2, m, &t, NULL) == DOP_OK) ge->p = t.p;
            pvals[c] = ge->p;
        }
        double *adj = malloc(k * sizeof *adj);
        if (!adj || dop_stats_holm(pvals, k, adj, NULL) != DOP_OK) {
            free(adj);
            st = dop_error_set(err, DOP_ERR_NOMEM, "out of memory");
            goto done;
        }
        for (size_t c = 0; c < k; c++) g->ep[c].p_adj = adj[c];
        free(adj);

        /* repeated-measures ANOVA over subjects with every epoch */
        size_t m = 0;
        for (size_t r = 0; r < s; r++) {
            int complete = 1;
            for (size_t c = 0; c < k; c++)
                if (!isfinite(mat_q[r * k + c])) complete = 0;
            if (!complete) continue;
            memcpy(anova_data + m * k, mat_q + r * k, k * sizeof *anova_data);
            m++;
        }
        g->anova_excluded = s - m;
        g->anova.n_subjects = m;
        g->anova.k_levels = k;
        g->anova_ok = dop_stats_rm_anova(anova_data, m, k, &g->anova, NULL) == DOP_OK;
    }

    /* conditions.csv */
    if ((st = dop_atomic_open(cond_path, &cond, err)) != DOP_OK) goto done;
    FILE *fc = dop_atomic_stream(cond);
    fputs("artery,condition,epoch,n,mean_velocity_cm_s_mean,mean_velocity_cm_s_sd,mean_velocity_cm_s_sem,"
          "flow_ml_min_mean,flow_ml_min_sd,flow_ml_min_sem,n_flow,flow_change_pct,n_paired,p_value,p_adjusted\n",
          fc);
    for (size_t gi = 0; gi < n_groups; gi++) {
        const group *g = &groups[gi];
        for (size_t c = 0; c < k; c++) {
            const group_epoch *ge = &g->ep[c];
            csv_put(fc, g->artery);
            fputc(',', fc);
            csv_put(fc, g->condition);
            fprintf(fc, ",%s,%zu,", es.labels[c], ge->n);
            const double stats[] = {ge->v_mean, ge->v_sd, ge->v_sem, ge->q_mean, ge->q_sd, ge->q_sem};
            csv_nums(fc, stats, sizeof stats / sizeof stats[0]);
            fprintf(fc, ",%zu,", ge->n_flow);
            if (c != es.ref) {
                csv_num(fc, ge->change_pct);
                fprintf(fc, ",%zu,", ge->n_paired);
                const double tests[] = {ge->p, ge->p_adj};
                csv_nums(fc, tests, 2);
            } else {
                fputs(",,,", fc);
            }
            fputc('\n', fc);
        }
    }
    if ((st = commit_clear(&cond, err)) != DOP_OK) goto done;

    /* anova.csv */
    if ((st = dop_atomic_open(anova_path, &anova, err)) != DOP_OK) goto done;
    FILE *fa = dop_atomic_stream(anova);
    fputs("artery,condition,n,k,F,df_effect,df_error,p,gg_epsilon,p_gg\n", fa);
    for (size_t gi = 0; gi < n_groups; gi++) {
        const group *g = &groups[gi];
        csv_put(fa, g->artery);
        fputc(',', fa);
        csv_put(fa, g->condition);
        fprintf(fa, ",%zu,%zu,", g->anova.n_subjects, k);
        if (g->anova_ok) {
            csv_num(fa, g->anova.f);
            fprintf(fa, ",%.6g,%.6g,", g->anova.df_effect, g->anova.df_error);
            const double rest[] = {g->anova.p, g->anova.gg_epsilon, g->anova.p_gg};
            csv_nums(fa, rest, 3);
        } else {
            fputs(",,,,,", fa);
        }
        fputc('\n', fa);
    }
    if ((st = commit_clear(&anova, err)) != DOP_OK) goto done;

    /* report.md */
    text_list_close(&excl);
    text_list_close(&averaged);
    if ((st = dop_atomic_open(report_path, &report, err)) != DOP_OK) goto done;
    FILE *fm = dop_atomic_stream(report);
    fputs("# Study report\n\n", fm);
    if (meta->shard_count > 1)
        fprintf(fm, "**Partial results: shard %u of %u.** Combine the shard folders with "
                    "`dopflow study merge -o OUTDIR SHARD_DIR...` for the study's results.\n\n",
                meta->shard, meta->shard_count);
    fprintf(fm, "dopflow %s\n\n", meta->version);
    if (meta->command)
        fprintf(fm, "Command: `%s`\n\n(-o, -j, --resume and --shard are not shown: they do not change the "
                    "results.)\n\n", meta->command);
    fputs("## Design, as read from the manifest\n\n", fm);
    fputs("- Manifest: `", fm);
    md_put(fm, meta->manifest);
    fprintf(fm, "`, %zu recording%s (SHA-256 %.16s...)\n", meta->rows, meta->rows == 1 ? "" : "s",
            meta->manifest_sha256);
    fprintf(fm, "- Subjects: %zu\n", n_subj);
    fprintf(fm, "- Arteries (%zu): ", n_art);
    for (size_t i = 0; i < n_art; i++) {
        if (i) fputs(", ", fm);
        md_put(fm, E[arteries[i]].artery[0] ? E[arteries[i]].artery : "(none given)");
    }
    fprintf(fm, "\n- Conditions (%zu): ", n_cond);
    for (size_t i = 0; i < n_cond; i++) {
        if (i) fputs(", ", fm);
        md_put(fm, E[conditions[i]].condition);
    }
    fprintf(fm, "\n- Epochs (%zu): ", k);
    if (!meta->epochs) {
        fputs("all (each recording whole)", fm);
    } else {
        for (size_t c = 0; c < k; c++)
            fprintf(fm, "%s%s [%g, %g) s", c ? ", " : "", es.labels[c], es.epochs[c].start_s, es.epochs[c].end_s);
        fputs(meta->onset_column ? ", relative to each recording's onset_s (from the start of the recording where "
                                   "onset_s is empty)"
                                 : ", from the start of each recording (the manifest has no onset_s column)",
              fm);
    }
    fprintf(fm, "\n- Reference epoch: %s\n", es.labels[es.ref]);
    fprintf(fm, "- Recordings: %zu in this folder, %zu analysed, %zu failed\n\n", n, n - failed, failed);

    if (in->figure)
        fprintf(fm, "![Flow by epoch, per artery and condition: mean ± SE, * p_adjusted < 0.05](%s)\n\n", in->figure);
    for (int table = 0; table < 2; table++) {
        fputs(table == 0 ? "## Blood flow, ml/min (mean ± SE over subjects)\n\n"
                         : "## Mean velocity, cm/s (mean ± SE over subjects)\n\n",
              fm);
        for (size_t a = 0; a < n_art; a++) {
            const char *artery = E[arteries[a]].artery;
            fputs("### ", fm);
            md_put(fm, artery[0] ? artery : "All recordings");
            fputs("\n\n| Condition | n |", fm);
            for (size_t c = 0; c < k; c++) fprintf(fm, " %s |", es.labels[c]);
            fputs("\n|---|---:|", fm);
            for (size_t c = 0; c < k; c++) fputs("---:|", fm);
            fputc('\n', fm);
            for (size_t gi = 0; gi < n_groups; gi++) {
                const group *g = &groups[gi];
                if (strcmp(g->artery, artery) != 0) continue;
                fputs("| ", fm);
                md_put(fm, g->condition);
                fprintf(fm, " | %zu |", g->n_subjects);
                for (size_t c = 0; c < k; c++) {
                    const group_epoch *ge = &g->ep[c];
                    fputc(' ', fm);
                    if (table == 0) {
                        fmt_mean_se(fm, ge->q_mean, ge->q_sem);
                        if (c != es.ref && isfinite(ge->p_adj) && ge->p_adj < ALPHA) fputc('*', fm);
                    } else {
                        fmt_mean_se(fm, ge->v_mean, ge->v_sem);
                    }
                    fputs(" |", fm);
                }
                fputc('\n', fm);
            }
            fputc('\n', fm);
        }
        if (table == 0) {
            if (k > 1)
                fprintf(fm, "\\* p < %.2f versus %s: paired t-test over the subjects with both epochs, "
                            "Holm-adjusted across the epochs of each artery and condition. n: subjects with at "
                            "least one analysed recording.\n\n",
                        ALPHA, es.labels[es.ref]);
            else
                fputs("One epoch: no within-subject comparison. n: subjects with at least one analysed "
                      "recording.\n\n",
                      fm);
        }
    }

    if (k > 1) {
        fputs("## Repeated-measures ANOVA of flow across epochs\n\n"
              "Subjects with flow in every epoch; Greenhouse-Geisser corrected p.\n\n"
              "| Artery | Condition | n | F | df | p | GG ε | p (GG) |\n|---|---|---:|---:|---:|---:|---:|---:|\n",
              fm);
        for (size_t gi = 0; gi < n_groups; gi++) {
            const group *g = &groups[gi];
            fputs("| ", fm);
            md_put(fm, g->artery[0] ? g->artery : "–");
            fputs(" | ", fm);
            md_put(fm, g->condition);
            fprintf(fm, " | %zu | ", g->anova.n_subjects);
            if (g->anova_ok) {
                if (isfinite(g->anova.f))
                    fprintf(fm, "%.2f", g->anova.f);
                else
                    fputs("–", fm);
                fprintf(fm, " | %g, %g | ", g->anova.df_effect, g->anova.df_error);
                fmt_p(fm, g->anova.p);
                fprintf(fm, " | %.3f | ", g->anova.gg_epsilon);
                fmt_p(fm, g->anova.p_gg);
                fputs(" |\n", fm);
            } else {
                fputs("– | – | – | – | – |\n", fm);
            }
        }
        fputc('\n', fm);
    }

    report_reviews(fm, E, n);
    fputs("## Excluded\n\n", fm);
    if (failed == 0 && excl.items == 0) fputs("Nothing: every recording was analysed and every subject has flow "
                                              "in every epoch.\n\n", fm);
    if (failed) {
        fprintf(fm, "Recordings that could not be analysed (%zu, all listed in failures.csv):\n\n", failed);
        size_t listed = 0;
        for (size_t i = 0; i < n; i++) {
            if (!E[i].error) continue;
            if (listed++ == REPORT_LIST_MAX) {
                fprintf(fm, "- ... and %zu more\n", failed - REPORT_LIST_MAX);
                break;
            }
            fputs("- subject ", fm);
            md_put(fm, E[i].subject);
            fputs(", ", fm);
            md_put(fm, E[i].condition);
            if (E[i].artery[0]) {
                fputs(", ", fm);
                md_put(fm, E[i].artery);
            }
            fputs(", `", fm);
            md_put(fm, E[i].file);
            fputs("`: ", fm);
            md_put(fm, E[i].error);
            fputc('\n', fm);
        }
        fputc('\n', fm);
    }
    if (excl.items) {
        fprintf(fm, "Subjects with missing epoch values (%zu; no frames or no diameter in the epoch):\n\n",
                excl.items);
        fwrite(excl.buf, 1, excl.len, fm);
        if (excl.items > REPORT_LIST_MAX) fprintf(fm, "- ... and %zu more\n", excl.items - REPORT_LIST_MAX);
        fputc('\n', fm);
    }
    if (averaged.items) {
        fprintf(fm, "## Notes\n\nSubjects with several recordings of one artery and condition (%zu); their epoch "
                    "values were averaged before the statistics:\n\n", averaged.items);
        fwrite(averaged.buf, 1, averaged.len, fm);
        if (averaged.items > REPORT_LIST_MAX) fprintf(fm, "- ... and %zu more\n", averaged.items - REPORT_LIST_MAX);
        fputc('\n', fm);
    }
    if ((st = commit_clear(&report, err)) != DOP_OK) goto done;

    /* commit the row files last: all five outputs describe the same run */
    if ((st = commit_clear(&rec, err)) != DOP_OK) goto done;
    if ((st = commit_clear(&fails, err)) != DOP_OK) goto done;
    if (summary) summary->failed = failed;

done:
    dop_atomic_abort(rec);
    dop_atomic_abort(fails);
    dop_atomic_abort(cond);
    dop_atomic_abort(anova);
    dop_atomic_abort(report);
    text_list_close(&excl);
    text_list_close(&averaged);
    free(excl.buf);
    free(averaged.buf);
    for (size_t g = 0; g < n_groups; g++) free(groups[g].ep);
    free(groups);
    free(subj);
    free(arteries);
    free(conditions);
    free(mat_v);
    free(mat_q);
    free(col);
    free(col2);
    free(anova_data);
    free(pvals);
    free(rec_path);
    free(fail_path);
    free(cond_path);
    free(anova_path);
    free(report_path);
    free(vel);
    free(flow);
    free(order);
    epoch_set_free(&es);
    return st;
}

/* ------------------------------------------------------------------ */
/* run                                                                  */
/* ------------------------------------------------------------------ */

dop_status dop_study_run(const dop_study_config *cfg, dop_study_summary *summary, dop_error *err)
{
    dop_study_summary sum;
    memset(&sum, 0, sizeof sum);
    if (summary) *summary = sum;
    if (!cfg || !cfg->manifest_path || !cfg->out_dir)
        return dop_error_set(err, DOP_ERR_INVALID_ARG, "study: manifest and output folder are required");
    if (cfg->jobs < 1) return dop_error_set(err, DOP_ERR_INVALID_ARG, "study: jobs must be at least 1");
    if (cfg->shard_count < 1 || cfg->shard_index < 1 || cfg->shard_index > cfg->shard_count)
        return dop_error_set(err, DOP_ERR_INVALID_ARG, "study: shard %u/%u is not K/N with 1 <= K <= N",
                             cfg->shard_index, cfg->shard_count);

    dop_status st;
    epoch_set es;
    if ((st = epoch_set_make(cfg->epochs_spec, cfg->reference_epoch, &es, err)) != DOP_OK) return st;

    dop_manifest *manifest = NULL;
    study_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    size_t *selection = NULL;
    entry *entries = NULL;
    run_state rs;
    memset(&rs, 0, sizeof rs);
    char *study_dir = NULL, *index_path = NULL, *meta_path = NULL;
    study_meta meta;
    memset(&meta, 0, sizeof meta);
    char psha[KEY_HEX + 1];

    if ((st = dop_manifest_read(cfg->manifest_path, &manifest, err)) != DOP_OK) goto done;
    size_t rows = dop_manifest_row_count(manifest);
    sum.rows = rows;
    if (rows == 0) {
        st = dop_error_set(err, DOP_ERR_NO_DATA, "%s: the manifest lists no recordings", cfg->manifest_path);
        goto done;
    }
    ctx.cfg = cfg;
    ctx.manifest = manifest;
    if ((st = dop_study_params_text(&cfg->job, &ctx.params_text, err)) != DOP_OK) goto done;
    ctx.results_dir = dop_fs_path_join(cfg->out_dir, ".results");
    study_dir = dop_fs_path_join(cfg->out_dir, ".study");
    index_path = dop_fs_path_join(cfg->out_dir, ".study/index.csv");
    meta_path = dop_fs_path_join(cfg->out_dir, ".study/shard.json");
    if (!ctx.results_dir || !study_dir || !index_path || !meta_path) {
        st = dop_error_set(err, DOP_ERR_NOMEM, "out of memory");
        goto done;
    }
    if ((st = dop_fs_make_dirs(cfg->out_dir, err)) != DOP_OK) goto done;
    if ((st = dop_fs_make_dirs(ctx.results_dir, err)) != DOP_OK) goto done;
    if ((st = dop_fs_make_dirs(study_dir, err)) != DOP_OK) goto done;
    /* Until this run completes, the folder holds no finished shard: a
     * merge must not take an earlier run's index for this one. */
    if (unlink(meta_path) != 0 && errno != ENOENT) {
        st = dop_error_set(err, DOP_ERR_IO, "%s: cannot remove: %s", meta_path, strerror(errno));
        goto done;
    }

    size_t n_sel = 0;
    selection = malloc(rows * sizeof *selection);
    if (!selection) {
        st = dop_error_set(err, DOP_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < rows; i++)
        if (i % cfg->shard_count == cfg->shard_index - 1) selection[n_sel++] = i;
    sum.selected = n_sel;
    rs.results = calloc(n_sel ? n_sel : 1, sizeof *rs.results);
    if (!rs.results) {
        st = dop_error_set(err, DOP_ERR_NOMEM, "out of memory");
        goto done;
    }

    st = run_pool(&ctx, selection, n_sel, &rs, err);
    sum.analysed = rs.analysed;
    sum.reused = rs.reused;
    sum.failed = rs.failed;
    if (st != DOP_OK) goto done;

    entries = calloc(n_sel ? n_sel : 1, sizeof *entries);
    if (!entries) {
        st = dop_error_set(err, DOP_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < n_sel; i++) {
        const dop_manifest_row *r = dop_manifest_row_at(manifest, selection[i]);
        entry *e = &entries[i];
        e->row = selection[i];
        e->subject = dop_manifest_name(manifest, DOP_MANIFEST_SUBJECT, r->subject);
        e->condition = dop_manifest_name(manifest, DOP_MANIFEST_CONDITION, r->condition);
        e->artery = dop_manifest_name(manifest, DOP_MANIFEST_ARTERY, r->artery);
        e->file = r->file;
        memcpy(e->key, rs.results[i].key, sizeof e->key);
        e->error = rs.results[i].outcome == OUTCOME_FAILED ? rs.results[i].error : NULL;
        if (rs.results[i].outcome == OUTCOME_FAILED && !e->error) e->error = "failed";
        e->results_dir = ctx.results_dir;
    }

    dop_fs_sha256_text(ctx.params_text, strlen(ctx.params_text), psha);
    meta.version = (char *)dop_version();
    meta.manifest = (char *)cfg->manifest_path;
    meta.manifest_sha256 = (char *)dop_manifest_sha256(manifest);
    meta.rows = rows;
    meta.onset_column = dop_manifest_has_column(manifest, "onset_s");
    meta.epochs = (char *)cfg->epochs_spec;
    meta.reference = (char *)es.labels[es.ref]; /* not freed: meta is borrowed here */
    meta.parameters_sha256 = psha;
    meta.command = (char *)cfg->command;
    meta.shard = cfg->shard_index;
    meta.shard_count = cfg->shard_count;

    if ((st = index_write(index_path, entries, n_sel, err)) != DOP_OK) goto done;
    if ((st = meta_write(meta_path, &meta, err)) != DOP_OK) goto done;
    aggregate_in ag = {cfg->out_dir, &meta, entries, n_sel, cfg->report_figure};
    st = aggregate(&ag, &sum, err);

done:
    if (summary) *summary = sum;
    free(entries);
    if (rs.results)
        for (size_t i = 0; i < sum.selected; i++)
            if (rs.results[i].error != no_memory_text) free(rs.results[i].error);
    free(rs.results);
    free(selection);
    free(ctx.params_text);
    free(ctx.results_dir);
    free(study_dir);
    free(index_path);
    free(meta_path);
    dop_manifest_destroy(manifest);
    epoch_set_free(&es);
    return st;
}

/* ------------------------------------------------------------------ */
/* merge                                                                */
/* ------------------------------------------------------------------ */

typedef struct index_reader {
    const char *path;
    const char *results_dir;
    entry *entries;
    size_t count, cap;
    char **fields;
    size_t n_fields, fields_cap;
    size_t record;
    dop_status status;
    dop_error *err;
} index_reader;

static void index_field(void *s, size_t len, void *data)
{
    index_reader *ir = data;
    if (ir->status != DOP_OK) return;
    if (ir->n_fields == ir->fields_cap) {
        size_t cap = ir->fields_cap ? 2 * ir->fields_cap : 8;
        char **f = realloc(ir->fields, cap * sizeof *f);
        if (!f) {
            ir->status = dop_error_set(ir->err, DOP_ERR_NOMEM, "out of memory");
            return;
        }
        ir->fields = f;
        ir->fields_cap = cap;
    }
    char *copy = malloc(len + 1);
    if (!copy) {
        ir->status = dop_error_set(ir->err, DOP_ERR_NOMEM, "out of memory");
        return;
    }
    memcpy(copy, s, len);
    copy[len] = '\0';
    ir->fields[ir->n_fields++] = copy;
}

static void index_fields_clear(index_reader *ir)
{
    for (size_t i = 0; i < ir->n_fields; i++) free(ir->fields[i]);
    ir->n_fields = 0;
}

static void index_record(int c, void *data)
{
    (void)c;
    index_reader *ir = data;
    size_t rec = ir->record++;
    if (ir->status != DOP_OK) {
        index_fields_clear(ir);
        return;
    }
    if (ir->n_fields != 7) {
        ir->status = dop_error_set(ir->err, DOP_ERR_FORMAT, "%s record %zu: %zu fields, expected 7", ir->path,
                                   rec + 1, ir->n_fields);
        index_fields_clear(ir);
        return;
    }
    if (rec == 0) { /* header */
        index_fields_clear(ir);
        return;
    }
    if (ir->count == ir->cap) {
        size_t cap = ir->cap ? 2 * ir->cap : 256;
        entry *e = realloc(ir->entries, cap * sizeof *e);
        if (!e) {
            ir->status = dop_error_set(ir->err, DOP_ERR_NOMEM, "out of memory");
            index_fields_clear(ir);
            return;
        }
        ir->entries = e;
        ir->cap = cap;
    }
    entry *e = &ir->entries[ir->count];
    memset(e, 0, sizeof *e);
    char *end;
    errno = 0;
    unsigned long long row = strtoull(ir->fields[0], &end, 10);
    size_t keylen = strlen(ir->fields[5]);
    int has_error = ir->fields[6][0] != '\0';
    if (*end || !ir->fields[0][0] || errno || (!has_error && keylen != KEY_HEX)) {
        ir->status = dop_error_set(ir->err, DOP_ERR_FORMAT, "%s record %zu: malformed", ir->path, rec + 1);
        index_fields_clear(ir);
        return;
    }
    e->row = (size_t)row;
    e->subject = ir->fields[1];
    e->condition = ir->fields[2];
    e->artery = ir->fields[3];
    e->file = ir->fields[4];
    if (!has_error) memcpy(e->key, ir->fields[5], KEY_HEX + 1);
    free(ir->fields[5]);
    e->error = has_error ? ir->fields[6] : NULL;
    if (!has_error) free(ir->fields[6]);
    free(ir->fields[0]);
    e->results_dir = ir->results_dir;
    ir->n_fields = 0; /* strings now owned by the entry */
    ir->count++;
}

static void entry_strings_free(entry *e)
{
    free((char *)e->subject);
    free((char *)e->condition);
    free((char *)e->artery);
    free((char *)e->file);
    free((char *)e->error);
}

static dop_status index_read(const char *path, const char *results_dir, index_reader *ir, dop_error *err)
{
    ir->path = path;
    ir->results_dir = results_dir;
    ir->record = 0;
    ir->status = DOP_OK;
    ir->err = err;
    FILE *in = fopen(path, "rb");
    if (!in) return dop_error_set(err, DOP_ERR_FORMAT, "%s: cannot open: %s", path, strerror(errno));
    struct csv_parser p;
    if (csv_init(&p, CSV_STRICT | CSV_STRICT_FINI) != 0) {
        fclose(in);
        return dop_error_set(err, DOP_ERR_NOMEM, "out of memory");
    }
    char buf[1 << 16];
    size_t got;
    while (ir->status == DOP_OK && (got = fread(buf, 1, sizeof buf, in)) > 0)
        if (csv_parse(&p, buf, got, index_field, index_record, ir) != got && ir->status == DOP_OK)
            ir->status = dop_error_set(err, DOP_ERR_FORMAT, "%s: malformed CSV (%s)", path,
                                       csv_strerror(csv_error(&p)));
    if (ir->status == DOP_OK && csv_fini(&p, index_field, index_record, ir) != 0 && ir->status == DOP_OK)
        ir->status = dop_error_set(err, DOP_ERR_FORMAT, "%s: malformed CSV at the end", path);
    index_fields_clear(ir);
    csv_free(&p);
    fclose(in);
    return ir->status;
}

static int cmp_entry_row(const void *a, const void *b)
{
    const entry *x = a, *y = b;
    return (x->row > y->row) - (x->row < y->row);
}

static dop_status copy_file(const char *src, const char *dst, dop_error *err)
{
    if (dop_fs_is_file(dst)) return DOP_OK;
    if (link(src, dst) == 0) return DOP_OK;
    FILE *in = fopen(src, "rb");
    if (!in) return dop_error_set(err, DOP_ERR_IO, "%s: cannot open: %s", src, strerror(errno));
    dop_atomic_file *af;
    dop_status st = dop_atomic_open(dst, &af, err);
    if (st != DOP_OK) {
        fclose(in);
        return st;
    }
    char buf[1 << 16];
    size_t got;
    while ((got = fread(buf, 1, sizeof buf, in)) > 0) fwrite(buf, 1, got, dop_atomic_stream(af));
    int bad = ferror(in);
    fclose(in);
    if (bad) {
        dop_atomic_abort(af);
        return dop_error_set(err, DOP_ERR_IO, "%s: read error", src);
    }
    return dop_atomic_commit(af, err);
}

dop_status dop_study_merge(const char *out_dir, const char *const *shard_dirs, size_t n_shards,
                           const char *report_figure, dop_study_summary *summary, dop_error *err)
{
    dop_study_summary sum;
    memset(&sum, 0, sizeof sum);
    if (summary) *summary = sum;
    if (!out_dir || !shard_dirs || n_shards == 0)
        return dop_error_set(err, DOP_ERR_INVALID_ARG, "merge: an output folder and shard folders are required");
    dop_status st = DOP_OK;
    study_meta *metas = calloc(n_shards, sizeof *metas);
    char **results_dirs = calloc(n_shards, sizeof *results_dirs);
    unsigned char *seen = NULL;
    index_reader ir;
    memset(&ir, 0, sizeof ir);
    char *results_out = NULL, *study_dir = NULL, *index_path = NULL, *meta_path = NULL;
    if (!metas || !results_dirs) {
        st = dop_error_set(err, DOP_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < n_shards; i++) {
        if ((st = meta_read(shard_dirs[i], &metas[i], err)) != DOP_OK) goto done;
        const study_meta *a = &metas[0], *b = &metas[i];
        if (strcmp(a->manifest_sha256, b->manifest_sha256) != 0 || strcmp(a->parameters_sha256,
                                                                           b->parameters_sha256) != 0 ||
            strcmp(a->version, b->version) != 0 || a->rows != b->rows || a->shard_count != b->shard_count ||
            strcmp(a->reference, b->reference) != 0 || (!a->epochs) != (!b->epochs) ||
            (a->epochs && strcmp(a->epochs, b->epochs) != 0)) {
            st = dop_error_set(err, DOP_ERR_FORMAT,
                               "%s and %s hold shards of different studies (manifest, parameters, epochs, "
                               "shard count or dopflow version differ)",
                               shard_dirs[0], shard_dirs[i]);
            goto done;
        }
    }
    unsigned count = metas[0].shard_count;
    seen = calloc(count + 1, 1);
    if (!seen) {
        st = dop_error_set(err, DOP_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < n_shards; i++) {
        if (metas[i].shard < 1 || metas[i].shard > count || seen[metas[i].shard]) {
            st = dop_error_set(err, DOP_ERR_FORMAT, "%s: shard %u/%u given twice", shard_dirs[i], metas[i].shard,
                               count);
            goto done;
        }
        seen[metas[i].shard] = 1;
    }
    for (unsigned s = 1; s <= count; s++)
        if (!seen[s]) {
            st = dop_error_set(err, DOP_ERR_FORMAT, "shard %u/%u is missing: give all %u shard folders", s, count,
                               count);
            goto done;
        }
    for (size_t i = 0; i < n_shards; i++) {
        results_dirs[i] = dop_fs_path_join(shard_dirs[i], ".results");
        char *ipath = dop_fs_path_join(shard_dirs[i], ".study/index.csv");
        if (!results_dirs[i] || !ipath) {
            free(ipath);
            st = dop_error_set(err, DOP_ERR_NOMEM, "out of memory");
            goto done;
        }
        st = index_read(ipath, results_dirs[i], &ir, err);
        free(ipath);
        if (st != DOP_OK) goto done;
    }
    qsort(ir.entries, ir.count, sizeof *ir.entries, cmp_entry_row);
    for (size_t i = 0; i < ir.count; i++)
        if (ir.entries[i].row != i) {
            st = dop_error_set(err, DOP_ERR_FORMAT,
                               "the shards do not hold every manifest row exactly once (row %zu); were they "
                               "run with the same --shard N?",
                               i + 1);
            goto done;
        }
    if (ir.count != metas[0].rows) {
        st = dop_error_set(err, DOP_ERR_FORMAT, "the shards hold %zu of the manifest's %zu rows", ir.count,
                           metas[0].rows);
        goto done;
    }

    results_out = dop_fs_path_join(out_dir, ".results");
    study_dir = dop_fs_path_join(out_dir, ".study");
    index_path = dop_fs_path_join(out_dir, ".study/index.csv");
    meta_path = dop_fs_path_join(out_dir, ".study/shard.json");
    if (!results_out || !study_dir || !index_path || !meta_path) {
        st = dop_error_set(err, DOP_ERR_NOMEM, "out of memory");
        goto done;
    }
    if ((st = dop_fs_make_dirs(out_dir, err)) != DOP_OK || (st = dop_fs_make_dirs(results_out, err)) != DOP_OK ||
        (st = dop_fs_make_dirs(study_dir, err)) != DOP_OK)
        goto done;
    /* the merged folder is a complete study folder: results copied in */
    for (size_t i = 0; i < ir.count; i++) {
        entry *e = &ir.entries[i];
        if (e->error) continue;
        char name[KEY_HEX + 16];
        snprintf(name, sizeof name, "%s.csv", e->key);
        char *src = dop_fs_path_join(e->results_dir, name), *dst = dop_fs_path_join(results_out, name);
        if (!src || !dst) st = dop_error_set(err, DOP_ERR_NOMEM, "out of memory");
        else if (strcmp(src, dst) != 0) st = copy_file(src, dst, err);
        free(src);
        free(dst);
        if (st != DOP_OK) goto done;
        snprintf(name, sizeof name, "%s.review.csv", e->key); /* only when the recording had a review */
        src = dop_fs_path_join(e->results_dir, name);
        dst = dop_fs_path_join(results_out, name);
        if (!src || !dst) st = dop_error_set(err, DOP_ERR_NOMEM, "out of memory");
        else if (strcmp(src, dst) != 0 && dop_fs_is_file(src)) st = copy_file(src, dst, err);
        free(src);
        free(dst);
        if (st != DOP_OK) goto done;
        e->results_dir = results_out;
    }
    study_meta merged = metas[0];
    merged.shard = 1;
    merged.shard_count = 1;
    for (size_t i = 0; i < n_shards; i++)
        if (metas[i].shard == 1) merged.command = metas[i].command; /* the first shard's command */
    if ((st = index_write(index_path, ir.entries, ir.count, err)) != DOP_OK) goto done;
    if ((st = meta_write(meta_path, &merged, err)) != DOP_OK) goto done;
    sum.rows = sum.selected = ir.count;
    aggregate_in ag = {out_dir, &merged, ir.entries, ir.count, report_figure};
    st = aggregate(&ag, &sum, err);

done:
    if (summary) *summary = sum;
    for (size_t i = 0; i < ir.count; i++) entry_strings_free(&ir.entries[i]);
    free(ir.entries);
    index_fields_clear(&ir);
    free(ir.fields);
    if (metas)
        for (size_t i = 0; i < n_shards; i++) meta_free(&metas[i]);
    if (results_dirs)
        for (size_t i = 0; i < n_shards; i++) free(results_dirs[i]);
    free(metas);
    free(results_dirs);
    free(seen);
    free(results_out);
    free(study_dir);
    free(index_path);
    free(meta_path);
    return st;
}

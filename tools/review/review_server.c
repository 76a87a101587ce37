/* The review page's web server (see review_server.h). One internal polling
 * thread: requests are handled one at a time, so the model needs no lock
 * (an analysis rerun holds the server for its duration). */
#include "review_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include <jansson.h>
#include <microhttpd.h>

#define BODY_MAX (1u << 20) /* a review body larger than this is refused (413) */

struct review_server {
    struct MHD_Daemon *daemon;
    rm_model *model;
    unsigned port;
    char token[33];
    char host_ip[32], host_name[32]; /* "127.0.0.1:PORT", "localhost:PORT" */
    char origin_ip[48], origin_name[48];
};

typedef struct request {
    char *body;
    size_t len;
    int too_large;
} request;

/* ---- responses -------------------------------------------------------- */

static enum MHD_Result respond(struct MHD_Connection *c, unsigned code, const char *type, const void *data,
                               size_t len, enum MHD_ResponseMemoryMode mode)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(len, (void *)data, mode);
    if (!r) return MHD_NO;
    MHD_add_response_header(r, "Content-Type", type);
    MHD_add_response_header(r, "Cache-Control", "no-store");
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(r, "X-Frame-Options", "DENY");
    MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
    MHD_add_response_header(r, "Content-Security-Policy",
                            "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
                            "connect-src 'self'; img-src 'self' data:; frame-ancestors 'none'");
    enum MHD_Result ret = MHD_queue_response(c, code, r);
    MHD_destroy_response(r);
    return ret;
}

/* {"error": message} with the status code. */
static enum MHD_Result respond_error(struct MHD_Connection *c, unsigned code, const char *message)
{
    json_t *o = json_pack("{s:s}", "error", message);
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (!text) return respond(c, 500, "text/plain", "out of memory", 13, MHD_RESPMEM_PERSISTENT);
    return respond(c, code, "application/json", text, strlen(text), MHD_RESPMEM_MUST_FREE);
}

static enum MHD_Result respond_json(struct MHD_Connection *c, char *text)
{
    if (!text) return respond_error(c, 500, "out of memory");
    return respond(c, 200, "application/json", text, strlen(text), MHD_RESPMEM_MUST_FREE);
}

/* ---- checks ----------------------------------------------------------- */

static int equal_const_time(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    unsigned char diff = la != lb;
    for (size_t i = 0; i < lb; i++) diff |= (unsigned char)(i < la ? a[i] : 0) ^ (unsigned char)b[i];
    return diff == 0;
}

static int host_ok(const review_server *s, struct MHD_Connection *c)
{
    const char *host = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Host");
    return host && (strcmp(host, s->host_ip) == 0 || strcmp(host, s->host_name) == 0);
}

static int token_ok(const review_server *s, struct MHD_Connection *c, int header_only)
{
    const char *t = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Dopflow-Token");
    if (!t && !header_only) t = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "t");
    return t && equal_const_time(t, s->token);
}

/* A cross-site page cannot post here: an Origin, when sent, must be ours. */
static int origin_ok(const review_server *s, struct MHD_Connection *c)
{
    const char *origin = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Origin");
    return !origin || strcmp(origin, s->origin_ip) == 0 || strcmp(origin, s->origin_name) == 0;
}

static int arg_size(struct MHD_Connection *c, const char *name, size_t n, size_t *out)
{
    const char *v = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, name);
    if (!v || !*v) return -1;
    char *end;
    errno = 0;
    unsigned long long x = strtoull(v, &end, 10);
    if (errno || *end || x >= n) return -1;
    *out = (size_t)x;
    return 0;
}

static int arg_double(struct MHD_Connection *c, const char *name, double *out)
{
    const char *v = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, name);
    if (!v || !*v) return -1;
    char *end;
    double x = strtod(v, &end);
    if (*end || !isfinite(x)) return -1;
    *out = x;
    return 0;
}

/* ---- routes ----------------------------------------------------------- */

static enum MHD_Result get_window(review_server *s, struct MHD_Connection *c)
{
    rm_model *m = s->model;
    size_t rec, columns;
    double t0, t1;
    if (arg_size(c, "rec", m->n_recs, &rec) || arg_double(c, "t0", &t0) || arg_double(c, "t1", &t1) ||
        arg_size(c, "w", RM_MAX_COLUMNS + 1, &columns) || !(t1 > t0) || columns == 0)
        return respond_error(c, 400, "window: expected rec, t0 < t1 (s) and w (1 to 4096 columns)");
    if (!m->recs[rec].analysed) return respond_error(c, 409, "recording not analysed yet: open it first");
    return respond_json(c, rm_window_json(m, rec, t0, t1, columns));
}

/* Write the review file atomically: the previous file stays whole until
 * the new one is complete (dop_atomic_*: temporary file, fsync, rename). */
static dop_status write_review(const char *path, const char *text, size_t len, dop_error *err)
{
    dop_atomic_file *af;
    dop_status st = dop_atomic_open(path, &af, err);
    if (st != DOP_OK) return st;
    FILE *f = dop_atomic_stream(af);
    if (fwrite(text, 1, len, f) != len || (len && text[len - 1] != '\n' && fputc('\n', f) == EOF)) {
        dop_atomic_abort(af);
        return dop_error_set(err, DOP_ERR_IO, "%s: write failed", path);
    }
    return dop_atomic_commit(af, err);
}

static enum MHD_Result post_save(review_server *s, struct MHD_Connection *c, const request *req)
{
    rm_model *m = s->model;
    size_t rec;
    if (arg_size(c, "rec", m->n_recs, &rec)) return respond_error(c, 400, "save: expected rec");
    rm_recording *r = &m->recs[rec];
    dop_review *review = NULL;
    dop_error err;
    dop_error_clear(&err);
    dop_status st = dop_review_parse(req->body ? req->body : "", req->len, "review", &review, &err);
    if (st == DOP_OK && r->input_sha256[0])
        st = dop_review_check_input(review, r->input_sha256, "review", r->path, &err);
    dop_review_destroy(review);
    if (st != DOP_OK) return respond_error(c, 400, err.message);
    /* the file as sent, pretty-printed for people reading it */
    json_t *o = json_loadb(req->body, req->len, 0, NULL);
    char *text = o ? json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
    json_decref(o);
    if (!text) return respond_error(c, 500, "out of memory");
    st = write_review(r->review_path, text, strlen(text), &err);
    free(text);
    if (st != DOP_OK) return respond_error(c, 500, err.message);
    m->current = rec;
    rm_analyse(m, rec, &err); /* a failure shows in the state's "error" */
    return respond_json(c, rm_state_json(m, rec));
}

static enum MHD_Result post_open(review_server *s, struct MHD_Connection *c)
{
    rm_model *m = s->model;
    size_t rec;
    if (arg_size(c, "rec", m->n_recs, &rec)) return respond_error(c, 400, "open: expected rec");
    m->current = rec;
    dop_error err;
    if (!m->recs[rec].analysed) rm_analyse(m, rec, &err);
    return respond_json(c, rm_state_json(m, rec));
}

static enum MHD_Result route(review_server *s, struct MHD_Connection *c, const char *url, const char *method,
                             const request *req)
{
    if (!host_ok(s, c)) return respond_error(c, 403, "Host must be the loopback address of this server");
    int post = strcmp(method, "POST") == 0;
    if (!post && strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return respond_error(c, 405, "only GET and POST");
    if (!token_ok(s, c, post)) return respond_error(c, 403, "missing or wrong token");
    if (!post) {
        if (strcmp(url, "/") == 0)
            return respond(c, 200, "text/html; charset=utf-8", review_page_html, review_page_html_len,
                           MHD_RESPMEM_PERSISTENT);
        if (strcmp(url, "/api/state") == 0) {
            size_t rec = s->model->current;
            if (MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "rec") &&
                arg_size(c, "rec", s->model->n_recs, &rec))
                return respond_error(c, 400, "state: rec out of range");
            return respond_json(c, rm_state_json(s->model, rec));
        }
        if (strcmp(url, "/api/window") == 0) return get_window(s, c);
        if (strncmp(url, "/api/", 5) == 0 && (!strcmp(url, "/api/save") || !strcmp(url, "/api/open")))
            return respond_error(c, 405, "state changes are POST only");
        return respond_error(c, 404, "not found");
    }
    if (!origin_ok(s, c)) return respond_error(c, 403, "cross-origin request refused");
    const char *type = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
    if (!type || strncmp(type, "application/json", 16) != 0) return respond_error(c, 415, "body must be application/json");
    if (req->too_large) return respond_error(c, 413, "body too large");
    if (strcmp(url, "/api/save") == 0) return post_save(s, c, req);
    if (strcmp(url, "/api/open") == 0) return post_open(s, c);
    return respond_error(c, 404, "not found");
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                               const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls)
{
    review_server *s = cls;
    (void)version;
    request *req = *con_cls;
    if (!req) { /* headers only: the body (if any) follows */
        req = calloc(1, sizeof *req);
        if (!req) return MHD_NO;
        *con_cls = req;
        return MHD_YES;
    }
    if (*upload_data_size) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (req->too_large || req->len + n > BODY_MAX) {
            req->too_large = 1;
            return MHD_YES;
        }
        char *grown = realloc(req->body, req->len + n + 1);
        if (!grown) return MHD_NO;
        req->body = grown;
        memcpy(req->body + req->len, upload_data, n);
        req->len += n;
        req->body[req->len] = '\0';
        return MHD_YES;
    }
    return route(s, c, url, method, req);
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode why)
{
    (void)cls;
    (void)c;
    (void)why;
    request *req = *con_cls;
    if (req) free(req->body);
    free(req);
    *con_cls = NULL;
}

dop_status review_server_start(rm_model *model, unsigned port, review_server **out, dop_error *err)
{
    *out = NULL;
    review_server *s = calloc(1, sizeof *s);
    if (!s) return dop_error_set(err, DOP_ERR_NOMEM, "out of memory");
    s->model = model;
    unsigned char raw[16];
    if (getrandom(raw, sizeof raw, 0) != (ssize_t)sizeof raw) {
        free(s);
        return dop_error_set(err, DOP_ERR_IO, "no random numbers for the token: %s", strerror(errno));
    }
    for (int i = 0; i < 16; i++) snprintf(s->token + 2 * i, 3, "%02x", raw[i]);
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK); /* loopback only */
    s->daemon = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, (uint16_t)port, NULL, NULL, handler, s,
                                 MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
                                 MHD_OPTION_NOTIFY_COMPLETED, completed, s,
                                 MHD_OPTION_CONNECTION_LIMIT, (unsigned)32,
                                 MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)60, MHD_OPTION_END);
    if (!s->daemon) {
        free(s);
        return dop_error_set(err, DOP_ERR_IO, "cannot listen on 127.0.0.1:%u (in use?)", port);
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
    s->port = info ? info->port : port;
    snprintf(s->host_ip, sizeof s->host_ip, "127.0.0.1:%u", s->port);
    snprintf(s->host_name, sizeof s->host_name, "localhost:%u", s->port);
    snprintf(s->origin_ip, sizeof s->origin_ip, "http://127.0.0.1:%u", s->port);
    snprintf(s->origin_name, sizeof s->origin_name, "http://localhost:%u", s->port);
    *out = s;
    return DOP_OK;
}

unsigned review_server_port(const review_server *s) { return s->port; }
const char *review_server_token(const review_server *s) { return s->token; }

void review_server_stop(review_server *s)
{
    if (!s) return;
    MHD_stop_daemon(s->daemon);
    free(s);
}

/* dopflow review: the page's web server (libmicrohttpd), loopback only.
 *
 * Every request needs the per-run token (query ?t= or header
 * X-Dopflow-Token; 403 without it) and a Host header naming the loopback
 * address and the server's port (403 otherwise: DNS rebinding). State
 * changes are POST only, with the token in the header and a JSON body; a
 * body that is not a valid review file is refused with 400 and nothing is
 * written. Only the page and its API are served, never a file. */
#ifndef DOPFLOW_TOOLS_REVIEW_SERVER_H
#define DOPFLOW_TOOLS_REVIEW_SERVER_H

#include "review_model.h"

typedef struct review_server review_server;

/* Start on 127.0.0.1:port (0 = a free port); the model must outlive it.
 * Errors: DOP_ERR_IO (cannot listen), DOP_ERR_NOMEM. */
dop_status review_server_start(rm_model *model, unsigned port, review_server **out, dop_error *err);
unsigned review_server_port(const review_server *s);
const char *review_server_token(const review_server *s);
void review_server_stop(review_server *s); /* NULL is fine */

/* The page (tools/review/index.html, embedded at build time). */
extern const unsigned char review_page_html[];
extern const unsigned long review_page_html_len;

#endif

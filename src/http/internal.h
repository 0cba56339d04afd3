/* The per-request context, private to src/http. */
#ifndef ALLOT_HTTP_INTERNAL_H
#define ALLOT_HTTP_INTERNAL_H

#include <microhttpd.h>
#include <stdint.h>

#include "allot/buf.h"
#include "allot/http.h"

#define HTTP_MAX_EXTRA_HEADERS 6

struct http_server;

struct http_request {
    struct http_server *server;
    struct app *app;
    struct MHD_Connection *conn;
    const char *method; /* NULL until the head is in (the first access call) */
    const char *path;
    char log_method[64]; /* method and path as the log shows them (escaped) */
    char log_path[256];
    char corr_id[80];
    int64_t started_ns;
    /* A target refused before routing (HTTP_ERR_COUNT_: none), and why. */
    enum http_error target_error;
    const char *target_why;
    char target_field[64]; /* the query parameter to blame, or "" */

    const struct http_route *route;
    char param_buf[512];
    const char *params[HTTP_MAX_PARAMS];
    size_t nparams;

    unsigned role;
    char key_id[40];

    struct buf body;
    size_t body_reserved; /* taken from the body budget for body's buffer */
    size_t body_seen;     /* bytes of body received, kept or not */
    bool has_body;
    json_t *json;
    const char *closed_why; /* the connection was closed mid-body (logged) */

    /* The reply: built by exactly one http_reply_* call. */
    bool replied;
    unsigned status;
    char *reply_body;
    size_t reply_len;
    const char *reply_type;
    struct {
        char name[32];
        char value[512];
    } headers[HTTP_MAX_EXTRA_HEADERS];
    size_t nheaders;
    const char *error_type; /* for the access log line */
    const struct http_error_dialect *dialect; /* errors in another shape, or NULL */
};

/* Client text (a method, a path) as a log shows it: valid UTF-8 but control
 * characters kept, anything else as \xNN; cut to fit out. */
void http_log_escape(const char *in, char *out, size_t outlen);

/* Queues the reply built so far (or a 500 if the handler built none). */
enum MHD_Result http_queue_reply(struct http_request *r);

/* A TCP socket bound to host:port and listening (listen.c); -1 with one line
 * naming ALLOT_LISTEN in err. */
int http_listen_socket(const char *host, uint16_t port, char *err, size_t errlen);

#endif

/* The daemon: libmicrohttpd with its internal thread pool (epoll).  The router
 * alone answers 404, 405, HEAD, authentication, the role check, the body
 * limits and the content type; handlers see a parsed JSON body.
 *
 * A request's context is made in the URI callback (the first one libmicrohttpd
 * makes, before it parses the query), so that a request target allot will not
 * take is answered with the usual JSON error, and freed in the completion
 * callback, which logs the request.  The connection guard (guard.c) bounds what
 * one client may hold: time for its head and body, connections, body memory. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "allot/app.h"
#include "allot/core.h"
#include "allot/http_guard.h"
#include "allot/log.h"
#include "allot/metrics.h"
#include "allot/tls.h"
#include "http/internal.h"

struct http_server {
    struct app *app;
    struct MHD_Daemon *mhd;
    struct http_guard *guard;
    atomic_int inflight;
    int listen_fd;         /* bound, until libmicrohttpd takes it */
    struct http_tls *tls;  /* NULL: plain HTTP; the caller's */
    struct http_service service;
};

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void http_new_corr_id(char out[33])
{
    unsigned char raw[16];
    if (RAND_bytes(raw, sizeof raw) != 1) {
        /* Not a secret: a unique-enough fallback from the clock. */
        int64_t t = mono_ns();
        memcpy(raw, &t, sizeof t);
        memcpy(raw + 8, &t, sizeof t);
    }
    core_hex(raw, sizeof raw, out);
}

/* The error dialect of a path: the first whose prefix is the path or a
 * segment-wise prefix of it ("/scim/v2", "/scim/v2/Users"; not "/scim/v2x"). */
static const struct http_error_dialect *dialect_of(const struct http_service *s, const char *path)
{
    for (size_t i = 0; i < s->ndialects; i++) {
        size_t n = strlen(s->dialects[i].prefix);
        if (strncmp(path, s->dialects[i].prefix, n) == 0 && (path[n] == '\0' || path[n] == '/'))
            return &s->dialects[i];
    }
    return NULL;
}

/* A client's correlation id is kept when it is short and plain. */
static bool corr_id_ok(const char *id)
{
    size_t n = strlen(id);
    if (n == 0 || n > 64)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = id[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.' || c == ':'))
            return false;
    }
    return true;
}

/* application/json, or SCIM's application/scim+json (RFC 7644 section 3.1),
 * with parameters or none. */
static bool is_json_type(const char *ct)
{
    if (ct == NULL)
        return false;
    while (*ct == ' ')
        ct++;
    size_t n = strlen("application/json");
    size_t scim = strlen("application/scim+json");
    if (strncasecmp(ct, "application/json", n) == 0)
        ct += n;
    else if (strncasecmp(ct, "application/scim+json", scim) == 0)
        ct += scim;
    else
        return false;
    while (*ct == ' ')
        ct++;
    return *ct == '\0' || *ct == ';';
}

static bool authenticate(struct http_request *r)
{
    const char *h = http_header(r, MHD_HTTP_HEADER_AUTHORIZATION);
    if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0 || h[7] == '\0') {
        http_add_header(r, "WWW-Authenticate", "Bearer");
        http_reply_error(r, HTTP_ERR_UNAUTHORIZED, NULL, NULL);
        return false;
    }
    switch (r->server->service.authenticate(r->app, h + 7, &r->role, r->key_id)) {
    case HTTP_AUTH_OK:
        break;
    case HTTP_AUTH_UNKNOWN:
        http_add_header(r, "WWW-Authenticate", "Bearer");
        http_reply_error(r, HTTP_ERR_UNAUTHORIZED, NULL, "The API key is not known");
        return false;
    case HTTP_AUTH_UNAVAILABLE:
        http_reply_error(r, HTTP_ERR_UNAVAILABLE, NULL, NULL);
        return false;
    }
    if ((r->route->roles & r->role) == 0) {
        http_reply_error(r, HTTP_ERR_FORBIDDEN, NULL, "The %s role may not %s %s",
                         http_role_name(r->role), r->method, r->route->pattern);
        return false;
    }
    return true;
}

/* Everything decided from the request line and headers.  False when a reply
 * is already built. */
static bool begin(struct http_request *r)
{
    char allow[96];
    switch (http_route_match(r->server->service.routes, r->server->service.nroutes, r->method,
                             r->path, &r->route,
                             r->param_buf, sizeof r->param_buf, r->params, &r->nparams, allow,
                             sizeof allow)) {
    case ROUTE_FOUND:
        break;
    case ROUTE_NO_PATH:
        http_reply_error(r, HTTP_ERR_NOT_FOUND, NULL, "No such path: %.200s", r->path);
        return false;
    case ROUTE_NO_METHOD:
        http_add_header(r, "Allow", allow);
        http_reply_error(r, HTTP_ERR_METHOD_NOT_ALLOWED, NULL, "%s is not allowed on %.200s; allowed: %s",
                         r->method, r->path, allow);
        return false;
    }
    if (r->route->roles != ROLE_PUBLIC) {
        if (!db_schema_ready(r->app)) {
            http_reply_error(r, HTTP_ERR_UNAVAILABLE, NULL,
                             "The database schema is older than this allotd; run `allotd migrate`");
            return false;
        }
        if (!authenticate(r))
            return false;
    }
    const char *cl = http_header(r, MHD_HTTP_HEADER_CONTENT_LENGTH);
    const char *te = http_header(r, MHD_HTTP_HEADER_TRANSFER_ENCODING);
    unsigned long long declared = cl ? strtoull(cl, NULL, 10) : 0;
    if (declared > HTTP_BODY_LIMIT) {
        http_reply_error(r, HTTP_ERR_PAYLOAD_TOO_LARGE, NULL, NULL);
        return false;
    }
    r->has_body = declared > 0 || te != NULL;
    if (declared > 0 && declared + 1 > http_guard_body_free(r->server->guard)) {
        http_reply_error(r, HTTP_ERR_UNAVAILABLE, NULL,
                         "The server holds as many request bodies as it may; try again");
        return false;
    }
    if (r->route->needs_body && r->has_body &&
        !is_json_type(http_header(r, MHD_HTTP_HEADER_CONTENT_TYPE))) {
        http_reply_error(r, HTTP_ERR_UNSUPPORTED_MEDIA_TYPE, NULL,
                         "The body must be JSON (Content-Type: application/json or "
                         "application/scim+json)");
        return false;
    }
    return true;
}

/* Frees the raw body and gives its memory back to the body budget. */
static void body_release(struct http_request *r)
{
    buf_free(&r->body);
    http_guard_body_give(r->server->guard, r->body_reserved);
    r->body_reserved = 0;
}

/* The whole body is in: parse it once and run the handler. */
static void finish(struct http_request *r)
{
    if (r->body.overflow) {
        http_reply_error(r, HTTP_ERR_PAYLOAD_TOO_LARGE, NULL, NULL);
        return;
    }
    if (r->route->needs_body) {
        if (r->body.len == 0) {
            http_reply_error(r, HTTP_ERR_BAD_REQUEST, NULL, "A JSON object body is required");
            return;
        }
        json_error_t jerr;
        r->json = json_loadb(r->body.data, r->body.len, JSON_REJECT_DUPLICATES, &jerr);
        body_release(r); /* parsed: the raw body's memory goes back to the budget */
        if (r->json == NULL) {
            http_reply_error(r, HTTP_ERR_BAD_REQUEST, NULL, "Malformed JSON: %s (line %d, column %d)",
                             jerr.text, jerr.line, jerr.column);
            return;
        }
    }
    r->route->handler(r);
}

/* A request target allot refuses before libmicrohttpd parses it: too long,
 * too many query parameters (each costs a record in the connection's memory
 * pool, and a pool that runs out ends the connection without a reply), or a
 * %00 (a NUL byte, which would cut the path or a value short; in the query,
 * the parameter is named).  Sets r->target_error (HTTP_ERR_COUNT_: fine). */
static void check_target(struct http_request *r, const char *uri)
{
    r->target_error = HTTP_ERR_COUNT_;
    const char *query = strchr(uri, '?');
    if (strlen(uri) > HTTP_MAX_TARGET) {
        r->target_error = HTTP_ERR_URI_TOO_LONG;
        r->target_why = "The request target is longer than 8192 bytes";
        return;
    }
    if (query != NULL) {
        size_t params = 1;
        for (const char *p = query + 1; *p != '\0'; p++)
            params += *p == '&' || *p == ';';
        if (params > HTTP_MAX_QUERY_PARAMS) {
            r->target_error = HTTP_ERR_URI_TOO_LONG;
            r->target_why = "The query has more than 64 parameters";
            return;
        }
    }
    for (const char *p = strchr(uri, '%'); p != NULL; p = strchr(p + 1, '%')) {
        if (p[1] != '0' || p[2] != '0')
            continue;
        r->target_error = HTTP_ERR_BAD_REQUEST;
        r->target_why = "The request target contains %00 (a NUL byte)";
        if (query != NULL && p > query) {
            const char *name = query + 1;
            for (const char *q = query + 1; q < p; q++)
                if (*q == '&' || *q == ';')
                    name = q + 1;
            size_t len = strcspn(name, "=&;");
            if (name + len > p)
                len = (size_t)(p - name);
            snprintf(r->target_field, sizeof r->target_field, "%.*s", (int)len, name);
            r->target_why = "A query parameter contains %00 (a NUL byte)";
        }
        return;
    }
}

/* libmicrohttpd's URI callback: the first one of a request, before the query
 * is parsed.  Makes the request's context (it becomes *con_cls). */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
    struct http_server *s = cls;
    struct http_request *r = calloc(1, sizeof *r);
    if (r == NULL)
        return NULL;
    atomic_fetch_add(&s->inflight, 1);
    r->server = s;
    r->app = s->app;
    r->conn = conn;
    r->started_ns = mono_ns();
    buf_init(&r->body, HTTP_BODY_LIMIT);
    check_target(r, uri);
    if (r->target_error == HTTP_ERR_URI_TOO_LONG) {
        /* Keep libmicrohttpd from storing the parameters: the query is cut
         * here, in its own buffer, which it is about to cut at the '?' anyway. */
        char *query = strchr((char *)(uintptr_t)uri, '?');
        if (query != NULL)
            query[1] = '\0';
    }
    return r;
}

/* The first call of the access handler: the head is in. */
static enum MHD_Result start(struct http_request *r, const char *url, const char *method)
{
    r->method = method;
    r->path = url;
    http_log_escape(method, r->log_method, sizeof r->log_method);
    http_log_escape(url, r->log_path, sizeof r->log_path);
    r->dialect = dialect_of(&r->server->service, url);
    const char *given =
        MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "X-Correlation-Id");
    if (given != NULL && corr_id_ok(given))
        snprintf(r->corr_id, sizeof r->corr_id, "%s", given);
    else
        http_new_corr_id(r->corr_id);
    bool go = true;
    if (r->target_error != HTTP_ERR_COUNT_) {
        http_reply_error(r, r->target_error, r->target_field[0] != '\0' ? r->target_field : NULL,
                         "%s", r->target_why);
        go = false;
    } else {
        go = begin(r);
    }
    /* A body still to come has its deadline, answered or not. */
    const char *cl = http_header(r, MHD_HTTP_HEADER_CONTENT_LENGTH);
    bool body_next = http_header(r, MHD_HTTP_HEADER_TRANSFER_ENCODING) != NULL ||
                     (cl != NULL && strtoull(cl, NULL, 10) > 0);
    http_guard_phase(r->conn, body_next ? HTTP_GUARD_BODY : HTTP_GUARD_BUSY);
    return go ? MHD_YES : http_queue_reply(r);
}

/* A body over the 1 MiB cap, known only while it arrives (chunked): the
 * connection is closed at once instead of reading on, because libmicrohttpd
 * (0.9.75) can send no reply in the middle of a body.  The access line says
 * why.  (A declared Content-Length over the cap is answered 413 from the head.) */
static enum MHD_Result body_refused(struct http_request *r)
{
    r->status = 413;
    r->error_type = http_error_get(HTTP_ERR_PAYLOAD_TOO_LARGE)->type;
    r->closed_why = "the body passed the 1 MiB limit";
    return MHD_NO;
}

/* Appends a piece of the body within the process's body budget: the buffer
 * grows by doubling and each growth is taken from the budget first.  False
 * when the budget is spent: the connection is closed, as for body_refused. */
static bool body_append(struct http_request *r, const char *data, size_t n)
{
    size_t need = r->body.len + n + 1; /* body_seen kept it within the limit */
    if (need > r->body_reserved) {
        size_t cap = r->body_reserved < 4096 ? 4096 : 2 * r->body_reserved;
        if (cap < need)
            cap = need;
        if (cap > HTTP_BODY_LIMIT + 1)
            cap = HTTP_BODY_LIMIT + 1;
        if (!http_guard_body_take(r->server->guard, cap - r->body_reserved)) {
            r->status = 503;
            r->error_type = http_error_get(HTTP_ERR_UNAVAILABLE)->type;
            r->closed_why = "the request bodies in flight hold all of ALLOT_BODY_MEMORY_MB";
            return false;
        }
        r->body_reserved = cap;
        if (!buf_grow_to(&r->body, cap)) {
            r->status = 503;
            r->closed_why = "out of memory for the body";
            return false;
        }
    }
    return buf_append(&r->body, data, n);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_size, void **con_cls)
{
    (void)version;
    (void)conn;
    (void)cls;
    struct http_request *r = *con_cls;
    if (r == NULL) /* out of memory in on_uri */
        return MHD_NO;
    if (r->method == NULL)
        return start(r, url, method);
    if (*upload_size > 0) {
        size_t n = *upload_size;
        *upload_size = 0;
        if (r->replied) /* answered early: what the client still sends is dropped */
            return MHD_YES;
        r->body_seen += n;
        if (r->body_seen > HTTP_BODY_LIMIT)
            return body_refused(r);
        if (!r->route->needs_body) /* a body the route does not read is dropped */
            return MHD_YES;
        return body_append(r, upload_data, n) ? MHD_YES : MHD_NO;
    }
    http_guard_phase(r->conn, HTTP_GUARD_BUSY);
    if (r->replied)
        return MHD_YES; /* queued already */
    finish(r);
    return http_queue_reply(r);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct http_server *s = cls;
    struct http_request *r = *con_cls;
    if (r == NULL)
        return;
    double seconds = (double)(mono_ns() - r->started_ns) / 1e9;
    unsigned status = r->replied || r->closed_why != NULL ? r->status : 0;
    struct log_access line = {
        .corr_id = r->method != NULL ? r->corr_id : NULL,
        .method = r->method != NULL ? r->log_method : NULL,
        .path = r->method != NULL ? r->log_path : NULL,
        .error_type = r->error_type, .status = status, .ms = seconds * 1000.0,
        .terminated = toe != MHD_REQUEST_TERMINATED_COMPLETED_OK ? (int)toe : 0,
        .note = r->closed_why != NULL ? r->closed_why
                : r->method == NULL ? "a request ended before allotd saw its whole head (the "
                                      "client left or was too slow, or libmicrohttpd refused the "
                                      "head)"
                                    : NULL,
    };
    log_access_line(&line);
    if (r->method != NULL)
        metrics_observe(r->app->metrics, r->route ? r->route->pattern : "unmatched", r->log_method,
                        status, seconds);
    body_release(r);
    json_decref(r->json);
    free(r->reply_body);
    free(r);
    *con_cls = NULL;
    atomic_fetch_sub(&s->inflight, 1);
    /* A kept-alive connection now waits for its next request head. */
    http_guard_phase(conn, HTTP_GUARD_HEAD);
}

/* The guard of allotd's connections, from the configuration. */
static struct http_guard *guard_new(const struct config *cfg)
{
    struct http_guard_options o = {
        .max_connections = (unsigned)cfg->max_connections,
        .per_address = (unsigned)cfg->max_connections_per_address,
        .head_timeout_ms = cfg->header_timeout * 1000,
        .body_timeout_ms = cfg->body_timeout * 1000,
        .body_budget = (size_t)cfg->body_memory_mb << 20,
        .connection_memory = HTTP_CONNECTION_MEMORY,
        .name = "allotd",
    };
    return http_guard_new(&o);
}

struct http_server *http_server_bind(struct app *a, const struct http_service *service,
                                     struct http_tls *tls, char *err, size_t errlen)
{
    struct http_server *s = calloc(1, sizeof *s);
    if (s == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    s->app = a;
    s->service = *service;
    s->tls = tls;
    s->listen_fd = http_listen_socket(a->cfg->listen_host, a->cfg->listen_port, err, errlen);
    if (s->listen_fd < 0) {
        free(s);
        return NULL;
    }
    return s;
}

bool http_server_start(struct http_server *s, char *err, size_t errlen)
{
    struct app *a = s->app;
    s->guard = guard_new(a->cfg);
    if (s->guard == NULL) {
        snprintf(err, errlen, "cannot start the connection guard");
        return false;
    }
    struct MHD_OptionItem tls_opts[HTTP_TLS_MHD_OPTIONS];
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC |
                     MHD_USE_ERROR_LOG | http_tls_mhd_options(s->tls, tls_opts);
    int fd = s->listen_fd;
    s->listen_fd = -1; /* libmicrohttpd's from here, started or not */
    s->mhd = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, s,
        /* first, so that every message of libmicrohttpd comes to our log */
        MHD_OPTION_EXTERNAL_LOGGER, http_guard_mhd_log, (void *)s->guard,
        MHD_OPTION_LISTEN_SOCKET, fd,
        MHD_OPTION_ARRAY, tls_opts,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)a->cfg->threads,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)a->cfg->request_timeout,
        MHD_OPTION_ARRAY, http_guard_mhd_options(s->guard),
        MHD_OPTION_URI_LOG_CALLBACK, on_uri, s,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
        MHD_OPTION_END);
    if (s->mhd == NULL) {
        snprintf(err, errlen, "ALLOT_LISTEN: cannot serve on %s:%u (libmicrohttpd did not start; "
                 "its log line says why)", a->cfg->listen_host, a->cfg->listen_port);
        return false;
    }
    return true;
}

void http_server_stop(struct http_server *s, int64_t timeout_s)
{
    if (s == NULL)
        return;
    if (s->mhd == NULL) { /* bound, never started */
        if (s->listen_fd >= 0)
            close(s->listen_fd);
        http_guard_free(s->guard);
        free(s);
        return;
    }
    MHD_socket fd = MHD_quiesce_daemon(s->mhd);
    if (fd != MHD_INVALID_SOCKET)
        close(fd);
    int64_t deadline = mono_ns() + timeout_s * 1000000000;
    while (atomic_load(&s->inflight) > 0 && mono_ns() < deadline) {
        struct timespec ts = {.tv_sec = 0, .tv_nsec = 20 * 1000000};
        nanosleep(&ts, NULL);
    }
    int left = atomic_load(&s->inflight);
    if (left > 0)
        log_warn(NULL, "stopping with %d requests still in flight", left);
    MHD_stop_daemon(s->mhd);
    http_guard_free(s->guard);
    free(s);
}

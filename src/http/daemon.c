/* The daemon: libmicrohttpd with its internal thread pool (epoll).  The router
 * alone answers 404, 405, HEAD, authentication, the role check, the body
 * limits and the content type; handlers see a parsed JSON body. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "allot/app.h"
#include "allot/auth.h"
#include "allot/log.h"
#include "allot/metrics.h"
#include "allot/tls.h"
#include "http/internal.h"

struct http_server {
    struct app *app;
    struct MHD_Daemon *mhd;
    atomic_int inflight;
    int listen_fd;         /* bound, until libmicrohttpd takes it */
    struct http_tls *tls;  /* NULL: plain HTTP; the caller's */
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
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < sizeof raw; i++) {
        out[2 * i] = hex[raw[i] >> 4];
        out[2 * i + 1] = hex[raw[i] & 15];
    }
    out[32] = '\0';
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

static bool is_json_type(const char *ct)
{
    if (ct == NULL)
        return false;
    while (*ct == ' ')
        ct++;
    size_t n = strlen("application/json");
    if (strncasecmp(ct, "application/json", n) != 0)
        return false;
    ct += n;
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
    switch (auth_check(r->app, h + 7, &r->role, r->key_id)) {
    case AUTH_OK:
        break;
    case AUTH_UNKNOWN:
        http_add_header(r, "WWW-Authenticate", "Bearer");
        http_reply_error(r, HTTP_ERR_UNAUTHORIZED, NULL, "The API key is not known");
        return false;
    case AUTH_UNAVAILABLE:
        http_reply_error(r, HTTP_ERR_UNAVAILABLE, NULL, NULL);
        return false;
    }
    if ((r->route->roles & r->role) == 0) {
        http_reply_error(r, HTTP_ERR_FORBIDDEN, NULL, "The %s role may not %s %s",
                         auth_role_name(r->role), r->method, r->route->pattern);
        return false;
    }
    return true;
}

/* Everything decided from the request line and headers.  False when a reply
 * is already built. */
static bool begin(struct http_request *r)
{
    char allow[96];
    switch (http_route_match(http_routes, http_routes_count, r->method, r->path, &r->route,
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
        if (!app_schema_ready(r->app)) {
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
    if (r->route->needs_body && r->has_body &&
        !is_json_type(http_header(r, MHD_HTTP_HEADER_CONTENT_TYPE))) {
        http_reply_error(r, HTTP_ERR_UNSUPPORTED_MEDIA_TYPE, NULL,
                         "The body must be JSON (Content-Type: application/json)");
        return false;
    }
    return true;
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
        if (r->json == NULL) {
            http_reply_error(r, HTTP_ERR_BAD_REQUEST, NULL, "Malformed JSON: %s (line %d, column %d)",
                             jerr.text, jerr.line, jerr.column);
            return;
        }
    }
    r->route->handler(r);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_size, void **con_cls)
{
    (void)version;
    struct http_server *s = cls;
    struct http_request *r = *con_cls;
    if (r == NULL) {
        r = calloc(1, sizeof *r);
        if (r == NULL)
            return MHD_NO;
        *con_cls = r;
        atomic_fetch_add(&s->inflight, 1);
        r->app = s->app;
        r->conn = conn;
        r->method = method;
        r->path = url;
        r->started_ns = mono_ns();
        buf_init(&r->body, HTTP_BODY_LIMIT);
        const char *given = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Correlation-Id");
        if (given != NULL && corr_id_ok(given))
            snprintf(r->corr_id, sizeof r->corr_id, "%s", given);
        else
            http_new_corr_id(r->corr_id);
        if (!begin(r))
            return http_queue_reply(r);
        return MHD_YES;
    }
    if (r->replied) { /* answered early: discard what the client still sends */
        *upload_size = 0;
        return MHD_YES;
    }
    if (*upload_size > 0) {
        if (r->route->needs_body && !r->body.overflow)
            buf_append(&r->body, upload_data, *upload_size);
        *upload_size = 0;
        return MHD_YES;
    }
    finish(r);
    return http_queue_reply(r);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)conn;
    struct http_server *s = cls;
    struct http_request *r = *con_cls;
    if (r == NULL)
        return;
    double seconds = (double)(mono_ns() - r->started_ns) / 1e9;
    unsigned status = r->replied ? r->status : 0;
    struct log_access line = {
        .corr_id = r->corr_id, .method = r->method, .path = r->path,
        .error_type = r->error_type, .status = status, .ms = seconds * 1000.0,
        .terminated = toe != MHD_REQUEST_TERMINATED_COMPLETED_OK ? (int)toe : 0,
    };
    log_access_line(&line);
    metrics_observe(r->app->metrics, r->route ? r->route->pattern : "unmatched", r->method, status,
                    seconds);
    buf_free(&r->body);
    json_decref(r->json);
    free(r->reply_body);
    free(r);
    *con_cls = NULL;
    atomic_fetch_sub(&s->inflight, 1);
}

struct http_server *http_server_bind(struct app *a, struct http_tls *tls, char *err,
                                     size_t errlen)
{
    struct http_server *s = calloc(1, sizeof *s);
    if (s == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    s->app = a;
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
    struct MHD_OptionItem tls_opts[HTTP_TLS_MHD_OPTIONS];
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC |
                     MHD_USE_ERROR_LOG | http_tls_mhd_options(s->tls, tls_opts);
    int fd = s->listen_fd;
    s->listen_fd = -1; /* libmicrohttpd's from here, started or not */
    s->mhd = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, s,
        /* first, so that every message of libmicrohttpd comes to our log */
        MHD_OPTION_EXTERNAL_LOGGER, log_external, (void *)"libmicrohttpd",
        MHD_OPTION_LISTEN_SOCKET, fd,
        MHD_OPTION_ARRAY, tls_opts,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)a->cfg->threads,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)a->cfg->max_connections,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)a->cfg->request_timeout,
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
    free(s);
}

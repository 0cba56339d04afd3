/* allot-authority serve: answers the syncs of sites over HTTP (libmicrohttpd).
 *
 *   POST /v1/licenses/NUMBER/sync  the sync protocol (include/allot/sync_protocol.h)
 *   GET  /v1/licenses/NUMBER       what is recorded of NUMBER, for a bearer of its
 *                                  license key (never the key itself)
 *
 * Anything else is 404; another method on these paths 405 with Allow.  Errors are
 * {"error": "..."}.  GET answers every refusal alike (no key, a wrong key, a key
 * of another license, a number nothing is recorded for: the same 401), so that
 * nobody learns from it which license numbers exist; the log says which.  One request context is made on the first callback and freed
 * in the completion callback, which logs the request as one JSON line (method,
 * path, status, ms; never the bearer key).  The state is read and written on
 * every sync (state.c), so a `revoke` run meanwhile counts at the next sync.
 */
#include "authority.h"
#include "allot/http_guard.h"
#include "allot/log.h"
#include "allot/tls.h"

#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>
#include <openssl/crypto.h>

#define THREADS 4
#define PATH_LOG_MAX 200
#define DRAIN_SECONDS 5
/* What sites may hold of the server (include/allot/http_guard.h); the flags
 * of `serve` change the first four. */
#define DEFAULT_MAX_CONNECTIONS 1024
#define DEFAULT_PER_ADDRESS 32
#define DEFAULT_HEADER_TIMEOUT "10s"
#define DEFAULT_BODY_TIMEOUT "30s"
#define BODY_BUDGET ((size_t)64 << 20)        /* 1024 bodies of SYNC_BODY_MAX */
#define CONNECTION_MEMORY ((size_t)128 * 1024) /* the head of a sync: a license key */

struct server {
    EVP_PKEY *priv;            /* signs replies */
    EVP_PKEY *pub;             /* verifies bearer keys */
    const char *state_dir;
    struct http_guard *guard;
    atomic_int inflight;
};

enum route { ROUTE_NONE, ROUTE_SYNC, ROUTE_STATE };

struct request {
    struct timespec start;
    char method[16];
    char path[PATH_LOG_MAX + 1];   /* printable ASCII, for the log */
    enum route route;
    char number[LIC_NUMBER_MAX + 1];
    char *bearer;                  /* the presented license key (cleansed when freed) */
    int64_t bearer_iat;
    char *body;
    size_t len, cap;               /* cap is taken from the guard's body budget */
    bool too_large;
    bool answered;
    unsigned status;
    char message[300];             /* the log line's message */
    json_t *log_extra;             /* more members of the log line, or NULL */
};

static int64_t now_s(void)
{
    return (int64_t)time(NULL);
}

/* ---- replies ------------------------------------------------------------------ */

/* Queues `body` (malloc'd, taken) with status; logs `message`.  Exactly one per
 * request. */
static enum MHD_Result reply(struct MHD_Connection *conn, struct request *r, unsigned status,
                             const char *content_type, char *body, const char *allow,
                             const char *message)
{
    size_t len = body != NULL ? strlen(body) : 0;
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    if (resp == NULL) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(resp, "Content-Type", content_type);
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    if (allow != NULL)
        MHD_add_response_header(resp, "Allow", allow);
    if (status == 401)
        MHD_add_response_header(resp, "WWW-Authenticate", "Bearer realm=\"allot-authority\"");
    enum MHD_Result ok = MHD_queue_response(conn, status, resp);
    MHD_destroy_response(resp);
    r->answered = true;
    r->status = status;
    snprintf(r->message, sizeof r->message, "%.280s", message ? message : "");
    return ok;
}

static enum MHD_Result reply_error(struct MHD_Connection *conn, struct request *r,
                                   unsigned status, const char *allow, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static enum MHD_Result reply_error(struct MHD_Connection *conn, struct request *r,
                                   unsigned status, const char *allow, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    json_t *o = json_pack("{s:s}", "error", msg);
    if (o == NULL) /* a reason quoting bytes that are not UTF-8 */
        o = json_pack("{s:s}", "error", "bad request");
    char *text = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (text == NULL)
        return MHD_NO;
    char logmsg[600];
    snprintf(logmsg, sizeof logmsg, "refused: %s", msg);
    return reply(conn, r, status, "application/json", text, allow, logmsg);
}

/* ---- routes ------------------------------------------------------------------- */

/* /v1/licenses/NUMBER or /v1/licenses/NUMBER/sync, NUMBER 1..32 digits. */
static enum route match(const char *url, char number[LIC_NUMBER_MAX + 1])
{
    static const char prefix[] = "/v1/licenses/";
    if (strncmp(url, prefix, sizeof prefix - 1) != 0)
        return ROUTE_NONE;
    const char *p = url + sizeof prefix - 1;
    size_t n = strspn(p, "0123456789");
    if (n == 0 || n > LIC_NUMBER_MAX)
        return ROUTE_NONE;
    enum route route = p[n] == '\0' ? ROUTE_STATE : strcmp(p + n, "/sync") == 0 ? ROUTE_SYNC
                                                                               : ROUTE_NONE;
    memcpy(number, p, n);
    number[n] = '\0';
    return route;
}

/* application/json, parameters (charset=utf-8) allowed. */
static bool is_json(const char *ct)
{
    static const char json[] = "application/json";
    return ct != NULL && strncasecmp(ct, json, sizeof json - 1) == 0 &&
           (ct[sizeof json - 1] == '\0' || ct[sizeof json - 1] == ';' ||
            ct[sizeof json - 1] == ' ');
}

/* The bearer key: verified by the authority's key, for the license of the path.
 * An expired (or not yet valid) key is still answered: the site learns the
 * current definition and whether the license is revoked.  False with the
 * reason in why; on success r->bearer holds a copy of the key. */
static bool bearer_valid(struct server *s, struct MHD_Connection *conn, struct request *r,
                         char *why, size_t whylen)
{
    const char *auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
    if (auth == NULL || strncasecmp(auth, "Bearer ", 7) != 0) {
        snprintf(why, whylen, "missing Authorization: Bearer <license key>");
        return false;
    }
    const char *token = auth + 7;
    while (*token == ' ')
        token++;
    struct lic_license lic;
    char reason[300];
    enum lic_result lr = lic_verify_key(token, s->pub, now_s(), &lic, NULL, reason, sizeof reason);
    if (lr != LIC_OK && lr != LIC_EXPIRED && lr != LIC_NOT_YET_VALID) {
        snprintf(why, whylen, "the license key is not valid: %s", reason);
        return false;
    }
    if (strcmp(lic.license_number, r->number) != 0) {
        snprintf(why, whylen, "the license key is for another license");
        return false;
    }
    r->bearer = strdup(token);
    if (r->bearer == NULL) {
        snprintf(why, whylen, "out of memory");
        return false;
    }
    r->bearer_iat = lic.iat;
    return true;
}

static enum MHD_Result check_bearer(struct server *s, struct MHD_Connection *conn,
                                    struct request *r)
{
    char why[400];
    if (!bearer_valid(s, conn, r, why, sizeof why))
        return reply_error(conn, r, 401, NULL, "%s", why);
    return MHD_YES;
}

/* The one answer of GET to whoever may not see the state; why goes to the log. */
static enum MHD_Result refuse_state(struct MHD_Connection *conn, struct request *r,
                                    const char *why)
{
    char *text = strdup("{\"error\":\"a license key of this license is required\"}");
    if (text == NULL)
        return MHD_NO;
    char logmsg[450];
    snprintf(logmsg, sizeof logmsg, "refused: %.400s", why);
    return reply(conn, r, 401, "application/json", text, NULL, logmsg);
}

static enum MHD_Result get_state(struct server *s, struct MHD_Connection *conn,
                                 struct request *r)
{
    char why[512];
    if (!bearer_valid(s, conn, r, why, sizeof why))
        return refuse_state(conn, r, why);
    struct astate st;
    int found = astate_read(s->state_dir, r->number, &st, why, sizeof why);
    json_t *o = found > 0 ? astate_public_json(&st) : NULL;
    astate_free(&st);
    if (found == 0)
        return refuse_state(conn, r, "nothing is recorded for this license");
    char *text = o != NULL ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(o);
    if (text == NULL) {
        log_error(NULL, "license %s: %s", r->number, found < 0 ? why : "cannot encode");
        return reply_error(conn, r, 500, NULL, "cannot read the state of license %s", r->number);
    }
    return reply(conn, r, 200, "application/json", text, NULL, "state shown");
}

/* First callback: route, method, and for a sync the headers (key, type, size). */
static enum MHD_Result begin(struct server *s, struct MHD_Connection *conn, struct request *r)
{
    if (r->route == ROUTE_NONE)
        return reply_error(conn, r, 404, NULL, "no such path");
    bool get = strcmp(r->method, "GET") == 0 || strcmp(r->method, "HEAD") == 0;
    if (r->route == ROUTE_STATE)
        return get ? get_state(s, conn, r)
                   : reply_error(conn, r, 405, "GET, HEAD", "method %s not allowed", r->method);
    if (strcmp(r->method, "POST") != 0)
        return reply_error(conn, r, 405, "POST", "method %s not allowed", r->method);
    enum MHD_Result ok = check_bearer(s, conn, r);
    if (r->answered)
        return ok;
    if (!is_json(MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Type")))
        return reply_error(conn, r, 415, NULL, "the body must be application/json");
    const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
    int64_t declared = 0;
    if (cl != NULL && authority_parse_i64(cl, 0, INT64_MAX, &declared) &&
        declared > SYNC_BODY_MAX)
        return reply_error(conn, r, 413, NULL, "the body is over %d bytes", SYNC_BODY_MAX);
    return MHD_YES;
}

/* Keeps a piece of the body; false (the connection is then closed: no reply
 * can be sent in the middle of a body) when the body passes SYNC_BODY_MAX or
 * the bodies in flight hold the whole budget. */
static bool append(struct server *s, struct request *r, const char *data, size_t n)
{
    if (n > SYNC_BODY_MAX - r->len) {
        r->too_large = true;
        r->status = 413;
        snprintf(r->message, sizeof r->message, "connection closed: the body is over %d bytes",
                 SYNC_BODY_MAX);
        return false;
    }
    if (r->len + n > r->cap) {
        size_t cap = r->cap != 0 ? r->cap : 1024;
        while (cap < r->len + n)
            cap *= 2;
        if (cap > SYNC_BODY_MAX)
            cap = SYNC_BODY_MAX;
        char *b = NULL;
        if (http_guard_body_take(s->guard, cap - r->cap)) {
            b = realloc(r->body, cap);
            if (b == NULL)
                http_guard_body_give(s->guard, cap - r->cap);
        }
        if (b == NULL) {
            r->status = 503;
            snprintf(r->message, sizeof r->message,
                     "connection closed: the bodies in flight hold all the memory for bodies");
            return false;
        }
        r->body = b;
        r->cap = cap;
    }
    memcpy(r->body + r->len, data, n);
    r->len += n;
    return true;
}

/* ---- the sync ----------------------------------------------------------------- */

struct sync_change {
    const struct sync_request *req;
    const char *bearer;
    int64_t bearer_iat;
    int64_t now;
};

/* Records the sync; a presented key newer than the recorded one becomes the
 * current definition (the recorded one is kept otherwise: a vendor's new key). */
static int record_sync(struct astate *st, void *arg, char *why, size_t whylen)
{
    const struct sync_change *c = arg;
    if (st->definition == NULL || c->bearer_iat > st->definition_iat) {
        char *copy = strdup(c->bearer);
        if (copy == NULL) {
            snprintf(why, whylen, "out of memory");
            return -1;
        }
        astate_free(st);
        st->definition = copy;
        st->definition_iat = c->bearer_iat;
    }
    st->sync_count++;
    st->synced = true;
    st->last_sync_at = c->now;
    memcpy(st->site, c->req->site, sizeof st->site);
    st->assignments = c->req->assignments;
    st->site_definition_iat = c->req->definition_issued_at;
    return 0;
}

static enum MHD_Result finish_sync(struct server *s, struct MHD_Connection *conn,
                                   struct request *r)
{
    if (r->too_large)
        return reply_error(conn, r, 413, NULL, "the body is over %d bytes", SYNC_BODY_MAX);
    json_error_t jerr;
    json_t *body = json_loadb(r->body != NULL ? r->body : "", r->len, JSON_REJECT_DUPLICATES,
                              &jerr);
    if (body == NULL)
        return reply_error(conn, r, 400, NULL, "the body is not JSON: %s", jerr.text);
    struct sync_request req;
    char why[512];
    bool ok = sync_request_parse(body, &req, why, sizeof why);
    json_decref(body);
    if (!ok)
        return reply_error(conn, r, 400, NULL, "%s", why);
    if (strcmp(req.license_number, r->number) != 0)
        return reply_error(conn, r, 400, NULL, "licenseNumber: not the license of the path");

    struct sync_change change = {&req, r->bearer, r->bearer_iat, now_s()};
    struct astate st;
    if (astate_update(s->state_dir, r->number, record_sync, &change, &st, why, sizeof why) != 0) {
        log_error(NULL, "license %s: %s", r->number, why);
        astate_free(&st);
        return reply_error(conn, r, 500, NULL, "cannot record the sync");
    }
    struct sync_reply rep = {.verified_at = change.now, .revoked = st.revoked,
                             .definition = st.definition};
    memcpy(rep.license_number, r->number, sizeof rep.license_number);
    memcpy(rep.nonce, req.nonce, sizeof rep.nonce);
    char *jws = NULL;
    int rc = sync_reply_sign(s->priv, &rep, &jws);
    r->log_extra = json_pack("{s:s, s:s, s:b, s:I}", "licenseNumber", r->number, "site",
                             req.site, "revoked", (int)st.revoked, "syncCount",
                             (json_int_t)st.sync_count);
    astate_free(&st);
    if (rc != 0)
        return reply_error(conn, r, 500, NULL, "cannot sign the reply");
    return reply(conn, r, 200, SYNC_CONTENT_TYPE_REPLY, jws, NULL, "sync answered");
}

/* ---- libmicrohttpd callbacks ----------------------------------------------------- */

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    (void)version;
    struct server *s = cls;
    struct request *r = *con_cls;
    if (r == NULL) {
        r = calloc(1, sizeof *r);
        if (r == NULL)
            return MHD_NO;
        *con_cls = r;
        atomic_fetch_add(&s->inflight, 1);
        clock_gettime(CLOCK_MONOTONIC, &r->start);
        snprintf(r->method, sizeof r->method, "%s", method);
        size_t i = 0;
        for (; url[i] != '\0' && i < PATH_LOG_MAX; i++)
            r->path[i] = url[i] > 0x20 && url[i] < 0x7f ? url[i] : '?';
        r->path[i] = '\0';
        r->route = match(url, r->number);
        /* A body still to come has its deadline, answered early or not. */
        http_guard_phase(conn, strcmp(method, "POST") == 0 ? HTTP_GUARD_BODY : HTTP_GUARD_BUSY);
        return begin(s, conn, r);
    }
    if (r->answered) {
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        return append(s, r, upload_data, n) ? MHD_YES : MHD_NO;
    }
    http_guard_phase(conn, HTTP_GUARD_BUSY);
    return finish_sync(s, conn, r);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct server *s = cls;
    struct request *r = *con_cls;
    if (r == NULL)
        return;
    struct timespec end;
    clock_gettime(CLOCK_MONOTONIC, &end);
    double ms = (double)(end.tv_sec - r->start.tv_sec) * 1e3 +
                (double)(end.tv_nsec - r->start.tv_nsec) / 1e6;
    json_t *extra = json_pack("{s:s, s:s, s:i, s:f}", "method", r->method, "path", r->path,
                              "status", (int)r->status, "ms", ms);
    if (extra != NULL && r->log_extra != NULL)
        json_object_update(extra, r->log_extra);
    if (extra != NULL && toe != MHD_REQUEST_TERMINATED_COMPLETED_OK)
        json_object_set_new(extra, "terminated", json_integer((json_int_t)toe));
    enum log_level lvl = r->status >= 500 || r->status == 0 ? LOG_ERROR
                         : r->status >= 400 ? LOG_WARN : LOG_INFO;
    log_with(lvl, NULL, extra, "%s %s %u: %s", r->method, r->path, r->status,
             r->message[0] != '\0' ? r->message : "no reply");
    json_decref(r->log_extra);
    if (r->bearer != NULL) {
        OPENSSL_cleanse(r->bearer, strlen(r->bearer));
        free(r->bearer);
    }
    http_guard_body_give(s->guard, r->cap);
    free(r->body);
    free(r);
    *con_cls = NULL;
    atomic_fetch_sub(&s->inflight, 1);
    http_guard_phase(conn, HTTP_GUARD_HEAD); /* a kept-alive connection waits again */
}

/* ---- the command ---------------------------------------------------------------- */

/* "HOST:PORT" or "[V6]:PORT" into a socket address; false on a bad form. */
static bool parse_listen(const char *arg, struct sockaddr_storage *addr, bool *v6,
                         uint16_t *port)
{
    const char *colon = strrchr(arg, ':');
    int64_t p;
    if (colon == NULL || colon == arg || !authority_parse_i64(colon + 1, 0, 65535, &p))
        return false;
    char host[256];
    size_t hlen = (size_t)(colon - arg);
    const char *h = arg;
    if (arg[0] == '[') {
        if (hlen < 3 || arg[hlen - 1] != ']')
            return false;
        h = arg + 1;
        hlen -= 2;
    }
    if (hlen >= sizeof host)
        return false;
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    char service[8];
    snprintf(service, sizeof service, "%u", (unsigned)p);
    if (getaddrinfo(host, service, &hints, &res) != 0 || res == NULL)
        return false;
    memcpy(addr, res->ai_addr, res->ai_addrlen);
    *v6 = res->ai_family == AF_INET6;
    *port = (uint16_t)p;
    freeaddrinfo(res);
    return true;
}

/* Serves until SIGTERM or SIGINT (SIGHUP reloads the TLS certificate); 0, or
 * 1 when the daemon cannot start.  tls NULL: plain HTTP. */
static int run(const struct command *cmd, struct server *s, const char *listen_arg,
               struct http_tls *tls)
{
    struct sockaddr_storage addr;
    bool v6 = false;
    uint16_t port = 0;
    if (!parse_listen(listen_arg, &addr, &v6, &port)) {
        authority_usage_error(cmd, "--listen: expected HOST:PORT (port 0 to 65535) of this "
                              "machine, got '%s'", listen_arg);
        return EXIT_USAGE;
    }
    /* Block the stop signals before MHD's threads start, so only sigwait sees them. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    signal(SIGPIPE, SIG_IGN);
    struct MHD_OptionItem tls_opts[HTTP_TLS_MHD_OPTIONS];
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC |
                     MHD_USE_ERROR_LOG | (v6 ? MHD_USE_IPv6 : 0) |
                     http_tls_mhd_options(tls, tls_opts);
    struct MHD_Daemon *d = MHD_start_daemon(
        flags, port, NULL, NULL, on_request, s,
        /* first, so that every message of libmicrohttpd comes to our log */
        MHD_OPTION_EXTERNAL_LOGGER, http_guard_mhd_log, (void *)s->guard,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
        MHD_OPTION_ARRAY, tls_opts,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)THREADS,
        MHD_OPTION_CONNECTION_TIMEOUT, 30u,
        MHD_OPTION_ARRAY, http_guard_mhd_options(s->guard),
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
        MHD_OPTION_END);
    if (d == NULL) {
        authority_errorf(cmd, "cannot listen on %s (in use, or not an address of this machine)",
                         listen_arg);
        return 1;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    unsigned bound = info != NULL ? info->port : port;
    log_with(LOG_INFO, NULL, json_pack("{s:s, s:i, s:s, s:b}", "listen", listen_arg, "port",
                                       (int)bound, "stateDir", s->state_dir, "tls", tls != NULL),
             "allot-authority serving on port %u", bound);
    int sig = 0;
    while (sigwait(&stop, &sig) != 0 || sig == SIGHUP) {
        char why[512];
        if (sig == SIGHUP && tls != NULL && !http_tls_reload(tls, why, sizeof why))
            log_error(NULL, "SIGHUP: %s; still serving the certificate loaded before", why);
        sig = 0;
    }
    log_info(NULL, "signal %d: stopping", sig);
    MHD_socket lfd = MHD_quiesce_daemon(d);
    if (lfd != MHD_INVALID_SOCKET)
        close(lfd);
    for (int i = 0; i < DRAIN_SECONDS * 50 && atomic_load(&s->inflight) > 0; i++) {
        struct timespec ts = {.tv_sec = 0, .tv_nsec = 20 * 1000000};
        nanosleep(&ts, NULL);
    }
    MHD_stop_daemon(d);
    log_info(NULL, "stopped");
    return 0;
}

/* A duration flag (90s, 10m, 1h) in milliseconds; false on a bad one. */
static bool duration_ms(const char *text, int64_t *ms)
{
    int64_t seconds;
    if (!core_duration_parse(text, &seconds) || seconds < 1 || seconds > 3600)
        return false;
    *ms = seconds * 1000;
    return true;
}

int authority_cmd_serve(const struct command *cmd, int argc, char **argv)
{
    static const struct option opts[] = {
        {"key", required_argument, NULL, 'k'},
        {"listen", required_argument, NULL, 'l'},
        {"state-dir", required_argument, NULL, 's'},
        {"tls-cert", required_argument, NULL, 'c'},
        {"tls-key", required_argument, NULL, 't'},
        {"max-connections", required_argument, NULL, 'm'},
        {"max-connections-per-address", required_argument, NULL, 'a'},
        {"header-timeout", required_argument, NULL, 'H'},
        {"body-timeout", required_argument, NULL, 'B'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *keyfile = NULL, *listen_arg = NULL, *dir = NULL;
    const char *tls_cert = NULL, *tls_key = NULL;
    const char *header_timeout = DEFAULT_HEADER_TIMEOUT, *body_timeout = DEFAULT_BODY_TIMEOUT;
    int64_t max_connections = DEFAULT_MAX_CONNECTIONS, per_address = DEFAULT_PER_ADDRESS;
    struct http_guard_options guard = {.body_budget = BODY_BUDGET,
                                       .connection_memory = CONNECTION_MEMORY,
                                       .name = "allot-authority"};
    int c;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (c) {
        case 'k': keyfile = optarg; break;
        case 'l': listen_arg = optarg; break;
        case 's': dir = optarg; break;
        case 'c': tls_cert = optarg; break;
        case 't': tls_key = optarg; break;
        case 'm':
            if (!authority_parse_i64(optarg, 1, 65536, &max_connections))
                return authority_usage_error(cmd, "--max-connections: expected 1 to 65536, "
                                             "got '%s'", optarg);
            break;
        case 'a':
            if (!authority_parse_i64(optarg, 0, 65536, &per_address))
                return authority_usage_error(cmd, "--max-connections-per-address: expected 0 "
                                             "(no cap) to 65536, got '%s'", optarg);
            break;
        case 'H': header_timeout = optarg; break;
        case 'B': body_timeout = optarg; break;
        case 'h': authority_print_help(cmd, stdout); return 0;
        default: return authority_bad_option(cmd, c, argv);
        }
    }
    if (optind < argc)
        return authority_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
    if (keyfile == NULL)
        return authority_usage_error(cmd, "--key FILE is required");
    if (listen_arg == NULL)
        return authority_usage_error(cmd, "--listen HOST:PORT is required");
    if (dir == NULL || dir[0] == '\0')
        return authority_usage_error(cmd, "--state-dir DIR is required");
    if ((tls_cert == NULL) != (tls_key == NULL))
        return authority_usage_error(cmd, "--tls-cert and --tls-key go together");
    if (!duration_ms(header_timeout, &guard.head_timeout_ms))
        return authority_usage_error(cmd, "--header-timeout: expected a duration from 1s to 1h "
                                     "(10s, 2m), got '%s'", header_timeout);
    if (!duration_ms(body_timeout, &guard.body_timeout_ms))
        return authority_usage_error(cmd, "--body-timeout: expected a duration from 1s to 1h "
                                     "(30s, 2m), got '%s'", body_timeout);
    guard.max_connections = (unsigned)max_connections;
    guard.per_address = (unsigned)per_address;

    char why[512];
    struct server s = {.state_dir = dir};
    atomic_init(&s.inflight, 0);
    int rc = 1;
    char *pem = NULL;
    struct http_tls *tls = NULL;
    s.priv = lic_key_load_private_file(keyfile, why, sizeof why);
    if (s.priv == NULL) {
        authority_errorf(cmd, "%s", why);
        goto out;
    }
    pem = lic_key_public_pem(s.priv);
    s.pub = pem != NULL ? lic_key_load_public_pem(pem, 0, why, sizeof why) : NULL;
    if (s.pub == NULL) {
        authority_errorf(cmd, "cannot derive the public key of %s", keyfile);
        goto out;
    }
    if (astate_prepare(dir, why, sizeof why) != 0) {
        authority_errorf(cmd, "%s", why);
        goto out;
    }
    s.guard = http_guard_new(&guard);
    if (s.guard == NULL) {
        authority_errorf(cmd, "cannot start the connection guard");
        goto out;
    }
    if (tls_cert != NULL) {
        tls = http_tls_load(tls_cert, tls_key, "--tls-cert", "--tls-key", why, sizeof why);
        if (tls == NULL) {
            authority_errorf(cmd, "%s", why);
            goto out;
        }
    }
    rc = run(cmd, &s, listen_arg, tls);
out:
    http_tls_free(tls);
    http_guard_free(s.guard);
    free(pem);
    EVP_PKEY_free(s.priv);
    EVP_PKEY_free(s.pub);
    return rc;
}

/* allot-authority serve: answers the syncs of sites over HTTP (libmicrohttpd).
 *
 *   POST /v1/licenses/NUMBER/sync  the sync protocol (include/allot/sync_protocol.h)
 *   GET  /v1/licenses/NUMBER       what is recorded of NUMBER, for a bearer of its
 *                                  license key (never the key itself)
 *   GET  /health                   200 while the process runs
 *   GET  /ready                    200 when the store answers (database, schema)
 *   GET  /metrics                  Prometheus text (the admin key)
 *   GET  /v1/sites                 the vendor's report (sites.c; the admin key)
 *   PUT|DELETE /v1/licenses/NUMBER/revocation   revoke, lift (the admin key)
 *
 * The state lives in a store (store.c): the state directory, or PostgreSQL
 * shared by any number of instances.  Each license may sync at most
 * --sync-rate-limit times per --sync-rate-window (counted in the store, so
 * across instances); past it, 429 with Retry-After.  Key rotation: --key
 * signs; --verify-key keys only verify (bearer keys they signed are
 * accepted); every reply announces the signer and the verify keys, and the
 * kids of --retire-key as retired, signed by the signer, and a definition
 * signed by another key of the authority is handed out signed again by the
 * signer (same payload, same iat).
 *
 * Anything else is 404; another method on these paths 405 with Allow.  Errors are
 * {"error": "..."}.  GET answers every refusal alike (no key, a wrong key, a key
 * of another license, a number nothing is recorded for: the same 401), so that
 * nobody learns from it which license numbers exist; the log says which.  One request context is made on the first callback and freed
 * in the completion callback, which logs the request as one JSON line (method,
 * path, status, ms; never the bearer key).  The state is read and written on
 * every sync (state.c), so a `revoke` run meanwhile counts at the next sync.
 * serve.h says how the server is cut into files (the command, operating it).
 */
#include "serve.h"
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
#include <openssl/rand.h>

int64_t serve_now_s(void)
{
    return (int64_t)time(NULL);
}

/* What a client's X-Correlation-Id may hold (else a new one is made). */
#define CORR_CHARS "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.:"

static void new_corr(char out[65])
{
    unsigned char raw[16];
    if (RAND_bytes(raw, sizeof raw) != 1)
        memset(raw, 0, sizeof raw);
    for (size_t i = 0; i < sizeof raw; i++)
        snprintf(out + 2 * i, 3, "%02x", raw[i]);
}

/* ---- replies ------------------------------------------------------------------ */

/* Queues `body` (malloc'd, taken) with status; logs `message`.  Exactly one per
 * request. */
enum MHD_Result serve_reply(struct MHD_Connection *conn, struct request *r, unsigned status,
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
    MHD_add_response_header(resp, "X-Correlation-Id", r->corr);
    if (r->retry_after > 0) {
        char ra[24];
        snprintf(ra, sizeof ra, "%lld", (long long)r->retry_after);
        MHD_add_response_header(resp, "Retry-After", ra);
    }
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

enum MHD_Result serve_reply_error(struct MHD_Connection *conn, struct request *r,
                                   unsigned status, const char *allow, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    json_t *o = json_pack("{s:s, s:s}", "error", msg, "corrId", r->corr);
    if (o == NULL) /* a reason quoting bytes that are not UTF-8 */
        o = json_pack("{s:s, s:s}", "error", "bad request", "corrId", r->corr);
    char *text = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (text == NULL)
        return MHD_NO;
    char logmsg[600];
    snprintf(logmsg, sizeof logmsg, "refused: %s", msg);
    return serve_reply(conn, r, status, "application/json", text, allow, logmsg);
}

/* ---- routes ------------------------------------------------------------------- */

/* /v1/licenses/NUMBER or /v1/licenses/NUMBER/sync, NUMBER 1..32 digits. */
static enum route match(const char *url, char number[LIC_NUMBER_MAX + 1])
{
    static const char prefix[] = "/v1/licenses/";
    static const struct {
        const char *path;
        enum route route;
    } fixed[] = {{"/health", ROUTE_HEALTH}, {"/ready", ROUTE_READY},
                 {"/metrics", ROUTE_METRICS}, {"/v1/sites", ROUTE_SITES}};
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
        if (strcmp(url, fixed[i].path) == 0)
            return fixed[i].route;
    if (strncmp(url, prefix, sizeof prefix - 1) != 0)
        return ROUTE_NONE;
    const char *p = url + sizeof prefix - 1;
    size_t n = strspn(p, "0123456789");
    if (n == 0 || n > LIC_NUMBER_MAX)
        return ROUTE_NONE;
    enum route route = p[n] == '\0'                       ? ROUTE_STATE
                       : strcmp(p + n, "/sync") == 0      ? ROUTE_SYNC
                       : strcmp(p + n, "/revocation") == 0 ? ROUTE_REVOCATION
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
    enum lic_result lr = lic_verify_key_ring(token, &s->ring, serve_now_s(), &lic, NULL, reason,
                                             sizeof reason);
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
        return serve_reply_error(conn, r, 401, NULL, "%s", why);
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
    return serve_reply(conn, r, 401, "application/json", text, NULL, logmsg);
}

static enum MHD_Result get_state(struct server *s, struct MHD_Connection *conn,
                                 struct request *r)
{
    char why[512];
    if (!bearer_valid(s, conn, r, why, sizeof why))
        return refuse_state(conn, r, why);
    struct astate st;
    int found = astore_read(s->store, r->number, &st, why, sizeof why);
    json_t *o = found > 0 ? astate_public_json(&st) : NULL;
    astate_free(&st);
    if (found == 0)
        return refuse_state(conn, r, "nothing is recorded for this license");
    char *text = o != NULL ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(o);
    if (text == NULL) {
        log_error(NULL, "license %s: %s", r->number, found < 0 ? why : "cannot encode");
        return serve_reply_error(conn, r, 500, NULL, "cannot read the state of license %s", r->number);
    }
    return serve_reply(conn, r, 200, "application/json", text, NULL, "state shown");
}

/* ---- operating it: /health, /ready, /metrics, /v1/sites ---------------------------- */

enum MHD_Result serve_reply_json(struct MHD_Connection *conn, struct request *r,
                                  unsigned status, json_t *o, const char *message)
{
    char *text = o != NULL ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(o);
    if (text == NULL)
        return serve_reply_error(conn, r, 500, NULL, "cannot encode the reply");
    return serve_reply(conn, r, status, "application/json", text, NULL, message);
}

/* The vendor's admin key as the Bearer (compared in constant time). */
bool serve_admin_ok(const struct server *s, struct MHD_Connection *conn)
{
    const char *auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
    if (s->admin_key == NULL || auth == NULL || strncasecmp(auth, "Bearer ", 7) != 0)
        return false;
    const char *token = auth + 7;
    size_t a = strlen(token), b = strlen(s->admin_key);
    return a == b && CRYPTO_memcmp(token, s->admin_key, a) == 0;
}

/* First callback: route, method, and for a sync the headers (key, type, size). */
static enum MHD_Result begin(struct server *s, struct MHD_Connection *conn, struct request *r)
{
    if (r->route == ROUTE_NONE)
        return serve_reply_error(conn, r, 404, NULL, "no such path");
    bool get = strcmp(r->method, "GET") == 0 || strcmp(r->method, "HEAD") == 0;
    if (r->route >= ROUTE_HEALTH) {
        if (!get)
            return serve_reply_error(conn, r, 405, "GET, HEAD", "method %s not allowed", r->method);
        if (r->route == ROUTE_HEALTH)
            return serve_reply_json(conn, r, 200, json_pack("{s:s}", "status", "ok"), "healthy");
        if (r->route == ROUTE_READY)
            return serve_ready(s, conn, r);
        if (!serve_admin_ok(s, conn))
            return serve_reply_error(conn, r, 401, NULL, s->admin_key == NULL
                               ? "no admin key is configured (--admin-key-file)"
                               : "the vendor's admin key is required");
        return r->route == ROUTE_METRICS ? serve_metrics(s, conn, r) : serve_sites(s, conn, r);
    }
    if (r->route == ROUTE_REVOCATION)
        return serve_revocation(s, conn, r);
    if (r->route == ROUTE_STATE)
        return get ? get_state(s, conn, r)
                   : serve_reply_error(conn, r, 405, "GET, HEAD", "method %s not allowed", r->method);
    if (strcmp(r->method, "POST") != 0)
        return serve_reply_error(conn, r, 405, "POST", "method %s not allowed", r->method);
    enum MHD_Result ok = check_bearer(s, conn, r);
    if (r->answered) {
        atomic_fetch_add(&s->syncs[SM_UNAUTHORIZED], 1);
        return ok;
    }
    if (!is_json(MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Type")))
        return serve_reply_error(conn, r, 415, NULL, "the body must be application/json");
    const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
    int64_t declared = 0;
    if (cl != NULL && authority_parse_i64(cl, 0, INT64_MAX, &declared) &&
        declared > SYNC_BODY_MAX)
        return serve_reply_error(conn, r, 413, NULL, "the body is over %d bytes", SYNC_BODY_MAX);
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

static enum MHD_Result sync_refused(struct server *s, struct MHD_Connection *conn,
                                    struct request *r, unsigned status, const char *why)
{
    atomic_fetch_add(&s->syncs[status == 400 || status == 413 ? SM_BAD_REQUEST : SM_ERROR], 1);
    return serve_reply_error(conn, r, status, NULL, "%s", why);
}

static enum MHD_Result finish_sync(struct server *s, struct MHD_Connection *conn,
                                   struct request *r)
{
    char why[512];
    if (r->too_large) {
        snprintf(why, sizeof why, "the body is over %d bytes", SYNC_BODY_MAX);
        return sync_refused(s, conn, r, 413, why);
    }
    json_error_t jerr;
    json_t *body = json_loadb(r->body != NULL ? r->body : "", r->len, JSON_REJECT_DUPLICATES,
                              &jerr);
    if (body == NULL) {
        snprintf(why, sizeof why, "the body is not JSON: %s", jerr.text);
        return sync_refused(s, conn, r, 400, why);
    }
    struct sync_request req;
    bool ok = sync_request_parse(body, &req, why, sizeof why);
    json_decref(body);
    if (!ok)
        return sync_refused(s, conn, r, 400, why);
    if (strcmp(req.license_number, r->number) != 0)
        return sync_refused(s, conn, r, 400, "licenseNumber: not the license of the path");

    struct sync_change change = {&req, r->bearer, r->bearer_iat, serve_now_s(), s->rate_limit,
                                 s->rate_window};
    struct astate st;
    int64_t retry_after = 0;
    enum astore_result res = astore_record_sync(s->store, r->number, &change, &st, &retry_after,
                                                why, sizeof why);
    if (res == ASTORE_ERROR) {
        log_error(r->corr, "license %s: %s", r->number, why);
        astate_free(&st);
        r->retry_after = 5;
        atomic_fetch_add(&s->syncs[SM_ERROR], 1);
        return serve_reply_error(conn, r, 503, NULL, "cannot record the sync now; try again later");
    }
    if (res == ASTORE_RATE_LIMITED) {
        astate_free(&st);
        r->retry_after = retry_after;
        r->log_extra = json_pack("{s:s, s:I}", "licenseNumber", r->number, "retryAfter",
                                 (json_int_t)retry_after);
        atomic_fetch_add(&s->syncs[SM_RATE_LIMITED], 1);
        return serve_reply_error(conn, r, 429, NULL, "license %s synced more than %lld times in %lld "
                           "s; try again in %lld s", r->number, (long long)s->rate_limit,
                           (long long)s->rate_window, (long long)retry_after);
    }
    /* A definition signed by an older key of the authority goes out signed by
     * the signer (same payload): the site can retire the older key. */
    char *def = NULL;
    if (st.definition != NULL &&
        lic_resign_key(s->priv, &s->ring, st.definition, &def, why, sizeof why) != 0)
        log_warn(r->corr, "license %s: the recorded definition is handed out as it is: %s",
                 r->number, why);
    struct sync_reply rep = s->announce;
    rep.verified_at = change.now;
    rep.revoked = st.revoked;
    rep.definition = def != NULL ? def : st.definition;
    memcpy(rep.license_number, r->number, sizeof rep.license_number);
    memcpy(rep.nonce, req.nonce, sizeof rep.nonce);
    char *jws = NULL;
    int rc = sync_reply_sign(s->priv, &rep, &jws);
    r->log_extra = json_pack("{s:s, s:s, s:b, s:I}", "licenseNumber", r->number, "site",
                             req.site, "revoked", (int)st.revoked, "syncCount",
                             (json_int_t)st.sync_count);
    free(def);
    astate_free(&st);
    if (rc != 0) {
        atomic_fetch_add(&s->syncs[SM_ERROR], 1);
        return serve_reply_error(conn, r, 500, NULL, "cannot sign the reply");
    }
    atomic_fetch_add(&s->syncs[rep.revoked ? SM_REVOKED : SM_OK], 1);
    return serve_reply(conn, r, 200, SYNC_CONTENT_TYPE_REPLY, jws, NULL, "sync answered");
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
        const char *corr = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                       "X-Correlation-Id");
        size_t clen = corr != NULL ? strnlen(corr, sizeof r->corr) : 0;
        if (clen > 0 && clen < sizeof r->corr && strspn(corr, CORR_CHARS) == clen)
            memcpy(r->corr, corr, clen + 1);
        else
            new_corr(r->corr);
        atomic_fetch_add(&s->requests, 1);
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
    log_with(lvl, r->corr, extra, "%s %s %u: %s", r->method, r->path, r->status,
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

/* Serves until SIGTERM or SIGINT (SIGHUP reloads the TLS certificate); 0, or
 * 1 when the daemon cannot start.  tls NULL: plain HTTP. */
int serve_run(const struct command *cmd, struct server *s, const struct serve_listen *l,
              struct http_tls *tls)
{
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
                     MHD_USE_ERROR_LOG | (l->v6 ? MHD_USE_IPv6 : 0) |
                     http_tls_mhd_options(tls, tls_opts);
    struct MHD_Daemon *d = MHD_start_daemon(
        flags, l->port, NULL, NULL, on_request, s,
        /* first, so that every message of libmicrohttpd comes to our log */
        MHD_OPTION_EXTERNAL_LOGGER, http_guard_mhd_log, (void *)s->guard,
        MHD_OPTION_SOCK_ADDR, (const struct sockaddr *)&l->addr,
        MHD_OPTION_ARRAY, tls_opts,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)THREADS,
        MHD_OPTION_CONNECTION_TIMEOUT, 30u,
        MHD_OPTION_ARRAY, http_guard_mhd_options(s->guard),
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
        MHD_OPTION_END);
    if (d == NULL) {
        authority_errorf(cmd, "cannot listen on %s (in use, or not an address of this machine)",
                         l->text);
        return 1;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    unsigned bound = info != NULL ? info->port : l->port;
    char signer[LIC_KID_LEN + 1] = "";
    lic_key_kid(s->priv, signer);
    log_with(LOG_INFO, NULL, json_pack("{s:s, s:i, s:s, s:b, s:s, s:i, s:i}", "listen",
                                       l->text, "port", (int)bound, "store",
                                       astore_kind(s->store), "tls", tls != NULL, "signingKid",
                                       signer, "keys", (int)s->announce.nkeys, "retiredKids",
                                       (int)s->announce.nretired),
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


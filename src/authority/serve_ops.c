/* allot-authority serve: operating it.  /ready (the store answers), /metrics
 * (syncs by outcome, sites seen and stale), /v1/sites (the vendor's report) and
 * the revocation through any instance; the last three behind the admin key. */
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


const char *const sync_metric_names[SM_COUNT] = {
    "ok", "revoked", "rate_limited", "unauthorized", "bad_request", "error"};

enum MHD_Result serve_ready(struct server *s, struct MHD_Connection *conn, struct request *r)
{
    char why[512] = "";
    bool ok = astore_ready(s->store, why, sizeof why);
    if (!ok)
        log_warn(r->corr, "not ready: %s", why);
    json_t *o = json_pack("{s:s, s:s}", "status", ok ? "ready" : "unavailable", "store",
                          astore_kind(s->store));
    if (!ok) {
        r->retry_after = 5;
        json_object_set_new(o, "reason", json_string(ok ? "" : "the store does not answer"));
    }
    return serve_reply_json(conn, r, ok ? 200 : 503, o, ok ? "ready" : "not ready");
}

enum MHD_Result serve_metrics(struct server *s, struct MHD_Connection *conn,
                               struct request *r)
{
    char why[512];
    int64_t seen = 0, stale = 0;
    bool counted = authority_sites_count(s->store, serve_now_s(), &seen, &stale, why,
                                         sizeof why) == 0;
    if (!counted)
        log_warn(r->corr, "metrics: cannot count the sites: %s", why);
    size_t cap = 4096;
    char *text = malloc(cap);
    if (text == NULL)
        return MHD_NO;
    size_t off = 0;
#define OUT(...) do { int n_ = snprintf(text + off, cap - off, __VA_ARGS__); \
                      if (n_ > 0 && (size_t)n_ < cap - off) off += (size_t)n_; } while (0)
    OUT("# HELP allot_authority_syncs_total Sync requests answered, by outcome.\n"
        "# TYPE allot_authority_syncs_total counter\n");
    for (int i = 0; i < SM_COUNT; i++)
        OUT("allot_authority_syncs_total{outcome=\"%s\"} %lld\n", sync_metric_names[i],
            (long long)atomic_load(&s->syncs[i]));
    OUT("# HELP allot_authority_sites Licenses whose site has synced at least once.\n"
        "# TYPE allot_authority_sites gauge\nallot_authority_sites %lld\n", (long long)seen);
    OUT("# HELP allot_authority_sites_stale Sites not seen for longer than their license's "
        "offlineGraceSeconds.\n# TYPE allot_authority_sites_stale gauge\n"
        "allot_authority_sites_stale %lld\n", (long long)stale);
    OUT("# HELP allot_authority_store_up 1 when the store answered this scrape.\n"
        "# TYPE allot_authority_store_up gauge\nallot_authority_store_up %d\n", counted);
    OUT("# HELP allot_authority_requests_total HTTP requests answered.\n"
        "# TYPE allot_authority_requests_total counter\nallot_authority_requests_total %lld\n",
        (long long)atomic_load(&s->requests));
#undef OUT
    return serve_reply(conn, r, 200, "text/plain; version=0.0.4", text, NULL, "metrics");
}

enum MHD_Result serve_sites(struct server *s, struct MHD_Connection *conn, struct request *r)
{
    char why[512];
    json_t *o = authority_sites_json(s->store, serve_now_s(), why, sizeof why);
    if (o == NULL) {
        log_error(r->corr, "sites: %s", why);
        r->retry_after = 5;
        return serve_reply_error(conn, r, 503, NULL, "the store does not answer");
    }
    return serve_reply_json(conn, r, 200, o, "sites shown");
}

/* PUT /v1/licenses/NUMBER/revocation revokes, DELETE lifts it (the vendor's
 * admin key): the same as `revoke`, through any instance, answered by every
 * instance at the license's next sync. */
enum MHD_Result serve_revocation(struct server *s, struct MHD_Connection *conn,
                                  struct request *r)
{
    bool put = strcmp(r->method, "PUT") == 0;
    if (!put && strcmp(r->method, "DELETE") != 0)
        return serve_reply_error(conn, r, 405, "PUT, DELETE", "method %s not allowed", r->method);
    if (!serve_admin_ok(s, conn))
        return serve_reply_error(conn, r, 401, NULL, s->admin_key == NULL
                           ? "no admin key is configured (--admin-key-file)"
                           : "the vendor's admin key is required");
    char why[512];
    if (astore_set_revoked(s->store, r->number, put, why, sizeof why) != 0) {
        log_error(r->corr, "license %s: %s", r->number, why);
        r->retry_after = 5;
        return serve_reply_error(conn, r, 503, NULL, "the store does not answer");
    }
    r->log_extra = json_pack("{s:s, s:b}", "licenseNumber", r->number, "revoked", (int)put);
    return serve_reply_json(conn, r, 200, json_pack("{s:s, s:b}", "licenseNumber", r->number,
                                              "revoked", (int)put),
                      put ? "license revoked" : "revocation lifted");
}


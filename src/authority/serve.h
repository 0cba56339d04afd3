/* allot-authority serve, inside: the server's state, one request's context,
 * and what the parts of the server share.
 *   serve.c      the HTTP server: routes, the sync, libmicrohttpd's callbacks
 *   serve_ops.c  operating it: /ready, /metrics, /v1/sites, revocations
 *   serve_cmd.c  the command: its options, the keys, start and stop */
#ifndef ALLOT_AUTHORITY_SERVE_H
#define ALLOT_AUTHORITY_SERVE_H

#include "authority.h"
#include "allot/http_guard.h"
#include "allot/tls.h"

#include <stdatomic.h>
#include <sys/socket.h>
#include <time.h>

#include <microhttpd.h>

#define THREADS 4
#define PATH_LOG_MAX 200
#define DRAIN_SECONDS 5
/* What sites may hold of the server (include/allot/http_guard.h); the flags
 * of `serve` change the first four. */
#define DEFAULT_MAX_CONNECTIONS 1024
#define DEFAULT_PER_ADDRESS 32
#define DEFAULT_HEADER_TIMEOUT "10s"
#define DEFAULT_BODY_TIMEOUT "30s"
/* Each license may sync this often (allotd syncs every 10 minutes, at once
 * after PUT /license and on demand): generous for a site, a wall for a loop. */
#define DEFAULT_RATE_LIMIT 30
#define DEFAULT_RATE_WINDOW "5m"
#define BODY_BUDGET ((size_t)64 << 20)        /* 1024 bodies of SYNC_BODY_MAX */
#define CONNECTION_MEMORY ((size_t)128 * 1024) /* the head of a sync: a license key */

enum sync_metric { SM_OK, SM_REVOKED, SM_RATE_LIMITED, SM_UNAUTHORIZED, SM_BAD_REQUEST,
                   SM_ERROR, SM_COUNT };

struct server {
    EVP_PKEY *priv;            /* signs replies */
    struct lic_keyring ring;   /* verifies bearer keys: the signer, --verify-key, retired */
    struct sync_reply announce; /* keys and retiredKids every reply carries */
    struct astore *store;
    const char *admin_key;     /* /metrics and /v1/sites; NULL: not served */
    int64_t rate_limit, rate_window;
    struct http_guard *guard;
    atomic_int inflight;
    atomic_llong syncs[SM_COUNT];
    atomic_llong requests, errors5xx;
};

enum route { ROUTE_NONE, ROUTE_SYNC, ROUTE_STATE, ROUTE_REVOCATION, ROUTE_HEALTH, ROUTE_READY,
             ROUTE_METRICS, ROUTE_SITES };

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
    int64_t retry_after;           /* a 429's Retry-After, or 0 */
    char corr[65];                 /* X-Correlation-Id: the client's, or a new one */
    char message[300];             /* the log line's message */
    json_t *log_extra;             /* more members of the log line, or NULL */
};

extern const char *const sync_metric_names[SM_COUNT];

int64_t serve_now_s(void);
/* Queues `body` (malloc'd, taken) with status; logs `message`.  Exactly one
 * per request. */
enum MHD_Result serve_reply(struct MHD_Connection *conn, struct request *r, unsigned status,
                            const char *content_type, char *body, const char *allow,
                            const char *message);
/* {"error": fmt..., "corrId"} with status (and Allow when given). */
enum MHD_Result serve_reply_error(struct MHD_Connection *conn, struct request *r,
                                  unsigned status, const char *allow, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* o (taken) as JSON with status. */
enum MHD_Result serve_reply_json(struct MHD_Connection *conn, struct request *r,
                                 unsigned status, json_t *o, const char *message);
/* The vendor's admin key as the Bearer (compared in constant time). */
bool serve_admin_ok(const struct server *s, struct MHD_Connection *conn);

/* serve_ops.c */
enum MHD_Result serve_ready(struct server *s, struct MHD_Connection *conn, struct request *r);
enum MHD_Result serve_metrics(struct server *s, struct MHD_Connection *conn,
                              struct request *r);
enum MHD_Result serve_sites(struct server *s, struct MHD_Connection *conn, struct request *r);
enum MHD_Result serve_revocation(struct server *s, struct MHD_Connection *conn,
                                 struct request *r);

/* Serves until SIGTERM or SIGINT (SIGHUP reloads the TLS certificate); 0, or
 * 1 when the daemon cannot start.  tls NULL: plain HTTP. */
struct serve_listen {
    struct sockaddr_storage addr;
    bool v6;
    uint16_t port;
    const char *text; /* as given to --listen */
};
int serve_run(const struct command *cmd, struct server *s, const struct serve_listen *l,
              struct http_tls *tls);

#endif

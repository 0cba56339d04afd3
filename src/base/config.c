/* The configuration table.  Each variable: name, kind, default, bounds, help,
 * and where it goes in struct config.  Parsing, validation and --help all read
 * this one table. */
#include "allot/config.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "allot/log.h"
#include "allot/core.h"

/* Where `meson install` puts the console (meson.build defines it). */
#ifndef ALLOT_CONSOLE_DIR_DEFAULT
#define ALLOT_CONSOLE_DIR_DEFAULT "/usr/local/share/allot/console"
#endif

enum kind { K_STRING, K_SECRET, K_LISTEN, K_DURATION, K_INT, K_LEVEL };

struct var {
    const char *name;
    enum kind kind;
    const char *def;      /* NULL: no default */
    int64_t min, max;     /* for K_INT and K_DURATION */
    size_t offset;        /* into struct config */
    const char *help;
};

#define OFF(field) offsetof(struct config, field)

static const struct var vars[] = {
    {"ALLOT_DATABASE_URL", K_SECRET, NULL, 1, 4096, OFF(database_url),
     "libpq connection string or URI (required)"},
    {"ALLOT_LISTEN", K_LISTEN, "127.0.0.1:8080", 0, 0, 0,
     "HOST:PORT to listen on"},
    {"ALLOT_ADMIN_KEY", K_SECRET, NULL, 16, 256, OFF(admin_key),
     "at start-up, makes sure an admin API key with this secret exists (16 to 256 characters)"},
    {"ALLOT_AUTHORITY_URL", K_STRING, NULL, 1, 2048, OFF(authority_url),
     "base URL of the license backend (unset: offline)"},
    {"ALLOT_AUTHORITY_PUBLIC_KEY", K_STRING, NULL, 1, 4096, OFF(authority_public_key),
     "path of the authority's public key (PEM), or several separated by ',' (a file may be a bundle of keys): the keys a site trusts at first; it learns the next ones from the backend; required to apply a license"},
    {"ALLOT_AUTHORITY_CA", K_STRING, NULL, 1, 4096, OFF(authority_ca),
     "PEM bundle that the license backend's certificate must chain to (unset: the system's CAs)"},
    {"ALLOT_TLS_CERT", K_STRING, NULL, 1, 4096, OFF(tls_cert),
     "PEM certificate (chain) of the listener: with ALLOT_TLS_KEY it speaks only HTTPS; "
     "SIGHUP reloads both files"},
    {"ALLOT_TLS_KEY", K_STRING, NULL, 1, 4096, OFF(tls_key),
     "PEM private key of ALLOT_TLS_CERT (not encrypted)"},
    {"ALLOT_SYNC_INTERVAL", K_DURATION, "10m", 1, 366 * 86400, OFF(sync_interval),
     "assignment sync period (90s, 10m, 1h, 5d)"},
    {"ALLOT_SYNC_TIMEOUT", K_DURATION, "15s", 1, 600, OFF(sync_timeout),
     "time limit of one request to the license backend"},
    {"ALLOT_SYNC_WAIT", K_DURATION, "10s", 0, 600, OFF(sync_wait),
     "how long POST /license/actions/sync and PUT /license wait for their sync (then 202; "
     "one request waits at a time, the others answer 202 at once)"},
    {"ALLOT_SESSION_IDLE_TIMEOUT", K_DURATION, "30m", 1, 366 * 86400, OFF(session_idle_timeout),
     "a session with no activity for this long ends"},
    {"ALLOT_THREADS", K_INT, "8", 1, 256, OFF(threads),
     "HTTP worker threads"},
    {"ALLOT_MAX_CONNECTIONS", K_INT, "1024", 1, 65536, OFF(max_connections),
     "client connections accepted at once (some are kept for clients that send their "
     "request at once)"},
    {"ALLOT_MAX_CONNECTIONS_PER_ADDRESS", K_INT, "128", 0, 65536, OFF(max_connections_per_address),
     "client connections accepted at once from one address (0: no cap; raise it behind a "
     "load balancer)"},
    {"ALLOT_REQUEST_TIMEOUT", K_DURATION, "30s", 1, 3600, OFF(request_timeout),
     "an idle client connection is closed after this long"},
    {"ALLOT_HEADER_TIMEOUT", K_DURATION, "10s", 1, 3600, OFF(header_timeout),
     "a client must send a whole request head within this long of connecting (or of its "
     "previous reply)"},
    {"ALLOT_BODY_TIMEOUT", K_DURATION, "30s", 1, 3600, OFF(body_timeout),
     "a client must send a whole request body within this long of its head"},
    {"ALLOT_BODY_MEMORY_MB", K_INT, "64", 2, 65536, OFF(body_memory_mb),
     "MiB that all request bodies in flight may hold together"},
    {"ALLOT_DB_POOL_SIZE", K_INT, "8", 1, 200, OFF(db_pool_size),
     "PostgreSQL connections held by this process"},
    {"ALLOT_DB_BATCH", K_INT, "32", 1, 256, OFF(db_batch),
     "concurrent heartbeats and session starts one statement may decide together (1: none)"},
    {"ALLOT_DB_ACQUIRE_TIMEOUT_MS", K_INT, "2000", 1, 60000, OFF(db_acquire_timeout_ms),
     "how long a request waits for a free database connection before 503"},
    {"ALLOT_DB_STATEMENT_TIMEOUT_MS", K_INT, "10000", 100, 600000, OFF(db_statement_timeout_ms),
     "PostgreSQL statement_timeout of every connection"},
    {"ALLOT_DB_CONNECT_TIMEOUT", K_DURATION, "3s", 1, 60, OFF(db_connect_timeout),
     "time limit of one connection attempt to PostgreSQL"},
    {"ALLOT_SHUTDOWN_TIMEOUT", K_DURATION, "30s", 1, 3600, OFF(shutdown_timeout),
     "on SIGTERM, how long requests in flight may take to finish"},
    {"ALLOT_REAPER_INTERVAL", K_DURATION, "30s", 1, 3600, OFF(reaper_interval),
     "how often idle sessions are ended and the audit trail is rolled up into usage history"},
    {"ALLOT_RETENTION", K_DURATION, "400d", 1, INT64_C(36600) * 86400, OFF(retention),
     "ended sessions, audit events and returned login passes older than this are removed "
     "(in small batches on the reaper's tick; the daily usage aggregates stay ten years)"},
    {"ALLOT_LOG_LEVEL", K_LEVEL, "info", 0, 0, OFF(log_level),
     "debug, info, warn or error"},
    {"ALLOT_CONSOLE_DIR", K_STRING, ALLOT_CONSOLE_DIR_DEFAULT, 1, 4096, OFF(console_dir),
     "directory of the built admin console, served at /console/ (unset and missing: not served)"},
    {"ALLOT_WEBHOOK_INTERVAL", K_DURATION, "30s", 1, 3600, OFF(webhook_interval),
     "how often the time-based alerts (stale, disabled soon, validTo near) are checked and "
     "due webhook deliveries looked for (a new event is sent at once)"},
    {"ALLOT_WEBHOOK_TIMEOUT", K_DURATION, "10s", 1, 60, OFF(webhook_timeout),
     "time limit of one webhook delivery (connecting, sending, the receiver's answer)"},
    {"ALLOT_WEBHOOK_RETRY_MIN", K_DURATION, "10s", 1, 3600, OFF(webhook_retry_min),
     "wait after a failed webhook delivery; it doubles at each failure"},
    {"ALLOT_WEBHOOK_RETRY_MAX", K_DURATION, "1h", 1, 86400, OFF(webhook_retry_max),
     "the longest wait between two attempts at a webhook delivery"},
    {"ALLOT_WEBHOOK_MAX_ATTEMPTS", K_INT, "20", 1, 100, OFF(webhook_max_attempts),
     "attempts at a webhook delivery before it is given up (logged as failed)"},
    {"ALLOT_WEBHOOK_RETENTION", K_DURATION, "30d", 1, 3660 * 86400, OFF(webhook_retention),
     "finished webhook deliveries and their log are kept this long"},
    {"ALLOT_SCIM_DIRECTORY", K_STRING, "SCIM", 1, 255, OFF(scim_directory),
     "the user directory of the users that SCIM provisioning (/scim/v2) makes and sees: their "
     "userName is their userId in it (name it as the hub names the directory)"},
};

static bool parse_int(const char *text, int64_t *out)
{
    if (*text == '\0' || *text == ' ' || *text == '+')
        return false;
    errno = 0;
    char *end = NULL;
    long long v = strtoll(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0')
        return false;
    *out = v;
    return true;
}

bool config_parse_listen(const char *text, char **host, uint16_t *port)
{
    const char *colon;
    size_t hlen;
    const char *hstart = text;
    if (text[0] == '[') {
        const char *close = strchr(text, ']');
        if (close == NULL || close[1] != ':')
            return false;
        hstart = text + 1;
        hlen = (size_t)(close - hstart);
        colon = close + 1;
    } else {
        colon = strrchr(text, ':');
        if (colon == NULL || strchr(text, ':') != colon)
            return false;
        hlen = (size_t)(colon - text);
    }
    if (hlen == 0 || hlen > 253)
        return false;
    int64_t p;
    if (!parse_int(colon + 1, &p) || p < 1 || p > 65535)
        return false;
    *host = strndup(hstart, hlen);
    if (*host == NULL)
        return false;
    *port = (uint16_t)p;
    return true;
}

/* "0", "00s", "0m", ...: zero in any unit (core_duration_parse takes only
 * positive durations). */
static bool zero_duration(const char *value)
{
    size_t zeros = strspn(value, "0");
    return zeros > 0 && (value[zeros] == '\0' ||
                         (strchr("smhd", value[zeros]) != NULL && value[zeros + 1] == '\0'));
}

static bool set_one(struct config *c, const struct var *v, const char *value,
                    char *err, size_t errlen)
{
    char *base = (char *)c;
    int64_t n;
    switch (v->kind) {
    case K_STRING:
    case K_SECRET:
    case K_LEVEL: {
        if (v->kind == K_LEVEL) {
            enum log_level lvl;
            if (!log_level_parse(value, &lvl)) {
                snprintf(err, errlen, "%s: expected debug, info, warn or error", v->name);
                return false;
            }
        }
        size_t len = strlen(value);
        if (v->max > 0 && (len < (size_t)v->min || len > (size_t)v->max)) {
            snprintf(err, errlen, "%s: must be %" PRId64 " to %" PRId64 " characters long",
                     v->name, v->min, v->max);
            return false;
        }
        char **slot = (char **)(base + v->offset);
        free(*slot);
        *slot = strdup(value);
        return *slot != NULL;
    }
    case K_LISTEN:
        free(c->listen_host);
        c->listen_host = NULL;
        if (!config_parse_listen(value, &c->listen_host, &c->listen_port)) {
            snprintf(err, errlen, "%s: expected HOST:PORT with a port from 1 to 65535, got \"%.64s\"",
                     v->name, value);
            return false;
        }
        return true;
    case K_DURATION:
        /* zero ("0", "0s", ...) only where the table allows it */
        if (!(v->min == 0 && zero_duration(value) && (n = 0, true)) &&
            (!core_duration_parse(value, &n) || n < v->min || n > v->max)) {
            snprintf(err, errlen,
                     "%s: expected a duration such as 90s, 10m, 1h or 5d between %" PRId64
                     "s and %" PRId64 "s, got \"%.64s\"",
                     v->name, v->min, v->max, value);
            return false;
        }
        *(int64_t *)(base + v->offset) = n;
        return true;
    case K_INT:
        if (!parse_int(value, &n) || n < v->min || n > v->max) {
            snprintf(err, errlen, "%s: expected an integer from %" PRId64 " to %" PRId64
                     ", got \"%.64s\"", v->name, v->min, v->max, value);
            return false;
        }
        *(int64_t *)(base + v->offset) = n;
        return true;
    }
    return false;
}

bool config_load(struct config *c, config_lookup lookup, void *ctx, bool need_database,
                 char *err, size_t errlen)
{
    memset(c, 0, sizeof *c);
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
        const struct var *v = &vars[i];
        const char *value = lookup(v->name, ctx);
        if (value != NULL && value[0] == '\0' && v->def == NULL)
            value = NULL; /* an empty optional variable is unset */
        if (value == NULL)
            value = v->def;
        if (value == NULL)
            continue;
        if (!set_one(c, v, value, err, errlen))
            return false;
    }
    if (need_database && c->database_url == NULL) {
        snprintf(err, errlen, "ALLOT_DATABASE_URL: required (a libpq connection string or URI)");
        return false;
    }
    if (c->authority_url != NULL && strncmp(c->authority_url, "http://", 7) != 0 &&
        strncmp(c->authority_url, "https://", 8) != 0) {
        snprintf(err, errlen, "ALLOT_AUTHORITY_URL: expected an http:// or https:// URL");
        return false;
    }
    if ((c->tls_cert == NULL) != (c->tls_key == NULL)) {
        snprintf(err, errlen, c->tls_cert != NULL
                 ? "ALLOT_TLS_KEY: required with ALLOT_TLS_CERT (the certificate's private key)"
                 : "ALLOT_TLS_CERT: required with ALLOT_TLS_KEY (the key's certificate)");
        return false;
    }
    return true;
}

void config_free(struct config *c)
{
    free(c->database_url);
    free(c->listen_host);
    free(c->admin_key);
    free(c->authority_url);
    free(c->authority_public_key);
    free(c->authority_ca);
    free(c->tls_cert);
    free(c->tls_key);
    free(c->log_level);
    free(c->console_dir);
    free(c->scim_directory);
    memset(c, 0, sizeof *c);
}

void config_print_help(FILE *out)
{
    fprintf(out, "Environment variables:\n");
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
        const struct var *v = &vars[i];
        fprintf(out, "  %-30s %s (default: %s)\n", v->name, v->help,
                v->def ? v->def : "none");
    }
}

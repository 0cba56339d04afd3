/* Configuration of allotd: one table of environment variables (API.md) that
 * parses, validates and documents them (allotd --help prints it). */
#ifndef ALLOT_CONFIG_H
#define ALLOT_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct config {
    char *database_url;          /* secret: may carry a password */
    char *listen_host;
    uint16_t listen_port;
    char *admin_key;             /* secret */
    char *authority_url;
    char *authority_public_key;  /* path of a PEM file */
    char *authority_ca;          /* path of a PEM bundle, or NULL: the system's CAs */
    char *tls_cert;              /* paths of the listener's PEM certificate and key: */
    char *tls_key;               /* both set (HTTPS only) or both NULL (plain HTTP) */
    int64_t sync_interval;       /* seconds */
    int64_t sync_timeout;        /* seconds, per outgoing request */
    int64_t sync_wait;           /* seconds a request waits for its sync */
    int64_t session_idle_timeout;/* seconds */
    int64_t threads;
    int64_t max_connections;
    int64_t max_connections_per_address; /* 0: no cap */
    int64_t request_timeout;     /* seconds a connection may stay idle */
    int64_t header_timeout;      /* seconds to send a whole request head */
    int64_t body_timeout;        /* seconds to send a whole body after the head */
    int64_t body_memory_mb;      /* MiB all bodies in flight may hold */
    int64_t db_pool_size;
    int64_t db_batch;            /* calls one batched statement may decide */
    int64_t db_acquire_timeout_ms;
    int64_t db_statement_timeout_ms;
    int64_t db_connect_timeout;  /* seconds */
    int64_t shutdown_timeout;    /* seconds to drain requests on SIGTERM */
    int64_t reaper_interval;     /* seconds between idle-session sweeps */
    int64_t retention;           /* seconds ended sessions and audit events are kept */
    char *log_level;
    char *console_dir;           /* the built admin console (ALLOT_CONSOLE_DIR) */
    int64_t webhook_interval;    /* seconds between checks of the time-based alerts */
    int64_t webhook_timeout;     /* seconds, per webhook delivery */
    int64_t webhook_retry_min;   /* seconds: first wait after a failed delivery */
    int64_t webhook_retry_max;   /* seconds: the cap of the wait */
    int64_t webhook_max_attempts;
    int64_t webhook_retention;   /* seconds finished deliveries are kept */
    char *scim_directory;        /* the user directory of /scim/v2's users */
};

/* Where values come from: getenv in allotd, a table in tests. */
typedef const char *(*config_lookup)(const char *name, void *ctx);

/* Fills c from defaults and the lookup.  On a bad value returns false with one
 * line naming the variable in err.  The database URL is checked only when
 * need_database is true. */
bool config_load(struct config *c, config_lookup lookup, void *ctx, bool need_database,
                 char *err, size_t errlen);
void config_free(struct config *c);
/* Prints the table: name, default, meaning. */
void config_print_help(FILE *out);

/* Parses "HOST:PORT" or "[v6]:PORT". host receives an allocated copy. */
bool config_parse_listen(const char *text, char **host, uint16_t *port);

#endif

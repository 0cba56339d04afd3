/* The server-wide state a request handler can reach: configuration, the
 * database pool, metrics.  Everything else lives in PostgreSQL. */
#ifndef ALLOT_APP_H
#define ALLOT_APP_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "allot/config.h"
#include "allot/db.h"

struct metrics;
struct auth_cache;
struct api_license_cache;
struct db_listener;
struct evp_pkey_st;
struct sync;
struct console;

struct app {
    const struct config *cfg;
    struct db_pool *pool;
    struct metrics *metrics;
    struct auth_cache *auth;

    /* Changes other instances make arrive by NOTIFY on this listener
     * (src/db/listen.c; NULL in tools and tests).  Each notification of the
     * license, and each change made here, bumps license_generation: the
     * cached view of GET /license (src/api/license.c) is good only for the
     * generation it was read at. */
    struct db_listener *listener;
    atomic_ulong license_generation;
    struct api_license_cache *license_cache;

    /* Schema check: serving refuses (503) until the database has the schema
     * this binary expects; rechecked at most once a second while it does not. */
    pthread_mutex_t schema_lock;
    atomic_bool schema_current;
    int64_t schema_checked_ms;
    int schema_seen;

    /* The authority's public key (ALLOT_AUTHORITY_PUBLIC_KEY: its first), or
     * NULL; authority_keys: all of them (several files, or a bundle).  The
     * ring a site verifies with adds what it learnt (db_trusted_keys). */
    struct evp_pkey_st *authority_key;
    struct lic_keyring *authority_keys;
    struct sync *sync; /* the sync thread (NULL in tools and tests) */
    struct console *console; /* the admin console's assets, or NULL: not served */
    struct webhooks *webhooks; /* the webhook thread (NULL in tools and tests); set before
                                * the listener starts, cleared after it stopped */

    /* The HMAC key of list cursors, read from server_secrets on first use. */
    pthread_mutex_t secret_lock;
    bool cursor_key_loaded;
    unsigned char cursor_key[32];
};

int app_init(struct app *a, const struct config *cfg);
void app_free(struct app *a);



/* Loads ALLOT_AUTHORITY_PUBLIC_KEY; false with one line naming it. */
bool app_load_authority_key(struct app *a, char *err, size_t errlen);

int64_t app_now_ms(void); /* monotonic */
/* Wall-clock time: unix seconds, and as a PostgreSQL timestamptz literal with
 * microseconds (the `now` every licensing statement is given). */
int64_t app_wall_s(void);
void app_wall_pg(char out[40]);

#endif

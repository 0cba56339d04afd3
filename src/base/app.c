#include "allot/app.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "allot/auth.h"
#include "allot/license.h"
#include "allot/log.h"
#include "allot/metrics.h"

int64_t app_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t app_wall_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec;
}

void app_wall_pg(char out[40])
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    char date[32];
    strftime(date, sizeof date, "%Y-%m-%d %H:%M:%S", &tm);
    snprintf(out, 40, "%.20s.%06u+00", date, (unsigned)(ts.tv_nsec / 1000) % 1000000u);
}

bool app_load_authority_key(struct app *a, char *err, size_t errlen)
{
    if (a->cfg->authority_public_key == NULL)
        return true;
    char why[256] = "";
    a->authority_key = lic_key_load_public_file(a->cfg->authority_public_key, why, sizeof why);
    if (a->authority_key == NULL) {
        snprintf(err, errlen, "ALLOT_AUTHORITY_PUBLIC_KEY: cannot load an Ed25519 public key from "
                 "\"%.200s\": %.200s", a->cfg->authority_public_key, why);
        return false;
    }
    return true;
}

int app_init(struct app *a, const struct config *cfg)
{
    memset(a, 0, sizeof *a);
    a->cfg = cfg;
    struct db_pool_options opt = {
        .url = cfg->database_url,
        .size = (int)cfg->db_pool_size,
        .acquire_timeout_ms = (int)cfg->db_acquire_timeout_ms,
        .statement_timeout_ms = (int)cfg->db_statement_timeout_ms,
        .connect_timeout_s = (int)cfg->db_connect_timeout,
        .application_name = "allotd",
        .batch_max = (int)cfg->db_batch,
    };
    a->pool = db_pool_new(&opt);
    a->metrics = metrics_new();
    a->auth = auth_cache_new();
    pthread_mutex_init(&a->schema_lock, NULL);
    pthread_mutex_init(&a->secret_lock, NULL);
    atomic_store(&a->schema_current, false);
    a->schema_seen = -1;
    return a->pool && a->metrics && a->auth ? 0 : -1;
}

void app_free(struct app *a)
{
    db_pool_free(a->pool);
    metrics_free(a->metrics);
    auth_cache_free(a->auth);
    EVP_PKEY_free(a->authority_key);
    pthread_mutex_destroy(&a->schema_lock);
    pthread_mutex_destroy(&a->secret_lock);
    memset(a, 0, sizeof *a);
}

/* Checks at most once a second, one thread at a time: the others answer
 * "not ready" at once instead of queueing behind a connect to a database
 * that may be down. */
bool app_schema_ready(struct app *a)
{
    if (atomic_load(&a->schema_current))
        return true;
    if (pthread_mutex_trylock(&a->schema_lock) != 0)
        return false;
    bool current = atomic_load(&a->schema_current);
    int64_t now = app_now_ms();
    if (!current && now - a->schema_checked_ms >= 1000) {
        a->schema_checked_ms = now;
        struct db_conn *c;
        if (db_acquire(a->pool, &c) == DB_OK) {
            int v = db_schema_version(c);
            int engine = v >= db_schema_expected() ? db_engine_current(c) : 0;
            db_release(a->pool, c);
            if (v >= db_schema_expected() && engine == 1) {
                atomic_store(&a->schema_current, true);
                current = true;
                if (a->schema_seen >= 0)
                    log_info(NULL, "the database schema and engine are current: serving");
                a->schema_seen = -1;
            } else if (v >= 0 && engine >= 0 && v * 2 + engine != a->schema_seen) {
                a->schema_seen = v * 2 + engine;
                if (v < db_schema_expected())
                    log_error(NULL, "the database schema is at version %d but this allotd needs "
                              "%d: run `allotd migrate` (refusing requests until then)",
                              v, db_schema_expected());
                else
                    log_error(NULL, "the database runs another licensing engine than this "
                              "allotd's (%.12s): run `allotd migrate` (refusing requests until "
                              "then)", db_engine_digest());
            }
        }
    }
    pthread_mutex_unlock(&a->schema_lock);
    return current;
}

void app_schema_changed(struct app *a)
{
    atomic_store(&a->schema_current, false);
}

static const struct db_stmt q_cursor_secret = {
    .name = "cursor_secret", .sql = "SELECT secret FROM server_secrets WHERE name = 'cursor'"};

enum db_status app_cursor_key(struct app *a, const unsigned char **key)
{
    enum db_status s = DB_OK;
    pthread_mutex_lock(&a->secret_lock);
    if (!a->cursor_key_loaded) {
        struct db_conn *c;
        s = db_acquire(a->pool, &c);
        if (s == DB_OK) {
            PGresult *r;
            s = db_exec(c, &q_cursor_secret, 0, NULL, &r);
            if (s == DB_OK && PQntuples(r) == 1) {
                const char *secret = PQgetvalue(r, 0, 0);
                size_t n = strlen(secret);
                memset(a->cursor_key, 0, sizeof a->cursor_key);
                memcpy(a->cursor_key, secret, n < sizeof a->cursor_key ? n : sizeof a->cursor_key);
                a->cursor_key_loaded = true;
            } else if (s == DB_OK) {
                s = DB_ERROR;
            }
            PQclear(r);
            db_release(a->pool, c);
        }
    }
    pthread_mutex_unlock(&a->secret_lock);
    *key = a->cursor_key;
    return s;
}

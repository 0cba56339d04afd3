/* What the server's state needs of the database: whether the schema and the
 * engine are current, and the key of list cursors (shared by every instance
 * through server_secrets). */
#include "allot/app.h"

#include <stdio.h>
#include <string.h>

#include "allot/log.h"

/* Checks at most once a second, one thread at a time: the others answer
 * "not ready" at once instead of queueing behind a connect to a database
 * that may be down. */
bool db_schema_ready(struct app *a)
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

void db_schema_changed(struct app *a)
{
    atomic_store(&a->schema_current, false);
}

static const struct db_stmt q_cursor_secret = {
    .name = "cursor_secret", .sql = "SELECT secret FROM server_secrets WHERE name = 'cursor'"};

enum db_status db_cursor_key(struct app *a, const unsigned char **key)
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

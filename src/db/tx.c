/* The one transaction helper.  Retries are bounded and jittered so that
 * concurrent writers on several allotd processes spread out instead of
 * colliding again in lock step. */
#include "allot/db.h"

#include <pthread.h>
#include <stdint.h>
#include <time.h>

#include "allot/log.h"

static const char *const begin_sql[] = {
    [DB_READ_COMMITTED] = "BEGIN ISOLATION LEVEL READ COMMITTED",
    [DB_REPEATABLE_READ] = "BEGIN ISOLATION LEVEL REPEATABLE READ",
    [DB_SERIALIZABLE] = "BEGIN ISOLATION LEVEL SERIALIZABLE",
};

static uint32_t jitter_next(void)
{
    static _Thread_local uint64_t state;
    if (state == 0) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        state = ((uint64_t)ts.tv_nsec << 20) ^ (uint64_t)(uintptr_t)&state ^ 0x9e3779b97f4a7c15ull;
    }
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return (uint32_t)(state >> 11);
}

/* Full jitter: a random wait in [0, min(cap, base * 2^attempt)). */
static void backoff(int attempt)
{
    uint32_t ceiling_us = 2000u << (attempt < 6 ? attempt : 6); /* 2 ms .. 128 ms */
    uint32_t us = 200 + jitter_next() % ceiling_us;
    struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)us * 1000};
    nanosleep(&ts, NULL);
}

enum db_status db_tx(struct db_pool *p, enum db_isolation iso, db_tx_fn fn, void *arg)
{
    bool reconnected = false;
    for (int attempt = 1;; attempt++) {
        struct db_conn *c;
        enum db_status s = db_acquire(p, &c);
        if (s != DB_OK)
            return s;
        s = db_simple(c, begin_sql[iso]);
        if (s == DB_UNAVAILABLE && !reconnected) {
            /* A connection that died while idle (say, PostgreSQL restarted):
             * nothing ran yet, so open a fresh one and go on. */
            db_release(p, c);
            reconnected = true;
            attempt--;
            continue;
        }
        if (s != DB_OK) {
            db_release(p, c);
            return s;
        }
        s = fn(c, arg);
        if (s == DB_OK) {
            s = db_simple(c, "COMMIT");
        } else {
            db_simple(c, "ROLLBACK");
        }
        db_release(p, c);
        if (s != DB_RETRY)
            return s;
        if (attempt >= DB_TX_MAX_ATTEMPTS) {
            log_warn(NULL, "transaction still conflicting after %d attempts", attempt);
            return DB_RETRY;
        }
        backoff(attempt);
    }
}

/* A single statement is a transaction of its own: a serialization failure or
 * deadlock is retried like any other transaction's. */
enum db_status db_query(struct db_pool *p, const struct db_stmt *stmt, int nparams,
                        const char *const *params, PGresult **res)
{
    for (int attempt = 1;; attempt++) {
        struct db_conn *c;
        enum db_status s = db_acquire(p, &c);
        if (s != DB_OK)
            return s;
        s = db_exec(c, stmt, nparams, params, res);
        db_release(p, c);
        if (s != DB_RETRY || attempt >= DB_TX_MAX_ATTEMPTS)
            return s;
        backoff(attempt);
    }
}

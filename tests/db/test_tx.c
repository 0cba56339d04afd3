/* db suite: the connection pool and the one transaction helper (src/db/pool.c,
 * src/db/tx.c) used directly against a real PostgreSQL. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "allot/db.h"
#include "tharness.h"

static struct th_db db;

static struct db_pool *pool_of(int size, int acquire_ms)
{
    struct db_pool_options opt = {
        .url = db.url,
        .size = size,
        .acquire_timeout_ms = acquire_ms,
        .statement_timeout_ms = 10000,
        .connect_timeout_s = 5,
        .application_name = "allot-test-tx",
    };
    return db_pool_new(&opt);
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const struct db_stmt q_mark = {.name = "t_mark", .sql = "INSERT INTO tx_marks (tag) VALUES ($1)"};
static const struct db_stmt q_read = {.name = "t_read", .sql = "SELECT n FROM tx_counter WHERE id = 1"};
static const struct db_stmt q_write = {.name = "t_write", .sql = "UPDATE tx_counter SET n = $1 WHERE id = 1"};

/* ---- a retried body --------------------------------------------------------- */

struct retry_once {
    int calls;
    const char *tag;
    enum db_status first, then;
};

static enum db_status body_retry_once(struct db_conn *c, void *arg)
{
    struct retry_once *r = arg;
    const char *params[] = {r->tag};
    enum db_status s = db_run(c, &q_mark, 1, params);
    if (s != DB_OK)
        return s;
    return r->calls++ == 0 ? r->first : r->then;
}

static void test_retry_once_then_commit(void)
{
    struct db_pool *p = pool_of(2, 2000);
    T_REQUIRE(p != NULL);
    struct retry_once r = {0, "once", DB_RETRY, DB_OK};
    T_EQ_INT(db_tx(p, DB_SERIALIZABLE, body_retry_once, &r), DB_OK);
    T_EQ_INT(r.calls, 2);
    /* The first attempt was rolled back: one row, committed once. */
    T_EQ_INT(th_sql_long(db.url, "SELECT count(*) FROM tx_marks WHERE tag = 'once'"), 1);
    db_pool_free(p);
}

static void test_other_status_rolls_back(void)
{
    struct db_pool *p = pool_of(1, 2000);
    T_REQUIRE(p != NULL);
    struct retry_once r = {0, "abort", DB_ABORT, DB_OK};
    T_EQ_INT(db_tx(p, DB_READ_COMMITTED, body_retry_once, &r), DB_ABORT);
    T_EQ_INT(r.calls, 1);
    struct retry_once nf = {0, "notfound", DB_NOT_FOUND, DB_OK};
    T_EQ_INT(db_tx(p, DB_REPEATABLE_READ, body_retry_once, &nf), DB_NOT_FOUND);
    T_EQ_INT(nf.calls, 1);
    T_EQ_INT(th_sql_long(db.url, "SELECT count(*) FROM tx_marks "
                                 "WHERE tag IN ('abort', 'notfound')"), 0);
    /* The connection went back to the pool usable. */
    struct retry_once ok = {0, "after", DB_OK, DB_OK};
    T_EQ_INT(db_tx(p, DB_READ_COMMITTED, body_retry_once, &ok), DB_OK);
    T_EQ_INT(th_sql_long(db.url, "SELECT count(*) FROM tx_marks WHERE tag = 'after'"), 1);
    db_pool_free(p);
}

static enum db_status body_always_retry(struct db_conn *c, void *arg)
{
    (void)c;
    (*(int *)arg)++;
    return DB_RETRY;
}

static void test_retries_bounded(void)
{
    struct db_pool *p = pool_of(1, 2000);
    T_REQUIRE(p != NULL);
    int calls = 0;
    int64_t t0 = now_ms();
    T_EQ_INT(db_tx(p, DB_SERIALIZABLE, body_always_retry, &calls), DB_RETRY);
    T_EQ_INT(calls, DB_TX_MAX_ATTEMPTS);
    T_CHECK(now_ms() - t0 < 5000); /* bounded backoff, not a hang */
    db_pool_free(p);
}

/* ---- a real serialization conflict ------------------------------------------ */

#define INCREMENTS 50

struct worker {
    struct db_pool *pool;
    pthread_barrier_t *barrier;
    bool first;      /* the first attempt meets the other thread at the barrier */
    atomic_int *calls;
    int committed, exhausted, failed;
};

static enum db_status body_increment(struct db_conn *c, void *arg)
{
    struct worker *w = arg;
    atomic_fetch_add(w->calls, 1);
    PGresult *res;
    enum db_status s = db_exec(c, &q_read, 0, NULL, &res);
    if (s != DB_OK)
        return s;
    long n = strtol(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    if (w->first) {
        /* Both transactions have read the same value before either writes:
         * one of them must fail to serialize. */
        w->first = false;
        pthread_barrier_wait(w->barrier);
    }
    char next[32];
    snprintf(next, sizeof next, "%ld", n + 1);
    const char *params[] = {next};
    return db_run(c, &q_write, 1, params);
}

static void *increment_thread(void *arg)
{
    struct worker *w = arg;
    while (w->committed < INCREMENTS && w->failed == 0) {
        enum db_status s = db_tx(w->pool, DB_SERIALIZABLE, body_increment, w);
        if (s == DB_OK)
            w->committed++;
        else if (s == DB_RETRY)
            w->exhausted++; /* the bound was reached: the caller may try again */
        else
            w->failed++;
    }
    return NULL;
}

static void test_serialization_conflict(void)
{
    free(th_sql(db.url, "UPDATE tx_counter SET n = 0 WHERE id = 1"));
    struct db_pool *p = pool_of(2, 5000);
    T_REQUIRE(p != NULL);
    pthread_barrier_t barrier;
    pthread_barrier_init(&barrier, NULL, 2);
    atomic_int calls = 0;
    struct worker w[2] = {
        {p, &barrier, true, &calls, 0, 0, 0},
        {p, &barrier, true, &calls, 0, 0, 0},
    };
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        T_REQUIRE(pthread_create(&t[i], NULL, increment_thread, &w[i]) == 0);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    pthread_barrier_destroy(&barrier);
    T_EQ_INT(w[0].failed + w[1].failed, 0);
    T_EQ_INT(w[0].committed + w[1].committed, 2 * INCREMENTS);
    /* No increment lost or doubled. */
    T_EQ_INT(th_sql_long(db.url, "SELECT n FROM tx_counter WHERE id = 1"), 2 * INCREMENTS);
    /* At least the forced conflict was retried. */
    int total = atomic_load(&calls);
    printf("# %d body calls for %d commits, %d exhausted retries\n", total, 2 * INCREMENTS,
           w[0].exhausted + w[1].exhausted);
    T_CHECK(total > 2 * INCREMENTS);
    db_pool_free(p);
}

/* ---- the pool --------------------------------------------------------------- */

struct acquirer {
    struct db_pool *pool;
    enum db_status status;
    int64_t waited_ms;
};

static void *acquire_thread(void *arg)
{
    struct acquirer *a = arg;
    struct db_conn *c = NULL;
    int64_t t0 = now_ms();
    a->status = db_acquire(a->pool, &c);
    a->waited_ms = now_ms() - t0;
    if (c != NULL)
        db_release(a->pool, c);
    return NULL;
}

static void test_pool_acquire_timeout(void)
{
    struct db_pool *p = pool_of(1, 200);
    T_REQUIRE(p != NULL);
    struct db_conn *held = NULL;
    T_REQUIRE(db_acquire(p, &held) == DB_OK);
    struct acquirer a = {p, DB_OK, 0};
    pthread_t t;
    T_REQUIRE(pthread_create(&t, NULL, acquire_thread, &a) == 0);
    pthread_join(t, NULL);
    T_EQ_INT(a.status, DB_UNAVAILABLE);
    if (a.waited_ms < 180 || a.waited_ms > 3000)
        printf("#   waited %lld ms for a 200 ms timeout\n", (long long)a.waited_ms);
    T_CHECK(a.waited_ms >= 180);
    T_CHECK(a.waited_ms < 3000);
    struct db_pool_stats st;
    db_pool_stats(p, &st);
    T_EQ_INT(st.size, 1);
    T_EQ_INT(st.in_use, 1);
    T_EQ_INT(st.acquire_timeouts, 1);
    db_release(p, held);
    /* Free again: the next acquirer gets it at once. */
    T_REQUIRE(pthread_create(&t, NULL, acquire_thread, &a) == 0);
    pthread_join(t, NULL);
    T_EQ_INT(a.status, DB_OK);
    T_CHECK(a.waited_ms < 1000);
    db_pool_stats(p, &st);
    T_EQ_INT(st.in_use, 0);
    T_EQ_INT(st.open, 1);
    db_pool_free(p);
}

static void test_unique_violation_is_conflict(void)
{
    struct db_pool *p = pool_of(1, 2000);
    T_REQUIRE(p != NULL);
    static const struct db_stmt q_dup = {.name = "t_dup", .sql = "INSERT INTO tx_unique (k) VALUES ($1)"};
    const char *params[] = {"same"};
    T_EQ_INT(db_query(p, &q_dup, 1, params, NULL), DB_OK);
    T_EQ_INT(db_query(p, &q_dup, 1, params, NULL), DB_CONFLICT);
    struct db_conn *c;
    T_REQUIRE(db_acquire(p, &c) == DB_OK);
    T_EQ_INT(db_run(c, &q_dup, 1, params), DB_CONFLICT);
    T_EQ_STR(db_last_sqlstate(c), "23505");
    db_release(p, c);
    db_pool_free(p);
}

static void test_classify(void)
{
    T_EQ_INT(db_classify("40001"), DB_RETRY);
    T_EQ_INT(db_classify("40P01"), DB_RETRY);
    T_EQ_INT(db_classify("23505"), DB_CONFLICT);
    T_EQ_INT(db_classify("23503"), DB_FOREIGN_KEY);
    T_EQ_INT(db_classify("08006"), DB_UNAVAILABLE);
    T_EQ_INT(db_classify("08001"), DB_UNAVAILABLE);
    T_EQ_INT(db_classify("57P01"), DB_UNAVAILABLE);
    T_EQ_INT(db_classify("42P01"), DB_ERROR);
    T_EQ_INT(db_classify("42601"), DB_ERROR);
    T_EQ_INT(db_classify(NULL), DB_UNAVAILABLE);
}

int main(void)
{
    th_db_create(&db);
    char *ok = th_sql(db.url,
                      "CREATE TABLE tx_marks (tag text NOT NULL);"
                      "CREATE TABLE tx_counter (id int PRIMARY KEY, n bigint NOT NULL);"
                      "INSERT INTO tx_counter VALUES (1, 0);"
                      "CREATE TABLE tx_unique (k text PRIMARY KEY)");
    if (ok == NULL) {
        printf("Bail out! cannot create the test tables\n");
        th_db_drop(&db);
        return 1;
    }
    free(ok);
    T_RUN(test_retry_once_then_commit);
    T_RUN(test_other_status_rolls_back);
    T_RUN(test_retries_bounded);
    T_RUN(test_serialization_conflict);
    T_RUN(test_pool_acquire_timeout);
    T_RUN(test_unique_violation_is_conflict);
    T_RUN(test_classify);
    th_db_drop(&db);
    return t_done();
}

/* Batches: concurrent calls of one decision share one statement, one round
 * trip and one transaction ("group commit").  The decision is still the
 * engine's: a batch statement takes the keys of its calls as an array and
 * answers a row for each call it decided, with the call's place in the array
 * in its last column; a call it left alone (the unusual case) gets no row,
 * and its caller runs the single statement.
 *
 * No call waits for company: the first call of an idle batch goes at once.
 * While `max_inflight` batches are out, the calls that come queue, and the
 * next of them to run takes the whole queue (up to `max_items`).  So a quiet
 * server sends calls one by one, and a busy one sends fewer, larger
 * statements: the database does one transaction, one executor start and one
 * reply for many calls, and allotd one wake-up.
 *
 * A batch's `now` is the latest of its calls' (all within microseconds); its
 * other parameters are the same for every call (the idle timeout). */
#include "db/internal.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "allot/buf.h"

#define KEY_MAX 64 /* a UUID is 36 */

struct call {
    const char *key;
    const char *now;
    PGresult *res; /* its row, alone, or NULL: the batch left it */
    enum db_status status;
    bool taken, done;
    struct call *next;
};

struct queue {
    const struct db_stmt *stmt;
    struct call *head, *tail;
    int inflight;
};

#define QUEUES 4

struct db_batcher {
    struct db_pool *pool;
    int max_items, max_inflight;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct queue queues[QUEUES];
};

struct db_batcher *db_batcher_new(struct db_pool *pool, int max_items, int max_inflight)
{
    struct db_batcher *b = calloc(1, sizeof *b);
    if (b == NULL)
        return NULL;
    b->pool = pool;
    b->max_items = max_items;
    b->max_inflight = max_inflight > 0 ? max_inflight : 1;
    pthread_mutex_init(&b->lock, NULL);
    pthread_cond_init(&b->cond, NULL);
    return b;
}

void db_batcher_free(struct db_batcher *b)
{
    if (b == NULL)
        return;
    pthread_mutex_destroy(&b->lock);
    pthread_cond_destroy(&b->cond);
    free(b);
}

/* The queue of a statement (under the lock), or NULL when all are taken. */
static struct queue *queue_of(struct db_batcher *b, const struct db_stmt *stmt)
{
    for (size_t i = 0; i < QUEUES; i++) {
        if (b->queues[i].stmt == stmt)
            return &b->queues[i];
        if (b->queues[i].stmt == NULL) {
            b->queues[i].stmt = stmt;
            return &b->queues[i];
        }
    }
    return NULL;
}

/* Row `row` of res alone, in a result of its own (the columns of res). */
static PGresult *row_alone(const PGresult *res, int row)
{
    PGresult *one = PQcopyResult(res, PG_COPYRES_ATTRS);
    if (one == NULL)
        return NULL;
    int ncols = PQnfields(res);
    for (int c = 0; c < ncols; c++) {
        bool null = PQgetisnull(res, row, c);
        if (!PQsetvalue(one, 0, c, null ? NULL : PQgetvalue(res, row, c),
                        null ? -1 : PQgetlength(res, row, c))) {
            PQclear(one);
            return NULL;
        }
    }
    return one;
}

static int by_key(const void *a, const void *b)
{
    return strcmp((*(struct call *const *)a)->key, (*(struct call *const *)b)->key);
}

/* Runs the calls taken (n of them, in `taken`), without the lock.  They go
 * in the order of their keys, so that two batches that lock rows by key lock
 * them in the same order (no deadlock between batches). */
static void run_batch(struct db_batcher *b, const struct db_stmt *stmt, struct call **taken,
                      int n, int nextra, const char *const *extra)
{
    qsort(taken, (size_t)n, sizeof *taken, by_key);
    struct buf keys;
    buf_init(&keys, (size_t)n * (KEY_MAX + 1) + 2);
    buf_lit(&keys, "{");
    const char *now = taken[0]->now;
    for (int i = 0; i < n; i++) {
        if (i > 0)
            buf_lit(&keys, ",");
        buf_append(&keys, taken[i]->key, strnlen(taken[i]->key, KEY_MAX));
        if (strcmp(taken[i]->now, now) > 0)
            now = taken[i]->now; /* the same format: the latest sorts last */
    }
    buf_lit(&keys, "}");
    const char *params[8] = {keys.data, now};
    for (int i = 0; i < nextra && i < 6; i++)
        params[2 + i] = extra[i];
    PGresult *res = NULL;
    enum db_status s = keys.overflow ? DB_ERROR
                                     : db_query(b->pool, stmt, 2 + nextra, params, &res);
    buf_free(&keys);
    for (int i = 0; i < n; i++)
        taken[i]->status = s;
    if (s == DB_OK) {
        int rows = PQntuples(res), last = PQnfields(res) - 1;
        for (int r = 0; r < rows; r++) {
            long place = strtol(PQgetvalue(res, r, last), NULL, 10);
            if (place < 1 || place > n || taken[place - 1]->res != NULL)
                continue;
            taken[place - 1]->res = row_alone(res, r);
            if (taken[place - 1]->res == NULL)
                taken[place - 1]->status = DB_ERROR;
        }
        PQclear(res);
    }
}

enum db_status db_batched(struct db_pool *p, const struct db_stmt *stmt, const char *key,
                          const char *now, int nextra, const char *const *extra, PGresult **out)
{
    *out = NULL;
    struct db_batcher *b = db_pool_batcher(p);
    if (b == NULL || strlen(key) > KEY_MAX)
        return DB_OK; /* no batching: the caller runs its single statement */
    struct call me = {.key = key, .now = now};
    pthread_mutex_lock(&b->lock);
    struct queue *q = queue_of(b, stmt);
    if (q == NULL) {
        pthread_mutex_unlock(&b->lock);
        return DB_OK;
    }
    if (q->tail != NULL)
        q->tail->next = &me;
    else
        q->head = &me;
    q->tail = &me;
    while (!me.done) {
        if (me.taken || q->inflight >= b->max_inflight || q->head == NULL) {
            pthread_cond_wait(&b->cond, &b->lock);
            continue;
        }
        /* Lead a batch: the queue, up to max_items, this call among them. */
        struct call *taken[256] = {NULL};
        int n = 0, max = b->max_items < 256 ? b->max_items : 256;
        while (q->head != NULL && n < max) {
            struct call *c = q->head;
            q->head = c->next;
            c->next = NULL;
            c->taken = true;
            taken[n++] = c;
        }
        if (q->head == NULL)
            q->tail = NULL;
        q->inflight++;
        pthread_mutex_unlock(&b->lock);
        run_batch(b, stmt, taken, n, nextra, extra);
        pthread_mutex_lock(&b->lock);
        q->inflight--;
        for (int i = 0; i < n; i++)
            taken[i]->done = true;
        pthread_cond_broadcast(&b->cond);
    }
    pthread_mutex_unlock(&b->lock);
    *out = me.res;
    return me.status;
}

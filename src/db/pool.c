/* Connection pool and statement execution.
 *
 * Connection states: closed (pg == NULL), idle (on the free list), in use.  A
 * connection found broken is closed on release and reopened lazily at the next
 * acquire, so allotd recovers from a database restart without restarting.
 * While connecting fails, acquires answer DB_UNAVAILABLE at once for a short
 * while instead of each waiting for the connect timeout. */
#include "db/internal.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "allot/config.h"
#include "allot/log.h"

#define RECONNECT_HOLDOFF_MS 250

struct db_conn {
    PGconn *pg;
    const struct db_stmt **prepared;
    size_t nprepared, capprepared;
    bool broken;
    char sqlstate[6];
    char error[256];
    struct db_conn *next_free;
};

struct db_pool {
    char *url;
    char statement_timeout[160];
    char connect_timeout[16];
    char application_name[64];
    int acquire_timeout_ms;

    pthread_mutex_t lock;
    pthread_cond_t available;
    struct db_conn *conns;
    struct db_conn *free_list;
    int size, in_use, waiting;
    uint64_t acquire_timeouts;
    int64_t connect_failed_at_ms; /* 0 = the last attempt succeeded */
    struct db_batcher *batcher;   /* NULL: no batching */
};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct db_pool_options db_pool_options_of(const struct config *cfg, int size, const char *name)
{
    return (struct db_pool_options){
        .url = cfg->database_url,
        .size = size,
        .acquire_timeout_ms = (int)cfg->db_acquire_timeout_ms,
        .statement_timeout_ms = (int)cfg->db_statement_timeout_ms,
        .connect_timeout_s = (int)cfg->db_connect_timeout,
        .application_name = name,
        .batch_max = (int)cfg->db_batch,
    };
}

struct db_pool *db_pool_new(const struct db_pool_options *opt)
{
    struct db_pool *p = calloc(1, sizeof *p);
    if (p == NULL)
        return NULL;
    p->url = strdup(opt->url);
    p->size = opt->size > 0 ? opt->size : 1;
    p->conns = calloc((size_t)p->size, sizeof *p->conns);
    if (p->url == NULL || p->conns == NULL) {
        free(p->url);
        free(p->conns);
        free(p);
        return NULL;
    }
    p->acquire_timeout_ms = opt->acquire_timeout_ms;
    snprintf(p->statement_timeout, sizeof p->statement_timeout,
             "-c statement_timeout=%d -c lock_timeout=%d -c TimeZone=UTC -c DateStyle=ISO,YMD"
             " -c search_path=public",
             opt->statement_timeout_ms, opt->statement_timeout_ms);
    snprintf(p->connect_timeout, sizeof p->connect_timeout, "%d", opt->connect_timeout_s);
    snprintf(p->application_name, sizeof p->application_name, "%s",
             opt->application_name ? opt->application_name : "allotd");
    pthread_mutex_init(&p->lock, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&p->available, &attr);
    pthread_condattr_destroy(&attr);
    for (int i = p->size - 1; i >= 0; i--) {
        p->conns[i].next_free = p->free_list;
        p->free_list = &p->conns[i];
    }
    /* Batches take at most half the connections: the rest serve the calls
     * a batch leaves and every other request. */
    if (opt->batch_max > 1)
        p->batcher = db_batcher_new(p, opt->batch_max, p->size / 2 > 0 ? p->size / 2 : 1);
    return p;
}

static void conn_close(struct db_conn *c)
{
    if (c->pg != NULL)
        PQfinish(c->pg);
    c->pg = NULL;
    c->nprepared = 0;
    c->broken = false;
}

void db_pool_free(struct db_pool *p)
{
    if (p == NULL)
        return;
    db_batcher_free(p->batcher);
    for (int i = 0; i < p->size; i++) {
        conn_close(&p->conns[i]);
        free(p->conns[i].prepared);
    }
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->available);
    free(p->conns);
    free(p->url);
    free(p);
}

static void notice_quiet(void *arg, const char *message)
{
    (void)arg;
    (void)message; /* NOTICEs (e.g. "relation already exists") are not errors */
}

static bool conn_open(struct db_pool *p, struct db_conn *c)
{
    const char *keys[] = {"dbname", "connect_timeout", "application_name", "options",
                          "keepalives", "keepalives_idle", "keepalives_interval",
                          "keepalives_count", NULL};
    const char *vals[] = {p->url, p->connect_timeout, p->application_name,
                          p->statement_timeout, "1", "30", "10", "3", NULL};
    c->pg = PQconnectdbParams(keys, vals, 1);
    c->nprepared = 0;
    c->broken = false;
    if (c->pg == NULL || PQstatus(c->pg) != CONNECTION_OK) {
        /* The libpq message may name the host but never the password. */
        snprintf(c->error, sizeof c->error, "%s",
                 c->pg ? PQerrorMessage(c->pg) : "out of memory");
        char *nl = strchr(c->error, '\n');
        if (nl != NULL)
            *nl = '\0';
        conn_close(c);
        return false;
    }
    PQsetNoticeProcessor(c->pg, notice_quiet, NULL);
    return true;
}

/* An idle connection has nothing to read: pooled connections never LISTEN
 * (src/db/listen.c has its own), so input nobody asked for is the server saying goodbye (a FATAL on restart or
 * termination, then EOF).  Such a connection is reopened now rather than
 * failing the next statement. */
static bool conn_idle_healthy(struct db_conn *c)
{
    if (PQstatus(c->pg) != CONNECTION_OK)
        return false;
    struct pollfd pfd = {.fd = PQsocket(c->pg), .events = POLLIN};
    return poll(&pfd, 1, 0) == 0;
}

enum db_status db_acquire(struct db_pool *p, struct db_conn **out)
{
    *out = NULL;
    int64_t deadline = now_ms() + p->acquire_timeout_ms;
    pthread_mutex_lock(&p->lock);
    while (p->free_list == NULL) {
        struct timespec ts = {.tv_sec = (time_t)(deadline / 1000),
                              .tv_nsec = (long)(deadline % 1000) * 1000000};
        p->waiting++;
        int rc = pthread_cond_timedwait(&p->available, &p->lock, &ts);
        p->waiting--;
        if (rc == ETIMEDOUT && p->free_list == NULL) {
            p->acquire_timeouts++;
            pthread_mutex_unlock(&p->lock);
            log_warn(NULL, "no database connection free within %d ms", p->acquire_timeout_ms);
            return DB_UNAVAILABLE;
        }
    }
    struct db_conn *c = p->free_list;
    p->free_list = c->next_free;
    p->in_use++;
    bool holdoff = c->pg == NULL && p->connect_failed_at_ms != 0 &&
                   now_ms() - p->connect_failed_at_ms < RECONNECT_HOLDOFF_MS;
    pthread_mutex_unlock(&p->lock);

    if (c->pg != NULL && !conn_idle_healthy(c))
        conn_close(c);
    if (c->pg == NULL) {
        bool ok = !holdoff && conn_open(p, c);
        pthread_mutex_lock(&p->lock);
        bool first_failure = !ok && p->connect_failed_at_ms == 0;
        bool recovered = ok && p->connect_failed_at_ms != 0;
        if (!holdoff)
            p->connect_failed_at_ms = ok ? 0 : now_ms();
        pthread_mutex_unlock(&p->lock);
        if (first_failure)
            log_error(NULL, "cannot connect to PostgreSQL: %s", c->error);
        if (recovered)
            log_info(NULL, "connected to PostgreSQL again");
        if (!ok) {
            db_release(p, c);
            return DB_UNAVAILABLE;
        }
    }
    *out = c;
    return DB_OK;
}

void db_release(struct db_pool *p, struct db_conn *c)
{
    if (c == NULL)
        return;
    if (c->pg != NULL &&
        (c->broken || PQstatus(c->pg) != CONNECTION_OK ||
         PQtransactionStatus(c->pg) != PQTRANS_IDLE))
        conn_close(c);
    pthread_mutex_lock(&p->lock);
    c->next_free = p->free_list;
    p->free_list = c;
    p->in_use--;
    pthread_cond_signal(&p->available);
    pthread_mutex_unlock(&p->lock);
}

struct db_batcher *db_pool_batcher(struct db_pool *p)
{
    return p->batcher;
}

void db_pool_stats(struct db_pool *p, struct db_pool_stats *out)
{
    pthread_mutex_lock(&p->lock);
    out->size = p->size;
    out->in_use = p->in_use;
    out->waiting = p->waiting;
    out->acquire_timeouts = p->acquire_timeouts;
    int open = 0;
    for (int i = 0; i < p->size; i++)
        open += p->conns[i].pg != NULL;
    out->open = open;
    pthread_mutex_unlock(&p->lock);
}

enum db_status db_classify(const char *sqlstate)
{
    if (sqlstate == NULL || sqlstate[0] == '\0')
        return DB_UNAVAILABLE;
    if (strcmp(sqlstate, "40001") == 0 || strcmp(sqlstate, "40P01") == 0)
        return DB_RETRY;
    if (strcmp(sqlstate, "23505") == 0)
        return DB_CONFLICT;
    if (strcmp(sqlstate, "23503") == 0)
        return DB_FOREIGN_KEY;
    if (strncmp(sqlstate, "22", 2) == 0 || strcmp(sqlstate, "23514") == 0)
        return DB_INVALID;
    /* 08: connection exception; 57P01..03: admin shutdown, crash, cannot connect now;
     * 53: insufficient resources; 57014: statement timeout (cancelled). */
    if (strncmp(sqlstate, "08", 2) == 0 || strncmp(sqlstate, "57P0", 4) == 0 ||
        strncmp(sqlstate, "53", 2) == 0 || strcmp(sqlstate, "57014") == 0 ||
        strcmp(sqlstate, "55P03") == 0)
        return DB_UNAVAILABLE;
    return DB_ERROR;
}

/* Records the outcome of a result and classifies it. */
static enum db_status conn_result(struct db_conn *c, PGresult *r)
{
    ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
        c->sqlstate[0] = '\0';
        c->error[0] = '\0';
        return DB_OK;
    }
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    const char *msg = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    snprintf(c->sqlstate, sizeof c->sqlstate, "%s", state ? state : "");
    snprintf(c->error, sizeof c->error, "%s", msg ? msg : PQerrorMessage(c->pg));
    enum db_status s = db_classify(state);
    if (PQstatus(c->pg) != CONNECTION_OK || state == NULL) {
        c->broken = true;
        s = DB_UNAVAILABLE;
    }
    if (s == DB_UNAVAILABLE && (state == NULL || strncmp(state, "08", 2) == 0 ||
                                strncmp(state, "57P0", 4) == 0))
        c->broken = true;
    return s;
}

static bool is_prepared(const struct db_conn *c, const struct db_stmt *stmt)
{
    for (size_t i = 0; i < c->nprepared; i++)
        if (c->prepared[i] == stmt)
            return true;
    return false;
}

static enum db_status prepare(struct db_conn *c, const struct db_stmt *stmt)
{
    if (is_prepared(c, stmt))
        return DB_OK;
    if (c->nprepared == c->capprepared) {
        size_t cap = c->capprepared ? c->capprepared * 2 : 32;
        const struct db_stmt **grown = realloc(c->prepared, cap * sizeof *grown);
        if (grown == NULL)
            return DB_ERROR;
        c->prepared = grown;
        c->capprepared = cap;
    }
    PGresult *r = PQprepare(c->pg, stmt->name, stmt->sql, 0, NULL);
    enum db_status s = conn_result(c, r);
    PQclear(r);
    if (s != DB_OK) {
        if (s == DB_ERROR)
            log_error(NULL, "preparing %s failed: %s", stmt->name, c->error);
        return s;
    }
    c->prepared[c->nprepared++] = stmt;
    return DB_OK;
}

enum db_status db_exec(struct db_conn *c, const struct db_stmt *stmt, int nparams,
                       const char *const *params, PGresult **res)
{
    if (res != NULL)
        *res = NULL;
    PGresult *r;
    enum db_status s;
    if (stmt->per_call) {
        r = PQexecParams(c->pg, stmt->sql, nparams, NULL, params, NULL, NULL, 0);
    } else {
        s = prepare(c, stmt);
        if (s != DB_OK)
            return s;
        r = PQexecPrepared(c->pg, stmt->name, nparams, params, NULL, NULL, 0);
    }
    s = conn_result(c, r);
    if (s == DB_ERROR)
        log_error(NULL, "statement %s failed: SQLSTATE %s: %s", stmt->name, c->sqlstate,
                  c->error);
    else if (s == DB_INVALID)
        log_warn(NULL, "statement %s: the database refused a value: SQLSTATE %s: %s", stmt->name,
                 c->sqlstate, c->error);
    if (s == DB_OK && res != NULL)
        *res = r;
    else
        PQclear(r);
    return s;
}

enum db_status db_run(struct db_conn *c, const struct db_stmt *stmt, int nparams,
                      const char *const *params)
{
    return db_exec(c, stmt, nparams, params, NULL);
}

enum db_status db_simple(struct db_conn *c, const char *sql)
{
    PGresult *r = PQexec(c->pg, sql);
    enum db_status s = conn_result(c, r);
    PQclear(r);
    return s;
}

const char *db_last_sqlstate(const struct db_conn *c)
{
    return c->sqlstate;
}

const char *db_last_error(const struct db_conn *c)
{
    return c->error;
}

PGconn *db_pg(struct db_conn *c)
{
    return c->pg;
}


/* The authority's store: one interface, two backends (authority.h).
 *
 * The state directory (state.c) is the single-machine store: every change a
 * read-modify-write under the directory's flock.  PostgreSQL is the store of
 * several instances: each change is one call of a function in the schema
 * `authority` (migrations/authority/0001_state.sql) that takes the license's
 * row lock, one round trip.  The connections are a small pool: a request
 * takes one, waits at most POOL_WAIT_S for one, and a connection that broke is
 * made again by the next request that takes it.  `migrate` and `import` are
 * store_migrate.c. */
#include "authority.h"
#include "allot/db.h"
#include "store_pg.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>
#include <openssl/crypto.h>

#define POOL_MAX 16
#define POOL_WAIT_S 5

struct astore {
    char *dir;                  /* the directory backend, or NULL */
    char *url;                  /* the PostgreSQL backend */
    pthread_mutex_t lock;
    pthread_cond_t freed;
    int nconns;
    PGconn *conns[POOL_MAX];
    bool busy[POOL_MAX];
};

const char *astore_kind(const struct astore *s)
{
    return s->dir != NULL ? "directory" : "postgresql";
}

/* ---- the directory -------------------------------------------------------------- */

struct astore *astore_open_dir(const char *dir, char *why, size_t whylen)
{
    if (astate_prepare(dir, why, whylen) != 0)
        return NULL;
    struct astore *s = calloc(1, sizeof *s);
    if (s == NULL || (s->dir = strdup(dir)) == NULL) {
        free(s);
        snprintf(why, whylen, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->freed, NULL);
    return s;
}

static int set_revoked_fn(struct astate *st, void *arg, char *why, size_t whylen)
{
    (void)why;
    (void)whylen;
    st->revoked = *(const bool *)arg;
    return 0;
}

struct new_definition {
    const char *key;
    int64_t iat;
};

static int set_definition_fn(struct astate *st, void *arg, char *why, size_t whylen)
{
    const struct new_definition *d = arg;
    char *copy = strdup(d->key);
    if (copy == NULL) {
        snprintf(why, whylen, "out of memory");
        return -1;
    }
    astate_free(st);
    st->definition = copy;
    st->definition_iat = d->iat;
    return 0;
}

struct record {
    const struct sync_change *c;
    bool limited;
    int64_t retry_after;
};

/* The sync rate limit, then the sync (as authority.record_sync does). */
static int record_sync_fn(struct astate *st, void *arg, char *why, size_t whylen)
{
    struct record *rec = arg;
    const struct sync_change *c = rec->c;
    if (c->rate_limit > 0) {
        int64_t ws = c->now, cnt = 0;
        if (st->rate_window_start > 0 && c->now >= st->rate_window_start &&
            c->now < st->rate_window_start + c->rate_window) {
            ws = st->rate_window_start;
            cnt = st->rate_count;
        }
        if (cnt >= c->rate_limit) {
            rec->limited = true;
            rec->retry_after = ws + c->rate_window - c->now;
            if (rec->retry_after < 1)
                rec->retry_after = 1;
            snprintf(why, whylen, "rate limited");
            return 1; /* nothing written */
        }
        st->rate_window_start = ws;
        st->rate_count = cnt + 1;
    }
    if (st->definition == NULL || c->bearer_iat > st->definition_iat) {
        char *copy = strdup(c->bearer);
        if (copy == NULL) {
            snprintf(why, whylen, "out of memory");
            return -1;
        }
        astate_free(st);
        st->definition = copy;
        st->definition_iat = c->bearer_iat;
    }
    st->sync_count++;
    st->synced = true;
    st->last_sync_at = c->now;
    memcpy(st->site, c->req->site, sizeof st->site);
    st->assignments = c->req->assignments;
    st->site_definition_iat = c->req->definition_issued_at;
    return 0;
}

/* ---- PostgreSQL -------------------------------------------------------------------- */

PGconn *astore_pg_connect(const char *url, char *why, size_t whylen)
{
    PGconn *c = PQconnectdb(url);
    if (c == NULL || PQstatus(c) != CONNECTION_OK) {
        const char *msg = c != NULL ? PQerrorMessage(c) : "out of memory";
        snprintf(why, whylen, "cannot connect to the database: %.*s",
                 (int)strcspn(msg, "\n"), msg);
        PQfinish(c);
        return NULL;
    }
    PQclear(PQexec(c, "SET statement_timeout = '10s'; SET client_min_messages = warning"));
    return c;
}

/* A connection of the pool; NULL with why (none free in time, or no database). */
static PGconn *take(struct astore *s, int *slot, char *why, size_t whylen)
{
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += POOL_WAIT_S;
    pthread_mutex_lock(&s->lock);
    int i = -1;
    for (;;) {
        for (int k = 0; k < s->nconns && i < 0; k++)
            if (!s->busy[k])
                i = k;
        if (i >= 0 || pthread_cond_timedwait(&s->freed, &s->lock, &deadline) == ETIMEDOUT)
            break;
    }
    if (i >= 0)
        s->busy[i] = true;
    pthread_mutex_unlock(&s->lock);
    if (i < 0) {
        snprintf(why, whylen, "no database connection free within %d s", POOL_WAIT_S);
        return NULL;
    }
    if (s->conns[i] != NULL && PQstatus(s->conns[i]) != CONNECTION_OK) {
        PQfinish(s->conns[i]);
        s->conns[i] = NULL;
    }
    if (s->conns[i] == NULL)
        s->conns[i] = astore_pg_connect(s->url, why, whylen);
    if (s->conns[i] == NULL) {
        pthread_mutex_lock(&s->lock);
        s->busy[i] = false;
        pthread_cond_signal(&s->freed);
        pthread_mutex_unlock(&s->lock);
        return NULL;
    }
    *slot = i;
    return s->conns[i];
}

static void give(struct astore *s, int slot)
{
    pthread_mutex_lock(&s->lock);
    s->busy[slot] = false;
    pthread_cond_signal(&s->freed);
    pthread_mutex_unlock(&s->lock);
}

/* One parameterized statement; the result when it has the status wanted,
 * else NULL with why (never the statement's parameters). */
PGresult *astore_pg_exec(PGconn *c, const char *sql, int n, const char *const *params,
                      ExecStatusType want, char *why, size_t whylen)
{
    PGresult *r = PQexecParams(c, sql, n, NULL, params, NULL, NULL, 0);
    if (r != NULL && PQresultStatus(r) == want)
        return r;
    const char *msg = r != NULL ? PQresultErrorMessage(r) : PQerrorMessage(c);
    snprintf(why, whylen, "database: %.*s", (int)strcspn(msg, "\n"), msg);
    PQclear(r);
    return NULL;
}

int astore_pg_schema_version(PGconn *c, char *why, size_t whylen)
{
    PGresult *r = astore_pg_exec(c, "SELECT coalesce(max(version), 0) FROM authority.schema_migrations",
                       0, NULL, PGRES_TUPLES_OK, why, whylen);
    int v = r != NULL ? (int)strtol(PQgetvalue(r, 0, 0), NULL, 10) : -1;
    PQclear(r);
    return v;
}

struct astore *astore_open_pg(const char *url, int conns, char *why, size_t whylen)
{
    PGconn *c = astore_pg_connect(url, why, whylen);
    if (c == NULL)
        return NULL;
    int v = astore_pg_schema_version(c, why, whylen);
    int want = (int)authority_migrations_count;
    if (v != want) {
        if (v >= 0 || strstr(why, "does not exist") != NULL)
            snprintf(why, whylen, "the database has schema version %d of the authority, this "
                     "program needs %d: run 'allot-authority migrate'", v < 0 ? 0 : v, want);
        PQfinish(c);
        return NULL;
    }
    struct astore *s = calloc(1, sizeof *s);
    if (s == NULL || (s->url = strdup(url)) == NULL) {
        free(s);
        PQfinish(c);
        snprintf(why, whylen, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->freed, NULL);
    s->nconns = conns < 1 ? 1 : conns > POOL_MAX ? POOL_MAX : conns;
    s->conns[0] = c;
    return s;
}

PGconn *astore_pg_first(struct astore *s)
{
    return s->conns[0];
}

void astore_close(struct astore *s)
{
    if (s == NULL)
        return;
    for (int i = 0; i < s->nconns; i++)
        PQfinish(s->conns[i]);
    pthread_mutex_destroy(&s->lock);
    pthread_cond_destroy(&s->freed);
    free(s->dir);
    if (s->url != NULL) {
        OPENSSL_cleanse(s->url, strlen(s->url)); /* may hold a password */
        free(s->url);
    }
    free(s);
}

static int64_t int_at(PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? 0 : strtoll(PQgetvalue(r, row, col), NULL, 10);
}


/* One row of STATE_COLUMNS into *st; false with why. */
static bool state_of_row(PGresult *r, int row, struct astate *st, char *why, size_t whylen)
{
    astate_init(st, PQgetvalue(r, row, 0));
    st->revoked = strcmp(PQgetvalue(r, row, 1), "t") == 0;
    if (!PQgetisnull(r, row, 2)) {
        st->definition = strdup(PQgetvalue(r, row, 2));
        if (st->definition == NULL) {
            snprintf(why, whylen, "out of memory");
            return false;
        }
        st->definition_iat = int_at(r, row, 3);
    }
    st->sync_count = int_at(r, row, 4);
    if (!PQgetisnull(r, row, 5)) {
        st->synced = true;
        st->last_sync_at = int_at(r, row, 5);
        snprintf(st->site, sizeof st->site, "%s", PQgetvalue(r, row, 6));
        json_t *a = json_loads(PQgetvalue(r, row, 7), 0, NULL);
        char reason[160];
        bool ok = sync_assignments_parse(a, &st->assignments, reason, sizeof reason);
        json_decref(a);
        if (!ok) {
            snprintf(why, whylen, "license %s: assignments in the database: %s",
                     st->license_number, reason);
            return false;
        }
        st->site_definition_iat = int_at(r, row, 8);
    }
    st->rate_window_start = int_at(r, row, 9);
    st->rate_count = int_at(r, row, 10);
    return true;
}

/* ---- the interface ------------------------------------------------------------------ */

int astore_read(struct astore *s, const char *number, struct astate *st, char *why,
                size_t whylen)
{
    if (s->dir != NULL)
        return astate_read(s->dir, number, st, why, whylen);
    astate_init(st, number);
    int slot;
    PGconn *c = take(s, &slot, why, whylen);
    if (c == NULL)
        return -1;
    const char *p[] = {number};
    PGresult *r = astore_pg_exec(c, "SELECT " STATE_COLUMNS " FROM authority.licenses "
                          "WHERE license_number = $1", 1, p, PGRES_TUPLES_OK, why, whylen);
    give(s, slot);
    int rc = r == NULL ? -1 : PQntuples(r) == 0 ? 0 : 1;
    if (rc == 1) {
        astate_free(st);
        if (!state_of_row(r, 0, st, why, whylen))
            rc = -1;
    }
    PQclear(r);
    return rc;
}

/* One call of a function returning void. */
static int call(struct astore *s, const char *sql, int n, const char *const *p, char *why,
                size_t whylen)
{
    int slot;
    PGconn *c = take(s, &slot, why, whylen);
    if (c == NULL)
        return -1;
    PGresult *r = astore_pg_exec(c, sql, n, p, PGRES_TUPLES_OK, why, whylen);
    give(s, slot);
    PQclear(r);
    return r != NULL ? 0 : -1;
}

int astore_set_revoked(struct astore *s, const char *number, bool revoked, char *why,
                       size_t whylen)
{
    if (s->dir != NULL)
        return astate_update(s->dir, number, set_revoked_fn, &revoked, NULL, why, whylen);
    const char *p[] = {number, revoked ? "true" : "false"};
    return call(s, "SELECT authority.set_revoked($1, $2)", 2, p, why, whylen);
}

int astore_set_definition(struct astore *s, const char *number, const char *key, int64_t iat,
                          char *why, size_t whylen)
{
    if (s->dir != NULL) {
        struct new_definition d = {key, iat};
        return astate_update(s->dir, number, set_definition_fn, &d, NULL, why, whylen);
    }
    char iats[24];
    snprintf(iats, sizeof iats, "%lld", (long long)iat);
    const char *p[] = {number, key, iats};
    return call(s, "SELECT authority.set_definition($1, $2, $3)", 3, p, why, whylen);
}

enum astore_result astore_record_sync(struct astore *s, const char *number,
                                      const struct sync_change *c, struct astate *out,
                                      int64_t *retry_after, char *why, size_t whylen)
{
    *retry_after = 0;
    if (s->dir != NULL) {
        struct record rec = {.c = c};
        if (astate_update(s->dir, number, record_sync_fn, &rec, out, why, whylen) == 0)
            return ASTORE_OK;
        if (!rec.limited)
            return ASTORE_ERROR;
        *retry_after = rec.retry_after;
        astate_free(out);
        return astate_read(s->dir, number, out, why, whylen) < 0 ? ASTORE_ERROR
                                                                  : ASTORE_RATE_LIMITED;
    }
    astate_init(out, number);
    json_t *a = sync_assignments_to_json(&c->req->assignments);
    char *assignments = a != NULL ? json_dumps(a, JSON_COMPACT) : NULL;
    json_decref(a);
    if (assignments == NULL) {
        snprintf(why, whylen, "out of memory");
        return ASTORE_ERROR;
    }
    char now[24], site_iat[24], bearer_iat[24], limit[24], window[24];
    snprintf(now, sizeof now, "%lld", (long long)c->now);
    snprintf(site_iat, sizeof site_iat, "%lld", (long long)c->req->definition_issued_at);
    snprintf(bearer_iat, sizeof bearer_iat, "%lld", (long long)c->bearer_iat);
    snprintf(limit, sizeof limit, "%lld", (long long)c->rate_limit);
    snprintf(window, sizeof window, "%lld", (long long)c->rate_window);
    const char *p[] = {number, now, c->req->site, assignments, site_iat, c->bearer, bearer_iat,
                       limit, window};
    int slot;
    PGconn *conn = take(s, &slot, why, whylen);
    PGresult *r = conn != NULL
                      ? astore_pg_exec(conn, "SELECT outcome, retry_after, revoked, definition, "
                                   "definition_iat, sync_count FROM authority.record_sync("
                                   "$1, $2, $3, $4, $5, $6, $7, $8, $9)",
                             9, p, PGRES_TUPLES_OK, why, whylen)
                      : NULL;
    if (conn != NULL)
        give(s, slot);
    free(assignments);
    if (r == NULL || PQntuples(r) != 1) {
        if (r != NULL)
            snprintf(why, whylen, "database: authority.record_sync answered no row");
        PQclear(r);
        return ASTORE_ERROR;
    }
    enum astore_result res = strcmp(PQgetvalue(r, 0, 0), "ok") == 0 ? ASTORE_OK
                                                                    : ASTORE_RATE_LIMITED;
    *retry_after = int_at(r, 0, 1);
    out->revoked = strcmp(PQgetvalue(r, 0, 2), "t") == 0;
    if (!PQgetisnull(r, 0, 3)) {
        out->definition = strdup(PQgetvalue(r, 0, 3));
        out->definition_iat = int_at(r, 0, 4);
    }
    out->sync_count = int_at(r, 0, 5);
    bool lost = !PQgetisnull(r, 0, 3) && out->definition == NULL;
    PQclear(r);
    if (lost) {
        snprintf(why, whylen, "out of memory");
        return ASTORE_ERROR;
    }
    return res;
}

int astore_list(struct astore *s, int (*fn)(const struct astate *st, void *arg), void *arg,
                char *why, size_t whylen)
{
    if (s->dir != NULL)
        return astate_list(s->dir, fn, arg, why, whylen);
    int slot;
    PGconn *c = take(s, &slot, why, whylen);
    if (c == NULL)
        return -1;
    PGresult *r = astore_pg_exec(c, "SELECT " STATE_COLUMNS " FROM authority.licenses "
                          "ORDER BY length(license_number), license_number",
                       0, NULL, PGRES_TUPLES_OK, why, whylen);
    give(s, slot);
    if (r == NULL)
        return -1;
    int rc = 0;
    for (int i = 0; i < PQntuples(r) && rc == 0; i++) {
        struct astate st;
        if (!state_of_row(r, i, &st, why, whylen))
            rc = -1;
        else if (fn(&st, arg) != 0)
            rc = 1;
        astate_free(&st);
    }
    PQclear(r);
    return rc < 0 ? -1 : 0;
}

bool astore_ready(struct astore *s, char *why, size_t whylen)
{
    if (s->dir != NULL) {
        if (astate_prepare(s->dir, why, whylen) != 0)
            return false;
        return true;
    }
    int slot;
    PGconn *c = take(s, &slot, why, whylen);
    if (c == NULL)
        return false;
    int v = astore_pg_schema_version(c, why, whylen);
    give(s, slot);
    if (v >= 0 && v != (int)authority_migrations_count)
        snprintf(why, whylen, "the database has schema version %d of the authority, this "
                 "program needs %d", v, (int)authority_migrations_count);
    return v == (int)authority_migrations_count;
}

struct astore *authority_store_of(const struct command *cmd, const char *dir, const char *url,
                                  int conns, int *rc)
{
    *rc = EXIT_USAGE;
    if (url == NULL && dir == NULL) {
        url = getenv(AUTHORITY_DATABASE_ENV);
        if (url != NULL && url[0] == '\0')
            url = NULL;
    }
    if (dir != NULL && dir[0] == '\0') {
        authority_usage_error(cmd, "--state-dir: an empty path");
        return NULL;
    }
    if (dir != NULL && url != NULL) {
        authority_usage_error(cmd, "--state-dir and --database exclude each other");
        return NULL;
    }
    if (dir == NULL && url == NULL) {
        authority_usage_error(cmd, "--state-dir DIR or --database URL (or %s) is required",
                              AUTHORITY_DATABASE_ENV);
        return NULL;
    }
    char why[512];
    struct astore *s = dir != NULL ? astore_open_dir(dir, why, sizeof why)
                                   : astore_open_pg(url, conns, why, sizeof why);
    if (s == NULL) {
        authority_errorf(cmd, "%s", why);
        *rc = 1;
    }
    return s;
}

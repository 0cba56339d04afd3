/* Database layer: a connection pool with an acquire timeout, prepared
 * statements only, and one transaction helper that retries serialization
 * failures and deadlocks with jittered backoff and a bound.
 *
 * SQLSTATEs are classified once, here: 40001/40P01 retry, 23505 conflict,
 * 23503 foreign key, 08xxx and a broken connection reconnect and answer
 * DB_UNAVAILABLE (503 with Retry-After). */
#ifndef ALLOT_DB_H
#define ALLOT_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

enum db_status {
    DB_OK = 0,
    DB_NOT_FOUND,      /* a statement expected a row and got none */
    DB_CONFLICT,       /* 23505 unique violation */
    DB_FOREIGN_KEY,    /* 23503 */
    DB_INVALID,        /* 22xxx / 23514: the data was refused */
    DB_RETRY,          /* 40001 / 40P01: the transaction helper retries */
    DB_UNAVAILABLE,    /* connection lost, database down, pool timed out */
    DB_ERROR,          /* anything else: a bug or an internal failure */
    DB_ABORT,          /* the transaction body chose to roll back */
};

/* A named statement, prepared on each connection at first use. */
struct db_stmt {
    const char *name;
    const char *sql;
};

struct db_pool;
struct db_conn;

struct db_pool_options {
    const char *url;           /* libpq string or URI; never logged */
    int size;
    int acquire_timeout_ms;
    int statement_timeout_ms;
    int connect_timeout_s;
    const char *application_name;
};

struct db_pool *db_pool_new(const struct db_pool_options *opt);
void db_pool_free(struct db_pool *p);

/* Connections are opened lazily; a broken one is reopened at the next acquire. */
enum db_status db_acquire(struct db_pool *p, struct db_conn **out);
void db_release(struct db_pool *p, struct db_conn *c);

struct db_pool_stats {
    int size, open, in_use, waiting;
    uint64_t acquire_timeouts;
};
void db_pool_stats(struct db_pool *p, struct db_pool_stats *out);

/* Runs a prepared statement.  params: nparams text values (NULL = SQL NULL).
 * On success *res holds the result (PQclear it); on failure *res is NULL.
 * Each call records the SQLSTATE for db_last_error. */
enum db_status db_exec(struct db_conn *c, const struct db_stmt *stmt, int nparams,
                       const char *const *params, PGresult **res);
/* As db_exec, for statements without rows to read. */
enum db_status db_run(struct db_conn *c, const struct db_stmt *stmt, int nparams,
                      const char *const *params);
/* Plain SQL without parameters: BEGIN, COMMIT, ROLLBACK, SET, migrations. */
enum db_status db_simple(struct db_conn *c, const char *sql);
const char *db_last_sqlstate(const struct db_conn *c);
const char *db_last_error(const struct db_conn *c);
PGconn *db_pg(struct db_conn *c);

/* One statement on a pooled connection, outside an explicit transaction. */
enum db_status db_query(struct db_pool *p, const struct db_stmt *stmt, int nparams,
                        const char *const *params, PGresult **res);

enum db_isolation { DB_READ_COMMITTED, DB_REPEATABLE_READ, DB_SERIALIZABLE };

typedef enum db_status (*db_tx_fn)(struct db_conn *c, void *arg);

/* BEGIN; fn; COMMIT.  A DB_RETRY from fn or from COMMIT rolls back and runs fn
 * again after a jittered backoff, at most DB_TX_MAX_ATTEMPTS times.  A broken
 * connection before fn ran is reopened and tried once more.  Any other status
 * from fn rolls back and is returned. */
#define DB_TX_MAX_ATTEMPTS 8
enum db_status db_tx(struct db_pool *p, enum db_isolation iso, db_tx_fn fn, void *arg);

/* Classifies a SQLSTATE (NULL = connection failure). */
enum db_status db_classify(const char *sqlstate);

/* Migrations embedded in the binary (migrations/NNNN_name.sql). */
struct db_migration {
    int version;
    const char *name;
    const char *sql;
};
extern const struct db_migration db_migrations[];
extern const size_t db_migrations_count;
int db_schema_expected(void);

/* Applies every migration not yet recorded, each in its own transaction, under
 * an advisory lock so that two processes can run it at once.  Returns the
 * number applied, or -1 (the reason logged). */
int db_migrate(const char *url);
/* The version recorded in the database, 0 on an empty one, -1 if unreachable. */
int db_schema_version(struct db_conn *c);

#endif

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

/* A named statement, prepared on each connection at first use, whose plan
 * PostgreSQL keeps.  A statement whose best plan depends on which of its
 * optional filters are given (the lists) is `per_call`: sent unnamed, so it is
 * planned at each call with the values at hand. */
struct db_stmt {
    const char *name;
    const char *sql;
    bool per_call;
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
    int batch_max; /* calls a batch may hold (db_batched); below 2: no batching */
};

struct db_pool *db_pool_new(const struct db_pool_options *opt);
/* allotd's pool options from its configuration (ALLOT_DATABASE_URL and the
 * ALLOT_DB_* variables), for a pool of `size` connections named `name`. */
struct config;
struct db_pool_options db_pool_options_of(const struct config *cfg, int size, const char *name);
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

/* One call of a batched decision (src/db/batch.c): concurrent calls of the
 * statement share one round trip and one transaction.  The statement takes
 * $1 the calls' keys (a text array literal of them is sent), $2 now, and
 * nextra more parameters that are the same for every call; it answers a row
 * per call it decided, whose last column is the call's place in $1 (from 1).
 * On DB_OK *out is this call's row alone (PQclear it), or NULL when the
 * batch did not decide it (or the pool does not batch): run the single
 * statement then. */
enum db_status db_batched(struct db_pool *p, const struct db_stmt *stmt, const char *key,
                          const char *now, int nextra, const char *const *extra, PGresult **out);

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

/* The licensing engine (sql/name.sql), embedded in the binary in the order
 * it is applied. */
struct db_engine_file {
    const char *name;
    const char *sql;
};
extern const struct db_engine_file db_engine_files[];
extern const size_t db_engine_files_count;

/* SHA-256 (hex) of the engine this binary carries: its files and the table of
 * license parameters (allot/params.def) whose defaults it writes. */
const char *db_engine_digest(void);

/* Applies every migration not yet recorded, each in its own transaction, then
 * the engine when the database runs another one (src/db/engine.c), all under
 * an advisory lock so that two processes can run it at once.  Returns the
 * number of migrations applied, or -1 (the reason logged). */
int db_migrate(const char *url);
/* The version recorded in the database, 0 on an empty one, -1 if unreachable. */
int db_schema_version(struct db_conn *c);
/* 1 when the database runs this binary's engine, 0 when it runs another one
 * (or none: `allotd migrate` has to run), -1 when unreachable. */
int db_engine_current(struct db_conn *c);

/* Internal to db_migrate: applies the engine on a connection that holds the
 * migration lock.  0 unchanged, 1 applied, -1 failed (logged). */
int db_engine_apply(PGconn *pg);

/* The server's state and the database (src/db/ready.c). */
struct app;
/* True when the schema is current and the database runs this allotd's
 * engine; logs what to run when it is not.  Checks at most once a second,
 * one thread at a time (the others answer false at once). */
bool db_schema_ready(struct app *a);
/* The engine was replaced (NOTIFY allot_engine): check again. */
void db_schema_changed(struct app *a);
/* Loads the cursor key of the lists if needed; DB_UNAVAILABLE when the
 * database cannot be reached. */
enum db_status db_cursor_key(struct app *a, const unsigned char **key);

/* LISTEN: a thread with its own connection that calls fn(channel, arg) for
 * every notification on the channels, and fn(NULL, arg) whenever it loses or
 * regains the connection (a notification may have been missed: anything
 * cached must go).  It reconnects by itself. */
typedef void (*db_listen_fn)(const char *channel, void *arg);
struct db_listener;
struct db_listener *db_listener_start(const char *url, const char *const *channels,
                                      db_listen_fn fn, void *arg);
void db_listener_stop(struct db_listener *l);
/* True while LISTENing: notifications arrive. */
bool db_listener_up(struct db_listener *l);

#endif

/* allotd migrate: applies migrations/NNNN_name.sql in order, each in its own
 * transaction and recorded in schema_migrations, then the engine of sql/
 * (src/db/engine.c).  A session-level advisory lock
 * serialises concurrent runs, so two processes migrating at once is safe and
 * the second one finds nothing left to do. */
#include "allot/db.h"

#include "db/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "allot/log.h"

int db_schema_expected(void)
{
    return db_migrations_count ? db_migrations[db_migrations_count - 1].version : 0;
}

bool db_migrate_exec(PGconn *pg, const char *sql, int n, const char *const *params,
                     const char *what)
{
    /* without parameters, a script of several statements (a migration) */
    PGresult *r = n == 0 ? PQexec(pg, sql) : PQexecParams(pg, sql, n, NULL, params, NULL, NULL, 0);
    ExecStatusType st = PQresultStatus(r);
    bool ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
    if (!ok) {
        const char *msg = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
        log_error(NULL, "migrate: %s failed: %s", what, msg ? msg : PQerrorMessage(pg));
    }
    PQclear(r);
    return ok;
}

/* Highest version recorded, 0 when none; -1 on failure. */
static int recorded_version(PGconn *pg)
{
    PGresult *r = PQexec(pg, "SELECT coalesce(max(version), 0) FROM schema_migrations");
    int v = -1;
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
        v = (int)strtol(PQgetvalue(r, 0, 0), NULL, 10);
    else if (PQresultErrorField(r, PG_DIAG_SQLSTATE) != NULL &&
             strcmp(PQresultErrorField(r, PG_DIAG_SQLSTATE), "42P01") == 0)
        v = 0; /* no schema_migrations yet: an empty database */
    PQclear(r);
    return v;
}

static bool apply_one(PGconn *pg, const struct db_migration *m)
{
    char version[16];
    snprintf(version, sizeof version, "%d", m->version);
    const char *params[] = {version, m->name};
    if (!db_migrate_exec(pg, "BEGIN", 0, NULL, "BEGIN"))
        return false;
    if (!db_migrate_exec(pg, m->sql, 0, NULL, m->name)) {
        db_migrate_exec(pg, "ROLLBACK", 0, NULL, "ROLLBACK");
        return false;
    }
    PGresult *r = PQexecParams(pg,
                               "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
                               2, NULL, params, NULL, NULL, 0);
    bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    if (!ok || !db_migrate_exec(pg, "COMMIT", 0, NULL, "COMMIT")) {
        db_migrate_exec(pg, "ROLLBACK", 0, NULL, "ROLLBACK");
        return false;
    }
    log_info(NULL, "migrate: applied %04d_%s", m->version, m->name);
    return true;
}

int db_migrate(const char *url)
{
    /* search_path: allot's tables are in public, whatever schemas the role has. */
    const char *keys[] = {"dbname", "application_name", "connect_timeout", "options", NULL};
    const char *vals[] = {url, "allotd-migrate", "10", "-c search_path=public", NULL};
    PGconn *pg = PQconnectdbParams(keys, vals, 1);
    if (PQstatus(pg) != CONNECTION_OK) {
        char msg[256];
        snprintf(msg, sizeof msg, "%s", PQerrorMessage(pg));
        msg[strcspn(msg, "\n")] = '\0';
        log_error(NULL, "migrate: cannot connect to PostgreSQL: %s", msg);
        PQfinish(pg);
        return -1;
    }
    int applied = -1;
    /* The lock is held by this session until it ends, whatever happens below. */
    if (!db_migrate_exec(pg, "SET client_min_messages = warning", 0, NULL, "SET") ||
        !db_migrate_exec(pg, "SELECT pg_advisory_lock(7308812001)", 0, NULL, "advisory lock") ||
        !db_migrate_exec(pg,
                 "CREATE TABLE IF NOT EXISTS schema_migrations ("
                 " version integer PRIMARY KEY,"
                 " name text NOT NULL,"
                 " applied_at timestamptz NOT NULL DEFAULT now())", 0, NULL,
                 "creating schema_migrations"))
        goto done;
    int current = recorded_version(pg);
    if (current < 0)
        goto done;
    if (current > db_schema_expected())
        log_warn(NULL, "migrate: the database is at version %d, newer than this allotd (%d)",
                 current, db_schema_expected());
    applied = 0;
    for (size_t i = 0; i < db_migrations_count; i++) {
        if (db_migrations[i].version <= current)
            continue;
        if (!apply_one(pg, &db_migrations[i])) {
            applied = -1;
            goto done;
        }
        applied++;
    }
    log_info(NULL, "migrate: schema at version %d (%d applied now)", db_schema_expected(),
             applied);
    /* An older allotd never puts its engine over a newer one. */
    if (current <= db_schema_expected() && db_engine_apply(pg) < 0)
        applied = -1;
done:
    db_migrate_exec(pg, "SELECT pg_advisory_unlock(7308812001)", 0, NULL, "advisory unlock");
    PQfinish(pg);
    return applied;
}

static const struct db_stmt q_schema_version = {
    .name = "schema_version", .sql = "SELECT coalesce(max(version), 0) FROM schema_migrations"};

int db_schema_version(struct db_conn *c)
{
    PGresult *r;
    enum db_status s = db_exec(c, &q_schema_version, 0, NULL, &r);
    if (s != DB_OK)
        return strcmp(db_last_sqlstate(c), "42P01") == 0 ? 0 : -1;
    int v = (int)strtol(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return v;
}

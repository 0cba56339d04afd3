/* `allot-authority migrate` and `import`: the schema `authority` from the
 * migrations built into the binary (migrations/authority/), and a state
 * directory copied into a database once (store.c is the store itself). */
#include "authority.h"
#include "allot/db.h"
#include "store_pg.h"

#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

/* A statement without parameters (a script of several statements). */
static bool script(PGconn *c, const char *sql, const char *what, char *why, size_t whylen)
{
    PGresult *r = PQexec(c, sql);
    bool ok = r != NULL && PQresultStatus(r) == PGRES_COMMAND_OK;
    if (!ok) {
        const char *msg = r != NULL ? PQresultErrorMessage(r) : PQerrorMessage(c);
        snprintf(why, whylen, "%s: %.*s", what, (int)strcspn(msg, "\n"), msg);
    }
    PQclear(r);
    return ok;
}

int astore_migrate(const char *url, char *why, size_t whylen)
{
    PGconn *c = astore_pg_connect(url, why, whylen);
    if (c == NULL)
        return -1;
    /* One migrate at a time (two instances started at once both run it). */
    bool ok = script(c, "BEGIN; SELECT pg_advisory_xact_lock(7421, 1);"
                        "CREATE SCHEMA IF NOT EXISTS authority;"
                        "CREATE TABLE IF NOT EXISTS authority.schema_migrations ("
                        " version integer PRIMARY KEY, name text NOT NULL,"
                        " applied_at timestamptz NOT NULL DEFAULT now())", "preparing", why,
                 whylen);
    int current = ok ? astore_pg_schema_version(c, why, whylen) : -1;
    ok = ok && current >= 0;
    for (size_t i = 0; ok && i < authority_migrations_count; i++) {
        const struct db_migration *m = &authority_migrations[i];
        if (m->version <= current)
            continue;
        char what[128], version[16];
        snprintf(what, sizeof what, "migration %04d_%s", m->version, m->name);
        snprintf(version, sizeof version, "%d", m->version);
        const char *p[] = {version, m->name};
        PGresult *r = NULL;
        ok = script(c, m->sql, what, why, whylen) &&
             (r = astore_pg_exec(c, "INSERT INTO authority.schema_migrations (version, name) "
                          "VALUES ($1, $2)", 2, p, PGRES_COMMAND_OK, why, whylen)) != NULL;
        PQclear(r);
    }
    ok = ok ? script(c, "COMMIT", "commit", why, whylen) : (script(c, "ROLLBACK", "rollback",
                                                                   NULL, 0), false);
    PQfinish(c);
    return ok ? 0 : -1;
}

struct import {
    PGconn *c;
    int added, kept;
    char *why;
    size_t whylen;
};

static int import_one(const struct astate *st, void *arg)
{
    struct import *im = arg;
    char iat[24], count[24], last[24], site_iat[24], ws[24], rc[24];
    snprintf(iat, sizeof iat, "%lld", (long long)st->definition_iat);
    snprintf(count, sizeof count, "%lld", (long long)st->sync_count);
    snprintf(last, sizeof last, "%lld", (long long)st->last_sync_at);
    snprintf(site_iat, sizeof site_iat, "%lld", (long long)st->site_definition_iat);
    snprintf(ws, sizeof ws, "%lld", (long long)st->rate_window_start);
    snprintf(rc, sizeof rc, "%lld", (long long)st->rate_count);
    json_t *a = st->synced ? sync_assignments_to_json(&st->assignments) : NULL;
    char *assignments = a != NULL ? json_dumps(a, JSON_COMPACT) : NULL;
    json_decref(a);
    const char *p[] = {st->license_number, st->revoked ? "true" : "false", st->definition,
                       st->definition != NULL ? iat : NULL, count, st->synced ? last : NULL,
                       st->synced ? st->site : NULL, assignments,
                       st->synced ? site_iat : NULL, st->rate_window_start > 0 ? ws : NULL, rc};
    PGresult *r = astore_pg_exec(im->c, "INSERT INTO authority.licenses (" STATE_COLUMNS ") VALUES "
                              "($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) "
                              "ON CONFLICT (license_number) DO NOTHING RETURNING 1",
                       11, p, PGRES_TUPLES_OK, im->why, im->whylen);
    free(assignments);
    if (r == NULL)
        return -1;
    if (PQntuples(r) == 1)
        im->added++;
    else
        im->kept++;
    PQclear(r);
    return 0;
}

int astore_import(const char *dir, const char *url, int *added, int *kept, char *why,
                  size_t whylen)
{
    *added = *kept = 0;
    struct astore *s = astore_open_pg(url, 1, why, whylen);
    if (s == NULL)
        return -1;
    struct import im = {.c = astore_pg_first(s), .why = why, .whylen = whylen};
    /* All or nothing: an import that fails half-way can simply run again. */
    bool ok = script(im.c, "BEGIN", "begin", why, whylen);
    if (ok && astate_list(dir, import_one, &im, why, whylen) != 0)
        ok = false;
    ok = ok ? script(im.c, "COMMIT", "commit", why, whylen)
            : (script(im.c, "ROLLBACK", "rollback", NULL, 0), false);
    astore_close(s);
    *added = ok ? im.added : 0;
    *kept = ok ? im.kept : 0;
    return ok ? 0 : -1;
}


/* The site license: its view (sql/license_view.sql), applying a key, and an
 * air-gapped definition. */
#include <string.h>

#include "allot/store.h"

#define VIEW_COLUMNS \
    "v.status, v.license_number, v.organization, v.product, v.valid_from, v.valid_to," \
    " v.issued_at, v.last_verified_at, v.last_sync_attempt_at, v.last_sync_error," \
    " v.disabled_at, v.conversion_date, v.allotments, v.tokens, v.parameters, v.changes_at"

static const struct db_stmt q_view = {
    .name = "license_view", .sql = "SELECT " VIEW_COLUMNS " FROM engine.license_view($1) v"};
static const struct db_stmt q_apply = {
    .name = "license_apply", .sql = "SELECT engine.license_apply($1, $2::jsonb, $3)"};
static const struct db_stmt q_definition = {
    .name = "definition_apply", .sql = "SELECT engine.definition_apply($1, $2, $3::jsonb, $4, $5)"};

enum db_status db_license_view(struct db_pool *p, const char *now, PGresult **out)
{
    const char *params[] = {now};
    return db_one_row(p, &q_view, 1, params, out);
}

enum db_status db_license_apply(struct db_pool *p, const char *key, const char *definition,
                                const char *now, PGresult **out)
{
    const char *params[] = {key, definition, now};
    return db_one_row(p, &q_apply, 3, params, out);
}

enum db_status db_definition_apply(struct db_pool *p, const char *now, const char *key,
                                   const char *definition, const char *verified_at,
                                   const char *revoked, PGresult **out)
{
    const char *params[] = {now, key, definition, verified_at, revoked};
    return db_one_row(p, &q_definition, 5, params, out);
}

/* ---- the sync (src/sync/sync.c runs them on its own connection) ----------- */

#define SYNC_LOCK_KEY "7308812002"

static const struct db_stmt q_try_lock = {
    .name = "sync_try_lock", .sql = "SELECT pg_try_advisory_lock(" SYNC_LOCK_KEY ")"};
static const struct db_stmt q_unlock = {
    .name = "sync_unlock", .sql = "SELECT pg_advisory_unlock(" SYNC_LOCK_KEY ")"};
static const struct db_stmt q_claim = {
    .name = "sync_claim",
    .sql = "SELECT c.license_key, c.license_number, c.issued_at, c.last_verified_at,"
           " c.offline_grace, c.site, c.assignments FROM engine.sync_claim($1, $2, $3, $4) c"};
static const struct db_stmt q_record = {
    .name = "sync_record",
    .sql = "SELECT engine.sync_record($1, $2, $3, $4, $5, $6, $7, $8::jsonb)"};

enum db_status db_sync_try_lock(struct db_conn *c, bool *got)
{
    PGresult *r;
    enum db_status s = db_exec(c, &q_try_lock, 0, NULL, &r);
    *got = s == DB_OK && strcmp(PQgetvalue(r, 0, 0), "t") == 0;
    PQclear(r);
    return s;
}

void db_sync_unlock(struct db_conn *c)
{
    PGresult *r;
    if (db_exec(c, &q_unlock, 0, NULL, &r) == DB_OK)
        PQclear(r);
}

enum db_status db_sync_claim(struct db_conn *c, const char *now, const char *interval,
                             const char *retry, bool force, PGresult **out)
{
    const char *params[] = {now, interval, retry, force ? "true" : "false"};
    return db_exec(c, &q_claim, 4, params, out);
}

enum db_status db_sync_record(struct db_conn *c, const char *const params[8], PGresult **out)
{
    return db_exec(c, &q_record, 8, params, out);
}

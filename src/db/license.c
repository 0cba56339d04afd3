/* The site license: its view (sql/license_view.sql), applying a key, and an
 * air-gapped definition. */
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

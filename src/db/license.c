/* The site license row. */
#include <string.h>

#include "allot/store.h"

static const struct db_stmt q_raw = {"license_raw", "SELECT allot_license_raw($1)::text"};

static const struct db_stmt q_apply = {
    "license_apply", "SELECT allot_license_apply($1, $2::jsonb, $3)"};

enum db_status db_license_raw(struct db_pool *p, const char *now, json_t **out)
{
    const char *params[] = {now};
    enum db_status s = db_one_json(p, &q_raw, 1, params, out);
    return s == DB_NOT_FOUND ? DB_OK : s;
}

enum db_status db_license_apply(struct db_pool *p, const char *key, const char *definition,
                                const char *now)
{
    const char *params[] = {key, definition, now};
    PGresult *r;
    enum db_status s = db_query(p, &q_apply, 3, params, &r);
    if (s == DB_OK && strcmp(PQgetvalue(r, 0, 0), "older") == 0)
        s = DB_CONFLICT;
    PQclear(r);
    return s;
}

static const struct db_stmt q_definition = {
    "definition_apply", "SELECT allot_definition_apply($1, $2, $3::jsonb, $4, $5)"};

enum db_status db_definition_apply(struct db_pool *p, const char *now, const char *key,
                                   const char *definition, const char *verified_at,
                                   const char *revoked)
{
    const char *params[] = {now, key, definition, verified_at, revoked};
    PGresult *r;
    enum db_status s = db_query(p, &q_definition, 5, params, &r);
    PQclear(r);
    return s;
}

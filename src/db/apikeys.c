/* API keys: only digests are stored. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "allot/store.h"

#define APIKEY_COLUMNS "'ok', k.id, k.name, k.role, k.created_at, k.last_used_at"

static const struct db_stmt q_insert = {
    .name = "apikey_insert", .sql =
    "INSERT INTO api_keys AS k (name, role, lookup, hash)"
    " VALUES ($1, $2, $3, decode($4, 'hex')) RETURNING " APIKEY_COLUMNS};

static const struct db_stmt q_get = {
    .name = "apikey_get", .sql = "SELECT " APIKEY_COLUMNS " FROM api_keys k WHERE k.id = $1"};

static const struct db_stmt q_list = {
    .name = "apikey_list", .sql =
    "SELECT " APIKEY_COLUMNS ", engine.us(k.created_at), k.id FROM api_keys k"
    " WHERE ($1::bigint IS NULL OR (k.created_at, k.id) > (engine.from_us($1), $2::uuid))"
    " ORDER BY k.created_at, k.id LIMIT $3"};

static const struct db_stmt q_delete = {.name = "apikey_delete", .sql = "SELECT engine.apikey_delete($1)"};

/* Marks the key used at most once a minute, so authentication rarely writes. */
static const struct db_stmt q_find = {
    .name = "apikey_find", .sql =
    "WITH k AS (SELECT id, role, hash, last_used_at FROM api_keys WHERE lookup = $1),"
    " touched AS (UPDATE api_keys SET last_used_at = now() FROM k"
    "   WHERE api_keys.id = k.id"
    "     AND (k.last_used_at IS NULL OR k.last_used_at < now() - interval '1 minute'))"
    " SELECT id, role, encode(hash, 'hex') FROM k"};

enum db_status db_apikey_create(struct db_pool *p, const char *name, const char *role,
                                const char *lookup, const char *hash_hex, PGresult **out)
{
    const char *params[] = {name, role, lookup, hash_hex};
    return db_one_row(p, &q_insert, 4, params, out);
}

enum db_status db_apikey_get(struct db_pool *p, const char *id, PGresult **out)
{
    const char *params[] = {id};
    return db_one_row(p, &q_get, 1, params, out);
}

enum db_status db_apikey_list(struct db_pool *p, const struct db_page *page, PGresult **out)
{
    struct db_page_args pa;
    db_page_args(page, &pa);
    const char *params[] = {pa.after_ts, pa.after_id, pa.limit};
    return db_query(p, &q_list, 3, params, out);
}

/* The engine decides (sql/apikey_delete.sql): *out holds its outcome. */
enum db_status db_apikey_delete(struct db_pool *p, const char *id, PGresult **out)
{
    const char *params[] = {id};
    return db_one_row(p, &q_delete, 1, params, out);
}

enum db_status db_apikey_find(struct db_pool *p, const char *lookup, char id[40], char role[16],
                              char hash_hex[65])
{
    PGresult *r;
    const char *params[] = {lookup};
    enum db_status s = db_query(p, &q_find, 1, params, &r);
    if (s != DB_OK)
        return s;
    if (PQntuples(r) == 0) {
        PQclear(r);
        return DB_NOT_FOUND;
    }
    snprintf(id, 40, "%s", PQgetvalue(r, 0, 0));
    snprintf(role, 16, "%s", PQgetvalue(r, 0, 1));
    snprintf(hash_hex, 65, "%s", PQgetvalue(r, 0, 2));
    PQclear(r);
    return DB_OK;
}

static const struct db_stmt q_ensure = {
    .name = "apikey_ensure", .sql =
    "INSERT INTO api_keys (name, role, lookup, hash)"
    " VALUES ('ALLOT_ADMIN_KEY', 'admin', $1, decode($2, 'hex'))"
    " ON CONFLICT (lookup) DO UPDATE SET role = 'admin'"
    " WHERE api_keys.hash = EXCLUDED.hash"};

enum db_status db_apikey_ensure_admin(struct db_pool *p, const char *lookup, const char *hash_hex)
{
    const char *params[] = {lookup, hash_hex};
    PGresult *r;
    enum db_status s = db_query(p, &q_ensure, 2, params, &r);
    PQclear(r);
    return s;
}

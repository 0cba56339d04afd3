/* API keys: only digests are stored. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "allot/store.h"

static const struct db_stmt q_insert = {
    "apikey_insert",
    "INSERT INTO api_keys (name, role, lookup, hash) VALUES ($1, $2, $3, decode($4, 'hex'))"
    " RETURNING allot_apikey_json(api_keys)::text"};

static const struct db_stmt q_list = {
    "apikey_list",
    "SELECT allot_apikey_json(k)::text, allot_us(k.created_at), k.id FROM api_keys k"
    " WHERE ($1::bigint IS NULL OR (k.created_at, k.id) > (allot_from_us($1), $2::uuid))"
    " ORDER BY k.created_at, k.id LIMIT $3"};

static const struct db_stmt q_get = {
    "apikey_get", "SELECT allot_apikey_json(k)::text FROM api_keys k WHERE id = $1"};

/* Locks every admin key (in id order, so two deletes never deadlock) and says
 * how many there are and whether $1 is one of them.  A concurrent delete that
 * committed first has removed its row, which the lock then skips. */
static const struct db_stmt q_lock_admins = {
    "apikey_lock_admins",
    "SELECT count(*), coalesce(bool_or(a.id = $1::uuid), false) FROM"
    " (SELECT id FROM api_keys WHERE role = 'admin' ORDER BY id FOR UPDATE) a"};

static const struct db_stmt q_delete = {"apikey_delete", "DELETE FROM api_keys WHERE id = $1"};

/* Marks the key used at most once a minute, so authentication rarely writes. */
static const struct db_stmt q_find = {
    "apikey_find",
    "WITH k AS (SELECT id, role, hash, last_used_at FROM api_keys WHERE lookup = $1),"
    " touched AS (UPDATE api_keys SET last_used_at = now() FROM k"
    "   WHERE api_keys.id = k.id"
    "     AND (k.last_used_at IS NULL OR k.last_used_at < now() - interval '1 minute'))"
    " SELECT id, role, encode(hash, 'hex') FROM k"};

enum db_status db_apikey_create(struct db_pool *p, const char *name, const char *role,
                                const char *lookup, const char *hash_hex, json_t **out)
{
    PGresult *r;
    const char *params[] = {name, role, lookup, hash_hex};
    enum db_status s = db_query(p, &q_insert, 4, params, &r);
    if (s != DB_OK)
        return s;
    *out = api_row_json(r, 0);
    PQclear(r);
    return *out ? DB_OK : DB_ERROR;
}

enum db_status db_apikey_list(struct db_pool *p, const struct api_page *page, PGresult **out)
{
    struct db_page_args pa;
    db_page_args(page, &pa);
    const char *params[] = {pa.after_ts, pa.after_id, pa.limit};
    return db_query(p, &q_list, 3, params, out);
}

enum db_status db_apikey_get(struct db_pool *p, const char *id, json_t **out)
{
    const char *params[] = {id};
    return db_one_json(p, &q_get, 1, params, out);
}

struct delete_args {
    const char *id;
    bool last_admin;
};

/* One transaction: lock the admin keys, refuse to delete the last of them,
 * delete.  Two deletes of the last two admin keys queue on the lock, and the
 * second one then counts one admin key left. */
static enum db_status delete_tx(struct db_conn *c, void *arg)
{
    struct delete_args *d = arg;
    const char *params[] = {d->id};
    PGresult *r;
    d->last_admin = false;
    enum db_status s = db_exec(c, &q_lock_admins, 1, params, &r);
    if (s != DB_OK)
        return s;
    bool is_admin = strcmp(PQgetvalue(r, 0, 1), "t") == 0;
    long admins = strtol(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    if (is_admin && admins <= 1) {
        d->last_admin = true;
        return DB_CONFLICT;
    }
    s = db_exec(c, &q_delete, 1, params, &r);
    if (s != DB_OK)
        return s;
    if (PQcmdTuples(r)[0] == '0')
        s = DB_NOT_FOUND;
    PQclear(r);
    return s;
}

enum db_status db_apikey_delete(struct db_pool *p, const char *id, bool *last_admin)
{
    struct delete_args d = {id, false};
    enum db_status s = db_tx(p, DB_READ_COMMITTED, delete_tx, &d);
    *last_admin = s == DB_CONFLICT && d.last_admin;
    return s;
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
    "apikey_ensure",
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

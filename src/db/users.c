/* Users: the directory accounts allot knows. */
#include <stdio.h>
#include <string.h>

#include "allot/store.h"

static const struct db_stmt q_insert = {
    "user_insert",
    "INSERT INTO users (user_directory, user_id, name, groups)"
    " VALUES ($1, $2, $3, ARRAY(SELECT jsonb_array_elements_text($4::jsonb)))"
    " RETURNING allot_user_json(users)::text"};

static const struct db_stmt q_get = {
    "user_get", "SELECT allot_user_json(u)::text FROM users u WHERE id = $1"};

/* Keyset pagination over (created_at, id); custom plans (plan_cache_mode) let
 * PostgreSQL pick the unique, GIN or page index for the filters given. */
static const struct db_stmt q_list = {
    "user_list",
    "SELECT allot_user_json(u)::text, allot_us(u.created_at), u.id FROM users u"
    " WHERE ($1::text IS NULL OR u.user_directory = $1)"
    "   AND ($2::text IS NULL OR u.user_id = $2)"
    "   AND ($3::text IS NULL OR u.groups @> ARRAY[$3::text])"
    "   AND ($4::bigint IS NULL OR (u.created_at, u.id) > (allot_from_us($4), $5::uuid))"
    " ORDER BY u.created_at, u.id LIMIT $6"};

static const struct db_stmt q_update = {
    "user_update",
    "UPDATE users SET name = coalesce($2, name),"
    " groups = CASE WHEN $3::jsonb IS NULL THEN groups"
    "          ELSE ARRAY(SELECT jsonb_array_elements_text($3::jsonb)) END,"
    " modified_at = clock_timestamp()"
    " WHERE id = $1 RETURNING allot_user_json(users)::text"};

/* Ends the user's sessions; allocations follow the quarantine rule. */
static const struct db_stmt q_delete = {"user_delete", "SELECT allot_user_delete($1, $2)"};

enum db_status db_user_create(struct db_pool *p, const char *directory, const char *user_id,
                              const char *name, const char *groups_json, json_t **out)
{
    const char *params[] = {directory, user_id, name, groups_json};
    return db_one_json(p, &q_insert, 4, params, out);
}

enum db_status db_user_get(struct db_pool *p, const char *id, json_t **out)
{
    const char *params[] = {id};
    return db_one_json(p, &q_get, 1, params, out);
}

enum db_status db_user_list(struct db_pool *p, const struct user_filter *f,
                            const struct api_page *page, PGresult **out)
{
    struct db_page_args pa;
    db_page_args(page, &pa);
    const char *params[] = {f->user_directory, f->user_id, f->group,
                            pa.after_ts, pa.after_id, pa.limit};
    return db_query(p, &q_list, 6, params, out);
}

enum db_status db_user_update(struct db_pool *p, const char *id, const char *name,
                              const char *groups_json, json_t **out)
{
    const char *params[] = {id, name, groups_json};
    return db_one_json(p, &q_update, 3, params, out);
}

enum db_status db_user_delete(struct db_pool *p, const char *id, const char *now)
{
    PGresult *r;
    const char *params[] = {id, now};
    enum db_status s = db_query(p, &q_delete, 2, params, &r);
    if (s == DB_OK && strcmp(PQgetvalue(r, 0, 0), "t") != 0)
        s = DB_NOT_FOUND;
    PQclear(r);
    return s;
}

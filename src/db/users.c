/* Users: the directory accounts allot knows. */
#include <stdio.h>
#include <string.h>

#include "allot/store.h"

#define USER_COLUMNS \
    "'ok', u.id, u.user_directory, u.user_id, u.name, to_json(u.groups), u.created_at," \
    " u.modified_at"

static const struct db_stmt q_insert = {
    .name = "user_insert", .sql =
    "INSERT INTO users AS u (user_directory, user_id, name, groups)"
    " VALUES ($1, $2, $3, ARRAY(SELECT jsonb_array_elements_text($4::jsonb)))"
    " RETURNING " USER_COLUMNS};

static const struct db_stmt q_get = {
    .name = "user_get", .sql = "SELECT " USER_COLUMNS " FROM users u WHERE id = $1"};

/* Keyset pagination over (created_at, id); planned at each call, so that
 * PostgreSQL picks the unique, GIN or page index for the filters given. */
static const struct db_stmt q_list = {
    .name = "user_list", .sql =
    "SELECT " USER_COLUMNS ", engine.us(u.created_at), u.id FROM users u"
    " WHERE ($1::text IS NULL OR u.user_directory = $1)"
    "   AND ($2::text IS NULL OR u.user_id = $2)"
    "   AND ($3::text IS NULL OR u.groups @> ARRAY[$3::text])"
    "   AND ($4::bigint IS NULL OR (u.created_at, u.id) > (engine.from_us($4), $5::uuid))"
    " ORDER BY u.created_at, u.id LIMIT $6", .per_call = true};

static const struct db_stmt q_update = {
    .name = "user_update", .sql =
    "UPDATE users AS u SET name = coalesce($2, name),"
    " groups = CASE WHEN $3::jsonb IS NULL THEN groups"
    "          ELSE ARRAY(SELECT jsonb_array_elements_text($3::jsonb)) END,"
    " modified_at = clock_timestamp()"
    " WHERE id = $1 RETURNING " USER_COLUMNS};

/* Ends the user's sessions; allocations follow the quarantine rule. */
static const struct db_stmt q_delete = {.name = "user_delete", .sql = "SELECT engine.user_delete($1, $2)"};

enum db_status db_user_create(struct db_pool *p, const char *directory, const char *user_id,
                              const char *name, const char *groups_json, PGresult **out)
{
    const char *params[] = {directory, user_id, name, groups_json};
    return db_one_row(p, &q_insert, 4, params, out);
}

enum db_status db_user_get(struct db_pool *p, const char *id, PGresult **out)
{
    const char *params[] = {id};
    return db_one_row(p, &q_get, 1, params, out);
}

enum db_status db_user_list(struct db_pool *p, const struct user_filter *f,
                            const struct db_page *page, PGresult **out)
{
    struct db_page_args pa;
    db_page_args(page, &pa);
    const char *params[] = {f->user_directory, f->user_id, f->group,
                            pa.after_ts, pa.after_id, pa.limit};
    return db_query(p, &q_list, 6, params, out);
}

enum db_status db_user_update(struct db_pool *p, const char *id, const char *name,
                              const char *groups_json, PGresult **out)
{
    const char *params[] = {id, name, groups_json};
    return db_one_row(p, &q_update, 3, params, out);
}

enum db_status db_user_delete(struct db_pool *p, const char *id, const char *now, PGresult **out)
{
    const char *params[] = {id, now};
    return db_one_row(p, &q_delete, 2, params, out);
}

/* Allocations and rules: every limit is enforced by the SQL functions of
 * migrations/0003 under the license row lock. */
#include <stdio.h>

#include "allot/store.h"

static const struct db_stmt q_create = {
    "allocation_create", "SELECT status, body::text FROM allot_allocation_create($1, $2, $3)"};
static const struct db_stmt q_delete = {
    "allocation_delete", "SELECT status, body::text FROM allot_allocation_delete($1, $2)"};
static const struct db_stmt q_reinstate = {
    "allocation_reinstate", "SELECT status, body::text FROM allot_allocation_reinstate($1, $2)"};
/* A quarantine that is over is a released allocation: not found. */
static const struct db_stmt q_get = {
    "allocation_get",
    "SELECT allot_allocation_json(a)::text FROM allocations a"
    " WHERE a.id = $1 AND allot_alloc_counts(a, $2)"};
static const struct db_stmt q_list = {
    "allocation_list",
    "SELECT allot_allocation_json(a)::text, allot_us(a.created_at), a.id FROM allocations a"
    " WHERE allot_alloc_counts(a, $6)"
    "   AND ($1::text IS NULL OR a.type = $1)"
    "   AND ($2::uuid IS NULL OR a.user_ref = $2)"
    "   AND ($3::boolean IS NULL OR (a.quarantine_end IS NOT NULL) = $3)"
    "   AND ($4::bigint IS NULL OR (a.created_at, a.id) > (allot_from_us($4), $5::uuid))"
    " ORDER BY a.created_at, a.id LIMIT $7"};

enum db_status db_allocation_create(struct db_pool *p, const char *user, const char *type,
                                    const char *now, struct db_outcome *out)
{
    const char *params[] = {user, type, now};
    return db_outcome_query(p, &q_create, 3, params, out);
}

enum db_status db_allocation_delete(struct db_pool *p, const char *id, const char *now,
                                    struct db_outcome *out)
{
    const char *params[] = {id, now};
    return db_outcome_query(p, &q_delete, 2, params, out);
}

enum db_status db_allocation_reinstate(struct db_pool *p, const char *id, const char *now,
                                       struct db_outcome *out)
{
    const char *params[] = {id, now};
    return db_outcome_query(p, &q_reinstate, 2, params, out);
}

enum db_status db_allocation_get(struct db_pool *p, const char *id, const char *now, json_t **out)
{
    const char *params[] = {id, now};
    return db_one_json(p, &q_get, 2, params, out);
}

enum db_status db_allocation_list(struct db_pool *p, const struct allocation_filter *f,
                                  const char *now, const struct api_page *page, PGresult **out)
{
    struct db_page_args pa;
    db_page_args(page, &pa);
    const char *params[] = {f->type, f->user, f->quarantined,
                            pa.after_ts, pa.after_id, now, pa.limit};
    return db_query(p, &q_list, 7, params, out);
}

static const struct db_stmt q_rule_save = {
    "rule_save",
    "SELECT status, body::text FROM allot_rule_save($1, $2, $3, $4::jsonb, $5::jsonb, $6, $7)"};
static const struct db_stmt q_rule_get = {
    "rule_get", "SELECT allot_rule_json(r)::text FROM rules r WHERE r.id = $1"};
static const struct db_stmt q_rule_delete = {
    "rule_delete", "DELETE FROM rules WHERE id = $1 RETURNING id"};
static const struct db_stmt q_rule_list = {
    "rule_list",
    "SELECT allot_rule_json(r)::text, allot_us(r.created_at), r.id FROM rules r"
    " WHERE ($1::bigint IS NULL OR (r.created_at, r.id) > (allot_from_us($1), $2::uuid))"
    " ORDER BY r.created_at, r.id LIMIT $3"};

enum db_status db_rule_create(struct db_pool *p, const char *name, const char *access_type,
                              const char *groups, const char *dirs, const char *tokens,
                              const char *now, struct db_outcome *out)
{
    const char *params[] = {NULL, name, access_type, groups, dirs, tokens, now};
    return db_outcome_query(p, &q_rule_save, 7, params, out);
}

enum db_status db_rule_update(struct db_pool *p, const char *id, const char *name,
                              const char *groups, const char *dirs, const char *tokens,
                              const char *now, struct db_outcome *out)
{
    const char *params[] = {id, name, NULL, groups, dirs, tokens, now};
    return db_outcome_query(p, &q_rule_save, 7, params, out);
}

enum db_status db_rule_get(struct db_pool *p, const char *id, json_t **out)
{
    const char *params[] = {id};
    return db_one_json(p, &q_rule_get, 1, params, out);
}

enum db_status db_rule_delete(struct db_pool *p, const char *id)
{
    const char *params[] = {id};
    PGresult *r;
    enum db_status s = db_query(p, &q_rule_delete, 1, params, &r);
    if (s == DB_OK && PQntuples(r) == 0)
        s = DB_NOT_FOUND;
    PQclear(r);
    return s;
}

enum db_status db_rule_list(struct db_pool *p, const struct api_page *page, PGresult **out)
{
    struct db_page_args pa;
    db_page_args(page, &pa);
    const char *params[] = {pa.after_ts, pa.after_id, pa.limit};
    return db_query(p, &q_rule_list, 3, params, out);
}

/* Allocations and rules: every limit is counted by the engine
 * (sql/allocation_*.sql, sql/rule_save.sql) under the license row's lock.
 * The columns are engine.allocation_reply's and engine.rule_reply's. */
#include <stdio.h>

#include "allot/store.h"

#define ALLOCATION_COLUMNS \
    "r.outcome, r.id, r.type, r.user_ref, r.user_directory, r.user_id, r.user_deleted," \
    " r.created_at, r.last_used, r.quarantined, r.quarantine_end, r.rule_id"

static const struct db_stmt q_create = {
    .name = "allocation_create", .sql =
    "SELECT " ALLOCATION_COLUMNS " FROM engine.allocation_create($1, $2, $3) r"};
static const struct db_stmt q_delete = {
    .name = "allocation_delete", .sql = "SELECT " ALLOCATION_COLUMNS " FROM engine.allocation_delete($1, $2) r"};
static const struct db_stmt q_reinstate = {
    .name = "allocation_reinstate", .sql =
    "SELECT " ALLOCATION_COLUMNS " FROM engine.allocation_reinstate($1, $2) r"};
/* A quarantine that is over is a released allocation: not found. */
static const struct db_stmt q_get = {
    .name = "allocation_get", .sql =
    "SELECT " ALLOCATION_COLUMNS " FROM allocations a, engine.allocation_reply('ok', a) r"
    " WHERE a.id = $1 AND engine.alloc_counts(a, $2)"};
static const struct db_stmt q_list = {
    .name = "allocation_list", .sql =
    "SELECT " ALLOCATION_COLUMNS ", engine.us(a.created_at), a.id"
    " FROM allocations a, engine.allocation_reply('ok', a) r"
    " WHERE engine.alloc_counts(a, $6)"
    "   AND ($1::text IS NULL OR a.type = $1)"
    "   AND ($2::uuid IS NULL OR a.user_ref = $2)"
    "   AND ($3::boolean IS NULL OR (a.quarantine_end IS NOT NULL) = $3)"
    "   AND ($4::bigint IS NULL OR (a.created_at, a.id) > (engine.from_us($4), $5::uuid))"
    " ORDER BY a.created_at, a.id LIMIT $7", .per_call = true};

enum db_status db_allocation_create(struct db_pool *p, const char *user, const char *type,
                                    const char *now, PGresult **out)
{
    const char *params[] = {user, type, now};
    return db_one_row(p, &q_create, 3, params, out);
}

enum db_status db_allocation_delete(struct db_pool *p, const char *id, const char *now,
                                    PGresult **out)
{
    const char *params[] = {id, now};
    return db_one_row(p, &q_delete, 2, params, out);
}

enum db_status db_allocation_reinstate(struct db_pool *p, const char *id, const char *now,
                                       PGresult **out)
{
    const char *params[] = {id, now};
    return db_one_row(p, &q_reinstate, 2, params, out);
}

enum db_status db_allocation_get(struct db_pool *p, const char *id, const char *now,
                                 PGresult **out)
{
    const char *params[] = {id, now};
    return db_one_row(p, &q_get, 2, params, out);
}

enum db_status db_allocation_list(struct db_pool *p, const struct allocation_filter *f,
                                  const char *now, const struct db_page *page, PGresult **out)
{
    struct db_page_args pa;
    db_page_args(page, &pa);
    const char *params[] = {f->type, f->user, f->quarantined,
                            pa.after_ts, pa.after_id, now, pa.limit};
    return db_query(p, &q_list, 7, params, out);
}

#define RULE_COLUMNS \
    "r.outcome, r.id, r.name, r.access_type, r.match_groups, r.match_directories, r.tokens," \
    " r.created_at, r.modified_at"

/* A list absent from an update stays NULL: the rule keeps its own. */
static const struct db_stmt q_rule_save = {
    .name = "rule_save", .sql =
    "SELECT " RULE_COLUMNS " FROM engine.rule_save($1, $2, $3,"
    " CASE WHEN $4::jsonb IS NOT NULL THEN ARRAY(SELECT jsonb_array_elements_text($4::jsonb)) END,"
    " CASE WHEN $5::jsonb IS NOT NULL THEN ARRAY(SELECT jsonb_array_elements_text($5::jsonb)) END,"
    " $6, $7) r"};
static const struct db_stmt q_rule_get = {
    .name = "rule_get", .sql = "SELECT " RULE_COLUMNS " FROM rules x, engine.rule_reply('ok', x) r WHERE x.id = $1"};
static const struct db_stmt q_rule_delete = {
    .name = "rule_delete", .sql = "DELETE FROM rules WHERE id = $1 RETURNING id"};
static const struct db_stmt q_rule_list = {
    .name = "rule_list", .sql =
    "SELECT " RULE_COLUMNS ", engine.us(x.created_at), x.id FROM rules x, engine.rule_reply('ok', x) r"
    " WHERE ($1::bigint IS NULL OR (x.created_at, x.id) > (engine.from_us($1), $2::uuid))"
    " ORDER BY x.created_at, x.id LIMIT $3"};

enum db_status db_rule_save(struct db_pool *p, const char *id, const char *name,
                            const char *access_type, const char *groups, const char *dirs,
                            const char *tokens, const char *now, PGresult **out)
{
    const char *params[] = {id, name, access_type, groups, dirs, tokens, now};
    return db_one_row(p, &q_rule_save, 7, params, out);
}

enum db_status db_rule_get(struct db_pool *p, const char *id, PGresult **out)
{
    const char *params[] = {id};
    return db_one_row(p, &q_rule_get, 1, params, out);
}

enum db_status db_rule_delete(struct db_pool *p, const char *id)
{
    const char *params[] = {id};
    PGresult *r;
    enum db_status s = db_one_row(p, &q_rule_delete, 1, params, &r);
    PQclear(r);
    return s;
}

enum db_status db_rule_list(struct db_pool *p, const struct db_page *page, PGresult **out)
{
    struct db_page_args pa;
    db_page_args(page, &pa);
    const char *params[] = {pa.after_ts, pa.after_id, pa.limit};
    return db_query(p, &q_rule_list, 3, params, out);
}

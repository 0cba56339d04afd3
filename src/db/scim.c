/* SCIM provisioning: users and groups of the SCIM directory.  The
 * decisions are the engine's (sql/scim_user_save.sql, sql/scim_group_save.sql);
 * reads and lists show resources through the same functions
 * (sql/scim_json.sql). */
#include <stdio.h>

#include "allot/store.h"

static const struct db_stmt q_user_save = {
    .name = "scim_user_save", .sql =
    "SELECT r.outcome, r.resource FROM engine.scim_user_save($1, $2, $3, $4, $5, $6,"
    " $7::jsonb, $8, $9) r"};
static const struct db_stmt q_user_get = {
    .name = "scim_user_get", .sql =
    "SELECT 'ok', engine.scim_user_json(u), engine.scim_version(u.modified_at) FROM users u"
    " WHERE u.id = $1 AND u.user_directory = $2"};
static const struct db_stmt q_user_delete = {
    .name = "scim_user_delete", .sql = "SELECT engine.scim_user_delete($1, $2, $3)"};
/* A page by position (SCIM's startIndex), in the order users were made;
 * the total counts what the filter matches (through the unique indexes
 * when filtered). */
#define USER_MATCH \
    " FROM users u WHERE u.user_directory = $1 AND ($2::uuid IS NULL OR u.id = $2)" \
    " AND ($3::text IS NULL OR u.user_id = $3) AND ($4::text IS NULL OR u.external_id = $4)"
static const struct db_stmt q_user_list = {
    .name = "scim_user_list", .sql =
    "SELECT (SELECT count(*)" USER_MATCH "),"
    " (SELECT coalesce(jsonb_agg(engine.scim_user_json(p) ORDER BY p.created_at, p.id), '[]')"
    "    FROM (SELECT u.*" USER_MATCH " ORDER BY u.created_at, u.id OFFSET $5 LIMIT $6) p)",
    .per_call = true};

static const struct db_stmt q_group_save = {
    .name = "scim_group_save", .sql =
    "SELECT r.outcome, r.resource FROM engine.scim_group_save($1, $2, $3, $4, $5, $6::uuid[],"
    " $7::uuid[], $8::uuid[], $9) r"};
static const struct db_stmt q_group_get = {
    .name = "scim_group_get", .sql =
    "SELECT 'ok', engine.scim_group_json(g, $2, $3) FROM scim_groups g WHERE g.id = $1"};
static const struct db_stmt q_group_delete = {
    .name = "scim_group_delete", .sql = "SELECT engine.scim_group_delete($1, $2, $3)"};
#define GROUP_MATCH \
    " FROM scim_groups g WHERE ($1::uuid IS NULL OR g.id = $1)" \
    " AND ($2::text IS NULL OR g.display_name = $2) AND ($3::text IS NULL OR g.external_id = $3)"
static const struct db_stmt q_group_list = {
    .name = "scim_group_list", .sql =
    "SELECT (SELECT count(*)" GROUP_MATCH "),"
    " (SELECT coalesce(jsonb_agg(engine.scim_group_json(p, $4, $5) ORDER BY p.created_at, p.id),"
    "  '[]') FROM (SELECT g.*" GROUP_MATCH " ORDER BY g.created_at, g.id OFFSET $6 LIMIT $7) p)",
    .per_call = true};

enum db_status db_scim_user_save(struct db_pool *p, const char *dir,
                                 const struct scim_user_write *w, const char *now, PGresult **out)
{
    const char *params[] = {w->id, dir, w->user_name, w->external_id,
                            w->active ? "true" : "false", w->display, w->attrs_json, w->version,
                            now};
    return db_one_row(p, &q_user_save, 9, params, out);
}

enum db_status db_scim_user_get(struct db_pool *p, const char *dir, const char *id, PGresult **out)
{
    const char *params[] = {id, dir};
    return db_one_row(p, &q_user_get, 2, params, out);
}

enum db_status db_scim_user_delete(struct db_pool *p, const char *dir, const char *id,
                                   const char *now, PGresult **out)
{
    const char *params[] = {id, dir, now};
    return db_one_row(p, &q_user_delete, 3, params, out);
}

enum db_status db_scim_user_list(struct db_pool *p, const char *dir, const char *id,
                                 const char *user_name, const char *external_id, long offset,
                                 long limit, PGresult **out)
{
    char off[24], lim[24];
    snprintf(off, sizeof off, "%ld", offset);
    snprintf(lim, sizeof lim, "%ld", limit);
    const char *params[] = {dir, id, user_name, external_id, off, lim};
    return db_one_row(p, &q_user_list, 6, params, out);
}

enum db_status db_scim_group_save(struct db_pool *p, const char *dir,
                                  const struct scim_group_write *w, const char *now,
                                  PGresult **out)
{
    const char *params[] = {w->id, dir, w->display, w->set_external ? "true" : "false",
                            w->external_id, w->members, w->add, w->remove, now};
    return db_one_row(p, &q_group_save, 9, params, out);
}

enum db_status db_scim_group_get(struct db_pool *p, const char *dir, const char *id,
                                 bool members, PGresult **out)
{
    const char *params[] = {id, dir, members ? "true" : "false"};
    return db_one_row(p, &q_group_get, 3, params, out);
}

enum db_status db_scim_group_delete(struct db_pool *p, const char *dir, const char *id,
                                    const char *now, PGresult **out)
{
    const char *params[] = {id, dir, now};
    return db_one_row(p, &q_group_delete, 3, params, out);
}

enum db_status db_scim_group_list(struct db_pool *p, const char *dir, const char *id,
                                  const char *display, const char *external_id, bool members,
                                  long offset, long limit, PGresult **out)
{
    char off[24], lim[24];
    snprintf(off, sizeof off, "%ld", offset);
    snprintf(lim, sizeof lim, "%ld", limit);
    const char *params[] = {id, display, external_id, dir, members ? "true" : "false", off, lim};
    return db_one_row(p, &q_group_list, 7, params, out);
}

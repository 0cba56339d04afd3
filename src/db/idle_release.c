/* The release of idle allocations: policies, the dry run and the reaper's
 * apply (sql/idle_release.sql).  The columns are engine.idle_policy_reply's
 * and engine.allocation_reply's. */
#include <stdio.h>
#include <stdlib.h>

#include "allot/store.h"

#define POLICY_COLUMNS \
    "r.outcome, r.type, r.enabled, r.idle_days, r.exempt_groups, r.exempt_directories," \
    " r.exempt_users, r.modified_at"

static const struct db_stmt q_get = {
    .name = "idle_policy_get", .sql =
    "SELECT " POLICY_COLUMNS " FROM idle_release_policies p, engine.idle_policy_reply('ok', p) r"
    " WHERE p.type = $1"};
static const struct db_stmt q_list = {
    .name = "idle_policy_list", .sql =
    "SELECT " POLICY_COLUMNS " FROM idle_release_policies p, engine.idle_policy_reply('ok', p) r"
    " ORDER BY p.type DESC"};
static const struct db_stmt q_save = {
    .name = "idle_policy_save", .sql =
    "SELECT " POLICY_COLUMNS " FROM engine.idle_policy_save($1, $2, $3,"
    " ARRAY(SELECT jsonb_array_elements_text($4::jsonb)),"
    " ARRAY(SELECT jsonb_array_elements_text($5::jsonb)), $6::jsonb, $7) r"};
static const struct db_stmt q_preview = {
    .name = "idle_release_preview", .sql =
    "SELECT (x.reply).outcome, (x.reply).id, (x.reply).type, (x.reply).user_ref,"
    " (x.reply).user_directory, (x.reply).user_id, (x.reply).user_deleted, (x.reply).created_at,"
    " (x.reply).last_used, (x.reply).quarantined, (x.reply).quarantine_end, (x.reply).rule_id,"
    " x.idle_since, x.total FROM engine.idle_release_preview($1, $2, $3) x"};
static const struct db_stmt q_release = {
    .name = "idle_release", .sql = "SELECT engine.idle_release($1, $2, $3)"};

enum db_status db_idle_policy_get(struct db_pool *p, const char *type, PGresult **out)
{
    const char *params[] = {type};
    return db_one_row(p, &q_get, 1, params, out);
}

enum db_status db_idle_policy_list(struct db_pool *p, PGresult **out)
{
    return db_query(p, &q_list, 0, NULL, out);
}

enum db_status db_idle_policy_save(struct db_pool *p, const char *type, bool enabled,
                                   const char *days, const char *groups, const char *dirs,
                                   const char *users, const char *now, PGresult **out)
{
    const char *params[] = {type, enabled ? "true" : "false", days, groups, dirs, users, now};
    return db_one_row(p, &q_save, 7, params, out);
}

enum db_status db_idle_release_preview(struct db_pool *p, const char *type, const char *now,
                                       const char *limit, PGresult **out)
{
    const char *params[] = {type, now, limit};
    return db_query(p, &q_preview, 3, params, out);
}

enum db_status db_idle_release(struct db_pool *p, const char *type, const char *now,
                               const char *limit, int *released)
{
    const char *params[] = {type, now, limit};
    PGresult *r;
    enum db_status s = db_query(p, &q_release, 3, params, &r);
    *released = s == DB_OK ? (int)strtol(PQgetvalue(r, 0, 0), NULL, 10) : 0;
    PQclear(r);
    return s;
}

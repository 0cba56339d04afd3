/* The queries of each resource (src/db/<resource>.c).  Each returns a
 * db_status; representations come back as JSON built by the database. */
#ifndef ALLOT_STORE_H
#define ALLOT_STORE_H

#include <jansson.h>

#include "allot/api.h"
#include "allot/db.h"

struct user_filter {
    const char *user_directory, *user_id, *group;
};

enum db_status db_user_create(struct db_pool *p, const char *directory, const char *user_id,
                              const char *name, const char *groups_json, json_t **out);
enum db_status db_user_get(struct db_pool *p, const char *id, json_t **out);
enum db_status db_user_list(struct db_pool *p, const struct user_filter *f,
                            const struct api_page *page, PGresult **out);
/* name or groups_json may be NULL (unchanged). */
enum db_status db_user_update(struct db_pool *p, const char *id, const char *name,
                              const char *groups_json, json_t **out);
enum db_status db_user_delete(struct db_pool *p, const char *id, const char *now);

enum db_status db_apikey_create(struct db_pool *p, const char *name, const char *role,
                                const char *lookup, const char *hash_hex, json_t **out);
enum db_status db_apikey_list(struct db_pool *p, const struct api_page *page, PGresult **out);
enum db_status db_apikey_get(struct db_pool *p, const char *id, json_t **out);
/* DB_CONFLICT with *last_admin set: id is the last admin key (nothing deleted). */
enum db_status db_apikey_delete(struct db_pool *p, const char *id, bool *last_admin);
/* Finds a key by lookup and marks it used; out: id, role, hash (hex). */
enum db_status db_apikey_find(struct db_pool *p, const char *lookup, char id[40], char role[16],
                              char hash_hex[65]);

/* The license (src/db/license.c).  now: a timestamptz literal (app_wall_pg). */
enum db_status db_license_raw(struct db_pool *p, const char *now, json_t **out); /* NULL: none */
/* DB_CONFLICT: an older key of the license in force (nothing changed). */
enum db_status db_license_apply(struct db_pool *p, const char *key, const char *definition,
                                const char *now);

enum db_status db_definition_apply(struct db_pool *p, const char *now, const char *key,
                                   const char *definition, const char *verified_at,
                                   const char *revoked);

/* Allocations (src/db/allocations.c).  status: the SQL function's word
 * ("ok", "conflict", ...); body: the allocation or NULL. */
struct db_outcome {
    char status[32];
    json_t *body;
};
enum db_status db_allocation_create(struct db_pool *p, const char *user, const char *type,
                                    const char *now, struct db_outcome *out);
enum db_status db_allocation_delete(struct db_pool *p, const char *id, const char *now,
                                    struct db_outcome *out);
enum db_status db_allocation_reinstate(struct db_pool *p, const char *id, const char *now,
                                       struct db_outcome *out);
enum db_status db_allocation_get(struct db_pool *p, const char *id, const char *now, json_t **out);
struct allocation_filter {
    const char *type, *user, *quarantined; /* quarantined: "true"/"false" */
};
enum db_status db_allocation_list(struct db_pool *p, const struct allocation_filter *f,
                                  const char *now, const struct api_page *page, PGresult **out);

/* Rules (src/db/rules.c).  groups/dirs: JSON arrays of strings; tokens NULL when
 * not a login rule.  status on create/update: ok, conflict, no_allotment,
 * not_found. */
enum db_status db_rule_create(struct db_pool *p, const char *name, const char *access_type,
                              const char *groups, const char *dirs, const char *tokens,
                              const char *now, struct db_outcome *out);
enum db_status db_rule_update(struct db_pool *p, const char *id, const char *name,
                              const char *groups, const char *dirs, const char *tokens,
                              const char *now, struct db_outcome *out);
enum db_status db_rule_get(struct db_pool *p, const char *id, json_t **out);
enum db_status db_rule_delete(struct db_pool *p, const char *id);
enum db_status db_rule_list(struct db_pool *p, const struct api_page *page, PGresult **out);

/* Sessions (src/db/sessions.c).  Start and heartbeat are one round trip each. */
enum db_status db_session_start(struct db_pool *p, const char *user, const char *directory,
                                const char *user_id, const char *now, json_t **out);
enum db_status db_session_heartbeat(struct db_pool *p, const char *id, const char *now,
                                    const char *idle_seconds, json_t **out);
enum db_status db_session_end(struct db_pool *p, const char *id, const char *now, json_t **out);
enum db_status db_session_get(struct db_pool *p, const char *id, json_t **out);
struct session_filter {
    const char *user, *active;
};
enum db_status db_session_list(struct db_pool *p, const struct session_filter *f,
                               const struct api_page *page, PGresult **out);
struct event_filter {
    const char *user, *kind, *result_code;
};
enum db_status db_event_list(struct db_pool *p, const struct event_filter *f,
                             const struct api_page *page, PGresult **out);
enum db_status db_sessions_active(struct db_pool *p, long long *count);
/* Ends idle sessions, forgets finished quarantines; *ended = sessions ended. */
enum db_status db_reap(struct db_pool *p, const char *now, const char *idle_seconds, int *ended);

enum db_status db_apikey_ensure_admin(struct db_pool *p, const char *lookup, const char *hash_hex);

/* The keyset parameters of a list statement: the position after which to
 * start (NULLs on the first page) and limit + 1 rows (to know if a next page
 * exists). */
struct db_page_args {
    const char *after_ts, *after_id;
    char limit[16];
};
void db_page_args(const struct api_page *page, struct db_page_args *out);

/* Runs a statement that returns one JSON text row; DB_NOT_FOUND for no row or
 * a SQL NULL. */
enum db_status db_one_json(struct db_pool *p, const struct db_stmt *q, int n,
                           const char *const *params, json_t **out);
/* Runs a statement returning (status text, body json) into out. */
enum db_status db_outcome_query(struct db_pool *p, const struct db_stmt *q, int n,
                                const char *const *params, struct db_outcome *out);

#endif

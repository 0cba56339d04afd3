/* The statements of each resource (src/db/<resource>.c).  Each returns a
 * db_status; on DB_OK *out holds the result (PQclear it).
 *
 * Decisions come back as a row of the engine's reply types (sql/): column 0
 * is the outcome word (enum engine.outcome), the resource's columns follow in
 * the order of its shape (src/api/present.c).  Reads and lists answer the
 * same columns after an outcome of "ok", so every path shows a resource the
 * same way.  `now` is always a timestamptz literal from allotd's clock
 * (app_wall_pg): the engine never reads the database's clock. */
#ifndef ALLOT_STORE_H
#define ALLOT_STORE_H

#include <stdbool.h>

#include "allot/db.h"
#include "allot/sync_protocol.h"

/* A page of a list: up to limit rows after the keyset position, if any. */
struct db_page {
    int limit;
    bool has_after;
    char after_ts[24]; /* microseconds since the epoch, decimal */
    char after_id[37];
};
/* Lists answer limit + 1 rows (the last one only tells that a next page
 * exists), then two more columns after the resource's: the position of the
 * row (ts in microseconds, id). */

/* ---- users (src/db/users.c) ------------------------------------------------ */
struct user_filter {
    const char *user_directory, *user_id, *group;
};
enum db_status db_user_create(struct db_pool *p, const char *directory, const char *user_id,
                              const char *name, const char *groups_json, PGresult **out);
enum db_status db_user_get(struct db_pool *p, const char *id, PGresult **out);
enum db_status db_user_list(struct db_pool *p, const struct user_filter *f,
                            const struct db_page *page, PGresult **out);
/* name or groups_json may be NULL (unchanged). */
enum db_status db_user_update(struct db_pool *p, const char *id, const char *name,
                              const char *groups_json, PGresult **out);
enum db_status db_user_delete(struct db_pool *p, const char *id, const char *now, PGresult **out);

/* ---- API keys (src/db/apikeys.c) ------------------------------------------- */
enum db_status db_apikey_create(struct db_pool *p, const char *name, const char *role,
                                const char *lookup, const char *hash_hex, PGresult **out);
enum db_status db_apikey_get(struct db_pool *p, const char *id, PGresult **out);
enum db_status db_apikey_list(struct db_pool *p, const struct db_page *page, PGresult **out);
/* engine.apikey_delete: ok, apikey_not_found, last_admin_key. */
enum db_status db_apikey_delete(struct db_pool *p, const char *id, PGresult **out);
/* Finds a key by lookup and marks it used; out: id, role, hash (hex). */
enum db_status db_apikey_find(struct db_pool *p, const char *lookup, char id[40], char role[16],
                              char hash_hex[65]);
enum db_status db_apikey_ensure_admin(struct db_pool *p, const char *lookup, const char *hash_hex);

/* ---- the license (src/db/license.c) ---------------------------------------- */
/* engine.license_view: one row (see sql/license_view.sql). */
enum db_status db_license_view(struct db_pool *p, const char *now, PGresult **out);
enum db_status db_license_apply(struct db_pool *p, const char *key, const char *definition,
                                const char *now, PGresult **out);
enum db_status db_definition_apply(struct db_pool *p, const char *now, const char *key,
                                   const char *definition, const char *verified_at,
                                   const char *revoked, PGresult **out);

/* The sync, on the sync thread's own connection, which holds a session
 * advisory lock for a whole sync (one instance syncs at a time).
 * engine.sync_claim: a row (key, number, issued_at, last_verified_at,
 * offline grace, site, assignments) or none; engine.sync_record's params:
 * now, number, ok, error, verified_at, revoked, key, definition; it answers
 * an outcome. */
enum db_status db_sync_try_lock(struct db_conn *c, bool *got);
void db_sync_unlock(struct db_conn *c);
enum db_status db_sync_claim(struct db_conn *c, const char *now, const char *interval,
                             const char *retry, bool force, PGresult **out);
enum db_status db_sync_record(struct db_conn *c, const char *const params[8], PGresult **out);

/* ---- authority keys (src/db/authority_keys.c) ------------------------------ */
/* The ring a site verifies with: `configured` (ALLOT_AUTHORITY_PUBLIC_KEY; may
 * be NULL), the keys learnt from sync replies, and the retired kids as
 * tombstones.  lic_keyring_free(out) after (also after an error). */
enum db_status db_trusted_keys(struct db_pool *p, const struct lic_keyring *configured,
                               struct lic_keyring *out);
enum db_status db_trusted_keys_on(struct db_conn *c, const struct lic_keyring *configured,
                                  struct lic_keyring *out);
/* Stores what a verified reply announced (keys not yet trusted, kids to
 * retire; never the reply's own signer), logging each change. */
enum db_status db_authority_keys_learn(struct db_conn *c, const struct sync_reply *reply,
                                       const struct lic_keyring *ring, const char *now,
                                       const char *corr);

/* ---- allocations and rules (src/db/allocations.c) -------------------------- */
enum db_status db_allocation_create(struct db_pool *p, const char *user, const char *type,
                                    const char *now, PGresult **out);
enum db_status db_allocation_delete(struct db_pool *p, const char *id, const char *now,
                                    PGresult **out);
enum db_status db_allocation_reinstate(struct db_pool *p, const char *id, const char *now,
                                       PGresult **out);
enum db_status db_allocation_get(struct db_pool *p, const char *id, const char *now,
                                 PGresult **out);
struct allocation_filter {
    const char *type, *user, *quarantined; /* quarantined: "true"/"false" */
};
enum db_status db_allocation_list(struct db_pool *p, const struct allocation_filter *f,
                                  const char *now, const struct db_page *page, PGresult **out);

/* groups/dirs: JSON arrays of strings or NULL; tokens NULL when not given. */
enum db_status db_rule_save(struct db_pool *p, const char *id, const char *name,
                            const char *access_type, const char *groups, const char *dirs,
                            const char *tokens, const char *now, PGresult **out);
enum db_status db_rule_get(struct db_pool *p, const char *id, PGresult **out);
enum db_status db_rule_delete(struct db_pool *p, const char *id);
enum db_status db_rule_list(struct db_pool *p, const struct db_page *page, PGresult **out);

/* ---- sessions (src/db/sessions.c): start and heartbeat are one round trip -- */
enum db_status db_session_start(struct db_pool *p, const char *user, const char *directory,
                                const char *user_id, const char *now, PGresult **out);
enum db_status db_session_heartbeat(struct db_pool *p, const char *id, const char *now,
                                    const char *idle_seconds, PGresult **out);
enum db_status db_session_end(struct db_pool *p, const char *id, const char *now,
                              PGresult **out);
enum db_status db_session_get(struct db_pool *p, const char *id, PGresult **out);
struct session_filter {
    const char *user, *active;
};
enum db_status db_session_list(struct db_pool *p, const struct session_filter *f,
                               const struct db_page *page, PGresult **out);
struct event_filter {
    const char *user, *kind, *result_code;
    const char *from, *to; /* RFC 3339, or NULL: at or after from, before to */
};
enum db_status db_event_list(struct db_pool *p, const struct event_filter *f,
                             const struct db_page *page, PGresult **out);
enum db_status db_sessions_active(struct db_pool *p, long long *count);
/* allotd export-events: the audit trail at or after from and before to (RFC
 * 3339, or NULL: unbounded), oldest first, read through a cursor in one
 * snapshot (a REPEATABLE READ transaction) and handed to fn a page of up to
 * 1000 rows at a time (the columns of db_event_list, without its cursor
 * columns; fn must not keep the page).  fn returns false to stop (then
 * DB_ABORT). */
typedef bool (*db_rows_fn)(const PGresult *page, void *arg);
enum db_status db_events_export(struct db_pool *p, const char *from, const char *to,
                                db_rows_fn fn, void *arg);
/* Ends idle sessions, frees lingering slots, forgets finished quarantines;
 * *ended = sessions ended. */
enum db_status db_reap(struct db_pool *p, const char *now, const char *idle_seconds, int *ended);

/* ---- usage history (src/db/usage.c) ---------------------------------------- */
/* Rolls up the audit trail older than lag_seconds, at most max_hours hours
 * and max_events events of it (sql/usage_rollup.sql); *hours = the hours
 * whose aggregates it wrote (0: nothing to do, or another instance is at it). */
enum db_status db_usage_rollup(struct db_pool *p, const char *now, const char *lag_seconds,
                               const char *max_hours, const char *max_events, int *hours);
/* Removes at most batch rows of each kind of history older than
 * retention_seconds (sql/retention.sql); *removed = rows removed. */
enum db_status db_retention_purge(struct db_pool *p, const char *now,
                                  const char *retention_seconds, const char *batch, int *removed);
/* engine.usage_report: one row per step of [from, to) (whole steps): "ok",
 * start, sessions started (JSON), refusals (JSON), peak concurrent sessions,
 * capacity minutes, capacity minutes month to date, the month's pool; or one
 * row of the outcome usage_rolling_up. */
enum db_status db_usage_report(struct db_pool *p, const char *from, const char *to,
                               const char *step, const char *now, PGresult **out);

/* ---- webhooks (src/db/webhooks.c) ------------------------------------------ */
/* engine.webhook_create: events_json is the validated array with defaults. */
enum db_status db_webhook_create(struct db_pool *p, const char *url, const char *description,
                                 const char *secret, const char *events_json, const char *now,
                                 PGresult **out);
enum db_status db_webhook_get(struct db_pool *p, const char *id, PGresult **out);
enum db_status db_webhook_list(struct db_pool *p, const struct db_page *page, PGresult **out);
/* DB_NOT_FOUND when there is no such subscription. */
enum db_status db_webhook_delete(struct db_pool *p, const char *id);
/* engine.webhook_test: *out holds the event's id, or DB_NOT_FOUND. */
enum db_status db_webhook_test(struct db_pool *p, const char *id, const char *now, PGresult **out);
/* The delivery log of a subscription, newest first. */
enum db_status db_webhook_deliveries(struct db_pool *p, const char *id,
                                     const struct db_page *page, PGresult **out);
/* engine.webhook_check: *fired = events written. */
enum db_status db_webhook_check(struct db_pool *p, const char *now, const char *retention,
                                int *fired);
/* ---- SCIM provisioning (src/db/scim.c) --------------------------------------
 * Users and groups of the SCIM directory `dir` (ALLOT_SCIM_DIRECTORY).  The
 * decisions answer a row (outcome, resource as SCIM JSON); reads answer
 * ("ok", resource, version); lists one row (total, JSON array of a page). */
struct scim_user_write {
    const char *id;          /* NULL: create */
    const char *user_name, *external_id, *display; /* external_id, display may be NULL */
    bool active;
    const char *attrs_json;  /* the other attributes, a JSON object */
    const char *version;     /* NULL: write whatever the version (PUT) */
};
enum db_status db_scim_user_save(struct db_pool *p, const char *dir,
                                 const struct scim_user_write *w, const char *now, PGresult **out);
enum db_status db_scim_user_get(struct db_pool *p, const char *dir, const char *id, PGresult **out);
enum db_status db_scim_user_delete(struct db_pool *p, const char *dir, const char *id,
                                   const char *now, PGresult **out);
/* Filters may be NULL; offset from 0; limit 0: only the total. */
enum db_status db_scim_user_list(struct db_pool *p, const char *dir, const char *id,
                                 const char *user_name, const char *external_id, long offset,
                                 long limit, PGresult **out);
struct scim_group_write {
    const char *id;           /* NULL: create */
    const char *display;      /* NULL: unchanged */
    bool set_external;
    const char *external_id;  /* NULL: none */
    const char *members;      /* PostgreSQL uuid[] literals, or NULL */
    const char *add, *remove;
};
enum db_status db_scim_group_save(struct db_pool *p, const char *dir,
                                  const struct scim_group_write *w, const char *now,
                                  PGresult **out);
enum db_status db_scim_group_get(struct db_pool *p, const char *dir, const char *id,
                                 bool members, PGresult **out);
enum db_status db_scim_group_delete(struct db_pool *p, const char *dir, const char *id,
                                    const char *now, PGresult **out);
enum db_status db_scim_group_list(struct db_pool *p, const char *dir, const char *id,
                                  const char *display, const char *external_id, bool members,
                                  long offset, long limit, PGresult **out);

/* ---- idle release (src/db/idle_release.c) ------------------------------------
 * A policy: (outcome, type, enabled, idleDays, exempt groups, directories,
 * users (JSON), modified_at). */
enum db_status db_idle_policy_get(struct db_pool *p, const char *type, PGresult **out);
enum db_status db_idle_policy_list(struct db_pool *p, PGresult **out);
/* groups, dirs: JSON arrays of strings; users: a JSON array of
 * {"userDirectory", "userId"}. */
enum db_status db_idle_policy_save(struct db_pool *p, const char *type, bool enabled,
                                   const char *days, const char *groups, const char *dirs,
                                   const char *users, const char *now, PGresult **out);
/* The dry run: rows of an allocation (outcome first), then idleSince and
 * the total. */
enum db_status db_idle_release_preview(struct db_pool *p, const char *type, const char *now,
                                       const char *limit, PGresult **out);
/* The reaper: releases what the enabled policy of type releases now, at
 * most limit; *released = how many. */
enum db_status db_idle_release(struct db_pool *p, const char *type, const char *now,
                               const char *limit, int *released);

/* ---- helpers (src/db/common.c) --------------------------------------------- */
/* The keyset parameters of a list statement: the position after which to
 * start (NULLs on the first page) and limit + 1 rows. */
struct db_page_args {
    const char *after_ts, *after_id;
    char limit[16];
};
void db_page_args(const struct db_page *page, struct db_page_args *out);
/* Runs a statement that must answer exactly one row: DB_NOT_FOUND for none. */
enum db_status db_one_row(struct db_pool *p, const struct db_stmt *q, int n,
                          const char *const *params, PGresult **out);

#endif

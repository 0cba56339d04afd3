/* Sessions: start and heartbeat are one SQL function call each. */
#include <stdio.h>
#include <stdlib.h>

#include "allot/store.h"

static const struct db_stmt q_start = {
    "session_start", "SELECT allot_session_start($1, $2, $3, $4)::text"};
static const struct db_stmt q_heartbeat = {
    "session_heartbeat", "SELECT allot_session_heartbeat($1, $2, $3)::text"};
static const struct db_stmt q_end = {"session_end", "SELECT allot_session_end($1, $2)::text"};
static const struct db_stmt q_get = {
    "session_get", "SELECT allot_session_json(s)::text FROM sessions s WHERE s.id = $1"};
static const struct db_stmt q_list = {
    "session_list",
    "SELECT allot_session_json(s)::text, allot_us(s.started_at), s.id FROM sessions s"
    " WHERE ($1::uuid IS NULL OR s.user_ref = $1)"
    "   AND ($2::boolean IS NULL OR (s.ended_at IS NULL) = $2)"
    "   AND ($3::bigint IS NULL OR (s.started_at, s.id) > (allot_from_us($3), $4::uuid))"
    " ORDER BY s.started_at, s.id LIMIT $5"};
static const struct db_stmt q_events = {
    "event_list",
    "SELECT allot_event_json(e)::text, allot_us(e.at), e.id FROM session_events e"
    " WHERE ($1::uuid IS NULL OR e.user_ref = $1)"
    "   AND ($2::text IS NULL OR e.kind = $2)"
    "   AND ($3::text IS NULL OR e.result_code = $3)"
    "   AND ($4::bigint IS NULL OR (e.at, e.id) > (allot_from_us($4), $5::uuid))"
    " ORDER BY e.at, e.id LIMIT $6"};
static const struct db_stmt q_reap = {"reap", "SELECT allot_reap($1, $2)"};

enum db_status db_session_start(struct db_pool *p, const char *user, const char *directory,
                                const char *user_id, const char *now, json_t **out)
{
    const char *params[] = {user, directory, user_id, now};
    return db_one_json(p, &q_start, 4, params, out);
}

enum db_status db_session_heartbeat(struct db_pool *p, const char *id, const char *now,
                                    const char *idle_seconds, json_t **out)
{
    const char *params[] = {id, now, idle_seconds};
    return db_one_json(p, &q_heartbeat, 3, params, out);
}

enum db_status db_session_end(struct db_pool *p, const char *id, const char *now, json_t **out)
{
    const char *params[] = {id, now};
    return db_one_json(p, &q_end, 2, params, out);
}

enum db_status db_session_get(struct db_pool *p, const char *id, json_t **out)
{
    const char *params[] = {id};
    return db_one_json(p, &q_get, 1, params, out);
}

enum db_status db_session_list(struct db_pool *p, const struct session_filter *f,
                               const struct api_page *page, PGresult **out)
{
    struct db_page_args pa;
    db_page_args(page, &pa);
    const char *params[] = {f->user, f->active, pa.after_ts, pa.after_id, pa.limit};
    return db_query(p, &q_list, 5, params, out);
}

enum db_status db_event_list(struct db_pool *p, const struct event_filter *f,
                             const struct api_page *page, PGresult **out)
{
    struct db_page_args pa;
    db_page_args(page, &pa);
    const char *params[] = {f->user, f->kind, f->result_code,
                            pa.after_ts, pa.after_id, pa.limit};
    return db_query(p, &q_events, 6, params, out);
}

enum db_status db_reap(struct db_pool *p, const char *now, const char *idle_seconds, int *ended)
{
    const char *params[] = {now, idle_seconds};
    PGresult *r;
    enum db_status s = db_query(p, &q_reap, 2, params, &r);
    *ended = s == DB_OK ? (int)strtol(PQgetvalue(r, 0, 0), NULL, 10) : 0;
    PQclear(r);
    return s;
}

static const struct db_stmt q_active = {
    "sessions_active", "SELECT count(*) FROM sessions WHERE ended_at IS NULL"};

enum db_status db_sessions_active(struct db_pool *p, long long *count)
{
    PGresult *r;
    enum db_status s = db_query(p, &q_active, 0, NULL, &r);
    *count = s == DB_OK ? strtoll(PQgetvalue(r, 0, 0), NULL, 10) : 0;
    PQclear(r);
    return s;
}

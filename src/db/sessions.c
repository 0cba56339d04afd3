/* Sessions: start, heartbeat and end are one call of the engine each
 * (sql/session_*.sql); the columns are engine.session_reply's. */
#include <stdio.h>
#include <stdlib.h>

#include "allot/store.h"

#define SESSION_COLUMNS \
    "r.outcome, r.id, r.user_ref, r.user_directory, r.user_id, r.access_type," \
    " r.allocation_id, r.started_at, r.last_activity, r.ended_at, r.end_reason, r.result_code"

/* The decisions also say whether they changed what GET /license shows. */
static const struct db_stmt q_start = {
    .name = "session_start",
    .sql = "SELECT " SESSION_COLUMNS ", r.license_changed"
           " FROM engine.session_start($1, $2, $3, $4) r"};
static const struct db_stmt q_heartbeat = {
    .name = "session_heartbeat",
    .sql = "SELECT " SESSION_COLUMNS ", r.license_changed"
           " FROM engine.session_heartbeat($1, $2, $3) r"};
/* The usual beats of concurrent heartbeats, in one statement (db_batched). */
static const struct db_stmt q_beats = {
    .name = "session_beats",
    .sql = "SELECT " SESSION_COLUMNS ", r.license_changed, b.n"
           " FROM engine.session_beats($1::uuid[], $2, $3) b, LATERAL (SELECT (b.reply).*) r"};
/* The usual starts of concurrent session starts, in one statement. */
static const struct db_stmt q_starts = {
    .name = "session_starts",
    .sql = "SELECT " SESSION_COLUMNS ", r.license_changed, b.n"
           " FROM engine.session_starts($1::uuid[], $2) b, LATERAL (SELECT (b.reply).*) r"};
static const struct db_stmt q_end = {
    .name = "session_end", .sql = "SELECT " SESSION_COLUMNS " FROM engine.session_end($1, $2) r"};
static const struct db_stmt q_get = {
    .name = "session_get", .sql =
    "SELECT " SESSION_COLUMNS " FROM sessions s, engine.session_reply('ok', s) r WHERE s.id = $1"};
/* active=true reads the live sessions' index: few, whatever the history. */
static const struct db_stmt q_list = {
    .name = "session_list", .sql =
    "SELECT " SESSION_COLUMNS ", engine.us(s.started_at), s.id"
    " FROM sessions s, engine.session_reply('ok', s) r"
    " WHERE ($1::uuid IS NULL OR s.user_ref = $1)"
    "   AND ($2::boolean IS NULL OR (s.ended_at IS NULL) = $2)"
    "   AND ($2::boolean IS NOT TRUE OR s.live)"
    "   AND ($3::bigint IS NULL OR (s.started_at, s.id) > (engine.from_us($3), $4::uuid))"
    " ORDER BY s.started_at, s.id LIMIT $5", .per_call = true};
/* The audit trail newest first: the keyset runs backwards, down the
 * (at, id) index (or (user_ref, at) for one user's events). */
static const struct db_stmt q_events = {
    .name = "event_list", .sql =
    "SELECT 'ok', e.id, e.at, e.kind, e.session_id, e.user_ref, e.user_directory, e.user_id,"
    " e.access_type, e.result_code, e.session_count, e.detail, engine.us(e.at), e.id"
    " FROM session_events e"
    " WHERE ($1::uuid IS NULL OR e.user_ref = $1)"
    "   AND ($2::text IS NULL OR e.kind = $2)"
    "   AND ($3::text IS NULL OR e.result_code = $3)"
    "   AND ($4::timestamptz IS NULL OR e.at >= $4)"
    "   AND ($5::timestamptz IS NULL OR e.at < $5)"
    "   AND ($6::bigint IS NULL OR (e.at, e.id) < (engine.from_us($6), $7::uuid))"
    " ORDER BY e.at DESC, e.id DESC LIMIT $8", .per_call = true};
static const struct db_stmt q_reap = {.name = "reap", .sql = "SELECT engine.reap($1, $2)"};
/* allotd export-events: the audit trail of [from, to) oldest first, through a
 * cursor (the columns of event_list). */
static const struct db_stmt q_export_declare = {
    .name = "event_export_declare", .sql =
    "DECLARE allot_export NO SCROLL CURSOR FOR"
    " SELECT 'ok', e.id, e.at, e.kind, e.session_id, e.user_ref, e.user_directory, e.user_id,"
    " e.access_type, e.result_code, e.session_count, e.detail"
    " FROM session_events e"
    " WHERE ($1::timestamptz IS NULL OR e.at >= $1) AND ($2::timestamptz IS NULL OR e.at < $2)"
    " ORDER BY e.at, e.id", .per_call = true};
static const struct db_stmt q_export_fetch = {
    .name = "event_export_fetch", .sql = "FETCH 1000 FROM allot_export", .per_call = true};

enum db_status db_session_start(struct db_pool *p, const char *user, const char *directory,
                                const char *user_id, const char *now, PGresult **out)
{
    if (user != NULL) {
        enum db_status s = db_batched(p, &q_starts, user, now, 0, NULL, out);
        if (s != DB_OK || *out != NULL)
            return s;
    }
    const char *params[] = {user, directory, user_id, now};
    return db_one_row(p, &q_start, 4, params, out);
}

enum db_status db_session_heartbeat(struct db_pool *p, const char *id, const char *now,
                                    const char *idle_seconds, PGresult **out)
{
    const char *extra[] = {idle_seconds};
    enum db_status s = db_batched(p, &q_beats, id, now, 1, extra, out);
    if (s != DB_OK || *out != NULL)
        return s;
    const char *params[] = {id, now, idle_seconds};
    return db_one_row(p, &q_heartbeat, 3, params, out);
}

enum db_status db_session_end(struct db_pool *p, const char *id, const char *now,
                              PGresult **out)
{
    const char *params[] = {id, now};
    return db_one_row(p, &q_end, 2, params, out);
}

enum db_status db_session_get(struct db_pool *p, const char *id, PGresult **out)
{
    const char *params[] = {id};
    return db_one_row(p, &q_get, 1, params, out);
}

enum db_status db_session_list(struct db_pool *p, const struct session_filter *f,
                               const struct db_page *page, PGresult **out)
{
    struct db_page_args pa;
    db_page_args(page, &pa);
    const char *params[] = {f->user, f->active, pa.after_ts, pa.after_id, pa.limit};
    return db_query(p, &q_list, 5, params, out);
}

enum db_status db_event_list(struct db_pool *p, const struct event_filter *f,
                             const struct db_page *page, PGresult **out)
{
    struct db_page_args pa;
    db_page_args(page, &pa);
    const char *params[] = {f->user, f->kind, f->result_code, f->from, f->to,
                            pa.after_ts, pa.after_id, pa.limit};
    return db_query(p, &q_events, 8, params, out);
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

/* Active sessions are live ones: the count reads the partial index. */
static const struct db_stmt q_active = {
    .name = "sessions_active", .sql = "SELECT count(*) FROM sessions WHERE live AND ended_at IS NULL"};

enum db_status db_sessions_active(struct db_pool *p, long long *count)
{
    PGresult *r;
    enum db_status s = db_query(p, &q_active, 0, NULL, &r);
    *count = s == DB_OK ? strtoll(PQgetvalue(r, 0, 0), NULL, 10) : 0;
    PQclear(r);
    return s;
}

struct export_ctx {
    const char *from, *to;
    db_rows_fn fn;
    void *arg;
};

static enum db_status export_pages(struct db_conn *c, void *arg)
{
    struct export_ctx *x = arg;
    const char *params[] = {x->from, x->to};
    enum db_status s = db_run(c, &q_export_declare, 2, params);
    if (s != DB_OK)
        return s;
    for (;;) {
        PGresult *page;
        s = db_exec(c, &q_export_fetch, 0, NULL, &page);
        if (s != DB_OK)
            return s;
        int rows = PQntuples(page);
        bool go_on = rows == 0 || x->fn(page, x->arg);
        PQclear(page);
        if (rows == 0)
            return DB_OK;
        if (!go_on)
            return DB_ABORT; /* the caller stopped: roll back, nothing to retry */
    }
}

enum db_status db_events_export(struct db_pool *p, const char *from, const char *to,
                                db_rows_fn fn, void *arg)
{
    struct export_ctx x = {from, to, fn, arg};
    return db_tx(p, DB_REPEATABLE_READ, export_pages, &x);
}

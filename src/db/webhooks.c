/* Webhook subscriptions and their delivery log (sql/webhook_*.sql decide;
 * these read and call).  The secret is written once and never read back
 * here: only the delivery thread's claim reads it. */
#include <stdio.h>
#include <stdlib.h>

#include "allot/store.h"

/* A subscription as the API shows it: no secret. */
#define WEBHOOK_COLUMNS                                                                    \
    "'ok', w.id, w.url, w.description, w.events, w.created_at,"                           \
    " (SELECT count(*) FROM webhook_outbox o WHERE o.webhook_id = w.id"                   \
    "   AND o.state = 'pending'),"                                                        \
    " (SELECT count(*) FROM webhook_outbox o WHERE o.webhook_id = w.id"                   \
    "   AND o.state = 'failed')"

static const struct db_stmt q_create = {
    .name = "webhook_create", .sql =
    "SELECT " WEBHOOK_COLUMNS " FROM engine.webhook_create($1, $2, $3, $4::jsonb, $5) w"};

static const struct db_stmt q_get = {
    .name = "webhook_get", .sql = "SELECT " WEBHOOK_COLUMNS " FROM webhooks w WHERE w.id = $1"};

static const struct db_stmt q_list = {
    .name = "webhook_list", .sql =
    "SELECT " WEBHOOK_COLUMNS ", engine.us(w.created_at), w.id FROM webhooks w"
    " WHERE ($1::bigint IS NULL OR (w.created_at, w.id) > (engine.from_us($1), $2::uuid))"
    " ORDER BY w.created_at, w.id LIMIT $3"};

static const struct db_stmt q_delete = {
    .name = "webhook_delete", .sql = "DELETE FROM webhooks WHERE id = $1 RETURNING id"};

static const struct db_stmt q_test = {
    .name = "webhook_test", .sql =
    "SELECT e FROM engine.webhook_test($1, $2) e WHERE e IS NOT NULL"};

static const struct db_stmt q_exists = {
    .name = "webhook_exists", .sql = "SELECT 1 FROM webhooks WHERE id = $1"};

/* The log newest first, down (webhook_id, at, id).  The next attempt shows on
 * the newest attempt of an event that is still to be retried. */
static const struct db_stmt q_deliveries = {
    .name = "webhook_deliveries", .sql =
    "SELECT 'ok', a.id, o.id, o.type, o.created_at, a.attempt, a.at, a.outcome, a.status_code,"
    " a.error, a.duration_ms, a.deliverer,"
    " CASE WHEN o.state = 'pending' AND a.attempt = o.attempts THEN o.next_attempt_at END,"
    " o.payload::json, engine.us(a.at), a.id"
    " FROM webhook_attempts a JOIN webhook_outbox o ON o.id = a.outbox_id"
    " WHERE a.webhook_id = $1"
    "   AND ($2::bigint IS NULL OR (a.at, a.id) < (engine.from_us($2), $3::uuid))"
    " ORDER BY a.at DESC, a.id DESC LIMIT $4"};

static const struct db_stmt q_check = {
    .name = "webhook_check", .sql = "SELECT engine.webhook_check($1, $2)"};

enum db_status db_webhook_create(struct db_pool *p, const char *url, const char *description,
                                 const char *secret, const char *events_json, const char *now,
                                 PGresult **out)
{
    const char *params[] = {url, description, secret, events_json, now};
    return db_one_row(p, &q_create, 5, params, out);
}

enum db_status db_webhook_get(struct db_pool *p, const char *id, PGresult **out)
{
    const char *params[] = {id};
    return db_one_row(p, &q_get, 1, params, out);
}

enum db_status db_webhook_list(struct db_pool *p, const struct db_page *page, PGresult **out)
{
    struct db_page_args pa;
    db_page_args(page, &pa);
    const char *params[] = {pa.after_ts, pa.after_id, pa.limit};
    return db_query(p, &q_list, 3, params, out);
}

enum db_status db_webhook_delete(struct db_pool *p, const char *id)
{
    const char *params[] = {id};
    PGresult *r = NULL;
    enum db_status s = db_one_row(p, &q_delete, 1, params, &r);
    PQclear(r);
    return s;
}

enum db_status db_webhook_test(struct db_pool *p, const char *id, const char *now, PGresult **out)
{
    const char *params[] = {id, now};
    return db_one_row(p, &q_test, 2, params, out);
}

enum db_status db_webhook_deliveries(struct db_pool *p, const char *id,
                                     const struct db_page *page, PGresult **out)
{
    const char *one[] = {id};
    PGresult *r = NULL;
    enum db_status s = db_one_row(p, &q_exists, 1, one, &r);
    PQclear(r);
    if (s != DB_OK)
        return s;
    struct db_page_args pa;
    db_page_args(page, &pa);
    const char *params[] = {id, pa.after_ts, pa.after_id, pa.limit};
    return db_query(p, &q_deliveries, 4, params, out);
}

enum db_status db_webhook_check(struct db_pool *p, const char *now, const char *retention,
                                int *fired)
{
    const char *params[] = {now, retention};
    PGresult *r = NULL;
    enum db_status s = db_query(p, &q_check, 2, params, &r);
    *fired = s == DB_OK ? (int)strtol(PQgetvalue(r, 0, 0), NULL, 10) : 0;
    PQclear(r);
    return s;
}

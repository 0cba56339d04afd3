/* Usage history: the roll-up of the audit trail into hourly and daily
 * aggregates (sql/usage_rollup.sql), the report that reads them
 * (sql/usage_report.sql), and the retention that removes the raw rows once
 * they are rolled up (sql/retention.sql). */
#include <stdlib.h>

#include "allot/store.h"

static const struct db_stmt q_rollup = {
    .name = "usage_rollup", .sql = "SELECT engine.usage_rollup($1, $2, $3, $4)"};
static const struct db_stmt q_purge = {
    .name = "retention_purge", .sql = "SELECT engine.retention_purge($1, $2, $3)"};
static const struct db_stmt q_report = {
    .name = "usage_report", .sql =
    "SELECT r.outcome, r.start, r.sessions_started, r.refusals, r.peak_sessions, r.capacity_minutes,"
    " r.capacity_month_to_date, r.capacity_pool FROM engine.usage_report($1, $2, $3, $4) r"};

enum db_status db_usage_rollup(struct db_pool *p, const char *now, const char *lag_seconds,
                               const char *max_hours, const char *max_events, int *hours)
{
    const char *params[] = {now, lag_seconds, max_hours, max_events};
    PGresult *r;
    enum db_status s = db_query(p, &q_rollup, 4, params, &r);
    *hours = s == DB_OK ? (int)strtol(PQgetvalue(r, 0, 0), NULL, 10) : 0;
    PQclear(r);
    return s;
}

enum db_status db_usage_report(struct db_pool *p, const char *from, const char *to,
                               const char *step, const char *now, PGresult **out)
{
    const char *params[] = {from, to, step, now};
    return db_query(p, &q_report, 4, params, out);
}

enum db_status db_retention_purge(struct db_pool *p, const char *now,
                                  const char *retention_seconds, const char *batch, int *removed)
{
    const char *params[] = {now, retention_seconds, batch};
    PGresult *r;
    enum db_status s = db_query(p, &q_purge, 3, params, &r);
    *removed = s == DB_OK ? (int)strtol(PQgetvalue(r, 0, 0), NULL, 10) : 0;
    PQclear(r);
    return s;
}

/* /health, /ready and /metrics. */
#include <stdio.h>
#include <stdlib.h>

#include "allot/api.h"
#include "allot/app.h"
#include "allot/buf.h"
#include "allot/metrics.h"
#include "allot/store.h"

void api_health(struct http_request *r)
{
    http_reply_json_steal(r, 200, json_pack("{s:s}", "status", "ok"));
}

void api_ready(struct http_request *r)
{
    struct app *a = http_app(r);
    struct db_conn *c;
    enum db_status s = db_acquire(a->pool, &c);
    if (s != DB_OK) {
        http_reply_error(r, HTTP_ERR_UNAVAILABLE, NULL, NULL);
        return;
    }
    int version = db_schema_version(c);
    db_release(a->pool, c);
    if (version < 0) {
        http_reply_error(r, HTTP_ERR_UNAVAILABLE, NULL, NULL);
        return;
    }
    if (version < db_schema_expected()) {
        http_reply_error(r, HTTP_ERR_UNAVAILABLE, NULL,
                         "The database schema is at version %d, this allotd needs %d: run "
                         "`allotd migrate`", version, db_schema_expected());
        return;
    }
    if (!db_schema_ready(a)) {
        http_reply_error(r, HTTP_ERR_UNAVAILABLE, NULL,
                         "The database runs another licensing engine than this allotd's: run "
                         "`allotd migrate`");
        return;
    }
    http_reply_json_steal(r, 200, json_pack("{s:s, s:i, s:s}", "status", "ready", "schemaVersion",
                                            version, "engine", db_engine_digest()));
}

void api_metrics(struct http_request *r)
{
    struct app *a = http_app(r);
    struct buf out;
    buf_init(&out, 4u << 20);
    metrics_render(a->metrics, &out);
    struct db_pool_stats st;
    db_pool_stats(a->pool, &st);
    buf_printf(&out,
               "# HELP allot_db_pool_size Database connections this process may hold.\n"
               "# TYPE allot_db_pool_size gauge\nallot_db_pool_size %d\n"
               "# HELP allot_db_pool_open Database connections open.\n"
               "# TYPE allot_db_pool_open gauge\nallot_db_pool_open %d\n"
               "# HELP allot_db_pool_in_use Database connections in use.\n"
               "# TYPE allot_db_pool_in_use gauge\nallot_db_pool_in_use %d\n"
               "# HELP allot_db_pool_waiting Requests waiting for a database connection.\n"
               "# TYPE allot_db_pool_waiting gauge\nallot_db_pool_waiting %d\n"
               "# HELP allot_db_pool_acquire_timeouts_total Waits for a connection that timed out.\n"
               "# TYPE allot_db_pool_acquire_timeouts_total counter\n"
               "allot_db_pool_acquire_timeouts_total %llu\n",
               st.size, st.open, st.in_use, st.waiting, (unsigned long long)st.acquire_timeouts);
    api_license_metrics(a, &out);
    api_reply_buf(r, 200, "text/plain; version=0.0.4; charset=utf-8", &out);
}

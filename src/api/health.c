/* /health, /ready and /metrics. */
#include <stdio.h>
#include <stdlib.h>

#include "allot/api.h"
#include "allot/app.h"
#include "allot/buf.h"
#include "allot/license.h"
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
    if (version < db_schema_expected() || !app_schema_ready(a)) {
        http_reply_error(r, HTTP_ERR_UNAVAILABLE, NULL,
                         "The database schema is at version %d, this allotd needs %d: run "
                         "`allotd migrate`", version, db_schema_expected());
        return;
    }
    http_reply_json_steal(r, 200, json_pack("{s:s, s:i}", "status", "ready", "schemaVersion",
                                            version));
}

static long long member_int(const json_t *o, const char *name)
{
    return (long long)json_integer_value(json_object_get(o, name));
}

/* Gauges read from the database at scrape time: the same numbers as GET
 * /license, so every instance reports the site's state. */
static void render_licensing(struct app *a, struct buf *out)
{
    char now[40];
    app_wall_pg(now);
    json_t *raw = NULL;
    long long active = 0;
    if (db_license_raw(a->pool, now, &raw) != DB_OK || db_sessions_active(a->pool, &active) != DB_OK)
        return;
    json_t *view = api_license_view_steal(raw, app_wall_s());
    buf_printf(out, "# HELP allot_sessions_active Sessions not ended.\n"
                    "# TYPE allot_sessions_active gauge\nallot_sessions_active %lld\n", active);
    buf_printf(out, "# HELP allot_allotment_units Units of an allotment (minutes for analyzer_time).\n"
                    "# TYPE allot_allotment_units gauge\n"
                    "# HELP allot_allotment_used Units in use (minutes this month for analyzer_time).\n"
                    "# TYPE allot_allotment_used gauge\n"
                    "# HELP allot_allotment_quarantined Units removed but still counted.\n"
                    "# TYPE allot_allotment_quarantined gauge\n");
    size_t i;
    json_t *al;
    json_array_foreach(json_object_get(view, "allotments"), i, al) {
        const char *name = json_string_value(json_object_get(al, "name"));
        buf_printf(out, "allot_allotment_units{allotment=\"%s\"} %lld\n", name, member_int(al, "units"));
        buf_printf(out, "allot_allotment_used{allotment=\"%s\"} %lld\n", name, member_int(al, "used"));
        buf_printf(out, "allot_allotment_quarantined{allotment=\"%s\"} %lld\n", name,
                   member_int(al, "quarantined"));
    }
    json_t *tokens = json_object_get(view, "tokens");
    if (json_is_object(tokens))
        buf_printf(out, "# HELP allot_tokens Tokens of the license by use.\n# TYPE allot_tokens gauge\n"
                        "allot_tokens{use=\"total\"} %lld\nallot_tokens{use=\"allocated\"} %lld\n"
                        "allot_tokens{use=\"used\"} %lld\nallot_tokens{use=\"quarantined\"} %lld\n",
                   member_int(tokens, "total"), member_int(tokens, "allocated"),
                   member_int(tokens, "used"), member_int(tokens, "quarantined"));
    const char *status = json_string_value(json_object_get(view, "status"));
    buf_printf(out, "# HELP allot_license_status 1 for the license's current status.\n"
                    "# TYPE allot_license_status gauge\nallot_license_status{status=\"%s\"} 1\n",
               status ? status : "missing");
    int64_t verified = 0, disabled = 0;
    const char *v = json_string_value(json_object_get(view, "lastVerifiedAt"));
    const char *d = json_string_value(json_object_get(view, "disabledAt"));
    if (v != NULL && d != NULL && lic_time_parse(v, &verified) && lic_time_parse(d, &disabled)) {
        int64_t now_s = app_wall_s();
        buf_printf(out, "# HELP allot_license_seconds_since_verified Seconds since the license was last verified.\n"
                        "# TYPE allot_license_seconds_since_verified gauge\n"
                        "allot_license_seconds_since_verified %lld\n"
                        "# HELP allot_license_seconds_until_disabled Seconds until licenses are disabled (negative: stale).\n"
                        "# TYPE allot_license_seconds_until_disabled gauge\n"
                        "allot_license_seconds_until_disabled %lld\n",
                   (long long)(now_s - verified), (long long)(disabled - now_s));
    }
    json_decref(view);
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
    render_licensing(a, &out);
    size_t len;
    char *text = buf_steal(&out, &len);
    http_reply_text(r, 200, "text/plain; version=0.0.4; charset=utf-8", text ? text : "",
                    text ? len : 0);
    free(text);
}

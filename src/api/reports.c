/* /reports/usage: the site's usage per hour or day (UTC), from the hourly and
 * daily aggregates the reaper rolls up and the stretch of audit trail after
 * them (sql/usage_report.sql).  Its cost is that of its steps, never of the
 * trail. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "allot/api.h"
#include "allot/app.h"
#include "allot/core.h"
#include "allot/store.h"

/* 90 days hourly (2160) and a little more. */
#define MAX_POINTS 2200

/* Column of the capacity pool: after the outcome and the point. */
#define POOL_COL (1 + (int)api_usage_point_shape.n)

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* t as the report shows it ("2025-01-30T00:00:00.000000Z"); false when out
 * of the years 0000..9999. */
static bool time_text(int64_t t, char out[API_TIME_LEN])
{
    char s[CORE_TIME_BUFSZ];
    if (!core_time_format(t, s, sizeof s))
        return false;
    snprintf(out, API_TIME_LEN, "%.19s.000000Z", s);
    return true;
}

static bool required(struct http_request *r, const char *name, bool given, bool *bad)
{
    if (!given && !*bad) {
        http_reply_error(r, HTTP_ERR_BAD_REQUEST, name, "%s is required", name);
        *bad = true;
    }
    return given;
}

void api_reports_usage(struct http_request *r)
{
    bool bad = false;
    struct api_time from, to;
    api_time_query(r, "from", &from, &bad);
    required(r, "from", from.given, &bad);
    api_time_query(r, "to", &to, &bad);
    required(r, "to", to.given, &bad);
    const char *step = http_query(r, "step");
    required(r, "step", step != NULL, &bad);
    if (bad)
        return;
    int64_t width = strcmp(step, "hour") == 0 ? 3600 : strcmp(step, "day") == 0 ? 86400 : 0;
    if (width == 0) {
        http_reply_error(r, HTTP_ERR_BAD_REQUEST, "step", "step must be hour or day");
        return;
    }
    if (to.secs < from.secs || (to.secs == from.secs && to.us <= from.us)) {
        http_reply_error(r, HTTP_ERR_BAD_REQUEST, "to", "to must be after from");
        return;
    }
    /* Whole steps: from rounded down, to rounded up. */
    int64_t start = floor_div(from.secs, width) * width;
    int64_t end = -floor_div(-(to.secs + (to.us > 0)), width) * width;
    if ((end - start) / width > MAX_POINTS) {
        http_reply_error(r, HTTP_ERR_BAD_REQUEST, "step",
                         "at most %d steps per report: use step=day or a shorter range",
                         MAX_POINTS);
        return;
    }
    char start_text[API_TIME_LEN], end_text[API_TIME_LEN];
    if (!time_text(start, start_text) || !time_text(end, end_text)) {
        http_reply_error(r, HTTP_ERR_BAD_REQUEST, "to",
                         "the report must lie within the years 0001 to 9999");
        return;
    }
    char now[40];
    app_wall_pg(now);
    PGresult *res;
    enum db_status s = db_usage_report(http_app(r)->pool, start_text, end_text, step, now, &res);
    if (s != DB_OK) {
        api_reply_db(r, s);
        return;
    }
    enum api_outcome o = api_outcome_of(res);
    if (o != API_OUTCOME_ok) {
        PQclear(res);
        api_reply_refusal(r, o, NULL);
        return;
    }
    json_t *points = json_array();
    for (int i = 0; i < PQntuples(res); i++)
        json_array_append_new(points, api_row_object(res, i, 1, &api_usage_point_shape));
    json_t *pool = PQntuples(res) > 0 && !PQgetisnull(res, 0, POOL_COL)
                       ? json_integer(strtoll(PQgetvalue(res, 0, POOL_COL), NULL, 10))
                       : json_null();
    PQclear(res);
    http_reply_json_steal(r, 200, json_pack("{s:s, s:s, s:s, s:o, s:o}", "from", start_text,
                                            "to", end_text, "step", step,
                                            "capacityPoolMinutes", pool, "points", points));
}

/* GET /reports/usage through HTTP: a report over hours that the reaper has
 * rolled up (a trail written hours ago) and the hour still open (sessions
 * started now through the API), the capacity minutes and pool, days, and the
 * requests it refuses. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tlicense.h"

T_DEFINE_STATE;

static struct tl_site site;
static char auditor_key[128];
static char proxy_key[128];

#define HOUR 3600

/* The hours of the test: h0 is the hour the API's sessions started in; the
 * written trail is in h0 - 3h and h0 - 2h, rolled up by the time it asks. */
static int64_t h0;

static void sql(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void sql(const char *fmt, ...)
{
    char text[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    char *ok = th_sql(site.db.url, text);
    T_CHECK(ok != NULL);
    free(ok);
}

/* One event of the trail written `minutes` after the start of hour h. */
static void event(int64_t h, int minutes, const char *kind, const char *access, const char *result)
{
    char at[40];
    tl_rfc3339(h + minutes * 60, at, sizeof at);
    sql("INSERT INTO session_events (id, at, kind, session_id, user_directory, user_id, access_type,"
        " result_code) VALUES (gen_random_uuid(), '%s', '%s', gen_random_uuid(), 'OLD', 'u', %s%s%s, '%s')",
        at, kind, access ? "'" : "", access ? access : "NULL", access ? "'" : "", result);
}

/* GET /reports/usage with key; the reply (free it). */
static void report(const char *key, int64_t from, int64_t to, const char *step, struct th_resp *r)
{
    char f[40], t[40], path[160];
    tl_rfc3339(from, f, sizeof f);
    tl_rfc3339(to, t, sizeof t);
    snprintf(path, sizeof path, "/reports/usage?from=%s&to=%s&step=%s", f, t, step);
    T_CHECK(th_req(&site.srv, "GET", path, key, NULL, r));
}

/* The point of the report that starts at t, or NULL. */
static json_t *point(const struct th_resp *r, int64_t t)
{
    json_t *points = json_object_get(r->json, "points");
    for (size_t i = 0; i < json_array_size(points); i++)
        if (tl_time(json_array_get(points, i), "start") == t)
            return json_array_get(points, i);
    printf("#   no point at %lld\n", (long long)t);
    return NULL;
}

static long long count(const json_t *p, const char *map, const char *key)
{
    json_t *v = json_object_get(json_object_get(p, map), key);
    return v ? json_integer_value(v) : 0;
}

/* Sum of a map's key over all points. */
static long long total(const struct th_resp *r, const char *map, const char *key)
{
    long long n = 0;
    json_t *points = json_object_get(r->json, "points");
    for (size_t i = 0; i < json_array_size(points); i++)
        n += count(json_array_get(points, i), map, key);
    return n;
}

static void test_rolled_and_open_hours(void)
{
    T_CHECK(tl_apply(&site.srv, &site.auth, "--professional", "3", "--analyzer-time-minutes", "600",
                     "--param", "maxParallelSessions=5", NULL));
    char u[TL_ID_LEN], cap[TL_ID_LEN], rule[TL_ID_LEN], sid[TL_ID_LEN];
    T_REQUIRE(tl_user(&site.srv, "CORP", "rep", NULL, u));
    T_REQUIRE(tl_user(&site.srv, "CORP", "viewer", "[\"Viewers\"]", cap));
    T_EQ_INT(tl_alloc(&site.srv, u, "professional", NULL, NULL, 0), 201);
    T_EQ_INT(tl_rule(&site.srv, "Viewers", "analyzer_time", "{\"groups\":[\"Viewers\"]}", -1, rule), 201);

    /* Now, through the API: two professional sessions, one capacity session
     * (a block of 6 minutes), one refusal. */
    tl_expect_access(&site.srv, u, "professional", sid);
    struct th_resp r;
    char path[96];
    snprintf(path, sizeof path, "/sessions/%s", sid);
    T_CHECK(th_req(&site.srv, "GET", path, TH_ADMIN_KEY, NULL, &r));
    h0 = tl_time(r.json, "startedAt") / HOUR * HOUR;
    th_resp_free(&r);
    tl_expect_access(&site.srv, u, "professional", NULL);
    tl_expect_access(&site.srv, cap, "analyzer_time", NULL);
    tl_expect_refused(&site.srv, "0b7e0f5a-1111-4222-8333-444455556666", 404, "LICENSES-NotFound",
                      "UnknownUser");
    T_REQUIRE(th_sql_longf(site.db.url, "SELECT count(*) FROM session_events"
                                        " WHERE at < to_timestamp(%lld)", (long long)h0) == 0);

    /* Hours ago, written to the trail as allotd would have: two sessions at
     * once in h0 - 3h, a refusal in each of h0 - 3h and h0 - 2h. */
    int64_t h3 = h0 - 3 * HOUR, h2 = h0 - 2 * HOUR;
    event(h3, 10, "grant", "professional", "Ok");
    event(h3, 20, "grant", "analyzer", "Ok");
    event(h3, 30, "end", "professional", "Ok");
    event(h3, 40, "end", "analyzer", "Ok");
    event(h3, 50, "refusal", NULL, "NoAvailableAccessType");
    event(h2, 5, "refusal", NULL, "UnknownUser");

    /* The reaper (every second) rolls up what is older than its lag (about
     * 5 minutes): h0 - 3h and h0 - 2h, never what the API just did. */
    int64_t deadline = tl_now() + 30;
    while (th_sql_longf(site.db.url, "SELECT count(*) FROM usage_rollup WHERE rolled_until >= "
                                     "to_timestamp(%lld)", (long long)(h2 + HOUR)) != 1 &&
           tl_now() < deadline)
        tl_sleep_ms(100);
    T_EQ_INT(th_sql_longf(site.db.url, "SELECT count(*) FROM usage_hours WHERE hour IN"
                                       " (to_timestamp(%lld), to_timestamp(%lld))",
                          (long long)h3, (long long)h2), 2);
    T_EQ_INT(th_sql_long(site.db.url, "SELECT count(*) FROM usage_rollup WHERE rolled_until <"
                                      " (SELECT min(at) FROM session_events WHERE user_directory = 'CORP')"), 1);

    /* Hourly, from h0 - 4h to the end of h0 + 1h: rolled hours, and the open
     * one (h0, or h0 + 1h for what was started once the hour had turned). */
    report(auditor_key, h0 - 4 * HOUR, h0 + HOUR + HOUR / 2, "hour", &r);
    T_STATUS(r, 200);
    T_EQ_STR(th_str(&r, "step"), "hour");
    T_EQ_INT(tl_time(r.json, "from"), h0 - 4 * HOUR);
    T_EQ_INT(tl_time(r.json, "to"), h0 + 2 * HOUR); /* rounded up to a whole hour */
    T_EQ_INT(json_array_size(json_object_get(r.json, "points")), 6);
    T_EQ_INT(tl_int(r.json, "capacityPoolMinutes"), 600);
    json_t *p = point(&r, h3);
    T_EQ_INT(count(p, "sessionsStarted", "professional"), 1);
    T_EQ_INT(count(p, "sessionsStarted", "analyzer"), 1);
    T_EQ_INT(count(p, "refusals", "NoAvailableAccessType"), 1);
    T_EQ_INT(tl_int(p, "peakConcurrentSessions"), 2);
    T_EQ_INT(tl_int(p, "capacityMinutes"), 0);
    p = point(&r, h2);
    T_EQ_INT(json_object_size(json_object_get(p, "sessionsStarted")), 0);
    T_EQ_INT(count(p, "refusals", "UnknownUser"), 1);
    T_EQ_INT(tl_int(p, "peakConcurrentSessions"), 0);
    p = point(&r, h0);
    json_t *q = point(&r, h0 + HOUR);
    T_EQ_INT(count(p, "sessionsStarted", "professional") + count(q, "sessionsStarted", "professional"), 2);
    T_EQ_INT(count(p, "sessionsStarted", "analyzer_time") + count(q, "sessionsStarted", "analyzer_time"), 1);
    T_EQ_INT(count(p, "refusals", "UnknownUser") + count(q, "refusals", "UnknownUser"), 1);
    /* The three sessions are still active: at once in the last hour. */
    T_EQ_INT(tl_time(q, "start") <= tl_now() ? tl_int(q, "peakConcurrentSessions")
                                            : tl_int(p, "peakConcurrentSessions"), 3);
    T_EQ_INT(tl_int(p, "capacityMinutes") + tl_int(q, "capacityMinutes"), 6);
    T_CHECK(tl_int(q, "capacityMinutesMonthToDate") >= 6);
    p = point(&r, h0 - 4 * HOUR);
    T_EQ_INT(tl_int(p, "peakConcurrentSessions"), 0);
    th_resp_free(&r);

    /* Daily: the same totals, whichever days the hours fall in. */
    report(TH_ADMIN_KEY, h0 - 4 * HOUR, h0 + 2 * HOUR, "day", &r);
    T_STATUS(r, 200);
    T_EQ_INT(tl_time(r.json, "from") % 86400, 0);
    T_EQ_INT(total(&r, "sessionsStarted", "professional"), 3);
    T_EQ_INT(total(&r, "sessionsStarted", "analyzer"), 1);
    T_EQ_INT(total(&r, "sessionsStarted", "analyzer_time"), 1);
    T_EQ_INT(total(&r, "refusals", "UnknownUser"), 2);
    T_EQ_INT(total(&r, "refusals", "NoAvailableAccessType"), 1);
    th_resp_free(&r);

    /* The rolled hours come from the aggregates: with their raw events gone
     * (as retention removes them), the report is the same. */
    sql("DELETE FROM session_events WHERE user_directory = 'OLD'");
    report(auditor_key, h0 - 4 * HOUR, h0 + 2 * HOUR, "hour", &r);
    T_STATUS(r, 200);
    p = point(&r, h3);
    T_EQ_INT(count(p, "sessionsStarted", "professional"), 1);
    T_EQ_INT(tl_int(p, "peakConcurrentSessions"), 2);
    T_EQ_INT(count(point(&r, h2), "refusals", "UnknownUser"), 1);
    th_resp_free(&r);
}

static void test_refused_requests(void)
{
    static const char *const bad[][2] = {
        {"/reports/usage?to=2025-01-02T00:00:00Z&step=hour", "from"},
        {"/reports/usage?from=2025-01-01T00:00:00Z&step=hour", "to"},
        {"/reports/usage?from=2025-01-01T00:00:00Z&to=2025-01-02T00:00:00Z", "step"},
        {"/reports/usage?from=2025-01-01&to=2025-01-02T00:00:00Z&step=hour", "from"},
        {"/reports/usage?from=2025-01-01T00:00:00Z&to=yesterday&step=hour", "to"},
        {"/reports/usage?from=2025-02-30T00:00:00Z&to=2025-03-02T00:00:00Z&step=day", "from"},
        {"/reports/usage?from=2025-01-01T00:00:00Z&to=2025-01-02T00:00:00Z&step=week", "step"},
        {"/reports/usage?from=0000-12-31T00:00:00Z&to=0001-01-02T00:00:00Z&step=day", "from"},
        {"/reports/usage?from=9999-12-31T00:00:00Z&to=9999-12-31T23:00:00.5Z&step=day", "to"},
        {"/reports/usage?from=2025-01-02T00:00:00Z&to=2025-01-01T00:00:00Z&step=hour", "to"},
        {"/reports/usage?from=2025-01-01T00:00:00Z&to=2025-01-01T00:00:00Z&step=hour", "to"},
        /* 92 days hourly: more than 2200 points */
        {"/reports/usage?from=2025-01-01T00:00:00Z&to=2025-04-03T00:00:00Z&step=hour", "step"},
    };
    struct th_resp r;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        T_CHECK(th_req(&site.srv, "GET", bad[i][0], TH_ADMIN_KEY, NULL, &r));
        T_ERROR(r, 400, "LICENSES-BadRequest");
        T_EQ_STR(th_str(&r, "field"), bad[i][1]);
        th_resp_free(&r);
    }
    /* 90 days hourly is the console's longest hourly chart... */
    T_CHECK(th_req(&site.srv, "GET", "/reports/usage?from=2025-01-01T00:00:00Z&to=2025-04-01T00:00:00Z"
                   "&step=hour", TH_ADMIN_KEY, NULL, &r));
    T_STATUS(r, 200);
    T_EQ_INT(json_array_size(json_object_get(r.json, "points")), 90 * 24);
    th_resp_free(&r);
    /* ...and an offset and fractions are taken as the same instants in UTC. */
    T_CHECK(th_req(&site.srv, "GET", "/reports/usage?from=2025-01-01T01:30:00%2B02:00"
                   "&to=2025-01-01T02:00:00.5Z&step=hour", TH_ADMIN_KEY, NULL, &r));
    T_STATUS(r, 200);
    T_EQ_STR(th_str(&r, "from"), "2024-12-31T23:00:00.000000Z");
    T_EQ_STR(th_str(&r, "to"), "2025-01-01T03:00:00.000000Z");
    T_EQ_INT(json_array_size(json_object_get(r.json, "points")), 4);
    th_resp_free(&r);
    /* The hub's proxy key may not read reports; no key is 401. */
    T_CHECK(th_req(&site.srv, "GET", "/reports/usage?from=2025-01-01T00:00:00Z&to=2025-01-02T00:00:00Z"
                   "&step=day", proxy_key, NULL, &r));
    T_ERROR(r, 403, "LICENSES-Forbidden");
    th_resp_free(&r);
    T_CHECK(th_req(&site.srv, "GET", "/reports/usage?from=2025-01-01T00:00:00Z&to=2025-01-02T00:00:00Z"
                   "&step=day", NULL, NULL, &r));
    T_ERROR(r, 401, "LICENSES-Unauthorized");
    th_resp_free(&r);
}

int main(void)
{
    tl_site_start(&site, (const char *const[]){"ALLOT_REAPER_INTERVAL=1s", NULL});
    if (!tl_api_key(&site.srv, "auditor", auditor_key, sizeof auditor_key) ||
        !tl_api_key(&site.srv, "proxy", proxy_key, sizeof proxy_key)) {
        printf("Bail out! cannot make API keys\n");
        tl_site_stop(&site);
        return 1;
    }
    T_RUN(test_rolled_and_open_hours);
    T_RUN(test_refused_requests);
    T_EQ_INT(tl_site_stop(&site), 0);
    return t_done();
}

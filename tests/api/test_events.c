/* The audit trail and lists as a client reads them: GET /sessions/events
 * newest first, page after page backwards, its from/to filters to the
 * microsecond; and CSV (Accept: text/csv) of the events, allocations and
 * users, page after page through the Link header, safe to open in a
 * spreadsheet. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tlicense.h"

T_DEFINE_STATE;

static struct tl_site site;
static char auditor_key[128];
static char auth_header[192];

#define SESSIONS 7

/* GET path as JSON with the auditor's key. */
static void get_json(const char *path, struct th_resp *r)
{
    T_CHECK(th_req(&site.srv, "GET", path, auditor_key, NULL, r));
}

/* GET path with Accept: accept. */
static void get_accept(const char *path, const char *accept, struct th_resp *r)
{
    char accept_header[128];
    snprintf(accept_header, sizeof accept_header, "Accept: %s", accept);
    const char *headers[] = {auth_header, accept_header, NULL};
    T_CHECK(th_req_full(&site.srv, "GET", path, headers, NULL, 0, r));
}

static void test_newest_first_page_after_page(void)
{
    T_CHECK(tl_apply(&site.srv, &site.auth, "--professional", "2", "--param", "maxParallelSessions=20",
                     NULL));
    char u[TL_ID_LEN], nobody[TL_ID_LEN];
    T_REQUIRE(tl_user(&site.srv, "CORP", "alice", NULL, u));
    T_REQUIRE(tl_user(&site.srv, "CORP", "nobody", NULL, nobody));
    T_EQ_INT(tl_alloc(&site.srv, u, "professional", NULL, NULL, 0), 201);
    for (int i = 0; i < SESSIONS; i++) {
        tl_expect_access(&site.srv, u, "professional", NULL);
        tl_expect_refused(&site.srv, nobody, 403, "LICENSES-NoAccessPass", "NoAvailableAccessType");
    }
    long n = th_sql_long(site.db.url, "SELECT count(*) FROM session_events");
    T_EQ_INT(n, 2 * SESSIONS);

    /* Pages of 3, following links.next: every event once, newest first, in
     * the order of the trail (at, then id). */
    char *want = th_sql(site.db.url, "SELECT string_agg(id::text, ',' ORDER BY at DESC, id DESC)"
                                     " FROM session_events");
    char got[2048] = "", path[512] = "/sessions/events?limit=3";
    int pages = 0;
    while (path[0] != '\0' && pages < 20) {
        struct th_resp r;
        get_json(path, &r);
        T_STATUS(r, 200);
        json_t *data = json_object_get(r.json, "data");
        T_CHECK(json_array_size(data) <= 3);
        for (size_t i = 0; i < json_array_size(data); i++)
            snprintf(got + strlen(got), sizeof got - strlen(got), "%s%s", got[0] ? "," : "",
                     tl_text(json_array_get(data, i), "id"));
        json_t *next = json_object_get(json_object_get(r.json, "links"), "next");
        snprintf(path, sizeof path, "%s", json_is_string(next) ? json_string_value(next) : "");
        th_resp_free(&r);
        pages++;
    }
    T_EQ_INT(pages, (2 * SESSIONS + 2) / 3);
    T_EQ_STR(got, want);
    free(want);
}

static void test_time_filters(void)
{
    /* The 4th newest event's time, to the microsecond: from= takes it in,
     * to= leaves it out. */
    char *at = th_sql(site.db.url, "SELECT to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
                                   " FROM session_events ORDER BY at DESC, id DESC OFFSET 3 LIMIT 1");
    T_REQUIRE(at != NULL && at[0] != '\0');
    long newer = th_sql_longf(site.db.url, "SELECT count(*) FROM session_events WHERE at >= '%s'", at);
    long older = th_sql_longf(site.db.url, "SELECT count(*) FROM session_events WHERE at < '%s'", at);
    T_CHECK(newer >= 4 && newer + older == 2 * SESSIONS);
    char path[256];
    struct th_resp r;
    snprintf(path, sizeof path, "/sessions/events?from=%s", at);
    get_json(path, &r);
    T_STATUS(r, 200);
    T_EQ_INT(json_array_size(json_object_get(r.json, "data")), newer);
    th_resp_free(&r);
    snprintf(path, sizeof path, "/sessions/events?to=%s&kind=refusal", at);
    get_json(path, &r);
    T_STATUS(r, 200);
    json_t *data = json_object_get(r.json, "data");
    T_EQ_INT(json_array_size(data),
             th_sql_longf(site.db.url, "SELECT count(*) FROM session_events WHERE at < '%s'"
                                       " AND kind = 'refusal'", at));
    for (size_t i = 0; i < json_array_size(data); i++)
        T_EQ_STR(tl_text(json_array_get(data, i), "kind"), "refusal");
    th_resp_free(&r);
    /* from and to together: every event. */
    char first[40];
    tl_rfc3339(tl_time(json_array_get(data, 0), "at") - 7200, first, sizeof first);
    free(at);
    at = th_sql(site.db.url, "SELECT to_char(max(at) AT TIME ZONE 'UTC' + interval '1 microsecond',"
                             " 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') FROM session_events");
    snprintf(path, sizeof path, "/sessions/events?from=%s&to=%s&limit=1000", first, at);
    get_json(path, &r);
    T_STATUS(r, 200);
    T_EQ_INT(json_array_size(json_object_get(r.json, "data")), 2 * SESSIONS);
    th_resp_free(&r);
    free(at);

    static const char *const bad[][2] = {
        {"/sessions/events?from=yesterday", "from"},
        {"/sessions/events?to=2025-13-01T00:00:00Z", "to"},
        {"/sessions/events?from=2025-01-01", "from"},
        {"/sessions/events?from=2025-01-02T00:00:00Z&to=2025-01-01T00:00:00Z", "to"},
        {"/sessions/events?from=2025-01-01T00:00:00Z&to=2025-01-01T00:00:00Z", "to"},
        {"/sessions/events?from=0000-06-01T00:00:00Z", "from"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        get_json(bad[i][0], &r);
        T_ERROR(r, 400, "LICENSES-BadRequest");
        T_EQ_STR(th_str(&r, "field"), bad[i][1]);
        th_resp_free(&r);
    }
}

/* Lines of a CSV body (CRLF-terminated); the count. */
static int csv_lines(const char *body, char lines[][512], int max)
{
    int n = 0;
    for (const char *p = body; p != NULL && *p != '\0' && n < max;) {
        const char *end = strstr(p, "\r\n");
        if (end == NULL)
            break;
        snprintf(lines[n++], 512, "%.*s", (int)(end - p), p);
        p = end + 2;
    }
    return n;
}

/* The URL of a Link: <...>; rel="next" header, or "". */
static void next_link(const struct th_resp *r, char *out, size_t len)
{
    char link[600] = "";
    out[0] = '\0';
    if (!th_header(r, "Link", link, sizeof link))
        return;
    const char *lt = strchr(link, '<'), *gt = strchr(link, '>');
    T_CHECK(lt != NULL && gt != NULL && strstr(gt, "rel=\"next\"") != NULL);
    if (lt != NULL && gt != NULL)
        snprintf(out, len, "%.*s", (int)(gt - lt - 1), lt + 1);
}

static void test_events_csv(void)
{
    /* Page after page through the Link header: a header line on each page,
     * then the rows, newest first, the same as JSON. */
    static char lines[64][512];
    char path[512] = "/sessions/events?limit=4", ids[2048] = "";
    int pages = 0, rows = 0;
    while (path[0] != '\0' && pages < 20) {
        struct th_resp r;
        get_accept(path, "text/csv", &r);
        T_STATUS(r, 200);
        T_EQ_STR(r.content_type, "text/csv; charset=utf-8; header=present");
        char disposition[128] = "";
        T_CHECK(th_header(&r, "Content-Disposition", disposition, sizeof disposition));
        T_EQ_STR(disposition, "attachment; filename=\"events.csv\"");
        int n = csv_lines(r.body, lines, 64);
        T_CHECK(n >= 2 && n <= 5);
        T_EQ_STR(lines[0], "id,at,kind,sessionId,user.id,user.userDirectory,user.userId,accessType,"
                           "resultCode,sessionCount,detail");
        for (int i = 1; i < n; i++) {
            snprintf(ids + strlen(ids), sizeof ids - strlen(ids), "%s%.36s", ids[0] ? "," : "", lines[i]);
            rows++;
        }
        next_link(&r, path, sizeof path);
        th_resp_free(&r);
        pages++;
    }
    T_EQ_INT(rows, 2 * SESSIONS);
    T_EQ_INT(pages, (2 * SESSIONS + 3) / 4);
    char *want = th_sql(site.db.url, "SELECT string_agg(id::text, ',' ORDER BY at DESC, id DESC)"
                                     " FROM session_events");
    T_EQ_STR(ids, want);
    free(want);

    /* One row, field by field: the event as the database holds it. */
    struct th_resp r;
    get_accept("/sessions/events?kind=refusal&limit=1", "text/csv", &r);
    T_STATUS(r, 200);
    int n = csv_lines(r.body, lines, 64);
    T_EQ_INT(n, 2);
    char *row = th_sql(site.db.url,
                       "SELECT id || ',' || to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
                       " || ',refusal,,' || user_ref || ',CORP,nobody,,NoAvailableAccessType,'"
                       " || session_count || ',' FROM session_events WHERE kind = 'refusal'"
                       " ORDER BY at DESC, id DESC LIMIT 1");
    T_EQ_STR(lines[1], row);
    free(row);
    char link[600];
    T_CHECK(th_header(&r, "Link", link, sizeof link));
    T_CHECK(strstr(link, "kind=refusal") != NULL && strstr(link, "limit=1") != NULL);
    th_resp_free(&r);

    /* JSON when it is preferred or when CSV is not asked for by name. */
    static const char *const json_accepts[] = {"application/json", "*/*",
                                               "text/csv;q=0.5, application/json",
                                               "text/csv;q=0"};
    for (size_t i = 0; i < sizeof json_accepts / sizeof json_accepts[0]; i++) {
        get_accept("/sessions/events?limit=1", json_accepts[i], &r);
        T_STATUS(r, 200);
        T_EQ_STR(r.content_type, "application/json");
        th_resp_free(&r);
    }
    get_accept("/sessions/events?limit=1", "application/json;q=0.9, TEXT/CSV", &r);
    T_EQ_STR(r.content_type, "text/csv; charset=utf-8; header=present");
    th_resp_free(&r);
    /* A bad filter is still a JSON error. */
    get_accept("/sessions/events?from=soon", "text/csv", &r);
    T_ERROR(r, 400, "LICENSES-BadRequest");
    T_EQ_STR(th_str(&r, "field"), "from");
    th_resp_free(&r);
}

static void test_users_and_allocations_csv(void)
{
    /* A user whose fields a spreadsheet would run as formulas, and quotes,
     * commas and a line break that CSV must quote. */
    char evil[TL_ID_LEN];
    T_REQUIRE(tl_user(&site.srv, "=HYPERLINK(\"http://x\")", "-2+3", "[\"@SUM(A1)\", \"a,b\"]", evil));
    char *updated = th_sql(site.db.url, "UPDATE users SET name = 'line one\nline \"two\"' WHERE user_id = '-2+3'");
    T_REQUIRE(updated != NULL);
    free(updated);
    T_EQ_INT(tl_alloc(&site.srv, evil, "professional", NULL, NULL, 0), 201);

    struct th_resp r;
    get_accept("/users?userId=-2%2B3", "text/csv", &r);
    T_STATUS(r, 200);
    char *created = th_sql(site.db.url, "SELECT to_char(created_at AT TIME ZONE 'UTC',"
                                        " 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') FROM users WHERE user_id = '-2+3'");
    char want[1024];
    snprintf(want, sizeof want,
             "id,userDirectory,userId,name,groups,createdAt,modifiedAt\r\n"
             "%s,\"'=HYPERLINK(\"\"http://x\"\")\",\"'-2+3\",\"line one\nline \"\"two\"\"\","
             "\"[\"\"@SUM(A1)\"\",\"\"a,b\"\"]\",%s,",
             evil, created);
    T_CHECK(strncmp(r.body, want, strlen(want)) == 0);
    if (strncmp(r.body, want, strlen(want)) != 0)
        printf("#   got  %s\n#   want %s\n", r.body, want);
    char disposition[128] = "";
    T_CHECK(th_header(&r, "Content-Disposition", disposition, sizeof disposition));
    T_EQ_STR(disposition, "attachment; filename=\"users.csv\"");
    th_resp_free(&r);
    free(created);

    char path[128];
    snprintf(path, sizeof path, "/allocations?user=%s", evil);
    get_accept(path, "text/csv", &r);
    T_STATUS(r, 200);
    static char lines[8][512];
    T_EQ_INT(csv_lines(r.body, lines, 8), 2);
    T_EQ_STR(lines[0], "id,type,user.id,user.userDirectory,user.userId,user.deleted,createdAt,lastUsed,"
                       "quarantined,quarantineEnd,ruleId");
    char *row = th_sql(site.db.url,
                       "SELECT a.id || ',professional,' || a.user_ref || ',\"''=HYPERLINK(\"\"http://x\"\")\","
                       "\"''-2+3\",false,' || to_char(a.created_at AT TIME ZONE 'UTC',"
                       " 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') || ',,false,,' FROM allocations a"
                       " WHERE a.user_id = '-2+3'");
    T_EQ_STR(lines[1], row);
    free(row);
    T_CHECK(!th_header(&r, "Link", path, sizeof path)); /* the last page */
    th_resp_free(&r);

    /* Filters too long to carry into a Link header are refused, not cut: a
     * directory of 100 "é", 600 bytes once escaped. */
    char dir[256], longpath[800];
    size_t d = 0, l = (size_t)snprintf(longpath, sizeof longpath, "/users?limit=1&userDirectory=");
    for (int i = 0; i < 100; i++) {
        d += (size_t)snprintf(dir + d, sizeof dir - d, "\xc3\xa9");
        l += (size_t)snprintf(longpath + l, sizeof longpath - l, "%%C3%%A9");
    }
    T_REQUIRE(tl_user(&site.srv, dir, "a", NULL, path));
    T_REQUIRE(tl_user(&site.srv, dir, "b", NULL, path));
    get_accept(longpath, "text/csv", &r);
    T_ERROR(r, 400, "LICENSES-BadRequest");
    th_resp_free(&r);
    get_json(longpath, &r);
    T_STATUS(r, 200);
    T_CHECK(json_is_string(json_object_get(json_object_get(r.json, "links"), "next")));
    th_resp_free(&r);
}

int main(void)
{
    tl_site_start(&site, NULL);
    if (!tl_api_key(&site.srv, "auditor", auditor_key, sizeof auditor_key)) {
        printf("Bail out! cannot make API keys\n");
        tl_site_stop(&site);
        return 1;
    }
    snprintf(auth_header, sizeof auth_header, "Authorization: Bearer %s", auditor_key);
    T_RUN(test_newest_first_page_after_page);
    T_RUN(test_time_filters);
    T_RUN(test_events_csv);
    T_RUN(test_users_and_allocations_csv);
    T_EQ_INT(tl_site_stop(&site), 0);
    return t_done();
}

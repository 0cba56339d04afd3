/* /allocations/idle-release: the policy that releases idle professional and
 * analyzer allocations (issue 10), through the real allotd: reading and
 * setting it (who may, what is refused), its dry run, and the reaper
 * applying it (ALLOT_REAPER_INTERVAL=1s here), each release in the audit
 * trail with its reason, exempt users and recently used allocations kept. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tlicense.h"

T_DEFINE_STATE;

static struct tl_site site;

static void put_policy(const char *type, const char *body, const char *key, struct th_resp *r)
{
    char path[96];
    snprintf(path, sizeof path, "/allocations/idle-release/%s", type);
    T_CHECK(th_req(&site.srv, "PUT", path, key ? key : TH_ADMIN_KEY, body, r));
}

static void test_read_and_set(void)
{
    struct th_resp r;
    T_CHECK(th_req(&site.srv, "GET", "/allocations/idle-release", TH_ADMIN_KEY, NULL, &r));
    T_STATUS(r, 200);
    json_t *data = json_object_get(r.json, "data");
    T_EQ_INT((long)json_array_size(data), 2);
    T_EQ_STR(tl_text(json_array_get(data, 0), "type"), "professional");
    T_EQ_STR(tl_text(json_array_get(data, 1), "type"), "analyzer");
    T_CHECK(json_is_false(json_object_get(json_array_get(data, 0), "enabled")));
    T_EQ_INT(tl_int(json_array_get(data, 0), "idleDays"), 30);
    th_resp_free(&r);

    put_policy("professional",
               "{\"enabled\":false,\"idleDays\":14,\"exempt\":{\"groups\":[\"Board\"],"
               "\"userDirectories\":[\"SVC\"],\"users\":[{\"userDirectory\":\"CORP\",\"userId\":\"ceo\"}]}}",
               NULL, &r);
    T_STATUS(r, 200);
    T_EQ_INT(tl_int(r.json, "idleDays"), 14);
    json_t *exempt = json_object_get(r.json, "exempt");
    T_EQ_STR(json_string_value(json_array_get(json_object_get(exempt, "groups"), 0)), "Board");
    T_EQ_STR(tl_text(json_array_get(json_object_get(exempt, "users"), 0), "userId"), "ceo");
    th_resp_free(&r);
    T_CHECK(th_req(&site.srv, "GET", "/allocations/idle-release/professional", TH_ADMIN_KEY, NULL, &r));
    T_EQ_INT(tl_int(r.json, "idleDays"), 14);
    th_resp_free(&r);
    T_EQ_INT(th_sql_long(site.db.url, "SELECT idle_days FROM idle_release_policies WHERE type = 'professional'"), 14);

    /* refused, and nothing changed */
    static const char *const bad[][2] = {
        {"{\"enabled\":true,\"idleDays\":0}", "idleDays"},
        {"{\"enabled\":true,\"idleDays\":3651}", "idleDays"},
        {"{\"enabled\":true}", "idleDays"},
        {"{\"enabled\":\"yes\",\"idleDays\":5}", "enabled"},
        {"{\"enabled\":true,\"idleDays\":5,\"exempt\":{\"groups\":[\"\"]}}", "exempt.groups"},
        {"{\"enabled\":true,\"idleDays\":5,\"exempt\":{\"teams\":[]}}", "exempt.teams"},
        {"{\"enabled\":true,\"idleDays\":5,\"exempt\":{\"users\":[{\"userId\":\"x\"}]}}", "exempt.users"},
        {"{\"enabled\":true,\"idleDays\":5,\"exempt\":{\"users\":\"x\"}}", "exempt.users"},
        {"{\"enabled\":true,\"idleDays\":5,\"extra\":1}", "extra"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        put_policy("professional", bad[i][0], NULL, &r);
        if (r.status != 400)
            printf("#   %s answered %ld\n", bad[i][0], r.status);
        T_ERROR(r, 400, "LICENSES-BadRequest");
        T_EQ_STR(th_str(&r, "field"), bad[i][1]);
        th_resp_free(&r);
    }
    put_policy("user", "{\"enabled\":true,\"idleDays\":5}", NULL, &r);
    T_ERROR(r, 404, "LICENSES-NotFound");
    th_resp_free(&r);
    char auditor[128];
    T_CHECK(tl_api_key(&site.srv, "auditor", auditor, sizeof auditor));
    put_policy("professional", "{\"enabled\":true,\"idleDays\":5}", auditor, &r);
    T_ERROR(r, 403, "LICENSES-Forbidden");
    th_resp_free(&r);
    T_CHECK(th_req(&site.srv, "GET", "/allocations/idle-release/professional/preview", auditor, NULL, &r));
    T_STATUS(r, 200);
    th_resp_free(&r);
    T_EQ_INT(th_sql_long(site.db.url, "SELECT count(*) FROM idle_release_policies WHERE type = "
                                      "'professional' AND idle_days = 14 AND NOT enabled"), 1);
}

/* Makes a user with a professional allocation last used `days` ago. */
static void idle_user(const char *dir, const char *uid, const char *groups, int days, char *id)
{
    T_CHECK(tl_user(&site.srv, dir, uid, groups, id));
    char aid[TL_ID_LEN] = "";
    T_EQ_INT(tl_alloc(&site.srv, id, "professional", aid, NULL, 0), 201);
    char sql[256];
    char *ok;
    snprintf(sql, sizeof sql, "UPDATE allocations SET last_used = now() - interval '%d days', "
             "created_at = now() - interval '60 days' WHERE id = '%s'", days, aid);
    ok = th_sql(site.db.url, sql);
    T_CHECK(ok != NULL);
    free(ok);
}

static void test_dry_run_then_reaper(void)
{
    T_CHECK(tl_reset(site.db.url));
    T_CHECK(tl_apply(&site.srv, &site.auth, "--professional", "10", "--analyzer", "2", NULL));
    char ann[TL_ID_LEN], bob[TL_ID_LEN], cy[TL_ID_LEN], dan[TL_ID_LEN], ceo[TL_ID_LEN],
        eve[TL_ID_LEN];
    idle_user("CORP", "ann", NULL, 40, ann);          /* idle: released */
    idle_user("CORP", "bob", "[\"Board\"]", 40, bob); /* exempt by group */
    idle_user("SVC", "cy", NULL, 40, cy);             /* exempt by directory */
    idle_user("CORP", "ceo", NULL, 40, ceo);          /* exempt by name */
    idle_user("CORP", "dan", NULL, 3, dan);           /* used 3 days ago */
    idle_user("CORP", "eve", NULL, 20, eve);          /* idle 20 days: released */
    struct th_resp r;
    put_policy("professional",
               "{\"enabled\":false,\"idleDays\":14,\"exempt\":{\"groups\":[\"Board\"],"
               "\"userDirectories\":[\"SVC\"],\"users\":[{\"userDirectory\":\"CORP\",\"userId\":\"ceo\"}]}}",
               NULL, &r);
    T_STATUS(r, 200);
    th_resp_free(&r);
    /* the dry run: longest idle first, the total, a limit */
    T_CHECK(th_req(&site.srv, "GET", "/allocations/idle-release/professional/preview", TH_ADMIN_KEY, NULL, &r));
    T_STATUS(r, 200);
    T_EQ_INT(tl_int(r.json, "total"), 2);
    json_t *data = json_object_get(r.json, "data");
    T_EQ_INT((long)json_array_size(data), 2);
    T_EQ_STR(tl_text(json_object_get(json_array_get(data, 0), "user"), "userId"), "ann");
    T_EQ_STR(tl_text(json_object_get(json_array_get(data, 1), "user"), "userId"), "eve");
    T_CHECK(tl_time(json_array_get(data, 0), "idleSince") > 0);
    th_resp_free(&r);
    T_CHECK(th_req(&site.srv, "GET", "/allocations/idle-release/professional/preview?limit=1",
                   TH_ADMIN_KEY, NULL, &r));
    T_EQ_INT(tl_int(r.json, "total"), 2);
    T_EQ_INT((long)json_array_size(json_object_get(r.json, "data")), 1);
    th_resp_free(&r);
    T_CHECK(th_req(&site.srv, "GET", "/allocations/idle-release/analyzer/preview", TH_ADMIN_KEY, NULL, &r));
    T_EQ_INT(tl_int(r.json, "total"), 0);
    th_resp_free(&r);
    /* a dry run changes nothing */
    T_EQ_INT(th_sql_long(site.db.url, "SELECT count(*) FROM allocations"), 6);
    /* enabled: the reaper releases what the dry run listed, and only that */
    put_policy("professional",
               "{\"enabled\":true,\"idleDays\":14,\"exempt\":{\"groups\":[\"Board\"],"
               "\"userDirectories\":[\"SVC\"],\"users\":[{\"userDirectory\":\"CORP\",\"userId\":\"ceo\"}]}}",
               NULL, &r);
    T_STATUS(r, 200);
    th_resp_free(&r);
    T_CHECK(th_wait_sql(site.db.url, 4, 20.0, "SELECT count(*) FROM allocations"));
    T_EQ_INT(th_sql_long(site.db.url, "SELECT count(*) FROM allocations WHERE user_id IN "
                                      "('bob', 'cy', 'ceo', 'dan')"), 4);
    /* released at once, not quarantined: two units free */
    T_CHECK(th_req(&site.srv, "GET", "/license", TH_ADMIN_KEY, NULL, &r));
    T_EQ_INT(tl_int(tl_allotment(&r, "professional"), "used"), 4);
    T_EQ_INT(tl_int(tl_allotment(&r, "professional"), "quarantined"), 0);
    th_resp_free(&r);
    /* each release in the audit trail with its reason */
    T_CHECK(th_req(&site.srv, "GET", "/sessions/events?kind=release", TH_ADMIN_KEY, NULL, &r));
    T_STATUS(r, 200);
    data = json_object_get(r.json, "data");
    T_EQ_INT((long)json_array_size(data), 2);
    for (size_t i = 0; i < json_array_size(data); i++) {
        json_t *e = json_array_get(data, i);
        T_EQ_STR(tl_text(e, "kind"), "release");
        T_EQ_STR(tl_text(e, "accessType"), "professional");
        T_CHECK(strncmp(tl_text(e, "detail"), "idle_release: not used since ", 29) == 0);
        T_CHECK(strstr(tl_text(e, "detail"), "(policy: 14 days idle)") != NULL);
    }
    th_resp_free(&r);
    T_CHECK(th_log_wait(&site.srv, "released 2 idle professional allocations", 5000));
    T_CHECK(th_req(&site.srv, "GET", "/allocations/idle-release/professional/preview", TH_ADMIN_KEY, NULL, &r));
    T_EQ_INT(tl_int(r.json, "total"), 0);
    th_resp_free(&r);
}

static void test_running_session_never_released(void)
{
    T_CHECK(tl_reset(site.db.url));
    T_CHECK(tl_apply(&site.srv, &site.auth, "--professional", "2", NULL));
    char fay[TL_ID_LEN], gus[TL_ID_LEN];
    idle_user("CORP", "fay", NULL, 40, fay);
    idle_user("CORP", "gus", NULL, 40, gus);
    /* a session runs on fay's (40 days idle in the allocation's books, but
     * in use now) */
    char sid[TL_ID_LEN];
    tl_expect_access(&site.srv, fay, "professional", sid);
    T_EQ_INT(th_sql_long(site.db.url, "UPDATE allocations SET last_used = now() - interval '40 days'"
                                      " WHERE user_id = 'fay' RETURNING 1"), 1);
    struct th_resp r;
    T_CHECK(th_req(&site.srv, "GET", "/allocations/idle-release/professional/preview", TH_ADMIN_KEY, NULL, &r));
    T_EQ_INT(tl_int(r.json, "total"), 1); /* gus's only */
    th_resp_free(&r);
    put_policy("professional", "{\"enabled\":true,\"idleDays\":1}", NULL, &r);
    th_resp_free(&r);
    T_CHECK(th_req(&site.srv, "GET", "/allocations/idle-release/professional/preview", TH_ADMIN_KEY, NULL, &r));
    T_EQ_INT(tl_int(r.json, "total"), 1);
    T_EQ_STR(tl_text(json_object_get(json_array_get(json_object_get(r.json, "data"), 0), "user"), "userId"), "gus");
    th_resp_free(&r);
    /* the reaper releases gus's in the same pass that keeps fay's */
    T_CHECK(th_wait_sql(site.db.url, 0, 20.0, "SELECT count(*) FROM allocations WHERE user_id = 'gus'"));
    T_EQ_INT(th_sql_long(site.db.url, "SELECT count(*) FROM allocations WHERE user_id = 'fay'"), 1);
    T_EQ_INT(th_sql_long(site.db.url, "SELECT count(*) FROM sessions WHERE ended_at IS NULL"), 1);
    put_policy("professional", "{\"enabled\":false,\"idleDays\":30}", NULL, &r);
    T_STATUS(r, 200);
    th_resp_free(&r);
}

static void test_server_stops_cleanly(void)
{
    T_CHECK(!th_log_contains(&site.srv, "\"level\":\"error\""));
    T_EQ_INT(th_server_stop(&site.srv), 0);
}

int main(void)
{
    static const char *const env[] = {"ALLOT_REAPER_INTERVAL=1s", NULL};
    tl_site_start(&site, env);
    T_RUN(test_read_and_set);
    T_RUN(test_dry_run_then_reaper);
    T_RUN(test_running_session_never_released);
    T_RUN(test_server_stops_cleanly);
    tl_site_stop(&site);
    return t_done();
}

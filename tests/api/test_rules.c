/* /allocations/rules (access groups): create, read, change and delete them;
 * what is refused; a login group takes its tokens when it is saved and gives
 * them back when deleted; professional and analyzer rules assign a free unit
 * at the user's next session start (dynamic assignment), professional first. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tlicense.h"

T_DEFINE_STATE;

static struct tl_site site;

static void fresh(const char *professional, const char *analyzer, const char *tokens)
{
    T_CHECK(tl_reset(site.db.url));
    T_CHECK(tl_apply(&site.srv, &site.auth, "--professional", professional, "--analyzer", analyzer,
                     "--tokens", tokens, "--param", "sessionLingerSeconds=0", NULL));
}

static void post_rule(const char *body, struct th_resp *r)
{
    T_CHECK(th_req(&site.srv, "POST", "/allocations/rules", TH_ADMIN_KEY, body, r));
}

static void expect_bad(const char *method, const char *path, const char *body, const char *field)
{
    struct th_resp r;
    T_CHECK(th_req(&site.srv, method, path, TH_ADMIN_KEY, body, &r));
    if (r.status != 400)
        printf("#   %s %s %s\n", method, path, body);
    T_ERROR(r, 400, "LICENSES-BadRequest");
    T_EQ_STR(th_str(&r, "field"), field);
    th_resp_free(&r);
}

static void test_crud(void)
{
    fresh("2", "2", "0");
    struct th_resp r;
    post_rule("{\"name\":\"Sales pros\",\"accessType\":\"professional\","
              "\"match\":{\"groups\":[\"Sales\"],\"userDirectories\":[\"EMEA\"]}}", &r);
    T_STATUS(r, 201);
    char id[TL_ID_LEN], path[96];
    snprintf(id, sizeof id, "%s", th_str(&r, "id"));
    snprintf(path, sizeof path, "/allocations/rules/%s", id);
    T_EQ_STR(r.location, path);
    T_EQ_STR(th_str(&r, "name"), "Sales pros");
    T_EQ_STR(th_str(&r, "accessType"), "professional");
    json_t *match = json_object_get(r.json, "match");
    T_EQ_STR(json_string_value(json_array_get(json_object_get(match, "groups"), 0)), "Sales");
    T_EQ_STR(json_string_value(json_array_get(json_object_get(match, "userDirectories"), 0)), "EMEA");
    T_CHECK(json_is_null(json_object_get(r.json, "tokens")));
    T_CHECK(tl_time(r.json, "createdAt") > 0);
    th_resp_free(&r);

    T_CHECK(th_req(&site.srv, "GET", path, TH_ADMIN_KEY, NULL, &r));
    T_STATUS(r, 200);
    T_EQ_STR(th_str(&r, "name"), "Sales pros");
    th_resp_free(&r);
    post_rule("{\"name\":\"Analysts\",\"accessType\":\"analyzer\",\"match\":{\"groups\":[\"BI\"]}}", &r);
    T_STATUS(r, 201);
    th_resp_free(&r);
    T_CHECK(th_req(&site.srv, "GET", "/allocations/rules", TH_ADMIN_KEY, NULL, &r));
    T_STATUS(r, 200);
    T_EQ_INT(json_array_size(json_object_get(r.json, "data")), 2);
    th_resp_free(&r);
    T_CHECK(th_req(&site.srv, "GET", "/allocations/rules?limit=1", TH_ADMIN_KEY, NULL, &r));
    T_EQ_INT(json_array_size(json_object_get(r.json, "data")), 1);
    T_CHECK(json_is_string(json_object_get(json_object_get(r.json, "links"), "next")));
    th_resp_free(&r);

    T_CHECK(th_req(&site.srv, "PATCH", path, TH_ADMIN_KEY,
                   "{\"name\":\"Sales\",\"match\":{\"groups\":[\"Sales\",\"Marketing\"]}}", &r));
    T_STATUS(r, 200);
    T_EQ_STR(th_str(&r, "name"), "Sales");
    match = json_object_get(r.json, "match");
    T_EQ_INT(json_array_size(json_object_get(match, "groups")), 2);
    T_EQ_INT(json_array_size(json_object_get(match, "userDirectories")), 0);
    T_EQ_STR(th_str(&r, "accessType"), "professional");
    th_resp_free(&r);
    char *groups = th_sql(site.db.url, "SELECT array_to_string(match_groups, ',') FROM rules"
                                       " WHERE name = 'Sales'");
    T_EQ_STR(groups, "Sales,Marketing");
    free(groups);
    expect_bad("PATCH", path, "{\"tokens\":3}", "tokens");
    expect_bad("PATCH", path, "{\"accessType\":\"login\"}", "accessType");

    T_CHECK(th_req(&site.srv, "DELETE", path, TH_ADMIN_KEY, NULL, &r));
    T_STATUS(r, 204);
    th_resp_free(&r);
    T_CHECK(th_req(&site.srv, "GET", path, TH_ADMIN_KEY, NULL, &r));
    T_ERROR(r, 404, "LICENSES-NotFound");
    th_resp_free(&r);
    T_CHECK(th_req(&site.srv, "DELETE", path, TH_ADMIN_KEY, NULL, &r));
    T_ERROR(r, 404, "LICENSES-NotFound");
    th_resp_free(&r);
    T_CHECK(th_req(&site.srv, "PATCH", path, TH_ADMIN_KEY, "{\"name\":\"x\"}", &r));
    T_ERROR(r, 404, "LICENSES-NotFound");
    th_resp_free(&r);
    T_EQ_INT(th_sql_long(site.db.url, "SELECT count(*) FROM rules"), 1);
}

static void test_validation(void)
{
    fresh("2", "2", "5");
    const char *p = "/allocations/rules";
    expect_bad("POST", p, "{\"name\":\"x\",\"accessType\":\"gold\",\"match\":{\"groups\":[\"a\"]}}",
               "accessType");
    expect_bad("POST", p, "{\"name\":\"x\",\"accessType\":\"professional\",\"match\":{}}", "match");
    expect_bad("POST", p, "{\"name\":\"x\",\"accessType\":\"professional\","
                          "\"match\":{\"groups\":[],\"userDirectories\":[]}}", "match");
    expect_bad("POST", p, "{\"name\":\"x\",\"accessType\":\"professional\"}", "match");
    expect_bad("POST", p, "{\"accessType\":\"professional\",\"match\":{\"groups\":[\"a\"]}}", "name");
    expect_bad("POST", p, "{\"name\":\"x\",\"accessType\":\"login\",\"match\":{\"groups\":[\"a\"]}}",
               "tokens");
    expect_bad("POST", p, "{\"name\":\"x\",\"accessType\":\"professional\",\"tokens\":1,"
                          "\"match\":{\"groups\":[\"a\"]}}", "tokens");
    expect_bad("POST", p, "{\"name\":\"x\",\"accessType\":\"analyzer_time\",\"tokens\":1,"
                          "\"match\":{\"groups\":[\"a\"]}}", "tokens");
    expect_bad("POST", p, "{\"name\":\"x\",\"accessType\":\"login\",\"tokens\":-1,"
                          "\"match\":{\"groups\":[\"a\"]}}", "tokens");
    expect_bad("POST", p, "{\"name\":\"x\",\"accessType\":\"professional\",\"color\":\"red\","
                          "\"match\":{\"groups\":[\"a\"]}}", "color");
    expect_bad("POST", p, "{\"name\":\"x\",\"accessType\":\"professional\","
                          "\"match\":{\"groups\":[\"a\"],\"roles\":[\"b\"]}}", "match.roles");
    expect_bad("POST", p, "{\"name\":\"x\",\"accessType\":\"professional\","
                          "\"match\":{\"groups\":\"Sales\"}}", "match.groups");
    T_EQ_INT(th_sql_long(site.db.url, "SELECT count(*) FROM rules"), 0);

    struct th_resp r;
    post_rule("{\"name\":\"Same\",\"accessType\":\"analyzer\",\"match\":{\"groups\":[\"a\"]}}", &r);
    T_STATUS(r, 201);
    th_resp_free(&r);
    post_rule("{\"name\":\"Same\",\"accessType\":\"professional\",\"match\":{\"groups\":[\"b\"]}}", &r);
    T_ERROR(r, 409, "LICENSES-Conflict");
    T_EQ_STR(th_str(&r, "field"), "name");
    th_resp_free(&r);
    T_EQ_INT(th_sql_long(site.db.url, "SELECT count(*) FROM rules"), 1);
}

static void license_tokens(long long *allocated, long long *available)
{
    struct th_resp r;
    T_CHECK(th_req(&site.srv, "GET", "/license", TH_ADMIN_KEY, NULL, &r));
    json_t *t = json_object_get(r.json, "tokens");
    *allocated = tl_int(t, "allocated");
    *available = tl_int(t, "available");
    th_resp_free(&r);
}

/* A login group takes its tokens when saved, and gives them back. */
static void test_login_group_tokens(void)
{
    fresh("1", "1", "3");
    char a[TL_ID_LEN], b[TL_ID_LEN], c[TL_ID_LEN];
    T_EQ_INT(tl_rule(&site.srv, "Login A", "login", "{\"groups\":[\"A\"]}", 2, a), 201);
    long long allocated, available;
    license_tokens(&allocated, &available);
    T_EQ_INT(allocated, 2);
    T_EQ_INT(available, 1);

    struct th_resp r;
    post_rule("{\"name\":\"Login B\",\"accessType\":\"login\",\"tokens\":2,"
              "\"match\":{\"groups\":[\"B\"]}}", &r);
    T_ERROR(r, 409, "LICENSES-NoAvailableAllotment");
    th_resp_free(&r);
    T_EQ_INT(th_sql_long(site.db.url, "SELECT count(*) FROM rules"), 1);
    T_EQ_INT(tl_rule(&site.srv, "Login B", "login", "{\"groups\":[\"B\"]}", 1, b), 201);
    license_tokens(&allocated, &available);
    T_EQ_INT(allocated, 3);
    T_EQ_INT(available, 0);
    /* no token left for a user pass either */
    char u[TL_ID_LEN], err[64];
    T_REQUIRE(tl_user(&site.srv, "CORP", "tok", NULL, u));
    T_EQ_INT(tl_alloc(&site.srv, u, "user", NULL, err, sizeof err), 409);
    T_EQ_STR(err, "LICENSES-NoAvailableAllotment");
    /* a login group of zero tokens costs nothing */
    T_EQ_INT(tl_rule(&site.srv, "Login C", "login", "{\"groups\":[\"C\"]}", 0, c), 201);

    char path[96];
    snprintf(path, sizeof path, "/allocations/rules/%s", b);
    T_CHECK(th_req(&site.srv, "PATCH", path, TH_ADMIN_KEY, "{\"tokens\":2}", &r));
    T_ERROR(r, 409, "LICENSES-NoAvailableAllotment");
    th_resp_free(&r);
    snprintf(path, sizeof path, "/allocations/rules/%s", a);
    T_CHECK(th_req(&site.srv, "DELETE", path, TH_ADMIN_KEY, NULL, &r));
    T_STATUS(r, 204);
    th_resp_free(&r);
    license_tokens(&allocated, &available);
    T_EQ_INT(allocated, 1);
    T_EQ_INT(available, 2);
    snprintf(path, sizeof path, "/allocations/rules/%s", b);
    T_CHECK(th_req(&site.srv, "PATCH", path, TH_ADMIN_KEY, "{\"tokens\":3}", &r));
    T_STATUS(r, 200);
    T_EQ_INT(tl_int(r.json, "tokens"), 3);
    th_resp_free(&r);
    license_tokens(&allocated, &available);
    T_EQ_INT(allocated, 3);
    T_EQ_INT(available, 0);
    T_CHECK(th_req(&site.srv, "PATCH", path, TH_ADMIN_KEY, "{\"tokens\":1}", &r));
    T_STATUS(r, 200);
    th_resp_free(&r);
    license_tokens(&allocated, &available);
    T_EQ_INT(allocated, 1);
    T_EQ_INT(tl_alloc(&site.srv, u, "user", NULL, NULL, 0), 201);
}

/* A group deleted while some of its passes are out keeps a token until they
 * return: one token per ten passes still out. */
static void test_login_group_deleted_with_passes_out(void)
{
    fresh("1", "1", "3");
    char rule[TL_ID_LEN], u[TL_ID_LEN], access[32];
    T_EQ_INT(tl_rule(&site.srv, "Logins", "login", "{\"groups\":[\"L\"]}", 2, rule), 201);
    T_REQUIRE(tl_user(&site.srv, "CORP", "lp", "[\"L\"]", u));
    T_EQ_INT(tl_session_access(&site.srv, u, NULL, access, sizeof access), 201);
    T_EQ_STR(access, "login");
    char path[96];
    snprintf(path, sizeof path, "/allocations/rules/%s", rule);
    struct th_resp r;
    T_CHECK(th_req(&site.srv, "DELETE", path, TH_ADMIN_KEY, NULL, &r));
    T_STATUS(r, 204);
    th_resp_free(&r);
    long long allocated, available;
    license_tokens(&allocated, &available);
    T_EQ_INT(allocated, 1);
    T_EQ_INT(available, 2);
}

/* Lowering a group's tokens below what its passes out need must not free a
 * token those passes still hold (deleting the group would not). */
static void test_login_group_lowered_with_passes_out(void)
{
    fresh("1", "1", "1");
    char rule[TL_ID_LEN], u[TL_ID_LEN], v[TL_ID_LEN], access[32], err[64];
    T_EQ_INT(tl_rule(&site.srv, "Logins", "login", "{\"groups\":[\"L\"]}", 1, rule), 201);
    T_REQUIRE(tl_user(&site.srv, "CORP", "lp", "[\"L\"]", u));
    T_REQUIRE(tl_user(&site.srv, "CORP", "named", NULL, v));
    T_EQ_INT(tl_session_access(&site.srv, u, NULL, access, sizeof access), 201);
    T_EQ_STR(access, "login");
    char path[96];
    snprintf(path, sizeof path, "/allocations/rules/%s", rule);
    struct th_resp r;
    T_CHECK(th_req(&site.srv, "PATCH", path, TH_ADMIN_KEY, "{\"tokens\":0}", &r));
    th_resp_free(&r);
    long long allocated, available;
    license_tokens(&allocated, &available);
    /* Regression: a group lowered below its passes still out keeps holding
     * their token (allot_login_tokens_held), so it is not given away twice. */
    T_EQ_INT(available, 0);
    T_EQ_INT(tl_alloc(&site.srv, v, "user", NULL, err, sizeof err), 409);
    T_EQ_STR(err, "LICENSES-NoAvailableAllotment");
    T_CHECK(th_req(&site.srv, "DELETE", path, TH_ADMIN_KEY, NULL, &r));
    T_STATUS(r, 204);
    th_resp_free(&r);
    T_CHECK(th_req(&site.srv, "GET", "/license", TH_ADMIN_KEY, NULL, &r));
    json_t *t = json_object_get(r.json, "tokens");
    T_CHECK(tl_int(t, "allocated") + tl_int(t, "used") <= tl_int(t, "total"));
    th_resp_free(&r);
}

static void assert_dynamic(const char *user, const char *type, const char *rule)
{
    char path[128];
    snprintf(path, sizeof path, "/allocations?user=%s", user);
    struct th_resp r;
    T_CHECK(th_req(&site.srv, "GET", path, TH_ADMIN_KEY, NULL, &r));
    json_t *data = json_object_get(r.json, "data");
    T_EQ_INT(json_array_size(data), 1);
    json_t *a = json_array_get(data, 0);
    T_EQ_STR(tl_text(a, "type"), type);
    T_EQ_STR(tl_text(a, "ruleId"), rule);
    T_CHECK(tl_time(a, "lastUsed") > 0);
    th_resp_free(&r);
}

static void expect_pending(const char *user)
{
    struct th_resp r;
    T_EQ_INT(tl_session(&site.srv, user, &r), 403);
    T_EQ_STR(th_error_type(&r), "LICENSES-NoAccessPass");
    T_EQ_STR(th_str(&r, "resultCode"), "NoAvailableAccessTypePendingUserSync");
    th_resp_free(&r);
    char path[128];
    snprintf(path, sizeof path, "SELECT count(*) FROM allocations WHERE user_ref = '%s'", user);
    T_EQ_INT(th_sql_long(site.db.url, path), 0);
}

static void test_dynamic_professional(void)
{
    fresh("1", "0", "0");
    char rule[TL_ID_LEN], a[TL_ID_LEN], b[TL_ID_LEN], other[TL_ID_LEN], access[32], sid[TL_ID_LEN];
    T_EQ_INT(tl_rule(&site.srv, "Sales", "professional", "{\"groups\":[\"Sales\"]}", -1, rule), 201);
    T_REQUIRE(tl_user(&site.srv, "CORP", "sales-a", "[\"Sales\"]", a));
    T_REQUIRE(tl_user(&site.srv, "CORP", "sales-b", "[\"Sales\",\"HR\"]", b));
    T_REQUIRE(tl_user(&site.srv, "CORP", "hr", "[\"HR\"]", other));
    /* not in the group: nothing to give, and no rule pending */
    struct th_resp r;
    T_EQ_INT(tl_session(&site.srv, other, &r), 403);
    T_EQ_STR(th_str(&r, "resultCode"), "NoAvailableAccessType");
    th_resp_free(&r);

    T_EQ_INT(tl_session_access(&site.srv, a, sid, access, sizeof access), 201);
    T_EQ_STR(access, "professional");
    assert_dynamic(a, "professional", rule);
    char path[96];
    snprintf(path, sizeof path, "/sessions/%s", sid);
    T_CHECK(th_req(&site.srv, "GET", path, TH_ADMIN_KEY, NULL, &r));
    char *alloc = th_sql(site.db.url, "SELECT id FROM allocations");
    T_EQ_STR(th_str(&r, "allocationId"), alloc);
    free(alloc);
    th_resp_free(&r);
    /* the next session of the same user uses the same allocation */
    T_EQ_INT(tl_session_access(&site.srv, a, NULL, access, sizeof access), 201);
    T_EQ_STR(access, "professional");
    T_EQ_INT(th_sql_long(site.db.url, "SELECT count(*) FROM allocations"), 1);

    expect_pending(b);
    /* a's unit comes free (with quarantineSeconds=0 a removed allocation is
     * released at once): b gets it at the next session start */
    T_CHECK(tl_apply(&site.srv, &site.auth, "--professional", "1", "--param", "quarantineSeconds=0",
                     "--param", "sessionLingerSeconds=0", NULL));
    alloc = th_sql(site.db.url, "SELECT id FROM allocations");
    snprintf(path, sizeof path, "/allocations/%s", alloc ? alloc : "");
    free(alloc);
    T_CHECK(th_req(&site.srv, "DELETE", path, TH_ADMIN_KEY, NULL, &r));
    T_STATUS(r, 204); /* quarantineSeconds=0: released at once */
    th_resp_free(&r);
    T_EQ_INT(tl_session_access(&site.srv, b, NULL, access, sizeof access), 201);
    T_EQ_STR(access, "professional");
    assert_dynamic(b, "professional", rule);
}

/* Professional rules are tried before analyzer rules; an analyzer rule gives
 * analyzer when no professional unit is free. */
static void test_dynamic_analyzer_after_professional(void)
{
    fresh("1", "1", "0");
    char pro_rule[TL_ID_LEN], an_rule[TL_ID_LEN], u[3][TL_ID_LEN], d[TL_ID_LEN], access[32];
    /* the analyzer rule is older: the order is by type, not by age */
    T_EQ_INT(tl_rule(&site.srv, "Sales analyzers", "analyzer", "{\"groups\":[\"Sales\"]}", -1,
                     an_rule), 201);
    T_EQ_INT(tl_rule(&site.srv, "Sales pros", "professional", "{\"groups\":[\"Sales\"]}", -1,
                     pro_rule), 201);
    for (int i = 0; i < 3; i++) {
        char uid[32];
        snprintf(uid, sizeof uid, "s%d", i);
        T_REQUIRE(tl_user(&site.srv, "CORP", uid, "[\"Sales\"]", u[i]));
    }
    T_EQ_INT(tl_session_access(&site.srv, u[0], NULL, access, sizeof access), 201);
    T_EQ_STR(access, "professional");
    assert_dynamic(u[0], "professional", pro_rule);
    T_EQ_INT(tl_session_access(&site.srv, u[1], NULL, access, sizeof access), 201);
    T_EQ_STR(access, "analyzer");
    assert_dynamic(u[1], "analyzer", an_rule);
    expect_pending(u[2]);

    /* a rule may match by user directory */
    fresh("0", "1", "0");
    T_EQ_INT(tl_rule(&site.srv, "EMEA", "analyzer", "{\"userDirectories\":[\"EMEA\"]}", -1, an_rule),
             201);
    T_REQUIRE(tl_user(&site.srv, "EMEA", "dir-user", NULL, d));
    T_EQ_INT(tl_session_access(&site.srv, d, NULL, access, sizeof access), 201);
    T_EQ_STR(access, "analyzer");
    assert_dynamic(d, "analyzer", an_rule);
    struct th_resp r;
    T_CHECK(th_req(&site.srv, "GET", "/license", TH_ADMIN_KEY, NULL, &r));
    T_EQ_INT(tl_int(tl_allotment(&r, "analyzer"), "used"), 1);
    T_EQ_INT(tl_int(tl_allotment(&r, "analyzer"), "available"), 0);
    th_resp_free(&r);
}

static void test_server_stops_cleanly(void)
{
    T_CHECK(!th_log_contains(&site.srv, "\"level\":\"error\"")); /* no unknown outcome, no failure */
    T_EQ_INT(th_server_stop(&site.srv), 0);
}

int main(void)
{
    tl_site_start(&site, NULL);

    T_RUN(test_crud);
    T_RUN(test_validation);
    T_RUN(test_login_group_tokens);
    T_RUN(test_login_group_deleted_with_passes_out);
    T_RUN(test_login_group_lowered_with_passes_out);
    T_RUN(test_dynamic_professional);
    T_RUN(test_dynamic_analyzer_after_professional);
    T_RUN(test_server_stops_cleanly);

    tl_site_stop(&site);
    return t_done();
}

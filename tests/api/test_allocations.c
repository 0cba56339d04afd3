/* /allocations as an administrator uses them: named passes up to what the
 * license allows (units + overage, tokens for user passes), conflicts and
 * validation, quarantine of a used allocation (it keeps counting, can be
 * reinstated, and frees its unit when the quarantine is over), deleted users,
 * filters and pagination. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tlicense.h"

T_DEFINE_STATE;

#define QUARANTINE_S 3

static struct tl_site site;

/* professional 2 + overage 1 = 3, analyzer 1, tokens 2 (user passes). */
static void fresh_license(void)
{
    T_CHECK(tl_reset(site.db.url));
    T_CHECK(tl_apply(&site.srv, &site.auth, "--professional", "2", "--overage", "professional=1",
                     "--analyzer", "1", "--tokens", "2", "--param", "quarantineSeconds=3",
                     "--param", "sessionLingerSeconds=0", NULL));
}

static long count(const char *sql)
{
    return th_sql_long(site.db.url, sql);
}

static long alloc_rows(const char *type)
{
    char sql[160];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM allocations WHERE type = '%s'", type);
    return count(sql);
}

static void get_license(struct th_resp *r)
{
    T_CHECK(th_req(&site.srv, "GET", "/license", TH_ADMIN_KEY, NULL, r));
    T_STATUS(*r, 200);
}

static void make_users(const char *prefix, int n, char ids[][TL_ID_LEN])
{
    for (int i = 0; i < n; i++) {
        char uid[64];
        snprintf(uid, sizeof uid, "%s%d", prefix, i);
        T_CHECK(tl_user(&site.srv, "CORP", uid, NULL, ids[i]));
    }
}

static void test_no_license(void)
{
    T_CHECK(tl_reset(site.db.url));
    char u[TL_ID_LEN], err[64];
    T_REQUIRE(tl_user(&site.srv, "CORP", "early", NULL, u));
    T_EQ_INT(tl_alloc(&site.srv, u, "professional", NULL, err, sizeof err), 403);
    T_EQ_STR(err, "LICENSES-NoLicense");
    T_EQ_INT(count("SELECT count(*) FROM allocations"), 0);
}

static void test_validation(void)
{
    fresh_license();
    char u[TL_ID_LEN];
    T_REQUIRE(tl_user(&site.srv, "CORP", "val", NULL, u));
    struct th_resp r;
    T_CHECK(th_req(&site.srv, "POST", "/allocations", TH_ADMIN_KEY,
                   "{\"user\":\"6f1c4d0e-0000-4000-8000-000000000001\",\"type\":\"professional\"}", &r));
    T_ERROR(r, 404, "LICENSES-NotFound");
    T_EQ_STR(th_str(&r, "field"), "user");
    th_resp_free(&r);
    char body[160];
    snprintf(body, sizeof body, "{\"user\":\"%s\",\"type\":\"gold\"}", u);
    T_CHECK(th_req(&site.srv, "POST", "/allocations", TH_ADMIN_KEY, body, &r));
    T_ERROR(r, 400, "LICENSES-BadRequest");
    T_EQ_STR(th_str(&r, "field"), "type");
    th_resp_free(&r);
    T_CHECK(th_req(&site.srv, "POST", "/allocations", TH_ADMIN_KEY,
                   "{\"user\":\"alice\",\"type\":\"professional\"}", &r));
    T_ERROR(r, 400, "LICENSES-BadRequest");
    T_EQ_STR(th_str(&r, "field"), "user");
    th_resp_free(&r);
    snprintf(body, sizeof body, "{\"user\":\"%s\"}", u);
    T_CHECK(th_req(&site.srv, "POST", "/allocations", TH_ADMIN_KEY, body, &r));
    T_ERROR(r, 400, "LICENSES-BadRequest");
    T_EQ_STR(th_str(&r, "field"), "type");
    th_resp_free(&r);
    T_EQ_INT(count("SELECT count(*) FROM allocations"), 0);
}

/* Fills a type to its limit; the next is refused and adds no row. */
static void fill(const char *type, char users[][TL_ID_LEN], int limit)
{
    long before = alloc_rows(type);
    for (int i = 0; i < limit; i++) {
        char id[TL_ID_LEN];
        T_EQ_INT(tl_alloc(&site.srv, users[i], type, id, NULL, 0), 201);
    }
    char err[64];
    T_EQ_INT(tl_alloc(&site.srv, users[limit], type, NULL, err, sizeof err), 409);
    T_EQ_STR(err, "LICENSES-NoAvailableAllotment");
    T_EQ_INT(alloc_rows(type), before + limit);
}

static void test_up_to_the_limit(void)
{
    fresh_license();
    char users[5][TL_ID_LEN];
    make_users("lim", 5, users);

    struct th_resp r;
    char body[160];
    snprintf(body, sizeof body, "{\"user\":\"%s\",\"type\":\"professional\"}", users[0]);
    T_CHECK(th_req(&site.srv, "POST", "/allocations", TH_ADMIN_KEY, body, &r));
    T_STATUS(r, 201);
    char where[96];
    snprintf(where, sizeof where, "/allocations/%s", th_str(&r, "id"));
    T_EQ_STR(r.location, where);
    T_EQ_STR(th_str(&r, "type"), "professional");
    json_t *user = json_object_get(r.json, "user");
    T_EQ_STR(tl_text(user, "id"), users[0]);
    T_EQ_STR(tl_text(user, "userDirectory"), "CORP");
    T_EQ_STR(tl_text(user, "userId"), "lim0");
    T_CHECK(json_is_false(json_object_get(r.json, "quarantined")));
    T_CHECK(json_is_null(json_object_get(r.json, "lastUsed")));
    T_CHECK(json_is_null(json_object_get(r.json, "quarantineEnd")));
    th_resp_free(&r);
    /* same user, same type: a conflict, not a second unit */
    char err[64];
    T_EQ_INT(tl_alloc(&site.srv, users[0], "professional", NULL, err, sizeof err), 409);
    T_EQ_STR(err, "LICENSES-Conflict");
    fill("professional", users + 1, 2); /* units 2 + overage 1 = 3 */
    fill("analyzer", users, 1);
    fill("user", users, 2); /* one token per user pass */
    T_EQ_INT(alloc_rows("professional"), 3);

    get_license(&r);
    json_t *pro = tl_allotment(&r, "professional");
    T_EQ_INT(tl_int(pro, "used"), 3);
    T_EQ_INT(tl_int(pro, "available"), 0);
    T_EQ_INT(tl_int(tl_allotment(&r, "analyzer"), "available"), 0);
    json_t *tokens = json_object_get(r.json, "tokens");
    T_EQ_INT(tl_int(tokens, "used"), 2);
    T_EQ_INT(tl_int(tokens, "available"), 0);
    th_resp_free(&r);
}

/* An allocation nobody used is released at once and frees its unit. */
static void test_unused_is_released(void)
{
    fresh_license();
    char users[4][TL_ID_LEN];
    make_users("rel", 4, users);
    char ids[3][TL_ID_LEN];
    for (int i = 0; i < 3; i++)
        T_EQ_INT(tl_alloc(&site.srv, users[i], "professional", ids[i], NULL, 0), 201);
    T_EQ_INT(tl_alloc(&site.srv, users[3], "professional", NULL, NULL, 0), 409);
    char path[96];
    snprintf(path, sizeof path, "/allocations/%s", ids[0]);
    struct th_resp r;
    T_CHECK(th_req(&site.srv, "DELETE", path, TH_ADMIN_KEY, NULL, &r));
    T_STATUS(r, 204);
    th_resp_free(&r);
    T_EQ_INT(alloc_rows("professional"), 2);
    T_CHECK(th_req(&site.srv, "GET", path, TH_ADMIN_KEY, NULL, &r));
    T_ERROR(r, 404, "LICENSES-NotFound");
    th_resp_free(&r);
    T_CHECK(th_req(&site.srv, "DELETE", path, TH_ADMIN_KEY, NULL, &r));
    T_ERROR(r, 404, "LICENSES-NotFound");
    th_resp_free(&r);
    T_EQ_INT(tl_alloc(&site.srv, users[3], "professional", NULL, NULL, 0), 201);
}

/* A used allocation goes to quarantine until lastUsed + quarantineSeconds:
 * it keeps counting, answers GET, can be reinstated, then frees its unit. */
static void test_used_is_quarantined(void)
{
    fresh_license();
    char users[5][TL_ID_LEN];
    make_users("q", 5, users);
    char ids[3][TL_ID_LEN];
    for (int i = 0; i < 3; i++)
        T_EQ_INT(tl_alloc(&site.srv, users[i], "professional", ids[i], NULL, 0), 201);
    char session[TL_ID_LEN], access[32];
    T_EQ_INT(tl_session_access(&site.srv, users[0], session, access, sizeof access), 201);
    T_EQ_STR(access, "professional");

    char path[96];
    snprintf(path, sizeof path, "/allocations/%s", ids[0]);
    struct th_resp r;
    T_CHECK(th_req(&site.srv, "GET", path, TH_ADMIN_KEY, NULL, &r));
    int64_t last_used = tl_time(r.json, "lastUsed");
    T_CHECK(last_used > 0);
    th_resp_free(&r);
    double deleted_at = tl_now_f();

    T_CHECK(th_req(&site.srv, "DELETE", path, TH_ADMIN_KEY, NULL, &r));
    T_STATUS(r, 200);
    T_CHECK(json_is_true(json_object_get(r.json, "quarantined")));
    T_EQ_STR(th_str(&r, "id"), ids[0]);
    T_EQ_INT(tl_time(r.json, "quarantineEnd"), last_used + QUARANTINE_S);
    th_resp_free(&r);
    /* the session that used it ended with it */
    char spath[96];
    snprintf(spath, sizeof spath, "/sessions/%s", session);
    T_CHECK(th_req(&site.srv, "GET", spath, TH_ADMIN_KEY, NULL, &r));
    T_CHECK(tl_time(r.json, "endedAt") > 0);
    T_EQ_STR(th_str(&r, "endReason"), "allocation_removed");
    th_resp_free(&r);

    get_license(&r);
    json_t *pro = tl_allotment(&r, "professional");
    T_EQ_INT(tl_int(pro, "used"), 2);
    T_EQ_INT(tl_int(pro, "quarantined"), 1);
    T_EQ_INT(tl_int(pro, "available"), 0);
    th_resp_free(&r);
    char err[64];
    T_EQ_INT(tl_alloc(&site.srv, users[3], "professional", NULL, err, sizeof err), 409);
    T_EQ_STR(err, "LICENSES-NoAvailableAllotment");
    T_EQ_INT(alloc_rows("professional"), 3);
    T_CHECK(th_req(&site.srv, "GET", path, TH_ADMIN_KEY, NULL, &r));
    T_STATUS(r, 200);
    T_CHECK(json_is_true(json_object_get(r.json, "quarantined")));
    th_resp_free(&r);
    /* the same user again: reinstate it rather than take a new unit */
    T_EQ_INT(tl_alloc(&site.srv, users[0], "professional", NULL, err, sizeof err), 409);
    T_EQ_STR(err, "LICENSES-Conflict");

    char rpath[128];
    snprintf(rpath, sizeof rpath, "/allocations/%s/actions/reinstate", ids[0]);
    T_CHECK(th_req(&site.srv, "POST", rpath, TH_ADMIN_KEY, NULL, &r));
    T_STATUS(r, 200);
    T_CHECK(json_is_false(json_object_get(r.json, "quarantined")));
    T_CHECK(json_is_null(json_object_get(r.json, "quarantineEnd")));
    th_resp_free(&r);
    T_CHECK(th_req(&site.srv, "POST", rpath, TH_ADMIN_KEY, NULL, &r));
    T_ERROR(r, 409, "LICENSES-Conflict"); /* not in quarantine */
    th_resp_free(&r);
    get_license(&r);
    T_EQ_INT(tl_int(tl_allotment(&r, "professional"), "used"), 3);
    T_EQ_INT(tl_int(tl_allotment(&r, "professional"), "quarantined"), 0);
    th_resp_free(&r);

    /* removed again: quarantined until the same end; after it, free */
    T_CHECK(th_req(&site.srv, "DELETE", path, TH_ADMIN_KEY, NULL, &r));
    T_STATUS(r, 200);
    T_EQ_INT(tl_time(r.json, "quarantineEnd"), last_used + QUARANTINE_S);
    th_resp_free(&r);
    T_CHECK(tl_now_f() < deleted_at + QUARANTINE_S); /* the steps above ran in time */
    tl_sleep_until((double)last_used + QUARANTINE_S + 1, 200);
    T_CHECK(th_req(&site.srv, "GET", path, TH_ADMIN_KEY, NULL, &r));
    T_ERROR(r, 404, "LICENSES-NotFound");
    th_resp_free(&r);
    T_CHECK(th_req(&site.srv, "POST", rpath, TH_ADMIN_KEY, NULL, &r));
    T_ERROR(r, 404, "LICENSES-NotFound");
    th_resp_free(&r);
    get_license(&r);
    T_EQ_INT(tl_int(tl_allotment(&r, "professional"), "quarantined"), 0);
    T_EQ_INT(tl_int(tl_allotment(&r, "professional"), "available"), 1);
    th_resp_free(&r);
    T_EQ_INT(tl_alloc(&site.srv, users[3], "professional", NULL, NULL, 0), 201);
    /* The reaper (every second) forgets the quarantined row. */
    T_CHECK(th_wait_sql(site.db.url, 0, 15, "SELECT count(*) FROM allocations WHERE id = '%s'",
                        ids[0]));
}

/* Deleting a user: a used allocation stays in quarantine under the deleted
 * user's directory account; an unused one is released. */
static void test_deleted_user(void)
{
    fresh_license();
    char users[3][TL_ID_LEN];
    make_users("del", 3, users);
    char used_id[TL_ID_LEN], unused_id[TL_ID_LEN];
    T_EQ_INT(tl_alloc(&site.srv, users[0], "professional", used_id, NULL, 0), 201);
    T_EQ_INT(tl_alloc(&site.srv, users[0], "analyzer", unused_id, NULL, 0), 201);
    /* the session takes professional first: the analyzer one stays unused */
    char session[TL_ID_LEN], access[32];
    T_EQ_INT(tl_session_access(&site.srv, users[0], session, access, sizeof access), 201);
    T_EQ_STR(access, "professional");

    char path[96];
    snprintf(path, sizeof path, "/users/%s", users[0]);
    struct th_resp r;
    T_CHECK(th_req(&site.srv, "DELETE", path, TH_ADMIN_KEY, NULL, &r));
    T_STATUS(r, 204);
    th_resp_free(&r);

    snprintf(path, sizeof path, "/allocations/%s", used_id);
    T_CHECK(th_req(&site.srv, "GET", path, TH_ADMIN_KEY, NULL, &r));
    T_STATUS(r, 200);
    T_CHECK(json_is_true(json_object_get(r.json, "quarantined")));
    json_t *user = json_object_get(r.json, "user");
    T_CHECK(json_is_true(json_object_get(user, "deleted")));
    T_EQ_STR(tl_text(user, "userDirectory"), "CORP");
    T_EQ_STR(tl_text(user, "userId"), "del0");
    th_resp_free(&r);
    snprintf(path, sizeof path, "/allocations/%s", unused_id);
    T_CHECK(th_req(&site.srv, "GET", path, TH_ADMIN_KEY, NULL, &r));
    T_ERROR(r, 404, "LICENSES-NotFound");
    th_resp_free(&r);
    T_EQ_INT(alloc_rows("analyzer"), 0);
    snprintf(path, sizeof path, "/sessions/%s", session);
    T_CHECK(th_req(&site.srv, "GET", path, TH_ADMIN_KEY, NULL, &r));
    T_EQ_STR(th_str(&r, "endReason"), "user_deleted");
    th_resp_free(&r);

    get_license(&r);
    T_EQ_INT(tl_int(tl_allotment(&r, "professional"), "quarantined"), 1);
    th_resp_free(&r);
    /* cannot be reinstated to a user that is gone */
    snprintf(path, sizeof path, "/allocations/%s/actions/reinstate", used_id);
    T_CHECK(th_req(&site.srv, "POST", path, TH_ADMIN_KEY, NULL, &r));
    T_ERROR(r, 409, "LICENSES-Conflict");
    th_resp_free(&r);
    /* listed under quarantined=true */
    T_CHECK(th_req(&site.srv, "GET", "/allocations?quarantined=true", TH_ADMIN_KEY, NULL, &r));
    T_EQ_INT(json_array_size(json_object_get(r.json, "data")), 1);
    th_resp_free(&r);
}

static size_t list_size(const char *path)
{
    struct th_resp r;
    T_CHECK(th_req(&site.srv, "GET", path, TH_ADMIN_KEY, NULL, &r));
    T_STATUS(r, 200);
    size_t n = json_array_size(json_object_get(r.json, "data"));
    th_resp_free(&r);
    return n;
}

static void test_filters_and_pages(void)
{
    T_CHECK(tl_reset(site.db.url));
    T_CHECK(tl_apply(&site.srv, &site.auth, "--professional", "10", "--analyzer", "10",
                     "--tokens", "10", NULL));
    char users[6][TL_ID_LEN];
    make_users("f", 6, users);
    for (int i = 0; i < 6; i++)
        T_EQ_INT(tl_alloc(&site.srv, users[i], "professional", NULL, NULL, 0), 201);
    for (int i = 0; i < 3; i++)
        T_EQ_INT(tl_alloc(&site.srv, users[i], "analyzer", NULL, NULL, 0), 201);
    T_EQ_INT(tl_alloc(&site.srv, users[0], "user", NULL, NULL, 0), 201);
    /* one used and removed: quarantined */
    char access[32], q_id[TL_ID_LEN], path[160];
    T_EQ_INT(tl_session_access(&site.srv, users[5], NULL, access, sizeof access), 201);
    char *id = th_sql(site.db.url, "SELECT id FROM allocations WHERE user_id = 'f5'");
    snprintf(q_id, sizeof q_id, "%s", id ? id : "");
    free(id);
    snprintf(path, sizeof path, "/allocations/%s", q_id);
    struct th_resp r;
    T_CHECK(th_req(&site.srv, "DELETE", path, TH_ADMIN_KEY, NULL, &r));
    T_STATUS(r, 200);
    th_resp_free(&r);

    T_EQ_INT(list_size("/allocations"), 10);
    T_EQ_INT(list_size("/allocations?type=professional"), 6);
    T_EQ_INT(list_size("/allocations?type=analyzer"), 3);
    T_EQ_INT(list_size("/allocations?type=user"), 1);
    snprintf(path, sizeof path, "/allocations?user=%s", users[0]);
    T_EQ_INT(list_size(path), 3);
    snprintf(path, sizeof path, "/allocations?user=%s&type=analyzer", users[1]);
    T_EQ_INT(list_size(path), 1);
    T_EQ_INT(list_size("/allocations?quarantined=true"), 1);
    T_EQ_INT(list_size("/allocations?quarantined=false"), 9);
    T_EQ_INT(list_size("/allocations?quarantined=true&type=analyzer"), 0);

    static const char *const bad[][2] = {
        {"/allocations?type=gold", "type"}, {"/allocations?user=bob", "user"},
        {"/allocations?quarantined=yes", "quarantined"}, {"/allocations?limit=0", "limit"},
        {"/allocations?limit=1001", "limit"}, {"/allocations?cursor=forged", "cursor"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        T_CHECK(th_req(&site.srv, "GET", bad[i][0], TH_ADMIN_KEY, NULL, &r));
        T_ERROR(r, 400, "LICENSES-BadRequest");
        T_EQ_STR(th_str(&r, "field"), bad[i][1]);
        th_resp_free(&r);
    }

    /* pages of 4 over the 6 professional ones: 4, then 2, each once */
    char next[1024] = "/allocations?type=professional&limit=4";
    json_t *seen = json_object();
    int pages = 0;
    while (next[0] != '\0' && pages < 5) {
        T_CHECK(th_req(&site.srv, "GET", next, TH_ADMIN_KEY, NULL, &r));
        T_STATUS(r, 200);
        size_t i;
        json_t *a;
        json_array_foreach(json_object_get(r.json, "data"), i, a) {
            T_EQ_STR(tl_text(a, "type"), "professional");
            json_object_set_new(seen, tl_text(a, "id"), json_true());
        }
        T_EQ_INT(json_array_size(json_object_get(r.json, "data")), pages == 0 ? 4 : 2);
        const char *link = json_string_value(json_object_get(json_object_get(r.json, "links"), "next"));
        snprintf(next, sizeof next, "%s", link ? link : "");
        T_CHECK(json_object_get(json_object_get(r.json, "links"), "next") != NULL);
        th_resp_free(&r);
        pages++;
    }
    T_EQ_INT(pages, 2);
    T_EQ_INT(json_object_size(seen), 6);
    json_decref(seen);
}

static void test_server_stops_cleanly(void)
{
    T_CHECK(!th_log_contains(&site.srv, "\"level\":\"error\"")); /* no unknown outcome, no failure */
    T_EQ_INT(th_server_stop(&site.srv), 0);
}

int main(void)
{
    tl_site_start(&site, (const char *const[]){"ALLOT_REAPER_INTERVAL=1s", NULL});

    T_RUN(test_no_license);
    T_RUN(test_validation);
    T_RUN(test_up_to_the_limit);
    T_RUN(test_unused_is_released);
    T_RUN(test_used_is_quarantined);
    T_RUN(test_deleted_user);
    T_RUN(test_filters_and_pages);
    T_RUN(test_server_stops_cleanly);

    tl_site_stop(&site);
    return t_done();
}

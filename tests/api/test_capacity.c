/* Analyzer capacity (analyzer_time): minutes from a monthly pool charged in
 * blocks of capacityUnitSeconds (rounded up to whole minutes) while a session
 * is active.  A start charges a block, activity inside it charges nothing,
 * activity after it charges the next one, idle time is not charged; when the
 * pool (plus overage) is spent, running sessions end at their next activity
 * and new ones are refused; unbounded overage never refuses. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tlicense.h"

T_DEFINE_STATE;

static struct tl_site site;

/* A fresh site state with a capacity rule for group Cap; users[i] in it. */
static void fresh(const char *minutes, const char *overage, const char *unit_seconds,
                  int nusers, char users[][TL_ID_LEN])
{
    T_CHECK(tl_reset(site.db.url));
    char unit[64], over[64];
    snprintf(unit, sizeof unit, "capacityUnitSeconds=%s", unit_seconds);
    snprintf(over, sizeof over, "analyzer_time=%s", overage);
    T_CHECK(tl_apply(&site.srv, &site.auth, "--analyzer-time-minutes", minutes, "--overage", over,
                     "--param", unit, "--param", "sessionLingerSeconds=0", NULL));
    T_EQ_INT(tl_rule(&site.srv, "Viewers", "analyzer_time", "{\"groups\":[\"Cap\"]}", -1, NULL), 201);
    for (int i = 0; i < nusers; i++) {
        char uid[16];
        snprintf(uid, sizeof uid, "cap%d", i);
        T_CHECK(tl_user(&site.srv, "CORP", uid, "[\"Cap\"]", users[i]));
    }
}

/* analyzer_time of GET /license: used and available (-999: null). */
static void pool(long long *used, long long *available)
{
    struct th_resp r;
    T_CHECK(th_req(&site.srv, "GET", "/license", TH_ADMIN_KEY, NULL, &r));
    json_t *a = tl_allotment(&r, "analyzer_time");
    T_CHECK(a != NULL);
    *used = tl_int(a, "used");
    *available = tl_int(a, "available");
    th_resp_free(&r);
}

static long minutes_in_db(void)
{
    return th_sql_long(site.db.url, "SELECT coalesce(sum(minutes), 0) FROM capacity_usage");
}

static long heartbeat(const char *sid, struct th_resp *out)
{
    char path[128];
    snprintf(path, sizeof path, "/sessions/%s/heartbeat", sid);
    struct th_resp r;
    long status = th_req(&site.srv, "POST", path, TH_ADMIN_KEY, NULL, &r) ? r.status : -1;
    if (out != NULL)
        *out = r;
    else
        th_resp_free(&r);
    return status;
}

static void start(const char *user, char *sid)
{
    char access[32];
    T_EQ_INT(tl_session_access(&site.srv, user, sid, access, sizeof access), 201);
    T_EQ_STR(access, "analyzer_time");
}

/* 2 minutes, blocks of 2 s = 1 minute each: two blocks, the third refused. */
static void test_pool_is_spent_in_blocks(void)
{
    char users[2][TL_ID_LEN], sid[TL_ID_LEN];
    fresh("2", "0", "2", 2, users);
    long long used, available;
    pool(&used, &available);
    T_EQ_INT(used, 0);
    T_EQ_INT(available, 2);

    double t0 = tl_now_f();
    start(users[0], sid);
    pool(&used, &available);
    T_EQ_INT(used, 1);
    T_EQ_INT(available, 1);
    T_EQ_INT(heartbeat(sid, NULL), 200); /* inside the block: free */
    pool(&used, &available);
    T_EQ_INT(used, 1);
    T_CHECK(tl_now_f() < t0 + 2);

    tl_sleep_until(t0 + 2, 200);
    T_EQ_INT(heartbeat(sid, NULL), 200); /* a new block */
    double t1 = tl_now_f();
    pool(&used, &available);
    T_EQ_INT(used, 2);
    T_EQ_INT(available, 0);
    T_EQ_INT(minutes_in_db(), 2);

    tl_sleep_until(t1 + 2, 200);
    struct th_resp r;
    T_EQ_INT(heartbeat(sid, &r), 403); /* the third block: the pool is spent */
    T_EQ_STR(th_error_type(&r), "LICENSES-NoAccessPass");
    T_EQ_STR(th_str(&r, "resultCode"), "NoAvailableAccessType");
    th_resp_free(&r);
    char path[96];
    snprintf(path, sizeof path, "/sessions/%s", sid);
    T_CHECK(th_req(&site.srv, "GET", path, TH_ADMIN_KEY, NULL, &r));
    T_CHECK(tl_time(r.json, "endedAt") > 0);
    T_EQ_STR(th_str(&r, "endReason"), "no_access_pass");
    th_resp_free(&r);
    T_EQ_INT(heartbeat(sid, NULL), 409); /* it is over */

    r = (struct th_resp){0};
    T_EQ_INT(tl_session(&site.srv, users[1], &r), 403);
    T_EQ_STR(th_error_type(&r), "LICENSES-NoAccessPass");
    T_EQ_STR(th_str(&r, "resultCode"), "NoAvailableAccessType");
    th_resp_free(&r);
    T_EQ_INT(minutes_in_db(), 2);
    pool(&used, &available);
    T_EQ_INT(used, 2);
    T_EQ_INT(th_sql_long(site.db.url, "SELECT count(*) FROM sessions WHERE ended_at IS NULL"), 0);
}

/* Time without activity costs nothing: after a pause longer than several
 * blocks, the next heartbeat charges one block, not the pause. */
static void test_idle_time_is_not_charged(void)
{
    char users[1][TL_ID_LEN], sid[TL_ID_LEN];
    fresh("10", "0", "1", 1, users);
    start(users[0], sid);
    long long used, available;
    pool(&used, &available);
    T_EQ_INT(used, 1);
    tl_sleep_ms(3300); /* three blocks of 1 s without activity */
    T_EQ_INT(heartbeat(sid, NULL), 200);
    pool(&used, &available);
    T_EQ_INT(used, 2);
    T_EQ_INT(available, 8);
}

/* A block is capacityUnitSeconds rounded up to whole minutes. */
static void test_block_rounds_up_to_minutes(void)
{
    char users[2][TL_ID_LEN], sid[TL_ID_LEN];
    fresh("3", "0", "61", 2, users); /* 61 s: a block of 2 minutes */
    start(users[0], sid);
    long long used, available;
    pool(&used, &available);
    T_EQ_INT(used, 2);
    T_EQ_INT(available, 1);
    struct th_resp r;
    T_EQ_INT(tl_session(&site.srv, users[1], &r), 403); /* 2 + 2 > 3 */
    T_EQ_STR(th_str(&r, "resultCode"), "NoAvailableAccessType");
    th_resp_free(&r);
    T_EQ_INT(minutes_in_db(), 2);
}

/* Overage extends the pool; -1 makes it unbounded (available null). */
static void test_overage(void)
{
    char users[6][TL_ID_LEN], sid[TL_ID_LEN];
    fresh("1", "1", "60", 3, users);
    start(users[0], NULL);
    start(users[1], NULL);
    struct th_resp r;
    T_EQ_INT(tl_session(&site.srv, users[2], &r), 403);
    T_EQ_STR(th_error_type(&r), "LICENSES-NoAccessPass");
    th_resp_free(&r);

    fresh("1", "-1", "1", 6, users);
    for (int i = 0; i < 6; i++)
        start(users[i], i == 0 ? sid : NULL);
    for (int i = 0; i < 2; i++) {
        tl_sleep_ms(1100);
        T_EQ_INT(heartbeat(sid, NULL), 200);
    }
    long long used, available;
    pool(&used, &available);
    T_EQ_INT(used, 8);
    T_EQ_INT(available, -999); /* null: unbounded */
    T_CHECK(th_req(&site.srv, "GET", "/license", TH_ADMIN_KEY, NULL, &r));
    T_CHECK(json_is_null(json_object_get(tl_allotment(&r, "analyzer_time"), "available")));
    T_EQ_INT(tl_int(tl_allotment(&r, "analyzer_time"), "overage"), -1);
    th_resp_free(&r);
}

/* A user outside every capacity rule is refused and draws nothing. */
static void test_only_for_matching_users(void)
{
    char users[1][TL_ID_LEN], outsider[TL_ID_LEN];
    fresh("5", "0", "60", 1, users);
    T_REQUIRE(tl_user(&site.srv, "CORP", "outsider", "[\"Other\"]", outsider));
    struct th_resp r;
    T_EQ_INT(tl_session(&site.srv, outsider, &r), 403);
    T_EQ_STR(th_str(&r, "resultCode"), "NoAvailableAccessType");
    th_resp_free(&r);
    T_EQ_INT(minutes_in_db(), 0);
}

static void test_server_stops_cleanly(void)
{
    T_CHECK(!th_log_contains(&site.srv, "\"level\":\"error\"")); /* no unknown outcome, no failure */
    T_EQ_INT(th_server_stop(&site.srv), 0);
}

int main(void)
{
    tl_site_start(&site, NULL);

    T_RUN(test_pool_is_spent_in_blocks);
    T_RUN(test_idle_time_is_not_charged);
    T_RUN(test_block_rounds_up_to_minutes);
    T_RUN(test_overage);
    T_RUN(test_only_for_matching_users);
    T_RUN(test_server_stops_cleanly);

    tl_site_stop(&site);
    return t_done();
}

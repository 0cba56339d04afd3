/* api suite: allotd started on an EMPTY (unmigrated) database refuses with 503
 * and says to run `allotd migrate`; once the migration ran it serves without
 * a restart. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <time.h>

#include "tharness.h"

static struct th_db db;
static struct th_server srv;

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

static void test_unmigrated_refuses(void)
{
    struct th_resp r;
    T_REQUIRE(th_req(&srv, "GET", "/health", NULL, NULL, &r));
    T_STATUS(r, 200); /* the process runs */
    th_resp_free(&r);

    T_REQUIRE(th_req(&srv, "GET", "/ready", NULL, NULL, &r));
    T_ERROR(r, 503, "LICENSES-Unavailable");
    T_CHECK(r.retry_after[0] != '\0');
    T_CHECK(strstr(th_str(&r, "message"), "allotd migrate") != NULL);
    th_resp_free(&r);

    T_REQUIRE(th_req(&srv, "GET", "/users", TH_ADMIN_KEY, NULL, &r));
    T_ERROR(r, 503, "LICENSES-Unavailable");
    T_CHECK(r.retry_after[0] != '\0');
    if (strstr(th_str(&r, "message"), "allotd migrate") == NULL)
        printf("#   message: %s\n", th_str(&r, "message"));
    T_CHECK(strstr(th_str(&r, "message"), "allotd migrate") != NULL);
    T_EQ_STR(th_str(&r, "corrId"), r.corr_id);
    th_resp_free(&r);

    T_REQUIRE(th_req(&srv, "POST", "/users", TH_ADMIN_KEY,
                     "{\"userDirectory\":\"CORP\",\"userId\":\"early\"}", &r));
    T_ERROR(r, 503, "LICENSES-Unavailable");
    th_resp_free(&r);

    /* An operator reading the log learns what to do. */
    T_CHECK(th_log_contains(&srv, "allotd migrate"));
    /* Nothing was created behind the 503s. */
    char *v = th_sql(db.url, "SELECT to_regclass('public.users') IS NULL");
    T_CHECK(v != NULL && strcmp(v, "t") == 0);
    free(v);
}

static void test_migrate_then_serves(void)
{
    T_REQUIRE(th_migrate(db.url) == 0);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    bool ready = false;
    for (int i = 0; i < 200 && !ready; i++) { /* up to 10 s */
        struct th_resp r;
        ready = th_req(&srv, "GET", "/ready", NULL, NULL, &r) && r.status == 200;
        th_resp_free(&r);
        if (!ready)
            sleep_ms(50);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    printf("# /ready answered 200 %.1f s after the migration\n",
           (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
    T_REQUIRE(ready);

    /* The admin key of ALLOT_ADMIN_KEY is stored in the background once the
     * schema exists: requests with it work within a few seconds. */
    struct th_resp r;
    bool served = false;
    for (int i = 0; i < 200 && !served; i++) {
        served = th_req(&srv, "GET", "/users", TH_ADMIN_KEY, NULL, &r) && r.status == 200;
        if (!served) {
            th_resp_free(&r);
            sleep_ms(50);
        }
    }
    T_REQUIRE(served);
    T_CHECK(json_is_array(json_object_get(r.json, "data")));
    th_resp_free(&r);

    T_REQUIRE(th_req(&srv, "POST", "/users", TH_ADMIN_KEY,
                     "{\"userDirectory\":\"CORP\",\"userId\":\"after\"}", &r));
    T_STATUS(r, 201);
    T_CHECK(r.location[0] != '\0');
    th_resp_free(&r);
    T_EQ_INT(th_sql_long(db.url, "SELECT count(*) FROM users WHERE user_id = 'after'"), 1);
    T_EQ_INT(th_sql_long(db.url, "SELECT count(*) FROM users"), 1);
    /* The same process: no restart was needed. */
    T_CHECK(srv.pid > 0 && kill(srv.pid, 0) == 0);
}

static void test_sigterm_exits_0(void)
{
    T_EQ_INT(th_server_stop(&srv), 0);
}

int main(void)
{
    th_db_create(&db);
    if (!th_server_start(&srv, db.url, NULL, false)) {
        printf("Bail out! allotd did not start on an empty database (log %s)\n", srv.log_path);
        th_server_stop(&srv);
        th_db_drop(&db);
        return 1;
    }
    T_RUN(test_unmigrated_refuses);
    T_RUN(test_migrate_then_serves);
    T_RUN(test_sigterm_exits_0);
    th_db_drop(&db);
    return t_done();
}

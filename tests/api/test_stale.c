/* The seed's story (seeds/no-access-pass.txt): the license backend becomes
 * unreachable, the console sees it coming (lastSyncError, disabledAt, a
 * warning naming the time left, the metrics), the grace runs out and every
 * request that needs the license is refused with LICENSES-OutdatedLicense
 * while reads and deletions keep working; the backend comes back, a sync on
 * demand succeeds and everything works again with nothing lost. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tlicense.h"

T_DEFINE_STATE;

#define GRACE 6 /* offlineGraceSeconds of the license */
#define OUTDATED "LICENSES-OutdatedLicense"
#define OUTDATED_MSG "Too much time has passed since the last license update"

/* ---- state shared by the steps ------------------------------------------------- */

static struct tl_site site;
static struct tl_backend auth;
static char env_url[128];
static char alice[TL_ID_LEN], bob[TL_ID_LEN], carol[TL_ID_LEN], dave[TL_ID_LEN], erin[TL_ID_LEN];
static char a_alice[TL_ID_LEN], a_bob[TL_ID_LEN], a_carol[TL_ID_LEN], a_dave[TL_ID_LEN];
static char s_alice[TL_ID_LEN], s_bob[TL_ID_LEN];
static int64_t verified_before; /* lastVerifiedAt when the backend went away */
static long rows_before;        /* allocations before the outage */

static long count_allocations(void)
{
    return th_sql_long(site.db.url, "SELECT count(*) FROM allocations");
}

static void get_license(struct th_resp *r)
{
    th_req(&site.srv, "GET", "/license", TH_ADMIN_KEY, NULL, r);
}

/* An admin request carrying X-Correlation-Id: corr. */
static void req_corr(const char *method, const char *path, const char *body, const char *corr,
                     struct th_resp *out)
{
    char cid[160];
    snprintf(cid, sizeof cid, "X-Correlation-Id: %s", corr);
    const char *h[] = {"Authorization: Bearer " TH_ADMIN_KEY, "Content-Type: application/json",
                       cid, NULL};
    th_req_full(&site.srv, method, path, body ? h : (const char *[]){h[0], cid, NULL}, body,
                body ? strlen(body) : 0, out);
}

/* True when the allotd log holds the refusal line of the model product for corr. */
static bool refusal_logged(const char *corr)
{
    char *text = th_file_text(site.srv.log_path);
    bool found = false;
    for (char *line = text, *next; !found && line != NULL && *line; line = next) {
        next = strchr(line, '\n');
        if (next != NULL)
            *next++ = '\0';
        json_t *o = json_loads(line, 0, NULL);
        found = o != NULL && strcmp(tl_text(o, "corrId"), corr) == 0 &&
                strcmp(tl_text(o, "errorType"), OUTDATED) == 0 && tl_int(o, "statusCode") == 403 &&
                strcmp(tl_text(o, "errorMessage"), OUTDATED_MSG) == 0;
        json_decref(o);
    }
    free(text);
    return found;
}

/* The secondsUntilDisabled of a "license sync failed" warning still ahead of
 * the deadline whose disabledAt is `at`, or -1 when there is none. */
static long long sync_warning_logged(int64_t at)
{
    char *text = th_file_text(site.srv.log_path);
    long long left = -1;
    for (char *line = text, *next; left < 0 && line != NULL && *line; line = next) {
        next = strchr(line, '\n');
        if (next != NULL)
            *next++ = '\0';
        json_t *o = json_loads(line, 0, NULL);
        const char *msg = tl_text(o, "message");
        if (o != NULL && strcmp(tl_text(o, "level"), "warn") == 0 &&
            strncmp(msg, "license sync failed", 19) == 0 && strstr(msg, "disabled in") != NULL &&
            tl_time(o, "disabledAt") == at)
            left = tl_int(o, "secondsUntilDisabled");
        json_decref(o);
    }
    free(text);
    return left;
}

/* A metric's value in the /metrics text, or def when it is missing. */
static long long metric(const char *text, const char *name, long long def)
{
    size_t n = strlen(name);
    for (const char *p = text; p != NULL && (p = strstr(p, name)) != NULL; p += n)
        if ((p == text || p[-1] == '\n') && p[n] == ' ')
            return strtoll(p + n + 1, NULL, 10);
    return def;
}

/* ---- the story --------------------------------------------------------------------- */

static void test_apply_syncs_at_once(void)
{
    char iat[24];
    snprintf(iat, sizeof iat, "%lld", (long long)(tl_now() - 3));
    T_REQUIRE(tl_apply(&site.srv, &site.auth, "--license-number", "5150", "--professional", "3",
                       "--analyzer", "2", "--iat", iat, "--param", "offlineGraceSeconds=6", NULL));
    int64_t now = tl_now();
    struct th_resp r;
    get_license(&r);
    T_EQ_STR(th_str(&r, "status"), "ok");
    /* The key was signed 3 s ago; the sync made by PUT verified it now. */
    T_CHECK(tl_time(r.json, "lastVerifiedAt") >= now - 1);
    T_CHECK(tl_time(r.json, "lastSyncAttemptAt") >= now - 1);
    T_CHECK(json_is_null(json_object_get(r.json, "lastSyncError")));
    T_EQ_INT(tl_time(r.json, "disabledAt"), tl_time(r.json, "lastVerifiedAt") + GRACE);
    th_resp_free(&r);
    /* The authority saw the sync. */
    T_CHECK(tl_backend_state(&auth, "5150", site.db.url, &r));
    T_STATUS(r, 200);
    T_CHECK(tl_int(r.json, "syncCount") >= 1);
    th_resp_free(&r);
}

static void test_site_at_work(void)
{
    T_REQUIRE(tl_user(&site.srv, "CORP", "alice", NULL, alice) &&
              tl_user(&site.srv, "CORP", "bob", NULL, bob) &&
              tl_user(&site.srv, "CORP", "carol", NULL, carol) &&
              tl_user(&site.srv, "CORP", "dave", NULL, dave) &&
              tl_user(&site.srv, "CORP", "erin", NULL, erin));
    T_EQ_INT(tl_alloc(&site.srv, alice, "professional", a_alice, NULL, 0), 201);
    T_EQ_INT(tl_alloc(&site.srv, bob, "analyzer", a_bob, NULL, 0), 201);
    T_EQ_INT(tl_alloc(&site.srv, carol, "professional", a_carol, NULL, 0), 201);
    T_EQ_INT(tl_alloc(&site.srv, dave, "professional", a_dave, NULL, 0), 201);
    char access[32], s_dave[TL_ID_LEN];
    T_EQ_INT(tl_session_access(&site.srv, alice, s_alice, access, sizeof access), 201);
    T_EQ_STR(access, "professional");
    T_EQ_INT(tl_session_access(&site.srv, bob, s_bob, access, sizeof access), 201);
    T_EQ_STR(access, "analyzer");
    /* dave used his pass, so removing it puts it in quarantine. */
    T_EQ_INT(tl_session_access(&site.srv, dave, s_dave, access, sizeof access), 201);
    char path[96];
    struct th_resp r;
    snprintf(path, sizeof path, "/sessions/%s", s_dave);
    T_CHECK(th_req(&site.srv, "DELETE", path, TH_ADMIN_KEY, NULL, &r));
    T_STATUS(r, 204);
    th_resp_free(&r);
    snprintf(path, sizeof path, "/allocations/%s", a_dave);
    T_CHECK(th_req(&site.srv, "DELETE", path, TH_ADMIN_KEY, NULL, &r));
    T_STATUS(r, 200);
    T_CHECK(json_is_true(json_object_get(r.json, "quarantined")));
    th_resp_free(&r);
    rows_before = count_allocations();
    T_EQ_INT(rows_before, 4);
}

static void test_backend_gone_is_visible(void)
{
    struct th_resp r;
    T_EQ_INT(tl_backend_stop(&auth), 0);
    get_license(&r);
    verified_before = tl_time(r.json, "lastVerifiedAt");
    th_resp_free(&r);
    T_CHECK(verified_before >= tl_now() - 5); /* the syncs every 2 s kept it fresh */

    T_CHECK(th_req(&site.srv, "POST", "/license/actions/sync", TH_ADMIN_KEY, NULL, &r));
    T_ERROR(r, 502, "LICENSES-BackendUnavailable");
    T_CHECK(strstr(th_str(&r, "message"), "cannot reach") != NULL);
    th_resp_free(&r);

    get_license(&r);
    T_STATUS(r, 200);
    T_EQ_INT(tl_time(r.json, "lastVerifiedAt"), verified_before);
    T_CHECK(strstr(tl_text(r.json, "lastSyncError"), "cannot reach the license backend") != NULL);
    int64_t disabled = tl_time(r.json, "disabledAt");
    T_EQ_INT(disabled, verified_before + GRACE);
    if (tl_now() < disabled - 1)
        T_EQ_STR(th_str(&r, "status"), "ok"); /* not yet: a console can warn */
    /* The warning names the time left, in the model's log file and here. */
    long long left = sync_warning_logged(tl_time(r.json, "disabledAt"));
    T_CHECK(left > 0 && left <= GRACE);
    th_resp_free(&r);
    T_CHECK(th_req(&site.srv, "GET", "/metrics", TH_ADMIN_KEY, NULL, &r));
    T_CHECK(r.body != NULL && metric(r.body, "allot_license_seconds_until_disabled", -999) > -999);
    th_resp_free(&r);
}

static void expect_outdated(const char *method, const char *path, const char *body,
                            const char *corr)
{
    struct th_resp r;
    req_corr(method, path, body, corr, &r);
    T_ERROR(r, 403, OUTDATED);
    T_EQ_STR(th_str(&r, "message"), OUTDATED_MSG);
    T_EQ_INT(tl_int(r.json, "statusCode"), 403);
    T_EQ_STR(th_str(&r, "corrId"), corr);
    T_EQ_STR(r.corr_id, corr);
    /* The log is buffered: the line comes within tens of milliseconds. */
    bool logged = false;
    for (int waited = 0; !(logged = refusal_logged(corr)) && waited < 3000; waited += 20)
        tl_sleep_ms(20);
    if (!logged)
        printf("# no refusal line for %s %s (corrId %s) in %s\n", method, path, corr,
               site.srv.log_path);
    T_CHECK(logged);
    th_resp_free(&r);
}

static void test_stale_refuses_what_needs_the_license(void)
{
    tl_sleep_until((double)(verified_before + GRACE), 300);
    struct th_resp r;
    get_license(&r);
    T_STATUS(r, 200); /* answered even when stale, so a console can show why */
    T_EQ_STR(th_str(&r, "status"), "stale");
    T_EQ_INT(tl_time(r.json, "lastVerifiedAt"), verified_before);
    th_resp_free(&r);

    char body[96], path[96];
    snprintf(body, sizeof body, "{\"user\":\"%s\"}", bob);
    expect_outdated("POST", "/sessions", body, "stale-session-start");
    snprintf(body, sizeof body, "{\"userDirectory\":\"CORP\",\"userId\":\"alice\"}");
    expect_outdated("POST", "/sessions", body, "stale-session-by-name");
    snprintf(path, sizeof path, "/sessions/%s/heartbeat", s_alice);
    expect_outdated("POST", path, NULL, "stale-heartbeat");
    snprintf(body, sizeof body, "{\"user\":\"%s\",\"type\":\"analyzer\"}", erin);
    expect_outdated("POST", "/allocations", body, "stale-allocation");
    snprintf(path, sizeof path, "/allocations/%s/actions/reinstate", a_dave);
    expect_outdated("POST", path, NULL, "stale-reinstate");
    T_EQ_INT(count_allocations(), rows_before); /* nothing was created */

    /* The heartbeat refused ended the session (API.md, Sessions). */
    snprintf(path, sizeof path, "/sessions/%s", s_alice);
    T_CHECK(th_req(&site.srv, "GET", path, TH_ADMIN_KEY, NULL, &r));
    T_STATUS(r, 200);
    T_CHECK(json_is_string(json_object_get(r.json, "endedAt")));
    th_resp_free(&r);
    T_CHECK(th_req(&site.srv, "GET", "/metrics", TH_ADMIN_KEY, NULL, &r));
    T_CHECK(r.body != NULL && metric(r.body, "allot_license_seconds_until_disabled", 1) <= 0);
    T_CHECK(r.body != NULL && metric(r.body, "allot_license_status{status=\"stale\"}", 0) == 1);
    th_resp_free(&r);
    /* A sync on demand still answers, and the log says licenses are disabled. */
    T_CHECK(th_req(&site.srv, "POST", "/license/actions/sync", TH_ADMIN_KEY, NULL, &r));
    T_ERROR(r, 502, "LICENSES-BackendUnavailable");
    th_resp_free(&r);
    T_CHECK(th_log_contains(&site.srv, "too much time has passed since the last license update"));
}

static void test_stale_keeps_reads_and_deletions(void)
{
    static const char *const reads[] = {"/users", "/allocations", "/sessions", "/license",
                                        "/allocations/rules", "/sessions/events"};
    struct th_resp r;
    for (size_t i = 0; i < sizeof reads / sizeof reads[0]; i++) {
        T_CHECK(th_req(&site.srv, "GET", reads[i], TH_ADMIN_KEY, NULL, &r));
        if (r.status != 200)
            printf("# GET %s answered %ld\n", reads[i], r.status);
        T_STATUS(r, 200);
        th_resp_free(&r);
    }
    char path[96];
    snprintf(path, sizeof path, "/allocations/%s", a_dave);
    T_CHECK(th_req(&site.srv, "GET", path, TH_ADMIN_KEY, NULL, &r));
    T_STATUS(r, 200);
    th_resp_free(&r);
    snprintf(path, sizeof path, "/sessions/%s", s_bob);
    T_CHECK(th_req(&site.srv, "DELETE", path, TH_ADMIN_KEY, NULL, &r));
    T_STATUS(r, 204);
    th_resp_free(&r);
    snprintf(path, sizeof path, "/allocations/%s", a_carol); /* never used: released */
    T_CHECK(th_req(&site.srv, "DELETE", path, TH_ADMIN_KEY, NULL, &r));
    T_STATUS(r, 204);
    th_resp_free(&r);
    T_EQ_INT(count_allocations(), rows_before - 1);
    /* The directory is not the license: users come and go. */
    char frank[TL_ID_LEN];
    T_CHECK(tl_user(&site.srv, "CORP", "frank", NULL, frank));
    snprintf(path, sizeof path, "/users/%s", frank);
    T_CHECK(th_req(&site.srv, "DELETE", path, TH_ADMIN_KEY, NULL, &r));
    T_STATUS(r, 204);
    th_resp_free(&r);
}

static void test_backend_back_everything_works(void)
{
    T_REQUIRE(tl_backend_start(&auth, site.auth.key_path));
    struct th_resp r;
    T_CHECK(th_req(&site.srv, "POST", "/license/actions/sync", TH_ADMIN_KEY, NULL, &r));
    T_STATUS(r, 200);
    T_EQ_STR(th_str(&r, "status"), "ok");
    T_CHECK(tl_time(r.json, "lastVerifiedAt") >= tl_now() - 1);
    T_CHECK(json_is_null(json_object_get(r.json, "lastSyncError")));
    th_resp_free(&r);

    /* Nothing was lost: the allocations held before are all there. */
    T_EQ_INT(count_allocations(), rows_before - 1);
    char sql[400];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM allocations WHERE id IN ('%s', '%s', '%s')"
             " AND (id <> '%s' OR quarantine_end IS NOT NULL)", a_alice, a_bob, a_dave, a_dave);
    T_EQ_INT(th_sql_long(site.db.url, sql), 3);

    char access[32], s_new[TL_ID_LEN], path[96];
    T_EQ_INT(tl_session_access(&site.srv, alice, s_new, access, sizeof access), 201);
    T_EQ_STR(access, "professional");
    snprintf(path, sizeof path, "/sessions/%s/heartbeat", s_new);
    T_CHECK(th_req(&site.srv, "POST", path, TH_ADMIN_KEY, NULL, &r));
    T_STATUS(r, 200);
    th_resp_free(&r);
    T_EQ_INT(tl_session_access(&site.srv, bob, NULL, access, sizeof access), 201);
    T_EQ_STR(access, "analyzer");
    snprintf(path, sizeof path, "/allocations/%s/actions/reinstate", a_dave);
    T_CHECK(th_req(&site.srv, "POST", path, TH_ADMIN_KEY, NULL, &r));
    T_STATUS(r, 200);
    T_CHECK(json_is_false(json_object_get(r.json, "quarantined")));
    th_resp_free(&r);
    T_EQ_INT(tl_alloc(&site.srv, erin, "analyzer", NULL, NULL, 0), 201);
    T_EQ_INT(count_allocations(), rows_before);
}

static void test_metrics_tell_the_story(void)
{
    struct th_resp r;
    T_CHECK(th_req(&site.srv, "GET", "/metrics", TH_ADMIN_KEY, NULL, &r));
    T_STATUS(r, 200);
    const char *m = r.body ? r.body : "";
    T_CHECK(metric(m, "allot_license_syncs_total{outcome=\"failed\"}", 0) >= 1);
    T_CHECK(metric(m, "allot_license_syncs_total{outcome=\"ok\"}", 0) >= 2);
    long long left = metric(m, "allot_license_seconds_until_disabled", -999);
    T_CHECK(left > 0 && left <= GRACE);
    th_resp_free(&r);
}

static void test_stop_cleanly(void)
{
    /* The license key is the bearer secret of every sync: in no log line. */
    char *key = th_sql(site.db.url, "SELECT license_key FROM license_document");
    char *log = th_file_text(auth.log_path);
    T_REQUIRE(key != NULL && strlen(key) > 100);
    T_CHECK(!th_log_contains(&site.srv, key));
    T_CHECK(!th_log_contains(&site.srv, strchr(key, '.') + 1)); /* nor its payload */
    T_CHECK(log != NULL && strstr(log, key) == NULL && strstr(log, "sync answered") != NULL);
    free(log);
    free(key);
    T_EQ_INT(tl_backend_stop(&auth), 0);
    T_EQ_INT(th_server_stop(&site.srv), 0);
}

int main(void)
{
    bool made = tl_backend_init(&auth, "stale");
    snprintf(env_url, sizeof env_url, "ALLOT_AUTHORITY_URL=%s", auth.http.base);
    tl_site_start(&site, (const char *[]){env_url, "ALLOT_SYNC_INTERVAL=2s",
                                          "ALLOT_SYNC_TIMEOUT=2s", NULL});
    if (!made || !tl_backend_start(&auth, site.auth.key_path)) {
        printf("Bail out! allot-authority serve did not start (%s)\n", auth.log_path);
        tl_backend_remove(&auth);
        tl_site_stop(&site);
        return 1;
    }

    T_RUN(test_apply_syncs_at_once);
    T_RUN(test_site_at_work);
    T_RUN(test_backend_gone_is_visible);
    T_RUN(test_stale_refuses_what_needs_the_license);
    T_RUN(test_stale_keeps_reads_and_deletions);
    T_RUN(test_backend_back_everything_works);
    T_RUN(test_metrics_tell_the_story);
    T_RUN(test_stop_cleanly);

    tl_site_stop(&site);
    tl_backend_remove(&auth);
    return t_done();
}

/* Regressions of the review fixed in 52ec30a, through HTTP as a user sees
 * them: concurrent heartbeats share one login window (the user row is taken
 * first); after the conversion date no token pass works, also on a site with
 * no backend; user passes are held against the tokens of a license that
 * shrank; an older key or a revoked license does not come back by way of
 * another license number; capacity blocks are the user's; an idle session
 * ends at its idle deadline, so its linger starts there. */
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <curl/curl.h>
#include <libpq-fe.h>

#include "tlicense.h"

T_DEFINE_STATE;

static struct tl_site site; /* no backend, default reaper and idle timeout */

/* A count by SQL made from fmt. */
#define q(...) th_sql_longf(site.db.url, __VA_ARGS__)

#define expect_refused(...) tl_expect_refused(&site.srv, __VA_ARGS__)
#define expect_access(...) tl_expect_access(&site.srv, __VA_ARGS__)

static long heartbeat(const struct th_server *s, const char *sid, struct th_resp *out)
{
    char path[128];
    snprintf(path, sizeof path, "/sessions/%s/heartbeat", sid);
    struct th_resp r;
    long status = th_req(s, "POST", path, TH_ADMIN_KEY, NULL, &r) ? r.status : -1;
    if (out != NULL)
        *out = r;
    else
        th_resp_free(&r);
    return status;
}

/* GET path of the main server (200 expected) into r. */
static void get(const char *path, struct th_resp *r)
{
    T_CHECK(th_req(&site.srv, "GET", path, TH_ADMIN_KEY, NULL, r));
    T_STATUS(*r, 200);
}

static void get_session(const char *sid, struct th_resp *r)
{
    char path[96];
    snprintf(path, sizeof path, "/sessions/%s", sid);
    get(path, r);
}

static void make_users(const char *prefix, const char *groups, int n, char ids[][TL_ID_LEN])
{
    for (int i = 0; i < n; i++) {
        char uid[32];
        snprintf(uid, sizeof uid, "%s%d", prefix, i);
        T_CHECK(tl_user(&site.srv, "CORP", uid, groups, ids[i]));
    }
}

static void iat_text(int64_t t, char *out, size_t len)
{
    snprintf(out, len, "%lld", (long long)t);
}

/* ---- 1. concurrent heartbeats share one login window ------------------------ */

#define HB_SESSIONS 5

struct hb_job {
    const char *sid;
    pthread_barrier_t *go;
    long status;
};

static void *hb_run(void *arg)
{
    struct hb_job *j = arg;
    pthread_barrier_wait(j->go);
    j->status = heartbeat(&site.srv, j->sid, NULL);
    return NULL;
}

/* The heartbeats of every session at once; with held (a connection holding
 * the login rules locked), they wait a second on it and it is then committed.
 * Returns how many answered 200. */
static int heartbeats_at_once(char sids[][TL_ID_LEN], PGconn *held)
{
    struct hb_job jobs[HB_SESSIONS];
    pthread_t threads[HB_SESSIONS];
    pthread_barrier_t go;
    pthread_barrier_init(&go, NULL, HB_SESSIONS + 1);
    for (int i = 0; i < HB_SESSIONS; i++) {
        jobs[i] = (struct hb_job){.sid = sids[i], .go = &go};
        pthread_create(&threads[i], NULL, hb_run, &jobs[i]);
    }
    pthread_barrier_wait(&go);
    if (held != NULL) {
        tl_sleep_ms(1000);
        /* the heartbeats are waiting: on the rules (the one taking a pass)
         * and on the user row (the others) */
        T_CHECK(q("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                  " AND wait_event_type = 'Lock'") >= 1);
        PGresult *c = PQexec(held, "COMMIT");
        T_EQ_INT(PQresultStatus(c), PGRES_COMMAND_OK);
        PQclear(c);
    }
    int ok = 0;
    for (int i = 0; i < HB_SESSIONS; i++) {
        pthread_join(threads[i], NULL);
        if (jobs[i].status != 200)
            printf("#   heartbeat %d answered %ld\n", i, jobs[i].status);
        ok += jobs[i].status == 200;
    }
    pthread_barrier_destroy(&go);
    return ok;
}

static void test_concurrent_heartbeats_share_a_window(void)
{
    T_CHECK(tl_reset(site.db.url));
    T_REQUIRE(tl_apply(&site.srv, &site.auth, "--tokens", "1", "--param", "loginPassSeconds=2",
                       "--param", "maxParallelSessions=5", NULL));
    char u[1][TL_ID_LEN], sids[HB_SESSIONS][TL_ID_LEN];
    T_EQ_INT(tl_rule(&site.srv, "Logins", "login", "{\"groups\":[\"L\"]}", 1, NULL), 201);
    make_users("hb", "[\"L\"]", 1, u);
    expect_access(u[0], "login", sids[0]);
    double opened = tl_now_f(); /* the window ends at most 2 s from here */
    for (int i = 1; i < HB_SESSIONS; i++)
        expect_access(u[0], "login", sids[i]);
    T_EQ_INT(q("SELECT count(*) FROM login_passes"), 1);

    /* The window closed.  The heartbeat that takes the next pass is held on
     * the rules; the others must wait for it and then share its window. */
    tl_sleep_until(opened + 2, 300);
    PGconn *held = PQconnectdb(site.db.url);
    PGresult *r = PQexec(held, "BEGIN; SELECT 1 FROM rules FOR UPDATE");
    T_EQ_INT(PQresultStatus(r), PGRES_TUPLES_OK); /* the last statement's */
    PQclear(r);
    T_EQ_INT(heartbeats_at_once(sids, held), HB_SESSIONS);
    PQfinish(held);
    opened = tl_now_f();
    T_EQ_INT(q("SELECT count(*) FROM login_passes"), 2);
    T_EQ_INT(q("SELECT count(DISTINCT login_pass_id) FROM sessions"), 1);

    /* And without the held lock, a few windows more: one pass each. */
    for (long round = 3; round <= 5; round++) {
        tl_sleep_until(opened + 2, 300);
        T_EQ_INT(heartbeats_at_once(sids, NULL), HB_SESSIONS);
        opened = tl_now_f();
        T_EQ_INT(q("SELECT count(*) FROM login_passes"), round);
        T_EQ_INT(q("SELECT count(DISTINCT login_pass_id) FROM sessions"), 1);
    }
    T_EQ_INT(q("SELECT count(*) FROM sessions WHERE ended_at IS NULL"), HB_SESSIONS);
}

/* ---- 2. conversion without a backend --------------------------------------- */

static void test_conversion_without_backend(void)
{
    T_CHECK(tl_reset(site.db.url));
    double converts = (double)(tl_now() + 3);
    char date[32];
    tl_rfc3339((int64_t)converts, date, sizeof date);
    T_REQUIRE(tl_apply(&site.srv, &site.auth, "--tokens", "3", "--conversion-date", date, NULL));
    char u[2][TL_ID_LEN], rule[TL_ID_LEN], alloc[TL_ID_LEN], s_user[TL_ID_LEN], s_login[TL_ID_LEN];
    make_users("pass", NULL, 1, &u[0]);
    make_users("group", "[\"L\"]", 1, &u[1]);
    T_EQ_INT(tl_alloc(&site.srv, u[0], "user", alloc, NULL, 0), 201);
    T_EQ_INT(tl_rule(&site.srv, "Logins", "login", "{\"groups\":[\"L\"]}", 1, rule), 201);
    struct th_resp r;
    char path[128];
    expect_access(u[0], "user", s_user);
    expect_access(u[1], "login", s_login);
    T_REQUIRE(tl_now_f() < converts);

    /* Phase A, just after the conversion date: no sync, and most likely no
     * reaper run yet (every 30 s).  No token pass works either way. */
    tl_sleep_until(converts, 300);
    for (int phase = 0; phase < 2; phase++) {
        T_EQ_INT(tl_session(&site.srv, u[0], &r), 403);
        T_EQ_STR(th_error_type(&r), "LICENSES-NoAccessPass");
        const char *code = th_str(&r, "resultCode");
        if (strcmp(code, "ExcessAssignment") != 0)
            T_EQ_STR(code, "NoAvailableAccessType");
        th_resp_free(&r);
        expect_refused(u[1], 403, "LICENSES-NoAccessPass", "NoAvailableAccessType");
        const char *sids[] = {s_user, s_login};
        for (int i = 0; i < 2; i++) {
            long st = heartbeat(&site.srv, sids[i], &r);
            if (st != 409) { /* 409: already ended */
                T_EQ_INT(st, 403);
                T_EQ_STR(th_error_type(&r), "LICENSES-NoAccessPass");
            }
            th_resp_free(&r);
        }
        char err[64];
        T_EQ_INT(tl_alloc(&site.srv, u[1], "user", NULL, err, sizeof err), 409);
        T_EQ_STR(err, "LICENSES-NoAvailableAllotment");
        if (phase == 1)
            break;
        /* Phase B: a reaper (ALLOT_REAPER_INTERVAL=1s) converts the site. */
        struct th_server reaper;
        T_REQUIRE(tl_site_add_server(&site, &reaper,
                                     (const char *const[]){"ALLOT_REAPER_INTERVAL=1s", NULL}));
        T_CHECK(th_wait_sql(site.db.url, 0, 15, "SELECT (SELECT count(*) FROM allocations WHERE"
                            " type = 'user') + (SELECT count(*) FROM login_passes) +"
                            " (SELECT count(*) FROM sessions WHERE ended_at IS NULL)"));
        T_EQ_INT(th_server_stop(&reaper), 0);
    }
    T_EQ_INT(q("SELECT count(*) FROM allocations WHERE type = 'user'"), 0);
    T_EQ_INT(q("SELECT count(*) FROM login_passes"), 0);
    T_EQ_INT(q("SELECT count(*) FROM sessions WHERE ended_at IS NULL"), 0);
    snprintf(path, sizeof path, "/allocations/%s", alloc);
    T_CHECK(th_req(&site.srv, "GET", path, TH_ADMIN_KEY, NULL, &r));
    T_ERROR(r, 404, "LICENSES-NotFound");
    th_resp_free(&r);
    snprintf(path, sizeof path, "/allocations/rules/%s", rule);
    get(path, &r);
    T_EQ_INT(tl_int(r.json, "tokens"), 0);
    th_resp_free(&r);
}

/* ---- 3. passes held against the tokens of a license that shrank ----------- */

static void test_tokens_held_when_license_shrinks(void)
{
    T_CHECK(tl_reset(site.db.url));
    char iat[24];
    iat_text(tl_now() - 10, iat, sizeof iat);
    T_REQUIRE(tl_apply(&site.srv, &site.auth, "--license-number", "30", "--tokens", "3",
                       "--professional", "3", "--iat", iat, NULL));
    char pro[3][TL_ID_LEN], up[3][TL_ID_LEN], up_alloc[3][TL_ID_LEN], late[1][TL_ID_LEN];
    make_users("pro", NULL, 3, pro);
    make_users("up", NULL, 3, up);
    make_users("late", "[\"L\"]", 1, late);
    for (int i = 0; i < 3; i++) {
        T_EQ_INT(tl_alloc(&site.srv, pro[i], "professional", NULL, NULL, 0), 201);
        T_EQ_INT(tl_alloc(&site.srv, up[i], "user", up_alloc[i], NULL, 0), 201);
    }
    iat_text(tl_now(), iat, sizeof iat);
    T_REQUIRE(tl_apply(&site.srv, &site.auth, "--license-number", "30", "--tokens", "1",
                       "--professional", "1", "--iat", iat, NULL));
    struct th_resp r;
    get("/license", &r);
    T_EQ_INT(tl_int(json_object_get(r.json, "tokens"), "total"), 1);
    th_resp_free(&r);

    expect_access(pro[0], "professional", NULL);
    expect_refused(pro[1], 403, "LICENSES-NoAccessPass", "ExcessAssignment");
    expect_refused(pro[2], 403, "LICENSES-NoAccessPass", "ExcessAssignment");
    char sid[TL_ID_LEN];
    expect_access(up[0], "user", sid); /* the oldest user pass */
    get_session(sid, &r);
    T_EQ_STR(th_str(&r, "allocationId"), up_alloc[0]);
    th_resp_free(&r);
    expect_refused(up[1], 403, "LICENSES-NoAccessPass", "ExcessAssignment");
    expect_refused(up[2], 403, "LICENSES-NoAccessPass", "ExcessAssignment");
    T_EQ_INT(q("SELECT count(*) FROM sessions"), 2);
    /* and no new token pass of any kind */
    char err[64];
    T_EQ_INT(tl_alloc(&site.srv, late[0], "user", NULL, err, sizeof err), 409);
    T_EQ_STR(err, "LICENSES-NoAvailableAllotment");
    T_EQ_INT(tl_rule(&site.srv, "Logins", "login", "{\"groups\":[\"L\"]}", 1, NULL), 409);
}

/* ---- 4. no roll-back, no lifted revocation, through another number -------- */

static struct tl_backend auth;

static const char *authority_bin(void)
{
    const char *bin = getenv("ALLOT_AUTHORITY");
    return bin ? bin : "build/allot-authority";
}

/* `allot-authority serve` on a free port with a fresh state directory. */
static bool authority_start(void)
{
    return tl_backend_init(&auth, "regress") && tl_backend_start(&auth, site.auth.key_path);
}

/* Stops it (SIGTERM) and removes its state; its exit status. */
static int authority_stop(void)
{
    int status = tl_backend_stop(&auth);
    tl_backend_remove(&auth);
    return status;
}

/* PUT /license of key: status and errorType; the license then in force. */
static void put_key(const char *key, long status, const char *type, const char *number,
                    long long units)
{
    struct th_resp r;
    T_CHECK(tl_put_license(&site.srv, key, &r));
    T_EQ_INT(r.status, status);
    if (type != NULL) {
        T_EQ_STR(th_error_type(&r), type);
        T_EQ_STR(th_str(&r, "field"), "key");
    }
    th_resp_free(&r);
    get("/license", &r);
    T_EQ_STR(th_str(&r, "licenseNumber"), number);
    T_EQ_INT(tl_int(tl_allotment(&r, "professional"), "units"), units);
    th_resp_free(&r);
}

static void test_no_rollback_through_another_number(void)
{
    T_CHECK(tl_reset(site.db.url));
    char now[24], before[24];
    iat_text(tl_now(), now, sizeof now);
    iat_text(tl_now() - 100, before, sizeof before);
    char *kv2 = tl_issue(&site.auth, "--license-number", "10", "--professional", "1", "--iat", now,
                         NULL);
    char *kv1 = tl_issue(&site.auth, "--license-number", "10", "--professional", "50", "--iat",
                         before, NULL);
    char *kb = tl_issue(&site.auth, "--license-number", "11", "--professional", "2", NULL);
    if (kv2 != NULL && kv1 != NULL && kb != NULL) {
        put_key(kv2, 200, NULL, "10", 1);
        put_key(kv1, 400, "LICENSES-InvalidLicense", "10", 1);
        put_key(kb, 200, NULL, "11", 2);
        /* number 10's newest key is remembered while 11 is in force */
        put_key(kv1, 400, "LICENSES-InvalidLicense", "11", 2);
    } else {
        T_CHECK(!"allot-authority issue failed");
    }
    free(kv2);
    free(kv1);
    free(kb);
}

/* On a server synced with a real allot-authority: k12 applied, number 12
 * revoked by the vendor, a sync says so. */
static void revoke_12(const char *k12)
{
    T_REQUIRE(authority_start());
    char env_url[128];
    snprintf(env_url, sizeof env_url, "ALLOT_AUTHORITY_URL=%s", auth.http.base);
    struct th_server online;
    T_REQUIRE(tl_site_add_server(&site, &online, (const char *const[]){
        env_url, "ALLOT_SYNC_INTERVAL=1h", "ALLOT_SYNC_TIMEOUT=5s", NULL}));
    struct th_resp r;
    T_CHECK(tl_put_license(&online, k12, &r)); /* synced at once */
    T_STATUS(r, 200);
    T_EQ_STR(th_str(&r, "status"), "ok");
    th_resp_free(&r);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        dup2(null, 1);
        execl(authority_bin(), "allot-authority", "revoke", "--state-dir", auth.dir, "12",
              (char *)NULL);
        _exit(127);
    }
    int status = -1;
    waitpid(pid, &status, 0);
    T_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    T_CHECK(th_req(&online, "POST", "/license/actions/sync", TH_ADMIN_KEY, NULL, &r));
    T_STATUS(r, 200);
    T_EQ_STR(th_str(&r, "status"), "revoked");
    th_resp_free(&r);
    T_EQ_INT(th_server_stop(&online), 0);
}

static void test_no_lifted_revocation_through_another_number(void)
{
    T_CHECK(tl_reset(site.db.url));
    char *k12 = tl_issue(&site.auth, "--license-number", "12", "--professional", "1", NULL);
    char *k13 = tl_issue(&site.auth, "--license-number", "13", "--professional", "1", NULL);
    if (k12 != NULL && k13 != NULL)
        revoke_12(k12);
    T_EQ_INT(authority_stop(), 0);
    if (k12 == NULL || k13 == NULL || t_state.current_failed) {
        T_CHECK(k12 != NULL && k13 != NULL);
        free(k12);
        free(k13);
        return;
    }
    /* On the site, with no backend to ask: another number, then 12 again. */
    struct th_resp r;
    T_CHECK(tl_put_license(&site.srv, k13, &r));
    T_STATUS(r, 200);
    T_EQ_STR(th_str(&r, "status"), "ok");
    th_resp_free(&r);
    T_CHECK(tl_put_license(&site.srv, k12, &r));
    T_STATUS(r, 200);
    T_EQ_STR(th_str(&r, "status"), "revoked");
    th_resp_free(&r);
    free(k12);
    free(k13);
    get("/license", &r);
    T_EQ_STR(th_str(&r, "licenseNumber"), "12");
    T_EQ_STR(th_str(&r, "status"), "revoked");
    th_resp_free(&r);
    char u[1][TL_ID_LEN], err[64];
    make_users("rev", NULL, 1, u);
    T_EQ_INT(tl_alloc(&site.srv, u[0], "professional", NULL, err, sizeof err), 403);
    T_EQ_STR(err, "LICENSES-NoLicense");
    expect_refused(u[0], 403, "LICENSES-NoLicense", "LicenseNotAvailable");
}

/* ---- 5. capacity blocks are the user's ------------------------------------- */

/* A capacity license with blocks of unit_seconds, a capacity rule, n users. */
static void capacity_site(const char *unit_seconds, int n, char users[][TL_ID_LEN])
{
    T_CHECK(tl_reset(site.db.url));
    char unit[64];
    snprintf(unit, sizeof unit, "capacityUnitSeconds=%s", unit_seconds);
    T_CHECK(tl_apply(&site.srv, &site.auth, "--analyzer-time-minutes", "10", "--param", unit,
                     NULL));
    T_EQ_INT(tl_rule(&site.srv, "Viewers", "analyzer_time", "{\"groups\":[\"Cap\"]}", -1, NULL), 201);
    make_users("cap", "[\"Cap\"]", n, users);
}

static long long capacity_used(void)
{
    struct th_resp r;
    get("/license", &r);
    long long used = tl_int(tl_allotment(&r, "analyzer_time"), "used");
    th_resp_free(&r);
    return used;
}

static void test_capacity_blocks_are_the_users(void)
{
    char users[2][TL_ID_LEN], s1[TL_ID_LEN], s2[TL_ID_LEN];
    capacity_site("60", 2, users);
    expect_access(users[0], "analyzer_time", s1);
    expect_access(users[0], "analyzer_time", s2); /* within the user's block: free */
    T_EQ_INT(capacity_used(), 1);
    T_EQ_INT(heartbeat(&site.srv, s2, NULL), 200);
    T_EQ_INT(capacity_used(), 1);
    expect_access(users[1], "analyzer_time", NULL); /* another user: a block of their own */
    T_EQ_INT(capacity_used(), 2);
    T_EQ_INT(q("SELECT coalesce(sum(minutes), 0) FROM capacity_usage"), 2);

    /* By heartbeats too: after the block, the first session's activity starts
     * the next block and the second one's shares it. */
    capacity_site("2", 1, users);
    double t0 = tl_now_f();
    expect_access(users[0], "analyzer_time", s1);
    expect_access(users[0], "analyzer_time", s2);
    T_CHECK(tl_now_f() < t0 + 2);
    T_EQ_INT(capacity_used(), 1);
    tl_sleep_until(t0 + 2, 300);
    T_EQ_INT(heartbeat(&site.srv, s1, NULL), 200);
    T_EQ_INT(heartbeat(&site.srv, s2, NULL), 200);
    T_EQ_INT(capacity_used(), 2);
    T_EQ_INT(q("SELECT count(DISTINCT paid_until) FROM sessions"), 1);
}

/* ---- 6. an idle session ends at its idle deadline ------------------------ */

/* The session's lastActivity and endedAt (unix seconds), checking endReason idle
 * and, by SQL, that it ended exactly 2 s after its last activity. */
static void expect_idle_end(const char *sid)
{
    struct th_resp r;
    get_session(sid, &r);
    int64_t last = tl_time(r.json, "lastActivity"), ended = tl_time(r.json, "endedAt");
    T_EQ_STR(th_str(&r, "endReason"), "idle");
    T_CHECK(last > 0 && ended > 0);
    if (llabs(ended - (last + 2)) > 1)
        T_EQ_INT(ended, last + 2); /* shows both */
    th_resp_free(&r);
    T_EQ_INT(q("SELECT count(*) FROM sessions WHERE id = '%s'"
               " AND ended_at = last_activity + interval '2 seconds'", sid), 1);
}

static void test_idle_end_at_deadline(void)
{
    T_CHECK(tl_reset(site.db.url));
    T_REQUIRE(tl_apply(&site.srv, &site.auth, "--professional", "2", "--param",
                       "sessionLingerSeconds=3", "--param", "maxParallelSessions=1", NULL));
    char u[2][TL_ID_LEN], sid[TL_ID_LEN];
    make_users("idle", NULL, 2, u);
    for (int i = 0; i < 2; i++)
        T_EQ_INT(tl_alloc(&site.srv, u[i], "professional", NULL, NULL, 0), 201);

    /* Ended by the reaper, which runs every second. */
    struct th_server reaping;
    T_REQUIRE(tl_site_add_server(&site, &reaping, (const char *const[]){
        "ALLOT_SESSION_IDLE_TIMEOUT=2s", "ALLOT_REAPER_INTERVAL=1s", NULL}));
    double t0 = tl_now_f();
    expect_access(u[0], "professional", sid);
    tl_sleep_until(t0 + 4, 0);
    expect_idle_end(sid);
    /* The linger runs from the deadline (t0 + 2) to t0 + 5. */
    T_CHECK(tl_now_f() < t0 + 4.8);
    expect_refused(u[0], 403, "LICENSES-TooManySessions", "MaxParallelSessionsExceeded");
    tl_sleep_until(t0 + 5, 400);
    expect_access(u[0], "professional", NULL);
    T_EQ_INT(th_server_stop(&reaping), 0);

    /* Ended by its own late heartbeat, on a server whose reaper waits an hour:
     * at the deadline, not at the heartbeat 4 s later. */
    struct th_server late;
    T_REQUIRE(tl_site_add_server(&site, &late, (const char *const[]){
        "ALLOT_SESSION_IDLE_TIMEOUT=2s", "ALLOT_REAPER_INTERVAL=1h", NULL}));
    t0 = tl_now_f();
    expect_access(u[1], "professional", sid);
    tl_sleep_until(t0 + 4, 0);
    struct th_resp r;
    T_EQ_INT(heartbeat(&late, sid, &r), 409);
    T_EQ_STR(th_error_type(&r), "LICENSES-Conflict");
    th_resp_free(&r);
    expect_idle_end(sid);
    T_EQ_INT(th_server_stop(&late), 0);
}

static void test_server_stops_cleanly(void)
{
    T_CHECK(!th_log_contains(&site.srv, "\"level\":\"error\"")); /* no unknown outcome, no failure */
    T_EQ_INT(th_server_stop(&site.srv), 0);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_ALL);
    tl_site_start(&site, NULL);

    T_RUN(test_concurrent_heartbeats_share_a_window);
    T_RUN(test_conversion_without_backend);
    T_RUN(test_tokens_held_when_license_shrinks);
    T_RUN(test_no_rollback_through_another_number);
    T_RUN(test_no_lifted_revocation_through_another_number);
    T_RUN(test_capacity_blocks_are_the_users);
    T_RUN(test_idle_end_at_deadline);
    T_RUN(test_server_stops_cleanly);

    tl_site_stop(&site);
    curl_global_cleanup();
    return t_done();
}

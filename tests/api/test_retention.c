/* Retention (ALLOT_RETENTION) and `allotd export-events`, through the real
 * allotd on a real PostgreSQL.
 *
 * A site with a retention of two seconds and a reaper every second: the
 * test watches (with deadlines, polling the database) ended sessions and the
 * rolled-up audit trail go, and checks what must stay: active sessions,
 * allocations live and in quarantine, login passes still out, the recent
 * trail that the roll-up has not counted yet, and the usage report of the
 * days whose rows are gone.  export-events writes the trail as JSON Lines,
 * more than a cursor's page of it, and refuses bad arguments. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tlicense.h"

T_DEFINE_STATE;

static struct tl_site site;

#define DAY 86400

#define sql(...) T_CHECK(th_execf(site.db.url, __VA_ARGS__))

/* The day, three days ago (UTC midnight), that the written history is in. */
static int64_t old_day;

/* A history written as if three days old, in one transaction (so that the
 * roll-up sees all of it or none): 3 professional sessions and 1 analyzer
 * session started and ended, 2 refusals; their sessions rows, and a login
 * pass that came back long ago.  Written before anything else happens on the
 * site, as a trail is written before the roll-up passes it. */
static void write_old_history(void)
{
    char at[40];
    tl_rfc3339(old_day + 10 * 3600, at, sizeof at);
    sql("BEGIN; SET LOCAL allot_test.t = '%s';"
        " INSERT INTO sessions (user_directory, user_id, access_type, started_at, last_activity,"
        " ended_at, end_reason, live)"
        " SELECT 'OLD', 'o' || g, 'professional', current_setting('allot_test.t')::timestamptz + g * interval '1 minute',"
        " current_setting('allot_test.t')::timestamptz + g * interval '1 minute', current_setting('allot_test.t')::timestamptz + g * interval '2 minutes',"
        " 'logout', false FROM generate_series(1, 4) g;"
        " INSERT INTO session_events (at, kind, session_id, user_directory, user_id, access_type,"
        " result_code) SELECT current_setting('allot_test.t')::timestamptz + g * interval '1 minute', 'grant',"
        " gen_random_uuid(), 'OLD', 'o' || g, CASE WHEN g = 4 THEN 'analyzer' ELSE 'professional' END,"
        " 'Ok' FROM generate_series(1, 4) g;"
        " INSERT INTO session_events (at, kind, session_id, user_directory, user_id, result_code)"
        " SELECT current_setting('allot_test.t')::timestamptz + g * interval '2 minutes', 'end', gen_random_uuid(), 'OLD',"
        " 'o' || g, 'Ok' FROM generate_series(1, 4) g;"
        " INSERT INTO session_events (at, kind, user_directory, user_id, result_code)"
        " SELECT current_setting('allot_test.t')::timestamptz + interval '30 minutes', 'refusal', 'OLD', 'x',"
        " 'NoAvailableAccessType' FROM generate_series(1, 2);"
        " INSERT INTO login_passes (used_at, window_end, returns_at) VALUES"
        " (current_setting('allot_test.t')::timestamptz - interval '2 days', current_setting('allot_test.t')::timestamptz - interval '47 hours', current_setting('allot_test.t')::timestamptz);"
        " COMMIT",
        at);
}

/* DELETE /COLLECTION/ID with the admin key; the status. */
static long delete(const struct th_server *s, const char *collection, const char *id)
{
    char path[128];
    snprintf(path, sizeof path, "/%s/%s", collection, id);
    struct th_resp r;
    long status = th_req(s, "DELETE", path, TH_ADMIN_KEY, NULL, &r) ? r.status : -1;
    th_resp_free(&r);
    return status;
}

/* Polls GET /metrics until allot_retention_rows_removed_total is at least
 * want, for at most deadline_s seconds. */
static bool removed_metric_reaches(long want, double deadline_s)
{
    static const char name[] = "\nallot_retention_rows_removed_total ";
    long seen = -1;
    for (double t0 = tl_now_f(); tl_now_f() - t0 < deadline_s; usleep(50 * 1000)) {
        struct th_resp r;
        if (th_req(&site.srv, "GET", "/metrics", TH_ADMIN_KEY, NULL, &r) && r.body != NULL) {
            const char *m = strstr(r.body, name);
            seen = m ? strtol(m + sizeof name - 1, NULL, 10) : -1;
        }
        th_resp_free(&r);
        if (seen >= want)
            return true;
    }
    printf("#   allot_retention_rows_removed_total is %ld, not %ld or more\n", seen, want);
    return false;
}

static char alice[TL_ID_LEN], bob[TL_ID_LEN], bob_alloc[TL_ID_LEN];
static char ended_sid[TL_ID_LEN], active_sid[TL_ID_LEN];

static void test_retention_removes_what_is_due(void)
{
    write_old_history();
    T_REQUIRE(tl_apply(&site.srv, &site.auth, "--professional", "5", "--param",
                       "sessionLingerSeconds=1", NULL));
    T_REQUIRE(tl_user(&site.srv, "CORP", "alice", NULL, alice));
    T_REQUIRE(tl_user(&site.srv, "CORP", "bob", NULL, bob));
    T_EQ_INT(tl_alloc(&site.srv, alice, "professional", NULL, NULL, 0), 201);
    T_EQ_INT(tl_alloc(&site.srv, bob, "professional", bob_alloc, NULL, 0), 201);
    /* bob used his allocation, then lost it: it goes to quarantine. */
    char sid[TL_ID_LEN], access[32], path[128];
    T_EQ_INT(tl_session_access(&site.srv, bob, sid, access, sizeof access), 201);
    T_EQ_INT(delete(&site.srv, "sessions", sid), 204);
    T_EQ_INT(delete(&site.srv, "allocations", bob_alloc), 200);
    T_EQ_INT(th_sql_longf(site.db.url, "SELECT count(*) FROM allocations WHERE id = '%s'"
                          " AND quarantine_end IS NOT NULL", bob_alloc), 1);
    /* alice: one session ended, one active. */
    T_EQ_INT(tl_session_access(&site.srv, alice, ended_sid, access, sizeof access), 201);
    T_EQ_INT(delete(&site.srv, "sessions", ended_sid), 204);
    T_EQ_INT(tl_session_access(&site.srv, alice, active_sid, access, sizeof access), 201);
    struct th_resp r;
    /* A pass still out: used long ago, returns tomorrow. */
    sql("INSERT INTO login_passes (used_at, window_end, returns_at) VALUES"
        " (now() - interval '27 days', now() - interval '26 days', now() + interval '1 day')");

    /* The old history goes once rolled up: sessions, events, the pass. */
    T_CHECK(th_wait_sql(site.db.url, 0, 60.0,
                        "SELECT count(*) FROM session_events WHERE user_directory = 'OLD'"));
    T_CHECK(th_wait_sql(site.db.url, 0, 60.0,
                        "SELECT count(*) FROM sessions WHERE user_directory = 'OLD'"));
    T_CHECK(th_wait_sql(site.db.url, 1, 60.0, "SELECT count(*) FROM login_passes"));
    /* The session alice ended goes once its linger is over and it is two
     * seconds old; to the user it is gone. */
    T_CHECK(th_wait_sql(site.db.url, 0, 60.0, "SELECT count(*) FROM sessions WHERE id = '%s'",
                        ended_sid));
    snprintf(path, sizeof path, "/sessions/%s", ended_sid);
    T_REQUIRE(th_req(&site.srv, "GET", path, TH_ADMIN_KEY, NULL, &r));
    T_ERROR(r, 404, "LICENSES-NotFound");
    th_resp_free(&r);
    T_CHECK(th_log_wait(&site.srv, "retention: removed", 5000));
    /* /metrics counts them (once the tick that removed them is over): the 10
     * old events, 4 old sessions, alice's and bob's ended ones, and the pass. */
    T_CHECK(removed_metric_reaches(16, 10.0));
}

static void test_what_must_stay_stays(void)
{
    /* Two more ticks of the reaper after the removal (each moves the
     * roll-up's watermark on, then applies the retention): nothing more goes. */
    char *mark = th_sql(site.db.url, "SELECT rolled_until FROM usage_rollup");
    T_REQUIRE(mark != NULL && *mark != '\0');
    T_CHECK(th_wait_sql(site.db.url, 1, 30.0,
                        "SELECT count(*) FROM usage_rollup WHERE rolled_until > '%s'::timestamptz"
                        " + interval '2 seconds'",
                        mark));
    free(mark);
    struct th_resp r;
    char path[128];
    snprintf(path, sizeof path, "/sessions/%s", active_sid);
    T_REQUIRE(th_req(&site.srv, "GET", path, TH_ADMIN_KEY, NULL, &r));
    T_STATUS(r, 200);
    T_CHECK(json_is_null(json_object_get(r.json, "endedAt")));
    th_resp_free(&r);
    T_EQ_INT(th_sql_longf(site.db.url, "SELECT count(*) FROM allocations"), 2);
    snprintf(path, sizeof path, "/allocations/%s", bob_alloc);
    T_REQUIRE(th_req(&site.srv, "GET", path, TH_ADMIN_KEY, NULL, &r));
    T_STATUS(r, 200);
    T_CHECK(json_is_true(json_object_get(r.json, "quarantined")));
    th_resp_free(&r);
    T_EQ_INT(th_sql_longf(site.db.url, "SELECT count(*) FROM login_passes WHERE returns_at > now()"), 1);
    /* Today's trail is younger than the roll-up's lag (minutes): it stays,
     * though older than the retention. */
    T_EQ_INT(th_sql_longf(site.db.url,
                          "SELECT count(*) FROM session_events WHERE session_id = '%s'", ended_sid),
             2);
    T_CHECK(th_sql_longf(site.db.url, "SELECT count(*) FROM session_events WHERE user_ref = '%s'",
                         bob) >= 2);
    /* A second session for alice starts: the rules still have what they read. */
    char access[32];
    T_EQ_INT(tl_session_access(&site.srv, alice, NULL, access, sizeof access), 201);
    T_EQ_STR(access, "professional");
}

/* GET /reports/usage covers the day whose raw rows are gone. */
static void test_report_covers_removed_days(void)
{
    T_EQ_INT(th_sql_longf(site.db.url, "SELECT count(*) FROM session_events WHERE user_directory = 'OLD'"),
             0);
    char from[40], to[40], path[160];
    tl_rfc3339(old_day, from, sizeof from);
    tl_rfc3339(old_day + DAY, to, sizeof to);
    snprintf(path, sizeof path, "/reports/usage?from=%s&to=%s&step=day", from, to);
    struct th_resp r;
    T_REQUIRE(th_req(&site.srv, "GET", path, TH_ADMIN_KEY, NULL, &r));
    T_STATUS(r, 200);
    json_t *p = json_array_get(json_object_get(r.json, "points"), 0);
    T_REQUIRE(p != NULL);
    T_EQ_INT(tl_time(p, "start"), old_day);
    T_EQ_INT(tl_int(json_object_get(p, "sessionsStarted"), "professional"), 3);
    T_EQ_INT(tl_int(json_object_get(p, "sessionsStarted"), "analyzer"), 1);
    T_EQ_INT(tl_int(json_object_get(p, "refusals"), "NoAvailableAccessType"), 2);
    T_EQ_INT(tl_int(p, "peakConcurrentSessions"), 2);
    th_resp_free(&r);
    /* Hourly too: the hour of the sessions. */
    tl_rfc3339(old_day + 10 * 3600, from, sizeof from);
    tl_rfc3339(old_day + 11 * 3600, to, sizeof to);
    snprintf(path, sizeof path, "/reports/usage?from=%s&to=%s&step=hour", from, to);
    T_REQUIRE(th_req(&site.srv, "GET", path, TH_ADMIN_KEY, NULL, &r));
    T_STATUS(r, 200);
    p = json_array_get(json_object_get(r.json, "points"), 0);
    T_REQUIRE(p != NULL);
    T_EQ_INT(tl_int(json_object_get(p, "sessionsStarted"), "professional"), 3);
    th_resp_free(&r);
}

/* ---- export-events ----------------------------------------------------------- */

static char out_path[64], err_path[64];

static int export_events(const char *const *args)
{
    char env_url[600];
    snprintf(env_url, sizeof env_url, "ALLOT_DATABASE_URL=%s", site.db.url);
    const char *const env[] = {env_url, "ALLOT_ADMIN_KEY", NULL};
    return th_allotd_runv(args, env, out_path, err_path, 60);
}

/* Lines of the file that parse as an event object; -1 when one does not. */
static long event_lines(const char *path, const char *want_user_directory)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    char line[4096];
    long n = 0;
    int64_t last = -1;
    while (fgets(line, sizeof line, f) != NULL) {
        json_t *o = json_loads(line, 0, NULL);
        int64_t at = o ? tl_time(o, "at") : -1;
        bool ok = o != NULL && json_is_string(json_object_get(o, "kind")) && at >= last &&
                  json_is_object(json_object_get(o, "user")) &&
                  (want_user_directory == NULL ||
                   strcmp(tl_text(json_object_get(o, "user"), "userDirectory"), want_user_directory) == 0);
        json_decref(o);
        if (!ok) {
            printf("#   not an event in order: %.200s", line);
            fclose(f);
            return -1;
        }
        last = at;
        n++;
    }
    fclose(f);
    return n;
}

static void test_export_events(void)
{
    /* 2,500 events of the last minutes (younger than the roll-up's lag, so
     * the retention leaves them): more than a page of the cursor. */
    sql("INSERT INTO session_events (at, kind, user_directory, user_id, access_type, result_code)"
        " SELECT now() - interval '2 minutes' + g * interval '1 millisecond', 'grant', 'EXP',"
        " 'e' || g, 'professional', 'Ok' FROM generate_series(1, 2500) g");
    char from[40], to[40];
    tl_rfc3339(tl_now() - 600, from, sizeof from);
    tl_rfc3339(tl_now() + 600, to, sizeof to);
    long want = th_sql_longf(site.db.url,
                             "SELECT count(*) FROM session_events WHERE at >= '%s' AND at < '%s'",
                             from, to);
    T_CHECK(want > 2500);
    T_EQ_INT(export_events((const char *const[]){"export-events", "--from", from, "--to", to, NULL}), 0);
    T_EQ_INT(event_lines(out_path, NULL), want);
    /* A range: only what is in it, oldest first. */
    char *mid = th_sql(site.db.url, "SELECT to_char((SELECT at FROM session_events WHERE user_id = 'e1001')"
                                    " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')");
    char *end = th_sql(site.db.url, "SELECT to_char((SELECT at FROM session_events WHERE user_id = 'e2001')"
                                    " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')");
    T_REQUIRE(mid != NULL && end != NULL);
    T_EQ_INT(export_events((const char *const[]){"export-events", "--from", mid, "--to", end, NULL}), 0);
    T_EQ_INT(event_lines(out_path, "EXP"), 1000);
    free(mid);
    free(end);
    /* Bad arguments: exit 2, a line naming the argument, nothing written. */
    T_EQ_INT(export_events((const char *const[]){"export-events", "--from", "yesterday", NULL}), 2);
    char *err = th_file_text(err_path);
    T_CHECK(err != NULL && strstr(err, "--from") != NULL);
    free(err);
    T_EQ_INT(event_lines(out_path, NULL), 0);
    T_EQ_INT(export_events((const char *const[]){"export-events", "--from", to, "--to", from, NULL}), 2);
    T_EQ_INT(export_events((const char *const[]){"export-events", "--since", from, NULL}), 2);
    T_EQ_INT(export_events((const char *const[]){"export-events", "--to", NULL}), 2);
    /* A database that cannot be reached: exit 1. */
    const char *const env[] = {"ALLOT_DATABASE_URL=postgresql://nobody@127.0.0.1:1/none",
                               "ALLOT_DB_CONNECT_TIMEOUT=2s", NULL};
    T_EQ_INT(th_allotd_runv((const char *const[]){"export-events", NULL}, env, out_path, err_path, 60),
             1);
}

int main(void)
{
    snprintf(out_path, sizeof out_path, "/tmp/allot-export-%d.out", (int)getpid());
    snprintf(err_path, sizeof err_path, "/tmp/allot-export-%d.err", (int)getpid());
    old_day = (tl_now() / DAY - 3) * DAY;
    tl_site_start(&site, (const char *[]){"ALLOT_REAPER_INTERVAL=1s", "ALLOT_RETENTION=2s", NULL});
    T_RUN(test_retention_removes_what_is_due);
    T_RUN(test_what_must_stay_stays);
    T_RUN(test_report_covers_removed_days);
    T_RUN(test_export_events);
    T_EQ_INT(tl_site_stop(&site), 0);
    unlink(out_path);
    unlink(err_path);
    return t_done();
}

/* Counting limits under concurrency: many requests at once, spread over TWO
 * allotd processes on one database, must never take more than the license
 * allows (DOMAIN.md: "This must hold under any number of concurrent requests
 * on any number of server instances").  Named allocations, the parallel
 * session limit of one user, dynamic assignment by a rule, login passes and
 * capacity blocks; and requests that take the same locks from both sides
 * (session start and allocation for one user) must all be answered. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "tlicense.h"

T_DEFINE_STATE;

#define MAX_JOBS 100

static struct tl_site site;
static struct th_server second;

struct job {
    const struct th_server *srv;
    const char *method;
    char path[64];
    char body[128];
    const char *long_body; /* instead of body when set */
    pthread_barrier_t *go;
    long status;
    char error[64];
    char result[64];
    char access[32];
};

static void *run_job(void *arg)
{
    struct job *j = arg;
    pthread_barrier_wait(j->go);
    struct th_resp r;
    const char *body = j->long_body ? j->long_body : j->body;
    j->status = th_req(j->srv, j->method, j->path, TH_ADMIN_KEY, body, &r) ? r.status : -1;
    snprintf(j->error, sizeof j->error, "%s", th_error_type(&r));
    snprintf(j->result, sizeof j->result, "%s", th_str(&r, "resultCode"));
    snprintf(j->access, sizeof j->access, "%s", th_str(&r, "accessType"));
    th_resp_free(&r);
    return NULL;
}

/* Runs the jobs at once (a barrier releases every thread together). */
static void run_all(struct job *jobs, int n)
{
    pthread_t threads[MAX_JOBS];
    pthread_barrier_t go;
    pthread_barrier_init(&go, NULL, (unsigned)n);
    for (int i = 0; i < n; i++) {
        jobs[i].go = &go;
        jobs[i].srv = i % 2 == 0 ? &site.srv : &second;
        pthread_create(&threads[i], NULL, run_job, &jobs[i]);
    }
    for (int i = 0; i < n; i++)
        pthread_join(threads[i], NULL);
    pthread_barrier_destroy(&go);
}

/* run_all, with put as the body of every PUT job. */
static void run_all_put(struct job *jobs, int n, const char *put)
{
    for (int i = 0; i < n; i++)
        if (strcmp(jobs[i].method, "PUT") == 0)
            jobs[i].long_body = put;
    run_all(jobs, n);
}

static void set_job(struct job *j, const char *method, const char *path, const char *body)
{
    memset(j, 0, sizeof *j);
    j->method = method;
    snprintf(j->path, sizeof j->path, "%s", path);
    snprintf(j->body, sizeof j->body, "%s", body);
}

/* How many jobs ended with status and errorType (NULL: any). */
static int tally(const struct job *jobs, int n, long status, const char *error)
{
    int k = 0;
    for (int i = 0; i < n; i++)
        k += jobs[i].status == status && (error == NULL || strcmp(jobs[i].error, error) == 0);
    return k;
}

static void print_others(const struct job *jobs, int n, long a, long b)
{
    for (int i = 0; i < n; i++)
        if (jobs[i].status != a && jobs[i].status != b)
            printf("#   job %d: %s %s answered %ld %s\n", i, jobs[i].method, jobs[i].path,
                   jobs[i].status, jobs[i].error);
}

static void make_users(const char *prefix, const char *groups, int n, char ids[][TL_ID_LEN])
{
    for (int i = 0; i < n; i++) {
        char uid[32];
        snprintf(uid, sizeof uid, "%s%03d", prefix, i);
        T_CHECK(tl_user(&site.srv, "CORP", uid, groups, ids[i]));
    }
}

static long count(const char *sql)
{
    return th_sql_long(site.db.url, sql);
}

/* 100 POST /allocations for 100 users when 7 professional units are free. */
static void test_allocations(void)
{
    T_CHECK(tl_reset(site.db.url));
    T_CHECK(tl_apply(&site.srv, &site.auth, "--professional", "10", NULL));
    char pre[3][TL_ID_LEN];
    static char users[MAX_JOBS][TL_ID_LEN];
    make_users("pre", NULL, 3, pre);
    for (int i = 0; i < 3; i++)
        T_EQ_INT(tl_alloc(&site.srv, pre[i], "professional", NULL, NULL, 0), 201);
    make_users("race", NULL, MAX_JOBS, users);

    static struct job jobs[MAX_JOBS];
    for (int i = 0; i < MAX_JOBS; i++) {
        char body[128];
        snprintf(body, sizeof body, "{\"user\":\"%.36s\",\"type\":\"professional\"}", users[i]);
        set_job(&jobs[i], "POST", "/allocations", body);
    }
    run_all(jobs, MAX_JOBS);
    print_others(jobs, MAX_JOBS, 201, 409);
    T_EQ_INT(tally(jobs, MAX_JOBS, 201, NULL), 7);
    T_EQ_INT(tally(jobs, MAX_JOBS, 409, "LICENSES-NoAvailableAllotment"), 93);
    T_EQ_INT(count("SELECT count(*) FROM allocations WHERE user_id LIKE 'race%'"), 7);
    T_EQ_INT(count("SELECT count(*) FROM allocations WHERE type = 'professional'"), 10);
}

/* 20 session starts of one user at once, maxParallelSessions=5. */
static void test_parallel_sessions(void)
{
    T_CHECK(tl_reset(site.db.url));
    T_CHECK(tl_apply(&site.srv, &site.auth, "--professional", "1", "--param", "maxParallelSessions=5",
                     "--param", "sessionLingerSeconds=0", NULL));
    char u[1][TL_ID_LEN];
    make_users("one", NULL, 1, u);
    T_EQ_INT(tl_alloc(&site.srv, u[0], "professional", NULL, NULL, 0), 201);
    static struct job jobs[20];
    char body[96];
    snprintf(body, sizeof body, "{\"user\":\"%.36s\"}", u[0]);
    for (int i = 0; i < 20; i++)
        set_job(&jobs[i], "POST", "/sessions", body);
    run_all(jobs, 20);
    print_others(jobs, 20, 201, 403);
    T_EQ_INT(tally(jobs, 20, 201, NULL), 5);
    T_EQ_INT(tally(jobs, 20, 403, "LICENSES-TooManySessions"), 15);
    T_EQ_INT(count("SELECT count(*) FROM sessions WHERE ended_at IS NULL"), 5);
    T_EQ_INT(count("SELECT count(*) FROM session_events WHERE kind = 'grant'"), 5);
    T_EQ_INT(count("SELECT count(*) FROM session_events WHERE kind = 'refusal'"
                   " AND result_code = 'MaxParallelSessionsExceeded'"), 15);
}

/* Session starts of n users at once: how many were granted access. */
static int start_all(char users[][TL_ID_LEN], int n, const char *access)
{
    static struct job jobs[MAX_JOBS];
    for (int i = 0; i < n; i++) {
        char body[96];
        snprintf(body, sizeof body, "{\"user\":\"%.36s\"}", users[i]);
        set_job(&jobs[i], "POST", "/sessions", body);
    }
    run_all(jobs, n);
    print_others(jobs, n, 201, 403);
    int granted = 0;
    for (int i = 0; i < n; i++)
        granted += jobs[i].status == 201 && strcmp(jobs[i].access, access) == 0;
    T_EQ_INT(tally(jobs, n, 201, NULL) + tally(jobs, n, 403, "LICENSES-NoAccessPass"), n);
    return granted;
}

/* 30 users of one professional rule with 4 units start at once. */
static void test_dynamic_assignment(void)
{
    T_CHECK(tl_reset(site.db.url));
    T_CHECK(tl_apply(&site.srv, &site.auth, "--professional", "4", NULL));
    T_EQ_INT(tl_rule(&site.srv, "Sales", "professional", "{\"groups\":[\"Sales\"]}", -1, NULL), 201);
    static char users[30][TL_ID_LEN];
    make_users("dyn", "[\"Sales\"]", 30, users);
    T_EQ_INT(start_all(users, 30, "professional"), 4);
    T_EQ_INT(count("SELECT count(*) FROM allocations WHERE rule_id IS NOT NULL"), 4);
    T_EQ_INT(count("SELECT count(*) FROM session_events WHERE result_code ="
                   " 'NoAvailableAccessTypePendingUserSync'"), 26);
}

/* 15 users of a login group of 1 token (10 passes) start at once. */
static void test_login_passes(void)
{
    T_CHECK(tl_reset(site.db.url));
    T_CHECK(tl_apply(&site.srv, &site.auth, "--tokens", "1", NULL));
    T_EQ_INT(tl_rule(&site.srv, "Logins", "login", "{\"groups\":[\"L\"]}", 1, NULL), 201);
    static char users[15][TL_ID_LEN];
    make_users("login", "[\"L\"]", 15, users);
    T_EQ_INT(start_all(users, 15, "login"), 10);
    T_EQ_INT(count("SELECT count(*) FROM login_passes"), 10);
}

/* 12 capacity users at once on a pool of 5 one-minute blocks. */
static void test_capacity_blocks(void)
{
    T_CHECK(tl_reset(site.db.url));
    T_CHECK(tl_apply(&site.srv, &site.auth, "--analyzer-time-minutes", "5", "--param",
                     "capacityUnitSeconds=60", NULL));
    T_EQ_INT(tl_rule(&site.srv, "Viewers", "analyzer_time", "{\"groups\":[\"V\"]}", -1, NULL), 201);
    static char users[12][TL_ID_LEN];
    make_users("cap", "[\"V\"]", 12, users);
    T_EQ_INT(start_all(users, 12, "analyzer_time"), 5);
    T_EQ_INT(count("SELECT coalesce(sum(minutes), 0) FROM capacity_usage"), 5);
}

/* One round of test_start_and_allocate_same_user over 50 new users. */
static void start_and_allocate_round(const char *prefix)
{
    static char users[MAX_JOBS / 2][TL_ID_LEN];
    make_users(prefix, "[\"Sales\"]", MAX_JOBS / 2, users);
    static struct job jobs[MAX_JOBS];
    for (int i = 0; i < MAX_JOBS / 2; i++) { /* sessions on one server, allocations on the other */
        char body[128];
        snprintf(body, sizeof body, "{\"user\":\"%.36s\"}", users[i]);
        set_job(&jobs[2 * i], "POST", "/sessions", body);
        snprintf(body, sizeof body, "{\"user\":\"%.36s\",\"type\":\"analyzer\"}", users[i]);
        set_job(&jobs[2 * i + 1], "POST", "/allocations", body);
    }
    run_all(jobs, MAX_JOBS);
    print_others(jobs, MAX_JOBS, 201, 201);
    int started = 0, allocated = 0, professional = 0;
    for (int i = 0; i < MAX_JOBS; i++) {
        if (jobs[i].status != 201)
            continue;
        if (strcmp(jobs[i].path, "/sessions") == 0) {
            started++;
            /* analyzer when the allocation came first, else assigned by the rule */
            professional += strcmp(jobs[i].access, "professional") == 0;
            T_CHECK(strcmp(jobs[i].access, "professional") == 0 ||
                    strcmp(jobs[i].access, "analyzer") == 0);
        } else {
            allocated++;
        }
    }
    /* Regression: session start and allocation once took the user and license
     * rows in opposite orders and deadlocked (503); one lock order now, and
     * single statements retry 40P01 like transactions. */
    T_EQ_INT(started, MAX_JOBS / 2);
    T_EQ_INT(allocated, MAX_JOBS / 2);
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM allocations WHERE type = 'analyzer'"
                              " AND user_id LIKE '%s%%'", prefix);
    T_EQ_INT(count(sql), allocated);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM allocations WHERE type = 'professional'"
                              " AND user_id LIKE '%s%%'", prefix);
    T_EQ_INT(count(sql), professional);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM sessions WHERE user_id LIKE '%s%%'", prefix);
    T_EQ_INT(count(sql), started);
}

/* For each user at once: a session start that assigns a unit by a rule, and
 * an analyzer allocation.  Both take the user row and the license row; every
 * request must be answered (no deadlock surfacing as 503).  Two rounds, as
 * the interleaving that deadlocks is likely but not certain in one. */
static void test_start_and_allocate_same_user(void)
{
    T_CHECK(tl_reset(site.db.url));
    T_CHECK(tl_apply(&site.srv, &site.auth, "--professional", "100", "--analyzer", "100", NULL));
    T_EQ_INT(tl_rule(&site.srv, "Sales", "professional", "{\"groups\":[\"Sales\"]}", -1, NULL), 201);
    start_and_allocate_round("both-a");
    start_and_allocate_round("both-b");
}

/* The license applied again (as an administrator or a sync does) while
 * allocations and session starts run: none of them may see "no license". */
static void test_apply_while_allocating(void)
{
    T_CHECK(tl_reset(site.db.url));
    char *key = tl_issue(&site.auth, "--professional", "200", NULL);
    T_REQUIRE(key != NULL);
    struct th_resp r;
    T_CHECK(tl_put_license(&site.srv, key, &r));
    T_STATUS(r, 200);
    th_resp_free(&r);
    T_EQ_INT(tl_rule(&site.srv, "Sales", "professional", "{\"groups\":[\"Sales\"]}", -1, NULL), 201);
    static char users[MAX_JOBS][TL_ID_LEN];
    make_users("apply", "[\"Sales\"]", MAX_JOBS, users);
    static struct job jobs[MAX_JOBS];
    char *put = NULL;
    json_t *body = json_pack("{s:s}", "key", key);
    put = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    free(key);
    for (int i = 0; i < MAX_JOBS; i++) {
        char text[128];
        if (i % 5 == 0) { /* a PUT /license among every five requests */
            set_job(&jobs[i], "PUT", "/license", "");
            continue;
        }
        snprintf(text, sizeof text, i % 5 % 2 ? "{\"user\":\"%.36s\",\"type\":\"professional\"}"
                                              : "{\"user\":\"%.36s\"}", users[i]);
        set_job(&jobs[i], "POST", i % 5 % 2 ? "/allocations" : "/sessions", text);
    }
    run_all_put(jobs, MAX_JOBS, put);
    free(put);
    print_others(jobs, MAX_JOBS, 200, 201);
    /* Regression: re-applying the license once replaced its row (DELETE +
     * INSERT) and requests waiting on it found none; it is an upsert now. */
    T_EQ_INT(tally(jobs, MAX_JOBS, 200, NULL) + tally(jobs, MAX_JOBS, 201, NULL), MAX_JOBS);
}

static void test_servers_agree_and_stop_cleanly(void)
{
    T_CHECK(!th_log_contains(&site.srv, "\"level\":\"error\"")); /* no unknown outcome, no failure */
    T_CHECK(!th_log_contains(&second, "\"level\":\"error\""));
    T_EQ_INT(th_server_stop(&second), 0);
    T_EQ_INT(th_server_stop(&site.srv), 0);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_ALL);
    tl_site_start(&site, NULL);
    if (!tl_site_add_server(&site, &second, NULL)) {
        printf("Bail out! the second allotd did not start\n");
        th_server_stop(&second);
        tl_site_stop(&site);
        return 1;
    }

    T_RUN(test_allocations);
    T_RUN(test_parallel_sessions);
    T_RUN(test_dynamic_assignment);
    T_RUN(test_login_passes);
    T_RUN(test_capacity_blocks);
    T_RUN(test_start_and_allocate_same_user);
    T_RUN(test_apply_while_allocating);
    T_RUN(test_servers_agree_and_stop_cleanly);

    th_server_stop(&second);
    tl_site_stop(&site);
    curl_global_cleanup();
    return t_done();
}

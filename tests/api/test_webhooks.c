/* api suite: alerts by webhook (issue 10).  A real receiver
 * (webhook_receiver.py, which checks the Standard Webhooks signature on its
 * own) gets the events that real facts bring about: an allocation that takes
 * an allotment below its threshold, syncs that fail and succeed again, a
 * license that goes stale.  Covered: the subscription API and its bad input
 * (clear 400s, nothing stored), the secret shown once, an event that happens
 * while the receiver is down and is delivered once it is back, allotd
 * SIGKILLed after the commit (with the receiver down, and in the middle of a
 * delivery) and the event still delivered after a restart, and two allotd
 * instances that deliver each event exactly once. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "tlicense.h"

T_DEFINE_STATE;

#define BAD "LICENSES-BadRequest"
#define WAIT_S 30.0

static struct tl_site site;
static struct tl_backend backend;
static char env_url[160];
static const char *const hook_env[] = {
    env_url, "ALLOT_WEBHOOK_INTERVAL=1s", "ALLOT_WEBHOOK_RETRY_MIN=1s",
    "ALLOT_WEBHOOK_RETRY_MAX=2s", "ALLOT_WEBHOOK_TIMEOUT=30s", "ALLOT_SYNC_INTERVAL=1h", NULL};

/* ---- the receiver ------------------------------------------------------------ */

struct receiver {
    pid_t pid;
    int port;
    char dir[128], secrets[192], log[192], url[96];
};
static struct receiver rx;

static bool port_open(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bool ok = fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
    if (fd >= 0)
        close(fd);
    return ok;
}

static void rx_init(void)
{
    snprintf(rx.dir, sizeof rx.dir, "/tmp/allot-hooks-XXXXXX");
    if (mkdtemp(rx.dir) == NULL) {
        printf("Bail out! mkdtemp: %s\n", strerror(errno));
        exit(1);
    }
    snprintf(rx.secrets, sizeof rx.secrets, "%s/secrets", rx.dir);
    snprintf(rx.log, sizeof rx.log, "%s/received.jsonl", rx.dir);
    rx.port = th_free_port();
    snprintf(rx.url, sizeof rx.url, "http://127.0.0.1:%d/hooks/allot", rx.port);
}

static bool rx_start(void)
{
    char script[512], port[16];
    snprintf(script, sizeof script, "%s/tests/api/webhook_receiver.py",
             getenv("ALLOT_SOURCE_ROOT") ? getenv("ALLOT_SOURCE_ROOT") : ".");
    snprintf(port, sizeof port, "%d", rx.port);
    rx.pid = fork();
    if (rx.pid == 0) {
        execl("/usr/bin/python3", "python3", script, port, rx.secrets, rx.log, (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 200; i++) { /* 10 s */
        if (port_open(rx.port))
            return true;
        tl_sleep_ms(50);
    }
    printf("# the receiver did not start on port %d\n", rx.port);
    return false;
}

static void rx_stop(void)
{
    if (rx.pid > 0) {
        kill(rx.pid, SIGTERM);
        waitpid(rx.pid, NULL, 0);
        rx.pid = 0;
    }
}

static void rx_flag(const char *suffix, bool on)
{
    char path[256];
    snprintf(path, sizeof path, "%s%s", rx.log, suffix);
    if (on) {
        FILE *f = fopen(path, "w");
        if (f != NULL)
            fclose(f);
    } else {
        unlink(path);
    }
}

static void rx_add_secret(const char *secret)
{
    FILE *f = fopen(rx.secrets, "a");
    if (f != NULL) {
        fprintf(f, "%s\n", secret);
        fclose(f);
    }
}

/* Requests the receiver logged for the event id (NULL: any) with member
 * `member` ("id" for answered ones, "hanging"), and of those how many had a
 * valid signature (into *valid). */
static int rx_count(const char *id, const char *member, int *valid)
{
    char *text = th_file_text(rx.log);
    int n = 0, ok = 0;
    for (char *line = text, *next; line != NULL && *line; line = next) {
        next = strchr(line, '\n');
        if (next != NULL)
            *next++ = '\0';
        json_t *o = json_loads(line, 0, NULL);
        const char *got = tl_text(o, member);
        if (o != NULL && got[0] != '\0' && (id == NULL || strcmp(got, id) == 0)) {
            n++;
            ok += json_is_true(json_object_get(o, "valid"));
        }
        json_decref(o);
    }
    free(text);
    if (valid != NULL)
        *valid = ok;
    return n;
}

static bool rx_wait(const char *id, const char *member, int want)
{
    double end = tl_now_f() + WAIT_S;
    while (tl_now_f() < end) {
        if (rx_count(id, member, NULL) >= want)
            return true;
        tl_sleep_ms(50);
    }
    printf("# the receiver did not log %s %s within %.0f s\n", member, id ? id : "(any)", WAIT_S);
    return false;
}

/* ---- helpers ---------------------------------------------------------------------- */

/* POST /webhooks with the admin key; id and secret of the 201 (may be NULL). */
static long subscribe(const struct th_server *s, const char *events, char *id, char *secret)
{
    char body[2048];
    snprintf(body, sizeof body, "{\"url\": \"%s\", \"description\": \"ops\", \"events\": %s}",
             rx.url, events);
    struct th_resp r;
    th_req(s, "POST", "/webhooks", TH_ADMIN_KEY, body, &r);
    long status = r.status;
    if (status == 201) {
        if (id != NULL)
            snprintf(id, TL_ID_LEN, "%s", th_str(&r, "id"));
        if (secret != NULL)
            snprintf(secret, 64, "%s", th_str(&r, "secret"));
        rx_add_secret(th_str(&r, "secret"));
    } else {
        printf("# POST /webhooks: %ld %s\n", status, r.body ? r.body : "");
    }
    th_resp_free(&r);
    return status;
}

/* The id of the newest event of a type for a subscription ("" when none). */
static void newest_event(const char *hook, const char *type, char *out)
{
    char sql[512];
    snprintf(sql, sizeof sql,
             "SELECT id FROM webhook_outbox WHERE webhook_id = '%s' AND type = '%s'"
             " ORDER BY created_at DESC LIMIT 1", hook, type);
    char *v = th_sql(site.db.url, sql);
    snprintf(out, TL_ID_LEN, "%s", v ? v : "");
    free(v);
}

/* GET /webhooks/{id}/deliveries: the reply (free it). */
static void deliveries(const struct th_server *s, const char *hook, struct th_resp *r)
{
    char path[128];
    snprintf(path, sizeof path, "/webhooks/%s/deliveries", hook);
    th_req(s, "GET", path, TH_ADMIN_KEY, NULL, r);
}

/* The attempts of the log for one event, oldest first, as "1:retrying:- 2:delivered:204". */
static void attempts_of(const char *hook, const char *event, char *out, size_t len)
{
    struct th_resp r;
    deliveries(&site.srv, hook, &r);
    out[0] = '\0';
    json_t *data = json_object_get(r.json, "data");
    size_t o = 0;
    for (size_t i = json_array_size(data); i-- > 0;) {
        json_t *a = json_array_get(data, i);
        if (strcmp(tl_text(a, "eventId"), event) != 0)
            continue;
        json_t *st = json_object_get(a, "statusCode");
        char code[16];
        snprintf(code, sizeof code, "%lld", st && json_is_integer(st) ? json_integer_value(st) : -1);
        o += (size_t)snprintf(out + o, len > o ? len - o : 0, "%s%lld:%s:%s", o ? " " : "",
                              tl_int(a, "attempt"), tl_text(a, "outcome"),
                              json_is_integer(st) ? code : "-");
    }
    th_resp_free(&r);
}

static bool wait_state(const char *event, const char *state)
{
    return th_wait_sql(site.db.url, 1, WAIT_S,
                       "SELECT count(*) FROM webhook_outbox WHERE id = '%s' AND state = '%s'",
                       event, state);
}

/* ---- the subscription API ----------------------------------------------------------- */

static void test_bad_input_changes_nothing(void)
{
    static const struct {
        const char *body, *field;
    } bad[] = {
        {"{}", "url"},
        {"{\"url\": \"ftp://127.0.0.1/x\", \"events\": [{\"type\": \"license.stale\"}]}", "url"},
        {"{\"url\": \"not a url\", \"events\": [{\"type\": \"license.stale\"}]}", "url"},
        {"{\"url\": \"https://\", \"events\": [{\"type\": \"license.stale\"}]}", "url"},
        {"{\"url\": \"http://127.0.0.1/\"}", "events"},
        {"{\"url\": \"http://127.0.0.1/\", \"events\": []}", "events"},
        {"{\"url\": \"http://127.0.0.1/\", \"events\": \"license.stale\"}", "events"},
        {"{\"url\": \"http://127.0.0.1/\", \"events\": [{\"type\": \"license.gone\"}]}",
         "events[0].type"},
        {"{\"url\": \"http://127.0.0.1/\", \"events\": [{\"hours\": 2}]}", "events[0].type"},
        {"{\"url\": \"http://127.0.0.1/\", \"events\": [{\"type\": \"license.stale\"}, 5]}",
         "events[1]"},
        {"{\"url\": \"http://127.0.0.1/\", \"events\": [{\"type\": \"license.disabling\", "
         "\"hours\": 0}]}", "events[0].hours"},
        {"{\"url\": \"http://127.0.0.1/\", \"events\": [{\"type\": \"license.disabling\", "
         "\"hours\": \"24\"}]}", "events[0].hours"},
        {"{\"url\": \"http://127.0.0.1/\", \"events\": [{\"type\": \"license.disabling\", "
         "\"days\": 3}]}", "events[0].days"},
        {"{\"url\": \"http://127.0.0.1/\", \"events\": [{\"type\": \"allotment.low\", "
         "\"below\": 2}]}", "events[0].allotment"},
        {"{\"url\": \"http://127.0.0.1/\", \"events\": [{\"type\": \"allotment.low\", "
         "\"allotment\": \"tokens\", \"below\": 2}]}", "events[0].allotment"},
        {"{\"url\": \"http://127.0.0.1/\", \"events\": [{\"type\": \"allotment.low\", "
         "\"allotment\": \"analyzer\"}]}", "events[0].below"},
        {"{\"url\": \"http://127.0.0.1/\", \"events\": [{\"type\": \"refusals.high\", "
         "\"seconds\": 10}]}", "events[0].count"},
        {"{\"url\": \"http://127.0.0.1/\", \"secret\": \"whsec_mine\", \"events\": "
         "[{\"type\": \"license.stale\"}]}", "secret"},
        {"{\"url\": \"http://127.0.0.1/\", \"description\": 7, \"events\": "
         "[{\"type\": \"license.stale\"}]}", "description"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct th_resp r;
        th_req(&site.srv, "POST", "/webhooks", TH_ADMIN_KEY, bad[i].body, &r);
        if (r.status != 400 || strcmp(th_str(&r, "field"), bad[i].field) != 0)
            printf("# case %zu: %ld %s\n", i, r.status, r.body ? r.body : "");
        T_ERROR(r, 400, BAD);
        T_EQ_STR(th_str(&r, "field"), bad[i].field);
        T_CHECK(strstr(th_str(&r, "message"), bad[i].field) != NULL);
        th_resp_free(&r);
    }
    /* A URL over 2048 characters. */
    char *big = malloc(4096);
    int n = snprintf(big, 4096, "{\"url\": \"http://127.0.0.1/");
    memset(big + n, 'a', 2100);
    snprintf(big + n + 2100, 4096 - (size_t)n - 2100, "\", \"events\": [{\"type\": \"license.stale\"}]}");
    struct th_resp r;
    th_req(&site.srv, "POST", "/webhooks", TH_ADMIN_KEY, big, &r);
    T_ERROR(r, 400, BAD);
    T_EQ_STR(th_str(&r, "field"), "url");
    th_resp_free(&r);
    free(big);
    /* An auditor reads, never writes. */
    char auditor[128];
    T_REQUIRE(tl_api_key(&site.srv, "auditor", auditor, sizeof auditor));
    th_req(&site.srv, "POST", "/webhooks", auditor,
           "{\"url\": \"http://127.0.0.1/\", \"events\": [{\"type\": \"license.stale\"}]}", &r);
    T_ERROR(r, 403, "LICENSES-Forbidden");
    th_resp_free(&r);
    th_req(&site.srv, "GET", "/webhooks", auditor, NULL, &r);
    T_STATUS(r, 200);
    T_EQ_INT(json_array_size(json_object_get(r.json, "data")), 0);
    th_resp_free(&r);
    th_req(&site.srv, "GET", "/webhooks/00000000-0000-0000-0000-000000000000/deliveries",
           auditor, NULL, &r);
    T_ERROR(r, 404, "LICENSES-NotFound");
    th_resp_free(&r);
    th_req(&site.srv, "GET", "/webhooks/nope", TH_ADMIN_KEY, NULL, &r);
    T_ERROR(r, 404, "LICENSES-NotFound");
    th_resp_free(&r);
    /* Nothing was stored. */
    T_EQ_INT(th_sql_long(site.db.url, "SELECT count(*) FROM webhooks"), 0);
    T_EQ_INT(th_sql_long(site.db.url, "SELECT count(*) FROM webhook_conditions"), 0);
}

static void test_secret_shown_once(void)
{
    struct th_resp r;
    char body[512];
    snprintf(body, sizeof body, "{\"url\": \"%s\", \"events\": [{\"type\": \"license.disabling\"},"
             " {\"type\": \"refusals.high\", \"count\": 50}]}", rx.url);
    th_req(&site.srv, "POST", "/webhooks", TH_ADMIN_KEY, body, &r);
    T_STATUS(r, 201);
    char id[TL_ID_LEN];
    snprintf(id, sizeof id, "%s", th_str(&r, "id"));
    const char *secret = th_str(&r, "secret");
    T_CHECK(strncmp(secret, "whsec_", 6) == 0 && strlen(secret) == 50);
    T_EQ_STR(r.cache_control, "no-store");
    char want[128];
    snprintf(want, sizeof want, "/webhooks/%s", id);
    T_EQ_STR(r.location, want);
    /* defaults filled in */
    json_t *ev = json_object_get(r.json, "events");
    T_EQ_INT(tl_int(json_array_get(ev, 0), "hours"), 24);
    T_EQ_INT(tl_int(json_array_get(ev, 1), "seconds"), 60);
    T_EQ_STR(th_str(&r, "description"), "");
    th_resp_free(&r);
    th_req(&site.srv, "GET", want, TH_ADMIN_KEY, NULL, &r);
    T_STATUS(r, 200);
    T_CHECK(json_object_get(r.json, "secret") == NULL);
    T_CHECK(r.body != NULL && strstr(r.body, "whsec_") == NULL);
    th_resp_free(&r);
    th_req(&site.srv, "GET", "/webhooks", TH_ADMIN_KEY, NULL, &r);
    T_CHECK(r.body != NULL && strstr(r.body, id) != NULL && strstr(r.body, "whsec_") == NULL);
    th_resp_free(&r);
    /* never in the log either */
    T_CHECK(!th_log_contains(&site.srv, "whsec_"));
    th_req(&site.srv, "DELETE", want, TH_ADMIN_KEY, NULL, &r);
    T_STATUS(r, 204);
    th_resp_free(&r);
    th_req(&site.srv, "GET", want, TH_ADMIN_KEY, NULL, &r);
    T_ERROR(r, 404, "LICENSES-NotFound");
    th_resp_free(&r);
    th_req(&site.srv, "DELETE", want, TH_ADMIN_KEY, NULL, &r);
    T_ERROR(r, 404, "LICENSES-NotFound");
    th_resp_free(&r);
    T_EQ_INT(th_sql_long(site.db.url, "SELECT count(*) FROM webhook_conditions"), 0);
}

/* ---- real events, a receiver that is down, then back ---------------------------------- */

/* An allocation takes the professional allotment below 2: the event is in
 * the outbox with the allocation, and reaches the receiver signed. */
static void test_allotment_event_signed(void)
{
    T_REQUIRE(tl_apply(&site.srv, &site.auth, "--professional", "2",
                       "--param", "offlineGraceSeconds=3600", NULL));
    char hook[TL_ID_LEN], u[TL_ID_LEN], event[TL_ID_LEN];
    T_REQUIRE(subscribe(&site.srv, "[{\"type\": \"allotment.low\", \"allotment\": "
                        "\"professional\", \"below\": 2}]", hook, NULL) == 201);
    T_REQUIRE(tl_user(&site.srv, "CORP", "alice", NULL, u));
    T_EQ_INT(tl_alloc(&site.srv, u, "professional", NULL, NULL, 0), 201);
    newest_event(hook, "allotment.low", event);
    T_REQUIRE(event[0] != '\0');
    T_CHECK(rx_wait(event, "id", 1));
    T_CHECK(wait_state(event, "delivered"));
    int valid = 0;
    T_EQ_INT(rx_count(event, "id", &valid), 1);
    T_EQ_INT(valid, 1);
    char log[256];
    attempts_of(hook, event, log, sizeof log);
    T_EQ_STR(log, "1:delivered:204");
    struct th_resp r;
    deliveries(&site.srv, hook, &r);
    json_t *a = json_array_get(json_object_get(r.json, "data"), 0);
    T_EQ_STR(tl_text(a, "eventType"), "allotment.low");
    json_t *data = json_object_get(json_object_get(a, "payload"), "data");
    T_EQ_INT(tl_int(data, "available"), 1);
    T_EQ_STR(tl_text(data, "allotment"), "professional");
    th_resp_free(&r);
    char path[128];
    snprintf(path, sizeof path, "/webhooks/%s", hook);
    th_req(&site.srv, "DELETE", path, TH_ADMIN_KEY, NULL, &r);
    T_STATUS(r, 204);
    th_resp_free(&r);
}

/* The backend is unreachable: a sync fails and writes sync.failed in its
 * transaction while the receiver is down too.  The attempts fail and are
 * retried; once the receiver is back the event arrives, once.  Then the
 * backend comes back, and the sync that succeeds writes sync.recovered. */
static void test_receiver_down_then_back(void)
{
    rx_stop();
    char hook[TL_ID_LEN], event[TL_ID_LEN];
    T_REQUIRE(subscribe(&site.srv, "[{\"type\": \"sync.failed\"}, {\"type\": \"sync.recovered\"}]",
                        hook, NULL) == 201);
    struct th_resp r;
    th_req(&site.srv, "POST", "/license/actions/sync", TH_ADMIN_KEY, NULL, &r);
    T_ERROR(r, 502, "LICENSES-BackendUnavailable");
    th_resp_free(&r);
    newest_event(hook, "sync.failed", event);
    T_REQUIRE(event[0] != '\0');
    /* two attempts fail while the receiver is down */
    T_CHECK(th_wait_sql(site.db.url, 1, WAIT_S,
                        "SELECT (count(*) >= 2)::int FROM webhook_attempts WHERE outbox_id = '%s'"
                        " AND outcome = 'retrying'", event));
    deliveries(&site.srv, hook, &r);
    json_t *first = json_array_get(json_object_get(r.json, "data"), 0);
    T_EQ_STR(tl_text(first, "outcome"), "retrying");
    T_CHECK(json_is_null(json_object_get(first, "statusCode")));
    T_CHECK(strstr(tl_text(first, "error"), "onnect") != NULL);
    th_resp_free(&r);
    T_REQUIRE(rx_start());
    T_CHECK(wait_state(event, "delivered"));
    T_CHECK(rx_wait(event, "id", 1));
    int valid = 0;
    T_EQ_INT(rx_count(event, "id", &valid), 1);
    T_EQ_INT(valid, 1);
    char log[512];
    attempts_of(hook, event, log, sizeof log);
    printf("# attempts: %s\n", log);
    T_CHECK(strncmp(log, "1:retrying:- 2:retrying:-", 25) == 0);
    T_CHECK(strstr(log, ":delivered:204") != NULL);

    /* the backend is back: the next sync succeeds and says so */
    T_REQUIRE(tl_backend_start(&backend, site.auth.key_path));
    th_req(&site.srv, "POST", "/license/actions/sync", TH_ADMIN_KEY, NULL, &r);
    T_STATUS(r, 200);
    th_resp_free(&r);
    char back[TL_ID_LEN];
    newest_event(hook, "sync.recovered", back);
    T_REQUIRE(back[0] != '\0');
    T_CHECK(rx_wait(back, "id", 1));
    T_EQ_INT(tl_backend_stop(&backend), 0);
    char path[128];
    snprintf(path, sizeof path, "/webhooks/%s", hook);
    th_req(&site.srv, "DELETE", path, TH_ADMIN_KEY, NULL, &r);
    T_STATUS(r, 204);
    th_resp_free(&r);
}

/* ---- allotd killed -------------------------------------------------------------------- */

static void kill_and_restart(void)
{
    kill(site.srv.pid, SIGKILL);
    waitpid(site.srv.pid, NULL, 0);
    site.srv.pid = 0;
    char *env[16];
    size_t n = 0;
    env[n++] = site.auth.env_pub;
    for (size_t i = 0; hook_env[i] != NULL; i++)
        env[n++] = (char *)hook_env[i];
    env[n] = NULL;
    if (!th_server_start(&site.srv, site.db.url, (const char *const *)env, true))
        printf("# allotd did not start again\n");
}

/* An event committed while the receiver is down; allotd is killed before it
 * could deliver; restarted, it delivers. */
static void test_sigkill_after_commit(void)
{
    rx_stop();
    char hook[TL_ID_LEN], event[TL_ID_LEN];
    T_REQUIRE(subscribe(&site.srv, "[{\"type\": \"sync.failed\"}]", hook, NULL) == 201);
    char path[128];
    snprintf(path, sizeof path, "/webhooks/%s/actions/test", hook);
    struct th_resp r;
    th_req(&site.srv, "POST", path, TH_ADMIN_KEY, NULL, &r);
    T_STATUS(r, 202);
    snprintf(event, sizeof event, "%s", th_str(&r, "eventId"));
    th_resp_free(&r);
    T_EQ_INT(th_sql_long(site.db.url, "SELECT count(*) FROM webhook_outbox WHERE state = 'pending'"
                                      " AND type = 'webhook.test'"), 1);
    kill_and_restart();
    T_REQUIRE(rx_start());
    T_CHECK(wait_state(event, "delivered"));
    T_CHECK(rx_wait(event, "id", 1));
    int valid = 0;
    T_EQ_INT(rx_count(event, "id", &valid), 1);
    T_EQ_INT(valid, 1);
    snprintf(path, sizeof path, "/webhooks/%s", hook);
    th_req(&site.srv, "DELETE", path, TH_ADMIN_KEY, NULL, &r);
    th_resp_free(&r);
}

/* allotd is killed in the middle of a delivery (the receiver holds the
 * request): the claim rolls back, and after a restart the event is sent
 * again and delivered; the log shows the one attempt that was answered. */
static void test_sigkill_mid_delivery(void)
{
    char hook[TL_ID_LEN], event[TL_ID_LEN];
    T_REQUIRE(subscribe(&site.srv, "[{\"type\": \"sync.failed\"}]", hook, NULL) == 201);
    rx_flag(".hang", true);
    char path[128];
    snprintf(path, sizeof path, "/webhooks/%s/actions/test", hook);
    struct th_resp r;
    th_req(&site.srv, "POST", path, TH_ADMIN_KEY, NULL, &r);
    T_STATUS(r, 202);
    snprintf(event, sizeof event, "%s", th_str(&r, "eventId"));
    th_resp_free(&r);
    T_CHECK(rx_wait(event, "hanging", 1));
    kill(site.srv.pid, SIGSTOP); /* frozen mid-delivery: nothing more of it runs */
    rx_flag(".hang", false);
    kill_and_restart();
    T_CHECK(wait_state(event, "delivered"));
    T_CHECK(rx_wait(event, "id", 1));
    int valid = 0;
    T_EQ_INT(rx_count(event, "id", &valid), 1);
    T_EQ_INT(valid, 1);
    char log[256];
    attempts_of(hook, event, log, sizeof log);
    T_EQ_STR(log, "1:delivered:204");
    snprintf(path, sizeof path, "/webhooks/%s", hook);
    th_req(&site.srv, "DELETE", path, TH_ADMIN_KEY, NULL, &r);
    th_resp_free(&r);
}

/* ---- two instances -------------------------------------------------------------------- */

#define EVENTS 24

static void test_two_instances_deliver_once(void)
{
    struct th_server second;
    T_REQUIRE(tl_site_add_server(&site, &second, hook_env));
    rx_flag(".slow", true);
    char hooks[2][TL_ID_LEN];
    T_REQUIRE(subscribe(&site.srv, "[{\"type\": \"license.revoked\"}]", hooks[0], NULL) == 201);
    T_REQUIRE(subscribe(&second, "[{\"type\": \"license.revoked\"}]", hooks[1], NULL) == 201);
    char ids[EVENTS][TL_ID_LEN];
    for (int i = 0; i < EVENTS; i++) {
        char path[128];
        snprintf(path, sizeof path, "/webhooks/%s/actions/test", hooks[i % 2]);
        struct th_resp r;
        th_req(i % 3 ? &second : &site.srv, "POST", path, TH_ADMIN_KEY, NULL, &r);
        T_STATUS(r, 202);
        snprintf(ids[i], TL_ID_LEN, "%s", th_str(&r, "eventId"));
        th_resp_free(&r);
    }
    T_CHECK(th_wait_sql(site.db.url, EVENTS, WAIT_S,
                        "SELECT count(*) FROM webhook_outbox WHERE type = 'webhook.test'"
                        " AND state = 'delivered' AND webhook_id IN ('%s', '%s')",
                        hooks[0], hooks[1]));
    rx_flag(".slow", false);
    for (int i = 0; i < EVENTS; i++) {
        int valid = 0;
        T_EQ_INT(rx_count(ids[i], "id", &valid), 1);
        T_EQ_INT(valid, 1);
    }
    T_EQ_INT(th_sql_longf(site.db.url, "SELECT count(*) FROM webhook_attempts WHERE webhook_id IN"
                          " ('%s', '%s')", hooks[0], hooks[1]), EVENTS);
    long senders = th_sql_longf(site.db.url, "SELECT count(DISTINCT deliverer) FROM"
                                " webhook_attempts WHERE webhook_id IN ('%s', '%s')",
                                hooks[0], hooks[1]);
    printf("# %d events delivered by %ld instance(s)\n", EVENTS, senders);
    T_EQ_INT(th_server_stop(&second), 0);
}

/* ---- the stale-license alert (the note shows its log) ------------------------ */

static void test_stale_alert(void)
{
    char hook[TL_ID_LEN], stale[TL_ID_LEN], soon[TL_ID_LEN];
    T_REQUIRE(subscribe(&site.srv, "[{\"type\": \"license.disabling\", \"hours\": 1}, "
                        "{\"type\": \"license.stale\"}]", hook, NULL) == 201);
    T_REQUIRE(tl_apply(&site.srv, &site.auth, "--professional", "2",
                       "--param", "offlineGraceSeconds=4", NULL));
    T_CHECK(th_wait_sql(site.db.url, 1, WAIT_S,
                        "SELECT count(*) FROM webhook_outbox WHERE webhook_id = '%s'"
                        " AND type = 'license.stale' AND state = 'delivered'", hook));
    newest_event(hook, "license.disabling", soon);
    newest_event(hook, "license.stale", stale);
    T_CHECK(soon[0] != '\0');
    T_REQUIRE(stale[0] != '\0');
    T_CHECK(rx_wait(stale, "id", 1));
    int valid = 0;
    T_EQ_INT(rx_count(stale, "id", &valid), 1);
    T_EQ_INT(valid, 1);
    struct th_resp r;
    th_req(&site.srv, "GET", "/license", TH_ADMIN_KEY, NULL, &r);
    T_EQ_STR(th_str(&r, "status"), "stale");
    th_resp_free(&r);
    deliveries(&site.srv, hook, &r);
    json_t *a = json_array_get(json_object_get(r.json, "data"), 0);
    T_EQ_STR(tl_text(a, "eventType"), "license.stale");
    T_EQ_STR(tl_text(a, "outcome"), "delivered");
    T_EQ_STR(tl_text(json_object_get(json_object_get(a, "payload"), "data"), "status"), "stale");
    /* The log as the API returns it, for the record. */
    char *text = json_dumps(r.json, JSON_INDENT(2));
    for (char *line = text, *next; line != NULL && *line; line = next) {
        next = strchr(line, '\n');
        if (next != NULL)
            *next++ = '\0';
        printf("# log: %s\n", line);
    }
    free(text);
    th_resp_free(&r);
}

int main(void)
{
    rx_init();
    if (!tl_backend_init(&backend, "hooks")) {
        printf("Bail out! no backend\n");
        return 1;
    }
    snprintf(env_url, sizeof env_url, "ALLOT_AUTHORITY_URL=%s", backend.http.base);
    tl_site_start(&site, hook_env);
    if (!rx_start()) {
        printf("Bail out! the receiver did not start\n");
        tl_site_stop(&site);
        return 1;
    }
    T_RUN(test_bad_input_changes_nothing);
    T_RUN(test_secret_shown_once);
    T_RUN(test_allotment_event_signed);
    T_RUN(test_receiver_down_then_back);
    T_RUN(test_sigkill_after_commit);
    T_RUN(test_sigkill_mid_delivery);
    T_RUN(test_two_instances_deliver_once);
    T_RUN(test_stale_alert);
    rx_stop();
    tl_backend_remove(&backend);
    int rc = tl_site_stop(&site);
    T_EQ_INT(rc, 0);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", rx.dir);
    if (t_state.failed_tests == 0 && system(cmd) != 0)
        printf("# could not remove %s\n", rx.dir);
    return t_done();
}

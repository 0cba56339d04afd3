/* Trusting the license backend (API.md, "The sync protocol"): a fake backend
 * answers with replies that must be refused, then a correct one; the real
 * allot-authority with two allotd instances on one database (one sync per
 * interval), revocation, the token conversion handed over by a new definition,
 * and a license signed "in the future" of a site whose clock was set back. */
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "allot/sync_protocol.h"
#include "tlicense.h"

T_DEFINE_STATE;

/* ---- a fake license backend: one thread, one connection at a time --------- */

enum fake_mode {
    GOOD, OTHER_KEY, REPLAY, OLD_NONCE, ALTERED, GARBAGE, HTTP500, KEY_AS_REPLY, WRONG_NUMBER,
    FOREIGN_DEFINITION, FUTURE, SLOW, HUGE,
    HOLD /* holds every request until the mode changes, then answers as GOOD */
};

static struct fake {
    int fd, port;
    pthread_t thread;
    atomic_bool stop;
    pthread_mutex_t lock;
    enum fake_mode mode;
    EVP_PKEY *good, *other;
    char first_nonce[SYNC_NONCE_LEN + 1]; /* of the first good reply */
    char *captured;                       /* the first good reply */
    int refused;                          /* requests not as the protocol says */
    atomic_int served;                    /* sync requests read */
} fake = {.fd = -1, .lock = PTHREAD_MUTEX_INITIALIZER};

static void write_all(int fd, const char *p, size_t n)
{
    for (ssize_t w; n > 0; p += w, n -= (size_t)w)
        if ((w = send(fd, p, n, MSG_NOSIGNAL)) <= 0)
            return; /* allotd gave up (a huge reply): fine */
}

static void answer(int fd, int status, const char *type, const char *body)
{
    char head[256];
    int n = snprintf(head, sizeof head, "HTTP/1.1 %d X\r\nContent-Type: %s\r\nContent-Length: "
                     "%zu\r\nConnection: close\r\n\r\n", status, type, strlen(body));
    write_all(fd, head, (size_t)n);
    write_all(fd, body, strlen(body));
}

/* The value of header name in the head (NUL-terminated copy into out). */
static void header(const char *head, const char *name, char *out, size_t len)
{
    out[0] = '\0';
    size_t n = strlen(name);
    for (const char *p = strstr(head, "\r\n"); p != NULL; p = strstr(p + 2, "\r\n"))
        if (strncasecmp(p + 2, name, n) == 0 && p[2 + n] == ':') {
            const char *v = p + 3 + n + strspn(p + 3 + n, " ");
            snprintf(out, len, "%.*s", (int)strcspn(v, "\r\n"), v);
            return;
        }
}

/* The reply of the current mode to a request that passed sync_request_parse. */
static char *reply_for(const struct sync_request *req, const char *bearer)
{
    struct sync_reply rep = {.verified_at = tl_now(), .definition = (char *)bearer};
    snprintf(rep.license_number, sizeof rep.license_number, "%s", req->license_number);
    snprintf(rep.nonce, sizeof rep.nonce, "%s", req->nonce);
    EVP_PKEY *signer = fake.good;
    char *out = NULL, *foreign = NULL;
    struct lic_license lic;
    switch (fake.mode) {
    case REPLAY: /* the very bytes of an earlier good reply */
        return strdup(fake.captured ? fake.captured : "");
    case KEY_AS_REPLY:
        return strdup(bearer);
    case GARBAGE:
        return strdup("this is not a signed reply");
    case HUGE: /* more than the 1 MiB a reply may have */
        out = calloc(2u << 20, 1);
        if (out != NULL)
            memset(out, 'A', (2u << 20) - 1);
        return out;
    case OTHER_KEY:
        signer = fake.other;
        break;
    case OLD_NONCE: /* signed by the authority, fresh, but for an earlier sync */
        snprintf(rep.nonce, sizeof rep.nonce, "%s", fake.first_nonce);
        break;
    case WRONG_NUMBER: /* about another license */
        snprintf(rep.license_number, sizeof rep.license_number, "9999");
        break;
    case FOREIGN_DEFINITION: /* carries a license key the authority did not sign */
        if (lic_verify_key(bearer, fake.good, tl_now(), &lic, NULL, NULL, 0) == LIC_OK)
            lic_issue(fake.other, &lic, &foreign, NULL, 0);
        rep.definition = foreign;
        break;
    case FUTURE: /* the backend's clock is an hour ahead */
        rep.verified_at += 3600;
        break;
    case SLOW: /* answers after allotd's ALLOT_SYNC_TIMEOUT (2 s) */
        tl_sleep_ms(3000);
        break;
    case GOOD:
    case HOLD:
    case ALTERED:
    case HTTP500:
        break;
    }
    sync_reply_sign(signer, &rep, &out);
    free(foreign);
    if (fake.mode == GOOD && fake.captured == NULL && out != NULL) {
        fake.captured = strdup(out);
        snprintf(fake.first_nonce, sizeof fake.first_nonce, "%s", req->nonce);
    }
    if (fake.mode == ALTERED && out != NULL) { /* one character of the payload */
        char *p = strchr(out, '.') + 12;
        *p = *p == 'A' ? 'B' : 'A';
    }
    return out;
}

static void serve_one(int fd)
{
    struct timeval tv = {.tv_sec = 3};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    static char buf[256 * 1024];
    size_t len = 0;
    char *end = NULL, cl[32], bearer[70000], ctype[128];
    while (len < sizeof buf - 1) {
        ssize_t n = read(fd, buf + len, sizeof buf - 1 - len);
        if (n <= 0)
            return;
        len += (size_t)n;
        buf[len] = '\0';
        if (end == NULL && (end = strstr(buf, "\r\n\r\n")) != NULL) {
            *end = '\0'; /* the head is a string of its own now */
            header(buf, "Content-Length", cl, sizeof cl);
        }
        if (end != NULL && len >= (size_t)(end + 4 - buf) + strtoul(cl, NULL, 10))
            break;
    }
    if (end == NULL)
        return;
    header(buf, "Authorization", bearer, sizeof bearer);
    header(buf, "Content-Type", ctype, sizeof ctype);
    json_t *body = json_loadb(end + 4, strtoul(cl, NULL, 10), JSON_REJECT_DUPLICATES, NULL);
    struct sync_request req;
    char why[256];
    bool ok = strncmp(buf, "POST /v1/licenses/", 18) == 0 && strncmp(bearer, "Bearer ", 7) == 0 &&
              strcmp(ctype, "application/json") == 0 &&
              sync_request_parse(body, &req, why, sizeof why);
    json_decref(body);
    atomic_fetch_add(&fake.served, 1);
    pthread_mutex_lock(&fake.lock);
    while (fake.mode == HOLD && !atomic_load(&fake.stop)) {
        pthread_mutex_unlock(&fake.lock);
        tl_sleep_ms(10);
        pthread_mutex_lock(&fake.lock);
    }
    if (!ok) {
        fake.refused++;
        answer(fd, 400, "application/json", "{\"error\":\"not a sync request\"}");
    } else if (fake.mode == HTTP500) {
        answer(fd, 500, "application/json", "{\"error\":\"boom\"}");
    } else {
        char *reply = reply_for(&req, bearer + 7);
        answer(fd, 200, SYNC_CONTENT_TYPE_REPLY, reply ? reply : "");
        free(reply);
    }
    pthread_mutex_unlock(&fake.lock);
}

static void *fake_main(void *arg)
{
    (void)arg;
    while (!atomic_load(&fake.stop)) {
        struct pollfd p = {.fd = fake.fd, .events = POLLIN};
        if (poll(&p, 1, 100) <= 0)
            continue;
        int c = accept(fake.fd, NULL, NULL);
        if (c >= 0) {
            serve_one(c);
            close(c);
        }
    }
    return NULL;
}

static bool fake_start(void)
{
    fake.fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof a;
    if (fake.fd < 0 || bind(fake.fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        listen(fake.fd, 16) != 0 || getsockname(fake.fd, (struct sockaddr *)&a, &alen) != 0)
        return false;
    fake.port = ntohs(a.sin_port);
    return pthread_create(&fake.thread, NULL, fake_main, NULL) == 0;
}

static void fake_stop(void)
{
    if (fake.fd < 0)
        return;
    atomic_store(&fake.stop, true);
    pthread_join(fake.thread, NULL);
    close(fake.fd);
    fake.fd = -1;
}

static void fake_mode(enum fake_mode m)
{
    pthread_mutex_lock(&fake.lock); /* waits for a reply being made */
    fake.mode = m;
    pthread_mutex_unlock(&fake.lock);
}

/* ---- the real allot-authority --------------------------------------------------- */

static struct tl_backend auth;

static const char *authority_bin(void)
{
    const char *bin = getenv("ALLOT_AUTHORITY");
    return bin ? bin : "build/allot-authority";
}

/* `allot-authority ARGS...` with stdout discarded; its exit status. */
static int authority_run(const char *const *args)
{
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        dup2(null, 1);
        execv(authority_bin(), (char *const *)(void *)args);
        _exit(127);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static struct tl_site site;

/* The license of the two-instance story below (and its revocation): a number
 * of its own, so no other test point's syncs count in it. */
#define STORY_NUMBER "1100"

static long long sync_count(void) /* of STORY_NUMBER */
{
    struct th_resp r;
    long long n = tl_backend_state(&auth, STORY_NUMBER, site.db.url, &r) && r.status == 200
                      ? tl_int(r.json, "syncCount") : -1;
    th_resp_free(&r);
    return n;
}

static struct th_server srv_a, srv_b, srv_c;

static int64_t verified_at(const struct th_server *s)
{
    struct th_resp r;
    th_req(s, "GET", "/license", TH_ADMIN_KEY, NULL, &r);
    int64_t t = tl_time(r.json, "lastVerifiedAt");
    th_resp_free(&r);
    return t;
}

/* A forced sync that must fail: 502, lastVerifiedAt unchanged, the reason named. */
static void expect_refused(enum fake_mode m, const char *reason)
{
    fake_mode(m);
    int64_t before = verified_at(&site.srv);
    struct th_resp r;
    T_CHECK(th_req(&site.srv, "POST", "/license/actions/sync", TH_ADMIN_KEY, NULL, &r));
    T_ERROR(r, 502, "LICENSES-BackendUnavailable");
    T_CHECK(strstr(th_str(&r, "message"), reason) != NULL);
    th_resp_free(&r);
    T_CHECK(th_req(&site.srv, "GET", "/license", TH_ADMIN_KEY, NULL, &r));
    T_EQ_INT(tl_time(r.json, "lastVerifiedAt"), before);
    if (strstr(tl_text(r.json, "lastSyncError"), reason) == NULL)
        T_EQ_STR(tl_text(r.json, "lastSyncError"), reason); /* shows what it says instead */
    th_resp_free(&r);
}

/* ---- trust: the fake backend ----------------------------------------------------------- */

static void test_first_sync_is_good(void)
{
    struct th_resp r;
    T_CHECK(th_req(&site.srv, "POST", "/license/actions/sync", TH_ADMIN_KEY, NULL, &r));
    T_ERROR(r, 403, "LICENSES-NoLicense"); /* nothing to sync yet */
    th_resp_free(&r);
    char iat[24];
    snprintf(iat, sizeof iat, "%lld", (long long)(tl_now() - 30));
    T_REQUIRE(tl_apply(&site.srv, &site.auth, "--professional", "2", "--iat", iat, NULL));
    T_CHECK(verified_at(&site.srv) >= tl_now() - 1); /* the PUT synced */
    T_CHECK(fake.captured != NULL); /* no other sync runs: the interval is 1 h */
    tl_sleep_ms(1100); /* a reply accepted by mistake would now move lastVerifiedAt */
}

/* Each of these replies is refused: 502, lastVerifiedAt stays, the reason is kept. */
static void test_refused_replies(void)
{
    expect_refused(OTHER_KEY, "signature does not verify");
    expect_refused(REPLAY, "the nonce is not the one sent");    /* the very bytes of before */
    expect_refused(OLD_NONCE, "the nonce is not the one sent"); /* fresh, for an old nonce */
    expect_refused(ALTERED, "signature does not verify");
    expect_refused(GARBAGE, "malformed");
    expect_refused(KEY_AS_REPLY, "wrong document type");
    expect_refused(WRONG_NUMBER, "the reply is for license 9999, not 1000");
    expect_refused(FOREIGN_DEFINITION, "definition");
    expect_refused(HTTP500, "HTTP 500");
    T_CHECK(th_log_contains(&site.srv, "license sync failed: the license backend answered HTTP 500"));
    expect_refused(HUGE, "cannot reach the license backend");
}

static void test_backend_too_slow(void)
{
    double t0 = tl_now_f();
    expect_refused(SLOW, "Timeout was reached");
    double took = tl_now_f() - t0;
    printf("# a backend that does not answer: 502 after %.1f s (ALLOT_SYNC_TIMEOUT=2s)\n", took);
    T_CHECK(took < 5.5); /* a background sync in flight may delay it by one more timeout */
}

static bool log_line_with(const struct th_server *s, const char *a, const char *b, const char *c);

/* Syncs on demand while the backend hangs (issue 11): they run on the sync
 * thread only; one request waits ALLOT_SYNC_WAIT for its sync, then answers
 * 202 with Location: /license, and the others, while it waits or after its
 * wait ran out, answer 202 at once.  So sixteen of them on a server of two workers leave a worker to the
 * rest, and all answer while the backend still holds the sync; they share
 * the syncs that follow. */
#define ASKERS 16

static struct th_server srv_hold;

static void *ask_sync(void *arg)
{
    struct th_resp *r = arg;
    if (!th_req(&srv_hold, "POST", "/license/actions/sync", TH_ADMIN_KEY, NULL, r))
        r->status = -1;
    return NULL;
}

static void test_sync_requests_take_one_worker(void)
{
    fake_mode(GOOD);
    char env_url[64];
    snprintf(env_url, sizeof env_url, "ALLOT_AUTHORITY_URL=http://127.0.0.1:%d", fake.port);
    const char *env[] = {env_url, "ALLOT_THREADS=2", "ALLOT_SYNC_WAIT=1s",
                         "ALLOT_SYNC_TIMEOUT=30s", "ALLOT_SYNC_INTERVAL=1h", NULL};
    T_REQUIRE(tl_site_add_server(&site, &srv_hold, env));
    fake_mode(HOLD);
    int served0 = atomic_load(&fake.served);
    static struct th_resp asked[ASKERS];
    pthread_t askers[ASKERS];
    for (int i = 0; i < ASKERS; i++)
        pthread_create(&askers[i], NULL, ask_sync, &asked[i]);
    /* While they ask, the server answers the rest. */
    struct th_resp r;
    T_CHECK(th_req(&srv_hold, "GET", "/license", TH_ADMIN_KEY, NULL, &r));
    T_STATUS(r, 200);
    th_resp_free(&r);
    for (int i = 0; i < ASKERS; i++)
        pthread_join(askers[i], NULL);
    int accepted = 0;
    for (int i = 0; i < ASKERS; i++) {
        char location[64] = "";
        th_header(&asked[i], "Location", location, sizeof location);
        accepted += asked[i].status == 202 && strcmp(location, "/license") == 0 &&
                    strcmp(th_str(&asked[i], "status"), "ok") == 0;
        if (asked[i].status != 202)
            printf("# asker %d: %ld %s\n", i, asked[i].status, th_error_type(&asked[i]));
        th_resp_free(&asked[i]);
    }
    T_EQ_INT(accepted, ASKERS);
    /* Every one answered while the backend still held the sync. */
    int held = atomic_load(&fake.served) - served0;
    T_EQ_INT(held, 1);
    T_CHECK(th_log_contains(&srv_hold, "license sync under way"));
    int64_t before = verified_at(&srv_hold);
    fake_mode(GOOD);
    /* The held sync and one more, which the others share, follow (and perhaps
     * a retry of the first server, whose last sync failed). */
    int64_t deadline = tl_now() + 20;
    while (verified_at(&srv_hold) <= before && tl_now() < deadline)
        tl_sleep_ms(50);
    T_CHECK(verified_at(&srv_hold) > before);
    T_CHECK(th_log_wait(&srv_hold, "verified with the backend", 5000));
    T_CHECK(atomic_load(&fake.served) - served0 <= 3);
    /* With the backend answering, the sync is over within the wait: 200. */
    T_CHECK(th_req(&srv_hold, "POST", "/license/actions/sync", TH_ADMIN_KEY, NULL, &r));
    T_STATUS(r, 200);
    th_resp_free(&r);
    /* lastVerifiedAt counts seconds: the next test point's sync must move it */
    int64_t last = verified_at(&srv_hold);
    T_EQ_INT(th_server_stop(&srv_hold), 0);
    while (tl_now() <= last)
        tl_sleep_ms(20);
}

static void test_correct_reply_is_accepted(void)
{
    fake_mode(GOOD);
    int64_t before = verified_at(&site.srv);
    struct th_resp r;
    T_CHECK(th_req(&site.srv, "POST", "/license/actions/sync", TH_ADMIN_KEY, NULL, &r));
    T_STATUS(r, 200);
    T_EQ_STR(th_str(&r, "status"), "ok");
    T_CHECK(tl_time(r.json, "lastVerifiedAt") > before);
    T_CHECK(json_is_null(json_object_get(r.json, "lastSyncError")));
    th_resp_free(&r);
    /* A good reply that the database cannot record is a failed sync: 502,
     * lastVerifiedAt unchanged, nothing logged as verified (issue 11). */
    char *made = th_sql(site.db.url,
        "CREATE FUNCTION public.refuse_verification() RETURNS trigger LANGUAGE plpgsql AS"
        " $$BEGIN RAISE EXCEPTION 'the test refuses it'; END$$;"
        "CREATE TRIGGER refuse_verification BEFORE UPDATE OF last_verified_at ON license"
        " FOR EACH ROW EXECUTE FUNCTION public.refuse_verification()");
    free(made);
    before = verified_at(&site.srv);
    T_CHECK(th_req(&site.srv, "POST", "/license/actions/sync", TH_ADMIN_KEY, NULL, &r));
    T_ERROR(r, 502, "LICENSES-BackendUnavailable");
    T_CHECK(strstr(th_str(&r, "message"), "could not be recorded") != NULL);
    char corr[80] = "";
    th_header(&r, "X-Correlation-Id", corr, sizeof corr);
    th_resp_free(&r);
    T_EQ_INT(verified_at(&site.srv), before);
    T_CHECK(log_line_with(&site.srv, corr, "could not be recorded", "\"level\":\"warn\""));
    T_CHECK(!log_line_with(&site.srv, corr, "verified with the backend", "\"level\""));
    made = th_sql(site.db.url, "DROP TRIGGER refuse_verification ON license;"
                               "DROP FUNCTION public.refuse_verification()");
    free(made);
    while (tl_now() <= before) /* lastVerifiedAt counts seconds */
        tl_sleep_ms(20);
    /* A backend whose clock is ahead cannot push lastVerifiedAt past our now. */
    fake_mode(FUTURE);
    T_CHECK(th_req(&site.srv, "POST", "/license/actions/sync", TH_ADMIN_KEY, NULL, &r));
    T_STATUS(r, 200);
    T_EQ_STR(th_str(&r, "status"), "ok");
    T_CHECK(tl_time(r.json, "lastVerifiedAt") <= tl_now());
    th_resp_free(&r);
    T_EQ_INT(th_server_stop(&site.srv), 0);
    fake_stop();
    T_EQ_INT(fake.refused, 0); /* every request of allotd followed the protocol */
}

/* ---- the real authority ------------------------------------------------------------------ */

static char alice[TL_ID_LEN];

static void test_two_instances_sync_once_per_interval(void)
{
    T_REQUIRE(tl_reset(site.db.url));
    static char env_url[128];
    snprintf(env_url, sizeof env_url, "ALLOT_AUTHORITY_URL=%s", auth.http.base);
    const char *env[] = {env_url, "ALLOT_SYNC_INTERVAL=2s", "ALLOT_SYNC_TIMEOUT=2s", NULL};
    T_REQUIRE(tl_site_add_server(&site, &srv_a, env));
    T_REQUIRE(tl_site_add_server(&site, &srv_b, env));
    T_REQUIRE(tl_apply(&srv_a, &site.auth, "--license-number", STORY_NUMBER, "--professional", "2",
                       NULL));
    T_REQUIRE(tl_user(&srv_a, "CORP", "alice", NULL, alice));
    T_EQ_INT(tl_alloc(&srv_b, alice, "professional", NULL, NULL, 0), 201);
    long long c0 = sync_count();
    double t0 = tl_now_f();
    /* Wait for four more syncs (a deadline, not a fixed sleep), then count the
     * intervals that took: two instances must not sync twice per interval. */
    long long c1 = c0;
    while (c1 < c0 + 4 && tl_now_f() < t0 + 40) {
        tl_sleep_ms(100);
        c1 = sync_count();
    }
    long long intervals = (long long)((tl_now_f() - t0) / 2.0) + 1;
    printf("# %lld syncs in %lld intervals of 2 s by two instances\n", c1 - c0, intervals);
    T_CHECK(c0 >= 1);
    T_CHECK(c1 >= c0 + 4);
    T_CHECK(c1 - c0 <= intervals + 1);
    /* The authority learned the site's assignments. */
    struct th_resp r;
    T_CHECK(tl_backend_state(&auth, STORY_NUMBER, site.db.url, &r));
    T_EQ_INT(tl_int(json_object_get(r.json, "assignments"), "professional"), 1);
    T_CHECK(json_is_false(json_object_get(r.json, "revoked")));
    /* Both instances sync as one site: the id the database keeps, the same
     * across restarts (not the process's, issue 11). */
    char *site_id = th_sql(site.db.url, "SELECT id FROM site");
    T_REQUIRE(site_id != NULL && site_id[0] != '\0');
    T_EQ_STR(tl_text(r.json, "site"), site_id);
    th_resp_free(&r);
    T_EQ_INT(th_server_stop(&srv_b), 0);
    T_REQUIRE(tl_site_add_server(&site, &srv_b, env));
    T_CHECK(th_req(&srv_b, "POST", "/license/actions/sync", TH_ADMIN_KEY, NULL, &r));
    T_STATUS(r, 200);
    th_resp_free(&r);
    T_CHECK(tl_backend_state(&auth, STORY_NUMBER, site.db.url, &r));
    T_EQ_STR(tl_text(r.json, "site"), site_id);
    free(site_id);
    th_resp_free(&r);
    T_CHECK(verified_at(&srv_b) >= tl_now() - 3);
}

/* Whether a line of the server's log holds all three texts (waits up to 5 s
 * for it: the log is written in the background). */
static bool log_line_with(const struct th_server *s, const char *a, const char *b, const char *c)
{
    for (int waited = 0; waited < 5000; waited += 50) {
        char *text = th_file_text(s->log_path);
        bool found = false;
        for (char *line = text ? strtok(text, "\n") : NULL; line != NULL && !found;
             line = strtok(NULL, "\n"))
            found = strstr(line, a) && strstr(line, b) && strstr(line, c);
        free(text);
        if (found)
            return true;
        tl_sleep_ms(50);
    }
    return false;
}

static void test_revocation(void)
{
    char sid[TL_ID_LEN], access[32], path[96];
    T_EQ_INT(tl_session_access(&srv_a, alice, sid, access, sizeof access), 201);
    const char *args[] = {"allot-authority", "revoke", "--state-dir", auth.dir, STORY_NUMBER, NULL};
    T_EQ_INT(authority_run(args), 0);
    struct th_resp r;
    T_CHECK(th_req(&srv_a, "POST", "/license/actions/sync", TH_ADMIN_KEY, NULL, &r));
    T_STATUS(r, 200);
    T_EQ_STR(th_str(&r, "status"), "revoked");
    /* logged as a warning, with the corrId of the request that asked */
    char corr[80] = "";
    T_CHECK(th_header(&r, "X-Correlation-Id", corr, sizeof corr));
    th_resp_free(&r);
    T_CHECK(log_line_with(&srv_a, "\"level\":\"warn\"", "it is REVOKED", corr));
    T_CHECK(th_req(&srv_b, "GET", "/license", TH_ADMIN_KEY, NULL, &r)); /* the other instance too */
    T_EQ_STR(th_str(&r, "status"), "revoked");
    th_resp_free(&r);
    T_EQ_INT(tl_session(&srv_b, alice, &r), 403); /* her professional pass does not help */
    T_EQ_STR(th_error_type(&r), "LICENSES-NoLicense");
    T_EQ_STR(th_str(&r, "resultCode"), "LicenseNotAvailable");
    th_resp_free(&r);
    snprintf(path, sizeof path, "/sessions/%s/heartbeat", sid);
    T_CHECK(th_req(&srv_b, "POST", path, TH_ADMIN_KEY, NULL, &r));
    T_ERROR(r, 403, "LICENSES-NoLicense");
    T_EQ_STR(th_str(&r, "resultCode"), "LicenseNotAvailable");
    th_resp_free(&r);
    char u[TL_ID_LEN];
    T_REQUIRE(tl_user(&srv_b, "CORP", "bob", NULL, u));
    char err[64];
    T_EQ_INT(tl_alloc(&srv_a, u, "professional", NULL, err, sizeof err), 403);
    T_EQ_STR(err, "LICENSES-NoLicense");
    /* Lifted: the next sync brings the license back. */
    const char *undo[] = {"allot-authority", "revoke", "--undo", "--state-dir", auth.dir,
                          STORY_NUMBER, NULL};
    T_EQ_INT(authority_run(undo), 0);
    T_CHECK(th_req(&srv_b, "POST", "/license/actions/sync", TH_ADMIN_KEY, NULL, &r));
    T_STATUS(r, 200);
    T_EQ_STR(th_str(&r, "status"), "ok");
    th_resp_free(&r);
    T_EQ_INT(tl_alloc(&srv_a, u, "professional", NULL, NULL, 0), 201);
}

static void test_conversion_at_next_sync(void)
{
    T_REQUIRE(tl_reset(site.db.url));
    char iat[24], past[32], path[96];
    snprintf(iat, sizeof iat, "%lld", (long long)(tl_now() - 5));
    T_REQUIRE(tl_apply(&srv_a, &site.auth, "--license-number", "3000", "--tokens", "2",
                       "--professional", "1", "--iat", iat, NULL));
    char u[TL_ID_LEN], alloc[TL_ID_LEN], rule[TL_ID_LEN];
    T_REQUIRE(tl_user(&srv_a, "CORP", "frank", "[\"Sales\"]", u));
    T_EQ_INT(tl_alloc(&srv_a, u, "user", alloc, NULL, 0), 201);
    T_EQ_INT(tl_rule(&srv_a, "Sales login", "login", "{\"groups\":[\"Sales\"]}", 1, rule), 201);
    char access[32], sid[TL_ID_LEN];
    T_EQ_INT(tl_session_access(&srv_a, u, sid, access, sizeof access), 201);
    T_EQ_STR(access, "user");

    /* The vendor records the converted definition; the next sync hands it over. */
    int64_t converted = tl_now() - 3600;
    tl_rfc3339(converted, past, sizeof past);
    char *k2 = tl_issue(&site.auth, "--license-number", "3000", "--tokens", "2", "--professional",
                        "1", "--conversion-date", past, "--state-dir", auth.dir, NULL);
    T_REQUIRE(k2 != NULL);
    free(k2);
    struct th_resp r;
    T_CHECK(th_req(&srv_b, "POST", "/license/actions/sync", TH_ADMIN_KEY, NULL, &r));
    T_STATUS(r, 200);
    T_EQ_STR(th_str(&r, "status"), "ok");
    T_CHECK(llabs(tl_time(r.json, "conversionDate") - converted) <= 2);
    th_resp_free(&r);

    snprintf(path, sizeof path, "/allocations/%s", alloc);
    T_CHECK(th_req(&srv_a, "GET", path, TH_ADMIN_KEY, NULL, &r));
    T_ERROR(r, 404, "LICENSES-NotFound");
    th_resp_free(&r);
    T_EQ_INT(th_sql_long(site.db.url, "SELECT count(*) FROM allocations WHERE type = 'user'"), 0);
    snprintf(path, sizeof path, "/allocations/rules/%s", rule);
    T_CHECK(th_req(&srv_a, "GET", path, TH_ADMIN_KEY, NULL, &r));
    T_STATUS(r, 200);
    T_EQ_INT(tl_int(r.json, "tokens"), 0);
    th_resp_free(&r);
    snprintf(path, sizeof path, "/sessions/%s", sid); /* her session on the pass ended */
    T_CHECK(th_req(&srv_a, "GET", path, TH_ADMIN_KEY, NULL, &r));
    T_CHECK(json_is_string(json_object_get(r.json, "endedAt")));
    th_resp_free(&r);
    /* The seed's ending: the user now has no access pass. */
    T_EQ_INT(tl_session(&srv_a, u, &r), 403);
    T_EQ_STR(th_error_type(&r), "LICENSES-NoAccessPass");
    th_resp_free(&r);
    /* Regression: after the conversion date no token pass is handed out any
     * more (once they were granted, then removed by the next sync). */
    char err[64];
    T_EQ_INT(tl_alloc(&srv_a, u, "user", NULL, err, sizeof err), 409);
    T_EQ_STR(err, "LICENSES-NoAvailableAllotment");
    T_EQ_INT(tl_rule(&srv_a, "Sales login 2", "login", "{\"groups\":[\"Sales\"]}", 1, NULL), 409);
    T_EQ_INT(th_server_stop(&srv_a), 0);
    T_EQ_INT(th_server_stop(&srv_b), 0);
}

static void test_clock_set_back_is_stale(void)
{
    T_REQUIRE(tl_reset(site.db.url));
    /* No ALLOT_AUTHORITY_URL: nothing can verify the license but its key. */
    T_REQUIRE(tl_site_add_server(&site, &srv_c, (const char *[]){"ALLOT_SYNC_INTERVAL=2s", NULL}));
    char iat[24];
    int64_t signed_at = tl_now() + 3600;
    snprintf(iat, sizeof iat, "%lld", (long long)signed_at);
    T_REQUIRE(tl_apply(&srv_c, &site.auth, "--professional", "1", "--iat", iat, NULL));
    struct th_resp r;
    T_CHECK(th_req(&srv_c, "GET", "/license", TH_ADMIN_KEY, NULL, &r));
    T_EQ_STR(th_str(&r, "status"), "stale");
    T_EQ_INT(tl_time(r.json, "lastVerifiedAt"), signed_at);
    th_resp_free(&r);
    char u[TL_ID_LEN];
    T_REQUIRE(tl_user(&srv_c, "CORP", "gina", NULL, u));
    T_EQ_INT(tl_session(&srv_c, u, &r), 403);
    T_EQ_STR(th_error_type(&r), "LICENSES-OutdatedLicense");
    T_EQ_STR(th_str(&r, "message"), "Too much time has passed since the last license update");
    th_resp_free(&r);
    char err[64];
    T_EQ_INT(tl_alloc(&srv_c, u, "professional", NULL, err, sizeof err), 403);
    T_EQ_STR(err, "LICENSES-OutdatedLicense");
    T_EQ_INT(th_server_stop(&srv_c), 0);
}

static void test_authority_stops_cleanly(void)
{
    T_EQ_INT(tl_backend_stop(&auth), 0);
}

int main(void)
{
    bool made = tl_backend_init(&auth, "sync");
    fake.other = lic_key_generate();
    if (fake.other == NULL || !fake_start()) {
        printf("Bail out! cannot start the fake backend\n");
        return 1;
    }
    char env_url[64], why[256] = "mkdtemp failed";
    snprintf(env_url, sizeof env_url, "ALLOT_AUTHORITY_URL=http://127.0.0.1:%d", fake.port);
    tl_site_start(&site, (const char *[]){env_url, "ALLOT_SYNC_INTERVAL=1h",
                                          "ALLOT_SYNC_TIMEOUT=2s", NULL});
    fake.good = made ? lic_key_load_private_file(site.auth.key_path, why, sizeof why) : NULL;
    if (fake.good == NULL || !tl_backend_start(&auth, site.auth.key_path)) {
        printf("Bail out! %s\n", fake.good ? "allot-authority serve did not start" : why);
        tl_backend_remove(&auth);
        fake_stop();
        tl_site_stop(&site);
        return 1;
    }

    T_RUN(test_first_sync_is_good);
    T_RUN(test_refused_replies);
    T_RUN(test_backend_too_slow);
    T_RUN(test_sync_requests_take_one_worker);
    T_RUN(test_correct_reply_is_accepted);
    T_RUN(test_two_instances_sync_once_per_interval);
    T_RUN(test_revocation);
    T_RUN(test_conversion_at_next_sync);
    T_RUN(test_clock_set_back_is_stale);
    T_RUN(test_authority_stops_cleanly);

    fake_stop();
    th_server_stop(&srv_a);
    th_server_stop(&srv_b);
    th_server_stop(&srv_c);
    tl_site_stop(&site);
    EVP_PKEY_free(fake.good);
    EVP_PKEY_free(fake.other);
    free(fake.captured);
    tl_backend_remove(&auth);
    return t_done();
}

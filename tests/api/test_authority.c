/* The license authority as a service (issue 12): its state in PostgreSQL
 * shared by two `allot-authority serve` instances, several sites syncing
 * through both, a revocation seen through either, an instance killed while
 * sites sync, `import` of a state directory, key rotation from end to end, the
 * per-license sync rate limit (429 + Retry-After, and allotd backing off), and
 * /health, /ready, /metrics and /v1/sites.
 *
 * Each site is a database of its own with two allotd processes: A syncs
 * through authority instance 1, B through instance 2 (what a load balancer
 * in front of both would do from one sync to the next). */
#include <pthread.h>
#include <stdarg.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "allot/license.h"
#include "tlicense.h"

T_DEFINE_STATE;

#define NSITES 3
#define ADMIN "vendor-admin-key-0123456789abcdef"

struct site {
    struct th_db db;
    struct th_server a, b; /* a: through authority 1, b: through authority 2 */
    char number[16];
};

static struct th_db adb;                   /* the authority's database */
static struct tl_authority k1, k2, k3;     /* k1 signs first; k2 the next; k3 a stranger */
static struct tl_backend b1, b2;
static struct site sites[NSITES];
static char admin_file[256];

/* ---- helpers ------------------------------------------------------------------ */

static const char *authority_bin(void)
{
    const char *p = getenv("ALLOT_AUTHORITY");
    return p ? p : "build/allot-authority";
}

/* Runs `allot-authority ARGS` through the shell; stdout into out (may be NULL).
 * Returns the exit status. */
static int authority(char *out, size_t outlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int authority(char *out, size_t outlen, const char *fmt, ...)
{
    char args[2048], cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    snprintf(cmd, sizeof cmd, "'%s' %s 2>&1", authority_bin(), args);
    fflush(stdout);
    FILE *f = popen(cmd, "r");
    if (f == NULL)
        return -1;
    size_t n = 0;
    char sink[512];
    char *buf = out != NULL ? out : sink;
    size_t cap = out != NULL ? outlen : sizeof sink;
    size_t got;
    while ((got = fread(buf + (out != NULL ? n : 0), 1,
                        out != NULL ? cap - 1 - n : cap - 1, f)) > 0)
        if (out != NULL)
            n += got;
    if (out != NULL)
        out[n] = '\0';
    int st = pclose(f);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Instances 1 and 2 without a rate limit (the kill test syncs in a loop);
 * test_rate_limit starts one of its own with a limit. */
static bool start_backend(struct tl_backend *b, const char *key, const char *const *extra)
{
    const char *args[24];
    size_t n = 0;
    args[n++] = "--admin-key-file";
    args[n++] = admin_file;
    if (extra == NULL || strcmp(extra[0], "--sync-rate-limit") != 0) {
        args[n++] = "--sync-rate-limit";
        args[n++] = "0";
    }
    for (size_t i = 0; extra != NULL && extra[i] != NULL && n < 22; i++)
        args[n++] = extra[i];
    args[n] = NULL;
    return tl_backend_start_with(b, key, args);
}

static bool start_allotd(struct th_server *srv, const char *url, const struct tl_backend *b,
                         const char *pub_env)
{
    char env_url[128];
    snprintf(env_url, sizeof env_url, "ALLOT_AUTHORITY_URL=%s", b->http.base);
    const char *env[] = {pub_env, env_url, "ALLOT_SYNC_INTERVAL=1h", "ALLOT_SYNC_TIMEOUT=3s",
                         NULL};
    return th_server_start(srv, url, env, true);
}

/* POST /license/actions/sync; the status, and the license's status into st. */
static long sync_site(const struct th_server *srv, char *st, size_t len)
{
    struct th_resp r;
    long code = th_req(srv, "POST", "/license/actions/sync", TH_ADMIN_KEY, NULL, &r) ? r.status
                                                                                     : -1;
    snprintf(st, len, "%s", code == 200 ? th_str(&r, "status") : th_str(&r, "message"));
    th_resp_free(&r);
    return code;
}

/* What the authority's database recorded of a license. */
static long sync_count(const char *number)
{
    return th_sql_longf(adb.url, "SELECT sync_count FROM authority.licenses WHERE "
                        "license_number = '%s'", number);
}

/* ---- two instances, one database ------------------------------------------------ */

static void test_two_instances_one_database(void)
{
    char st[300];
    for (int i = 0; i < NSITES; i++) {
        struct site *s = &sites[i];
        T_EQ_INT(sync_site(&s->a, st, sizeof st), 200);
        T_EQ_STR(st, "ok");
        T_EQ_INT(sync_site(&s->b, st, sizeof st), 200);
        T_EQ_STR(st, "ok");
        /* Both instances wrote the one row of that license. */
        T_CHECK(sync_count(s->number) >= 3);
    }
    /* Either instance shows the same record. */
    struct th_resp r1, r2;
    T_CHECK(tl_backend_state(&b1, sites[0].number, sites[0].db.url, &r1));
    T_CHECK(tl_backend_state(&b2, sites[0].number, sites[0].db.url, &r2));
    T_EQ_INT(r1.status, 200);
    T_EQ_INT(tl_int(r1.json, "syncCount"), tl_int(r2.json, "syncCount"));
    th_resp_free(&r1);
    th_resp_free(&r2);

    /* Revoke one license through instance 1 (HTTP, the vendor's admin key),
     * another on the database (the command); every site learns it through
     * instance 2, and through instance 1 too. */
    char path[64];
    snprintf(path, sizeof path, "/v1/licenses/%s/revocation", sites[0].number);
    T_CHECK(th_req(&b1.http, "PUT", path, NULL, NULL, &r1));
    T_EQ_INT(r1.status, 401);
    th_resp_free(&r1);
    T_CHECK(th_req(&b1.http, "PUT", path, ADMIN, NULL, &r1));
    T_EQ_INT(r1.status, 200);
    T_CHECK(json_is_true(json_object_get(r1.json, "revoked")));
    th_resp_free(&r1);
    T_EQ_INT(authority(NULL, 0, "revoke --database '%s' %s", adb.url, sites[2].number), 0);
    for (int i = 0; i < NSITES; i++) {
        T_EQ_INT(sync_site(&sites[i].b, st, sizeof st), 200);
        T_EQ_STR(st, i == 1 ? "ok" : "revoked");
        T_EQ_INT(sync_site(&sites[i].a, st, sizeof st), 200);
        T_EQ_STR(st, i == 1 ? "ok" : "revoked");
    }
    char sid[TL_ID_LEN];
    T_CHECK(tl_user(&sites[0].a, "CORP", "rev", NULL, sid));
    tl_expect_refused(&sites[0].b, sid, 403, "LICENSES-NoLicense", "LicenseNotAvailable");
    T_CHECK(th_req(&b2.http, "DELETE", path, ADMIN, NULL, &r1)); /* lifted through 2 */
    T_EQ_INT(r1.status, 200);
    th_resp_free(&r1);
    T_EQ_INT(authority(NULL, 0, "revoke --database '%s' --undo %s", adb.url, sites[2].number),
             0);
    for (int i = 0; i < NSITES; i++) {
        T_EQ_INT(sync_site(&sites[i].b, st, sizeof st), 200);
        T_EQ_STR(st, "ok");
    }
}

/* ---- one instance killed while sites sync ----------------------------------------- */

struct syncer {
    struct site *s;
    atomic_bool *stop;
    long ok;      /* 200s this site got through instance 1 */
    long other;   /* anything else (the instance went away) */
};

static void *sync_loop(void *arg)
{
    struct syncer *y = arg;
    char st[300];
    while (!atomic_load(y->stop)) {
        long code = sync_site(&y->s->a, st, sizeof st);
        if (code == 200)
            y->ok++;
        else
            y->other++;
    }
    return NULL;
}

static void test_instance_killed(void)
{
    long before[NSITES];
    for (int i = 0; i < NSITES; i++) {
        before[i] = sync_count(sites[i].number);
        /* What the site records before the failover: one allocation each. */
        char uid[TL_ID_LEN];
        T_CHECK(tl_user(&sites[i].a, "CORP", "kill", NULL, uid));
        T_EQ_INT(tl_alloc(&sites[i].a, uid, "professional", NULL, NULL, 0), 201);
    }
    atomic_bool stop = false;
    struct syncer ys[NSITES];
    pthread_t th[NSITES];
    for (int i = 0; i < NSITES; i++) {
        ys[i] = (struct syncer){.s = &sites[i], .stop = &stop};
        pthread_create(&th[i], NULL, sync_loop, &ys[i]);
    }
    /* Kill instance 1 once every site has synced through it at least twice. */
    for (int i = 0; i < NSITES; i++)
        th_wait_sql(adb.url, 1, 20.0, "SELECT (sync_count >= %ld)::int FROM authority.licenses "
                    "WHERE license_number = '%s'", before[i] + 2, sites[i].number);
    kill(b1.pid, SIGKILL);
    int status;
    waitpid(b1.pid, &status, 0);
    b1.pid = 0;
    tl_sleep_ms(300); /* let each loop meet the dead instance (no assertion on time) */
    atomic_store(&stop, true);
    char st[300];
    for (int i = 0; i < NSITES; i++) {
        pthread_join(th[i], NULL);
        printf("# site %d: %ld syncs answered by instance 1, %ld failed once it was killed\n",
               i, ys[i].ok, ys[i].other);
        T_CHECK(ys[i].ok >= 1);
        /* The next sync, through the other instance, succeeds. */
        T_EQ_INT(sync_site(&sites[i].b, st, sizeof st), 200);
        T_EQ_STR(st, "ok");
        /* Nothing lost: every sync a site was answered is counted, and the
         * last one carries what the site recorded. */
        T_CHECK(sync_count(sites[i].number) >= before[i] + ys[i].ok + 1);
        T_EQ_INT(th_sql_longf(adb.url, "SELECT (assignments->>'professional')::int FROM "
                              "authority.licenses WHERE license_number = '%s'",
                              sites[i].number), 1);
        T_EQ_INT(th_sql_long(sites[i].db.url, "SELECT count(*) FROM allocations"), 1);
    }
    /* Instance 1 comes back on the same database and answers at once. */
    T_REQUIRE(start_backend(&b1, k1.key_path, NULL));
    T_EQ_INT(sync_site(&sites[0].a, st, sizeof st), 200);
}

/* ---- import ------------------------------------------------------------------------ */

static void test_import(void)
{
    char dir[160], out[4096];
    snprintf(dir, sizeof dir, "%s/import-state", b1.dir); /* removed with b1 */
    T_EQ_INT(authority(out, sizeof out, "issue --key %s --license-number 5555 --organization "
                       "Imported --product P --professional 4 --state-dir %s", k1.key_path, dir),
             0);
    T_EQ_INT(authority(NULL, 0, "revoke --state-dir %s 5555", dir), 0);
    T_EQ_INT(authority(out, sizeof out, "import --state-dir %s --database '%s'", dir, adb.url),
             0);
    T_CHECK(strstr(out, "imported 1 license") != NULL);
    T_EQ_INT(th_sql_long(adb.url, "SELECT count(*) FROM authority.licenses WHERE "
                         "license_number = '5555' AND revoked AND definition IS NOT NULL"), 1);
    /* Again: nothing changes, also after the database moved on. */
    T_EQ_INT(authority(NULL, 0, "revoke --database '%s' --undo 5555", adb.url), 0);
    T_EQ_INT(authority(out, sizeof out, "import --state-dir %s --database '%s'", dir, adb.url),
             0);
    T_CHECK(strstr(out, "imported 0 license(s); 1 already") != NULL);
    T_EQ_INT(th_sql_long(adb.url, "SELECT count(*) FROM authority.licenses WHERE "
                         "license_number = '5555' AND NOT revoked"), 1);
    /* export works against the database as against the directory. */
    T_EQ_INT(authority(out, sizeof out, "export --key %s --database '%s' 5555", k1.key_path,
                       adb.url), 0);
    T_CHECK(strncmp(out, "eyJ", 3) == 0);
    /* Bad input changes nothing and says why. */
    T_EQ_INT(authority(out, sizeof out, "import --state-dir %s", dir), 2);
    T_EQ_INT(authority(out, sizeof out, "revoke --state-dir %s --database '%s' 1", dir,
                       adb.url), 2);
    T_CHECK(strstr(out, "exclude each other") != NULL);
}

/* ---- operating it ------------------------------------------------------------------- */

static void test_operations(void)
{
    struct th_resp r;
    const char *hdr[] = {"X-Correlation-Id: corr-authority-1", NULL};
    T_CHECK(th_req_full(&b2.http, "GET", "/health", hdr, NULL, 0, &r));
    T_EQ_INT(r.status, 200);
    T_EQ_STR(r.corr_id, "corr-authority-1");
    th_resp_free(&r);
    T_CHECK(th_req(&b2.http, "GET", "/ready", NULL, NULL, &r));
    T_EQ_INT(r.status, 200);
    T_EQ_STR(th_str(&r, "store"), "postgresql");
    th_resp_free(&r);
    T_CHECK(th_req(&b2.http, "GET", "/metrics", NULL, NULL, &r));
    T_EQ_INT(r.status, 401);
    th_resp_free(&r);
    T_CHECK(th_req(&b2.http, "GET", "/v1/sites", "wrong-key-0123456789", NULL, &r));
    T_EQ_INT(r.status, 401);
    th_resp_free(&r);
    T_CHECK(th_req(&b2.http, "GET", "/metrics", ADMIN, NULL, &r));
    T_EQ_INT(r.status, 200);
    T_CHECK(r.body != NULL && strstr(r.body, "allot_authority_syncs_total{outcome=\"ok\"}"));
    T_CHECK(r.body != NULL && strstr(r.body, "allot_authority_sites_stale 0"));
    th_resp_free(&r);
    T_CHECK(th_req(&b2.http, "GET", "/v1/sites", ADMIN, NULL, &r));
    T_EQ_INT(r.status, 200);
    size_t i, found = 0;
    json_t *e;
    json_array_foreach(json_object_get(r.json, "data"), i, e) {
        for (int k = 0; k < NSITES; k++) {
            if (strcmp(tl_text(e, "licenseNumber"), sites[k].number) != 0)
                continue;
            found++;
            T_CHECK(json_is_false(json_object_get(e, "stale")));
            T_EQ_INT(tl_int(json_object_get(e, "assignments"), "professional"), 1);
            T_EQ_INT(tl_int(json_array_get(json_object_get(e, "allotments"), 0), "units"), 3);
            T_CHECK(tl_time(e, "lastSyncAt") > 0);
        }
    }
    T_EQ_INT((long)found, NSITES);
    th_resp_free(&r);
    /* The same from the command line. */
    char out[8192];
    T_EQ_INT(authority(out, sizeof out, "sites --database '%s'", adb.url), 0);
    T_CHECK(strstr(out, sites[1].number) != NULL && strstr(out, "professional 1/3") != NULL);
    /* The log: JSON lines with the corrId. */
    char *log = th_file_text(b2.log_path);
    T_CHECK(log != NULL && strstr(log, "\"corrId\":\"corr-authority-1\"") != NULL);
    free(log);
}

/* ---- two instances racing on one license --------------------------------------------- */

#define RACE_N 25
static const char race_body[] =
    "{\"nonce\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\",\"licenseNumber\":\"6006\","
    "\"site\":\"race\",\"assignments\":{\"professional\":0,\"analyzer\":0,"
    "\"userPasses\":0,\"loginTokens\":0,\"capacityMinutesThisMonth\":0,\"quarantined\":0},"
    "\"definitionIssuedAt\":0}";

struct racer {
    const struct tl_backend *b;
    const char *auth;
    long ok, limited, other;
};

static void *race_loop(void *arg)
{
    struct racer *x = arg;
    const char *hdr[] = {x->auth, "Content-Type: application/json", NULL};
    for (int i = 0; i < RACE_N; i++) {
        struct th_resp r;
        long code = th_req_full(&x->b->http, "POST", "/v1/licenses/6006/sync", hdr, race_body,
                                strlen(race_body), &r) ? r.status : -1;
        th_resp_free(&r);
        if (code == 200)
            x->ok++;
        else if (code == 429)
            x->limited++;
        else
            x->other++;
    }
    return NULL;
}

/* Two threads through two instances, one license: no sync is lost, and
 * with a limit exactly the limit gets through (the row lock counts them). */
static void race(const struct tl_backend *x, const struct tl_backend *y, const char *auth,
                 long *ok, long *limited, long *other)
{
    struct racer r[2] = {{.b = x, .auth = auth}, {.b = y, .auth = auth}};
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        pthread_create(&th[i], NULL, race_loop, &r[i]);
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    *ok = r[0].ok + r[1].ok;
    *limited = r[0].limited + r[1].limited;
    *other = r[0].other + r[1].other;
}

static void test_races_on_one_license(void)
{
    char *key = tl_issue(&k1, "--license-number", "6006", NULL);
    T_REQUIRE(key != NULL);
    char auth[8192];
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", key);
    free(key);
    long ok, limited, other;
    race(&b1, &b2, auth, &ok, &limited, &other);
    T_EQ_INT(ok, 2 * RACE_N);
    T_EQ_INT(other, 0);
    T_EQ_INT(sync_count("6006"), 2 * RACE_N);
    /* Two instances with a limit of 10 per hour on the same database. */
    struct tl_backend b3, b4;
    T_REQUIRE(tl_backend_init(&b3, "authority-race-3") && tl_backend_init(&b4,
                                                                          "authority-race-4"));
    snprintf(b3.database, sizeof b3.database, "%s", adb.url);
    snprintf(b4.database, sizeof b4.database, "%s", adb.url);
    const char *limit[] = {"--sync-rate-limit", "10", "--sync-rate-window", "1h", NULL};
    T_REQUIRE(start_backend(&b3, k1.key_path, limit) && start_backend(&b4, k1.key_path, limit));
    race(&b3, &b4, auth, &ok, &limited, &other);
    T_EQ_INT(ok, 10);
    T_EQ_INT(limited, 2 * RACE_N - 10);
    T_EQ_INT(other, 0);
    T_EQ_INT(sync_count("6006"), 2 * RACE_N + 10);
    tl_backend_remove(&b3);
    tl_backend_remove(&b4);
}

/* ---- the rate limit ------------------------------------------------------------------ */

static void test_rate_limit(void)
{
    struct tl_backend b3;
    T_REQUIRE(tl_backend_init(&b3, "authority-rate"));
    snprintf(b3.database, sizeof b3.database, "%s", adb.url);
    const char *extra[] = {"--sync-rate-limit", "2", "--sync-rate-window", "4s", NULL};
    T_REQUIRE(start_backend(&b3, k1.key_path, extra));
    struct th_db db;
    struct th_server srv;
    th_db_create(&db);
    T_REQUIRE(th_migrate(db.url) == 0);
    T_REQUIRE(start_allotd(&srv, db.url, &b3, k1.env_pub));
    /* PUT /license syncs (1), a sync on demand (2), then the limit. */
    T_CHECK(tl_apply(&srv, &k1, "--license-number", "7007", "--param",
                     "offlineGraceSeconds=2", NULL));
    char st[300];
    T_EQ_INT(sync_site(&srv, st, sizeof st), 200);
    T_EQ_INT(sync_site(&srv, st, sizeof st), 502);
    T_CHECK(strstr(st, "429") != NULL);
    printf("# %s\n", st);
    /* What the authority answered: 429 with Retry-After. */
    char *key = th_sql(db.url, "SELECT license_key FROM license_document");
    char auth[8192];
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", key != NULL ? key : "");
    const char *hdr[] = {auth, "Content-Type: application/json", NULL};
    const char *body = "{\"nonce\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\","
                       "\"licenseNumber\":\"7007\",\"site\":\"x\",\"assignments\":{"
                       "\"professional\":0,\"analyzer\":0,\"userPasses\":0,\"loginTokens\":0,"
                       "\"capacityMinutesThisMonth\":0,\"quarantined\":0},"
                       "\"definitionIssuedAt\":0}";
    struct th_resp r;
    T_CHECK(th_req_full(&b3.http, "POST", "/v1/licenses/7007/sync", hdr, body, strlen(body), &r));
    T_EQ_INT(r.status, 429);
    long ra = atol(r.retry_after);
    T_CHECK(ra >= 1 && ra <= 4);
    th_resp_free(&r);
    free(key);
    /* allotd backs off: the next sync does not reach the authority before
     * the Retry-After it was given. */
    T_CHECK(th_req(&b3.http, "GET", "/metrics", ADMIN, NULL, &r));
    char *limited = r.body ? strstr(r.body, "outcome=\"rate_limited\"} ") : NULL;
    long before = limited ? atol(limited + strlen("outcome=\"rate_limited\"} ")) : -1;
    th_resp_free(&r);
    T_EQ_INT(sync_site(&srv, st, sizeof st), 502);
    T_CHECK(strstr(st, "asked this site to wait") != NULL);
    T_CHECK(th_req(&b3.http, "GET", "/metrics", ADMIN, NULL, &r));
    limited = r.body ? strstr(r.body, "outcome=\"rate_limited\"} ") : NULL;
    T_EQ_INT(limited ? atol(limited + strlen("outcome=\"rate_limited\"} ")) : -2, before);
    th_resp_free(&r);
    /* Once the window is over, the sync succeeds again (deadline, not a sleep). */
    long code = 0;
    for (int i = 0; i < 100 && code != 200; i++) {
        code = sync_site(&srv, st, sizeof st);
        if (code != 200)
            tl_sleep_ms(200);
    }
    T_EQ_INT(code, 200);
    /* A site quiet for longer than its grace (2 s) shows as stale. */
    bool stale = false;
    for (int i = 0; i < 100 && !stale; i++) {
        T_CHECK(th_req(&b3.http, "GET", "/v1/sites", ADMIN, NULL, &r));
        size_t k;
        json_t *e;
        json_array_foreach(json_object_get(r.json, "data"), k, e)
            if (strcmp(tl_text(e, "licenseNumber"), "7007") == 0)
                stale = json_is_true(json_object_get(e, "stale"));
        th_resp_free(&r);
        if (!stale)
            tl_sleep_ms(200);
    }
    T_CHECK(stale);
    T_CHECK(th_req(&b3.http, "GET", "/metrics", ADMIN, NULL, &r));
    T_CHECK(r.body != NULL && strstr(r.body, "allot_authority_sites_stale 1") != NULL);
    th_resp_free(&r);
    T_EQ_INT(th_server_stop(&srv), 0);
    th_db_drop(&db);
    tl_backend_remove(&b3);
}

/* ---- key rotation ---------------------------------------------------------------------- */

static long trusted(const char *url)
{
    return th_sql_long(url, "SELECT count(*) FROM authority_keys WHERE x IS NOT NULL AND "
                            "retired_at IS NULL");
}

static void kid_of_site_key(const char *url, char kid[LIC_KID_LEN + 1])
{
    char *key = th_sql(url, "SELECT license_key FROM license_document");
    lic_doc_kid(key, kid);
    free(key);
}

static void kid_of_file(const char *pub_path, char kid[LIC_KID_LEN + 1])
{
    char why[256];
    EVP_PKEY *k = lic_key_load_public_file(pub_path, why, sizeof why);
    kid[0] = '\0';
    if (k != NULL)
        lic_key_kid(k, kid);
    EVP_PKEY_free(k);
}

static void test_rotation(void)
{
    struct site *s = &sites[0];
    char st[300], kid1[LIC_KID_LEN + 1], kid2[LIC_KID_LEN + 1], kid[LIC_KID_LEN + 1];
    kid_of_file(k1.pub_path, kid1);
    kid_of_file(k2.pub_path, kid2);
    /* 1. The old key signs; the new one is announced (signed by the old). */
    T_EQ_INT(tl_backend_stop(&b2), 0);
    const char *announce[] = {"--verify-key", k2.pub_path, NULL};
    T_REQUIRE(start_backend(&b2, k1.key_path, announce));
    T_EQ_INT(trusted(s->db.url), 0);
    T_EQ_INT(sync_site(&s->b, st, sizeof st), 200);
    T_EQ_INT(trusted(s->db.url), 1);
    T_EQ_INT(th_sql_longf(s->db.url, "SELECT count(*) FROM authority_keys WHERE kid = '%s' "
                          "AND announced_by = '%s'", kid2, kid1), 1);
    kid_of_site_key(s->db.url, kid);
    T_EQ_STR(kid, kid1);

    /* 2. The new key signs, the old one still verifies: the site, which was
     * configured with the old key only, follows without a step (also after a
     * restart), and its license key comes back signed by the new key. */
    T_EQ_INT(tl_backend_stop(&b2), 0);
    const char *both[] = {"--verify-key", k1.pub_path, NULL};
    T_REQUIRE(start_backend(&b2, k2.key_path, both));
    T_EQ_INT(th_server_stop(&s->b), 0);
    T_REQUIRE(start_allotd(&s->b, s->db.url, &b2, k1.env_pub));
    T_EQ_INT(sync_site(&s->b, st, sizeof st), 200);
    T_EQ_STR(st, "ok");
    kid_of_site_key(s->db.url, kid);
    T_EQ_STR(kid, kid2);

    /* 3. The old key is retired. */
    T_EQ_INT(tl_backend_stop(&b2), 0);
    const char *retire[] = {"--retire-key", k1.pub_path, NULL};
    T_REQUIRE(start_backend(&b2, k2.key_path, retire));
    T_EQ_INT(sync_site(&s->b, st, sizeof st), 200);
    T_EQ_STR(st, "ok");
    T_EQ_INT(th_sql_longf(s->db.url, "SELECT count(*) FROM authority_keys WHERE kid = '%s' "
                          "AND retired_at IS NOT NULL", kid1), 1);

    /* A license key signed by the retired key is refused, one of an unknown
     * kid too; nothing changes.  One signed by the new key is applied. */
    long issued = th_sql_long(s->db.url, "SELECT extract(epoch FROM issued_at)::bigint "
                                         "FROM license");
    char iat[32];
    snprintf(iat, sizeof iat, "%ld", issued + 10);
    char *old_key = tl_issue(&k1, "--license-number", s->number, "--professional", "9", "--iat",
                             iat, NULL);
    char *stranger = tl_issue(&k3, "--license-number", s->number, "--professional", "9",
                              "--iat", iat, NULL);
    struct th_resp r;
    T_CHECK(tl_put_license(&s->a, old_key, &r));
    T_ERROR(r, 400, "LICENSES-InvalidLicense");
    T_CHECK(strstr(th_str(&r, "message"), "retired") != NULL);
    th_resp_free(&r);
    T_CHECK(tl_put_license(&s->a, stranger, &r));
    T_ERROR(r, 400, "LICENSES-InvalidLicense");
    T_CHECK(strstr(th_str(&r, "message"), "unknown") != NULL);
    th_resp_free(&r);
    T_EQ_INT(th_sql_long(s->db.url, "SELECT professional_units FROM license"), 3);
    char *new_key = tl_issue(&k2, "--license-number", s->number, "--professional", "9", "--iat",
                             iat, NULL);
    T_CHECK(tl_put_license(&s->a, new_key, &r));
    T_EQ_INT(r.status, 200);
    th_resp_free(&r);
    T_EQ_INT(th_sql_long(s->db.url, "SELECT professional_units FROM license"), 9);
    /* The authority no longer accepts the retired key as a bearer either. */
    snprintf(iat, sizeof iat, "%ld", issued + 5);
    free(old_key);
    free(stranger);
    free(new_key);

    /* A forged announcement: a backend that accepts the site's key but signs
     * with a key the site does not trust announces itself (and the real new
     * key).  The reply is refused and nothing is learnt. */
    T_EQ_INT(tl_backend_stop(&b1), 0);
    const char *forger[] = {"--verify-key", k2.pub_path, NULL};
    T_REQUIRE(start_backend(&b1, k3.key_path, forger));
    long keys_before = th_sql_long(s->db.url, "SELECT count(*) FROM authority_keys");
    T_EQ_INT(sync_site(&s->a, st, sizeof st), 502);
    T_CHECK(strstr(st, "signed by an unknown key") != NULL);
    printf("# forged: %s\n", st);
    T_EQ_INT(th_sql_long(s->db.url, "SELECT count(*) FROM authority_keys"), keys_before);
    T_EQ_INT(sync_site(&s->b, st, sizeof st), 200); /* the real authority still answers */
    if (strcmp(st, "ok") != 0)
        printf("# %s\n", st);
}

static bool set_up;

static void setup(void)
{
    snprintf(admin_file, sizeof admin_file, "/tmp/allot-test-authority-admin-%d", (int)getpid());
    FILE *f = fopen(admin_file, "w");
    T_REQUIRE(f != NULL);
    fprintf(f, "%s\n", ADMIN);
    fclose(f);
    T_REQUIRE(tl_authority_make(&k1) && tl_authority_make(&k2) && tl_authority_make(&k3));
    T_REQUIRE(authority(NULL, 0, "migrate --database '%s'", adb.url) == 0);
    T_REQUIRE(authority(NULL, 0, "migrate --database '%s'", adb.url) == 0); /* twice: fine */
    T_REQUIRE(tl_backend_init(&b1, "authority-1") && tl_backend_init(&b2, "authority-2"));
    snprintf(b1.database, sizeof b1.database, "%s", adb.url);
    snprintf(b2.database, sizeof b2.database, "%s", adb.url);
    T_REQUIRE(start_backend(&b1, k1.key_path, NULL));
    T_REQUIRE(start_backend(&b2, k1.key_path, NULL));
    for (int i = 0; i < NSITES; i++) {
        struct site *s = &sites[i];
        snprintf(s->number, sizeof s->number, "%d", 9100 + i);
        th_db_create(&s->db);
        T_REQUIRE(th_migrate(s->db.url) == 0);
        T_REQUIRE(start_allotd(&s->a, s->db.url, &b1, k1.env_pub));
        T_REQUIRE(start_allotd(&s->b, s->db.url, &b2, k1.env_pub));
        T_REQUIRE(tl_apply(&s->a, &k1, "--license-number", s->number, "--professional", "3",
                           NULL));
    }
    set_up = true;
}

static void cleanup(void)
{
    for (int i = 0; i < NSITES; i++) {
        th_server_stop(&sites[i].a);
        th_server_stop(&sites[i].b);
        th_db_drop(&sites[i].db);
    }
    tl_backend_remove(&b1);
    tl_backend_remove(&b2);
    tl_authority_remove(&k1);
    tl_authority_remove(&k2);
    tl_authority_remove(&k3);
    unlink(admin_file);
    th_db_drop(&adb);
}

int main(void)
{
    th_db_create(&adb);
    setup();
    if (!set_up) {
        printf("Bail out! the authorities and sites did not start\n");
        cleanup();
        return 1;
    }
    T_RUN(test_two_instances_one_database);
    T_RUN(test_instance_killed);
    T_RUN(test_import);
    T_RUN(test_operations);
    T_RUN(test_races_on_one_license);
    T_RUN(test_rate_limit);
    T_RUN(test_rotation);
    cleanup();
    return t_done();
}

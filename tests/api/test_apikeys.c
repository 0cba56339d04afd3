/* /apikeys through HTTP: a key is shown once, works at once for its role, is
 * stored only as a digest, stops working when deleted; ALLOT_ADMIN_KEY is
 * provisioned once; no secret ever reaches the log. */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

#include "tharness.h"

T_DEFINE_STATE;

static struct th_db db;
static struct th_server srv;

#define ADMIN TH_ADMIN_KEY
#define MAX_SECRETS 16

/* Every secret handed out or tried during the run, to look for in logs. */
static char secrets[MAX_SECRETS][128];
static size_t nsecrets;

static void remember_secret(const char *s)
{
    if (nsecrets < MAX_SECRETS && s != NULL && *s != '\0')
        snprintf(secrets[nsecrets++], sizeof secrets[0], "%s", s);
}

__attribute__((format(printf, 1, 2))) static long sql_long(const char *fmt, ...)
{
    char sql[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sql, sizeof sql, fmt, ap);
    va_end(ap);
    return th_sql_long(db.url, sql);
}

static long key_rows(void)
{
    return sql_long("SELECT count(*) FROM api_keys");
}

static void check_error(const struct th_resp *r, long status, const char *type, const char *field)
{
    T_EQ_INT(r->status, status);
    T_EQ_STR(th_error_type(r), type);
    T_EQ_INT(json_integer_value(json_object_get(r->json, "statusCode")), status);
    T_EQ_STR(th_str(r, "corrId"), r->corr_id);
    if (field != NULL)
        T_EQ_STR(th_str(r, "field"), field);
}

/* POST /apikeys {name, role} with the admin key: copies id and secret. */
static void create_key(const char *name, const char *role, char id[64], char secret[128])
{
    char body[256];
    snprintf(body, sizeof body, "{\"name\":\"%s\",\"role\":\"%s\"}", name, role);
    struct th_resp r;
    T_CHECK(th_req(&srv, "POST", "/apikeys", ADMIN, body, &r));
    T_STATUS(r, 201);
    snprintf(id, 64, "%s", th_str(&r, "id"));
    snprintf(secret, 128, "%s", th_str(&r, "key"));
    remember_secret(secret);
    th_resp_free(&r);
}

static long status_of(const char *method, const char *path, const char *key, const char *body)
{
    struct th_resp r;
    T_CHECK(th_req(&srv, method, path, key, body, &r));
    long st = r.status;
    th_resp_free(&r);
    return st;
}

/* The whole file (malloc'd), or NULL. */
static char *read_all(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    size_t cap = 1 << 16, len = 0;
    char *data = malloc(cap);
    size_t n;
    while (data != NULL && (n = fread(data + len, 1, cap - len - 1, f)) > 0) {
        len += n;
        if (cap - len - 1 == 0) {
            char *grown = realloc(data, cap * 2);
            if (grown == NULL) {
                free(data);
                data = NULL;
                break;
            }
            data = grown;
            cap *= 2;
        }
    }
    fclose(f);
    if (data != NULL)
        data[len] = '\0';
    return data;
}

/* No secret of the run, nor the admin key, anywhere in the server's log. */
static void check_log_has_no_secret(const struct th_server *s)
{
    char *log = read_all(s->log_path);
    T_REQUIRE(log != NULL);
    T_CHECK(strlen(log) > 0);
    T_CHECK(strstr(log, ADMIN) == NULL);
    for (size_t i = 0; i < nsecrets; i++) {
        if (strstr(log, secrets[i]) != NULL)
            printf("#   secret %zu appears in %s\n", i, s->log_path);
        T_CHECK(strstr(log, secrets[i]) == NULL);
    }
    free(log);
}

static void test_create(void)
{
    long before = key_rows();
    struct th_resp r;
    T_CHECK(th_req(&srv, "POST", "/apikeys", ADMIN, "{\"name\":\"reader\",\"role\":\"auditor\"}",
                   &r));
    T_STATUS(r, 201);
    const char *id = th_str(&r, "id");
    const char *secret = th_str(&r, "key");
    remember_secret(secret);
    T_EQ_INT(strlen(id), 36);
    T_CHECK(strlen(secret) >= 32);
    T_EQ_STR(th_str(&r, "name"), "reader");
    T_EQ_STR(th_str(&r, "role"), "auditor");
    T_CHECK(strlen(th_str(&r, "createdAt")) >= 20);
    T_CHECK(th_str(&r, "createdAt")[strlen(th_str(&r, "createdAt")) - 1] == 'Z');
    char want_loc[128];
    snprintf(want_loc, sizeof want_loc, "/apikeys/%s", id);
    size_t ll = strlen(r.location), wl = strlen(want_loc);
    T_CHECK(ll >= wl && strcmp(r.location + ll - wl, want_loc) == 0);
    /* The one reply that shows the secret may not be cached. */
    T_EQ_STR(r.cache_control, "no-store");
    T_EQ_INT(key_rows(), before + 1);
    T_EQ_INT(sql_long("SELECT count(*) FROM api_keys WHERE id = '%s' AND name = 'reader'"
                      " AND role = 'auditor'",
                      id),
             1);

    /* It works at once, for its role only. */
    T_EQ_INT(status_of("GET", "/users", secret, NULL), 200);
    T_EQ_INT(status_of("GET", "/metrics", secret, NULL), 200);
    T_EQ_INT(status_of("POST", "/users", secret, "{\"userDirectory\":\"K\",\"userId\":\"k\"}"),
             403);
    T_EQ_INT(status_of("GET", "/apikeys", secret, NULL), 403);
    th_resp_free(&r);

    /* Two keys made alike are two different secrets. */
    char id1[64], s1[128], id2[64], s2[128];
    create_key("twin", "proxy", id1, s1);
    create_key("twin", "proxy", id2, s2);
    T_CHECK(strcmp(s1, s2) != 0 && strcmp(id1, id2) != 0);
    T_EQ_INT(status_of("GET", "/users", s1, NULL), 200);
    T_EQ_INT(status_of("GET", "/users", s2, NULL), 200);
    T_EQ_INT(status_of("POST", "/apikeys", s1, "{\"name\":\"x\",\"role\":\"proxy\"}"), 403);
    /* A new admin key may do everything, keys included. */
    char ida[64], sa[128];
    create_key("second admin", "admin", ida, sa);
    T_EQ_INT(status_of("GET", "/apikeys", sa, NULL), 200);
    char idb[64], sb[128];
    struct th_resp r2;
    T_CHECK(th_req(&srv, "POST", "/apikeys", sa, "{\"name\":\"by admin 2\",\"role\":\"proxy\"}",
                   &r2));
    T_STATUS(r2, 201);
    snprintf(idb, sizeof idb, "%s", th_str(&r2, "id"));
    snprintf(sb, sizeof sb, "%s", th_str(&r2, "key"));
    remember_secret(sb);
    th_resp_free(&r2);
    T_EQ_INT(sql_long("SELECT count(*) FROM api_keys WHERE id = '%s'", idb), 1);
}

static void test_secret_not_stored(void)
{
    char id[64], secret[128];
    create_key("stored", "proxy", id, secret);
    T_REQUIRE(secret[0] != '\0');
    /* No column holds the secret, as text or as bytes; the hash is 32 bytes. */
    T_EQ_INT(sql_long("SELECT count(*) FROM api_keys k WHERE strpos(row_to_json(k)::text, '%s') > 0",
                      secret),
             0);
    T_EQ_INT(sql_long("SELECT count(*) FROM api_keys k WHERE position(convert_to('%s', 'UTF8')"
                      " IN k.hash) > 0 OR strpos('%s', k.lookup) > 0",
                      secret, secret),
             0);
    T_EQ_INT(sql_long("SELECT length(hash) FROM api_keys WHERE id = '%s'", id), 32);
    /* Nor the admin key's. */
    T_EQ_INT(sql_long("SELECT count(*) FROM api_keys k WHERE strpos(row_to_json(k)::text, '%s') > 0",
                      ADMIN),
             0);
    T_EQ_INT(sql_long("SELECT count(*) FROM api_keys WHERE length(hash) <> 32"), 0);
    /* The same secret with one character changed is not a key. */
    secret[10] = secret[10] == 'A' ? 'B' : 'A';
    remember_secret(secret);
    struct th_resp r;
    T_CHECK(th_req(&srv, "GET", "/users", secret, NULL, &r));
    check_error(&r, 401, "LICENSES-Unauthorized", NULL);
    th_resp_free(&r);
}

static void test_list_hides_secrets(void)
{
    struct th_resp r;
    T_CHECK(th_req(&srv, "GET", "/apikeys", ADMIN, NULL, &r));
    T_STATUS(r, 200);
    json_t *data = json_object_get(r.json, "data");
    T_REQUIRE(json_is_array(data));
    T_EQ_INT(json_array_size(data), key_rows());
    T_CHECK(json_object_get(r.json, "links") != NULL);
    size_t i;
    json_t *k;
    json_array_foreach(data, i, k) {
        T_CHECK(json_is_string(json_object_get(k, "id")));
        T_CHECK(json_is_string(json_object_get(k, "name")));
        T_CHECK(json_is_string(json_object_get(k, "role")));
        T_CHECK(json_is_string(json_object_get(k, "createdAt")));
        T_CHECK(json_object_get(k, "key") == NULL);
        T_CHECK(json_object_get(k, "secret") == NULL);
        T_CHECK(json_object_get(k, "hash") == NULL);
        T_CHECK(json_object_get(k, "lookup") == NULL);
    }
    T_REQUIRE(r.body != NULL);
    T_CHECK(strstr(r.body, ADMIN) == NULL);
    for (size_t s = 0; s < nsecrets; s++)
        T_CHECK(strstr(r.body, secrets[s]) == NULL);
    th_resp_free(&r);

    /* Pages of one key each walk the same list. */
    char path[512] = "/apikeys?limit=1";
    long seen = 0;
    for (int guard = 0; guard < 100; guard++) {
        T_CHECK(th_req(&srv, "GET", path, ADMIN, NULL, &r));
        T_STATUS(r, 200);
        seen += (long)json_array_size(json_object_get(r.json, "data"));
        json_t *next = json_object_get(json_object_get(r.json, "links"), "next");
        bool more = json_is_string(next);
        if (more)
            snprintf(path, sizeof path, "%s", json_string_value(next));
        th_resp_free(&r);
        if (!more)
            break;
    }
    T_EQ_INT(seen, key_rows());
}

static void test_create_refused(void)
{
    struct {
        const char *body;
        const char *field;
    } cases[] = {
        {"{\"name\":\"x\",\"role\":\"root\"}", "role"},
        {"{\"name\":\"x\",\"role\":\"ADMIN\"}", "role"},
        {"{\"name\":\"x\",\"role\":\"\"}", "role"},
        {"{\"name\":\"x\",\"role\":1}", "role"},
        {"{\"name\":\"x\"}", "role"},
        {"{\"role\":\"proxy\"}", "name"},
        {"{\"name\":\"\",\"role\":\"proxy\"}", "name"},
        {"{\"name\":null,\"role\":\"proxy\"}", "name"},
        {"{\"name\":\"a\\u0001b\",\"role\":\"proxy\"}", "name"},
        {"{\"name\":\"x\",\"role\":\"proxy\",\"key\":\"mine\"}", "key"},
    };
    long before = key_rows();
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct th_resp r;
        T_CHECK(th_req(&srv, "POST", "/apikeys", ADMIN, cases[i].body, &r));
        if (r.status != 400)
            printf("#   %s: %ld\n", cases[i].body, r.status);
        check_error(&r, 400, "LICENSES-BadRequest", cases[i].field);
        th_resp_free(&r);
    }
    T_EQ_INT(key_rows(), before);
}

static void test_non_admin_cannot_manage_keys(void)
{
    char aid[64], asecret[128], pid[64], psecret[128];
    create_key("aud", "auditor", aid, asecret);
    create_key("prx", "proxy", pid, psecret);
    long before = key_rows();
    const char *who[] = {asecret, psecret};
    for (size_t i = 0; i < 2; i++) {
        struct th_resp r;
        T_CHECK(th_req(&srv, "POST", "/apikeys", who[i], "{\"name\":\"esc\",\"role\":\"admin\"}", &r));
        check_error(&r, 403, "LICENSES-Forbidden", NULL);
        T_CHECK(json_object_get(r.json, "key") == NULL);
        th_resp_free(&r);
        T_CHECK(th_req(&srv, "GET", "/apikeys", who[i], NULL, &r));
        check_error(&r, 403, "LICENSES-Forbidden", NULL);
        th_resp_free(&r);
        char path[128];
        snprintf(path, sizeof path, "/apikeys/%s", aid);
        T_CHECK(th_req(&srv, "DELETE", path, who[i], NULL, &r));
        check_error(&r, 403, "LICENSES-Forbidden", NULL);
        th_resp_free(&r);
    }
    T_EQ_INT(key_rows(), before);
    T_EQ_INT(sql_long("SELECT count(*) FROM api_keys WHERE name = 'esc'"), 0);
}

static void test_delete(void)
{
    char id[64], secret[128], path[128];
    create_key("short lived", "auditor", id, secret);
    /* Used first, so a cache of this instance knows it. */
    T_EQ_INT(status_of("GET", "/users", secret, NULL), 200);
    snprintf(path, sizeof path, "/apikeys/%s", id);
    struct th_resp r;
    T_CHECK(th_req(&srv, "DELETE", path, ADMIN, NULL, &r));
    T_STATUS(r, 204);
    T_EQ_INT(r.body_len, 0);
    th_resp_free(&r);
    T_EQ_INT(sql_long("SELECT count(*) FROM api_keys WHERE id = '%s'", id), 0);
    /* Refused at once, on this same instance. */
    T_CHECK(th_req(&srv, "GET", "/users", secret, NULL, &r));
    check_error(&r, 401, "LICENSES-Unauthorized", NULL);
    th_resp_free(&r);
    T_EQ_INT(status_of("GET", "/metrics", secret, NULL), 401);
    /* Other keys still work. */
    T_EQ_INT(status_of("GET", "/users", ADMIN, NULL), 200);

    T_CHECK(th_req(&srv, "DELETE", path, ADMIN, NULL, &r));
    check_error(&r, 404, "LICENSES-NotFound", NULL);
    th_resp_free(&r);
    T_CHECK(th_req(&srv, "DELETE", "/apikeys/6f1c2a3e-1111-4222-8333-944455556666", ADMIN, NULL,
                   &r));
    check_error(&r, 404, "LICENSES-NotFound", NULL);
    th_resp_free(&r);
    T_CHECK(th_req(&srv, "DELETE", "/apikeys/not-an-id", ADMIN, NULL, &r));
    check_error(&r, 404, "LICENSES-NotFound", NULL);
    th_resp_free(&r);
}

static void test_unknown_key_not_logged(void)
{
    const char *tried = "allot_guessed_secret_XYZ_0123456789abcdefghij";
    remember_secret(tried);
    struct th_resp r;
    T_CHECK(th_req(&srv, "GET", "/users", tried, NULL, &r));
    check_error(&r, 401, "LICENSES-Unauthorized", NULL);
    th_resp_free(&r);
    check_log_has_no_secret(&srv);
}

/* Waits until the log says the admin key of ALLOT_ADMIN_KEY is in place. */
static bool admin_key_settled(const struct th_server *s)
{
    for (int i = 0; i < 200; i++) {
        if (th_log_contains(s, "ALLOT_ADMIN_KEY is in place"))
            return true;
        nanosleep(&(struct timespec){.tv_nsec = 25000000}, NULL);
    }
    return false;
}

static void test_admin_key_once_across_restarts(void)
{
    T_CHECK(admin_key_settled(&srv));
    long admins = sql_long("SELECT count(*) FROM api_keys WHERE name = 'ALLOT_ADMIN_KEY'");
    T_EQ_INT(admins, 1);
    long before = key_rows();
    check_log_has_no_secret(&srv);
    T_EQ_INT(th_server_stop(&srv), 0);

    for (int round = 0; round < 2; round++) {
        T_REQUIRE(th_server_start(&srv, db.url, NULL, true));
        T_CHECK(admin_key_settled(&srv));
        T_EQ_INT(key_rows(), before);
        T_EQ_INT(sql_long("SELECT count(*) FROM api_keys WHERE name = 'ALLOT_ADMIN_KEY'"), 1);
        T_EQ_INT(status_of("GET", "/apikeys", ADMIN, NULL), 200);
        check_log_has_no_secret(&srv);
        if (round == 0)
            T_EQ_INT(th_server_stop(&srv), 0);
    }
}

/* Once /ready says ready, the admin key of ALLOT_ADMIN_KEY works: allotd
 * makes it before its threads that also check the schema start (when one of
 * them held that check, the key waited for the next try, 2 s after /ready). */
static void test_admin_key_in_place_when_ready(void)
{
    for (int round = 0; round < 5; round++) {
        struct th_db fresh;
        th_db_create(&fresh);
        T_REQUIRE(th_migrate(fresh.url) == 0);
        struct th_server s;
        T_REQUIRE(th_server_start(&s, fresh.url, NULL, false)); /* /health only */
        struct th_resp r;
        bool ready = false;
        for (int i = 0; i < 300 && !ready; i++) { /* up to 15 s */
            ready = th_req(&s, "GET", "/ready", NULL, NULL, &r) && r.status == 200;
            th_resp_free(&r);
            if (!ready)
                nanosleep(&(struct timespec){0, 50 * 1000 * 1000}, NULL);
        }
        T_REQUIRE(ready);
        T_CHECK(th_req(&s, "GET", "/metrics", TH_ADMIN_KEY, NULL, &r));
        T_EQ_INT(r.status, 200);
        th_resp_free(&r);
        T_EQ_INT(th_server_stop(&s), 0);
        th_db_drop(&fresh);
    }
}

/* The Location of POST /apikeys answers: the key without its secret. */
static void test_get(void)
{
    char id[64], secret[128];
    struct th_resp r;
    T_CHECK(th_req(&srv, "POST", "/apikeys", ADMIN, "{\"name\":\"readable\",\"role\":\"proxy\"}",
                   &r));
    T_STATUS(r, 201);
    snprintf(id, sizeof id, "%s", th_str(&r, "id"));
    snprintf(secret, sizeof secret, "%s", th_str(&r, "key"));
    remember_secret(secret);
    char location[256];
    snprintf(location, sizeof location, "%s", r.location);
    th_resp_free(&r);
    T_REQUIRE(location[0] == '/');

    T_CHECK(th_req(&srv, "GET", location, ADMIN, NULL, &r));
    T_STATUS(r, 200);
    T_EQ_STR(th_str(&r, "id"), id);
    T_EQ_STR(th_str(&r, "name"), "readable");
    T_EQ_STR(th_str(&r, "role"), "proxy");
    T_CHECK(json_object_get(r.json, "key") == NULL);
    T_CHECK(json_object_get(r.json, "hash") == NULL);
    T_CHECK(r.body != NULL && strstr(r.body, secret) == NULL);
    th_resp_free(&r);

    T_CHECK(th_req(&srv, "GET", "/apikeys/6f1c2a3e-1111-4222-8333-944455556666", ADMIN, NULL, &r));
    check_error(&r, 404, "LICENSES-NotFound", NULL);
    th_resp_free(&r);
    T_CHECK(th_req(&srv, "GET", "/apikeys/not-an-id", ADMIN, NULL, &r));
    check_error(&r, 404, "LICENSES-NotFound", NULL);
    th_resp_free(&r);
    /* Admin only, like every /apikeys route. */
    T_CHECK(th_req(&srv, "GET", location, secret, NULL, &r));
    check_error(&r, 403, "LICENSES-Forbidden", NULL);
    th_resp_free(&r);
}

static long admin_rows(void)
{
    return sql_long("SELECT count(*) FROM api_keys WHERE role = 'admin'");
}

/* The last admin key cannot be deleted: 409, and it still works. */
static void test_last_admin_kept(void)
{
    char admin_id[64];
    char *v = th_sql(db.url, "SELECT id FROM api_keys WHERE name = 'ALLOT_ADMIN_KEY'");
    T_REQUIRE(v != NULL && strlen(v) == 36);
    snprintf(admin_id, sizeof admin_id, "%s", v);
    free(v);
    /* Delete every other admin key (earlier tests made some). */
    for (int guard = 0; guard < 50 && admin_rows() > 1; guard++) {
        char *other = th_sql(db.url, "SELECT id FROM api_keys WHERE role = 'admin'"
                                     " AND name <> 'ALLOT_ADMIN_KEY' LIMIT 1");
        T_REQUIRE(other != NULL && strlen(other) == 36);
        char path[128];
        snprintf(path, sizeof path, "/apikeys/%s", other);
        free(other);
        T_EQ_INT(status_of("DELETE", path, ADMIN, NULL), 204);
    }
    T_EQ_INT(admin_rows(), 1);

    char path[128];
    snprintf(path, sizeof path, "/apikeys/%s", admin_id);
    struct th_resp r;
    T_CHECK(th_req(&srv, "DELETE", path, ADMIN, NULL, &r));
    check_error(&r, 409, "LICENSES-Conflict", NULL);
    T_CHECK(strstr(th_str(&r, "message"), "last admin key") != NULL);
    th_resp_free(&r);
    T_EQ_INT(admin_rows(), 1);
    T_EQ_INT(status_of("GET", "/apikeys", ADMIN, NULL), 200);
    /* Keys of other roles still go. */
    char pid[64], psecret[128];
    create_key("proxy to go", "proxy", pid, psecret);
    snprintf(path, sizeof path, "/apikeys/%s", pid);
    T_EQ_INT(status_of("DELETE", path, ADMIN, NULL), 204);
}

struct delete_job {
    const struct th_server *srv;
    const char *key;
    char path[128];
    pthread_t thread;
    long status;
};

static void *delete_run(void *arg)
{
    struct delete_job *j = arg;
    struct th_resp r;
    j->status = th_req(j->srv, "DELETE", j->path, j->key, NULL, &r) ? r.status : -1;
    th_resp_free(&r);
    return NULL;
}

/* One round: a second admin key is made, then the deletes of both race; the
 * secret of the admin key left is put in survivor.  False when the round
 * could not be set up (a check says why). */
static bool race_round(struct th_server *second, int round, char survivor[128])
{
    if (admin_rows() != 1)
        return false;
    char *v = th_sql(db.url, "SELECT id FROM api_keys WHERE role = 'admin'");
    char old_id[64], old_key[128], new_id[64], new_key[128];
    snprintf(old_id, sizeof old_id, "%s", v != NULL ? v : "");
    free(v);
    snprintf(old_key, sizeof old_key, "%s", survivor);
    struct th_resp r;
    T_CHECK(th_req(&srv, "POST", "/apikeys", survivor, "{\"name\":\"racing\",\"role\":\"admin\"}",
                   &r));
    snprintf(new_id, sizeof new_id, "%s", th_str(&r, "id"));
    snprintf(new_key, sizeof new_key, "%s", th_str(&r, "key"));
    th_resp_free(&r);
    if (strlen(old_id) != 36 || admin_rows() != 2)
        return false;
    /* Each key is used once first, so both authenticate from here on. */
    T_EQ_INT(status_of("GET", "/apikeys?limit=1", old_key, NULL), 200);
    T_CHECK(th_req(second, "GET", "/apikeys?limit=1", new_key, NULL, &r));
    T_STATUS(r, 200);
    th_resp_free(&r);

    PGconn *pg = PQconnectdb(db.url);
    PQclear(PQexec(pg, "BEGIN"));
    PGresult *lr = PQexec(pg, "SELECT id FROM api_keys WHERE role = 'admin' FOR KEY SHARE");
    T_CHECK(PQresultStatus(lr) == PGRES_TUPLES_OK && PQntuples(lr) == 2);
    PQclear(lr);
    struct delete_job jobs[2] = {{.srv = &srv, .key = old_key}, {.srv = second, .key = new_key}};
    snprintf(jobs[0].path, sizeof jobs[0].path, "/apikeys/%s", new_id);
    snprintf(jobs[1].path, sizeof jobs[1].path, "/apikeys/%s", old_id);
    for (int i = 0; i < 2; i++)
        pthread_create(&jobs[i].thread, NULL, delete_run, &jobs[i]);
    /* Both wait on the lock (within allotd's lock_timeout of 10 s). */
    T_CHECK(th_wait_sql(db.url, 2, 6, "SELECT count(*) FROM pg_stat_activity WHERE datname ="
                        " current_database() AND wait_event_type = 'Lock'"));
    PQclear(PQexec(pg, "COMMIT"));
    PQfinish(pg);
    for (int i = 0; i < 2; i++)
        pthread_join(jobs[i].thread, NULL);
    printf("# round %d: %ld and %ld\n", round, jobs[0].status, jobs[1].status);
    T_CHECK((jobs[0].status == 204 && jobs[1].status == 409) ||
            (jobs[0].status == 409 && jobs[1].status == 204));
    T_EQ_INT(admin_rows(), 1);
    /* The survivor is the key whose delete was refused. */
    if (jobs[0].status == 409)
        snprintf(survivor, 128, "%s", new_key);
    T_EQ_INT(status_of("GET", "/apikeys?limit=1", survivor, NULL), 200);
    return true;
}

/* Two deletes of the last two admin keys at once, on two instances: one wins,
 * one is 409.  The test holds a KEY SHARE lock on the admin rows (which does
 * not stop authentication from marking a key used), so both deletes are
 * waiting in the database before it lets them go together. */
static void test_last_admin_under_concurrency(void)
{
    struct th_server second;
    bool up = th_server_start(&second, db.url, NULL, true);
    T_CHECK(up);
    char survivor[128]; /* the secret of the one admin key left */
    snprintf(survivor, sizeof survivor, "%s", ADMIN);
    for (int round = 0; up && round < 3; round++)
        T_CHECK(race_round(&second, round, survivor));
    T_EQ_INT(th_server_stop(&second), 0);
}

/* A key deleted through one instance stops working on another at once (its
 * cache is cleared by NOTIFY allot_apikeys), not after the cache's
 * AUTH_CACHE_SECONDS. */
static void test_delete_seen_by_other_instance(void)
{
    struct th_server second;
    T_REQUIRE(th_server_start(&second, db.url, NULL, true));
    char id[64], secret[128], path[128];
    create_key("seen elsewhere", "auditor", id, secret);
    struct th_resp r;
    T_CHECK(th_req(&second, "GET", "/users", secret, NULL, &r)); /* cached there now */
    T_STATUS(r, 200);
    th_resp_free(&r);
    snprintf(path, sizeof path, "/apikeys/%s", id);
    T_EQ_INT(status_of("DELETE", path, ADMIN, NULL), 204);
    /* Well within AUTH_CACHE_SECONDS: a notification, not the cache's expiry. */
    long status = 0;
    for (int waited = 0; waited < 1500 && status != 401; waited += 20) {
        T_CHECK(th_req(&second, "GET", "/users", secret, NULL, &r));
        status = r.status;
        th_resp_free(&r);
        if (status != 401)
            nanosleep(&(struct timespec){.tv_nsec = 20000000}, NULL);
    }
    T_EQ_INT(status, 401);
    T_EQ_INT(th_server_stop(&second), 0);
}

/* SIGTERM ends allotd with status 0 (under AddressSanitizer: no leak). */
static void test_server_stops_cleanly(void)
{
    check_log_has_no_secret(&srv);
    T_EQ_INT(th_server_stop(&srv), 0);
}

int main(void)
{
    th_setup(&db, &srv, NULL);
    T_RUN(test_create);
    T_RUN(test_secret_not_stored);
    T_RUN(test_list_hides_secrets);
    T_RUN(test_create_refused);
    T_RUN(test_non_admin_cannot_manage_keys);
    T_RUN(test_delete);
    T_RUN(test_unknown_key_not_logged);
    T_RUN(test_admin_key_once_across_restarts);
    T_RUN(test_admin_key_in_place_when_ready);
    T_RUN(test_get);
    T_RUN(test_last_admin_kept);
    T_RUN(test_last_admin_under_concurrency);
    T_RUN(test_delete_seen_by_other_instance);
    T_RUN(test_server_stops_cleanly);
    th_db_drop(&db);
    return t_done();
}

/* Backup and restore, as README says to do them: `pg_dump --format=custom`
 * of a running site (allotd serving, a session active), `pg_restore` into a
 * new database, then allotd on the copy.  The copy answers the same license
 * state, users, allocations (one in quarantine) and active sessions, and
 * starts a session; the original does not see what the copy does.
 *
 * Needs ALLOT_TEST_PG_BIN (pg_dump and pg_restore of the server's version;
 * scripts/test sets it). */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tlicense.h"

T_DEFINE_STATE;

static struct tl_site site;
static struct th_db copy;
static struct th_server copy_srv;
static char dump_path[64], log_path[64];

/* Runs ALLOT_TEST_PG_BIN/prog with args (NULL-terminated), its output to
 * log_path; its exit status (-1 when it could not run). */
static int pg_tool(const char *prog, const char *const *args)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", getenv("ALLOT_TEST_PG_BIN"), prog);
    char *argv[16] = {path};
    for (size_t i = 0; args[i] != NULL && i < 14; i++)
        argv[i + 1] = (char *)args[i];
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        int fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0600);
        dup2(fd, 1);
        dup2(fd, 2);
        execv(path, argv);
        _exit(127);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* GET path on a server: the reply's JSON (a new reference), or NULL. */
static json_t *get(const struct th_server *s, const char *path)
{
    struct th_resp r;
    if (!th_req(s, "GET", path, TH_ADMIN_KEY, NULL, &r))
        return NULL;
    json_t *j = r.status == 200 ? json_incref(r.json) : NULL;
    if (r.status != 200)
        printf("#   GET %s answered %ld\n", path, r.status);
    th_resp_free(&r);
    return j;
}

/* The same member of two replies is the same JSON value. */
static void same(const json_t *a, const json_t *b, const char *member)
{
    const json_t *x = json_object_get(a, member), *y = json_object_get(b, member);
    bool eq = x != NULL && y != NULL && json_equal(x, y);
    if (!eq) {
        char *tx = json_dumps(x, JSON_COMPACT), *ty = json_dumps(y, JSON_COMPACT);
        printf("#   %s differs: %.300s against %.300s\n", member, tx ? tx : "(none)",
               ty ? ty : "(none)");
        free(tx);
        free(ty);
    }
    T_CHECK(eq);
}

static char alice[TL_ID_LEN], bob[TL_ID_LEN], carol[TL_ID_LEN], dave[TL_ID_LEN];
static char active_sid[TL_ID_LEN];

/* A site with a license, users, allocations (one quarantined), rules and an
 * active session. */
static void make_site(void)
{
    T_REQUIRE(tl_apply(&site.srv, &site.auth, "--license-number", "4242", "--professional", "3",
                       "--analyzer", "2", "--tokens", "2", NULL));
    T_REQUIRE(tl_user(&site.srv, "CORP", "alice", "[\"Sales\"]", alice));
    T_REQUIRE(tl_user(&site.srv, "CORP", "bob", NULL, bob));
    T_REQUIRE(tl_user(&site.srv, "CORP", "carol", NULL, carol));
    T_REQUIRE(tl_user(&site.srv, "CORP", "dave", "[\"Sales\"]", dave));
    T_EQ_INT(tl_alloc(&site.srv, alice, "professional", NULL, NULL, 0), 201);
    T_EQ_INT(tl_alloc(&site.srv, bob, "analyzer", NULL, NULL, 0), 201);
    char carol_alloc[TL_ID_LEN], sid[TL_ID_LEN], access[32], path[128];
    T_EQ_INT(tl_alloc(&site.srv, carol, "user", carol_alloc, NULL, 0), 201);
    T_EQ_INT(tl_session_access(&site.srv, carol, sid, access, sizeof access), 201);
    struct th_resp r;
    snprintf(path, sizeof path, "/sessions/%s", sid);
    T_REQUIRE(th_req(&site.srv, "DELETE", path, TH_ADMIN_KEY, NULL, &r));
    th_resp_free(&r);
    snprintf(path, sizeof path, "/allocations/%s", carol_alloc);
    T_REQUIRE(th_req(&site.srv, "DELETE", path, TH_ADMIN_KEY, NULL, &r));
    T_STATUS(r, 200); /* quarantined */
    th_resp_free(&r);
    char rule[TL_ID_LEN];
    T_EQ_INT(tl_rule(&site.srv, "sales", "professional", "{\"groups\": [\"Sales\"]}", -1, rule), 201);
    T_EQ_INT(tl_session_access(&site.srv, alice, active_sid, access, sizeof access), 201);
    T_EQ_STR(access, "professional");
}

static void test_restored_dump_serves(void)
{
    make_site();
    /* The dump of the running site. */
    T_EQ_INT(pg_tool("pg_dump", (const char *const[]){"--format=custom", "--file", dump_path,
                                                      "--dbname", site.db.url, NULL}),
             0);
    char access[32];

    th_db_create(&copy);
    T_EQ_INT(pg_tool("pg_restore", (const char *const[]){"--no-owner", "--exit-on-error",
                                                         "--dbname", copy.url, dump_path, NULL}),
             0);
    /* migrate on a restored dump of the same version has nothing to do. */
    T_EQ_INT(th_migrate(copy.url), 0);
    const char *const env[] = {site.auth.env_pub, NULL};
    T_REQUIRE(th_server_start(&copy_srv, copy.url, env, true));

    json_t *l1 = get(&site.srv, "/license"), *l2 = get(&copy_srv, "/license");
    T_REQUIRE(l1 != NULL && l2 != NULL);
    static const char *const members[] = {"status", "licenseNumber", "organization", "validTo",
                                          "lastVerifiedAt", "disabledAt", "parameters", "tokens"};
    for (size_t i = 0; i < sizeof members / sizeof members[0]; i++)
        same(l1, l2, members[i]);
    T_EQ_STR(tl_text(l2, "status"), "ok");
    T_EQ_STR(tl_text(l2, "licenseNumber"), "4242");
    same(l1, l2, "allotments");
    json_decref(l1);
    json_decref(l2);

    static const char *const lists[] = {"/users", "/allocations", "/allocations/rules",
                                        "/allocations?quarantined=true"};
    for (size_t i = 0; i < sizeof lists / sizeof lists[0]; i++) {
        json_t *a = get(&site.srv, lists[i]), *b = get(&copy_srv, lists[i]);
        T_REQUIRE(a != NULL && b != NULL);
        printf("#   %s: %zu rows\n", lists[i], json_array_size(json_object_get(a, "data")));
        T_CHECK(json_array_size(json_object_get(a, "data")) > 0);
        same(a, b, "data");
        json_decref(a);
        json_decref(b);
    }
    /* Active sessions: alice's, the same in both. */
    json_t *s1 = get(&site.srv, "/sessions?active=true"), *s2 = get(&copy_srv, "/sessions?active=true");
    T_REQUIRE(s1 != NULL && s2 != NULL);
    T_EQ_INT(json_array_size(json_object_get(s2, "data")), 1);
    T_EQ_STR(tl_text(json_array_get(json_object_get(s2, "data"), 0), "id"), active_sid);
    same(s1, s2, "data");
    json_decref(s1);
    json_decref(s2);

    /* The copy serves: a heartbeat of the restored session, and a new
     * session (dave, by the Sales rule), which the original never sees. */
    struct th_resp r;
    char path[128];
    snprintf(path, sizeof path, "/sessions/%s/heartbeat", active_sid);
    T_REQUIRE(th_req(&copy_srv, "POST", path, TH_ADMIN_KEY, NULL, &r));
    T_STATUS(r, 200);
    th_resp_free(&r);
    char sid[TL_ID_LEN];
    T_EQ_INT(tl_session_access(&copy_srv, dave, sid, access, sizeof access), 201);
    T_EQ_STR(access, "professional");
    T_EQ_INT(th_sql_longf(copy.url, "SELECT count(*) FROM sessions WHERE id = '%s'", sid), 1);
    T_EQ_INT(th_sql_longf(site.db.url, "SELECT count(*) FROM sessions WHERE id = '%s'", sid), 0);
    T_EQ_INT(th_sql_longf(site.db.url, "SELECT count(*) FROM allocations WHERE user_ref = '%s'", dave), 0);
}

int main(void)
{
    const char *bin = getenv("ALLOT_TEST_PG_BIN");
    if (bin == NULL || *bin == '\0') {
        if (getenv("ALLOT_TEST_REQUIRE_DB") != NULL) {
            printf("Bail out! ALLOT_TEST_PG_BIN is not set\n");
            return 1;
        }
        t_skip_all("ALLOT_TEST_PG_BIN is not set (run ./scripts/test)");
    }
    snprintf(dump_path, sizeof dump_path, "/tmp/allot-backup-%d.dump", (int)getpid());
    snprintf(log_path, sizeof log_path, "/tmp/allot-backup-%d.log", (int)getpid());
    tl_site_start(&site, NULL);
    T_RUN(test_restored_dump_serves);
    if (copy_srv.pid > 0)
        T_EQ_INT(th_server_stop(&copy_srv), 0);
    if (copy.name[0] != '\0')
        th_db_drop(&copy);
    T_EQ_INT(tl_site_stop(&site), 0);
    unlink(dump_path);
    if (t_state.failed_tests == 0)
        unlink(log_path);
    else
        printf("# pg_dump and pg_restore said: %s\n", log_path);
    return t_done();
}

/* api suite: TLS (API.md's ALLOT_TLS_CERT, ALLOT_TLS_KEY, ALLOT_AUTHORITY_CA).
 *
 * Certificates are made at test time (tests/lib/tcert.c, OpenSSL) under a CA
 * of the test: a good one for 127.0.0.1, a second good one, an expired one and
 * one for another host name.  allotd serves HTTPS only, reloads its
 * certificate on SIGHUP without dropping a connection and keeps the old one
 * when the new files are wrong; bad files stop start-up naming the variable.
 * The sync verifies allot-authority's certificate (served with --tls-cert):
 * the private CA through ALLOT_AUTHORITY_CA, and an expired certificate, a
 * wrong host name or an unknown CA are failed syncs with the reason shown. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <curl/curl.h>

#include "tcert.h"
#include "tlicense.h"

T_DEFINE_STATE;

static char dir[128];
static char ca_pem[192], other_ca_pem[192];
static char good_crt[192], good_key[192];     /* CN "allotd good" for 127.0.0.1 */
static char second_crt[192], second_key[192]; /* CN "allotd second" */
static char expired_crt[192], expired_key[192];
static char wrong_crt[192], wrong_key[192];   /* CN and SAN other.example */
static char served_crt[192], served_key[192]; /* what allotd serves, replaced by tests */
static char tmp_out[192], tmp_err[192];

static struct th_db db;
static struct th_server srv;

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void path_in(char *out, size_t len, const char *name)
{
    snprintf(out, len, "%s/%s", dir, name);
}

static bool copy_file(const char *from, const char *to)
{
    char *text = th_file_text(from);
    char tmp[256];
    snprintf(tmp, sizeof tmp, "%s.copy", to);
    FILE *f = text != NULL ? fopen(tmp, "w") : NULL;
    bool ok = f != NULL && fputs(text, f) >= 0;
    if (f != NULL)
        ok = fclose(f) == 0 && ok;
    ok = ok && chmod(tmp, 0600) == 0 && rename(tmp, to) == 0;
    free(text);
    return ok;
}

/* Serve the pair (crt, key) from the files allotd was started with. */
static bool serve_pair(const char *crt, const char *key)
{
    return copy_file(key, served_key) && copy_file(crt, served_crt);
}

/* How many lines of the file hold text. */
static int count_in_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return 0;
    char line[8192];
    int n = 0;
    while (fgets(line, sizeof line, f) != NULL)
        n += strstr(line, text) != NULL;
    fclose(f);
    return n;
}

/* Waits (up to 20 s) until the file holds more than `before` lines with text. */
static bool wait_lines(const char *path, const char *text, int before)
{
    for (int i = 0; i < 400; i++) {
        if (count_in_file(path, text) > before)
            return true;
        tl_sleep_ms(50);
    }
    printf("# no new line with \"%s\" in %s\n", text, path);
    return false;
}

/* ---- a client that keeps its connection -------------------------------- */

static size_t discard(char *p, size_t size, size_t n, void *ctx)
{
    (void)p;
    (void)ctx;
    return size * n;
}

struct probe {
    CURLcode rc;
    long status;
    long new_connections; /* 0: the request went over a connection kept open */
    char subject[256];    /* the server certificate's subject, on a new connection */
    char error[CURL_ERROR_SIZE];
};

/* GET path on base with handle h (kept between calls), trusting ca. */
static void probe(CURL *h, const char *base, const char *path, const char *ca, struct probe *out)
{
    memset(out, 0, sizeof *out);
    char url[256];
    snprintf(url, sizeof url, "%s%s", base, path);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 20L);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, out->error);
    curl_easy_setopt(h, CURLOPT_CERTINFO, 1L);
    if (ca != NULL) {
        curl_easy_setopt(h, CURLOPT_CAINFO, ca);
        curl_easy_setopt(h, CURLOPT_CAPATH, NULL);
    }
    out->rc = curl_easy_perform(h);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &out->status);
    curl_easy_getinfo(h, CURLINFO_NUM_CONNECTS, &out->new_connections);
    struct curl_certinfo *ci = NULL;
    if (curl_easy_getinfo(h, CURLINFO_CERTINFO, &ci) == CURLE_OK && ci != NULL &&
        ci->num_of_certs > 0)
        for (struct curl_slist *l = ci->certinfo[0]; l != NULL; l = l->next)
            if (strncmp(l->data, "Subject:", 8) == 0)
                snprintf(out->subject, sizeof out->subject, "%s", l->data + 8);
}

/* One request on a new connection. */
static void probe_once(const char *base, const char *path, const char *ca, struct probe *out)
{
    CURL *h = curl_easy_init();
    probe(h, base, path, ca, out);
    curl_easy_cleanup(h);
}

/* ---- the listener -------------------------------------------------------- */

static void test_https_only(void)
{
    struct probe p;
    probe_once(srv.base, "/health", srv.ca, &p);
    T_EQ_INT(p.rc, CURLE_OK);
    T_EQ_INT(p.status, 200);
    T_CHECK(strstr(p.subject, "allotd good") != NULL);
    /* The API itself, over HTTPS. */
    struct th_resp r;
    T_CHECK(th_req(&srv, "POST", "/apikeys", TH_ADMIN_KEY, "{\"name\": \"hub\", \"role\": \"proxy\"}",
                   &r));
    T_STATUS(r, 201);
    th_resp_free(&r);
    T_CHECK(th_req(&srv, "GET", "/ready", NULL, NULL, &r));
    T_STATUS(r, 200);
    th_resp_free(&r);
    /* No plain HTTP on the port: a request in clear gets no HTTP answer. */
    char plain[64];
    snprintf(plain, sizeof plain, "http://127.0.0.1:%d", srv.port);
    probe_once(plain, "/health", NULL, &p);
    if (p.rc == CURLE_OK)
        printf("#   plain HTTP answered %ld\n", p.status);
    T_CHECK(p.rc != CURLE_OK);
    /* A client that does not know the CA refuses the certificate. */
    probe_once(srv.base, "/health", other_ca_pem, &p);
    T_EQ_INT(p.rc, CURLE_PEER_FAILED_VERIFICATION);
}

static void test_healthcheck_speaks_https(void)
{
    char listen[64], cert[256], key[256];
    snprintf(listen, sizeof listen, "ALLOT_LISTEN=127.0.0.1:%d", srv.port);
    snprintf(cert, sizeof cert, "ALLOT_TLS_CERT=%s", served_crt);
    snprintf(key, sizeof key, "ALLOT_TLS_KEY=%s", served_key);
    const char *env[] = {listen, cert, key, "ALLOT_DATABASE_URL", NULL};
    T_EQ_INT(th_allotd_run("healthcheck", env, tmp_out, tmp_err, 20), 0);
}

/* SIGHUP: a connection kept open goes on, new ones get the new certificate. */
static void test_reload_keeps_connections(void)
{
    CURL *kept = curl_easy_init();
    struct probe p;
    probe(kept, srv.base, "/health", srv.ca, &p);
    T_EQ_INT(p.status, 200);
    T_CHECK(strstr(p.subject, "allotd good") != NULL);

    T_REQUIRE(serve_pair(second_crt, second_key));
    int before = count_in_file(srv.log_path, "TLS: reloaded");
    T_REQUIRE(kill(srv.pid, SIGHUP) == 0);
    T_REQUIRE(wait_lines(srv.log_path, "TLS: reloaded", before));

    probe(kept, srv.base, "/health", srv.ca, &p);
    T_EQ_INT(p.rc, CURLE_OK);
    T_EQ_INT(p.status, 200);
    T_EQ_INT(p.new_connections, 0); /* the same connection, not dropped */
    curl_easy_cleanup(kept);

    probe_once(srv.base, "/health", srv.ca, &p);
    T_EQ_INT(p.status, 200);
    if (strstr(p.subject, "allotd second") == NULL)
        printf("#   subject after the reload: %s\n", p.subject);
    T_CHECK(strstr(p.subject, "allotd second") != NULL);
    /* Still one process: the same one that was started. */
    T_CHECK(waitpid(srv.pid, NULL, WNOHANG) == 0);
}

/* A reload with a key that is not the certificate's keeps the certificate. */
static void test_bad_reload_keeps_certificate(void)
{
    T_REQUIRE(copy_file(good_key, served_key)); /* the key of another certificate */
    int before = count_in_file(srv.log_path, "still serving the certificate loaded before");
    T_REQUIRE(kill(srv.pid, SIGHUP) == 0);
    T_REQUIRE(wait_lines(srv.log_path, "still serving the certificate loaded before", before));
    T_CHECK(th_log_contains(&srv, "ALLOT_TLS_KEY"));
    struct probe p;
    probe_once(srv.base, "/health", srv.ca, &p);
    T_EQ_INT(p.status, 200);
    T_CHECK(strstr(p.subject, "allotd second") != NULL);
    /* A missing file: the same. */
    T_REQUIRE(unlink(served_crt) == 0);
    before = count_in_file(srv.log_path, "still serving the certificate loaded before");
    T_REQUIRE(kill(srv.pid, SIGHUP) == 0);
    T_REQUIRE(wait_lines(srv.log_path, "still serving the certificate loaded before", before));
    probe_once(srv.base, "/health", srv.ca, &p);
    T_EQ_INT(p.status, 200);
    T_REQUIRE(serve_pair(second_crt, second_key));
}

/* Bad TLS configuration stops start-up with one line naming the variable,
 * before the database is tried. */
static void start_refused(const char *cert, const char *key, const char *ca, const char *name)
{
    char down[160], c[256], k[256], a[256], listen[64];
    snprintf(down, sizeof down, "ALLOT_DATABASE_URL=postgresql://allot@127.0.0.1:%d/x",
             th_free_port());
    snprintf(listen, sizeof listen, "ALLOT_LISTEN=127.0.0.1:%d", th_free_port());
    snprintf(c, sizeof c, "ALLOT_TLS_CERT=%s", cert ? cert : "");
    snprintf(k, sizeof k, "ALLOT_TLS_KEY=%s", key ? key : "");
    snprintf(a, sizeof a, "ALLOT_AUTHORITY_CA=%s", ca ? ca : "");
    const char *env[] = {down, listen, cert ? c : "ALLOT_TLS_CERT", key ? k : "ALLOT_TLS_KEY",
                         ca ? a : "ALLOT_AUTHORITY_CA", NULL};
    int rc = th_allotd_run(NULL, env, tmp_out, tmp_err, 20);
    char *text = th_file_text(tmp_err);
    const char *t = text ? text : "";
    bool named = strncmp(t, "allotd: ", 8) == 0 && strncmp(t + 8, name, strlen(name)) == 0;
    size_t lines = 0;
    for (const char *p = t; *p != '\0'; p++)
        lines += *p == '\n';
    if (rc != 2 || !named || lines != 1)
        printf("#   exit %d, stderr: %s\n", rc, t);
    T_EQ_INT(rc, 2);
    T_CHECK(named);
    T_EQ_INT(lines, 1);
    free(text);
}

static void test_bad_files_stop_start_up(void)
{
    char missing[256], garbage[256];
    path_in(missing, sizeof missing, "missing.pem");
    path_in(garbage, sizeof garbage, "garbage.pem");
    FILE *f = fopen(garbage, "w");
    T_REQUIRE(f != NULL);
    fputs("-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n", f);
    fclose(f);
    start_refused(good_crt, NULL, NULL, "ALLOT_TLS_KEY:");
    start_refused(NULL, good_key, NULL, "ALLOT_TLS_CERT:");
    start_refused(missing, good_key, NULL, "ALLOT_TLS_CERT:");
    start_refused(garbage, good_key, NULL, "ALLOT_TLS_CERT:");
    start_refused(good_crt, missing, NULL, "ALLOT_TLS_KEY:");
    start_refused(good_crt, good_crt, NULL, "ALLOT_TLS_KEY:");  /* no key in it */
    start_refused(good_crt, second_key, NULL, "ALLOT_TLS_KEY:"); /* another one's key */
    start_refused(NULL, NULL, missing, "ALLOT_AUTHORITY_CA:");
}

/* An expired certificate is served (the log says why clients refuse it), and
 * clients refuse it. */
static void test_expired_certificate(void)
{
    int port = th_free_port();
    char log_path[256];
    path_in(log_path, sizeof log_path, "expired.log");
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        char listen[64];
        snprintf(listen, sizeof listen, "127.0.0.1:%d", port);
        setenv("ALLOT_LISTEN", listen, 1);
        setenv("ALLOT_DATABASE_URL", db.url, 1);
        setenv("ALLOT_TLS_CERT", expired_crt, 1);
        setenv("ALLOT_TLS_KEY", expired_key, 1);
        int fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        dup2(fd, 2);
        const char *bin = getenv("ALLOTD");
        execl(bin ? bin : "build/allotd", "allotd", (char *)NULL);
        _exit(127);
    }
    T_REQUIRE(pid > 0);
    bool up = wait_lines(log_path, "allotd listening", 0);
    T_CHECK(up);
    T_CHECK(count_in_file(log_path, "expired at") >= 1);
    if (up) {
        char base[64];
        snprintf(base, sizeof base, "https://127.0.0.1:%d", port);
        struct probe p;
        probe_once(base, "/health", ca_pem, &p);
        T_EQ_INT(p.rc, CURLE_PEER_FAILED_VERIFICATION);
        if (strstr(p.error, "expired") == NULL)
            printf("#   client error: %s\n", p.error);
        T_CHECK(strstr(p.error, "expired") != NULL);
    }
    kill(pid, SIGTERM);
    int status = 0;
    waitpid(pid, &status, 0);
    T_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* ---- the sync client --------------------------------------------------------- */

static struct tl_site site;
static struct tl_backend backend;
static char backend_crt[192], backend_key[192];

/* POST /license/actions/sync on s: the status, and the reason of a failure in why. */
static long force_sync(const struct th_server *s, char *why, size_t len)
{
    struct th_resp r;
    long status = th_req(s, "POST", "/license/actions/sync", TH_ADMIN_KEY, NULL, &r) ? r.status : 0;
    snprintf(why, len, "%s", th_str(&r, "message"));
    if (status == 502)
        T_EQ_STR(th_error_type(&r), "LICENSES-BackendUnavailable");
    th_resp_free(&r);
    return status;
}

/* The backend serves the pair (crt, key) from now on (its SIGHUP reload). */
static bool backend_serves(const char *crt, const char *key)
{
    int before = count_in_file(backend.log_path, "TLS: reloaded");
    return copy_file(key, backend_key) && copy_file(crt, backend_crt) &&
           kill(backend.pid, SIGHUP) == 0 && wait_lines(backend.log_path, "TLS: reloaded", before);
}

static void test_sync_trusts_the_private_ca(void)
{
    char why[512];
    T_REQUIRE(tl_apply(&site.srv, &site.auth, "--professional", "2", NULL));
    T_EQ_INT(force_sync(&site.srv, why, sizeof why), 200);
    struct th_resp r;
    T_CHECK(th_req(&site.srv, "GET", "/license", TH_ADMIN_KEY, NULL, &r));
    T_EQ_STR(tl_text(r.json, "status"), "ok");
    T_CHECK(tl_time(r.json, "lastVerifiedAt") >= tl_now() - 5);
    T_CHECK(json_is_null(json_object_get(r.json, "lastSyncError")));
    th_resp_free(&r);
}

/* A failed sync on s whose reason holds text. */
static void expect_sync_refused(const struct th_server *s, const char *text)
{
    char why[512];
    T_EQ_INT(force_sync(s, why, sizeof why), 502);
    if (strstr(why, text) == NULL)
        printf("#   expected \"%s\" in: %s\n", text, why);
    T_CHECK(strstr(why, text) != NULL);
    struct th_resp r;
    T_CHECK(th_req(s, "GET", "/license", TH_ADMIN_KEY, NULL, &r));
    T_CHECK(strstr(tl_text(r.json, "lastSyncError"), text) != NULL);
    th_resp_free(&r);
}

static void test_sync_refuses_bad_certificates(void)
{
    T_REQUIRE(backend_serves(expired_crt, expired_key));
    expect_sync_refused(&site.srv, "expired");
    T_REQUIRE(backend_serves(wrong_crt, wrong_key));
    expect_sync_refused(&site.srv, "127.0.0.1"); /* the name it was asked for */
    T_REQUIRE(backend_serves(good_crt, good_key));
    char why[512];
    T_EQ_INT(force_sync(&site.srv, why, sizeof why), 200);
}

/* Without ALLOT_AUTHORITY_CA, the system's CAs do not know the private one. */
static void test_sync_without_the_ca(void)
{
    static char env_url[128];
    snprintf(env_url, sizeof env_url, "ALLOT_AUTHORITY_URL=%s", backend.http.base);
    const char *env[] = {env_url, "ALLOT_SYNC_INTERVAL=1h", NULL};
    struct th_server other;
    T_REQUIRE(tl_site_add_server(&site, &other, env));
    expect_sync_refused(&other, "certificate");
    T_EQ_INT(th_server_stop(&other), 0);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    snprintf(dir, sizeof dir, "/tmp/allot-tls-XXXXXX");
    if (mkdtemp(dir) == NULL) {
        printf("Bail out! mkdtemp: %s\n", strerror(errno));
        return 1;
    }
    snprintf(tmp_out, sizeof tmp_out, "%s/out", dir);
    snprintf(tmp_err, sizeof tmp_err, "%s/err", dir);
    path_in(ca_pem, sizeof ca_pem, "ca.pem");
    path_in(other_ca_pem, sizeof other_ca_pem, "other-ca.pem");
    path_in(good_crt, sizeof good_crt, "good.crt");
    path_in(good_key, sizeof good_key, "good.key");
    path_in(second_crt, sizeof second_crt, "second.crt");
    path_in(second_key, sizeof second_key, "second.key");
    path_in(expired_crt, sizeof expired_crt, "expired.crt");
    path_in(expired_key, sizeof expired_key, "expired.key");
    path_in(wrong_crt, sizeof wrong_crt, "wrong.crt");
    path_in(wrong_key, sizeof wrong_key, "wrong.key");
    path_in(served_crt, sizeof served_crt, "served.crt");
    path_in(served_key, sizeof served_key, "served.key");
    path_in(backend_crt, sizeof backend_crt, "backend.crt");
    path_in(backend_key, sizeof backend_key, "backend.key");
    struct tc_ca ca, other;
    const char *here = "IP:127.0.0.1,DNS:localhost";
    bool made = tc_ca_make(&ca, "allot test CA") && tc_ca_make(&other, "another CA") &&
                tc_ca_write(&ca, ca_pem) && tc_ca_write(&other, other_ca_pem) &&
                tc_leaf_write(&ca, "allotd good", here, -3600, 86400, good_crt, good_key) &&
                tc_leaf_write(&ca, "allotd second", here, -3600, 86400, second_crt, second_key) &&
                tc_leaf_write(&ca, "allotd expired", here, -7 * 86400, -86400, expired_crt,
                              expired_key) &&
                tc_leaf_write(&ca, "other.example", "DNS:other.example", -3600, 86400, wrong_crt,
                              wrong_key) &&
                serve_pair(good_crt, good_key) && copy_file(good_crt, backend_crt) &&
                copy_file(good_key, backend_key);
    tc_ca_free(&ca);
    tc_ca_free(&other);
    if (!made) {
        printf("Bail out! cannot make the test certificates\n");
        return 1;
    }

    T_RUN(test_bad_files_stop_start_up);

    th_db_create(&db);
    char cert[256], key[256];
    snprintf(cert, sizeof cert, "ALLOT_TLS_CERT=%s", served_crt);
    snprintf(key, sizeof key, "ALLOT_TLS_KEY=%s", served_key);
    const char *env[] = {cert, key, NULL};
    if (th_migrate(db.url) != 0 || !th_server_start_tls(&srv, db.url, env, true, ca_pem)) {
        printf("Bail out! allotd with TLS did not start (log %s)\n", srv.log_path);
        th_server_stop(&srv);
        th_db_drop(&db);
        return 1;
    }
    T_RUN(test_https_only);
    T_RUN(test_healthcheck_speaks_https);
    T_RUN(test_reload_keeps_connections);
    T_RUN(test_bad_reload_keeps_certificate);
    T_RUN(test_expired_certificate);
    T_EQ_INT(th_server_stop(&srv), 0);
    th_db_drop(&db);

    /* The sync: allot-authority over HTTPS, trusted through ALLOT_AUTHORITY_CA. */
    if (!tl_backend_init(&backend, "tls")) {
        printf("Bail out! no state directory for allot-authority\n");
        return 1;
    }
    tl_backend_use_tls(&backend, backend_crt, backend_key, ca_pem);
    static char env_url[128], env_ca[256];
    snprintf(env_url, sizeof env_url, "ALLOT_AUTHORITY_URL=%s", backend.http.base);
    snprintf(env_ca, sizeof env_ca, "ALLOT_AUTHORITY_CA=%s", ca_pem);
    tl_site_start(&site, (const char *[]){env_url, env_ca, "ALLOT_SYNC_INTERVAL=1h", NULL});
    if (!tl_backend_start(&backend, site.auth.key_path)) {
        printf("Bail out! allot-authority serve --tls-cert did not start\n");
        tl_backend_remove(&backend);
        tl_site_stop(&site);
        return 1;
    }
    T_RUN(test_sync_trusts_the_private_ca);
    T_RUN(test_sync_refuses_bad_certificates);
    T_RUN(test_sync_without_the_ca);
    T_EQ_INT(tl_backend_stop(&backend), 0);
    tl_backend_remove(&backend);
    T_EQ_INT(tl_site_stop(&site), 0);

    if (t_state.failed_tests == 0)
        nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    else
        printf("# the certificates and logs are kept in %s\n", dir);
    curl_global_cleanup();
    return t_done();
}

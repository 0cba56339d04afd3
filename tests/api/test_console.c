/* GET /console/...: the admin console's files as a browser gets them from the
 * real allotd, with ALLOT_CONSOLE_DIR naming a directory this test makes:
 * types, caching (hashed assets immutable, the rest no-cache with an ETag and
 * 304), the Content-Security-Policy, index.html for any view path (deep links),
 * 404 for a missing file, no key needed, nothing outside the directory (dot
 * segments, encoded slashes, symbolic links, hidden files), and start-up
 * refusing an ALLOT_CONSOLE_DIR it cannot serve. */
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tharness.h"

T_DEFINE_STATE;

static struct th_db db;
static struct th_server srv;
static char dir[128];     /* the console directory served */
static char outside[160]; /* a file next to it, which must never be served */
static char env_dir[200];

#define INDEX_HTML "<!doctype html><title>allot console</title><script type=module src=/console/assets/app-3fA9c1x2.js></script>"
#define APP_JS "console.log('the console');\n"
#define SECRET "a file outside the console directory\n"

static bool write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return false;
    fputs(text, f);
    return fclose(f) == 0;
}

static bool make_console_dir(void)
{
    snprintf(dir, sizeof dir, "/tmp/allot-console-test-%d", (int)getpid());
    snprintf(outside, sizeof outside, "%s-outside.txt", dir);
    char p[256];
    bool ok = mkdir(dir, 0700) == 0 && write_file(outside, SECRET);
    snprintf(p, sizeof p, "%s/index.html", dir);
    ok = ok && write_file(p, INDEX_HTML);
    snprintf(p, sizeof p, "%s/assets", dir);
    ok = ok && mkdir(p, 0700) == 0;
    snprintf(p, sizeof p, "%s/assets/app-3fA9c1x2.js", dir);
    ok = ok && write_file(p, APP_JS);
    snprintf(p, sizeof p, "%s/assets/style-Zq81pL0a.css", dir);
    ok = ok && write_file(p, "body{color:#000}\n");
    snprintf(p, sizeof p, "%s/favicon.svg", dir);
    ok = ok && write_file(p, "<svg xmlns=\"http://www.w3.org/2000/svg\"/>");
    snprintf(p, sizeof p, "%s/docs", dir);
    ok = ok && mkdir(p, 0700) == 0;
    snprintf(p, sizeof p, "%s/docs/notes.txt", dir);
    ok = ok && write_file(p, "nested\n");
    snprintf(p, sizeof p, "%s/.env", dir);
    ok = ok && write_file(p, SECRET);
    /* Links out of the directory: a file and a directory. */
    snprintf(p, sizeof p, "%s/secret.txt", dir);
    ok = ok && symlink(outside, p) == 0;
    snprintf(p, sizeof p, "%s/up", dir);
    ok = ok && symlink("/tmp", p) == 0;
    snprintf(env_dir, sizeof env_dir, "ALLOT_CONSOLE_DIR=%s", dir);
    return ok;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void get(const char *path, const char *const *headers, struct th_resp *r)
{
    T_CHECK(th_req_full(&srv, "GET", path, headers, NULL, 0, r));
}

static const char *hdr(const struct th_resp *r, const char *name)
{
    static char value[4][600];
    static int next;
    char *out = value[next++ % 4];
    th_header(r, name, out, sizeof value[0]);
    return out;
}

/* The headers every answer of the console carries. */
static void check_policy(const struct th_resp *r)
{
    const char *csp = hdr(r, "Content-Security-Policy");
    T_CHECK(strstr(csp, "default-src 'none'") != NULL);
    T_CHECK(strstr(csp, "script-src 'self'") != NULL);
    T_CHECK(strstr(csp, "style-src 'self'") != NULL);
    T_CHECK(strstr(csp, "connect-src 'self'") != NULL);
    T_CHECK(strstr(csp, "frame-ancestors 'none'") != NULL);
    T_CHECK(strstr(csp, "unsafe-inline") == NULL);
    T_CHECK(strstr(csp, "unsafe-eval") == NULL);
    T_EQ_STR(hdr(r, "X-Content-Type-Options"), "nosniff");
    T_CHECK(r->corr_id[0] != '\0');
}

static void check_index(const struct th_resp *r)
{
    T_STATUS(*r, 200);
    T_EQ_STR(r->content_type, "text/html; charset=utf-8");
    T_EQ_STR(hdr(r, "Cache-Control"), "no-cache");
    T_CHECK(hdr(r, "ETag")[0] == '"');
    T_CHECK(r->body != NULL && strcmp(r->body, INDEX_HTML) == 0);
    check_policy(r);
}

static void test_index_needs_no_key(void)
{
    static const char *const paths[] = {"/console/", "/console", "/console/index.html"};
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        struct th_resp r;
        get(paths[i], NULL, &r);
        check_index(&r);
        th_resp_free(&r);
    }
}

static void test_hashed_assets_are_immutable(void)
{
    struct th_resp r;
    get("/console/assets/app-3fA9c1x2.js", NULL, &r);
    T_STATUS(r, 200);
    T_EQ_STR(r.content_type, "text/javascript; charset=utf-8");
    T_EQ_STR(hdr(&r, "Cache-Control"), "public, max-age=31536000, immutable");
    T_CHECK(r.body != NULL && strcmp(r.body, APP_JS) == 0);
    check_policy(&r);
    th_resp_free(&r);
    get("/console/assets/style-Zq81pL0a.css", NULL, &r);
    T_STATUS(r, 200);
    T_EQ_STR(r.content_type, "text/css; charset=utf-8");
    T_EQ_STR(hdr(&r, "Cache-Control"), "public, max-age=31536000, immutable");
    th_resp_free(&r);
    /* Files outside assets/ have no hash in their names: revalidated. */
    get("/console/favicon.svg", NULL, &r);
    T_STATUS(r, 200);
    T_EQ_STR(r.content_type, "image/svg+xml");
    T_EQ_STR(hdr(&r, "Cache-Control"), "no-cache");
    th_resp_free(&r);
    get("/console/docs/notes.txt", NULL, &r);
    T_STATUS(r, 200);
    T_EQ_STR(r.content_type, "text/plain; charset=utf-8");
    T_CHECK(r.body != NULL && strcmp(r.body, "nested\n") == 0);
    th_resp_free(&r);
}

/* Every view of the app is index.html, so a reload lands on the same view. */
static void test_deep_links_get_index(void)
{
    static const char *const paths[] = {
        "/console/allocations", "/console/audit?resultCode=NoAvailableAccessType&from=x",
        "/console/users/", "/console/signin?next=%2Fconsole%2Fusage", "/console/no/such/view",
    };
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        struct th_resp r;
        get(paths[i], NULL, &r);
        if (r.status != 200)
            printf("#   %s answered %ld\n", paths[i], r.status);
        check_index(&r);
        th_resp_free(&r);
    }
}

static void test_missing_files_are_404(void)
{
    static const char *const paths[] = {
        "/console/assets/app-00000000.js", "/console/assets/", "/console/robots.txt",
        "/console/docs/none.txt",
    };
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        struct th_resp r;
        get(paths[i], NULL, &r);
        if (r.status != 404)
            printf("#   %s answered %ld\n", paths[i], r.status);
        T_ERROR(r, 404, "LICENSES-NotFound");
        th_resp_free(&r);
    }
}

/* Nothing outside the directory, whatever the path says: the answer is a 404
 * or index.html, never the outside file. */
static void test_nothing_escapes(void)
{
    char up[300];
    snprintf(up, sizeof up, "/console/../../../..%s", outside);
    char enc[300];
    snprintf(enc, sizeof enc, "/console/..%%2f..%%2f..%%2f..%s", outside);
    char via_link[300];
    snprintf(via_link, sizeof via_link, "/console/up/%s", strrchr(outside, '/') + 1);
    const char *const paths[] = {
        up, enc, via_link, "/console/secret.txt", "/console/.env", "/console/%2e%2e/%2e%2e/etc/passwd",
        "/console/assets/../../secret.txt", "/console/assets/..%2f..%2fsecret.txt",
        "/console/./index.html/..", "/console/up/",
    };
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        struct th_resp r;
        get(paths[i], NULL, &r);
        bool index = r.status == 200 && r.body != NULL && strcmp(r.body, INDEX_HTML) == 0;
        bool refused = r.status == 404 || r.status == 400;
        if (!(index || refused))
            printf("#   %s answered %ld\n", paths[i], r.status);
        T_CHECK(index || refused);
        T_CHECK(r.body == NULL || strstr(r.body, "outside the console") == NULL);
        T_CHECK(r.body == NULL || strstr(r.body, "root:") == NULL);
        th_resp_free(&r);
    }
    /* The link and the hidden file are not served even by their own names. */
    struct th_resp r;
    get("/console/secret.txt", NULL, &r);
    T_ERROR(r, 404, "LICENSES-NotFound");
    th_resp_free(&r);
    get("/console/.env", NULL, &r);
    T_ERROR(r, 404, "LICENSES-NotFound");
    th_resp_free(&r);
}

static void test_etag_revalidation(void)
{
    struct th_resp r;
    get("/console/", NULL, &r);
    char etag[64];
    snprintf(etag, sizeof etag, "%s", hdr(&r, "ETag"));
    th_resp_free(&r);
    T_REQUIRE(etag[0] == '"');
    char inm[128];
    snprintf(inm, sizeof inm, "If-None-Match: %s", etag);
    const char *h[] = {inm, NULL};
    get("/console/allocations", h, &r);
    T_STATUS(r, 304);
    T_CHECK(r.body_len == 0);
    T_EQ_STR(hdr(&r, "ETag"), etag);
    th_resp_free(&r);
    const char *other[] = {"If-None-Match: \"0000000000000000\"", NULL};
    get("/console/", other, &r);
    check_index(&r);
    th_resp_free(&r);
    /* A hashed asset has its own tag. */
    get("/console/assets/app-3fA9c1x2.js", NULL, &r);
    T_CHECK(strcmp(hdr(&r, "ETag"), etag) != 0);
    th_resp_free(&r);
}

static void test_methods(void)
{
    struct th_resp r;
    T_CHECK(th_req(&srv, "HEAD", "/console/", NULL, NULL, &r));
    T_STATUS(r, 200);
    T_EQ_STR(r.content_type, "text/html; charset=utf-8");
    T_CHECK(r.body_len == 0);
    th_resp_free(&r);
    T_CHECK(th_req(&srv, "POST", "/console/", TH_ADMIN_KEY, "{}", &r));
    T_ERROR(r, 405, "LICENSES-MethodNotAllowed");
    T_EQ_STR(r.allow, "GET, HEAD");
    th_resp_free(&r);
    T_CHECK(th_req(&srv, "DELETE", "/console/assets/app-3fA9c1x2.js", TH_ADMIN_KEY, NULL, &r));
    T_ERROR(r, 405, "LICENSES-MethodNotAllowed");
    th_resp_free(&r);
    /* A key, even a wrong one, changes nothing for the console's files. */
    T_CHECK(th_req(&srv, "GET", "/console/", "not-a-key", NULL, &r));
    check_index(&r);
    th_resp_free(&r);
    /* The API next to it still wants a key. */
    T_CHECK(th_req(&srv, "GET", "/license", NULL, NULL, &r));
    T_ERROR(r, 401, "LICENSES-Unauthorized");
    th_resp_free(&r);
}

/* Start-up: an ALLOT_CONSOLE_DIR that cannot be served stops allotd with one
 * line naming it; the default directory may be missing (404 then). */
static void test_startup(void)
{
    char env_url[600], err_path[128], bad[200], empty_dir[160];
    snprintf(env_url, sizeof env_url, "ALLOT_DATABASE_URL=%s", db.url);
    snprintf(err_path, sizeof err_path, "/tmp/allot-console-test-%d.err", (int)getpid());
    snprintf(bad, sizeof bad, "ALLOT_CONSOLE_DIR=%s/no-such-dir", dir);
    const char *env[] = {env_url, "ALLOT_LISTEN=127.0.0.1:1", bad, NULL};
    T_EQ_INT(th_allotd_run(NULL, env, NULL, err_path, 30), 2);
    char *text = th_file_text(err_path);
    T_CHECK(text != NULL && strncmp(text, "allotd: ALLOT_CONSOLE_DIR: ", 27) == 0);
    T_CHECK(text != NULL && strchr(text, '\n') == strrchr(text, '\n')); /* one line */
    free(text);

    snprintf(empty_dir, sizeof empty_dir, "%s/docs", dir); /* no index.html there */
    snprintf(bad, sizeof bad, "ALLOT_CONSOLE_DIR=%s", empty_dir);
    T_EQ_INT(th_allotd_run(NULL, env, NULL, err_path, 30), 2);
    text = th_file_text(err_path);
    T_CHECK(text != NULL && strstr(text, "ALLOT_CONSOLE_DIR") != NULL &&
            strstr(text, "index.html") != NULL);
    free(text);
    unlink(err_path);

    /* Unset, and the installed console missing: allotd serves the API and
     * /console/ says the console is not installed. */
    if (access(ALLOT_CONSOLE_DIR_DEFAULT "/index.html", F_OK) == 0) {
        printf("# %s exists on this machine: the missing-default case is not seen here\n",
               ALLOT_CONSOLE_DIR_DEFAULT);
        return;
    }
    struct th_server plain;
    unsetenv("ALLOT_CONSOLE_DIR");
    T_REQUIRE(th_server_start(&plain, db.url, NULL, true));
    struct th_resp r;
    T_CHECK(th_req(&plain, "GET", "/console/", NULL, NULL, &r));
    T_ERROR(r, 404, "LICENSES-NotFound");
    T_CHECK(strstr(th_str(&r, "message"), "ALLOT_CONSOLE_DIR") != NULL);
    th_resp_free(&r);
    T_CHECK(th_req(&plain, "GET", "/health", NULL, NULL, &r));
    T_STATUS(r, 200);
    th_resp_free(&r);
    T_CHECK(th_log_contains(&plain, "the console is not served"));
    T_EQ_INT(th_server_stop(&plain), 0);
}

int main(void)
{
    if (!make_console_dir()) {
        printf("Bail out! cannot make the console directory %s: %s\n", dir, strerror(errno));
        return 1;
    }
    const char *env[] = {env_dir, NULL};
    th_setup(&db, &srv, env);
    T_RUN(test_index_needs_no_key);
    T_RUN(test_hashed_assets_are_immutable);
    T_RUN(test_deep_links_get_index);
    T_RUN(test_missing_files_are_404);
    T_RUN(test_nothing_escapes);
    T_RUN(test_etag_revalidation);
    T_RUN(test_methods);
    T_RUN(test_startup);
    T_EQ_INT(th_server_stop(&srv), 0);
    th_db_drop(&db);
    nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    unlink(outside);
    return t_done();
}

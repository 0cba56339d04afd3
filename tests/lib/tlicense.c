#include "tlicense.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "allot/license.h"

#define ARGS_MAX 64
#define ISSUE_OUT_MAX (64 * 1024)

static const char *authority_path(void)
{
    const char *p = getenv("ALLOT_AUTHORITY");
    return p ? p : "build/allot-authority";
}

/* Runs the authority with argv (argv[0] included); stdout into out (malloc'd,
 * may be NULL).  Returns the exit status, -1 when it could not run. */
static int run_authority(char *const *argv, char **out)
{
    int fds[2];
    if (pipe(fds) != 0)
        return -1;
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return -1;
    }
    if (pid == 0) {
        close(fds[0]);
        dup2(fds[1], 1);
        close(fds[1]);
        execv(authority_path(), argv);
        _exit(127);
    }
    close(fds[1]);
    char *text = malloc(ISSUE_OUT_MAX + 1);
    size_t len = 0;
    ssize_t n;
    while (text != NULL && len < ISSUE_OUT_MAX &&
           (n = read(fds[0], text + len, ISSUE_OUT_MAX - len)) != 0) {
        if (n < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        len += (size_t)n;
    }
    close(fds[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    if (text != NULL)
        text[len] = '\0';
    if (out != NULL)
        *out = text;
    else
        free(text);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

bool tl_authority_make(struct tl_authority *a)
{
    memset(a, 0, sizeof *a);
    snprintf(a->dir, sizeof a->dir, "/tmp/allot-tlicense-XXXXXX");
    if (mkdtemp(a->dir) == NULL) {
        printf("# mkdtemp: %s\n", strerror(errno));
        a->dir[0] = '\0';
        return false;
    }
    snprintf(a->key_path, sizeof a->key_path, "%s/authority.key", a->dir);
    snprintf(a->pub_path, sizeof a->pub_path, "%s/authority.pub", a->dir);
    snprintf(a->env_pub, sizeof a->env_pub, "ALLOT_AUTHORITY_PUBLIC_KEY=%s", a->pub_path);
    char *argv[] = {"allot-authority", "keygen", "--out", a->dir, "--force", NULL};
    int rc = run_authority(argv, NULL);
    if (rc != 0)
        printf("# allot-authority keygen exited %d\n", rc);
    return rc == 0;
}

void tl_authority_remove(struct tl_authority *a)
{
    if (a->dir[0] == '\0')
        return;
    DIR *d = opendir(a->dir);
    if (d != NULL) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            char path[512];
            snprintf(path, sizeof path, "%s/%s", a->dir, e->d_name);
            unlink(path);
        }
        closedir(d);
    }
    rmdir(a->dir);
    a->dir[0] = '\0';
}

static bool has_option(const char *const *args, const char *name)
{
    for (size_t i = 0; args != NULL && args[i] != NULL; i++)
        if (strcmp(args[i], name) == 0)
            return true;
    return false;
}

char *tl_issue_args(const struct tl_authority *a, const char *const *args)
{
    const char *argv[ARGS_MAX + 12];
    size_t n = 0;
    argv[n++] = "allot-authority";
    argv[n++] = "issue";
    argv[n++] = "--key";
    argv[n++] = a->key_path;
    static const char *const defaults[][2] = {
        {"--license-number", "1000"}, {"--organization", "Test Org"}, {"--product", "Analytics"}};
    for (size_t i = 0; i < sizeof defaults / sizeof defaults[0]; i++) {
        if (!has_option(args, defaults[i][0])) {
            argv[n++] = defaults[i][0];
            argv[n++] = defaults[i][1];
        }
    }
    for (size_t i = 0; args != NULL && args[i] != NULL && i < ARGS_MAX; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    char *out = NULL;
    /* execv's argv is char *const[] for historical reasons; it is not written. */
    int rc = run_authority((char *const *)(void *)argv, &out);
    if (rc != 0 || out == NULL || out[0] == '\0') {
        printf("# allot-authority issue exited %d\n", rc);
        free(out);
        return NULL;
    }
    out[strcspn(out, "\r\n")] = '\0';
    return out;
}

/* The NULL-terminated variadic options into args (at most ARGS_MAX). */
static void collect(va_list ap, const char **args)
{
    size_t n = 0;
    const char *arg;
    while ((arg = va_arg(ap, const char *)) != NULL && n < ARGS_MAX)
        args[n++] = arg;
    args[n] = NULL;
}

char *tl_issue(const struct tl_authority *a, ...)
{
    const char *args[ARGS_MAX + 1];
    va_list ap;
    va_start(ap, a);
    collect(ap, args);
    va_end(ap);
    return tl_issue_args(a, args);
}

bool tl_put_license(const struct th_server *s, const char *key, struct th_resp *out)
{
    json_t *body = json_pack("{s:s}", "key", key);
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    bool ok = text != NULL && th_req(s, "PUT", "/license", TH_ADMIN_KEY, text, out);
    free(text);
    return ok;
}

bool tl_apply(const struct th_server *s, const struct tl_authority *a, ...)
{
    const char *args[ARGS_MAX + 1];
    va_list ap;
    va_start(ap, a);
    collect(ap, args);
    va_end(ap);
    char *key = tl_issue_args(a, args);
    if (key == NULL)
        return false;
    struct th_resp r;
    bool ok = tl_put_license(s, key, &r) && r.status == 200;
    if (!ok)
        printf("# PUT /license answered %ld: %s\n", r.status, r.body ? r.body : "");
    th_resp_free(&r);
    free(key);
    return ok;
}

static bool server_start(const struct tl_site *site, struct th_server *srv,
                         const char *const *extra_env)
{
    const char *env[ARGS_MAX + 2];
    size_t n = 0;
    env[n++] = site->auth.env_pub;
    for (size_t i = 0; extra_env != NULL && extra_env[i] != NULL && n < ARGS_MAX; i++)
        env[n++] = extra_env[i];
    env[n] = NULL;
    return th_server_start(srv, site->db.url, env, true);
}

void tl_site_start(struct tl_site *site, const char *const *extra_env)
{
    memset(site, 0, sizeof *site);
    th_db_create(&site->db);
    const char *failed = NULL;
    if (th_migrate(site->db.url) != 0)
        failed = "allotd migrate failed";
    else if (!tl_authority_make(&site->auth))
        failed = "allot-authority keygen failed";
    else if (!server_start(site, &site->srv, extra_env))
        failed = "allotd did not start";
    if (failed != NULL) {
        printf("Bail out! %s\n", failed);
        th_server_stop(&site->srv);
        tl_authority_remove(&site->auth);
        th_db_drop(&site->db);
        exit(1);
    }
}

bool tl_site_add_server(const struct tl_site *site, struct th_server *srv,
                        const char *const *extra_env)
{
    return server_start(site, srv, extra_env);
}

int tl_site_stop(struct tl_site *site)
{
    int rc = th_server_stop(&site->srv);
    tl_authority_remove(&site->auth);
    th_db_drop(&site->db);
    return rc;
}

bool tl_reset(const char *url)
{
    char *ok = th_sql(url, "TRUNCATE license, license_document, users, allocations, rules, login_passes,"
                           " capacity_usage, sessions, session_events, capacity_hours, usage_hours,"
                           " usage_days; UPDATE usage_rollup SET rolled_until = NULL, open_sessions = 0");
    bool done = ok != NULL;
    free(ok);
    return done;
}

bool tl_user(const struct th_server *s, const char *dir, const char *uid, const char *groups_json,
             char *id)
{
    json_t *groups = groups_json ? json_loads(groups_json, 0, NULL) : NULL;
    json_t *body = json_pack("{s:s, s:s, s:s}", "userDirectory", dir, "userId", uid, "name", uid);
    if (groups != NULL)
        json_object_set_new(body, "groups", groups);
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    struct th_resp r;
    bool ok = th_req(s, "POST", "/users", TH_ADMIN_KEY, text, &r) && r.status == 201;
    free(text);
    if (ok)
        snprintf(id, TL_ID_LEN, "%s", th_str(&r, "id"));
    else
        printf("# POST /users %s/%s answered %ld: %s\n", dir, uid, r.status, r.body ? r.body : "");
    th_resp_free(&r);
    return ok;
}

long tl_rule(const struct th_server *s, const char *name, const char *access_type,
             const char *match_json, long tokens, char *id)
{
    json_t *body = json_pack("{s:s, s:s}", "name", name, "accessType", access_type);
    json_object_set_new(body, "match", json_loads(match_json, 0, NULL));
    if (tokens >= 0)
        json_object_set_new(body, "tokens", json_integer(tokens));
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    struct th_resp r;
    long status = th_req(s, "POST", "/allocations/rules", TH_ADMIN_KEY, text, &r) ? r.status : -1;
    free(text);
    if (status == 201 && id != NULL)
        snprintf(id, TL_ID_LEN, "%s", th_str(&r, "id"));
    th_resp_free(&r);
    return status;
}

long tl_alloc(const struct th_server *s, const char *user, const char *type, char *id,
              char *err, size_t errlen)
{
    char body[160];
    snprintf(body, sizeof body, "{\"user\":\"%s\",\"type\":\"%s\"}", user, type);
    struct th_resp r;
    long status = th_req(s, "POST", "/allocations", TH_ADMIN_KEY, body, &r) ? r.status : -1;
    if (status == 201 && id != NULL)
        snprintf(id, TL_ID_LEN, "%s", th_str(&r, "id"));
    if (err != NULL)
        snprintf(err, errlen, "%s", th_error_type(&r));
    th_resp_free(&r);
    return status;
}

long tl_session(const struct th_server *s, const char *user, struct th_resp *out)
{
    char body[96];
    snprintf(body, sizeof body, "{\"user\":\"%s\"}", user);
    struct th_resp r;
    long status = th_req(s, "POST", "/sessions", TH_ADMIN_KEY, body, &r) ? r.status : -1;
    if (out != NULL)
        *out = r;
    else
        th_resp_free(&r);
    return status;
}

long tl_session_access(const struct th_server *s, const char *user, char *id, char *access,
                       size_t len)
{
    struct th_resp r;
    long status = tl_session(s, user, &r);
    snprintf(access, len, "%s", status == 201 ? th_str(&r, "accessType") : "");
    if (id != NULL)
        snprintf(id, TL_ID_LEN, "%s", status == 201 ? th_str(&r, "id") : "");
    th_resp_free(&r);
    return status;
}

bool tl_api_key(const struct th_server *s, const char *role, char *out, size_t len)
{
    char body[128];
    snprintf(body, sizeof body, "{\"name\":\"tlicense-%s\",\"role\":\"%s\"}", role, role);
    struct th_resp r;
    bool ok = th_req(s, "POST", "/apikeys", TH_ADMIN_KEY, body, &r) && r.status == 201;
    snprintf(out, len, "%s", ok ? th_str(&r, "key") : "");
    th_resp_free(&r);
    return ok;
}

json_t *tl_allotment(const struct th_resp *license, const char *name)
{
    size_t i;
    json_t *a;
    json_array_foreach(json_object_get(license->json, "allotments"), i, a) {
        if (strcmp(tl_text(a, "name"), name) == 0)
            return a;
    }
    return NULL;
}

long long tl_int(const json_t *obj, const char *member)
{
    json_t *v = json_object_get(obj, member);
    return json_is_integer(v) ? (long long)json_integer_value(v) : -999;
}

const char *tl_text(const json_t *obj, const char *member)
{
    const char *v = json_string_value(json_object_get(obj, member));
    return v ? v : "";
}

int64_t tl_time(const json_t *obj, const char *member)
{
    int64_t t;
    return core_time_parse(json_string_value(json_object_get(obj, member)), &t) ? t : -1;
}

void tl_rfc3339(int64_t t, char *out, size_t len)
{
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(out, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int64_t tl_now(void)
{
    return (int64_t)time(NULL);
}

double tl_now_f(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void tl_sleep_ms(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

void tl_sleep_until(double t, int margin_ms)
{
    double wait = t - tl_now_f();
    int ms = (wait > 0 ? (int)(wait * 1000.0) : 0) + margin_ms;
    if (ms > 0)
        tl_sleep_ms(ms);
}

/* ---- allot-authority serve ------------------------------------------------- */

static const char *authority_bin(void)
{
    const char *bin = getenv("ALLOT_AUTHORITY");
    return bin ? bin : "build/allot-authority";
}

bool tl_backend_init(struct tl_backend *b, const char *name)
{
    memset(b, 0, sizeof *b);
    b->http.port = th_free_port();
    snprintf(b->http.base, sizeof b->http.base, "http://127.0.0.1:%d", b->http.port);
    snprintf(b->dir, sizeof b->dir, "/tmp/allot-%s-XXXXXX", name);
    if (b->http.port < 0 || mkdtemp(b->dir) == NULL) {
        b->dir[0] = '\0';
        return false;
    }
    snprintf(b->log_path, sizeof b->log_path, "%s.authority.log", b->dir);
    return true;
}

void tl_backend_use_tls(struct tl_backend *b, const char *cert_path, const char *key_path,
                        const char *ca_path)
{
    snprintf(b->tls_cert, sizeof b->tls_cert, "%s", cert_path);
    snprintf(b->tls_key, sizeof b->tls_key, "%s", key_path);
    snprintf(b->http.ca, sizeof b->http.ca, "%s", ca_path);
    snprintf(b->http.base, sizeof b->http.base, "https://127.0.0.1:%d", b->http.port);
}

bool tl_backend_start(struct tl_backend *b, const char *key_path)
{
    return tl_backend_start_with(b, key_path, NULL);
}

bool tl_backend_start_with(struct tl_backend *b, const char *key_path, const char *const *extra)
{
    char listen[64];
    snprintf(listen, sizeof listen, "127.0.0.1:%d", b->http.port);
    const char *args[32] = {"allot-authority", "serve", "--key", key_path, "--listen", listen,
                            b->database[0] != '\0' ? "--database" : "--state-dir",
                            b->database[0] != '\0' ? b->database : b->dir};
    size_t n = 8;
    if (b->tls_cert[0] != '\0') {
        args[n++] = "--tls-cert";
        args[n++] = b->tls_cert;
        args[n++] = "--tls-key";
        args[n++] = b->tls_key;
    }
    for (size_t i = 0; extra != NULL && extra[i] != NULL && n < 31; i++)
        args[n++] = extra[i];
    args[n] = NULL;
    fflush(stdout);
    b->pid = fork();
    if (b->pid == 0) {
        int fd = open(b->log_path, O_WRONLY | O_CREAT | O_APPEND, 0600);
        dup2(fd, 2);
        execv(authority_bin(), (char *const *)(void *)args);
        _exit(127);
    }
    for (int i = 0; i < 200; i++) { /* up to 10 s */
        struct th_resp r;
        bool up = th_req(&b->http, "GET", "/v1/licenses/1", NULL, NULL, &r);
        th_resp_free(&r);
        if (up)
            return true;
        tl_sleep_ms(50);
    }
    printf("# allot-authority serve did not answer; its log: %s\n", b->log_path);
    return false;
}

bool tl_backend_state(const struct tl_backend *b, const char *number, const char *site_db_url,
                      struct th_resp *out)
{
    char *key = th_sql(site_db_url, "SELECT license_key FROM license_document");
    char path[96], auth[8192];
    snprintf(path, sizeof path, "/v1/licenses/%s", number);
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", key != NULL ? key : "");
    free(key);
    const char *headers[] = {auth, NULL};
    return th_req_full(&b->http, "GET", path, headers, NULL, 0, out);
}

int tl_backend_stop(struct tl_backend *b)
{
    if (b->pid <= 0)
        return -1;
    kill(b->pid, SIGTERM);
    int status = 0;
    for (int i = 0; i < 300; i++) { /* up to 15 s */
        if (waitpid(b->pid, &status, WNOHANG) == b->pid) {
            b->pid = 0;
            return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        }
        tl_sleep_ms(50);
    }
    kill(b->pid, SIGKILL);
    waitpid(b->pid, &status, 0);
    b->pid = 0;
    return -1;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

void tl_backend_remove(struct tl_backend *b)
{
    if (b->pid > 0)
        tl_backend_stop(b);
    if (b->dir[0] == '\0')
        return;
    nftw(b->dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
    if (t_state.failed_tests == 0 && !t_state.current_failed)
        unlink(b->log_path);
    else
        printf("# allot-authority's log: %s\n", b->log_path);
    b->dir[0] = '\0';
}

/* ---- session expectations ---------------------------------------------------- */

void tl_expect_refused(const struct th_server *s, const char *user, long status, const char *type,
                       const char *result)
{
    struct th_resp r;
    T_EQ_INT(tl_session(s, user, &r), status);
    T_EQ_STR(th_error_type(&r), type);
    T_EQ_STR(th_str(&r, "resultCode"), result);
    th_resp_free(&r);
}

void tl_expect_access(const struct th_server *s, const char *user, const char *access, char *sid)
{
    char got[32];
    T_EQ_INT(tl_session_access(s, user, sid, got, sizeof got), 201);
    T_EQ_STR(got, access);
}

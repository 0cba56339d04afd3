#include "tharness.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <libpq-fe.h>

static const char *admin_url(void)
{
    const char *url = getenv("ALLOT_TEST_PG");
    if (url == NULL || *url == '\0') {
        if (getenv("ALLOT_TEST_REQUIRE_DB") != NULL) {
            printf("Bail out! ALLOT_TEST_PG is not set\n");
            exit(1);
        }
        t_skip_all("ALLOT_TEST_PG is not set (run ./scripts/test)");
    }
    return url;
}

/* The admin URL with its database name replaced. */
static void url_with_db(const char *url, const char *db, char *out, size_t len)
{
    const char *q = strchr(url, '?');
    size_t base = q ? (size_t)(q - url) : strlen(url);
    const char *slash = url;
    const char *scheme = strstr(url, "://");
    const char *after = scheme ? scheme + 3 : url;
    slash = memchr(after, '/', base - (size_t)(after - url));
    size_t keep = slash ? (size_t)(slash - url) : base;
    snprintf(out, len, "%.*s/%s%s", (int)keep, url, db, q ? q : "");
}

char *th_sql(const char *url, const char *sql)
{
    PGconn *pg = PQconnectdb(url);
    if (PQstatus(pg) != CONNECTION_OK) {
        printf("# cannot connect: %s", PQerrorMessage(pg));
        PQfinish(pg);
        return NULL;
    }
    PGresult *r = PQexec(pg, sql);
    char *out = NULL;
    ExecStatusType st = PQresultStatus(r);
    if (st == PGRES_TUPLES_OK)
        out = strdup(PQntuples(r) > 0 && !PQgetisnull(r, 0, 0) ? PQgetvalue(r, 0, 0) : "");
    else if (st == PGRES_COMMAND_OK)
        out = strdup("");
    else
        printf("# SQL failed: %s# in: %s\n", PQerrorMessage(pg), sql);
    PQclear(r);
    PQfinish(pg);
    return out;
}

long th_sql_long(const char *url, const char *sql)
{
    char *v = th_sql(url, sql);
    long n = v && *v ? strtol(v, NULL, 10) : -1;
    free(v);
    return n;
}

long th_sql_longf(const char *url, const char *fmt, ...)
{
    char sql[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sql, sizeof sql, fmt, ap);
    va_end(ap);
    return th_sql_long(url, sql);
}

bool th_execf(const char *url, const char *fmt, ...)
{
    char sql[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sql, sizeof sql, fmt, ap);
    va_end(ap);
    char *ok = th_sql(url, sql);
    if (ok == NULL)
        printf("#   failed: %.300s\n", sql);
    free(ok);
    return ok != NULL;
}

static void sleep_ms(int ms);

bool th_wait_sql(const char *url, long want, double deadline_s, const char *fmt, ...)
{
    char sql[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sql, sizeof sql, fmt, ap);
    va_end(ap);
    struct timespec t0, now;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        long got = th_sql_long(url, sql);
        if (got == want)
            return true;
        clock_gettime(CLOCK_MONOTONIC, &now);
        double waited = (double)(now.tv_sec - t0.tv_sec) + (double)(now.tv_nsec - t0.tv_nsec) / 1e9;
        if (waited >= deadline_s) {
            printf("# waited %.1f s for %ld from: %s (last: %ld)\n", waited, want, sql, got);
            return false;
        }
        sleep_ms(50);
    }
}

void th_db_create(struct th_db *db)
{
    const char *url = admin_url();
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    snprintf(db->name, sizeof db->name, "allot_t_%d_%ld", (int)getpid(), ts.tv_nsec % 100000);
    char sql[160];
    snprintf(sql, sizeof sql, "CREATE DATABASE %s", db->name);
    char *ok = th_sql(url, sql);
    if (ok == NULL) {
        if (getenv("ALLOT_TEST_REQUIRE_DB") != NULL) {
            printf("Bail out! cannot create a test database\n");
            exit(1);
        }
        t_skip_all("no PostgreSQL reachable at ALLOT_TEST_PG");
    }
    free(ok);
    url_with_db(url, db->name, db->url, sizeof db->url);
}

void th_db_drop(struct th_db *db)
{
    char sql[160];
    snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s WITH (FORCE)", db->name);
    free(th_sql(getenv("ALLOT_TEST_PG"), sql));
}

/* A port below the kernel's ephemeral range, so that no client connection
 * can take it between this check and the server's bind; tried by binding. */
int th_free_port(void)
{
    int low = 20000, high = 32767;
    FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r");
    if (f != NULL) {
        int eph_low, eph_high;
        if (fscanf(f, "%d %d", &eph_low, &eph_high) == 2 && eph_low - 1 > low + 1000)
            high = eph_low - 1;
        fclose(f);
    }
    static unsigned seed;
    if (seed == 0)
        seed = (unsigned)getpid() * 2654435761u ^ (unsigned)time(NULL);
    for (int attempt = 0; attempt < 200; attempt++) {
        seed = seed * 1103515245u + 12345u;
        int port = low + (int)((seed >> 8) % (unsigned)(high - low + 1));
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        bool ok = fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0;
        if (fd >= 0)
            close(fd);
        if (ok)
            return port;
    }
    return -1;
}

static const char *allotd_path(void)
{
    const char *p = getenv("ALLOTD");
    return p ? p : "build/allotd";
}

int th_migrate(const char *url)
{
    pid_t pid = fork();
    if (pid == 0) {
        setenv("ALLOT_DATABASE_URL", url, 1);
        int null = open("/dev/null", O_WRONLY);
        dup2(null, 2);
        execl(allotd_path(), "allotd", "migrate", (char *)NULL);
        _exit(127);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

static bool server_start(struct th_server *s, const char *url, const char *const *env,
                         bool wait_ready, const char *ca_path)
{
    memset(s, 0, sizeof *s);
    s->port = th_free_port();
    if (ca_path != NULL)
        snprintf(s->ca, sizeof s->ca, "%s", ca_path);
    snprintf(s->base, sizeof s->base, "%s://127.0.0.1:%d", ca_path ? "https" : "http", s->port);
    snprintf(s->log_path, sizeof s->log_path, "/tmp/allotd-test-%d-%d.log", (int)getpid(),
             s->port);
    s->pid = fork();
    if (s->pid == 0) {
        char listen[64];
        snprintf(listen, sizeof listen, "127.0.0.1:%d", s->port);
        setenv("ALLOT_LISTEN", listen, 1);
        setenv("ALLOT_DATABASE_URL", url, 1);
        setenv("ALLOT_ADMIN_KEY", TH_ADMIN_KEY, 1);
        setenv("ALLOT_THREADS", "4", 0);
        setenv("ALLOT_DB_POOL_SIZE", "4", 0);
        for (size_t i = 0; env != NULL && env[i] != NULL; i++)
            putenv((char *)env[i]);
        int fd = open(s->log_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        dup2(fd, 2);
        execl(allotd_path(), "allotd", (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 300; i++) { /* up to 15 s: sanitizer builds start slowly */
        struct th_resp r;
        if (th_req(s, "GET", wait_ready ? "/ready" : "/health", NULL, NULL, &r) &&
            r.status == 200) {
            th_resp_free(&r);
            /* The admin key is stored in the background; wait for it too. */
            if (!wait_ready)
                return true;
            for (int k = 0; k < 100; k++) {
                if (th_req(s, "GET", "/metrics", TH_ADMIN_KEY, NULL, &r) && r.status == 200) {
                    th_resp_free(&r);
                    return true;
                }
                th_resp_free(&r);
                sleep_ms(50);
            }
            return false;
        }
        th_resp_free(&r);
        int status;
        if (waitpid(s->pid, &status, WNOHANG) == s->pid) {
            printf("# allotd exited early; its log: %s\n", s->log_path);
            s->pid = 0;
            return false;
        }
        sleep_ms(50);
    }
    return false;
}

bool th_server_start(struct th_server *s, const char *url, const char *const *env,
                     bool wait_ready)
{
    return server_start(s, url, env, wait_ready, NULL);
}

bool th_server_start_tls(struct th_server *s, const char *url, const char *const *env,
                         bool wait_ready, const char *ca_path)
{
    return server_start(s, url, env, wait_ready, ca_path);
}

void th_setup(struct th_db *db, struct th_server *srv, const char *const *env)
{
    th_db_create(db);
    const char *why = NULL;
    if (th_migrate(db->url) != 0)
        why = "allotd migrate failed";
    else if (!th_server_start(srv, db->url, env, true))
        why = "allotd did not start";
    if (why == NULL)
        return;
    printf("Bail out! %s\n", why);
    th_server_stop(srv);
    th_db_drop(db);
    exit(1);
}

int th_server_stop(struct th_server *s)
{
    if (s->pid <= 0)
        return -1;
    kill(s->pid, SIGTERM);
    int status = 0;
    for (int i = 0; i < 400; i++) {
        if (waitpid(s->pid, &status, WNOHANG) == s->pid) {
            s->pid = 0;
            /* A clean stop leaves no log behind, unless ALLOT_TEST_KEEP_LOGS is set. */
            if (WIFEXITED(status) && WEXITSTATUS(status) == 0 && getenv("ALLOT_TEST_KEEP_LOGS") == NULL)
                unlink(s->log_path);
            else
                printf("# allotd ended with status %d; its log: %s\n", status, s->log_path);
            return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        }
        sleep_ms(50);
    }
    kill(s->pid, SIGKILL);
    waitpid(s->pid, &status, 0);
    s->pid = 0;
    return -1;
}

bool th_log_contains(const struct th_server *s, const char *text)
{
    FILE *f = fopen(s->log_path, "r");
    if (f == NULL)
        return false;
    char line[8192];
    bool found = false;
    while (!found && fgets(line, sizeof line, f) != NULL)
        found = strstr(line, text) != NULL;
    fclose(f);
    return found;
}

bool th_log_wait(const struct th_server *s, const char *text, int timeout_ms)
{
    for (int waited = 0;; waited += 20) {
        if (th_log_contains(s, text))
            return true;
        if (waited >= timeout_ms)
            return false;
        nanosleep(&(struct timespec){.tv_nsec = 20000000}, NULL);
    }
}

struct sink {
    char *data;
    size_t len;
};

static size_t on_body(char *p, size_t size, size_t n, void *ctx)
{
    struct sink *s = ctx;
    size_t add = size * n;
    char *grown = realloc(s->data, s->len + add + 1);
    if (grown == NULL)
        return 0;
    memcpy(grown + s->len, p, add);
    s->data = grown;
    s->len += add;
    s->data[s->len] = '\0';
    return add;
}

static void header_value(const char *line, size_t len, const char *name, char *out, size_t outlen)
{
    size_t n = strlen(name);
    if (len <= n + 1 || strncasecmp(line, name, n) != 0 || line[n] != ':')
        return;
    const char *v = line + n + 1;
    while (*v == ' ')
        v++;
    size_t vlen = len - (size_t)(v - line);
    while (vlen > 0 && (v[vlen - 1] == '\r' || v[vlen - 1] == '\n'))
        vlen--;
    snprintf(out, outlen, "%.*s", (int)vlen, v);
}

static size_t on_header(char *p, size_t size, size_t n, void *ctx)
{
    struct th_resp *r = ctx;
    size_t len = size * n;
    header_value(p, len, "X-Correlation-Id", r->corr_id, sizeof r->corr_id);
    header_value(p, len, "Location", r->location, sizeof r->location);
    header_value(p, len, "Allow", r->allow, sizeof r->allow);
    header_value(p, len, "Retry-After", r->retry_after, sizeof r->retry_after);
    header_value(p, len, "Content-Type", r->content_type, sizeof r->content_type);
    header_value(p, len, "Cache-Control", r->cache_control, sizeof r->cache_control);
    size_t used = strlen(r->headers);
    if (used + len < sizeof r->headers) {
        memcpy(r->headers + used, p, len);
        r->headers[used + len] = '\0';
    }
    return len;
}

bool th_header(const struct th_resp *r, const char *name, char *out, size_t len)
{
    out[0] = '\0';
    for (const char *line = r->headers; *line != '\0';) {
        const char *end = strchr(line, '\n');
        size_t n = end ? (size_t)(end - line) + 1 : strlen(line);
        header_value(line, n, name, out, len);
        if (out[0] != '\0')
            return true;
        line += n;
    }
    return false;
}

bool th_req_full(const struct th_server *s, const char *method, const char *path,
                 const char *const *headers, const char *body, size_t body_len,
                 struct th_resp *out)
{
    memset(out, 0, sizeof *out);
    CURL *c = curl_easy_init();
    if (c == NULL)
        return false;
    size_t url_len = strlen(s->base) + strlen(path) + 1;
    char *url = malloc(url_len);
    if (url == NULL) {
        curl_easy_cleanup(c);
        return false;
    }
    snprintf(url, url_len, "%s%s", s->base, path);
    struct curl_slist *hl = NULL;
    for (size_t i = 0; headers != NULL && headers[i] != NULL; i++)
        hl = curl_slist_append(hl, headers[i]);
    hl = curl_slist_append(hl, "Expect:");
    struct sink sink = {0};
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_PATH_AS_IS, 1L); /* "/a/../b" goes out as written */
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (strcmp(method, "HEAD") == 0)
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    if (body != NULL) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &sink);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, out);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    if (s->ca[0] != '\0') {
        curl_easy_setopt(c, CURLOPT_CAINFO, s->ca);
        curl_easy_setopt(c, CURLOPT_CAPATH, NULL);
    }
    CURLcode rc = curl_easy_perform(c);
    if (rc == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
    curl_slist_free_all(hl);
    curl_easy_cleanup(c);
    free(url);
    out->body = sink.data;
    out->body_len = sink.len;
    if (sink.data != NULL && sink.len > 0) {
        json_error_t err;
        out->json = json_loadb(sink.data, sink.len, 0, &err);
    }
    return rc == CURLE_OK;
}

bool th_req(const struct th_server *s, const char *method, const char *path, const char *key,
            const char *body, struct th_resp *out)
{
    char auth[512];
    const char *headers[3] = {NULL, NULL, NULL};
    size_t n = 0;
    if (key != NULL) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", key);
        headers[n++] = auth;
    }
    if (body != NULL)
        headers[n++] = "Content-Type: application/json";
    return th_req_full(s, method, path, headers, body, body ? strlen(body) : 0, out);
}

void th_resp_free(struct th_resp *r)
{
    json_decref(r->json);
    free(r->body);
    memset(r, 0, sizeof *r);
}

const char *th_error_type(const struct th_resp *r)
{
    return th_str(r, "errorType");
}

const char *th_str(const struct th_resp *r, const char *member)
{
    const char *v = json_string_value(json_object_get(r->json, member));
    return v ? v : "";
}

/* ---- helpers of the migrate, outage, schema and shutdown tests ---------- */

static void redirect(int fd, const char *path)
{
    int to = open(path ? path : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (to >= 0) {
        dup2(to, fd);
        close(to);
    }
}

int th_allotd_run(const char *arg, const char *const *env, const char *out_path,
                  const char *err_path, int timeout_s)
{
    const char *const args[] = {arg, NULL};
    return th_allotd_runv(args, env, out_path, err_path, timeout_s);
}

int th_allotd_runv(const char *const *args, const char *const *env, const char *out_path,
                   const char *err_path, int timeout_s)
{
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        for (size_t i = 0; env != NULL && env[i] != NULL; i++) {
            const char *eq = strchr(env[i], '=');
            if (eq == NULL) {
                unsetenv(env[i]);
            } else {
                char name[128];
                snprintf(name, sizeof name, "%.*s", (int)(eq - env[i]), env[i]);
                setenv(name, eq + 1, 1);
            }
        }
        redirect(1, out_path);
        redirect(2, err_path);
        char *argv[16] = {(char *)"allotd"};
        for (size_t i = 0; args != NULL && args[i] != NULL && i < 14; i++)
            argv[i + 1] = (char *)args[i];
        execv(allotd_path(), argv);
        _exit(127);
    }
    int status = 0;
    for (int waited = 0; waitpid(pid, &status, WNOHANG) != pid; waited += 20) {
        if (waited >= timeout_s * 1000) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            return -1;
        }
        sleep_ms(20);
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

char *th_file_text(const char *path)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return NULL;
    char *text = NULL;
    size_t len = 0, cap = 0;
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (len + n + 1 > cap) {
            cap = (len + n + 1) * 2;
            char *grown = realloc(text, cap);
            if (grown == NULL)
                break;
            text = grown;
        }
        memcpy(text + len, chunk, n);
        len += n;
    }
    fclose(f);
    if (text == NULL)
        text = calloc(1, 1);
    else
        text[len] = '\0';
    return text;
}

/* The HTTP layer as a client sees it: routing (404, 405 + Allow, HEAD),
 * correlation ids, authentication and roles, body limits, content types,
 * malformed bodies, the shape of every error, /health, /ready and /metrics. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tharness.h"

T_DEFINE_STATE;

static struct th_db db;
static struct th_server srv;
static char auditor_key[128];
static char proxy_key[128];

#define MIB (1024u * 1024u)

/* An error reply has exactly errorType, message, statusCode (= the HTTP
 * status), corrId (= the X-Correlation-Id header), and field when given. */
static void check_error_body(const struct th_resp *r, long status, const char *type,
                             const char *field)
{
    T_EQ_INT(r->status, status);
    T_EQ_STR(th_error_type(r), type);
    T_CHECK(json_is_object(r->json));
    T_EQ_INT(json_object_size(r->json), field ? 5 : 4);
    T_CHECK(json_is_string(json_object_get(r->json, "message")));
    T_CHECK(strlen(th_str(r, "message")) > 0);
    T_CHECK(json_is_integer(json_object_get(r->json, "statusCode")));
    T_EQ_INT(json_integer_value(json_object_get(r->json, "statusCode")), status);
    T_CHECK(r->corr_id[0] != '\0');
    T_EQ_STR(th_str(r, "corrId"), r->corr_id);
    if (field != NULL)
        T_EQ_STR(th_str(r, "field"), field);
    T_CHECK(strncmp(r->content_type, "application/json", 16) == 0);
}

/* The server still answers after whatever the previous test sent it. */
static void check_healthy(void)
{
    struct th_resp r;
    T_CHECK(th_req(&srv, "GET", "/health", NULL, NULL, &r));
    T_STATUS(r, 200);
    th_resp_free(&r);
}

static bool is_hex32(const char *s)
{
    if (strlen(s) != 32)
        return false;
    for (const char *p = s; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f') || (*p >= 'A' && *p <= 'F')))
            return false;
    return true;
}

static void make_key(const char *role, char *out, size_t len)
{
    char body[128];
    snprintf(body, sizeof body, "{\"name\":\"http-%s\",\"role\":\"%s\"}", role, role);
    struct th_resp r;
    T_CHECK(th_req(&srv, "POST", "/apikeys", TH_ADMIN_KEY, body, &r));
    T_STATUS(r, 201);
    snprintf(out, len, "%s", th_str(&r, "key"));
    th_resp_free(&r);
}

/* POSTs body to /users with the admin key and the given Content-Type (NULL:
 * application/json) and extra header (may be NULL). */
static void post_users(const char *content_type, const char *extra, const char *body, size_t len,
                       struct th_resp *r)
{
    char ct[160];
    snprintf(ct, sizeof ct, "Content-Type: %s", content_type ? content_type : "application/json");
    const char *headers[] = {"Authorization: Bearer " TH_ADMIN_KEY, ct, extra, NULL};
    T_CHECK(th_req_full(&srv, "POST", "/users", headers, body, len, r));
}

static void test_unknown_path_404(void)
{
    struct th_resp r;
    T_CHECK(th_req(&srv, "GET", "/no/such/path", TH_ADMIN_KEY, NULL, &r));
    check_error_body(&r, 404, "LICENSES-NotFound", NULL);
    th_resp_free(&r);
    /* Without a key too: a path that does not exist is not an auth question. */
    T_CHECK(th_req(&srv, "GET", "/nothing", NULL, NULL, &r));
    check_error_body(&r, 404, "LICENSES-NotFound", NULL);
    th_resp_free(&r);
    check_healthy();
}

static void test_method_not_allowed_405(void)
{
    struct th_resp r;
    T_CHECK(th_req(&srv, "PUT", "/users", TH_ADMIN_KEY, "{}", &r));
    check_error_body(&r, 405, "LICENSES-MethodNotAllowed", NULL);
    T_CHECK(strstr(r.allow, "GET") != NULL);
    T_CHECK(strstr(r.allow, "HEAD") != NULL);
    T_CHECK(strstr(r.allow, "POST") != NULL);
    T_CHECK(strstr(r.allow, "DELETE") == NULL);
    th_resp_free(&r);
    T_CHECK(th_req(&srv, "POST", "/users/00000000-0000-0000-0000-000000000000", TH_ADMIN_KEY,
                   "{}", &r));
    check_error_body(&r, 405, "LICENSES-MethodNotAllowed", NULL);
    T_CHECK(strstr(r.allow, "GET") != NULL);
    T_CHECK(strstr(r.allow, "PATCH") != NULL);
    T_CHECK(strstr(r.allow, "DELETE") != NULL);
    th_resp_free(&r);
    check_healthy();
}

static void test_head(void)
{
    struct th_resp r;
    T_CHECK(th_req(&srv, "HEAD", "/users", TH_ADMIN_KEY, NULL, &r));
    T_STATUS(r, 200);
    T_EQ_INT(r.body_len, 0);
    T_CHECK(r.corr_id[0] != '\0');
    th_resp_free(&r);
    T_CHECK(th_req(&srv, "HEAD", "/users/6f1c2a3e-1111-4222-8333-944455556666", TH_ADMIN_KEY,
                   NULL, &r));
    T_STATUS(r, 404);
    T_EQ_INT(r.body_len, 0);
    th_resp_free(&r);
    T_CHECK(th_req(&srv, "HEAD", "/health", NULL, NULL, &r));
    T_STATUS(r, 200);
    T_EQ_INT(r.body_len, 0);
    th_resp_free(&r);
}

static void test_correlation_id(void)
{
    const char *given[] = {"X-Correlation-Id: test-corr-4711", NULL};
    struct th_resp r;
    T_CHECK(th_req_full(&srv, "GET", "/health", given, NULL, 0, &r));
    T_STATUS(r, 200);
    T_EQ_STR(r.corr_id, "test-corr-4711");
    th_resp_free(&r);

    T_CHECK(th_req(&srv, "GET", "/health", NULL, NULL, &r));
    T_CHECK(is_hex32(r.corr_id));
    char first[128];
    snprintf(first, sizeof first, "%s", r.corr_id);
    th_resp_free(&r);
    T_CHECK(th_req(&srv, "GET", "/health", NULL, NULL, &r));
    T_CHECK(is_hex32(r.corr_id));
    T_CHECK(strcmp(first, r.corr_id) != 0);
    th_resp_free(&r);

    /* An id that is too long or could forge a log line is replaced. */
    const char *bad[] = {"X-Correlation-Id: has spaces\" and quotes", NULL};
    T_CHECK(th_req_full(&srv, "GET", "/health", bad, NULL, 0, &r));
    T_STATUS(r, 200);
    T_CHECK(is_hex32(r.corr_id));
    th_resp_free(&r);
    char longid[128] = "X-Correlation-Id: ";
    memset(longid + strlen(longid), 'a', 100);
    const char *too_long[] = {longid, NULL};
    T_CHECK(th_req_full(&srv, "GET", "/health", too_long, NULL, 0, &r));
    T_CHECK(is_hex32(r.corr_id));
    th_resp_free(&r);

    /* On an error the body names the same id, given or generated. */
    const char *err_given[] = {"X-Correlation-Id: test-corr-err-1", NULL};
    T_CHECK(th_req_full(&srv, "GET", "/nope", err_given, NULL, 0, &r));
    T_EQ_STR(r.corr_id, "test-corr-err-1");
    check_error_body(&r, 404, "LICENSES-NotFound", NULL);
    th_resp_free(&r);
    T_CHECK(th_req(&srv, "GET", "/users", NULL, NULL, &r));
    T_CHECK(is_hex32(r.corr_id));
    check_error_body(&r, 401, "LICENSES-Unauthorized", NULL);
    th_resp_free(&r);
}

static void test_access_log_names_corr_id(void)
{
    const char *given[] = {"X-Correlation-Id: access-log-corr-99", NULL};
    struct th_resp r;
    T_CHECK(th_req_full(&srv, "GET", "/health", given, NULL, 0, &r));
    T_STATUS(r, 200);
    th_resp_free(&r);
    T_CHECK(th_req(&srv, "GET", "/users/not-there/x", TH_ADMIN_KEY, NULL, &r));
    char generated[160];
    snprintf(generated, sizeof generated, "\"corrId\":\"%s\"", r.corr_id);
    th_resp_free(&r);
    /* A refusal is logged too (access line, maybe a warning): each names it. */
    const char *refused[] = {"X-Correlation-Id: refusal-corr-7", NULL};
    T_CHECK(th_req_full(&srv, "GET", "/users/log-marker-5150", refused, NULL, 0, &r));
    T_STATUS(r, 401);
    th_resp_free(&r);
    /* The line is written when the request completes: allow it a moment. */
    bool a = false, b = false, c = false;
    for (int i = 0; i < 100 && !(a && b && c); i++) {
        a = th_log_contains(&srv, "\"corrId\":\"access-log-corr-99\"");
        b = th_log_contains(&srv, generated);
        c = th_log_contains(&srv, "\"corrId\":\"refusal-corr-7\"");
        if (!(a && b && c))
            nanosleep(&(struct timespec){.tv_nsec = 20000000}, NULL);
    }
    T_CHECK(a);
    T_CHECK(b);
    T_CHECK(c);
    FILE *f = fopen(srv.log_path, "r");
    T_REQUIRE(f != NULL);
    char line[8192];
    int about = 0;
    while (fgets(line, sizeof line, f) != NULL) {
        if (strstr(line, "log-marker-5150") == NULL)
            continue;
        about++;
        T_CHECK(strstr(line, "\"corrId\":\"refusal-corr-7\"") != NULL);
    }
    fclose(f);
    T_CHECK(about >= 1);
}

static void test_unauthorized_401(void)
{
    struct th_resp r;
    T_CHECK(th_req(&srv, "GET", "/users", NULL, NULL, &r));
    check_error_body(&r, 401, "LICENSES-Unauthorized", NULL);
    th_resp_free(&r);
    T_CHECK(th_req(&srv, "GET", "/users", "allot_not_a_key_at_all_0000000000000", NULL, &r));
    check_error_body(&r, 401, "LICENSES-Unauthorized", NULL);
    th_resp_free(&r);
    const char *basic[] = {"Authorization: Basic YWRtaW46YWRtaW4=", NULL};
    T_CHECK(th_req_full(&srv, "GET", "/users", basic, NULL, 0, &r));
    check_error_body(&r, 401, "LICENSES-Unauthorized", NULL);
    th_resp_free(&r);
    /* The admin secret as Basic credentials is no Bearer key either. */
    const char *basic_admin[] = {"Authorization: Basic " TH_ADMIN_KEY, NULL};
    T_CHECK(th_req_full(&srv, "GET", "/users", basic_admin, NULL, 0, &r));
    check_error_body(&r, 401, "LICENSES-Unauthorized", NULL);
    th_resp_free(&r);
    const char *empty[] = {"Authorization: Bearer ", NULL};
    T_CHECK(th_req_full(&srv, "GET", "/users", empty, NULL, 0, &r));
    check_error_body(&r, 401, "LICENSES-Unauthorized", NULL);
    th_resp_free(&r);
    /* The scheme is case-insensitive (RFC 9110). */
    const char *lower[] = {"Authorization: bearer " TH_ADMIN_KEY, NULL};
    T_CHECK(th_req_full(&srv, "GET", "/users", lower, NULL, 0, &r));
    T_STATUS(r, 200);
    th_resp_free(&r);
    /* A write without a key is refused before its body matters: no row. */
    T_CHECK(th_req(&srv, "POST", "/users", NULL, "{\"userDirectory\":\"NOAUTH\",\"userId\":\"x\"}",
                   &r));
    check_error_body(&r, 401, "LICENSES-Unauthorized", NULL);
    th_resp_free(&r);
    T_EQ_INT(th_sql_long(db.url, "SELECT count(*) FROM users WHERE user_directory = 'NOAUTH'"), 0);
}

/* Expects status (200 or 403) from method path with key. */
static void check_role(const char *key, const char *method, const char *path, const char *body,
                       long want)
{
    struct th_resp r;
    T_CHECK(th_req(&srv, method, path, key, body, &r));
    if (r.status != want)
        printf("#   %s %s: %ld, expected %ld\n", method, path, r.status, want);
    if (want == 403)
        check_error_body(&r, 403, "LICENSES-Forbidden", NULL);
    else
        T_STATUS(r, want);
    th_resp_free(&r);
}

static void test_roles(void)
{
    T_REQUIRE(auditor_key[0] != '\0' && proxy_key[0] != '\0');
    const char *body = "{\"userDirectory\":\"ROLES\",\"userId\":\"r1\"}";
    /* auditor: every GET but /apikeys, no write */
    check_role(auditor_key, "POST", "/users", body, 403);
    T_EQ_INT(th_sql_long(db.url, "SELECT count(*) FROM users WHERE user_directory = 'ROLES'"), 0);
    check_role(auditor_key, "GET", "/users", NULL, 200);
    check_role(auditor_key, "GET", "/apikeys", NULL, 403);
    check_role(auditor_key, "POST", "/apikeys", "{\"name\":\"x\",\"role\":\"admin\"}", 403);
    check_role(auditor_key, "GET", "/metrics", NULL, 200);
    /* proxy: reads users, nothing of /apikeys */
    check_role(proxy_key, "GET", "/apikeys", NULL, 403);
    check_role(proxy_key, "GET", "/users", NULL, 200);
    check_role(proxy_key, "POST", "/users", body, 403);
    T_EQ_INT(th_sql_long(db.url, "SELECT count(*) FROM users WHERE user_directory = 'ROLES'"), 0);
    /* admin: everything */
    check_role(TH_ADMIN_KEY, "GET", "/apikeys", NULL, 200);
    check_role(TH_ADMIN_KEY, "POST", "/users", body, 201);
    check_role(TH_ADMIN_KEY, "GET", "/users", NULL, 200);
    T_EQ_INT(th_sql_long(db.url, "SELECT count(*) FROM users WHERE user_directory = 'ROLES'"), 1);
}

static void test_public_endpoints(void)
{
    struct th_resp r;
    T_CHECK(th_req(&srv, "GET", "/health", NULL, NULL, &r));
    T_STATUS(r, 200);
    T_EQ_STR(th_str(&r, "status"), "ok");
    th_resp_free(&r);
    T_CHECK(th_req(&srv, "GET", "/ready", NULL, NULL, &r));
    T_STATUS(r, 200);
    th_resp_free(&r);
    T_CHECK(th_req(&srv, "GET", "/metrics", NULL, NULL, &r));
    check_error_body(&r, 401, "LICENSES-Unauthorized", NULL);
    th_resp_free(&r);
}

static void test_metrics(void)
{
    T_REQUIRE(proxy_key[0] != '\0');
    struct th_resp r;
    T_CHECK(th_req(&srv, "GET", "/metrics", proxy_key, NULL, &r));
    T_STATUS(r, 200);
    T_CHECK(strncmp(r.content_type, "text/plain", 10) == 0);
    T_REQUIRE(r.body != NULL);
    T_CHECK(strstr(r.body, "allot_http_requests_total") != NULL);
    T_CHECK(strstr(r.body, "allot_http_request_duration_seconds_bucket") != NULL);
    T_CHECK(strstr(r.body, "allot_db_pool_in_use") != NULL);
    /* Requests answered earlier are counted, by route. */
    T_CHECK(strstr(r.body, "route=\"/health\"") != NULL);
    /* A real parser (Python's prometheus_client) reads every family whole,
     * each with its TYPE: none split, none untyped. */
    char path[] = "/tmp/allot-metrics.XXXXXX";
    int fd = mkstemp(path);
    T_REQUIRE(fd >= 0);
    T_CHECK(write(fd, r.body, strlen(r.body)) == (ssize_t)strlen(r.body));
    close(fd);
    const char *root = getenv("ALLOT_SOURCE_ROOT");
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "/usr/bin/python3 %s/tests/api/parse_metrics.py allot_http_requests "
             "allot_http_request_duration_seconds allot_db_pool_in_use allot_sessions_active "
             "allot_allotment_units allot_allotment_used allot_license_status "
             "allot_session_decisions allot_license_syncs < %s",
             root ? root : ".", path);
    fflush(stdout);
    int rc = system(cmd);
    T_EQ_INT(WIFEXITED(rc) ? WEXITSTATUS(rc) : -1, 0);
    unlink(path);
    th_resp_free(&r);
}

static void test_declared_too_large_413(void)
{
    struct th_resp r;
    /* Declared over the limit, body never sent: refused from the headers. */
    post_users(NULL, "Content-Length: 1048577", "{}", 2, &r);
    check_error_body(&r, 413, "LICENSES-PayloadTooLarge", NULL);
    th_resp_free(&r);
    check_healthy();
    post_users(NULL, "Content-Length: 99999999999", "{}", 2, &r);
    check_error_body(&r, 413, "LICENSES-PayloadTooLarge", NULL);
    th_resp_free(&r);
    check_healthy();
}

/* A raw connection to the server (for what curl will not send). */
static int raw_connect(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)srv.port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        fd = -1;
    }
    return fd;
}

/* Reads what the server answers until it closes (or deadline_s passes). */
static size_t raw_read_all(int fd, char *out, size_t cap, int deadline_s)
{
    size_t len = 0;
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        long left_ms = deadline_s * 1000L - ((now.tv_sec - t0.tv_sec) * 1000L +
                                             (now.tv_nsec - t0.tv_nsec) / 1000000L);
        if (left_ms <= 0)
            break;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, (int)left_ms) <= 0)
            break;
        ssize_t n = recv(fd, out + len, cap - 1 - len, 0);
        if (n <= 0)
            break;
        len += (size_t)n;
        if (len == cap - 1)
            break;
    }
    out[len] = '\0';
    return len;
}

/* A chunked body is refused as soon as it passes 1 MiB: the connection is
 * closed (no reply can be sent in the middle of a body), and the server does
 * not read on.  Here one chunk declares 7FFFFFFFFFFFFFFF bytes and the client
 * would send 64 MiB of it. */
static void test_chunked_too_large_closed(void)
{
    int fd = raw_connect();
    T_REQUIRE(fd >= 0);
    const char *head = "POST /users HTTP/1.1\r\nHost: t\r\n"
                       "Authorization: Bearer " TH_ADMIN_KEY "\r\n"
                       "Content-Type: application/json\r\n"
                       "X-Correlation-Id: chunk-flood-1\r\n"
                       "Transfer-Encoding: chunked\r\n\r\n7FFFFFFFFFFFFFFF\r\n";
    T_REQUIRE(send(fd, head, strlen(head), MSG_NOSIGNAL) == (ssize_t)strlen(head));
    static char block[64 * 1024];
    memset(block, ' ', sizeof block);
    size_t sent = 0;
    bool closed = false;
    while (sent < 64u * MIB) {
        struct pollfd p = {.fd = fd, .events = POLLOUT};
        if (poll(&p, 1, 10000) <= 0)
            break; /* the server stopped reading and did not close: fails below */
        if (p.revents & (POLLERR | POLLHUP)) {
            closed = true;
            break;
        }
        ssize_t n = send(fd, block, sizeof block, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            continue;
        if (n <= 0) {
            closed = true;
            break;
        }
        sent += (size_t)n;
    }
    printf("# the server closed after %zu KiB\n", sent / 1024);
    T_CHECK(closed);
    T_CHECK(sent < 16u * MIB); /* 1 MiB and what the sockets' buffers hold */
    close(fd);
    /* The access line says what happened. */
    bool logged = false;
    for (int i = 0; i < 250 && !logged; i++) {
        logged = th_log_contains(&srv, "the body passed the 1 MiB limit");
        if (!logged)
            nanosleep(&(struct timespec){.tv_nsec = 20000000}, NULL);
    }
    T_CHECK(logged);
    T_CHECK(th_log_contains(&srv, "\"corrId\":\"chunk-flood-1\""));

    /* The same with curl and a body just over the limit: no user is made. */
    size_t len = MIB + 4096;
    char *body = malloc(len);
    T_REQUIRE(body != NULL);
    memset(body, ' ', len);
    body[0] = '{';
    body[len - 1] = '}';
    struct th_resp r;
    const char *headers[] = {"Authorization: Bearer " TH_ADMIN_KEY,
                             "Content-Type: application/json", "Transfer-Encoding: chunked", NULL};
    th_req_full(&srv, "POST", "/users", headers, body, len, &r); /* curl sees the close */
    T_CHECK(r.status == 0 || r.status == 413);
    th_resp_free(&r);
    free(body);
    T_EQ_INT(th_sql_long(db.url, "SELECT count(*) FROM users WHERE user_directory = 'BIG'"), 0);
    check_healthy();
}

/* A query with hundreds of parameters used to end the connection without a
 * reply (libmicrohttpd's memory pool ran out); now it is a 414 with the usual
 * body, and so is a target over 8 KiB. */
static void test_request_target_limits_414(void)
{
    char *path = malloc(16384);
    T_REQUIRE(path != NULL);
    size_t n = (size_t)snprintf(path, 16384, "/users?userDirectory=CORP");
    for (int i = 0; i < 500; i++)
        n += (size_t)snprintf(path + n, 16384 - n, "&p%d=v", i);
    struct th_resp r;
    T_CHECK(th_req(&srv, "GET", path, TH_ADMIN_KEY, NULL, &r));
    check_error_body(&r, 414, "LICENSES-UriTooLong", NULL);
    th_resp_free(&r);
    /* Without a key too: the target is refused before anything else. */
    T_CHECK(th_req(&srv, "GET", path, NULL, NULL, &r));
    check_error_body(&r, 414, "LICENSES-UriTooLong", NULL);
    th_resp_free(&r);
    /* 64 parameters are taken (the unknown ones are ignored), 65 are not. */
    n = (size_t)snprintf(path, 16384, "/users?limit=5");
    for (int i = 1; i < 64; i++)
        n += (size_t)snprintf(path + n, 16384 - n, "&p%d=v", i);
    T_CHECK(th_req(&srv, "GET", path, TH_ADMIN_KEY, NULL, &r));
    T_STATUS(r, 200);
    th_resp_free(&r);
    snprintf(path + n, 16384 - n, "&p64=v");
    T_CHECK(th_req(&srv, "GET", path, TH_ADMIN_KEY, NULL, &r));
    check_error_body(&r, 414, "LICENSES-UriTooLong", NULL);
    th_resp_free(&r);
    /* A long target. */
    n = (size_t)snprintf(path, 16384, "/users?userDirectory=");
    memset(path + n, 'x', 9000);
    path[n + 9000] = '\0';
    T_CHECK(th_req(&srv, "GET", path, TH_ADMIN_KEY, NULL, &r));
    check_error_body(&r, 414, "LICENSES-UriTooLong", NULL);
    th_resp_free(&r);
    free(path);
    check_healthy();
}

/* %00 would cut a path or a value short: /users/<id>%00junk answered the user. */
static void test_nul_in_target_400(void)
{
    struct th_resp r;
    T_CHECK(th_req(&srv, "POST", "/users", TH_ADMIN_KEY,
                   "{\"userDirectory\":\"NUL\",\"userId\":\"n1\"}", &r));
    T_STATUS(r, 201);
    char id[64], path[256];
    snprintf(id, sizeof id, "%s", th_str(&r, "id"));
    th_resp_free(&r);
    snprintf(path, sizeof path, "/users/%s%%00junk", id);
    T_CHECK(th_req(&srv, "GET", path, TH_ADMIN_KEY, NULL, &r));
    check_error_body(&r, 400, "LICENSES-BadRequest", NULL);
    th_resp_free(&r);
    T_CHECK(th_req(&srv, "DELETE", path, TH_ADMIN_KEY, NULL, &r));
    check_error_body(&r, 400, "LICENSES-BadRequest", NULL);
    th_resp_free(&r);
    T_EQ_INT(th_sql_longf(db.url, "SELECT count(*) FROM users WHERE id = '%s'", id), 1);
    /* In a query value: the parameter is named. */
    T_CHECK(th_req(&srv, "GET", "/users?userDirectory=NUL%00x", TH_ADMIN_KEY, NULL, &r));
    check_error_body(&r, 400, "LICENSES-BadRequest", "userDirectory");
    th_resp_free(&r);
    /* The plain forms still work. */
    snprintf(path, sizeof path, "/users/%s", id);
    T_CHECK(th_req(&srv, "GET", path, TH_ADMIN_KEY, NULL, &r));
    T_STATUS(r, 200);
    th_resp_free(&r);
    T_CHECK(th_req(&srv, "GET", "/users?userDirectory=NUL", TH_ADMIN_KEY, NULL, &r));
    T_STATUS(r, 200);
    T_EQ_INT(json_array_size(json_object_get(r.json, "data")), 1);
    th_resp_free(&r);
}

/* A method that is not UTF-8 still leaves a whole access line: the method
 * escaped, the status. */
static void test_method_not_utf8_logged(void)
{
    int fd = raw_connect();
    T_REQUIRE(fd >= 0);
    const char req[] = "\xff\xfeGET /health HTTP/1.1\r\nHost: t\r\n"
                       "X-Correlation-Id: bad-method-1\r\nConnection: close\r\n\r\n";
    T_REQUIRE(send(fd, req, sizeof req - 1, MSG_NOSIGNAL) == (ssize_t)(sizeof req - 1));
    char reply[4096];
    raw_read_all(fd, reply, sizeof reply, 10);
    close(fd);
    T_CHECK(strncmp(reply, "HTTP/1.1 405", 12) == 0);
    bool logged = false;
    for (int i = 0; i < 250 && !logged; i++) {
        logged = th_log_contains(&srv, "\"method\":\"\\\\xff\\\\xfeGET\",\"path\":\"/health\","
                                       "\"status\":405");
        if (!logged)
            nanosleep(&(struct timespec){.tv_nsec = 20000000}, NULL);
    }
    T_CHECK(logged);
    T_CHECK(th_log_contains(&srv, "\"corrId\":\"bad-method-1\""));
    check_healthy();
}

/* A JSON object of exactly len bytes: a user with an unknown padding field. */
static char *padded_user(size_t len)
{
    const char *head = "{\"userDirectory\":\"BIG\",\"userId\":\"big\",\"pad\":\"";
    char *body = malloc(len + 1);
    if (body == NULL)
        return NULL;
    size_t h = strlen(head);
    memcpy(body, head, h);
    memset(body + h, 'a', len - h - 2);
    body[len - 2] = '"';
    body[len - 1] = '}';
    body[len] = '\0';
    return body;
}

static void test_exactly_limit_not_413(void)
{
    char *body = padded_user(MIB);
    T_REQUIRE(body != NULL);
    struct th_resp r;
    post_users(NULL, NULL, body, MIB, &r);
    check_error_body(&r, 400, "LICENSES-BadRequest", "pad");
    th_resp_free(&r);
    /* The same body sent chunked: also within the limit. */
    post_users(NULL, "Transfer-Encoding: chunked", body, MIB, &r);
    check_error_body(&r, 400, "LICENSES-BadRequest", "pad");
    th_resp_free(&r);
    free(body);
    /* One byte more, with a real Content-Length: 413. */
    body = padded_user(MIB + 1);
    T_REQUIRE(body != NULL);
    post_users(NULL, NULL, body, MIB + 1, &r);
    if (r.status != 0) /* the server may close before curl has sent it all */
        check_error_body(&r, 413, "LICENSES-PayloadTooLarge", NULL);
    th_resp_free(&r);
    free(body);
    T_EQ_INT(th_sql_long(db.url, "SELECT count(*) FROM users WHERE user_directory = 'BIG'"), 0);
    check_healthy();
}

static void test_media_type(void)
{
    const char *body = "{\"userDirectory\":\"MEDIA\",\"userId\":\"m1\"}";
    struct th_resp r;
    post_users("text/plain", NULL, body, strlen(body), &r);
    check_error_body(&r, 415, "LICENSES-UnsupportedMediaType", NULL);
    th_resp_free(&r);
    post_users("application/jsonx", NULL, body, strlen(body), &r);
    check_error_body(&r, 415, "LICENSES-UnsupportedMediaType", NULL);
    th_resp_free(&r);
    T_EQ_INT(th_sql_long(db.url, "SELECT count(*) FROM users WHERE user_directory = 'MEDIA'"), 0);
    post_users("application/json; charset=utf-8", NULL, body, strlen(body), &r);
    T_STATUS(r, 201);
    th_resp_free(&r);
    T_EQ_INT(th_sql_long(db.url, "SELECT count(*) FROM users WHERE user_directory = 'MEDIA'"), 1);
    check_healthy();
}

/* Posts body to /users and expects a 400 with field (or none) and no new row. */
static void check_bad_body(const char *body, size_t len, const char *field)
{
    long before = th_sql_long(db.url, "SELECT count(*) FROM users");
    struct th_resp r;
    post_users(NULL, NULL, body, len, &r);
    if (r.status != 400)
        printf("#   body %.60s: %ld %s\n", body, r.status, r.body ? r.body : "");
    check_error_body(&r, 400, "LICENSES-BadRequest", field);
    th_resp_free(&r);
    T_EQ_INT(th_sql_long(db.url, "SELECT count(*) FROM users"), before);
    check_healthy();
}

static void test_malformed_bodies_400(void)
{
    const char *cases[] = {
        "{\"userDirectory\":\"BAD\",\"userId\":",
        "{userDirectory: \"BAD\"}",
        "not json",
        "[{\"userDirectory\":\"BAD\",\"userId\":\"a1\"}]",
        "\"a string\"",
        "42",
        "null",
        "{\"userDirectory\":\"BAD\",\"userId\":\"a2\",\"userId\":\"a3\"}",
        "{\"userDirectory\":\"BAD\",\"userId\":\"a4\"} trailing",
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        check_bad_body(cases[i], strlen(cases[i]), NULL);
    /* A raw 0xff byte inside a string is not UTF-8. */
    static const char bad_utf8[] = "{\"userDirectory\":\"BAD\",\"userId\":\"a\xff" "b\"}";
    check_bad_body(bad_utf8, sizeof bad_utf8 - 1, NULL);
    /* An overlong encoding of '/' and a lone surrogate escape neither. */
    static const char overlong[] = "{\"userDirectory\":\"BAD\",\"userId\":\"\xc0\xaf\"}";
    check_bad_body(overlong, sizeof overlong - 1, NULL);
    static const char surrogate[] = "{\"userDirectory\":\"BAD\",\"userId\":\"\\ud800\"}";
    check_bad_body(surrogate, sizeof surrogate - 1, NULL);
    /* An empty body on a POST that needs one. */
    check_bad_body("", 0, NULL);
    /* A NUL escape would cut the string short in C: refused. */
    static const char nul[] = "{\"userDirectory\":\"BAD\",\"userId\":\"a\\u0000b\"}";
    check_bad_body(nul, sizeof nul - 1, NULL);
    T_EQ_INT(th_sql_long(db.url, "SELECT count(*) FROM users WHERE user_directory = 'BAD'"), 0);
}

static void test_deep_nesting_400(void)
{
    size_t depth = 200000;
    char *body = malloc(2 * depth);
    T_REQUIRE(body != NULL);
    memset(body, '[', depth);
    memset(body + depth, ']', depth);
    check_bad_body(body, 2 * depth, NULL);
    free(body);
}

static void test_field_errors_name_field(void)
{
    const char *b1 = "{\"userDirectory\":\"BAD\"}";
    check_bad_body(b1, strlen(b1), "userId");
    const char *b2 = "{\"userDirectory\":\"BAD\",\"userId\":\"z\",\"extra\":1}";
    check_bad_body(b2, strlen(b2), "extra");
}

/* SIGTERM ends allotd with status 0 (under AddressSanitizer: no leak). */
static void test_server_stops_cleanly(void)
{
    T_EQ_INT(th_server_stop(&srv), 0);
}

int main(void)
{
    th_setup(&db, &srv, NULL);
    make_key("auditor", auditor_key, sizeof auditor_key);
    make_key("proxy", proxy_key, sizeof proxy_key);

    T_RUN(test_unknown_path_404);
    T_RUN(test_method_not_allowed_405);
    T_RUN(test_head);
    T_RUN(test_correlation_id);
    T_RUN(test_access_log_names_corr_id);
    T_RUN(test_unauthorized_401);
    T_RUN(test_roles);
    T_RUN(test_public_endpoints);
    T_RUN(test_metrics);
    T_RUN(test_declared_too_large_413);
    T_RUN(test_chunked_too_large_closed);
    T_RUN(test_request_target_limits_414);
    T_RUN(test_nul_in_target_400);
    T_RUN(test_method_not_utf8_logged);
    T_RUN(test_exactly_limit_not_413);
    T_RUN(test_media_type);
    T_RUN(test_malformed_bodies_400);
    T_RUN(test_deep_nesting_400);
    T_RUN(test_field_errors_name_field);

    T_RUN(test_server_stops_cleanly);
    th_db_drop(&db);
    return t_done();
}

/* Slow, silent and greedy clients cannot take allotd or allot-authority from
 * the others (issue 11, items 1 and 6).  A bounded load on loopback: a few
 * hundred connections that send part of a request head and stop, or nothing
 * at all, from other loopback addresses (127.0.0.x: all of 127/8 is this
 * machine), while GET /health and a session start from 127.0.0.1 must keep
 * answering.  Then the deadlines (the whole head, the whole body) and the
 * memory budget of the bodies in flight.
 *
 * Two allotd on one database: "guarded" with long deadlines (so that what is
 * tested there is the connection caps, not the clocks), "quick" with deadlines
 * of 2 s; and an allot-authority with caps of its own. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "tlicense.h"

T_DEFINE_STATE;

#define MAX_SOCKS 400

static struct tl_site site;           /* its srv is the "guarded" allotd */
static struct th_server quick;        /* deadlines of 2 s */
static struct tl_backend backend;
static char alice[TL_ID_LEN];

static int socks[MAX_SOCKS];
static int nsocks;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A connection to port from the loopback address src (NULL: the default);
 * -1 when it cannot be made. */
static int connect_from(const char *src, int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    if (src != NULL) {
        struct sockaddr_in from = {.sin_family = AF_INET};
        inet_pton(AF_INET, src, &from.sin_addr);
        if (bind(fd, (struct sockaddr *)&from, sizeof from) != 0) {
            close(fd);
            return -1;
        }
    }
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&to, sizeof to) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static void send_text(int fd, const char *text)
{
    (void)!send(fd, text, strlen(text), MSG_NOSIGNAL | MSG_DONTWAIT);
}

/* True when the server has closed fd (end of stream or reset) within
 * wait_ms; a byte of a reply would be read and ignored. */
static bool closed_by_server(int fd, int wait_ms)
{
    double until = now_s() + wait_ms / 1000.0;
    for (;;) {
        int left = (int)((until - now_s()) * 1000);
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, left > 0 ? left : 0) <= 0)
            return false;
        char buf[512];
        ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK))
            return true;
    }
}

/* Opens n connections to port, spread over addresses 127.0.0.<first>.. with
 * per_address each; every other one sends the start of a request head and
 * stops, the rest send nothing.  Returns how many were opened. */
static int open_slow(int port, int n, int first, int per_address)
{
    int opened = 0;
    for (int i = 0; i < n && nsocks < MAX_SOCKS; i++) {
        char src[32];
        snprintf(src, sizeof src, "127.0.0.%d", first + i / per_address);
        int fd = connect_from(src, port);
        if (fd < 0)
            continue;
        if (i % 2 == 0)
            send_text(fd, "GET /users HTTP/1.1\r\nHost: slow\r\nX-Slow: 1\r\n");
        socks[nsocks++] = fd;
        opened++;
    }
    return opened;
}

/* How many of the slow connections the server has closed, waiting until at
 * least want are, or deadline_s passes. */
static int count_closed(int want, double deadline_s)
{
    static bool gone[MAX_SOCKS];
    memset(gone, 0, sizeof gone);
    int closed = 0;
    double until = now_s() + deadline_s;
    do {
        for (int i = 0; i < nsocks; i++)
            if (!gone[i] && closed_by_server(socks[i], 0)) {
                gone[i] = true;
                closed++;
            }
        if (closed >= want)
            break;
        tl_sleep_ms(50);
    } while (now_s() < until);
    return closed;
}

static void close_slow(void)
{
    for (int i = 0; i < nsocks; i++)
        close(socks[i]);
    nsocks = 0;
}

/* GET /health and a session start (then its logout) answer. */
static void check_served(const struct th_server *s, const char *what)
{
    struct th_resp r;
    bool ok = th_req(s, "GET", "/health", NULL, NULL, &r);
    if (!ok || r.status != 200)
        printf("#   %s: GET /health: %s %ld\n", what, ok ? "status" : "no answer", r.status);
    T_CHECK(ok);
    T_STATUS(r, 200);
    th_resp_free(&r);
    char sid[TL_ID_LEN], access[32];
    long st = tl_session_access(s, alice, sid, access, sizeof access);
    if (st != 201)
        printf("#   %s: POST /sessions: %ld\n", what, st);
    T_EQ_INT(st, 201);
    T_EQ_STR(access, "professional");
    if (st == 201) {
        char path[96];
        snprintf(path, sizeof path, "/sessions/%s", sid);
        T_CHECK(th_req(s, "DELETE", path, TH_ADMIN_KEY, NULL, &r));
        T_STATUS(r, 204);
        th_resp_free(&r);
    }
}

/* One address may hold ALLOT_MAX_CONNECTIONS_PER_ADDRESS (20) connections:
 * the rest of 200 are closed at once, and the others are served. */
static void test_per_address_cap(void)
{
    int opened = open_slow(site.srv.port, 200, 2, 200);
    T_CHECK(opened >= 190);
    int closed = count_closed(opened - 20, 15);
    printf("# one address: %d connections opened, %d closed by the server\n", opened, closed);
    T_EQ_INT(closed, opened - 20);
    check_served(&site.srv, "one greedy address");
    close_slow();
}

/* 300 slow connections from 30 addresses (10 each, under the per-address cap)
 * against ALLOT_MAX_CONNECTIONS=100: the cap keeps room, and /health and a
 * session start are served (libmicrohttpd alone would leave them waiting). */
static void test_room_kept(void)
{
    int opened = open_slow(site.srv.port, 300, 10, 10);
    T_CHECK(opened >= 290);
    /* The server has seen them all: more than 200 were closed to make room. */
    int closed = count_closed(opened - 100, 15);
    printf("# 30 addresses: %d connections opened, %d closed by the server\n", opened, closed);
    T_CHECK(closed >= opened - 100);
    for (int i = 0; i < 3; i++)
        check_served(&site.srv, "many slow addresses");
    /* Only what was needed was closed: most of the cap is still theirs. */
    T_CHECK(opened - closed >= 50);
    close_slow();
}

/* The head has a deadline of its own: a client that trickles one header line
 * every 200 ms (never idle) is closed after ALLOT_HEADER_TIMEOUT (2 s), and
 * so is one that sends nothing (ALLOT_REQUEST_TIMEOUT is 60 s there). */
static void test_head_deadline(void)
{
    int trickler = connect_from("127.0.0.80", quick.port);
    int silent = connect_from("127.0.0.81", quick.port);
    T_REQUIRE(trickler >= 0 && silent >= 0);
    send_text(trickler, "GET /health HTTP/1.1\r\nHost: slow\r\n");
    double t0 = now_s();
    bool closed = false;
    for (int i = 0; i < 100 && !closed; i++) { /* 20 s of trickling at most */
        char line[64];
        snprintf(line, sizeof line, "X-Line-%d: y\r\n", i);
        send_text(trickler, line);
        closed = closed_by_server(trickler, 200);
    }
    printf("# the trickling client was closed after %.1f s\n", now_s() - t0);
    T_CHECK(closed);
    T_CHECK(closed_by_server(silent, 20000));
    close(trickler);
    close(silent);
    check_served(&quick, "after the head deadline");
}

/* The body has a deadline too: a client that sends the head and 10 bytes of a
 * 1000-byte body, then nothing, is closed after ALLOT_BODY_TIMEOUT (2 s). */
static void test_body_deadline(void)
{
    int fd = connect_from(NULL, quick.port);
    T_REQUIRE(fd >= 0);
    send_text(fd, "POST /users HTTP/1.1\r\nHost: slow\r\nAuthorization: Bearer " TH_ADMIN_KEY
                  "\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
                  "{\"userDire");
    T_CHECK(closed_by_server(fd, 20000));
    close(fd);
    T_EQ_INT(th_sql_long(site.db.url, "SELECT count(*) FROM users WHERE user_id LIKE 'slow%'"), 0);
    check_served(&quick, "after the body deadline");
}

/* A started body of 1 MiB - 16 bytes on one connection. */
static int big_body_started(const struct th_server *s)
{
    int fd = connect_from(NULL, s->port);
    if (fd < 0)
        return -1;
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    const char *head = "POST /users HTTP/1.1\r\nHost: slow\r\nAuthorization: Bearer " TH_ADMIN_KEY
                       "\r\nContent-Type: application/json\r\nContent-Length: 1048576\r\n\r\n";
    size_t len = 1048576 - 16;
    char *body = malloc(len);
    if (body == NULL) {
        close(fd);
        return -1;
    }
    memset(body, ' ', len);
    bool ok = send(fd, head, strlen(head), MSG_NOSIGNAL) == (ssize_t)strlen(head);
    for (size_t sent = 0; ok && sent < len;) {
        ssize_t n = send(fd, body + sent, len - sent, MSG_NOSIGNAL);
        ok = n > 0;
        sent += ok ? (size_t)n : 0;
    }
    free(body);
    if (!ok) {
        close(fd);
        return -1;
    }
    return fd;
}

/* POST /users with a whole body of 1 MiB (a user with an unknown member
 * "pad": 400 when it is read, so it changes nothing); returns the status. */
static long post_mib(const struct th_server *s)
{
    size_t len = 1048576;
    char *body = malloc(len + 1);
    if (body == NULL)
        return -1;
    const char *head = "{\"userDirectory\":\"BUDGET\",\"userId\":\"big\",\"pad\":\"";
    size_t h = strlen(head);
    memcpy(body, head, h);
    memset(body + h, 'a', len - h - 2);
    memcpy(body + len - 2, "\"}", 3);
    const char *headers[] = {"Authorization: Bearer " TH_ADMIN_KEY,
                             "Content-Type: application/json", NULL};
    struct th_resp r;
    long status = th_req_full(s, "POST", "/users", headers, body, len, &r) ? r.status : -1;
    if (status == 503 && (strcmp(th_error_type(&r), "LICENSES-Unavailable") != 0 ||
                          r.retry_after[0] == '\0'))
        status = -503; /* not the 503 of the budget */
    th_resp_free(&r);
    free(body);
    return status;
}

/* Sends only the head of a POST that declares a 1 MiB body: true when the
 * server refuses it at once (503), false when it waits for the body (the
 * connection is then closed, which ends the request). */
static bool mib_refused_from_head(const struct th_server *s)
{
    int fd = connect_from(NULL, s->port);
    if (fd < 0)
        return false;
    send_text(fd, "POST /users HTTP/1.1\r\nHost: slow\r\nAuthorization: Bearer " TH_ADMIN_KEY
                  "\r\nContent-Type: application/json\r\nContent-Length: 1048576\r\n\r\n");
    char reply[2048];
    size_t len = 0;
    struct pollfd p = {.fd = fd, .events = POLLIN};
    while (len < 12 && poll(&p, 1, 300) > 0) {
        ssize_t n = recv(fd, reply + len, sizeof reply - 1 - len, 0);
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    reply[len] = '\0';
    close(fd);
    return strncmp(reply, "HTTP/1.1 503", 12) == 0;
}

/* The bodies in flight share ALLOT_BODY_MEMORY_MB (3 on the guarded allotd).
 * Two unfinished bodies of 1 MiB hold two of them: a third body of 1 MiB is
 * then 503 with Retry-After, at once, while a small one is still taken; once
 * the two go, a body of 1 MiB is taken again. */
static void test_body_memory_budget(void)
{
    T_EQ_INT(post_mib(&site.srv), 400); /* a whole MiB is taken when nothing holds the budget */
    int held[2];
    for (int i = 0; i < 2; i++) {
        held[i] = big_body_started(&site.srv);
        T_REQUIRE(held[i] >= 0);
    }
    /* Once the server has read the two, a third MiB does not fit: asked with
     * the head alone (a probe that takes no memory), until it is refused. */
    bool refused = false;
    for (int i = 0; i < 200 && !refused; i++) {
        refused = mib_refused_from_head(&site.srv);
        if (!refused)
            tl_sleep_ms(25);
    }
    T_CHECK(refused);
    long status = post_mib(&site.srv);
    T_EQ_INT(status, 503);
    const char *body = "{\"userDirectory\":\"BUDGET\",\"userId\":\"small\"}";
    struct th_resp r;
    T_CHECK(th_req(&site.srv, "POST", "/users", TH_ADMIN_KEY, body, &r));
    T_STATUS(r, 201);
    th_resp_free(&r);
    T_EQ_INT(th_sql_long(site.db.url, "SELECT count(*) FROM users WHERE user_directory = 'BUDGET'"),
             1);
    for (int i = 0; i < 2; i++)
        close(held[i]);
    /* Their memory comes back when the server sees them go.  Until then a
     * MiB is refused from its head, which the client may see as a reset
     * while it still sends the body (-1). */
    for (int i = 0; i < 200 && ((status = post_mib(&site.srv)) == 503 || status == -1); i++)
        tl_sleep_ms(25);
    T_EQ_INT(status, 400);
}

/* allot-authority serve has the same guard: 300 slow connections from 30
 * addresses against --max-connections 100, and a site's sync still goes
 * through. */
static void test_authority_room_kept(void)
{
    int opened = open_slow(backend.http.port, 300, 100, 10);
    T_CHECK(opened >= 290);
    int closed = count_closed(opened - 100, 15);
    printf("# authority: %d connections opened, %d closed by the server\n", opened, closed);
    T_CHECK(closed >= opened - 100);
    struct th_resp r;
    T_CHECK(th_req(&site.srv, "POST", "/license/actions/sync", TH_ADMIN_KEY, NULL, &r));
    if (r.status != 200)
        printf("#   sync: %ld %s\n", r.status, r.body ? r.body : "");
    T_STATUS(r, 200);
    T_EQ_STR(th_str(&r, "status"), "ok");
    th_resp_free(&r);
    T_CHECK(tl_backend_state(&backend, "1000", site.db.url, &r));
    T_STATUS(r, 200);
    th_resp_free(&r);
    close_slow();
}

static void test_servers_stop_cleanly(void)
{
    T_EQ_INT(th_server_stop(&quick), 0);
    T_EQ_INT(tl_backend_stop(&backend), 0);
}

int main(void)
{
    if (!tl_backend_init(&backend, "slow")) {
        printf("Bail out! no backend directory\n");
        return 1;
    }
    char url[128];
    snprintf(url, sizeof url, "ALLOT_AUTHORITY_URL=%s", backend.http.base);
    const char *guarded[] = {url,
                             "ALLOT_MAX_CONNECTIONS=100",
                             "ALLOT_MAX_CONNECTIONS_PER_ADDRESS=20",
                             "ALLOT_HEADER_TIMEOUT=1h",
                             "ALLOT_BODY_TIMEOUT=1h",
                             "ALLOT_REQUEST_TIMEOUT=1h",
                             "ALLOT_BODY_MEMORY_MB=3",
                             NULL};
    tl_site_start(&site, guarded);
    const char *authority_flags[] = {"--max-connections", "100", "--max-connections-per-address",
                                     "10", "--header-timeout", "1h", NULL};
    bool up = tl_backend_start_with(&backend, site.auth.key_path, authority_flags);
    const char *quick_env[] = {url,
                               "ALLOT_HEADER_TIMEOUT=2s",
                               "ALLOT_BODY_TIMEOUT=2s",
                               "ALLOT_REQUEST_TIMEOUT=60s",
                               NULL};
    up = up && tl_site_add_server(&site, &quick, quick_env);
    up = up && tl_apply(&site.srv, &site.auth, "--professional", "2", "--param",
                        "maxParallelSessions=50", NULL);
    up = up && tl_user(&site.srv, "CORP", "alice", NULL, alice) &&
         tl_alloc(&site.srv, alice, "professional", NULL, NULL, 0) == 201;
    if (!up) {
        printf("Bail out! the site did not start\n");
        th_server_stop(&quick);
        tl_backend_remove(&backend);
        tl_site_stop(&site);
        return 1;
    }

    T_RUN(test_per_address_cap);
    T_RUN(test_room_kept);
    T_RUN(test_head_deadline);
    T_RUN(test_body_deadline);
    T_RUN(test_body_memory_budget);
    T_RUN(test_authority_room_kept);
    T_RUN(test_servers_stop_cleanly);

    tl_backend_remove(&backend);
    T_EQ_INT(tl_site_stop(&site), 0);
    return t_done();
}

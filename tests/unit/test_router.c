/* Unit tests of src/http/router.c: http_route_match over a small table of our
 * own and over the real api_routes (src/api/routes.c). */
#include "allot/api.h"
#include "allot/http.h"

#include <stdio.h>
#include <string.h>

#include "ttest.h"

static void h_a(struct http_request *r) { (void)r; }
static void h_b(struct http_request *r) { (void)r; }

static const struct http_route table[] = {
    {"GET", "/things", h_a, ROLE_PUBLIC, false},
    {"POST", "/things", h_b, ROLE_ADMIN, true},
    {"GET", "/things/{id}", h_a, ROLE_ANY, false},
    {"DELETE", "/things/{id}", h_b, ROLE_ADMIN, false},
    {"POST", "/things/{id}/parts/{part}", h_b, ROLE_ADMIN, true},
    {"PUT", "/only-put", h_b, ROLE_ADMIN, true},
    {"GET", "/things/special", h_b, ROLE_ANY, false}, /* more literal than /things/{id} */
    {"GET", "/deep/{a}/{b}/{c}/{d}/{e}", h_a, ROLE_ANY, false}, /* 5 > HTTP_MAX_PARAMS */
    {"GET", "/files/{rest*}", h_a, ROLE_PUBLIC, false},   /* the rest of the path */
    {"GET", "/files/special", h_b, ROLE_PUBLIC, false},   /* more literal than the rest */
    {"GET", "/pre/{id}/{rest*}", h_a, ROLE_PUBLIC, false},
};
#define NTABLE (sizeof table / sizeof table[0])

struct m {
    enum route_match rc;
    const struct http_route *found;
    char buf[512];
    const char *params[HTTP_MAX_PARAMS];
    size_t nparams;
    char allow[128];
};

static enum route_match match_in(const struct http_route *t, size_t n, const char *method,
                                 const char *path, struct m *m)
{
    memset(m, 0, sizeof *m);
    m->rc = http_route_match(t, n, method, path, &m->found, m->buf, sizeof m->buf, m->params,
                             &m->nparams, m->allow, sizeof m->allow);
    return m->rc;
}

static enum route_match match(const char *method, const char *path, struct m *m)
{
    return match_in(table, NTABLE, method, path, m);
}

static void test_exact_paths(void)
{
    struct m m;
    T_EQ_INT(match("GET", "/things", &m), ROUTE_FOUND);
    T_CHECK(m.found == &table[0]);
    T_EQ_INT(m.nparams, 0);
    T_EQ_INT(match("POST", "/things", &m), ROUTE_FOUND);
    T_CHECK(m.found == &table[1]);
    T_EQ_INT(match("PUT", "/only-put", &m), ROUTE_FOUND);
    T_CHECK(m.found == &table[5]);
    /* The most literal pattern wins, wherever it stands in the table. */
    T_EQ_INT(match("GET", "/things/special", &m), ROUTE_FOUND);
    T_CHECK(m.found == &table[6]);
    T_EQ_INT(m.nparams, 0);
    T_EQ_INT(match("HEAD", "/things/special", &m), ROUTE_FOUND);
    T_CHECK(m.found == &table[6]);
    /* ... and only its methods are allowed there. */
    T_EQ_INT(match("DELETE", "/things/special", &m), ROUTE_NO_METHOD);
    T_EQ_STR(m.allow, "GET, HEAD");
    T_EQ_INT(match("GET", "/things/specials", &m), ROUTE_FOUND);
    T_CHECK(m.found == &table[2]);
}

static void test_captures(void)
{
    struct m m;
    T_EQ_INT(match("GET", "/things/abc-123", &m), ROUTE_FOUND);
    T_CHECK(m.found == &table[2]);
    T_REQUIRE(m.nparams == 1);
    T_EQ_STR(m.params[0], "abc-123");
    T_EQ_INT(match("DELETE", "/things/x", &m), ROUTE_FOUND);
    T_CHECK(m.found == &table[3]);
    T_EQ_STR(m.params[0], "x");
    T_EQ_INT(match("POST", "/things/t1/parts/p2", &m), ROUTE_FOUND);
    T_CHECK(m.found == &table[4]);
    T_REQUIRE(m.nparams == 2);
    T_EQ_STR(m.params[0], "t1");
    T_EQ_STR(m.params[1], "p2");
    /* Captured as sent: no percent-decoding. */
    T_EQ_INT(match("GET", "/things/a%2Fb", &m), ROUTE_FOUND);
    T_EQ_STR(m.params[0], "a%2Fb");
}

static void test_not_matched(void)
{
    static const char *const paths[] = {
        "/things/",           /* trailing slash */
        "/things/x/",         /* trailing slash after a capture */
        "//things",           /* double slash */
        "/things//x",         /* empty segment */
        "/things//",
        "/things/x//parts/y",
        "/things/x/parts/",
        "/things/x/parts",
        "/thing",
        "/thingsx",
        "/",
        "",
        "things",
        "/nope",
        "/THINGS",            /* case matters */
        "/things/x/y",
    };
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        struct m m;
        enum route_match rc = match("GET", paths[i], &m);
        if (rc != ROUTE_NO_PATH)
            printf("#   \"%s\" gave %d\n", paths[i], (int)rc);
        T_EQ_INT(rc, ROUTE_NO_PATH);
        T_CHECK(m.found == NULL);
        T_EQ_STR(m.allow, "");
    }
}

static void test_head_is_get(void)
{
    struct m m;
    T_EQ_INT(match("HEAD", "/things", &m), ROUTE_FOUND);
    T_CHECK(m.found == &table[0]);
    T_EQ_INT(match("HEAD", "/things/42", &m), ROUTE_FOUND);
    T_CHECK(m.found == &table[2]);
    T_EQ_STR(m.params[0], "42");
    /* No GET on the path: no HEAD either. */
    T_EQ_INT(match("HEAD", "/only-put", &m), ROUTE_NO_METHOD);
    T_EQ_STR(m.allow, "PUT");
}

static void test_405_allow(void)
{
    struct m m;
    T_EQ_INT(match("PATCH", "/things", &m), ROUTE_NO_METHOD);
    T_CHECK(m.found == NULL);
    T_EQ_STR(m.allow, "GET, HEAD, POST");
    T_EQ_INT(match("PUT", "/things/7", &m), ROUTE_NO_METHOD);
    T_EQ_STR(m.allow, "GET, HEAD, DELETE");
    T_EQ_INT(match("GET", "/things/7/parts/8", &m), ROUTE_NO_METHOD);
    T_EQ_STR(m.allow, "POST");
    T_EQ_INT(match("DELETE", "/only-put", &m), ROUTE_NO_METHOD);
    T_EQ_STR(m.allow, "PUT");
    /* Method names are case-sensitive (RFC 9110). */
    T_EQ_INT(match("get", "/things", &m), ROUTE_NO_METHOD);
}

static void test_param_limits(void)
{
    struct m m;
    /* A pattern with more captures than HTTP_MAX_PARAMS never matches. */
    enum route_match rc = match("GET", "/deep/1/2/3/4/5", &m);
    T_CHECK(rc != ROUTE_FOUND);
    T_CHECK(m.nparams <= HTTP_MAX_PARAMS);

    /* A capture too long for the caller's buffer is not a match; it must not
     * turn into a 405 that lists the very method asked for. */
    const struct http_route *found = NULL;
    char small[16];
    const char *params[HTTP_MAX_PARAMS];
    size_t n = 0;
    char allow[64];
    rc = http_route_match(table, NTABLE, "GET", "/things/0123456789abcdefghij", &found, small,
                          sizeof small, params, &n, allow, sizeof allow);
    T_CHECK(rc != ROUTE_FOUND);
    T_CHECK(found == NULL);
    /* BUG: http_route_match (src/http/router.c) decides that the path is known
     * with a private 512-byte scratch buffer, then fails to copy the capture
     * into the caller's smaller buf and skips the route: the answer is
     * ROUTE_NO_METHOD with allow "GET, HEAD, DELETE" for a GET.
     * (Unreachable from daemon.c today only because param_buf is also 512.) */
    T_EQ_INT(rc, ROUTE_NO_PATH);

    /* The same with the buffer size the daemon uses: a 600-byte id. */
    char path[700] = "/things/";
    memset(path + 8, 'a', 600);
    path[608] = '\0';
    T_EQ_INT(match("GET", path, &m), ROUTE_NO_PATH);
    T_CHECK(m.found == NULL);
    /* Two captures that together fill the buffer exactly still fit. */
    char two[600];
    snprintf(two, sizeof two, "/things/%0250d/parts/%0259d", 1, 2);
    T_EQ_INT(match("POST", two, &m), ROUTE_FOUND);
    T_REQUIRE(m.nparams == 2);
    T_EQ_INT(strspn(m.params[0] ? m.params[0] : "", "0"), 249);
    T_EQ_STR(m.params[0] + 249, "1");
    T_EQ_INT(strspn(m.params[1] ? m.params[1] : "", "0"), 258);
    T_EQ_STR(m.params[1] + 258, "2");
}

static void test_rest_of_path(void)
{
    struct m m;
    /* A final {name*} takes everything after its slash, slashes included. */
    T_EQ_INT(match("GET", "/files/a.js", &m), ROUTE_FOUND);
    T_CHECK(m.found == &table[8]);
    T_REQUIRE(m.nparams == 1);
    T_EQ_STR(m.params[0], "a.js");
    T_EQ_INT(match("GET", "/files/assets/x/y.css", &m), ROUTE_FOUND);
    T_CHECK(m.found == &table[8]);
    T_EQ_STR(m.params[0], "assets/x/y.css");
    T_EQ_INT(match("GET", "/files/a/", &m), ROUTE_FOUND);
    T_EQ_STR(m.params[0], "a/");
    T_EQ_INT(match("GET", "/files/a//b", &m), ROUTE_FOUND);
    T_EQ_STR(m.params[0], "a//b");
    /* ... possibly nothing, but the slash before it is part of the pattern. */
    T_EQ_INT(match("GET", "/files/", &m), ROUTE_FOUND);
    T_CHECK(m.found == &table[8]);
    T_REQUIRE(m.nparams == 1);
    T_EQ_STR(m.params[0], "");
    T_EQ_INT(match("GET", "/files", &m), ROUTE_NO_PATH);
    T_EQ_INT(match("GET", "/filesx/a", &m), ROUTE_NO_PATH);
    T_EQ_INT(match("GET", "//files/a", &m), ROUTE_NO_PATH);
    /* A more literal route still wins; a longer path is the rest's again. */
    T_EQ_INT(match("GET", "/files/special", &m), ROUTE_FOUND);
    T_CHECK(m.found == &table[9]);
    T_EQ_INT(match("GET", "/files/special/x", &m), ROUTE_FOUND);
    T_CHECK(m.found == &table[8]);
    T_EQ_STR(m.params[0], "special/x");
    /* HEAD follows GET; other methods are 405 with the route's Allow. */
    T_EQ_INT(match("HEAD", "/files/a/b", &m), ROUTE_FOUND);
    T_CHECK(m.found == &table[8]);
    T_EQ_INT(match("POST", "/files/a/b", &m), ROUTE_NO_METHOD);
    T_EQ_STR(m.allow, "GET, HEAD");
    /* After ordinary captures. */
    T_EQ_INT(match("GET", "/pre/7/x/y", &m), ROUTE_FOUND);
    T_CHECK(m.found == &table[10]);
    T_REQUIRE(m.nparams == 2);
    T_EQ_STR(m.params[0], "7");
    T_EQ_STR(m.params[1], "x/y");
    T_EQ_INT(match("GET", "/pre//x", &m), ROUTE_NO_PATH);
    /* A rest longer than the caller's buffer names nothing. */
    char path[700] = "/files/";
    memset(path + 7, 'a', 600);
    path[607] = '\0';
    T_EQ_INT(match("GET", path, &m), ROUTE_NO_PATH);
    T_CHECK(m.found == NULL);
    /* "{name*}" is special only as a whole last segment. */
    static const struct http_route odd[] = {
        {"GET", "/x/{rest*}/y", h_a, ROLE_PUBLIC, false},
    };
    T_EQ_INT(match_in(odd, 1, "GET", "/x/a/b/y", &m), ROUTE_NO_PATH);
    T_EQ_INT(match_in(odd, 1, "GET", "/x/a/y", &m), ROUTE_FOUND);
    T_EQ_STR(m.params[0], "a");
}

/* ---- the real table ----------------------------------------------------- */

/* A concrete path for a pattern: each {name} becomes "p<i>". */
static void concrete(const char *pattern, char *out, size_t len)
{
    size_t o = 0;
    int k = 0;
    for (const char *p = pattern; *p != '\0' && o + 8 < len;) {
        if (*p == '{') {
            o += (size_t)snprintf(out + o, len - o, "p%d", k++);
            const char *close = strchr(p, '}');
            p = close ? close + 1 : p + strlen(p);
        } else {
            out[o++] = *p++;
        }
    }
    out[o] = '\0';
}

/* True when allow ("GET, HEAD, POST") lists exactly the methods the table has
 * on pattern, plus HEAD when GET is one of them. */
static bool allow_lists(const char *allow, const char *pattern)
{
    char copy[128];
    snprintf(copy, sizeof copy, "%s", allow);
    const char *tokens[16];
    size_t ntok = 0;
    for (char *save = NULL, *tok = strtok_r(copy, ", ", &save); tok != NULL && ntok < 16;
         tok = strtok_r(NULL, ", ", &save))
        tokens[ntok++] = tok;
    size_t expected = 0;
    for (size_t i = 0; i < api_routes_count; i++) {
        if (strcmp(api_routes[i].pattern, pattern) != 0)
            continue;
        bool get = strcmp(api_routes[i].method, "GET") == 0;
        bool has = false, has_head = false;
        for (size_t k = 0; k < ntok; k++) {
            has = has || strcmp(tokens[k], api_routes[i].method) == 0;
            has_head = has_head || strcmp(tokens[k], "HEAD") == 0;
        }
        if (!has || (get && !has_head))
            return false;
        expected += get ? 2 : 1;
    }
    return expected > 0 && ntok == expected;
}

static void test_real_routes(void)
{
    T_REQUIRE(api_routes_count > 0);
    for (size_t i = 0; i < api_routes_count; i++) {
        const struct http_route *rt = &api_routes[i];
        char path[256];
        concrete(rt->pattern, path, sizeof path);
        struct m m;
        T_EQ_INT(match_in(api_routes, api_routes_count, rt->method, path, &m), ROUTE_FOUND);
        if (m.found != rt)
            printf("#   %s %s did not find its own route\n", rt->method, path);
        T_CHECK(m.found == rt);
        if (strcmp(rt->method, "GET") == 0) {
            T_EQ_INT(match_in(api_routes, api_routes_count, "HEAD", path, &m), ROUTE_FOUND);
            T_CHECK(m.found == rt);
        }
        /* No route uses TRACE: every known path answers 405 with its methods. */
        T_EQ_INT(match_in(api_routes, api_routes_count, "TRACE", path, &m), ROUTE_NO_METHOD);
        if (!allow_lists(m.allow, rt->pattern))
            printf("#   Allow of %s is \"%s\"\n", rt->pattern, m.allow);
        T_CHECK(allow_lists(m.allow, rt->pattern));
        /* Trailing slash and doubled slash are other paths: never this
         * route's, but for a route that takes the rest of the path (the
         * slash is part of the rest); only such a route may take them. */
        char other[300];
        bool rest = strstr(rt->pattern, "*}") != NULL;
        snprintf(other, sizeof other, "%s/", path);
        enum route_match got = match_in(api_routes, api_routes_count, rt->method, other, &m);
        if (rest)
            T_CHECK(got == ROUTE_FOUND && m.found == rt);
        else
            T_CHECK(got == ROUTE_NO_PATH ||
                    (got == ROUTE_FOUND && strstr(m.found->pattern, "*}") != NULL));
        snprintf(other, sizeof other, "/%s", path);
        T_EQ_INT(match_in(api_routes, api_routes_count, rt->method, other, &m), ROUTE_NO_PATH);
    }
}

static void test_real_known_routes(void)
{
    struct m m;
    const struct http_route *t = api_routes;
    size_t n = api_routes_count;
    T_EQ_INT(match_in(t, n, "GET", "/health", &m), ROUTE_FOUND);
    T_EQ_INT(m.found->roles, ROLE_PUBLIC);
    T_EQ_INT(match_in(t, n, "GET", "/ready", &m), ROUTE_FOUND);
    T_EQ_INT(m.found->roles, ROLE_PUBLIC);
    T_EQ_INT(match_in(t, n, "GET", "/metrics", &m), ROUTE_FOUND);
    T_CHECK(m.found->roles != ROLE_PUBLIC);
    T_EQ_INT(match_in(t, n, "POST", "/users", &m), ROUTE_FOUND);
    T_CHECK(m.found->needs_body);
    T_EQ_INT(match_in(t, n, "GET", "/users/3f1c", &m), ROUTE_FOUND);
    T_EQ_STR(m.params[0], "3f1c");
    T_EQ_INT(match_in(t, n, "DELETE", "/users/3f1c", &m), ROUTE_FOUND);
    T_EQ_INT(match_in(t, n, "PUT", "/users", &m), ROUTE_NO_METHOD);
    T_CHECK(strstr(m.allow, "GET") && strstr(m.allow, "HEAD") && strstr(m.allow, "POST"));
    T_EQ_INT(match_in(t, n, "POST", "/health", &m), ROUTE_NO_METHOD);
    T_EQ_STR(m.allow, "GET, HEAD");
    /* /apikeys is admin only (API.md). */
    T_EQ_INT(match_in(t, n, "GET", "/apikeys", &m), ROUTE_FOUND);
    T_EQ_INT(m.found->roles, ROLE_ADMIN);
    T_EQ_INT(match_in(t, n, "GET", "/nope", &m), ROUTE_NO_PATH);
    T_EQ_INT(match_in(t, n, "GET", "/users/", &m), ROUTE_NO_PATH);
    T_EQ_INT(match_in(t, n, "GET", "/users//x", &m), ROUTE_NO_PATH);
    T_EQ_INT(match_in(t, n, "GET", "/users/x/y", &m), ROUTE_NO_PATH);
    /* The console: public, any path below /console/ (views and assets). */
    T_EQ_INT(match_in(t, n, "GET", "/console", &m), ROUTE_FOUND);
    T_EQ_INT(m.found->roles, ROLE_PUBLIC);
    T_EQ_INT(m.nparams, 0);
    T_EQ_INT(match_in(t, n, "GET", "/console/", &m), ROUTE_FOUND);
    T_EQ_INT(m.found->roles, ROLE_PUBLIC);
    T_EQ_STR(m.params[0], "");
    T_EQ_INT(match_in(t, n, "GET", "/console/assets/index-abc.js", &m), ROUTE_FOUND);
    T_EQ_STR(m.params[0], "assets/index-abc.js");
    T_EQ_INT(match_in(t, n, "HEAD", "/console/allocations", &m), ROUTE_FOUND);
    T_EQ_INT(match_in(t, n, "POST", "/console/x", &m), ROUTE_NO_METHOD);
    T_EQ_STR(m.allow, "GET, HEAD");
    T_EQ_INT(match_in(t, n, "GET", "/consolex", &m), ROUTE_NO_PATH);
}

int main(void)
{
    T_RUN(test_exact_paths);
    T_RUN(test_captures);
    T_RUN(test_not_matched);
    T_RUN(test_head_is_get);
    T_RUN(test_405_allow);
    T_RUN(test_param_limits);
    T_RUN(test_rest_of_path);
    T_RUN(test_real_routes);
    T_RUN(test_real_known_routes);
    return t_done();
}

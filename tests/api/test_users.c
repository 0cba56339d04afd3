/* /users through HTTP: create, read, update, delete, validation that names
 * the field, filters, and keyset pagination over thousands of users. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tharness.h"

T_DEFINE_STATE;

static struct th_db db;
static struct th_server srv;

#define ADMIN TH_ADMIN_KEY

/* A number from SQL built with printf-style arguments. */
__attribute__((format(printf, 1, 2))) static long sql_long(const char *fmt, ...)
{
    char sql[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sql, sizeof sql, fmt, ap);
    va_end(ap);
    return th_sql_long(db.url, sql);
}

static long count_dir(const char *dir)
{
    return sql_long("SELECT count(*) FROM users WHERE user_directory = '%s'", dir);
}

/* 2024-05-01T12:00:00Z or with a fraction: RFC 3339 in UTC. */
static bool is_utc_time(const char *t)
{
    int y, mo, d, h, mi, used = 0;
    double sec;
    return t != NULL && strlen(t) >= 20 && t[4] == '-' && t[10] == 'T' &&
           sscanf(t, "%4d-%2d-%2dT%2d:%2d:%lfZ%n", &y, &mo, &d, &h, &mi, &sec, &used) == 6 &&
           (size_t)used == strlen(t) && t[used - 1] == 'Z';
}

/* A user as the API shows it: exactly these members, of these types. */
static void check_user_shape(const json_t *u)
{
    T_CHECK(json_is_object(u));
    T_EQ_INT(json_object_size(u), 7);
    const char *strs[] = {"id", "userDirectory", "userId", "name", "createdAt", "modifiedAt"};
    for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++)
        T_CHECK(json_is_string(json_object_get(u, strs[i])));
    T_CHECK(json_is_array(json_object_get(u, "groups")));
    T_CHECK(is_utc_time(json_string_value(json_object_get(u, "createdAt"))));
    T_CHECK(is_utc_time(json_string_value(json_object_get(u, "modifiedAt"))));
}

/* method path body (admin key) answers status with its errorType, statusCode,
 * corrId, and field naming the member to blame (or none). */
static void expect_error(const char *method, const char *path, const char *body, long status,
                         const char *field)
{
    const char *type = status == 400 ? "LICENSES-BadRequest"
                     : status == 404 ? "LICENSES-NotFound" : "LICENSES-Conflict";
    struct th_resp r;
    T_CHECK(th_req(&srv, method, path, ADMIN, body, &r));
    if (r.status != status)
        printf("#   %s %s %.80s: %ld\n", method, path, body ? body : "", r.status);
    T_ERROR(r, status, type);
    T_EQ_INT(json_integer_value(json_object_get(r.json, "statusCode")), status);
    T_EQ_STR(th_str(&r, "corrId"), r.corr_id);
    if (field != NULL)
        T_EQ_STR(th_str(&r, "field"), field);
    else
        T_CHECK(json_object_get(r.json, "field") == NULL);
    th_resp_free(&r);
}

/* POSTs a user; on 201 copies its id to id (when not NULL). */
static long create_user(const char *body, char id[64])
{
    struct th_resp r;
    T_CHECK(th_req(&srv, "POST", "/users", ADMIN, body, &r));
    long status = r.status;
    if (status != 201)
        printf("#   POST /users %.80s: %ld %.200s\n", body, status, r.body ? r.body : "");
    if (id != NULL)
        snprintf(id, 64, "%s", status == 201 ? th_str(&r, "id") : "");
    th_resp_free(&r);
    return status;
}

static void create_ok(const char *dir, const char *uid, const char *groups, char id[64])
{
    char body[512];
    snprintf(body, sizeof body, "{\"userDirectory\":\"%s\",\"userId\":\"%s\",\"groups\":%s}", dir,
             uid, groups ? groups : "[]");
    T_EQ_INT(create_user(body, id), 201);
}

/* Expects POST /users body to be a 400 naming field, leaving no row in dir. */
static void refused(const char *body, const char *field, const char *dir)
{
    long before = count_dir(dir);
    expect_error("POST", "/users", body, 400, field);
    T_EQ_INT(count_dir(dir), before);
}

static void test_create_and_get(void)
{
    const char *body = "{\"userDirectory\":\"CORP\",\"userId\":\"alice\",\"name\":\"Alice A\","
                       "\"groups\":[\"eng\",\"ops\"]}";
    struct th_resp r;
    T_CHECK(th_req(&srv, "POST", "/users", ADMIN, body, &r));
    T_STATUS(r, 201);
    T_CHECK(strncmp(r.content_type, "application/json", 16) == 0);
    check_user_shape(r.json);
    const char *id = th_str(&r, "id");
    T_EQ_INT(strlen(id), 36);
    char want_loc[128];
    snprintf(want_loc, sizeof want_loc, "/users/%s", id);
    size_t ll = strlen(r.location), wl = strlen(want_loc);
    T_CHECK(ll >= wl && strcmp(r.location + ll - wl, want_loc) == 0);
    T_EQ_STR(th_str(&r, "userDirectory"), "CORP");
    T_EQ_STR(th_str(&r, "userId"), "alice");
    T_EQ_STR(th_str(&r, "name"), "Alice A");
    json_t *groups = json_pack("[ss]", "eng", "ops");
    T_CHECK(json_equal(json_object_get(r.json, "groups"), groups));
    json_decref(groups);
    /* The times shown are the stored ones, in UTC. */
    T_EQ_INT(sql_long("SELECT count(*) FROM users WHERE id = '%s' AND created_at = '%s'::timestamptz"
                      " AND modified_at = '%s'::timestamptz",
                      id, th_str(&r, "createdAt"), th_str(&r, "modifiedAt")),
             1);

    struct th_resp g2;
    T_CHECK(th_req(&srv, "GET", want_loc, ADMIN, NULL, &g2));
    T_STATUS(g2, 200);
    check_user_shape(g2.json);
    T_CHECK(json_equal(r.json, g2.json));
    th_resp_free(&g2);
    th_resp_free(&r);

    /* Defaults: no name, no groups. */
    T_CHECK(th_req(&srv, "POST", "/users", ADMIN, "{\"userDirectory\":\"CORP\",\"userId\":\"bob\"}",
                   &r));
    T_STATUS(r, 201);
    check_user_shape(r.json);
    T_EQ_STR(th_str(&r, "name"), "");
    T_EQ_INT(json_array_size(json_object_get(r.json, "groups")), 0);
    th_resp_free(&r);
}

static void test_get_unknown_and_malformed(void)
{
    expect_error("GET", "/users/6f1c2a3e-1111-4222-8333-944455556666", NULL, 404, NULL);
    const char *bad[] = {"/users/not-a-uuid", "/users/123", "/users/%27%20OR%201=1",
                         "/users/6f1c2a3e-1111-4222-8333-94445555666Z"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        expect_error("GET", bad[i], NULL, 404, NULL);
}

static void test_duplicate_conflict(void)
{
    create_ok("DUP", "carol", NULL, NULL);
    expect_error("POST", "/users", "{\"userDirectory\":\"DUP\",\"userId\":\"carol\",\"name\":\"x\"}",
                 409, "userId");
    T_EQ_INT(count_dir("DUP"), 1);
    T_EQ_INT(sql_long("SELECT count(*) FROM users WHERE user_directory = 'DUP' AND name = ''"), 1);
    /* The same userId in another directory is another account. */
    create_ok("DUP2", "carol", NULL, NULL);
}

static void test_validation_names_field(void)
{
    refused("{\"userId\":\"v1\"}", "userDirectory", "VAL");
    refused("{\"userDirectory\":null,\"userId\":\"v1\"}", "userDirectory", "VAL");
    refused("{\"userDirectory\":\"VAL\",\"userId\":\"\"}", "userId", "VAL");
    refused("{\"userDirectory\":\"VAL\"}", "userId", "VAL");
    refused("{\"userDirectory\":\"\",\"userId\":\"v1\"}", "userDirectory", "");
    refused("{\"userDirectory\":\"VAL\",\"userId\":\"v\\u0001x\"}", "userId", "VAL");
    refused("{\"userDirectory\":\"VAL\",\"userId\":\"v\\nx\"}", "userId", "VAL");
    refused("{\"userDirectory\":\"VAL\",\"userId\":\"v1\",\"name\":\"a\\u007fb\"}", "name", "VAL");
    refused("{\"userDirectory\":\"VAL\",\"userId\":\"v1\",\"name\":\"a\\u0085b\"}", "name", "VAL");
    refused("{\"userDirectory\":\"VAL\",\"userId\":\"v1\",\"name\":42}", "name", "VAL");
    refused("{\"userDirectory\":\"VAL\",\"userId\":7}", "userId", "VAL");
    refused("{\"userDirectory\":\"VAL\",\"userId\":\"v1\",\"groups\":\"eng\"}", "groups", "VAL");
    refused("{\"userDirectory\":\"VAL\",\"userId\":\"v1\",\"groups\":[\"eng\",3]}", "groups", "VAL");
    refused("{\"userDirectory\":\"VAL\",\"userId\":\"v1\",\"groups\":[\"\"]}", "groups", "VAL");
    refused("{\"userDirectory\":\"VAL\",\"userId\":\"v1\",\"groups\":{}}", "groups", "VAL");
    refused("{\"userDirectory\":\"VAL\",\"userId\":\"v1\",\"role\":\"admin\"}", "role", "VAL");
    refused("{\"userDirectory\":\"VAL\",\"userId\":\"v1\",\"id\":\"x\"}", "id", "VAL");
    T_EQ_INT(count_dir("VAL"), 0);
}

/* {"userDirectory":"LEN","userId":"<n copies of unit>"} */
static char *user_with_id(const char *unit, size_t n)
{
    size_t ul = strlen(unit);
    char *b = malloc(64 + n * ul);
    if (b == NULL)
        return NULL;
    static const char head[] = "{\"userDirectory\":\"LEN\",\"userId\":\"";
    size_t o = sizeof head - 1;
    memcpy(b, head, o);
    for (size_t i = 0; i < n; i++, o += ul)
        memcpy(b + o, unit, ul);
    memcpy(b + o, "\"}", 3);
    return b;
}

static void test_lengths_in_code_points(void)
{
    const char *units[] = {"a", "\xc3\xa9" /* é */, "\xe2\x82\xac" /* € */,
                           "\xf0\x9f\x98\x80" /* U+1F600 */};
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        char *ok = user_with_id(units[i], 255);
        char *over = user_with_id(units[i], 256);
        T_REQUIRE(ok != NULL && over != NULL);
        refused(over, "userId", "LEN");
        T_EQ_INT(create_user(ok, NULL), 201);
        free(ok);
        free(over);
    }
    T_EQ_INT(count_dir("LEN"), 4);
    T_EQ_INT(sql_long("SELECT count(*) FROM users WHERE user_directory = 'LEN'"
                      " AND char_length(user_id) = 255"),
             4);
}

/* {"userDirectory":"GRP","userId":uid,"groups":["g1",...,"gN"]} */
static void groups_body(const char *uid, int n, char *out, size_t len)
{
    size_t o = (size_t)snprintf(out, len, "{\"userDirectory\":\"GRP\",\"userId\":\"%s\",\"groups\":[",
                                uid);
    for (int i = 1; i <= n && o < len; i++)
        o += (size_t)snprintf(out + o, len - o, "%s\"g%d\"", i > 1 ? "," : "", i);
    snprintf(out + o, len - o, "]}");
}

static void test_groups_limit(void)
{
    char body[2048];
    groups_body("many", 101, body, sizeof body);
    refused(body, "groups", "GRP");
    groups_body("many", 100, body, sizeof body);
    char id[64];
    T_EQ_INT(create_user(body, id), 201);
    T_EQ_INT(sql_long("SELECT cardinality(groups) FROM users WHERE id = '%s'", id), 100);
}

static void test_patch(void)
{
    char id[64], path[128];
    create_ok("PATCH", "dave", "[\"a\"]", id);
    snprintf(path, sizeof path, "/users/%s", id);
    struct th_resp before, r;
    T_CHECK(th_req(&srv, "GET", path, ADMIN, NULL, &before));
    T_STATUS(before, 200);

    T_CHECK(th_req(&srv, "PATCH", path, ADMIN, "{\"name\":\"Dave D\"}", &r));
    T_STATUS(r, 200);
    check_user_shape(r.json);
    T_EQ_STR(th_str(&r, "name"), "Dave D");
    T_EQ_STR(th_str(&r, "userId"), "dave");
    T_CHECK(json_equal(json_object_get(r.json, "groups"), json_object_get(before.json, "groups")));
    T_EQ_STR(th_str(&r, "createdAt"), th_str(&before, "createdAt"));
    T_CHECK(strcmp(th_str(&r, "modifiedAt"), th_str(&before, "modifiedAt")) > 0);
    char first_mod[64];
    snprintf(first_mod, sizeof first_mod, "%s", th_str(&r, "modifiedAt"));
    th_resp_free(&r);

    T_CHECK(th_req(&srv, "PATCH", path, ADMIN, "{\"groups\":[\"x\",\"y\"]}", &r));
    T_STATUS(r, 200);
    T_EQ_STR(th_str(&r, "name"), "Dave D");
    T_EQ_INT(json_array_size(json_object_get(r.json, "groups")), 2);
    T_EQ_STR(th_str(&r, "createdAt"), th_str(&before, "createdAt"));
    T_CHECK(strcmp(th_str(&r, "modifiedAt"), first_mod) > 0);
    th_resp_free(&r);
    T_EQ_INT(sql_long("SELECT count(*) FROM users WHERE id = '%s' AND name = 'Dave D'"
                      " AND groups = ARRAY['x','y'] AND modified_at > created_at",
                      id),
             1);
    /* Both at once; an empty groups list clears them. */
    T_CHECK(th_req(&srv, "PATCH", path, ADMIN, "{\"name\":\"\",\"groups\":[]}", &r));
    T_STATUS(r, 200);
    T_EQ_STR(th_str(&r, "name"), "");
    T_EQ_INT(json_array_size(json_object_get(r.json, "groups")), 0);
    th_resp_free(&r);
    th_resp_free(&before);
}

static char *user_row(const char *id)
{
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT row_to_json(u)::text FROM users u WHERE id = '%s'", id);
    return th_sql(db.url, sql);
}

/* PATCH path body: expects status and field, and the row of id unchanged. */
static void patch_refused(const char *path, const char *id, const char *body, long status,
                          const char *field)
{
    char *before = id ? user_row(id) : NULL;
    expect_error("PATCH", path, body, status, field);
    char *after = id ? user_row(id) : NULL;
    if (id != NULL)
        T_EQ_STR(after, before);
    free(before);
    free(after);
}

static void test_patch_refused(void)
{
    char id[64], path[128];
    create_ok("PATCH", "erin", NULL, id);
    snprintf(path, sizeof path, "/users/%s", id);
    patch_refused(path, id, "{\"nickname\":\"e\"}", 400, "nickname");
    patch_refused(path, id, "{}", 400, NULL);
    patch_refused(path, id, "{\"userId\":\"mallory\"}", 400, "userId");
    patch_refused(path, id, "{\"userDirectory\":\"X\"}", 400, "userDirectory");
    patch_refused(path, id, "{\"name\":7}", 400, "name");
    patch_refused(path, id, "{\"groups\":[1]}", 400, "groups");
    patch_refused(path, id, "[]", 400, NULL);
    patch_refused("/users/6f1c2a3e-1111-4222-8333-944455556666", NULL, "{\"name\":\"n\"}", 404,
                  NULL);
    patch_refused("/users/nope", NULL, "{\"name\":\"n\"}", 404, NULL);
}

static void test_delete(void)
{
    char id[64], path[128];
    create_ok("DEL", "frank", NULL, id);
    snprintf(path, sizeof path, "/users/%s", id);
    struct th_resp r;
    T_CHECK(th_req(&srv, "DELETE", path, ADMIN, NULL, &r));
    T_STATUS(r, 204);
    T_EQ_INT(r.body_len, 0);
    th_resp_free(&r);
    expect_error("GET", path, NULL, 404, NULL);
    T_EQ_INT(sql_long("SELECT count(*) FROM users WHERE id = '%s'", id), 0);
    expect_error("DELETE", path, NULL, 404, NULL);
    expect_error("DELETE", "/users/zzz", NULL, 404, NULL);
    /* The account can be created again. */
    create_ok("DEL", "frank", NULL, NULL);
}

/* Ids seen while walking a list: in order, and as a set to count repeats. */
struct idlist {
    json_t *order, *set;
    size_t n, dups;
};

static bool idlist_add(struct idlist *l, const char *id)
{
    if (l->order == NULL) {
        l->order = json_array();
        l->set = json_object();
    }
    if (id == NULL || strlen(id) != 36)
        return false;
    l->dups += json_object_get(l->set, id) != NULL;
    json_object_set_new(l->set, id, json_true());
    json_array_append_new(l->order, json_string(id));
    l->n++;
    return true;
}

static bool idlist_has(const struct idlist *l, const char *id)
{
    return json_object_get(l->set, id) != NULL;
}

static void idlist_free(struct idlist *l)
{
    json_decref(l->order);
    json_decref(l->set);
    *l = (struct idlist){0};
}

/* The ids joined by ',' (malloc'd), to compare with SQL's string_agg. */
static char *idlist_join(const struct idlist *l)
{
    char *out = calloc(l->n * 37 + 1, 1);
    for (size_t i = 0, o = 0; out != NULL && i < l->n; o += i ? 37 : 36, i++)
        snprintf(out + o, 38, "%s%s", i ? "," : "", json_string_value(json_array_get(l->order, i)));
    return out;
}

/* GETs one page: appends its ids to l, copies links.next (a path) to next
 * ("" when null). */
static bool get_page(const char *path, struct idlist *l, char *next, size_t nextlen)
{
    struct th_resp r;
    bool ok = th_req(&srv, "GET", path, ADMIN, NULL, &r) && r.status == 200;
    json_t *data = json_object_get(r.json, "data");
    json_t *links = json_object_get(r.json, "links");
    ok = ok && json_is_array(data) && json_is_object(links) && json_object_size(r.json) == 2;
    json_t *n = json_object_get(links, "next");
    ok = ok && (json_is_null(n) || json_is_string(n));
    next[0] = '\0';
    if (ok && json_is_string(n)) {
        const char *s = json_string_value(n);
        const char *scheme = strstr(s, "://");
        if (scheme != NULL) /* an absolute URL: keep its path */
            s = strchr(scheme + 3, '/');
        snprintf(next, nextlen, "%s", s ? s : "");
        ok = next[0] == '/';
    }
    size_t i;
    json_t *u;
    json_array_foreach(data, i, u) {
        if (!idlist_add(l, json_string_value(json_object_get(u, "id"))))
            ok = false;
    }
    if (!ok)
        printf("#   GET %s: %ld %.200s\n", path, r.status, r.body ? r.body : "");
    th_resp_free(&r);
    return ok;
}

/* Walks links.next from first, checking each next contains must_contain
 * (may be NULL); between the first and second page runs between (may be NULL).
 * Returns the number of pages, 0 on a failure. */
static int walk(const char *first, struct idlist *l, const char *must_contain,
                void (*between)(void))
{
    char path[1024], next[1024];
    snprintf(path, sizeof path, "%s", first);
    for (int pages = 1; pages < 1000; pages++) {
        if (!get_page(path, l, next, sizeof next))
            return 0;
        if (next[0] == '\0')
            return pages;
        if (must_contain != NULL && strstr(next, must_contain) == NULL) {
            printf("#   next %s lacks %s\n", next, must_contain);
            return 0;
        }
        if (pages == 1 && between != NULL)
            between();
        snprintf(path, sizeof path, "%s", next);
    }
    return 0;
}

/* Every user exactly once, in the order (createdAt, id) that SQL gives. */
static void check_walk_all(const char *first, int want_pages, const char *where)
{
    struct idlist l = {0};
    int pages = walk(first, &l, NULL, NULL);
    T_EQ_INT(pages, want_pages);
    char sql[512];
    snprintf(sql, sizeof sql,
             "SELECT string_agg(id::text, ',' ORDER BY created_at, id) FROM users %s", where);
    char *want = th_sql(db.url, sql);
    char *got = idlist_join(&l);
    T_EQ_INT(l.dups, 0);
    T_CHECK(want != NULL && got != NULL && strcmp(want, got) == 0);
    free(want);
    free(got);
    idlist_free(&l);
}

static void test_pagination_2500(void)
{
    free(th_sql(db.url, "INSERT INTO users (user_directory, user_id) "
                        "SELECT 'BULK', 'u' || g FROM generate_series(1,2500) g"));
    T_REQUIRE(count_dir("BULK") == 2500);
    long total = sql_long("SELECT count(*) FROM users");
    check_walk_all("/users?limit=1000", (int)(total + 999) / 1000, "");
    check_walk_all("/users", (int)(total + 99) / 100, "");
    /* The last page of an exact multiple: next is null, no empty page. */
    check_walk_all("/users?userDirectory=BULK&limit=500", 5, "WHERE user_directory = 'BULK'");
}

static void test_pagination_keeps_filter(void)
{
    struct idlist l = {0};
    int pages = walk("/users?userDirectory=BULK&limit=1000", &l, "userDirectory=BULK", NULL);
    T_EQ_INT(pages, 3);
    T_EQ_INT(l.n, 2500);
    T_EQ_INT(l.dups, 0);
    idlist_free(&l);
    /* A filter value that needs escaping survives the round trip. */
    create_ok("A B&C", "x1", NULL, NULL);
    create_ok("A B&C", "x2", NULL, NULL);
    create_ok("A B&C", "x3", NULL, NULL);
    l = (struct idlist){0};
    pages = walk("/users?userDirectory=A%20B%26C&limit=1", &l, "userDirectory=A%20B%26C", NULL);
    T_EQ_INT(pages, 3);
    T_EQ_INT(l.n, 3);
    T_EQ_INT(l.dups, 0);
    idlist_free(&l);
}

/* Rows that share a createdAt (or predate 1970) are still each seen once. */
static void test_pagination_ties(void)
{
    free(th_sql(db.url, "INSERT INTO users (user_directory, user_id, created_at) "
                        "SELECT 'TIE', 't' || g, '2001-02-03 04:05:06.789+00' "
                        "FROM generate_series(1,50) g"));
    free(th_sql(db.url, "INSERT INTO users (user_directory, user_id, created_at) "
                        "SELECT 'TIE', 'old' || g, '1969-12-31 23:59:59.5+00' "
                        "FROM generate_series(1,20) g"));
    T_REQUIRE(count_dir("TIE") == 70);
    check_walk_all("/users?userDirectory=TIE&limit=7", 10, "WHERE user_directory = 'TIE'");
    check_walk_all("/users?userDirectory=TIE&limit=3", 24, "WHERE user_directory = 'TIE'");
}

static char added[3][64];

static void create_while_paging(void)
{
    create_ok("LATE", "l1", NULL, added[0]);
    create_ok("LATE", "l2", NULL, added[1]);
    create_ok("LATE", "l3", NULL, added[2]);
    /* The user the cursor points at goes away: the walk goes on after it. */
    free(th_sql(db.url, "DELETE FROM users WHERE id = (SELECT id FROM users"
                        " ORDER BY created_at, id OFFSET 999 LIMIT 1)"));
}

static void test_created_while_paging(void)
{
    long before = sql_long("SELECT count(*) FROM users");
    struct idlist l = {0};
    T_CHECK(walk("/users?limit=1000", &l, NULL, create_while_paging) > 0);
    T_EQ_INT(l.dups, 0);
    /* Nobody who was there is missed (the one deleted was seen before it
     * went); the newcomers come once, at the end. */
    T_EQ_INT(l.n, before + 3);
    for (size_t i = 0; i < 3; i++)
        T_CHECK(idlist_has(&l, added[i]));
    idlist_free(&l);
}

static void test_filters(void)
{
    char a[64], b[64], c[64];
    create_ok("FLT", "p1", "[\"f-eng\",\"f-ops\"]", a);
    create_ok("FLT", "p2", "[\"f-engineering\"]", b);
    create_ok("FLT2", "p1", "[\"f-eng\"]", c);
    struct { const char *query; size_t n; const char *ids[3]; } cases[] = {
        {"/users?userDirectory=FLT", 2, {a, b}},
        {"/users?userId=p1&userDirectory=FLT2", 1, {c}},
        {"/users?userId=p1", 2, {a, c}},
        {"/users?group=f-eng", 2, {a, c}},
        {"/users?group=f-engineering", 1, {b}},
        {"/users?group=f-en", 0, {NULL}},
        {"/users?group=f-ops&userDirectory=FLT", 1, {a}},
        {"/users?group=f-ops&userDirectory=FLT2", 0, {NULL}},
        {"/users?userDirectory=NOSUCH", 0, {NULL}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct idlist l = {0};
        char next[1024];
        T_CHECK(get_page(cases[i].query, &l, next, sizeof next));
        if (l.n != cases[i].n)
            printf("#   %s: %zu users\n", cases[i].query, l.n);
        T_EQ_INT(l.n, cases[i].n);
        for (size_t k = 0; k < cases[i].n; k++)
            T_CHECK(idlist_has(&l, cases[i].ids[k]));
        T_EQ_STR(next, "");
        idlist_free(&l);
    }
    expect_error("GET", "/users?userDirectory=", NULL, 400, "userDirectory");
    expect_error("GET", "/users?group=a%01b", NULL, 400, "group");
    /* Regression: a filter that is not UTF-8 once reached PostgreSQL and came
     * back as a 400 naming no field. */
    const char *not_utf8[][2] = {{"/users?userDirectory=%ff", "userDirectory"},
                                 {"/users?userId=a%c3", "userId"},
                                 {"/users?group=%c0%af", "group"}};
    for (size_t i = 0; i < 3; i++)
        expect_error("GET", not_utf8[i][0], NULL, 400, not_utf8[i][1]);
}

static void test_bad_limit(void)
{
    const char *bad[] = {"0", "1001", "-1", "abc", "", "10abc", "1.5", "99999999999999999999"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char path[128];
        snprintf(path, sizeof path, "/users?limit=%s", bad[i]);
        expect_error("GET", path, NULL, 400, "limit");
    }
    struct idlist l = {0};
    char next[1024];
    T_CHECK(get_page("/users?limit=1", &l, next, sizeof next) && l.n == 1);
    T_CHECK(get_page("/users?limit=1000", &l, next, sizeof next));
    T_EQ_INT(l.n, 1 + sql_long("SELECT least(count(*), 1000) FROM users"));
    idlist_free(&l);
}

static void test_forged_cursor(void)
{
    struct idlist l = {0};
    char next[1024];
    T_REQUIRE(get_page("/users?limit=2", &l, next, sizeof next));
    idlist_free(&l);
    char *cur = strstr(next, "cursor=");
    T_REQUIRE(cur != NULL);
    cur += strlen("cursor=");
    size_t clen = strcspn(cur, "&");
    T_REQUIRE(clen > 10);
    char path[1024];
    const char *forged[] = {"/users?cursor=garbage", "/users?cursor=",
                            "/users?cursor=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
                            "/users?cursor=%00%ff"};
    for (size_t i = 0; i < sizeof forged / sizeof forged[0]; i++)
        expect_error("GET", forged[i], NULL, 400, "cursor");
    /* The real cursor works; with any one character changed it does not. */
    size_t positions[] = {0, clen / 2, clen - 1};
    for (size_t i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s", next);
        char *c = strstr(path, "cursor=") + strlen("cursor=") + positions[i];
        *c = *c == 'A' ? 'B' : 'A';
        expect_error("GET", path, NULL, 400, "cursor");
    }
    l = (struct idlist){0};
    T_CHECK(get_page(next, &l, path, sizeof path));
    T_EQ_INT(l.n, 2);
    idlist_free(&l);
}

/* SIGTERM ends allotd with status 0 (under AddressSanitizer: no leak). */
static void test_server_stops_cleanly(void)
{
    T_EQ_INT(th_server_stop(&srv), 0);
}

int main(void)
{
    th_setup(&db, &srv, NULL);
    T_RUN(test_create_and_get);
    T_RUN(test_get_unknown_and_malformed);
    T_RUN(test_duplicate_conflict);
    T_RUN(test_validation_names_field);
    T_RUN(test_lengths_in_code_points);
    T_RUN(test_groups_limit);
    T_RUN(test_patch);
    T_RUN(test_patch_refused);
    T_RUN(test_delete);
    T_RUN(test_filters);
    T_RUN(test_bad_limit);
    T_RUN(test_forged_cursor);
    T_RUN(test_pagination_2500);
    T_RUN(test_pagination_keeps_filter);
    T_RUN(test_pagination_ties);
    T_RUN(test_created_while_paging);
    T_RUN(test_server_stops_cleanly);
    th_db_drop(&db);
    return t_done();
}

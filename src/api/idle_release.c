/* /allocations/idle-release: the policy that releases professional and
 * analyzer allocations left idle (issue 10), its dry run, and (in the
 * reaper, src/jobs/reaper.c) its application.  What is idle is the engine's
 * to say (sql/idle_release.sql). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "allot/api.h"
#include "allot/app.h"
#include "allot/store.h"

#define TEXT_MAX 255
#define EXEMPT_MAX 1000

static const struct jspec policy_spec[] = {
    {"enabled", JS_BOOL, true, 0, 0, 0},
    {"idleDays", JS_INT, true, 1, 3650, 0},
    {"exempt", JS_OBJECT, false, 0, 0, 0},
};
/* exempt, but for its users (a list of objects, checked by exempt_users_ok) */
static const struct jspec exempt_spec[] = {
    {"groups", JS_STRING_ARRAY, false, 1, TEXT_MAX, EXEMPT_MAX},
    {"userDirectories", JS_STRING_ARRAY, false, 1, TEXT_MAX, EXEMPT_MAX},
};
static const struct jspec exempt_user_spec[] = {
    {"userDirectory", JS_STRING, true, 1, TEXT_MAX, 0},
    {"userId", JS_STRING, true, 1, TEXT_MAX, 0},
};

/* The {type} of the path: professional or analyzer, else a 404 reply. */
static const char *type_param(struct http_request *r)
{
    const char *t = http_param(r, 0);
    if (t != NULL && (strcmp(t, "professional") == 0 || strcmp(t, "analyzer") == 0))
        return t;
    api_reply_refusal(r, API_OUTCOME_policy_not_found, NULL);
    return NULL;
}

void api_idle_release_list(struct http_request *r)
{
    PGresult *res = NULL;
    enum db_status s = db_idle_policy_list(http_app(r)->pool, &res);
    if (s != DB_OK) {
        api_reply_db(r, s);
        return;
    }
    struct buf body;
    buf_init(&body, HTTP_REPLY_LIMIT);
    buf_lit(&body, "{\"data\":[");
    for (int i = 0; i < PQntuples(res); i++) {
        if (i > 0)
            buf_lit(&body, ",");
        api_row_json(&body, res, i, 1, &api_idle_policy_shape);
    }
    buf_lit(&body, "]}");
    PQclear(res);
    api_reply_buf(r, 200, "application/json", &body);
}

void api_idle_release_get(struct http_request *r)
{
    const char *type = type_param(r);
    if (type == NULL)
        return;
    PGresult *res = NULL;
    enum db_status s = db_idle_policy_get(http_app(r)->pool, type, &res);
    if (s == DB_NOT_FOUND) {
        api_reply_refusal(r, API_OUTCOME_policy_not_found, NULL);
        return;
    }
    api_reply_decision(r, s, res, 200, &api_idle_policy_shape);
}

/* exempt.users: a list of {"userDirectory", "userId"}; false when it is
 * not (a 400 replied). */
static bool exempt_users_ok(struct http_request *r, const json_t *users)
{
    if (users == NULL)
        return true;
    if (!json_is_array(users) || json_array_size(users) > EXEMPT_MAX) {
        http_reply_error(r, HTTP_ERR_BAD_REQUEST, "exempt.users",
                         "exempt.users must be a list of at most 1000 {\"userDirectory\", \"userId\"}");
        return false;
    }
    size_t i;
    const json_t *u;
    json_array_foreach(users, i, u) {
        json_t *v[2];
        const char *field = NULL;
        const char *why = jspec_check(u, exempt_user_spec, 2, v, &field);
        if (why != NULL) {
            http_reply_error(r, HTTP_ERR_BAD_REQUEST, "exempt.users", "exempt.users[%zu]: %s%s%s",
                             i, field ? field : "", field ? " " : "", why);
            return false;
        }
    }
    return true;
}

void api_idle_release_put(struct http_request *r)
{
    const char *type = type_param(r);
    json_t *v[3], *e[3] = {NULL, NULL, NULL};
    if (type == NULL || !api_body(r, policy_spec, 3, v))
        return;
    if (v[2] != NULL) {
        json_t *rest = json_copy(v[2]); /* shallow: the values stay the body's */
        e[2] = json_object_get(v[2], "users");
        json_object_del(rest, "users");
        const char *field = NULL;
        const char *why = jspec_check(rest, exempt_spec, 2, e, &field);
        char name[64]; /* field may be a key of rest: copied before rest goes */
        snprintf(name, sizeof name, "exempt%s%.40s", field ? "." : "", field ? field : "");
        json_decref(rest);
        if (why != NULL) {
            http_reply_error(r, HTTP_ERR_BAD_REQUEST, name, "%s %s", name, why);
            return;
        }
        if (!exempt_users_ok(r, e[2]))
            return;
    }
    char days[24], now[40];
    snprintf(days, sizeof days, "%lld", (long long)json_integer_value(v[1]));
    app_wall_pg(now);
    /* an exemption not given: none ("[]") */
    char *groups = e[0] ? json_dumps(e[0], JSON_COMPACT) : strdup("[]");
    char *dirs = e[1] ? json_dumps(e[1], JSON_COMPACT) : strdup("[]");
    char *users = e[2] ? json_dumps(e[2], JSON_COMPACT) : strdup("[]");
    PGresult *res = NULL;
    enum db_status s = DB_ERROR;
    if (groups != NULL && dirs != NULL && users != NULL)
        s = db_idle_policy_save(http_app(r)->pool, type, json_is_true(v[0]), days, groups, dirs,
                                users, now, &res);
    free(groups);
    free(dirs);
    free(users);
    api_reply_decision(r, s, res, 200, &api_idle_policy_shape);
}

void api_idle_release_preview(struct http_request *r)
{
    const char *type = type_param(r);
    if (type == NULL)
        return;
    struct db_page page;
    if (!api_page_parse(r, &page))
        return;
    if (page.has_after) {
        http_reply_error(r, HTTP_ERR_BAD_REQUEST, "cursor",
                         "The dry run is one page (up to limit) with the total; it takes no cursor");
        return;
    }
    char now[40], limit[16];
    app_wall_pg(now);
    snprintf(limit, sizeof limit, "%d", page.limit);
    PGresult *res = NULL;
    enum db_status s = db_idle_release_preview(http_app(r)->pool, type, now, limit, &res);
    if (s != DB_OK) {
        api_reply_db(r, s);
        return;
    }
    struct buf body;
    buf_init(&body, HTTP_REPLY_LIMIT);
    int n = PQntuples(res);
    int total_col = 1 + (int)api_idle_candidate_shape.n;
    buf_printf(&body, "{\"type\":\"%s\",\"at\":", type);
    char at[API_TIME_LEN];
    if (api_time_text(now, at))
        buf_printf(&body, "\"%s\"", at);
    else
        buf_lit(&body, "null");
    buf_printf(&body, ",\"total\":%s,\"data\":[", n > 0 ? PQgetvalue(res, 0, total_col) : "0");
    for (int i = 0; i < n; i++) {
        if (i > 0)
            buf_lit(&body, ",");
        api_row_json(&body, res, i, 1, &api_idle_candidate_shape);
    }
    buf_lit(&body, "]}");
    PQclear(res);
    api_reply_buf(r, 200, "application/json", &body);
}

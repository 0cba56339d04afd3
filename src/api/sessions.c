/* /sessions: starting a session is the license check.  The engine decides
 * in one round trip (sql/session_start.sql); this file only shows the
 * decision: the session, or the refusal of its outcome with the model's
 * result code. */
#include <stdio.h>
#include <string.h>

#include "allot/api.h"
#include "allot/app.h"
#include "allot/log.h"
#include "allot/metrics.h"
#include "allot/store.h"

static const struct jspec start_spec[] = {
    {"user", JS_STRING, false, 1, 64, 0},
    {"userDirectory", JS_STRING, false, 1, 255, 0},
    {"userId", JS_STRING, false, 1, 255, 0},
};

/* Column of the result code in a session reply: after the outcome and the
 * session's other members. */
#define RESULT_CODE_COL ((int)api_session_shape.n)

/* Column of the flag "the decision changed what GET /license shows". */
#define LICENSE_CHANGED_COL (RESULT_CODE_COL + 1)

/* A session decision: the session (ok_status), or its refusal. */
static void reply_session(struct http_request *r, enum db_status s, PGresult *res,
                          unsigned ok_status)
{
    if (s != DB_OK) {
        api_reply_db(r, s);
        return;
    }
    if (PQgetvalue(res, 0, LICENSE_CHANGED_COL)[0] == 't')
        api_license_changed(http_app(r)); /* before its notification arrives */
    enum api_outcome o = api_outcome_of(res);
    if (o == API_OUTCOME_ok) {
        api_reply_row(r, ok_status, res, &api_session_shape);
        return;
    }
    char result[64];
    snprintf(result, sizeof result, "%s", PQgetvalue(res, 0, RESULT_CODE_COL));
    PQclear(res);
    api_reply_refusal(r, o, result);
}

void api_sessions_start(struct http_request *r)
{
    json_t *v[3];
    if (!api_body(r, start_spec, 3, v))
        return;
    const char *user = json_string_value(v[0]);
    if (user != NULL ? (v[1] != NULL || v[2] != NULL) : (v[1] == NULL || v[2] == NULL)) {
        http_reply_error(r, HTTP_ERR_BAD_REQUEST, user ? "user" : (v[1] ? "userId" : "userDirectory"),
                         "Name the user by user (an id) or by userDirectory and userId");
        return;
    }
    if (user != NULL && !api_is_uuid(user)) {
        http_reply_error(r, HTTP_ERR_BAD_REQUEST, "user", "user must be the id of a user");
        return;
    }
    struct app *a = http_app(r);
    char now[40];
    app_wall_pg(now);
    PGresult *res = NULL;
    enum db_status s = db_session_start(a->pool, user, json_string_value(v[1]),
                                        json_string_value(v[2]), now, &res);
    if (s == DB_OK)
        metrics_session(a->metrics, PQgetvalue(res, 0, RESULT_CODE_COL),
                        PQgetisnull(res, 0, 5) ? NULL : PQgetvalue(res, 0, 5));
    reply_session(r, s, res, 201);
}

void api_sessions_heartbeat(struct http_request *r)
{
    const char *id = api_id_param(r, 0);
    if (id == NULL)
        return;
    struct app *a = http_app(r);
    char now[40], idle[24];
    app_wall_pg(now);
    snprintf(idle, sizeof idle, "%lld", (long long)a->cfg->session_idle_timeout);
    PGresult *res = NULL;
    enum db_status s = db_session_heartbeat(a->pool, id, now, idle, &res);
    reply_session(r, s, res, 200);
}

void api_sessions_end(struct http_request *r)
{
    api_id_decision(r, db_session_end, API_OUTCOME_ok, 204, &api_session_shape, false);
}

void api_sessions_get(struct http_request *r)
{
    const char *id = api_id_param(r, 0);
    if (id == NULL)
        return;
    PGresult *res = NULL;
    enum db_status s = db_session_get(http_app(r)->pool, id, &res);
    if (s == DB_NOT_FOUND) {
        http_reply_error(r, HTTP_ERR_NOT_FOUND, NULL, "No such session");
        return;
    }
    api_reply_decision(r, s, res, 200, &api_session_shape);
}

static bool uuid_filter(struct http_request *r, const char *name, const char **out)
{
    *out = http_query(r, name);
    if (*out != NULL && !api_is_uuid(*out)) {
        http_reply_error(r, HTTP_ERR_BAD_REQUEST, name, "%s must be the id of a user", name);
        return false;
    }
    return true;
}

void api_sessions_list(struct http_request *r)
{
    static const char *const filters[] = {"user", "active", NULL};
    struct session_filter f = {.active = http_query(r, "active")};
    if (!uuid_filter(r, "user", &f.user))
        return;
    if (f.active != NULL && strcmp(f.active, "true") != 0 && strcmp(f.active, "false") != 0) {
        http_reply_error(r, HTTP_ERR_BAD_REQUEST, "active", "active must be true or false");
        return;
    }
    struct db_page page;
    if (!api_page_parse(r, &page))
        return;
    PGresult *res;
    enum db_status s = db_session_list(http_app(r)->pool, &f, &page, &res);
    if (s != DB_OK) {
        api_reply_db(r, s);
        return;
    }
    api_reply_list(r, res, &page, &api_session_shape, filters);
}

/* The audit trail, newest first. */
void api_sessions_events(struct http_request *r)
{
    static const char *const filters[] = {"user", "kind", "resultCode", "from", "to", NULL};
    bool bad = false;
    struct api_time from, to;
    struct event_filter f = {
        .kind = http_query(r, "kind"),
        .result_code = api_filter(r, "resultCode", &bad),
    };
    api_time_query(r, "from", &from, &bad);
    api_time_query(r, "to", &to, &bad);
    if (bad || !uuid_filter(r, "user", &f.user))
        return;
    if (from.given && to.given &&
        (to.secs < from.secs || (to.secs == from.secs && to.us <= from.us))) {
        http_reply_error(r, HTTP_ERR_BAD_REQUEST, "to", "to must be after from");
        return;
    }
    f.from = from.given ? from.pg : NULL;
    f.to = to.given ? to.pg : NULL;
    if (f.kind != NULL && strcmp(f.kind, "grant") != 0 && strcmp(f.kind, "refusal") != 0 &&
        strcmp(f.kind, "end") != 0 && strcmp(f.kind, "release") != 0) {
        http_reply_error(r, HTTP_ERR_BAD_REQUEST, "kind",
                         "kind must be grant, refusal, end or release");
        return;
    }
    struct db_page page;
    if (!api_page_parse(r, &page))
        return;
    PGresult *res;
    enum db_status s = db_event_list(http_app(r)->pool, &f, &page, &res);
    if (s != DB_OK) {
        api_reply_db(r, s);
        return;
    }
    api_reply_list(r, res, &page, &api_event_shape, filters);
}

/* /sessions: starting a session is the license check.
 *
 * The database decides in one round trip (allot_session_start) and returns the
 * snapshot it decided on; allotd re-derives the decision with the pure rules
 * of src/core (core_resolve_access), answers with the error those rules map
 * to, and logs any disagreement as a bug. */
#include <stdio.h>
#include <string.h>

#include "allot/api.h"
#include "allot/app.h"
#include "allot/log.h"
#include "allot/metrics.h"
#include "allot/rules.h"
#include "allot/store.h"

static const struct jspec start_spec[] = {
    {"user", JS_STRING, false, 1, 64, 0},
    {"userDirectory", JS_STRING, false, 1, 255, 0},
    {"userId", JS_STRING, false, 1, 255, 0},
};

static bool flag(const json_t *snap, const char *name)
{
    return json_is_true(json_object_get(snap, name));
}

static enum core_license_state license_state(const char *name)
{
    static const enum core_license_state all[] = {CORE_LICENSE_OK, CORE_LICENSE_STALE,
                                                  CORE_LICENSE_MISSING, CORE_LICENSE_EXPIRED,
                                                  CORE_LICENSE_REVOKED};
    for (size_t i = 0; name != NULL && i < sizeof all / sizeof all[0]; i++)
        if (strcmp(core_license_state_name(all[i]), name) == 0)
            return all[i];
    return CORE_LICENSE_MISSING;
}

/* The decision of the pure rules on the database's snapshot. */
static struct core_access_decision decide(const json_t *snap)
{
    struct core_params p = core_params_default();
    json_t *max = json_object_get(snap, "maxParallel");
    if (json_is_integer(max))
        p.max_parallel_sessions = json_integer_value(max);
    struct core_access_snapshot s = {
        .user_known = flag(snap, "userKnown"),
        .license_state = license_state(json_string_value(json_object_get(snap, "license"))),
        .sessions_in_use = json_integer_value(json_object_get(snap, "sessionsInUse")),
        .has_professional = flag(snap, "professional"),
        .professional_excess = flag(snap, "professionalExcess"),
        .has_analyzer = flag(snap, "analyzer"),
        .analyzer_excess = flag(snap, "analyzerExcess"),
        .has_user_pass = flag(snap, "user"),
        .user_pass_excess = flag(snap, "userExcess"),
        .matches_professional_rule = flag(snap, "professionalRule"),
        .professional_unit_free = flag(snap, "professionalUnitFree"),
        .matches_analyzer_rule = flag(snap, "analyzerRule"),
        .analyzer_unit_free = flag(snap, "analyzerUnitFree"),
        .matches_login_group = flag(snap, "loginGroup"),
        .login_window_open = flag(snap, "loginWindowOpen"),
        .login_pass_available = flag(snap, "loginPassAvailable"),
        .matches_capacity_rule = flag(snap, "capacityRule"),
        .capacity_block_available = flag(snap, "capacityAvailable"),
    };
    return core_resolve_access(&s, &p);
}

static enum http_error error_of(enum core_access_error e)
{
    switch (e) {
    case CORE_ERROR_NOT_FOUND: return HTTP_ERR_NOT_FOUND;
    case CORE_ERROR_NO_LICENSE: return HTTP_ERR_NO_LICENSE;
    case CORE_ERROR_OUTDATED_LICENSE: return HTTP_ERR_OUTDATED_LICENSE;
    case CORE_ERROR_TOO_MANY_SESSIONS: return HTTP_ERR_TOO_MANY_SESSIONS;
    case CORE_ERROR_NO_ACCESS_PASS: return HTTP_ERR_NO_ACCESS_PASS;
    case CORE_ERROR_NONE: break;
    }
    return HTTP_ERR_INTERNAL;
}

static void reply_refusal(struct http_request *r, enum http_error e, const char *result_code,
                          const char *message)
{
    http_reply_error_extra_steal(r, e, message, json_pack("{s:s}", "resultCode", result_code));
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
    json_t *out = NULL;
    enum db_status s = db_session_start(a->pool, user, json_string_value(v[1]),
                                        json_string_value(v[2]), now, &out);
    if (s != DB_OK) {
        api_reply_db(r, s);
        return;
    }
    const char *result = json_string_value(json_object_get(out, "result"));
    struct core_access_decision d = decide(json_object_get(out, "snapshot"));
    const char *expected = core_result_code_name(d.result);
    if (result == NULL || strcmp(result, expected) != 0)
        log_with(LOG_ERROR, http_corr_id(r), json_pack("{s:O}", "snapshot", json_object_get(out, "snapshot")),
                 "rule mismatch: the database decided %s, src/core decides %s",
                 result ? result : "(none)", expected);
    const char *access = json_string_value(json_object_get(out, "accessType"));
    metrics_session(a->metrics, result ? result : "Error", access);
    if (result != NULL && strcmp(result, "Ok") == 0) {
        json_t *session = json_incref(json_object_get(out, "session"));
        json_decref(out);
        http_reply_created_steal(r, session);
        return;
    }
    enum http_error e = d.error != CORE_ERROR_NONE ? error_of(d.error) : HTTP_ERR_NO_ACCESS_PASS;
    const char *message = e == HTTP_ERR_NOT_FOUND ? "No such user" : NULL;
    reply_refusal(r, e, result ? result : expected, message);
    json_decref(out);
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
    json_t *out = NULL;
    enum db_status s = db_session_heartbeat(a->pool, id, now, idle, &out);
    if (s != DB_OK) {
        api_reply_db(r, s);
        return;
    }
    const char *result = json_string_value(json_object_get(out, "result"));
    if (result == NULL)
        result = "";
    if (strcmp(result, "Ok") == 0) {
        http_reply_json_steal(r, 200, json_incref(json_object_get(out, "session")));
    } else if (strcmp(result, "NotFound") == 0) {
        http_reply_error(r, HTTP_ERR_NOT_FOUND, NULL, "No such session");
    } else if (strcmp(result, "Ended") == 0) {
        http_reply_error(r, HTTP_ERR_CONFLICT, NULL, "The session has ended");
    } else if (strcmp(result, "LicenseNotAvailable") == 0) {
        const char *st = json_string_value(json_object_get(out, "license"));
        bool stale = st != NULL && strcmp(st, "stale") == 0;
        reply_refusal(r, stale ? HTTP_ERR_OUTDATED_LICENSE : HTTP_ERR_NO_LICENSE, result, NULL);
    } else {
        reply_refusal(r, HTTP_ERR_NO_ACCESS_PASS, result, NULL);
    }
    json_decref(out);
}

void api_sessions_end(struct http_request *r)
{
    const char *id = api_id_param(r, 0);
    if (id == NULL)
        return;
    char now[40];
    app_wall_pg(now);
    json_t *session = NULL;
    enum db_status s = db_session_end(http_app(r)->pool, id, now, &session);
    json_decref(session);
    if (s != DB_OK) {
        api_reply_db(r, s);
        return;
    }
    http_reply_empty(r, 204);
}

void api_sessions_get(struct http_request *r)
{
    const char *id = api_id_param(r, 0);
    if (id == NULL)
        return;
    json_t *session = NULL;
    enum db_status s = db_session_get(http_app(r)->pool, id, &session);
    if (s != DB_OK) {
        api_reply_db(r, s);
        return;
    }
    http_reply_json_steal(r, 200, session);
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
    struct api_page page;
    if (!api_page_parse(r, &page))
        return;
    PGresult *res;
    enum db_status s = db_session_list(http_app(r)->pool, &f, &page, &res);
    if (s != DB_OK) {
        api_reply_db(r, s);
        return;
    }
    api_reply_page(r, res, &page, filters);
    PQclear(res);
}

void api_sessions_events(struct http_request *r)
{
    static const char *const filters[] = {"user", "kind", "resultCode", NULL};
    bool bad = false;
    struct event_filter f = {
        .kind = http_query(r, "kind"),
        .result_code = api_filter(r, "resultCode", &bad),
    };
    if (bad || !uuid_filter(r, "user", &f.user))
        return;
    if (f.kind != NULL && strcmp(f.kind, "grant") != 0 && strcmp(f.kind, "refusal") != 0 &&
        strcmp(f.kind, "end") != 0) {
        http_reply_error(r, HTTP_ERR_BAD_REQUEST, "kind", "kind must be grant, refusal or end");
        return;
    }
    struct api_page page;
    if (!api_page_parse(r, &page))
        return;
    PGresult *res;
    enum db_status s = db_event_list(http_app(r)->pool, &f, &page, &res);
    if (s != DB_OK) {
        api_reply_db(r, s);
        return;
    }
    api_reply_page(r, res, &page, filters);
    PQclear(res);
}

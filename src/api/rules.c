/* /allocations/rules: access groups that assign passes by user attributes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "allot/api.h"
#include "allot/app.h"
#include "allot/store.h"

#define TEXT_MAX 255
#define MATCH_MAX 100

static const struct jspec create_spec[] = {
    {"name", JS_STRING, true, 1, 200, 0},
    {"accessType", JS_STRING, true, 1, 32, 0},
    {"match", JS_OBJECT, true, 0, 0, 0},
    {"tokens", JS_INT, false, 0, 1000000000, 0},
};

static const struct jspec update_spec[] = {
    {"name", JS_STRING, false, 1, 200, 0},
    {"match", JS_OBJECT, false, 0, 0, 0},
    {"tokens", JS_INT, false, 0, 1000000000, 0},
};

static const struct jspec match_spec[] = {
    {"groups", JS_STRING_ARRAY, false, 1, TEXT_MAX, MATCH_MAX},
    {"userDirectories", JS_STRING_ARRAY, false, 1, TEXT_MAX, MATCH_MAX},
};

static bool is_rule_type(const char *t)
{
    return strcmp(t, "professional") == 0 || strcmp(t, "analyzer") == 0 ||
           strcmp(t, "login") == 0 || strcmp(t, "analyzer_time") == 0;
}

/* Validates match; fills JSON texts of its two lists (NULL when absent). */
static bool parse_match(struct http_request *r, json_t *match, char **groups, char **dirs)
{
    json_t *m[2];
    const char *field = NULL;
    const char *why = jspec_check(match, match_spec, 2, m, &field);
    if (why != NULL) {
        char name[96];
        snprintf(name, sizeof name, "match.%s", field ? field : "");
        http_reply_error(r, HTTP_ERR_BAD_REQUEST, field ? name : "match", "%s %s",
                         field ? name : "match", why);
        return false;
    }
    if (json_array_size(m[0]) + json_array_size(m[1]) == 0) {
        http_reply_error(r, HTTP_ERR_BAD_REQUEST, "match",
                         "match must name at least one group or user directory");
        return false;
    }
    *groups = m[0] ? json_dumps(m[0], JSON_COMPACT) : strdup("[]");
    *dirs = m[1] ? json_dumps(m[1], JSON_COMPACT) : strdup("[]");
    return true;
}

void api_rules_create(struct http_request *r)
{
    json_t *v[4];
    if (!api_body(r, create_spec, 4, v))
        return;
    const char *type = json_string_value(v[1]);
    if (!is_rule_type(type)) {
        http_reply_error(r, HTTP_ERR_BAD_REQUEST, "accessType",
                         "accessType must be professional, analyzer, login or analyzer_time");
        return;
    }
    bool login = strcmp(type, "login") == 0;
    if (login != (v[3] != NULL)) {
        http_reply_error(r, HTTP_ERR_BAD_REQUEST, "tokens",
                         login ? "tokens is required for a login access group"
                               : "tokens is only for login access groups");
        return;
    }
    char *groups = NULL, *dirs = NULL;
    if (!parse_match(r, v[2], &groups, &dirs))
        return;
    char tokens[24], now[40];
    snprintf(tokens, sizeof tokens, "%lld", login ? (long long)json_integer_value(v[3]) : 0LL);
    app_wall_pg(now);
    PGresult *res = NULL;
    enum db_status s = db_rule_save(http_app(r)->pool, NULL, json_string_value(v[0]), type,
                                    groups, dirs, login ? tokens : NULL, now, &res);
    free(groups);
    free(dirs);
    api_license_changed(http_app(r));
    api_reply_decision(r, s, res, 201, &api_rule_shape);
}

void api_rules_update(struct http_request *r)
{
    const char *id = api_id_param(r, 0);
    json_t *v[3];
    if (id == NULL || !api_body(r, update_spec, 3, v))
        return;
    if (v[0] == NULL && v[1] == NULL && v[2] == NULL) {
        http_reply_error(r, HTTP_ERR_BAD_REQUEST, NULL, "Give name, match, tokens or several");
        return;
    }
    char *groups = NULL, *dirs = NULL;
    if (v[1] != NULL && !parse_match(r, v[1], &groups, &dirs))
        return;
    char tokens[24], now[40];
    snprintf(tokens, sizeof tokens, "%lld", (long long)json_integer_value(v[2]));
    app_wall_pg(now);
    PGresult *res = NULL;
    enum db_status s = db_rule_save(http_app(r)->pool, id, v[0] ? json_string_value(v[0]) : NULL,
                                    NULL, groups, dirs, v[2] ? tokens : NULL, now, &res);
    free(groups);
    free(dirs);
    api_license_changed(http_app(r));
    api_reply_decision(r, s, res, 200, &api_rule_shape);
}

void api_rules_get(struct http_request *r)
{
    const char *id = api_id_param(r, 0);
    if (id == NULL)
        return;
    PGresult *res = NULL;
    enum db_status s = db_rule_get(http_app(r)->pool, id, &res);
    if (s == DB_NOT_FOUND) {
        api_reply_refusal(r, API_OUTCOME_rule_not_found, NULL);
        return;
    }
    api_reply_decision(r, s, res, 200, &api_rule_shape);
}

void api_rules_delete(struct http_request *r)
{
    const char *id = api_id_param(r, 0);
    if (id == NULL)
        return;
    enum db_status s = db_rule_delete(http_app(r)->pool, id);
    api_license_changed(http_app(r));
    if (s == DB_NOT_FOUND) {
        api_reply_refusal(r, API_OUTCOME_rule_not_found, NULL);
        return;
    }
    if (s != DB_OK) {
        api_reply_db(r, s);
        return;
    }
    http_reply_empty(r, 204);
}

void api_rules_list(struct http_request *r)
{
    struct db_page page;
    if (!api_page_parse(r, &page))
        return;
    PGresult *res;
    enum db_status s = db_rule_list(http_app(r)->pool, &page, &res);
    if (s != DB_OK) {
        api_reply_db(r, s);
        return;
    }
    api_reply_list(r, res, &page, &api_rule_shape, NULL);
}

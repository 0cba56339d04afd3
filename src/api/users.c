/* /users: the directory accounts that sessions and allocations name. */
#include <stdio.h>
#include <stdlib.h>

#include "allot/api.h"
#include "allot/app.h"
#include "allot/store.h"

#define TEXT_MAX 255
#define GROUPS_MAX 100

static const struct jspec create_spec[] = {
    {"userDirectory", JS_STRING, true, 1, TEXT_MAX, 0},
    {"userId", JS_STRING, true, 1, TEXT_MAX, 0},
    {"name", JS_STRING, false, 0, TEXT_MAX, 0},
    {"groups", JS_STRING_ARRAY, false, 1, TEXT_MAX, GROUPS_MAX},
};

static const struct jspec update_spec[] = {
    {"name", JS_STRING, false, 0, TEXT_MAX, 0},
    {"groups", JS_STRING_ARRAY, false, 1, TEXT_MAX, GROUPS_MAX},
};

static void reply_user(struct http_request *r, enum db_status s, PGresult *res, unsigned status)
{
    if (s == DB_NOT_FOUND)
        api_reply_refusal(r, API_OUTCOME_user_not_found, NULL);
    else
        api_reply_decision(r, s, res, status, &api_user_shape);
}

void api_users_create(struct http_request *r)
{
    json_t *v[4];
    if (!api_body(r, create_spec, 4, v))
        return;
    char *groups = v[3] ? json_dumps(v[3], JSON_COMPACT) : NULL;
    PGresult *user = NULL;
    enum db_status s = db_user_create(http_app(r)->pool, json_string_value(v[0]),
                                      json_string_value(v[1]),
                                      v[2] ? json_string_value(v[2]) : "",
                                      groups ? groups : "[]", &user);
    free(groups);
    if (s == DB_CONFLICT) {
        http_reply_error(r, HTTP_ERR_CONFLICT, "userId",
                         "A user with this userDirectory and userId exists");
        return;
    }
    reply_user(r, s, user, 201);
}

void api_users_get(struct http_request *r)
{
    const char *id = api_id_param(r, 0);
    if (id == NULL)
        return;
    PGresult *user = NULL;
    enum db_status s = db_user_get(http_app(r)->pool, id, &user);
    reply_user(r, s, user, 200);
}

void api_users_update(struct http_request *r)
{
    const char *id = api_id_param(r, 0);
    json_t *v[2];
    if (id == NULL || !api_body(r, update_spec, 2, v))
        return;
    if (v[0] == NULL && v[1] == NULL) {
        http_reply_error(r, HTTP_ERR_BAD_REQUEST, NULL, "Give name, groups or both");
        return;
    }
    char *groups = v[1] ? json_dumps(v[1], JSON_COMPACT) : NULL;
    PGresult *user = NULL;
    enum db_status s = db_user_update(http_app(r)->pool, id, v[0] ? json_string_value(v[0]) : NULL,
                                      groups, &user);
    free(groups);
    reply_user(r, s, user, 200);
}

void api_users_delete(struct http_request *r)
{
    api_id_decision(r, db_user_delete, API_OUTCOME_ok, 204, &api_user_shape, true);
}

void api_users_list(struct http_request *r)
{
    static const char *const filters[] = {"userDirectory", "userId", "group", NULL};
    bool bad = false;
    struct user_filter f = {
        .user_directory = api_filter(r, "userDirectory", &bad),
        .user_id = api_filter(r, "userId", &bad),
        .group = api_filter(r, "group", &bad),
    };
    struct db_page page;
    if (bad || !api_page_parse(r, &page))
        return;
    PGresult *res;
    enum db_status s = db_user_list(http_app(r)->pool, &f, &page, &res);
    if (s != DB_OK) {
        api_reply_db(r, s);
        return;
    }
    api_reply_list(r, res, &page, &api_user_shape, filters);
}

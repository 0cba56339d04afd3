/* /allocations: named passes per user, with quarantine and reinstatement. */
#include <stdio.h>
#include <string.h>

#include "allot/api.h"
#include "allot/app.h"
#include "allot/store.h"

static const struct jspec create_spec[] = {
    {"user", JS_STRING, true, 1, 64, 0},
    {"type", JS_STRING, true, 1, 32, 0},
};

static bool is_allocation_type(const char *t)
{
    return t != NULL && (strcmp(t, "professional") == 0 || strcmp(t, "analyzer") == 0 ||
                         strcmp(t, "user") == 0);
}

/* The words of the SQL functions (migrations/0003) as replies. */
static void reply_outcome(struct http_request *r, enum db_status s, struct db_outcome *o,
                          unsigned ok_status)
{
    if (s != DB_OK) {
        api_reply_db(r, s);
        return;
    }
    const char *st = o->status;
    if (strcmp(st, "ok") == 0) {
        api_reply_entity(r, ok_status, o->body);
        return;
    }
    json_decref(o->body);
    if (strcmp(st, "outdated") == 0)
        http_reply_error(r, HTTP_ERR_OUTDATED_LICENSE, NULL, NULL);
    else if (strcmp(st, "no_license") == 0)
        http_reply_error(r, HTTP_ERR_NO_LICENSE, NULL, NULL);
    else if (strcmp(st, "unknown_user") == 0)
        http_reply_error(r, HTTP_ERR_NOT_FOUND, "user", "No such user");
    else if (strcmp(st, "conflict") == 0)
        http_reply_error(r, HTTP_ERR_CONFLICT, NULL, "The user already holds an allocation of this type");
    else if (strcmp(st, "quarantined") == 0)
        http_reply_error(r, HTTP_ERR_CONFLICT, NULL,
                         "The user's allocation of this type is in quarantine: reinstate it");
    else if (strcmp(st, "no_allotment") == 0)
        http_reply_error(r, HTTP_ERR_NO_AVAILABLE_ALLOTMENT, NULL, NULL);
    else if (strcmp(st, "not_found") == 0)
        http_reply_error(r, HTTP_ERR_NOT_FOUND, NULL, "No such allocation");
    else if (strcmp(st, "not_quarantined") == 0)
        http_reply_error(r, HTTP_ERR_CONFLICT, NULL, "The allocation is not in quarantine");
    else if (strcmp(st, "user_deleted") == 0)
        http_reply_error(r, HTTP_ERR_CONFLICT, NULL, "The allocation's user was deleted");
    else
        api_reply_db(r, DB_ERROR);
}

void api_allocations_create(struct http_request *r)
{
    json_t *v[2];
    if (!api_body(r, create_spec, 2, v))
        return;
    const char *user = json_string_value(v[0]), *type = json_string_value(v[1]);
    if (!api_is_uuid(user)) {
        http_reply_error(r, HTTP_ERR_BAD_REQUEST, "user", "user must be the id of a user");
        return;
    }
    if (!is_allocation_type(type)) {
        http_reply_error(r, HTTP_ERR_BAD_REQUEST, "type",
                         "type must be professional, analyzer or user");
        return;
    }
    char now[40];
    app_wall_pg(now);
    struct db_outcome o;
    enum db_status s = db_allocation_create(http_app(r)->pool, user, type, now, &o);
    reply_outcome(r, s, &o, 201);
}

void api_allocations_get(struct http_request *r)
{
    const char *id = api_id_param(r, 0);
    if (id == NULL)
        return;
    char now[40];
    app_wall_pg(now);
    json_t *a = NULL;
    enum db_status s = db_allocation_get(http_app(r)->pool, id, now, &a);
    if (s != DB_OK) {
        api_reply_db(r, s);
        return;
    }
    http_reply_json_steal(r, 200, a);
}

void api_allocations_delete(struct http_request *r)
{
    const char *id = api_id_param(r, 0);
    if (id == NULL)
        return;
    char now[40];
    app_wall_pg(now);
    struct db_outcome o;
    enum db_status s = db_allocation_delete(http_app(r)->pool, id, now, &o);
    if (s == DB_OK && strcmp(o.status, "released") == 0) {
        json_decref(o.body);
        http_reply_empty(r, 204);
        return;
    }
    reply_outcome(r, s, &o, 200); /* in quarantine: it counts until quarantineEnd */
}

void api_allocations_reinstate(struct http_request *r)
{
    const char *id = api_id_param(r, 0);
    if (id == NULL)
        return;
    char now[40];
    app_wall_pg(now);
    struct db_outcome o;
    enum db_status s = db_allocation_reinstate(http_app(r)->pool, id, now, &o);
    reply_outcome(r, s, &o, 200);
}

void api_allocations_list(struct http_request *r)
{
    static const char *const filters[] = {"type", "user", "quarantined", NULL};
    struct allocation_filter f = {
        .type = http_query(r, "type"),
        .user = http_query(r, "user"),
        .quarantined = http_query(r, "quarantined"),
    };
    if (f.type != NULL && !is_allocation_type(f.type)) {
        http_reply_error(r, HTTP_ERR_BAD_REQUEST, "type", "type must be professional, analyzer or user");
        return;
    }
    if (f.user != NULL && !api_is_uuid(f.user)) {
        http_reply_error(r, HTTP_ERR_BAD_REQUEST, "user", "user must be the id of a user");
        return;
    }
    if (f.quarantined != NULL && strcmp(f.quarantined, "true") != 0 &&
        strcmp(f.quarantined, "false") != 0) {
        http_reply_error(r, HTTP_ERR_BAD_REQUEST, "quarantined", "quarantined must be true or false");
        return;
    }
    struct api_page page;
    if (!api_page_parse(r, &page))
        return;
    char now[40];
    app_wall_pg(now);
    PGresult *res;
    enum db_status s = db_allocation_list(http_app(r)->pool, &f, now, &page, &res);
    if (s != DB_OK) {
        api_reply_db(r, s);
        return;
    }
    api_reply_page(r, res, &page, filters);
    PQclear(res);
}

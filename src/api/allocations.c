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
    PGresult *res = NULL;
    enum db_status s = db_allocation_create(http_app(r)->pool, user, type, now, &res);
    api_license_changed(http_app(r));
    api_reply_decision(r, s, res, 201, &api_allocation_shape);
}

void api_allocations_get(struct http_request *r)
{
    PGresult *res;
    enum db_status s;
    if (!api_id_call_now(r, db_allocation_get, &res, &s))
        return;
    if (s == DB_NOT_FOUND) {
        api_reply_refusal(r, API_OUTCOME_allocation_not_found, NULL);
        return;
    }
    api_reply_decision(r, s, res, 200, &api_allocation_shape);
}

void api_allocations_delete(struct http_request *r)
{
    /* released: 204; in quarantine: 200, it counts until quarantineEnd */
    api_id_decision(r, db_allocation_delete, API_OUTCOME_released, 200, &api_allocation_shape,
                    true);
}

void api_allocations_reinstate(struct http_request *r)
{
    api_id_decision(r, db_allocation_reinstate, API_OUTCOME_COUNT, 200, &api_allocation_shape,
                    true);
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
    struct db_page page;
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
    api_reply_list(r, res, &page, &api_allocation_shape, filters);
}

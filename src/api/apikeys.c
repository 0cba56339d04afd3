/* /apikeys (admin only): the secret is shown once, in the 201. */
#include <stdio.h>
#include <string.h>

#include "allot/api.h"
#include "allot/app.h"
#include "allot/auth.h"
#include "allot/store.h"

void auth_stored_forms(const char *secret, char lookup[17], char hash_hex[65]);

static const struct jspec create_spec[] = {
    {"name", JS_STRING, true, 1, 200, 0},
    {"role", JS_STRING, true, 1, 16, 0},
};

void api_apikeys_create(struct http_request *r)
{
    json_t *v[2];
    if (!api_body(r, create_spec, 2, v))
        return;
    const char *role = json_string_value(v[1]);
    if (http_role_parse(role) == 0) {
        http_reply_error(r, HTTP_ERR_BAD_REQUEST, "role", "role must be admin, auditor, proxy or scim");
        return;
    }
    char secret[64], lookup[17], hash_hex[65];
    auth_new_secret(secret);
    auth_stored_forms(secret, lookup, hash_hex);
    PGresult *res = NULL;
    enum db_status s = db_apikey_create(http_app(r)->pool, json_string_value(v[0]), role, lookup,
                                        hash_hex, &res);
    if (s != DB_OK) {
        api_reply_db(r, s);
        return;
    }
    json_t *key = api_row_object(res, 0, 1, &api_apikey_shape);
    PQclear(res);
    json_object_set_new(key, "key", json_string(secret));
    memset(secret, 0, sizeof secret);
    /* The only reply that carries the secret: no cache may keep it. */
    http_add_header(r, "Cache-Control", "no-store");
    http_reply_created_steal(r, key);
}

void api_apikeys_list(struct http_request *r)
{
    struct db_page page;
    if (!api_page_parse(r, &page))
        return;
    PGresult *res;
    enum db_status s = db_apikey_list(http_app(r)->pool, &page, &res);
    if (s != DB_OK) {
        api_reply_db(r, s);
        return;
    }
    api_reply_list(r, res, &page, &api_apikey_shape, NULL);
}

void api_apikeys_get(struct http_request *r)
{
    const char *id = api_id_param(r, 0);
    if (id == NULL)
        return;
    PGresult *res = NULL;
    enum db_status s = db_apikey_get(http_app(r)->pool, id, &res);
    if (s == DB_NOT_FOUND) {
        api_reply_refusal(r, API_OUTCOME_apikey_not_found, NULL);
        return;
    }
    api_reply_decision(r, s, res, 200, &api_apikey_shape);
}

void api_apikeys_delete(struct http_request *r)
{
    const char *id = api_id_param(r, 0);
    if (id == NULL)
        return;
    PGresult *res = NULL;
    enum db_status s = db_apikey_delete(http_app(r)->pool, id, &res);
    if (s == DB_OK && api_outcome_of(res) == API_OUTCOME_ok) {
        PQclear(res);
        auth_cache_clear(http_app(r)->auth); /* the others: NOTIFY allot_apikeys */
        http_reply_empty(r, 204);
        return;
    }
    api_reply_decision(r, s, res, 204, &api_apikey_shape);
}

/* /webhooks: subscriptions to alerts (admin; auditors read them and their
 * delivery log).  The secret is made here, shown once in the 201, and kept
 * by the database to sign with (src/jobs/webhooks.c).
 *
 * The event types and their parameters are one table; a request is checked
 * against it and stored with its defaults filled in, so the engine
 * (sql/webhook_*.sql) gets only what it knows. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "allot/api.h"
#include "allot/app.h"
#include "allot/store.h"
#include "allot/webhooks.h"

#define URL_MAX 2048
#define EVENTS_MAX 20

/* An event type and its parameters: an integer (with bounds and a default;
 * def < 0: required) and, for allotment.low, the allotment. */
struct param {
    const char *name;
    int64_t min, max, def;
};
struct event_type {
    const char *type;
    struct param p[2];
    bool allotment;
};

static const struct event_type event_types[] = {
    {"license.disabling", {{"hours", 1, 8760, 24}, {NULL, 0, 0, 0}}, false},
    {"license.stale", {{NULL, 0, 0, 0}, {NULL, 0, 0, 0}}, false},
    {"license.expiring", {{"days", 1, 3650, 30}, {NULL, 0, 0, 0}}, false},
    {"license.revoked", {{NULL, 0, 0, 0}, {NULL, 0, 0, 0}}, false},
    {"sync.failed", {{"failures", 1, 1000, 1}, {NULL, 0, 0, 0}}, false},
    {"sync.recovered", {{NULL, 0, 0, 0}, {NULL, 0, 0, 0}}, false},
    {"allotment.low", {{"below", 1, 1000000000, -1}, {NULL, 0, 0, 0}}, true},
    {"refusals.high", {{"count", 1, 1000000, -1}, {"seconds", 1, 86400, 60}}, false},
};
#define EVENT_TYPES (sizeof event_types / sizeof event_types[0])

static const struct jspec create_spec[] = {
    {"url", JS_STRING, true, 1, URL_MAX, 0},
    {"description", JS_STRING, false, 0, 200, 0},
    {"events", JS_ARRAY, true, 1, 0, EVENTS_MAX},
};

static const struct event_type *find_type(const char *name)
{
    for (size_t i = 0; i < EVENT_TYPES; i++)
        if (strcmp(event_types[i].type, name) == 0)
            return &event_types[i];
    return NULL;
}

static void reply_field(struct http_request *r, size_t i, const char *member, const char *why)
{
    char field[64];
    if (member != NULL)
        snprintf(field, sizeof field, "events[%zu].%s", i, member);
    else
        snprintf(field, sizeof field, "events[%zu]", i);
    http_reply_error(r, HTTP_ERR_BAD_REQUEST, field, "%s %s", field, why);
}

/* One member of an event object: its type's parameter (set in out), or a
 * 400.  True when it was accepted. */
static bool event_member(struct http_request *r, size_t i, const struct event_type *t,
                         const char *key, json_t *value, json_t *out)
{
    if (strcmp(key, "type") == 0)
        return true;
    if (t->allotment && strcmp(key, "allotment") == 0) {
        const char *a = json_string_value(value);
        if (a == NULL || (strcmp(a, "professional") != 0 && strcmp(a, "analyzer") != 0)) {
            reply_field(r, i, key, "must be professional or analyzer");
            return false;
        }
        json_object_set(out, key, value);
        return true;
    }
    for (size_t k = 0; k < 2 && t->p[k].name != NULL; k++) {
        if (strcmp(key, t->p[k].name) != 0)
            continue;
        if (!json_is_integer(value) || json_integer_value(value) < t->p[k].min ||
            json_integer_value(value) > t->p[k].max) {
            char why[96];
            snprintf(why, sizeof why, "must be an integer from %lld to %lld",
                     (long long)t->p[k].min, (long long)t->p[k].max);
            reply_field(r, i, key, why);
            return false;
        }
        json_object_set(out, key, value);
        return true;
    }
    reply_field(r, i, key, "is not a parameter of this event type");
    return false;
}

/* The events of a request, checked and with their defaults: a new array, or
 * NULL after a 400 naming the member to blame ("events[2].hours"). */
static json_t *parse_events(struct http_request *r, json_t *events)
{
    json_t *all = json_array();
    size_t i;
    json_t *e;
    json_array_foreach(events, i, e) {
        if (!json_is_object(e)) {
            reply_field(r, i, NULL, "must be an object with a type");
            goto bad;
        }
        const char *name = json_string_value(json_object_get(e, "type"));
        const struct event_type *t = name ? find_type(name) : NULL;
        if (t == NULL) {
            reply_field(r, i, "type",
                        "must be one of license.disabling, license.stale, license.expiring, "
                        "license.revoked, sync.failed, sync.recovered, allotment.low, "
                        "refusals.high");
            goto bad;
        }
        json_t *out = json_pack("{ss}", "type", t->type);
        json_array_append_new(all, out);
        const char *key;
        json_t *value;
        json_object_foreach(e, key, value) {
            if (!event_member(r, i, t, key, value, out))
                goto bad;
        }
        if (t->allotment && json_object_get(out, "allotment") == NULL) {
            reply_field(r, i, "allotment", "is required (professional or analyzer)");
            goto bad;
        }
        for (size_t k = 0; k < 2 && t->p[k].name != NULL; k++) {
            if (json_object_get(out, t->p[k].name) != NULL)
                continue;
            if (t->p[k].def < 0) {
                reply_field(r, i, t->p[k].name, "is required for this event type");
                goto bad;
            }
            json_object_set_new(out, t->p[k].name, json_integer(t->p[k].def));
        }
    }
    return all;
bad:
    json_decref(all);
    return NULL;
}

/* An http:// or https:// URL with a host, as libcurl reads it. */
static bool url_ok(const char *url)
{
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL;
    bool ok = u != NULL && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
              curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
              curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK && host[0] != '\0' &&
              (strcmp(scheme, "http") == 0 || strcmp(scheme, "https") == 0);
    curl_free(scheme);
    curl_free(host);
    curl_url_cleanup(u);
    return ok;
}

void api_webhooks_create(struct http_request *r)
{
    json_t *v[3];
    if (!api_body(r, create_spec, 3, v))
        return;
    const char *url = json_string_value(v[0]);
    if (!url_ok(url)) {
        http_reply_error(r, HTTP_ERR_BAD_REQUEST, "url",
                         "url must be an http:// or https:// URL with a host");
        return;
    }
    json_t *events = parse_events(r, v[2]);
    if (events == NULL)
        return;
    char *events_json = json_dumps(events, JSON_COMPACT);
    json_decref(events);
    char secret[WEBHOOK_SECRET_LEN], now[40];
    if (events_json == NULL || !webhook_new_secret(secret)) {
        free(events_json);
        http_reply_error(r, HTTP_ERR_INTERNAL, NULL, NULL);
        return;
    }
    app_wall_pg(now);
    PGresult *res = NULL;
    enum db_status s = db_webhook_create(http_app(r)->pool, url,
                                         v[1] ? json_string_value(v[1]) : "", secret, events_json,
                                         now, &res);
    free(events_json);
    if (s != DB_OK) {
        memset(secret, 0, sizeof secret);
        api_reply_db(r, s);
        return;
    }
    json_t *hook = api_row_object(res, 0, 1, &api_webhook_shape);
    char location[128];
    snprintf(location, sizeof location, "/webhooks/%s", PQgetvalue(res, 0, 1));
    PQclear(res);
    json_object_set_new(hook, "secret", json_string(secret));
    memset(secret, 0, sizeof secret);
    /* The only reply that carries the secret: no cache may keep it. */
    http_add_header(r, "Cache-Control", "no-store");
    http_add_header(r, "Location", location);
    http_reply_json_steal(r, 201, hook);
}

void api_webhooks_list(struct http_request *r)
{
    struct db_page page;
    if (!api_page_parse(r, &page))
        return;
    PGresult *res;
    enum db_status s = db_webhook_list(http_app(r)->pool, &page, &res);
    if (s != DB_OK) {
        api_reply_db(r, s);
        return;
    }
    api_reply_list(r, res, &page, &api_webhook_shape, NULL);
}

/* Answers a status that is no success: 404 for a subscription that is not
 * there, else as api_reply_db.  True when it answered. */
static bool refused(struct http_request *r, enum db_status s)
{
    if (s == DB_NOT_FOUND)
        http_reply_error(r, HTTP_ERR_NOT_FOUND, NULL, "No such webhook subscription");
    else if (s != DB_OK)
        api_reply_db(r, s);
    return s != DB_OK;
}

void api_webhooks_get(struct http_request *r)
{
    const char *id = api_id_param(r, 0);
    if (id == NULL)
        return;
    PGresult *res = NULL;
    enum db_status s = db_webhook_get(http_app(r)->pool, id, &res);
    if (!refused(r, s))
        api_reply_decision(r, s, res, 200, &api_webhook_shape);
}

void api_webhooks_delete(struct http_request *r)
{
    const char *id = api_id_param(r, 0);
    if (id == NULL)
        return;
    if (!refused(r, db_webhook_delete(http_app(r)->pool, id)))
        http_reply_empty(r, 204);
}

/* POST /webhooks/{id}/actions/test: a webhook.test event, sent like any
 * other: 202 with its id (the delivery log shows how it went). */
void api_webhooks_test(struct http_request *r)
{
    PGresult *res;
    enum db_status s;
    if (!api_id_call_now(r, db_webhook_test, &res, &s))
        return;
    if (refused(r, s))
        return;
    json_t *body = json_pack("{ss}", "eventId", PQgetvalue(res, 0, 0));
    PQclear(res);
    http_reply_json_steal(r, 202, body);
}

void api_webhooks_deliveries(struct http_request *r)
{
    const char *id = api_id_param(r, 0);
    if (id == NULL)
        return;
    struct db_page page;
    if (!api_page_parse(r, &page))
        return;
    PGresult *res = NULL;
    enum db_status s = db_webhook_deliveries(http_app(r)->pool, id, &page, &res);
    if (refused(r, s))
        return;
    api_reply_list(r, res, &page, &api_delivery_shape, NULL);
}

/* /scim/v2/Users (and, in scim_groups.c, /scim/v2/Groups): SCIM 2.0 provisioning (RFC 7643,
 * RFC 7644) of the users of one user directory (ALLOT_SCIM_DIRECTORY) and
 * of groups, whose members are what the rules match.  The router admits the
 * scim role (and admin) here and nowhere else; every error under /scim/v2
 * takes SCIM's shape (scim_meta.c).  A handler parses and validates, makes
 * one call of the engine (a PATCH of a user reads the user first and writes
 * over the version it read, again if another change came between), and
 * replies once, as application/scim+json. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "allot/api.h"
#include "allot/app.h"
#include "allot/config.h"
#include "allot/log.h"
#include "allot/scim.h"
#include "allot/scim_filter.h"
#include "allot/store.h"
#include "scim_http.h"

/* A PATCH of a user that keeps meeting another change gives up after this
 * many reads. */
#define PATCH_TRIES 5

const char *scim_directory(struct http_request *r)
{
    return http_app(r)->cfg->scim_directory;
}

void scim_fail(struct http_request *r, enum http_error e, const char *scim_type,
                      const char *detail)
{
    json_t *extra = json_object();
    if (scim_type != NULL)
        json_object_set_new(extra, "scimType", json_string(scim_type));
    http_reply_error_extra_steal(r, e, detail, extra);
}

void scim_reply_fault(struct http_request *r, const struct scim_fault *f)
{
    scim_fail(r, HTTP_ERR_BAD_REQUEST, f->scim_type, f->detail);
}

/* The base of meta.location: the scheme allotd serves and the Host the
 * client named (a host that is not plain text gives a relative location). */
static void base_url(struct http_request *r, char *out, size_t len)
{
    const char *host = http_header(r, "Host");
    bool plain = host != NULL && host[0] != '\0' && strlen(host) < 200;
    for (const char *c = host; plain && *c != '\0'; c++)
        plain = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
                (*c >= '0' && *c <= '9') || *c == '.' || *c == '-' || *c == ':' || *c == '[' ||
                *c == ']';
    if (!plain) {
        out[0] = '\0';
        return;
    }
    snprintf(out, len, "%s://%s", http_app(r)->cfg->tls_cert ? "https" : "http", host);
}

/* Adds meta.location to a resource of kind ("Users", "Groups"). */
static void locate(struct http_request *r, json_t *res, const char *kind, const char *base)
{
    json_t *meta = json_object_get(res, "meta");
    const char *id = json_string_value(json_object_get(res, "id"));
    if (!json_is_object(meta) || id == NULL)
        return;
    char url[512];
    snprintf(url, sizeof url, "%s/scim/v2/%s/%s", base, kind, id);
    json_object_set_new(meta, "location", json_string(url));
    (void)r;
}

static void reply_scim_steal(struct http_request *r, unsigned status, json_t *body)
{
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    if (text == NULL) {
        http_reply_error(r, HTTP_ERR_INTERNAL, NULL, NULL);
        return;
    }
    http_reply_text_steal(r, status, SCIM_CONTENT_TYPE, text, strlen(text));
}

/* A resource the engine answered (column col of row 0): 201 with Location
 * and ETag, or status. */
static void reply_resource(struct http_request *r, unsigned status, PGresult *res, int col,
                           const char *kind)
{
    json_error_t err;
    json_t *body = json_loads(PQgetvalue(res, 0, col), 0, &err);
    PQclear(res);
    if (body == NULL) {
        log_error(http_corr_id(r), "the engine answered a resource that is not JSON: %s", err.text);
        http_reply_error(r, HTTP_ERR_INTERNAL, NULL, NULL);
        return;
    }
    char base[256];
    base_url(r, base, sizeof base);
    locate(r, body, kind, base);
    json_t *meta = json_object_get(body, "meta");
    const char *version = json_string_value(json_object_get(meta, "version"));
    if (version != NULL)
        http_add_header(r, "ETag", version);
    if (status == 201)
        http_add_header(r, "Location", json_string_value(json_object_get(meta, "location")));
    reply_scim_steal(r, status, body);
}

/* The reply to a decision: the resource, or the refusal of its outcome. */
void scim_reply_decision(struct http_request *r, enum db_status s, PGresult *res,
                           unsigned status, const char *kind)
{
    if (s != DB_OK) {
        api_reply_db(r, s);
        return;
    }
    enum api_outcome o = api_outcome_of(res);
    if (o == API_OUTCOME_ok) {
        reply_resource(r, status, res, 1, kind);
        return;
    }
    PQclear(res);
    api_reply_refusal(r, o, NULL);
}

void scim_reply_empty_decision(struct http_request *r, enum db_status s, PGresult *res)
{
    if (s != DB_OK) {
        api_reply_db(r, s);
        return;
    }
    enum api_outcome o = api_outcome_of(res);
    PQclear(res);
    if (o == API_OUTCOME_ok)
        http_reply_empty(r, 204);
    else
        api_reply_refusal(r, o, NULL);
}

/* ---- lists ---------------------------------------------------------------- */

/* startIndex (below 1 is 1) and count (below 0 is 0, above the maximum the
 * maximum), RFC 7644 section 3.4.2.4. */
static bool page_parse(struct http_request *r, struct page *p)
{
    p->start = 1;
    p->count = 100;
    const char *names[] = {"startIndex", "count"};
    long *into[] = {&p->start, &p->count};
    for (size_t i = 0; i < 2; i++) {
        const char *v = http_query(r, names[i]);
        if (v == NULL)
            continue;
        char *end = NULL;
        long n = strtol(v, &end, 10);
        if (v[0] == '\0' || *end != '\0' || n > 1000000000L || n < -1000000000L) {
            char why[96];
            snprintf(why, sizeof why, "%s must be an integer", names[i]);
            scim_fail(r, HTTP_ERR_BAD_REQUEST, "invalidValue", why);
            return false;
        }
        *into[i] = n;
    }
    if (p->start < 1)
        p->start = 1;
    if (p->count < 0)
        p->count = 0;
    if (p->count > SCIM_MAX_RESULTS)
        p->count = SCIM_MAX_RESULTS;
    return true;
}

static bool filter_parse(struct http_request *r, unsigned allowed, struct scim_filter *f)
{
    const char *text = http_query(r, "filter");
    if (text == NULL) {
        memset(f, 0, sizeof *f);
        return true;
    }
    const char *why = scim_filter_parse(text, allowed, f);
    if (why != NULL) {
        char detail[200];
        snprintf(detail, sizeof detail, "filter: %s", why);
        scim_fail(r, HTTP_ERR_BAD_REQUEST, "invalidFilter", detail);
        return false;
    }
    return true;
}

/* A ListResponse of the list statement's row (total, resources). */
static void reply_list(struct http_request *r, PGresult *res, const struct page *p,
                       const char *kind)
{
    json_error_t err;
    json_t *items = json_loads(PQgetvalue(res, 0, 1), 0, &err);
    long long total = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    if (items == NULL) {
        http_reply_error(r, HTTP_ERR_INTERNAL, NULL, NULL);
        return;
    }
    char base[256];
    base_url(r, base, sizeof base);
    size_t i;
    json_t *item;
    json_array_foreach(items, i, item) locate(r, item, kind, base);
    json_t *body = json_pack("{s:[s], s:I, s:I, s:I, s:o}", "schemas", SCIM_MSG_LIST,
                             "totalResults", (json_int_t)total, "startIndex", (json_int_t)p->start,
                             "itemsPerPage", (json_int_t)json_array_size(items), "Resources", items);
    reply_scim_steal(r, 200, body);
}

static void reply_no_match(struct http_request *r, const struct page *p)
{
    reply_scim_steal(r, 200, json_pack("{s:[s], s:i, s:I, s:i, s:[]}", "schemas", SCIM_MSG_LIST,
                                       "totalResults", 0, "startIndex", (json_int_t)p->start,
                                       "itemsPerPage", 0, "Resources"));
}

/* An id filter that is no UUID names nothing. */
static bool id_filter_ok(const struct scim_filter *f)
{
    return f->value[SCIM_ATTR_ID] == NULL || api_is_uuid(f->value[SCIM_ATTR_ID]);
}

/* ---- users ---------------------------------------------------------------- */

/* The names allot owns in a user (the rest is kept as given), and the one it
 * never keeps (a password is no business of allot's, and never stored). */
static const char *const user_owned[] = {"schemas", "id", "meta", "groups", "userName",
                                         "externalId", "active", "displayName", "password"};

/* A text attribute: absent or null (NULL), or a string of 1..255 characters. */
bool scim_text_attr(const json_t *res, const char *name, bool required, const char **out,
                      struct scim_fault *f)
{
    const json_t *v = scim_get(res, name, NULL);
    *out = NULL;
    if (v == NULL || json_is_null(v)) {
        if (!required)
            return true;
        f->scim_type = "invalidValue";
        snprintf(f->detail, sizeof f->detail, "%s is required", name);
        return false;
    }
    const char *why = json_is_string(v) ? jspec_text_ok(json_string_value(v), 1, TEXT_MAX)
                                        : "must be a string";
    if (why != NULL) {
        f->scim_type = "invalidValue";
        snprintf(f->detail, sizeof f->detail, "%s %s", name, why);
        return false;
    }
    *out = json_string_value(v);
    return true;
}

/* A user resource (a request's, or one a PATCH made) as the engine takes
 * it.  attrs (malloc'd JSON) holds the attributes allot does not own. */
static bool user_write(const json_t *res, struct scim_user_write *w, char **attrs,
                       struct scim_fault *f)
{
    memset(w, 0, sizeof *w);
    *attrs = NULL;
    if (!json_is_object(res)) {
        f->scim_type = "invalidSyntax";
        snprintf(f->detail, sizeof f->detail, "A user must be a JSON object");
        return false;
    }
    if (!scim_text_attr(res, "userName", true, &w->user_name, f) ||
        !scim_text_attr(res, "externalId", false, &w->external_id, f))
        return false;
    const json_t *display = scim_get(res, "displayName", NULL);
    if (display != NULL && !json_is_null(display)) {
        const char *why = json_is_string(display)
                              ? jspec_text_ok(json_string_value(display), 0, TEXT_MAX)
                              : "must be a string";
        if (why != NULL) {
            f->scim_type = "invalidValue";
            snprintf(f->detail, sizeof f->detail, "displayName %s", why);
            return false;
        }
        w->display = json_string_value(display);
    }
    w->active = true;
    const json_t *active = scim_get(res, "active", NULL);
    if (active != NULL && !json_is_null(active) && !scim_bool(active, &w->active)) {
        f->scim_type = "invalidValue";
        snprintf(f->detail, sizeof f->detail, "active must be true or false");
        return false;
    }
    json_t *rest = json_deep_copy(res);
    for (size_t i = 0; i < sizeof user_owned / sizeof user_owned[0]; i++) {
        const char *key = NULL;
        while (scim_get(rest, user_owned[i], &key) != NULL) {
            char copy[64];
            snprintf(copy, sizeof copy, "%s", key);
            json_object_del(rest, copy);
        }
    }
    *attrs = json_dumps(rest, JSON_COMPACT);
    json_decref(rest);
    w->attrs_json = *attrs;
    return *attrs != NULL;
}

/* What both lists share: the page and the filter (of the attributes a
 * list allows), and a filter that matches nothing answered at once.  False
 * when the reply is made. */
bool scim_list_begin(struct http_request *r, unsigned allowed, struct page *p,
                       struct scim_filter *f)
{
    if (!page_parse(r, p) || !filter_parse(r, allowed, f))
        return false;
    if (f->none || !id_filter_ok(f)) {
        scim_filter_free(f);
        reply_no_match(r, p);
        return false;
    }
    return true;
}

void scim_list_end(struct http_request *r, enum db_status s, PGresult *res,
                     const struct page *p, const char *kind)
{
    if (s != DB_OK)
        api_reply_db(r, s);
    else
        reply_list(r, res, p, kind);
}

void api_scim_users_list(struct http_request *r)
{
    struct page p;
    struct scim_filter f;
    if (!scim_list_begin(r, SCIM_ATTR_BIT(SCIM_ATTR_ID) | SCIM_ATTR_BIT(SCIM_ATTR_USER_NAME) |
                           SCIM_ATTR_BIT(SCIM_ATTR_EXTERNAL_ID), &p, &f))
        return;
    PGresult *res = NULL;
    enum db_status s = db_scim_user_list(http_app(r)->pool, scim_directory(r), f.value[SCIM_ATTR_ID],
                                         f.value[SCIM_ATTR_USER_NAME],
                                         f.value[SCIM_ATTR_EXTERNAL_ID], p.start - 1, p.count,
                                         &res);
    scim_filter_free(&f);
    scim_list_end(r, s, res, &p, "Users");
}

static void save_user(struct http_request *r, const char *id, const json_t *res, unsigned status)
{
    struct scim_user_write w;
    struct scim_fault f = {0};
    char *attrs = NULL;
    if (!user_write(res, &w, &attrs, &f)) {
        free(attrs);
        scim_reply_fault(r, &f);
        return;
    }
    w.id = id;
    char now[40];
    app_wall_pg(now);
    PGresult *out = NULL;
    enum db_status s = db_scim_user_save(http_app(r)->pool, scim_directory(r), &w, now, &out);
    free(attrs);
    api_license_changed(http_app(r)); /* a deactivation may release units */
    scim_reply_decision(r, s, out, status, "Users");
}

void api_scim_users_create(struct http_request *r)
{
    save_user(r, NULL, http_body(r), 201);
}

void api_scim_users_replace(struct http_request *r)
{
    const char *id = api_id_param(r, 0);
    if (id != NULL)
        save_user(r, id, http_body(r), 200);
}

void api_scim_users_get(struct http_request *r)
{
    const char *id = api_id_param(r, 0);
    if (id == NULL)
        return;
    PGresult *res = NULL;
    enum db_status s = db_scim_user_get(http_app(r)->pool, scim_directory(r), id, &res);
    if (s == DB_NOT_FOUND) {
        api_reply_refusal(r, API_OUTCOME_user_not_found, NULL);
        return;
    }
    scim_reply_decision(r, s, res, 200, "Users");
}

void api_scim_users_patch(struct http_request *r)
{
    const char *id = api_id_param(r, 0);
    if (id == NULL)
        return;
    struct app *a = http_app(r);
    for (int attempt = 0;; attempt++) {
        PGresult *cur = NULL;
        enum db_status s = db_scim_user_get(a->pool, scim_directory(r), id, &cur);
        if (s == DB_NOT_FOUND) {
            api_reply_refusal(r, API_OUTCOME_user_not_found, NULL);
            return;
        }
        if (s != DB_OK) {
            api_reply_db(r, s);
            return;
        }
        json_t *res = json_loads(PQgetvalue(cur, 0, 1), 0, NULL);
        char version[32];
        snprintf(version, sizeof version, "%s", PQgetvalue(cur, 0, 2));
        PQclear(cur);
        struct scim_fault f = {0};
        struct scim_user_write w;
        char *attrs = NULL;
        if (res == NULL || !scim_patch_user(res, http_body(r), &f) ||
            !user_write(res, &w, &attrs, &f)) {
            json_decref(res);
            free(attrs);
            if (f.scim_type == NULL && f.detail[0] == '\0')
                http_reply_error(r, HTTP_ERR_INTERNAL, NULL, NULL);
            else
                scim_reply_fault(r, &f);
            return;
        }
        w.id = id;
        w.version = version;
        char now[40];
        app_wall_pg(now);
        PGresult *out = NULL;
        s = db_scim_user_save(a->pool, scim_directory(r), &w, now, &out);
        free(attrs);
        json_decref(res);
        if (s == DB_OK && api_outcome_of(out) == API_OUTCOME_user_changed &&
            attempt + 1 < PATCH_TRIES) {
            PQclear(out);
            continue; /* another change came between: read it and apply the operations again */
        }
        api_license_changed(a);
        scim_reply_decision(r, s, out, 200, "Users");
        return;
    }
}

void api_scim_users_delete(struct http_request *r)
{
    const char *id = api_id_param(r, 0);
    if (id == NULL)
        return;
    char now[40];
    app_wall_pg(now);
    PGresult *res = NULL;
    enum db_status s = db_scim_user_delete(http_app(r)->pool, scim_directory(r), id, now, &res);
    api_license_changed(http_app(r));
    scim_reply_empty_decision(r, s, res);
}


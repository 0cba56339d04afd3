/* /scim/v2/Users and /scim/v2/Groups: SCIM 2.0 provisioning (RFC 7643,
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

#define TEXT_MAX 255
/* A PATCH of a user that keeps meeting another change gives up after this
 * many reads. */
#define PATCH_TRIES 5

static const char *directory(struct http_request *r)
{
    return http_app(r)->cfg->scim_directory;
}

static void scim_fail(struct http_request *r, enum http_error e, const char *scim_type,
                      const char *detail)
{
    json_t *extra = json_object();
    if (scim_type != NULL)
        json_object_set_new(extra, "scimType", json_string(scim_type));
    http_reply_error_extra_steal(r, e, detail, extra);
}

static void reply_fault(struct http_request *r, const struct scim_fault *f)
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
static void reply_decision(struct http_request *r, enum db_status s, PGresult *res,
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

static void reply_empty_decision(struct http_request *r, enum db_status s, PGresult *res)
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

struct page {
    long start; /* SCIM's startIndex, from 1 */
    long count;
};

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
static bool text_attr(const json_t *res, const char *name, bool required, const char **out,
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
    if (!text_attr(res, "userName", true, &w->user_name, f) ||
        !text_attr(res, "externalId", false, &w->external_id, f))
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
static bool list_begin(struct http_request *r, unsigned allowed, struct page *p,
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

static void list_end(struct http_request *r, enum db_status s, PGresult *res,
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
    if (!list_begin(r, SCIM_ATTR_BIT(SCIM_ATTR_ID) | SCIM_ATTR_BIT(SCIM_ATTR_USER_NAME) |
                           SCIM_ATTR_BIT(SCIM_ATTR_EXTERNAL_ID), &p, &f))
        return;
    PGresult *res = NULL;
    enum db_status s = db_scim_user_list(http_app(r)->pool, directory(r), f.value[SCIM_ATTR_ID],
                                         f.value[SCIM_ATTR_USER_NAME],
                                         f.value[SCIM_ATTR_EXTERNAL_ID], p.start - 1, p.count,
                                         &res);
    scim_filter_free(&f);
    list_end(r, s, res, &p, "Users");
}

static void save_user(struct http_request *r, const char *id, const json_t *res, unsigned status)
{
    struct scim_user_write w;
    struct scim_fault f = {0};
    char *attrs = NULL;
    if (!user_write(res, &w, &attrs, &f)) {
        free(attrs);
        reply_fault(r, &f);
        return;
    }
    w.id = id;
    char now[40];
    app_wall_pg(now);
    PGresult *out = NULL;
    enum db_status s = db_scim_user_save(http_app(r)->pool, directory(r), &w, now, &out);
    free(attrs);
    api_license_changed(http_app(r)); /* a deactivation may release units */
    reply_decision(r, s, out, status, "Users");
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
    enum db_status s = db_scim_user_get(http_app(r)->pool, directory(r), id, &res);
    if (s == DB_NOT_FOUND) {
        api_reply_refusal(r, API_OUTCOME_user_not_found, NULL);
        return;
    }
    reply_decision(r, s, res, 200, "Users");
}

void api_scim_users_patch(struct http_request *r)
{
    const char *id = api_id_param(r, 0);
    if (id == NULL)
        return;
    struct app *a = http_app(r);
    for (int attempt = 0;; attempt++) {
        PGresult *cur = NULL;
        enum db_status s = db_scim_user_get(a->pool, directory(r), id, &cur);
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
                reply_fault(r, &f);
            return;
        }
        w.id = id;
        w.version = version;
        char now[40];
        app_wall_pg(now);
        PGresult *out = NULL;
        s = db_scim_user_save(a->pool, directory(r), &w, now, &out);
        free(attrs);
        json_decref(res);
        if (s == DB_OK && api_outcome_of(out) == API_OUTCOME_user_changed &&
            attempt + 1 < PATCH_TRIES) {
            PQclear(out);
            continue; /* another change came between: read it and apply the operations again */
        }
        api_license_changed(a);
        reply_decision(r, s, out, 200, "Users");
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
    enum db_status s = db_scim_user_delete(http_app(r)->pool, directory(r), id, now, &res);
    api_license_changed(http_app(r));
    reply_empty_decision(r, s, res);
}

/* ---- groups ---------------------------------------------------------------- */

/* Whether a read of groups shows members: not when the client asks
 * excludedAttributes=members (Entra does, when it looks a group up). */
static bool with_members(struct http_request *r)
{
    const char *ex = http_query(r, "excludedAttributes");
    if (ex == NULL)
        return true;
    for (const char *p = ex; *p != '\0';) {
        size_t n = strcspn(p, ",");
        while (n > 0 && *p == ' ') {
            p++;
            n--;
        }
        if ((n == 7 && strncasecmp(p, "members", 7) == 0) ||
            (n == strlen(SCIM_SCHEMA_GROUP ":members") &&
             strncasecmp(p, SCIM_SCHEMA_GROUP ":members", n) == 0))
            return false;
        p += n;
        if (*p == ',')
            p++;
    }
    return true;
}

/* A list of user ids as a PostgreSQL uuid[] literal into out (malloc'd);
 * false (a refusal replied) when one is no user id. */
static bool uuid_array(struct http_request *r, const json_t *ids, char **out)
{
    *out = NULL;
    if (ids == NULL)
        return true;
    struct buf b;
    buf_init(&b, HTTP_BODY_LIMIT);
    buf_lit(&b, "{");
    size_t i;
    const json_t *v;
    json_array_foreach(ids, i, v) {
        const char *id = json_string_value(v);
        if (!api_is_uuid(id)) {
            buf_free(&b);
            api_reply_refusal(r, API_OUTCOME_member_not_found, NULL);
            return false;
        }
        buf_printf(&b, "%s%s", i > 0 ? "," : "", id);
    }
    buf_lit(&b, "}");
    size_t len;
    *out = b.overflow ? NULL : buf_steal(&b, &len);
    buf_free(&b);
    if (*out == NULL) {
        http_reply_error(r, HTTP_ERR_INTERNAL, NULL, NULL);
        return false;
    }
    return true;
}

static void save_group(struct http_request *r, struct scim_group_write *w, const json_t *replace,
                       const json_t *add, const json_t *remove, unsigned status)
{
    char *members = NULL, *plus = NULL, *minus = NULL;
    if (uuid_array(r, replace, &members) &&
        uuid_array(r, json_array_size(add) > 0 ? add : NULL, &plus) &&
        uuid_array(r, json_array_size(remove) > 0 ? remove : NULL, &minus)) {
        w->members = members;
        w->add = plus;
        w->remove = minus;
        char now[40];
        app_wall_pg(now);
        PGresult *out = NULL;
        enum db_status s = db_scim_group_save(http_app(r)->pool, directory(r), w, now, &out);
        reply_decision(r, s, out, status, "Groups");
    }
    free(members);
    free(plus);
    free(minus);
}

/* POST and PUT: displayName, externalId and the whole member list. */
static void write_group(struct http_request *r, const char *id, unsigned status)
{
    const json_t *body = http_body(r);
    struct scim_fault f = {0};
    struct scim_group_write w = {.id = id, .set_external = true};
    if (!json_is_object(body)) {
        scim_fail(r, HTTP_ERR_BAD_REQUEST, "invalidSyntax", "A group must be a JSON object");
        return;
    }
    if (!text_attr(body, "displayName", true, &w.display, &f) ||
        !text_attr(body, "externalId", false, &w.external_id, &f)) {
        reply_fault(r, &f);
        return;
    }
    /* the members through the same reading as a PATCH's replace */
    json_t *patch = json_pack("{s:[{s:s, s:s, s:O}]}", "Operations", "op", "replace", "path",
                              "members", "value",
                              scim_get(body, "members", NULL) ? scim_get(body, "members", NULL)
                                                              : json_null());
    struct scim_group_patch g;
    bool ok = scim_patch_group(patch, &g, &f);
    json_decref(patch);
    if (!ok)
        reply_fault(r, &f);
    else
        save_group(r, &w, g.replace, NULL, NULL, status);
    scim_group_patch_free(&g);
}

void api_scim_groups_create(struct http_request *r)
{
    write_group(r, NULL, 201);
}

void api_scim_groups_replace(struct http_request *r)
{
    const char *id = api_id_param(r, 0);
    if (id != NULL)
        write_group(r, id, 200);
}

void api_scim_groups_patch(struct http_request *r)
{
    const char *id = api_id_param(r, 0);
    if (id == NULL)
        return;
    struct scim_fault f = {0};
    struct scim_group_patch g;
    if (!scim_patch_group(http_body(r), &g, &f)) {
        scim_group_patch_free(&g);
        reply_fault(r, &f);
        return;
    }
    if (g.display != NULL && jspec_text_ok(g.display, 1, TEXT_MAX) != NULL) {
        scim_group_patch_free(&g);
        scim_fail(r, HTTP_ERR_BAD_REQUEST, "invalidValue", "displayName must be 1 to 255 characters");
        return;
    }
    struct scim_group_write w = {.id = id, .display = g.display, .set_external = g.set_external,
                                 .external_id = g.external_id};
    save_group(r, &w, g.replace, g.add, g.remove, 200);
    scim_group_patch_free(&g);
}

void api_scim_groups_get(struct http_request *r)
{
    const char *id = api_id_param(r, 0);
    if (id == NULL)
        return;
    PGresult *res = NULL;
    enum db_status s = db_scim_group_get(http_app(r)->pool, directory(r), id, with_members(r), &res);
    if (s == DB_NOT_FOUND) {
        api_reply_refusal(r, API_OUTCOME_group_not_found, NULL);
        return;
    }
    reply_decision(r, s, res, 200, "Groups");
}

void api_scim_groups_list(struct http_request *r)
{
    struct page p;
    struct scim_filter f;
    if (!list_begin(r, SCIM_ATTR_BIT(SCIM_ATTR_ID) | SCIM_ATTR_BIT(SCIM_ATTR_DISPLAY_NAME) |
                           SCIM_ATTR_BIT(SCIM_ATTR_EXTERNAL_ID), &p, &f))
        return;
    PGresult *res = NULL;
    enum db_status s = db_scim_group_list(http_app(r)->pool, directory(r), f.value[SCIM_ATTR_ID],
                                          f.value[SCIM_ATTR_DISPLAY_NAME],
                                          f.value[SCIM_ATTR_EXTERNAL_ID], with_members(r),
                                          p.start - 1, p.count, &res);
    scim_filter_free(&f);
    list_end(r, s, res, &p, "Groups");
}

void api_scim_groups_delete(struct http_request *r)
{
    const char *id = api_id_param(r, 0);
    if (id == NULL)
        return;
    char now[40];
    app_wall_pg(now);
    PGresult *res = NULL;
    enum db_status s = db_scim_group_delete(http_app(r)->pool, directory(r), id, now, &res);
    reply_empty_decision(r, s, res);
}

/* /scim/v2/Groups: groups by displayName, whose members are what the rules
 * match (a member's users.groups names the group).  scim.c has the users and
 * what both resources share (scim_http.h). */
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
        enum db_status s = db_scim_group_save(http_app(r)->pool, scim_directory(r), w, now, &out);
        scim_reply_decision(r, s, out, status, "Groups");
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
    if (!scim_text_attr(body, "displayName", true, &w.display, &f) ||
        !scim_text_attr(body, "externalId", false, &w.external_id, &f)) {
        scim_reply_fault(r, &f);
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
        scim_reply_fault(r, &f);
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
        scim_reply_fault(r, &f);
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
    enum db_status s = db_scim_group_get(http_app(r)->pool, scim_directory(r), id, with_members(r), &res);
    if (s == DB_NOT_FOUND) {
        api_reply_refusal(r, API_OUTCOME_group_not_found, NULL);
        return;
    }
    scim_reply_decision(r, s, res, 200, "Groups");
}

void api_scim_groups_list(struct http_request *r)
{
    struct page p;
    struct scim_filter f;
    if (!scim_list_begin(r, SCIM_ATTR_BIT(SCIM_ATTR_ID) | SCIM_ATTR_BIT(SCIM_ATTR_DISPLAY_NAME) |
                           SCIM_ATTR_BIT(SCIM_ATTR_EXTERNAL_ID), &p, &f))
        return;
    PGresult *res = NULL;
    enum db_status s = db_scim_group_list(http_app(r)->pool, scim_directory(r), f.value[SCIM_ATTR_ID],
                                          f.value[SCIM_ATTR_DISPLAY_NAME],
                                          f.value[SCIM_ATTR_EXTERNAL_ID], with_members(r),
                                          p.start - 1, p.count, &res);
    scim_filter_free(&f);
    scim_list_end(r, s, res, &p, "Groups");
}

void api_scim_groups_delete(struct http_request *r)
{
    const char *id = api_id_param(r, 0);
    if (id == NULL)
        return;
    char now[40];
    app_wall_pg(now);
    PGresult *res = NULL;
    enum db_status s = db_scim_group_delete(http_app(r)->pool, scim_directory(r), id, now, &res);
    scim_reply_empty_decision(r, s, res);
}

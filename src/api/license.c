/* /license: the site license as a console shows it, and applying a key.
 * Status, disabledAt and availability come from the rules of src/core. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "allot/api.h"
#include "allot/app.h"
#include "allot/license.h"
#include "allot/log.h"
#include "allot/rules.h"
#include "allot/store.h"
#include "allot/sync.h"
#include "allot/sync_protocol.h"

static int64_t time_member(const json_t *obj, const char *name)
{
    int64_t t = 0;
    const char *text = json_string_value(json_object_get(obj, name));
    return text != NULL && lic_time_parse(text, &t) ? t : 0;
}

static int64_t int_member(const json_t *obj, const char *name)
{
    return json_integer_value(json_object_get(obj, name));
}

static json_t *default_parameters(void)
{
    struct lic_license lic;
    lic_license_init(&lic);
    json_t *canonical = lic_to_json(&lic);
    json_t *params = json_incref(json_object_get(canonical, "parameters"));
    json_decref(canonical);
    return params;
}

/* An allotment or the tokens with `available` added (null = unbounded). */
static void add_available(json_t *a, int64_t units, int64_t overage, int64_t used,
                          int64_t quarantined)
{
    int64_t avail = core_allotment_available(units, overage, used, quarantined);
    json_object_set_new(a, "available", avail == INT64_MAX ? json_null() : json_integer(avail));
}

json_t *api_license_view_steal(json_t *raw, int64_t now)
{
    if (raw == NULL) {
        return json_pack("{s:s, s:n, s:n, s:n, s:n, s:n, s:n, s:n, s:n, s:n, s:n, s:n,"
                         " s:[], s:n, s:o}",
                         "status", "missing", "licenseNumber", "organization", "product",
                         "validFrom", "validTo", "issuedAt", "lastVerifiedAt",
                         "lastSyncAttemptAt", "lastSyncError", "disabledAt", "conversionDate",
                         "allotments", "tokens", "parameters", default_parameters());
    }
    json_t *params = json_object_get(raw, "parameters");
    struct core_params p = core_params_default();
    p.offline_grace = int_member(params, "offlineGraceSeconds");
    int64_t verified = time_member(raw, "lastVerifiedAt");
    enum core_license_state st = core_license_state_at(
        true, json_is_true(json_object_get(raw, "revoked")), time_member(raw, "validTo"), verified,
        now, &p);
    json_t *view = json_object();
    json_object_set_new(view, "status", json_string(core_license_state_name(st)));
    json_object_update(view, raw);
    json_object_del(view, "revoked");
    char disabled[LIC_TIME_BUFSZ];
    lic_time_format(core_license_disabled_at(verified, &p), disabled, sizeof disabled);
    json_object_set_new(view, "disabledAt", json_string(disabled));

    json_t *shown = json_array();
    size_t i;
    json_t *a;
    json_array_foreach(json_object_get(raw, "allotments"), i, a) {
        if (json_is_null(json_object_get(a, "units")))
            continue; /* not in this license */
        json_t *copy = json_deep_copy(a);
        add_available(copy, int_member(a, "units"), int_member(a, "overage"),
                      int_member(a, "used"), int_member(a, "quarantined"));
        json_array_append_new(shown, copy);
    }
    json_object_set_new(view, "allotments", shown);
    json_t *tokens = json_deep_copy(json_object_get(raw, "tokens"));
    add_available(tokens, int_member(tokens, "total"), 0,
                  int_member(tokens, "allocated") + int_member(tokens, "used"),
                  int_member(tokens, "quarantined"));
    json_object_set_new(view, "tokens", tokens);
    json_decref(raw);
    return view;
}

/* Replies 200 with the license as it is now. */
void api_reply_license(struct http_request *r)
{
    char now[40];
    app_wall_pg(now);
    json_t *raw = NULL;
    enum db_status s = db_license_raw(http_app(r)->pool, now, &raw);
    if (s != DB_OK) {
        api_reply_db(r, s);
        return;
    }
    http_reply_json_steal(r, 200, api_license_view_steal(raw, app_wall_s()));
}

void api_license_get(struct http_request *r)
{
    api_reply_license(r);
}

static const struct jspec put_spec[] = {
    {"key", JS_STRING, true, 1, LIC_JWS_MAX, 0},
};

void api_license_put(struct http_request *r)
{
    json_t *v[1];
    if (!api_body(r, put_spec, 1, v))
        return;
    struct app *a = http_app(r);
    if (a->authority_key == NULL) {
        http_reply_error(r, HTTP_ERR_INVALID_LICENSE, "key",
                         "Cannot verify license keys: ALLOT_AUTHORITY_PUBLIC_KEY is not configured");
        return;
    }
    struct lic_license lic;
    char why[256] = "";
    enum lic_result res = lic_verify_key(json_string_value(v[0]), a->authority_key, app_wall_s(),
                                         &lic, NULL, why, sizeof why);
    if (res != LIC_OK) {
        log_info(http_corr_id(r), "license key refused: %s", why);
        http_reply_error(r, HTTP_ERR_INVALID_LICENSE, "key", "The license key was refused: %s", why);
        return;
    }
    json_t *canonical = lic_to_json(&lic);
    char *definition = canonical ? json_dumps(canonical, JSON_COMPACT) : NULL;
    json_decref(canonical);
    char now[40];
    app_wall_pg(now);
    enum db_status s = definition ? db_license_apply(a->pool, json_string_value(v[0]), definition, now)
                                  : DB_ERROR;
    free(definition);
    if (s == DB_CONFLICT) {
        http_reply_error(r, HTTP_ERR_INVALID_LICENSE, "key",
                         "The license key was refused: a newer key of license %s was applied "
                         "before, and an older one never rolls a license back",
                         lic.license_number);
        return;
    }
    if (s != DB_OK) {
        api_reply_db(r, s);
        return;
    }
    log_info(http_corr_id(r), "license %s applied", lic.license_number);
    if (a->sync != NULL && a->cfg->authority_url != NULL) {
        char sync_why[256];
        sync_now(a->sync, sync_why, sizeof sync_why); /* its outcome shows in the license */
    }
    api_reply_license(r);
}

/* The canonical definition (lic_to_json) of a key the authority signed. */
static char *definition_of(struct app *a, const char *key, char *why, size_t whylen)
{
    struct lic_license lic;
    enum lic_result res = lic_verify_key(key, a->authority_key, app_wall_s(), &lic, NULL, why, whylen);
    if (res != LIC_OK && res != LIC_EXPIRED)
        return NULL;
    json_t *canonical = lic_to_json(&lic);
    char *text = canonical ? json_dumps(canonical, JSON_COMPACT) : NULL;
    json_decref(canonical);
    return text;
}

static const struct jspec definition_spec[] = {
    {"definition", JS_STRING, true, 1, 2 * LIC_JWS_MAX, 0},
};

void api_license_definition(struct http_request *r)
{
    json_t *v[1];
    if (!api_body(r, definition_spec, 1, v))
        return;
    struct app *a = http_app(r);
    if (a->authority_key == NULL) {
        http_reply_error(r, HTTP_ERR_INVALID_LICENSE, "definition",
                         "Cannot verify definitions: ALLOT_AUTHORITY_PUBLIC_KEY is not configured");
        return;
    }
    struct sync_reply doc = {0};
    char why[256] = "";
    if (definition_doc_verify(json_string_value(v[0]), a->authority_key, &doc, why, sizeof why) !=
        LIC_OK) {
        http_reply_error(r, HTTP_ERR_INVALID_LICENSE, "definition", "The definition was refused: %s", why);
        return;
    }
    char *definition = definition_of(a, doc.definition, why, sizeof why);
    if (definition == NULL) {
        sync_reply_free(&doc);
        http_reply_error(r, HTTP_ERR_INVALID_LICENSE, "definition", "The definition was refused: %s", why);
        return;
    }
    char now[40], verified[24];
    app_wall_pg(now);
    snprintf(verified, sizeof verified, "%lld", (long long)doc.verified_at);
    enum db_status s = db_definition_apply(a->pool, now, doc.definition, definition, verified,
                                           doc.revoked ? "true" : "false");
    sync_reply_free(&doc);
    free(definition);
    if (s != DB_OK) {
        api_reply_db(r, s);
        return;
    }
    log_info(http_corr_id(r), "offline license definition applied");
    api_reply_license(r);
}

void api_license_sync(struct http_request *r)
{
    struct app *a = http_app(r);
    char why[256] = "no sync thread";
    enum sync_outcome o = a->sync ? sync_now(a->sync, why, sizeof why) : SYNC_OFFLINE;
    switch (o) {
    case SYNC_OK:
        api_reply_license(r);
        return;
    case SYNC_NO_LICENSE:
        http_reply_error(r, HTTP_ERR_NO_LICENSE, NULL, "No license is applied: nothing to sync");
        return;
    case SYNC_DB:
        api_reply_db(r, DB_UNAVAILABLE);
        return;
    case SYNC_FAILED:
    case SYNC_OFFLINE:
    case SYNC_SKIPPED:
        break;
    }
    http_reply_error(r, HTTP_ERR_BACKEND_UNAVAILABLE, NULL, "The license sync failed: %s", why);
}

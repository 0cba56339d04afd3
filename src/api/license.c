/* /license: the site license as a console shows it, applying a key or an
 * air-gapped definition, and a sync on demand.
 *
 * The view (status, disabledAt, the allotments and what is left of them)
 * is the engine's (sql/license_view.sql): its status comes from the same
 * function session start asks.  It changes rarely, so each instance keeps it
 * in memory, serialised, until either
 *   - a change is notified (NOTIFY allot_license, sent by triggers on the
 *     license, allocations, rules, login passes and capacity minutes: every
 *     instance drops its copy at once), or made by this instance, or
 *   - time alone changes it: the view says when (changes_at: the license
 *     goes stale or expires, a quarantine ends, a login pass returns, a
 *     month starts).
 * While the LISTEN connection is down nothing is cached. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "allot/api.h"
#include "allot/app.h"
#include "allot/license.h"
#include "allot/log.h"
#include "allot/store.h"
#include "allot/sync.h"
#include "allot/sync_protocol.h"

static const struct api_field view_fields[] = {
    {"status", API_TEXT},          {"licenseNumber", API_TEXT},  {"organization", API_TEXT},
    {"product", API_TEXT},         {"validFrom", API_TIME},      {"validTo", API_TIME},
    {"issuedAt", API_TIME},        {"lastVerifiedAt", API_TIME}, {"lastSyncAttemptAt", API_TIME},
    {"lastSyncError", API_TEXT},   {"disabledAt", API_TIME},     {"conversionDate", API_TIME},
    {"allotments", API_JSON},      {"tokens", API_JSON},         {"parameters", API_JSON},
};
static const struct api_shape view_shape = {view_fields, sizeof view_fields / sizeof view_fields[0]};
#define CHANGES_AT_COL ((int)(sizeof view_fields / sizeof view_fields[0]))

struct api_license_cache {
    pthread_mutex_t lock;
    char *body;           /* the serialised view, NULL when none is kept */
    size_t len;
    json_t *view;         /* the same, for /metrics */
    int64_t until_us;     /* wall clock: the view is good before this */
    unsigned long generation; /* app->license_generation when it was read */
};

struct api_license_cache *api_license_cache_new(void)
{
    struct api_license_cache *c = calloc(1, sizeof *c);
    if (c != NULL)
        pthread_mutex_init(&c->lock, NULL);
    return c;
}

void api_license_cache_free(struct api_license_cache *c)
{
    if (c == NULL)
        return;
    pthread_mutex_destroy(&c->lock);
    free(c->body);
    json_decref(c->view);
    free(c);
}

void api_license_changed(struct app *a)
{
    atomic_fetch_add(&a->license_generation, 1);
}

static int64_t wall_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* A timestamptz of the database as microseconds since the epoch;
 * 'infinity' and anything unreadable as never. */
static int64_t time_us(const char *pg)
{
    char text[API_TIME_LEN];
    int64_t s;
    if (!api_time_text(pg, text))
        return INT64_MAX;
    long micro = strtol(text + 20, NULL, 10); /* "ffffffZ" */
    text[19] = 'Z';
    text[20] = '\0';
    if (!core_time_parse(text, &s))
        return INT64_MAX;
    return s * 1000000 + micro;
}

/* Reads the view; on success fills body, len and (when wanted) view. */
static enum db_status read_view(struct app *a, char **body, size_t *len, json_t **view,
                                int64_t *until_us)
{
    char now[40];
    app_wall_pg(now);
    PGresult *res = NULL;
    enum db_status s = db_license_view(a->pool, now, &res);
    if (s != DB_OK)
        return s;
    json_t *v = api_row_object(res, 0, 0, &view_shape);
    *until_us = time_us(PQgetvalue(res, 0, CHANGES_AT_COL));
    PQclear(res);
    *body = json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (*body == NULL) {
        json_decref(v);
        return DB_ERROR;
    }
    *len = strlen(*body);
    *view = v;
    return DB_OK;
}

/* The view now, from the cache or the database.  On DB_OK *body is a copy
 * (free it) and *view (when view is not NULL) a new reference. */
static enum db_status current_view(struct app *a, char **body, size_t *len, json_t **view)
{
    struct api_license_cache *c = a->license_cache;
    unsigned long gen = atomic_load(&a->license_generation);
    bool cacheable = c != NULL && db_listener_up(a->listener);
    if (cacheable) {
        pthread_mutex_lock(&c->lock);
        if (c->body != NULL && c->generation == gen && wall_us() < c->until_us) {
            *body = malloc(c->len + 1);
            if (*body != NULL)
                memcpy(*body, c->body, c->len + 1);
            *len = c->len;
            if (view != NULL)
                *view = json_incref(c->view);
            pthread_mutex_unlock(&c->lock);
            return *body != NULL ? DB_OK : DB_ERROR;
        }
        pthread_mutex_unlock(&c->lock);
    }
    json_t *v = NULL;
    int64_t until = 0;
    enum db_status s = read_view(a, body, len, &v, &until);
    if (s != DB_OK)
        return s;
    if (cacheable) {
        char *copy = malloc(*len + 1);
        if (copy != NULL) {
            memcpy(copy, *body, *len + 1);
            pthread_mutex_lock(&c->lock);
            free(c->body);
            json_decref(c->view);
            c->body = copy;
            c->len = *len;
            c->view = json_incref(v);
            c->until_us = until;
            c->generation = gen; /* a change since `gen` was read makes it stale */
            pthread_mutex_unlock(&c->lock);
        }
    }
    if (view != NULL)
        *view = v;
    else
        json_decref(v);
    return DB_OK;
}

static void reply_license_status(struct http_request *r, int status)
{
    char *body = NULL;
    size_t len = 0;
    enum db_status s = current_view(http_app(r), &body, &len, NULL);
    if (s != DB_OK) {
        api_reply_db(r, s);
        return;
    }
    http_reply_text_steal(r, status, "application/json", body, len);
}

void api_reply_license(struct http_request *r)
{
    reply_license_status(r, 200);
}

void api_license_get(struct http_request *r)
{
    api_reply_license(r);
}

static long long member_int(const json_t *o, const char *name)
{
    return (long long)json_integer_value(json_object_get(o, name));
}

static int64_t member_time(const json_t *o, const char *name)
{
    int64_t t = 0;
    const char *text = json_string_value(json_object_get(o, name));
    return text != NULL && core_time_parse(text, &t) ? t : 0;
}

/* Each family whole: HELP, TYPE, then its samples. */
static void gauge_family(struct buf *out, const char *name, const char *help)
{
    buf_printf(out, "# HELP %s %s\n# TYPE %s gauge\n", name, help, name);
}

void api_license_metrics(struct app *a, struct buf *out)
{
    char *body = NULL;
    size_t len = 0;
    json_t *view = NULL;
    long long active = 0;
    if (current_view(a, &body, &len, &view) != DB_OK)
        return;
    free(body);
    if (db_sessions_active(a->pool, &active) == DB_OK) {
        gauge_family(out, "allot_sessions_active", "Sessions not ended.");
        buf_printf(out, "allot_sessions_active %lld\n", active);
    }
    static const struct {
        const char *metric, *member, *help;
    } parts[] = {
        {"allot_allotment_units", "units", "Units of an allotment (minutes for analyzer_time)."},
        {"allot_allotment_used", "used", "Units in use (minutes this month for analyzer_time)."},
        {"allot_allotment_quarantined", "quarantined", "Units removed but still counted."},
    };
    json_t *allotments = json_object_get(view, "allotments");
    for (size_t p = 0; p < sizeof parts / sizeof parts[0]; p++) {
        gauge_family(out, parts[p].metric, parts[p].help);
        size_t i;
        json_t *al;
        json_array_foreach(allotments, i, al) {
            buf_printf(out, "%s{allotment=\"%s\"} %lld\n", parts[p].metric,
                       json_string_value(json_object_get(al, "name")),
                       member_int(al, parts[p].member));
        }
    }
    json_t *tokens = json_object_get(view, "tokens");
    if (json_is_object(tokens)) {
        gauge_family(out, "allot_tokens", "Tokens of the license by use.");
        static const char *const uses[] = {"total", "allocated", "used", "quarantined"};
        for (size_t i = 0; i < sizeof uses / sizeof uses[0]; i++)
            buf_printf(out, "allot_tokens{use=\"%s\"} %lld\n", uses[i], member_int(tokens, uses[i]));
    }
    const char *status = json_string_value(json_object_get(view, "status"));
    gauge_family(out, "allot_license_status", "1 for the license's current status.");
    buf_printf(out, "allot_license_status{status=\"%s\"} 1\n", status ? status : "missing");
    int64_t verified = member_time(view, "lastVerifiedAt");
    int64_t disabled = member_time(view, "disabledAt");
    if (verified != 0 && disabled != 0) {
        int64_t now = app_wall_s();
        gauge_family(out, "allot_license_seconds_since_verified",
                     "Seconds since the license was last verified.");
        buf_printf(out, "allot_license_seconds_since_verified %lld\n", (long long)(now - verified));
        gauge_family(out, "allot_license_seconds_until_disabled",
                     "Seconds until licenses are disabled (negative: stale).");
        buf_printf(out, "allot_license_seconds_until_disabled %lld\n", (long long)(disabled - now));
    }
    json_decref(view);
}

/* Whether the license (or definition) was applied: else the database's
 * failure or the engine's refusal is answered.  Takes res. */
static bool applied(struct http_request *r, enum db_status s, PGresult *res)
{
    if (s != DB_OK) {
        api_reply_db(r, s);
        return false;
    }
    enum api_outcome o = api_outcome_of(res);
    PQclear(res);
    if (o != API_OUTCOME_ok) {
        api_reply_refusal(r, o, NULL);
        return false;
    }
    return true;
}

/* Applies a verified key; replies with the license, or the refusal. */
static void apply_key(struct http_request *r, const char *key, const struct lic_license *lic)
{
    struct app *a = http_app(r);
    json_t *canonical = lic_to_json(lic);
    char *definition = canonical ? json_dumps(canonical, JSON_COMPACT) : NULL;
    json_decref(canonical);
    if (definition == NULL) {
        api_reply_db(r, DB_ERROR);
        return;
    }
    char now[40];
    app_wall_pg(now);
    PGresult *res = NULL;
    enum db_status s = db_license_apply(a->pool, key, definition, now, &res);
    free(definition);
    api_license_changed(a);
    if (!applied(r, s, res))
        return;
    log_info(http_corr_id(r), "license %s applied", lic->license_number);
    if (a->sync != NULL && a->cfg->authority_url != NULL) {
        char sync_why[256];
        /* its outcome shows in the license; one not over in ALLOT_SYNC_WAIT
         * goes on on the sync thread */
        sync_now(a->sync, http_corr_id(r), a->cfg->sync_wait, sync_why, sizeof sync_why);
        api_license_changed(a);
    }
    api_reply_license(r);
}

/* The keys this site trusts: ALLOT_AUTHORITY_PUBLIC_KEY's and those learnt
 * from the backend, without the retired ones (only the configured ones while
 * the database does not answer: applying the key then fails anyway). */
static void trusted_keys(struct app *a, struct lic_keyring *ring)
{
    if (db_trusted_keys(a->pool, a->authority_keys, ring) != DB_OK) {
        lic_keyring_free(ring);
        lic_keyring_merge(ring, a->authority_keys);
    }
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
    struct lic_keyring ring;
    trusted_keys(a, &ring);
    enum lic_result res = lic_verify_key_ring(json_string_value(v[0]), &ring, app_wall_s(), &lic,
                                              NULL, why, sizeof why);
    lic_keyring_free(&ring);
    if (res != LIC_OK) {
        log_info(http_corr_id(r), "license key refused: %s", why);
        http_reply_error(r, HTTP_ERR_INVALID_LICENSE, "key", "The license key was refused: %s", why);
        return;
    }
    apply_key(r, json_string_value(v[0]), &lic);
}

/* The canonical definition (lic_to_json) of a key the authority signed. */
static char *definition_of(const struct lic_keyring *ring, const char *key, char *why,
                           size_t whylen)
{
    struct lic_license lic;
    enum lic_result res = lic_verify_key_ring(key, ring, app_wall_s(), &lic, NULL, why, whylen);
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
    struct lic_keyring ring;
    trusted_keys(a, &ring);
    if (definition_doc_verify_ring(json_string_value(v[0]), &ring, &doc, why, sizeof why) !=
        LIC_OK) {
        lic_keyring_free(&ring);
        http_reply_error(r, HTTP_ERR_INVALID_LICENSE, "definition", "The definition was refused: %s", why);
        return;
    }
    char *definition = definition_of(&ring, doc.definition, why, sizeof why);
    lic_keyring_free(&ring);
    if (definition == NULL) {
        sync_reply_free(&doc);
        http_reply_error(r, HTTP_ERR_INVALID_LICENSE, "definition", "The definition was refused: %s", why);
        return;
    }
    char now[40], verified[24];
    app_wall_pg(now);
    snprintf(verified, sizeof verified, "%lld", (long long)doc.verified_at);
    PGresult *res = NULL;
    enum db_status s = db_definition_apply(a->pool, now, doc.definition, definition, verified,
                                           doc.revoked ? "true" : "false", &res);
    sync_reply_free(&doc);
    free(definition);
    api_license_changed(a);
    if (!applied(r, s, res))
        return;
    log_info(http_corr_id(r), "offline license definition applied");
    api_reply_license(r);
}

void api_license_sync(struct http_request *r)
{
    struct app *a = http_app(r);
    char why[256] = "no sync thread";
    enum sync_outcome o = a->sync ? sync_now(a->sync, http_corr_id(r), a->cfg->sync_wait, why,
                                             sizeof why)
                                  : SYNC_OFFLINE;
    api_license_changed(a);
    switch (o) {
    case SYNC_OK:
        api_reply_license(r);
        return;
    case SYNC_PENDING:
        /* Not over within ALLOT_SYNC_WAIT, or another request waits for it:
         * it goes on, and GET /license shows its outcome (lastVerifiedAt,
         * lastSyncAttemptAt, lastSyncError).  Not 502: nothing failed yet. */
        log_info(http_corr_id(r), "license sync under way; its outcome shows in GET /license");
        http_add_header(r, "Location", "/license");
        reply_license_status(r, 202);
        return;
    case SYNC_NO_LICENSE:
        api_reply_refusal(r, API_OUTCOME_license_missing, NULL);
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

/* Helpers every resource uses: database errors, body validation, ids, pages. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "allot/api.h"
#include "allot/app.h"
#include "allot/buf.h"
#include "allot/log.h"

void api_reply_db(struct http_request *r, enum db_status s)
{
    switch (s) {
    case DB_CONFLICT:
        http_reply_error(r, HTTP_ERR_CONFLICT, NULL, NULL);
        return;
    case DB_NOT_FOUND:
        http_reply_error(r, HTTP_ERR_NOT_FOUND, NULL, NULL);
        return;
    case DB_INVALID:
        http_reply_error(r, HTTP_ERR_BAD_REQUEST, NULL, "The database refused a value");
        return;
    case DB_UNAVAILABLE:
        http_reply_error(r, HTTP_ERR_UNAVAILABLE, NULL, NULL);
        return;
    case DB_RETRY:
        http_reply_error(r, HTTP_ERR_UNAVAILABLE, NULL,
                         "The database is too busy with conflicting changes; try again");
        return;
    case DB_OK:
    case DB_FOREIGN_KEY:
    case DB_ERROR:
    case DB_ABORT:
        break;
    }
    log_error(http_corr_id(r), "database failure (status %d) in %s %s", (int)s, http_method(r),
              http_path(r));
    http_reply_error(r, HTTP_ERR_INTERNAL, NULL, NULL);
}

void api_reply_row(struct http_request *r, unsigned status, PGresult *res,
                   const struct api_shape *shape)
{
    struct buf body;
    buf_init(&body, HTTP_REPLY_LIMIT);
    api_row_json(&body, res, 0, 1, shape);
    if (status == 201) {
        /* The id is the first member of every resource. */
        char location[512];
        snprintf(location, sizeof location, "%s/%s", http_path(r), PQgetvalue(res, 0, 1));
        http_add_header(r, "Location", location);
    }
    PQclear(res);
    api_reply_buf(r, status, "application/json", &body);
}

enum api_outcome api_outcome_of(const PGresult *res)
{
    return PQntuples(res) > 0 && !PQgetisnull(res, 0, 0) ? api_outcome_parse(PQgetvalue(res, 0, 0))
                                                         : API_OUTCOME_COUNT;
}

void api_reply_decision(struct http_request *r, enum db_status s, PGresult *res,
                        unsigned ok_status, const struct api_shape *shape)
{
    if (s != DB_OK) {
        api_reply_db(r, s);
        return;
    }
    enum api_outcome o = api_outcome_of(res);
    if (o == API_OUTCOME_ok) {
        api_reply_row(r, ok_status, res, shape);
        return;
    }
    PQclear(res);
    api_reply_refusal(r, o, NULL);
}

bool api_id_call_now(struct http_request *r, api_id_call call, PGresult **res, enum db_status *s)
{
    const char *id = api_id_param(r, 0);
    if (id == NULL)
        return false;
    char now[40];
    app_wall_pg(now);
    *res = NULL;
    *s = call(http_app(r)->pool, id, now, res);
    return true;
}

void api_id_decision(struct http_request *r, api_id_call call, enum api_outcome empty_on,
                     unsigned ok_status, const struct api_shape *shape, bool changes_license)
{
    PGresult *res;
    enum db_status s;
    if (!api_id_call_now(r, call, &res, &s))
        return;
    if (changes_license)
        api_license_changed(http_app(r));
    if (s == DB_OK && empty_on != API_OUTCOME_COUNT && api_outcome_of(res) == empty_on) {
        PQclear(res);
        http_reply_empty(r, 204);
        return;
    }
    api_reply_decision(r, s, res, ok_status, shape);
}

void api_reply_buf(struct http_request *r, unsigned status, const char *type, struct buf *body)
{
    size_t len = 0;
    char *text = body->overflow ? NULL : buf_steal(body, &len);
    buf_free(body);
    if (text == NULL) {
        http_reply_error(r, HTTP_ERR_INTERNAL, NULL, NULL);
        return;
    }
    http_reply_text_steal(r, status, type, text, len);
}

bool api_body(struct http_request *r, const struct jspec *spec, size_t n, json_t **out)
{
    const char *field = NULL;
    const char *why = jspec_check(http_body(r), spec, n, out, &field);
    if (why == NULL)
        return true;
    if (field != NULL)
        http_reply_error(r, HTTP_ERR_BAD_REQUEST, field, "%s %s", field, why);
    else
        http_reply_error(r, HTTP_ERR_BAD_REQUEST, NULL, "%s", why);
    return false;
}

bool api_is_uuid(const char *t)
{
    if (t == NULL || strlen(t) != 36)
        return false;
    for (size_t i = 0; i < 36; i++) {
        char c = t[i];
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? c != '-'
                 : !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')))
            return false;
    }
    return true;
}

const char *api_id_param(struct http_request *r, size_t i)
{
    const char *id = http_param(r, i);
    if (!api_is_uuid(id)) {
        http_reply_error(r, HTTP_ERR_NOT_FOUND, NULL, "No such resource: %.64s", id ? id : "");
        return NULL;
    }
    return id;
}

bool api_page_parse(struct http_request *r, struct db_page *p)
{
    memset(p, 0, sizeof *p);
    p->limit = 100;
    const char *limit = http_query(r, "limit");
    if (limit != NULL) {
        char *end = NULL;
        long v = strtol(limit, &end, 10);
        if (limit[0] < '0' || limit[0] > '9' || *end != '\0' || v < 1 || v > 1000) {
            http_reply_error(r, HTTP_ERR_BAD_REQUEST, "limit",
                             "limit must be an integer from 1 to 1000");
            return false;
        }
        p->limit = (int)v;
    }
    const char *cursor = http_query(r, "cursor");
    if (cursor != NULL) {
        const unsigned char *key;
        enum db_status s = db_cursor_key(http_app(r), &key);
        if (s != DB_OK) {
            api_reply_db(r, s);
            return false;
        }
        int64_t ts;
        if (!api_cursor_decode(key, cursor, &ts, p->after_id)) {
            http_reply_error(r, HTTP_ERR_BAD_REQUEST, "cursor",
                             "cursor is not one this server made");
            return false;
        }
        snprintf(p->after_ts, sizeof p->after_ts, "%lld", (long long)ts);
        p->has_after = true;
    }
    return true;
}

const char *api_filter(struct http_request *r, const char *name, bool *bad)
{
    const char *v = http_query(r, name);
    if (v == NULL || *bad)
        return v;
    const char *why = jspec_text_ok(v, 1, 255);
    if (why != NULL) {
        http_reply_error(r, HTTP_ERR_BAD_REQUEST, name, "%s %s", name, why);
        *bad = true;
    }
    return v;
}

void api_reply_page(struct http_request *r, PGresult *res, const struct db_page *p,
                    const struct api_shape *shape, const char *const *filters)
{
    struct buf body;
    buf_init(&body, HTTP_REPLY_LIMIT);
    buf_lit(&body, "{\"data\":[");
    int n = PQntuples(res);
    int shown = n > p->limit ? p->limit : n;
    int key_col = 1 + (int)shape->n; /* after the outcome and the resource */
    for (int i = 0; i < shown; i++) {
        if (i > 0)
            buf_lit(&body, ",");
        api_row_json(&body, res, i, 1, shape);
    }
    buf_lit(&body, "],\"links\":{\"next\":");
    if (n > p->limit) {
        struct buf link;
        buf_init(&link, 8192);
        if (!api_next_link(r, p, PQgetvalue(res, shown - 1, key_col),
                           PQgetvalue(res, shown - 1, key_col + 1), filters, &link)) {
            buf_free(&link);
            buf_free(&body);
            PQclear(res);
            api_reply_db(r, DB_UNAVAILABLE);
            return;
        }
        buf_json_string(&body, link.data ? link.data : "", link.len);
        buf_free(&link);
    } else {
        buf_lit(&body, "null");
    }
    buf_lit(&body, "}}");
    PQclear(res);
    api_reply_buf(r, 200, "application/json", &body);
}

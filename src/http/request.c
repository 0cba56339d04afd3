/* Request accessors and replies.  A reply is built into the context and queued
 * by the daemon once the handler returns. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "allot/log.h"
#include "http/internal.h"

struct app *http_app(const struct http_request *r) { return r->app; }
const char *http_corr_id(const struct http_request *r) { return r->corr_id; }
const char *http_method(const struct http_request *r) { return r->method; }
const char *http_path(const struct http_request *r) { return r->path; }
json_t *http_body(const struct http_request *r) { return r->json; }
unsigned http_role(const struct http_request *r) { return r->role; }
const char *http_key_id(const struct http_request *r) { return r->key_id; }

const char *http_param(const struct http_request *r, size_t i)
{
    return i < r->nparams ? r->params[i] : NULL;
}

const char *http_query(const struct http_request *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
}

const char *http_header(const struct http_request *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

void http_log_escape(const char *in, char *out, size_t outlen)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)in;
    size_t o = 0;
    while (*p != '\0' && o + 5 <= outlen) {
        /* The length of a well-formed UTF-8 sequence at p (no overlongs, no
         * surrogates, nothing past U+10FFFF), or 0. */
        size_t n = 0;
        if (*p >= 0x20 && *p < 0x7f)
            n = 1;
        else if (*p >= 0xc2 && *p <= 0xdf && (p[1] & 0xc0) == 0x80)
            n = 2;
        else if (*p >= 0xe0 && *p <= 0xef && (p[1] & 0xc0) == 0x80 && (p[2] & 0xc0) == 0x80 &&
                 !(*p == 0xe0 && p[1] < 0xa0) && !(*p == 0xed && p[1] >= 0xa0))
            n = 3;
        else if (*p >= 0xf0 && *p <= 0xf4 && (p[1] & 0xc0) == 0x80 && (p[2] & 0xc0) == 0x80 &&
                 (p[3] & 0xc0) == 0x80 && !(*p == 0xf0 && p[1] < 0x90) &&
                 !(*p == 0xf4 && p[1] >= 0x90))
            n = 4;
        if (n > 0 && *p != '\\') {
            if (o + n >= outlen)
                break;
            memcpy(out + o, p, n);
            o += n;
            p += n;
        } else {
            out[o++] = '\\';
            out[o++] = 'x';
            out[o++] = hex[*p >> 4];
            out[o++] = hex[*p & 15];
            p++;
        }
    }
    out[o < outlen ? o : outlen - 1] = '\0';
}

void http_add_header(struct http_request *r, const char *name, const char *value)
{
    if (r->nheaders == HTTP_MAX_EXTRA_HEADERS)
        return;
    snprintf(r->headers[r->nheaders].name, sizeof r->headers[0].name, "%s", name);
    snprintf(r->headers[r->nheaders].value, sizeof r->headers[0].value, "%s", value);
    r->nheaders++;
}

static void set_reply(struct http_request *r, unsigned status, char *body, size_t len,
                      const char *type)
{
    if (r->replied) {
        /* A handler bug: keep the first reply, say so. */
        log_error(r->corr_id, "second reply (%u) to one request ignored", status);
        free(body);
        return;
    }
    r->replied = true;
    r->status = status;
    r->reply_body = body;
    r->reply_len = len;
    r->reply_type = type;
}

void http_reply_json_steal(struct http_request *r, unsigned status, json_t *body)
{
    char *text = body ? json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(body);
    if (text == NULL) {
        http_reply_error(r, HTTP_ERR_INTERNAL, NULL, NULL);
        return;
    }
    set_reply(r, status, text, strlen(text), "application/json");
}

void http_reply_created_steal(struct http_request *r, json_t *body)
{
    const char *id = json_string_value(json_object_get(body, "id"));
    char location[512];
    snprintf(location, sizeof location, "%s/%s", r->path, id ? id : "");
    http_add_header(r, "Location", location);
    http_reply_json_steal(r, 201, body);
}

void http_reply_empty(struct http_request *r, unsigned status)
{
    set_reply(r, status, NULL, 0, NULL);
}

void http_reply_text(struct http_request *r, unsigned status, const char *content_type,
                     const char *text, size_t len)
{
    char *copy = malloc(len + 1);
    if (copy == NULL) {
        http_reply_error(r, HTTP_ERR_INTERNAL, NULL, NULL);
        return;
    }
    memcpy(copy, text, len);
    copy[len] = '\0';
    set_reply(r, status, copy, len, content_type);
}

void http_reply_text_steal(struct http_request *r, unsigned status, const char *content_type,
                           char *text, size_t len)
{
    set_reply(r, status, text, len, content_type);
}

void http_reply_error_extra_steal(struct http_request *r, enum http_error e,
                                  const char *message, json_t *extra)
{
    const struct http_error_info *info = http_error_get(e);
    json_t *body = json_object();
    json_object_set_new(body, "errorType", json_string(info->type));
    json_t *msg = message ? json_string(message) : NULL;
    json_object_set_new(body, "message", msg ? msg : json_string(info->message));
    json_object_set_new(body, "statusCode", json_integer(info->status));
    json_object_set_new(body, "corrId", json_string(r->corr_id));
    if (extra != NULL) {
        json_object_update(body, extra);
        json_decref(extra);
    }
    if (info->status == 503)
        http_add_header(r, "Retry-After", "2");
    const char *type = "application/json";
    if (r->dialect != NULL) {
        type = r->dialect->content_type;
        json_t *shaped = r->dialect->shape_steal(json_deep_copy(body));
        if (shaped != NULL) {
            json_decref(body);
            body = shaped;
        }
    }
    r->error_type = info->type;
    /* The model product's line for a refusal: errorType, statusCode, errorMessage. */
    log_with(info->status >= 500 ? LOG_WARN : LOG_INFO, r->corr_id,
             json_pack("{s:s, s:i, s:O}", "errorType", info->type, "statusCode", (int)info->status,
                       "errorMessage", json_object_get(body, "message")),
             "%s %s refused: %s", r->log_method, r->log_path, info->type);
    char *text = json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(body);
    if (text == NULL)
        text = strdup("{\"errorType\":\"LICENSES-Internal\",\"statusCode\":500}");
    set_reply(r, info->status, text, text ? strlen(text) : 0, type);
}

void http_reply_error(struct http_request *r, enum http_error e, const char *field,
                      const char *fmt, ...)
{
    char message[512];
    if (fmt != NULL) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(message, sizeof message, fmt, ap);
        va_end(ap);
    }
    json_t *extra = NULL;
    if (field != NULL) {
        extra = json_object();
        json_t *f = json_string(field);
        json_object_set_new(extra, "field", f ? f : json_string("(not UTF-8)"));
    }
    http_reply_error_extra_steal(r, e, fmt ? message : NULL, extra);
}

enum MHD_Result http_queue_reply(struct http_request *r)
{
    if (!r->replied) {
        log_error(r->corr_id, "handler for %s %s built no reply", r->log_method, r->log_path);
        http_reply_error(r, HTTP_ERR_INTERNAL, NULL, NULL);
    }
    struct MHD_Response *resp = MHD_create_response_from_buffer(
        r->reply_len, r->reply_body ? r->reply_body : (void *)"", 
        r->reply_body ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
    if (resp == NULL)
        return MHD_NO;
    r->reply_body = NULL; /* MHD owns it now */
    if (r->reply_type != NULL)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, r->reply_type);
    MHD_add_response_header(resp, "X-Correlation-Id", r->corr_id);
    for (size_t i = 0; i < r->nheaders; i++)
        MHD_add_response_header(resp, r->headers[i].name, r->headers[i].value);
    enum MHD_Result ret = MHD_queue_response(r->conn, r->status, resp);
    MHD_destroy_response(resp);
    return ret;
}

/* Lists: every list answers a page of JSON, or the same page as CSV to
 * `Accept: text/csv`, and takes the time filters of RFC 3339 parameters.
 *
 * A CSV page is the JSON page's rows under a header line (RFC 4180, the
 * members of the resource's shape as column names, present.c), with the
 * same `limit` and `cursor`: the next page's URL goes in a `Link: <...>;
 * rel="next"` header (RFC 8288) instead of `links.next`, and there is none on
 * the last page.  So no reply is ever larger than a page, whatever a filter
 * matches, and an export of any size is a loop that follows the links. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "allot/api.h"
#include "allot/app.h"
#include "allot/buf.h"
#include "allot/core.h"

/* The largest CSV page (1000 rows of the widest resource fit). */
#define CSV_LIMIT (16u * 1024u * 1024u)
/* The HTTP layer keeps a header value of up to 511 bytes: the longest next
 * link a Link header can carry, with its "<", ">; rel=\"next\"". */
#define LINK_MAX 480

static void append_query(struct buf *b, const char *name, const char *value, bool *first)
{
    char *escaped = curl_easy_escape(NULL, value, 0);
    buf_printf(b, "%c%s=%s", *first ? '?' : '&', name, escaped ? escaped : "");
    curl_free(escaped);
    *first = false;
}

bool api_next_link(struct http_request *r, const struct db_page *p, const char *ts_us,
                   const char *id, const char *const *filters, struct buf *out)
{
    const unsigned char *key;
    if (db_cursor_key(http_app(r), &key) != DB_OK)
        return false;
    char cursor[API_CURSOR_LEN + 1];
    api_cursor_encode(key, strtoll(ts_us, NULL, 10), id, cursor);
    bool first = true;
    buf_printf(out, "%s", http_path(r));
    for (size_t i = 0; filters != NULL && filters[i] != NULL; i++) {
        const char *v = http_query(r, filters[i]);
        if (v != NULL)
            append_query(out, filters[i], v, &first);
    }
    char limit[16];
    snprintf(limit, sizeof limit, "%d", p->limit);
    append_query(out, "limit", limit, &first);
    append_query(out, "cursor", cursor, &first);
    return !out->overflow;
}

/* The q of one media range, from its parameters (";q=0.5;level=1", len
 * bytes): 1 when not given. */
static double range_q(const char *params, size_t len)
{
    double q = 1.0;
    for (size_t i = 0; i < len; i++) {
        if (params[i] != ';')
            continue;
        size_t k = i + 1;
        while (k < len && (params[k] == ' ' || params[k] == '\t'))
            k++;
        if (k + 2 <= len && (params[k] == 'q' || params[k] == 'Q') && params[k + 1] == '=')
            q = strtod(params + k + 2, NULL);
    }
    return q;
}

bool api_wants_csv(struct http_request *r)
{
    /* CSV when the client names text/csv, and prefers it to application/json
     * if it names both (wildcards do not ask for CSV). */
    const char *accept = http_header(r, "Accept");
    double csv = 0, json = 0;
    for (const char *p = accept; p != NULL && *p != '\0';) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        size_t len = strcspn(p, ",");
        size_t type = strcspn(p, ";,");
        while (type > 0 && (p[type - 1] == ' ' || p[type - 1] == '\t'))
            type--;
        if (type == 8 && strncasecmp(p, "text/csv", 8) == 0)
            csv = range_q(p + type, len - type);
        else if (type == 16 && strncasecmp(p, "application/json", 16) == 0)
            json = range_q(p + type, len - type);
        p += len;
    }
    return csv > 0 && csv > json;
}

/* The Link header of the page after row `last`; false when the reply is an
 * error instead (the reason replied). */
static bool link_next(struct http_request *r, const PGresult *res, int last, int key_col,
                      const struct db_page *p, const char *const *filters)
{
    struct buf link;
    buf_init(&link, LINK_MAX + 1);
    bool ok = api_next_link(r, p, PQgetvalue(res, last, key_col), PQgetvalue(res, last, key_col + 1),
                            filters, &link);
    if (ok) {
        char value[LINK_MAX + 32];
        snprintf(value, sizeof value, "<%s>; rel=\"next\"", link.data);
        http_add_header(r, "Link", value);
    } else if (link.overflow) {
        http_reply_error(r, HTTP_ERR_BAD_REQUEST, NULL,
                         "The filters are too long to carry into the next page's Link header:"
                         " shorten them, or ask for JSON");
    } else {
        api_reply_db(r, DB_UNAVAILABLE); /* the cursor key could not be read */
    }
    buf_free(&link);
    return ok;
}

static void reply_csv(struct http_request *r, PGresult *res, const struct db_page *p,
                      const struct api_shape *shape, const char *const *filters)
{
    int n = PQntuples(res);
    int shown = n > p->limit ? p->limit : n;
    struct buf body;
    buf_init(&body, CSV_LIMIT);
    api_csv_header(&body, shape);
    for (int i = 0; i < shown; i++)
        api_csv_row(&body, res, i, 1, shape);
    if (!body.overflow && n > p->limit &&
        !link_next(r, res, shown - 1, 1 + (int)shape->n, p, filters)) {
        PQclear(res);
        buf_free(&body);
        return;
    }
    PQclear(res);
    /* The name of the list ("/sessions/events": events.csv) for a download. */
    const char *name = strrchr(http_path(r), '/');
    char disposition[96];
    snprintf(disposition, sizeof disposition, "attachment; filename=\"%.40s.csv\"",
             name != NULL && name[1] != '\0' ? name + 1 : "list");
    http_add_header(r, "Content-Disposition", disposition);
    api_reply_buf(r, 200, "text/csv; charset=utf-8; header=present", &body);
}

void api_reply_list(struct http_request *r, PGresult *res, const struct db_page *p,
                    const struct api_shape *shape, const char *const *filters)
{
    if (api_wants_csv(r))
        reply_csv(r, res, p, shape, filters);
    else
        api_reply_page(r, res, p, shape, filters);
}

bool api_time_query(struct http_request *r, const char *name, struct api_time *out, bool *bad)
{
    memset(out, 0, sizeof *out);
    const char *v = http_query(r, name);
    if (v == NULL || *bad)
        return false;
    int64_t secs;
    if (strlen(v) > 40 || !core_time_parse(v, &secs)) {
        http_reply_error(r, HTTP_ERR_BAD_REQUEST, name,
                         "%s must be an RFC 3339 time, such as 2025-01-31T00:00:00Z", name);
        *bad = true;
        return false;
    }
    /* The fraction (after "YYYY-MM-DDTHH:MM:SS."), to the microsecond. */
    long us = 0;
    if (v[19] == '.') {
        const char *f = v + 20;
        for (int i = 0; i < 6; i++)
            us = us * 10 + (f[0] >= '0' && f[0] <= '9' ? *f++ - '0' : 0);
    }
    /* PostgreSQL's years start at 1 (there is no year 0). */
    char t[CORE_TIME_BUFSZ];
    if (secs < core_days_from_civil(1, 1, 1) * 86400 || !core_time_format(secs, t, sizeof t)) {
        http_reply_error(r, HTTP_ERR_BAD_REQUEST, name, "%s is outside the years 0001 to 9999", name);
        *bad = true;
        return false;
    }
    out->secs = secs;
    out->us = us;
    snprintf(out->pg, sizeof out->pg, "%.19s.%06dZ", t, (int)(us % 1000000));
    out->given = true;
    return true;
}

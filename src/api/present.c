/* Presentation: the resources as clients see them, built from the columns
 * the database answers with.  One shape per resource lists its members in
 * the order of its columns (the reply types of sql/), so a creation, a read
 * and a list show a resource the same way, in JSON or in CSV. */
#include "allot/api.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "allot/buf.h"

#define F(name, kind) {name, kind}

static const struct api_field user_fields[] = {
    F("id", API_TEXT), F("userDirectory", API_TEXT), F("userId", API_TEXT), F("name", API_TEXT),
    F("groups", API_JSON), F("createdAt", API_TIME), F("modifiedAt", API_TIME),
};
static const struct api_field apikey_fields[] = {
    F("id", API_TEXT), F("name", API_TEXT), F("role", API_TEXT), F("createdAt", API_TIME),
    F("lastUsedAt", API_TIME),
};
static const struct api_field allocation_fields[] = {
    F("id", API_TEXT), F("type", API_TEXT), F("user.id", API_TEXT),
    F("user.userDirectory", API_TEXT), F("user.userId", API_TEXT), F("user.deleted", API_BOOL),
    F("createdAt", API_TIME), F("lastUsed", API_TIME), F("quarantined", API_BOOL),
    F("quarantineEnd", API_TIME), F("ruleId", API_TEXT),
};
static const struct api_field rule_fields[] = {
    F("id", API_TEXT), F("name", API_TEXT), F("accessType", API_TEXT),
    F("match.groups", API_JSON), F("match.userDirectories", API_JSON), F("tokens", API_INT),
    F("createdAt", API_TIME), F("modifiedAt", API_TIME),
};
static const struct api_field session_fields[] = {
    F("id", API_TEXT), F("user.id", API_TEXT), F("user.userDirectory", API_TEXT),
    F("user.userId", API_TEXT), F("accessType", API_TEXT), F("allocationId", API_TEXT),
    F("startedAt", API_TIME), F("lastActivity", API_TIME), F("endedAt", API_TIME),
    F("endReason", API_TEXT), F("resultCode", API_TEXT),
};
static const struct api_field event_fields[] = {
    F("id", API_TEXT), F("at", API_TIME), F("kind", API_TEXT), F("sessionId", API_TEXT),
    F("user.id", API_TEXT), F("user.userDirectory", API_TEXT), F("user.userId", API_TEXT),
    F("accessType", API_TEXT), F("resultCode", API_TEXT), F("sessionCount", API_INT),
    F("detail", API_TEXT),
};
/* One step of GET /reports/usage (sql/usage_report.sql). */
static const struct api_field usage_point_fields[] = {
    F("start", API_TIME), F("sessionsStarted", API_JSON), F("refusals", API_JSON),
    F("peakConcurrentSessions", API_INT), F("capacityMinutes", API_INT),
    F("capacityMinutesMonthToDate", API_INT),
};
/* An idle-release policy (sql/idle_release.sql), and an allocation its dry
 * run lists: the allocation, and since when it is idle. */
static const struct api_field idle_policy_fields[] = {
    F("type", API_TEXT), F("enabled", API_BOOL), F("idleDays", API_INT),
    F("exempt.groups", API_JSON), F("exempt.userDirectories", API_JSON),
    F("exempt.users", API_JSON), F("modifiedAt", API_TIME),
};
static const struct api_field idle_candidate_fields[] = {
    F("id", API_TEXT), F("type", API_TEXT), F("user.id", API_TEXT),
    F("user.userDirectory", API_TEXT), F("user.userId", API_TEXT), F("user.deleted", API_BOOL),
    F("createdAt", API_TIME), F("lastUsed", API_TIME), F("quarantined", API_BOOL),
    F("quarantineEnd", API_TIME), F("ruleId", API_TEXT), F("idleSince", API_TIME),
};

/* A webhook subscription (never its secret), and an attempt of its
 * delivery log (src/db/webhooks.c). */
static const struct api_field webhook_fields[] = {
    F("id", API_TEXT), F("url", API_TEXT), F("description", API_TEXT), F("events", API_JSON),
    F("createdAt", API_TIME), F("pendingDeliveries", API_INT), F("failedDeliveries", API_INT),
};
static const struct api_field delivery_fields[] = {
    F("id", API_TEXT), F("eventId", API_TEXT), F("eventType", API_TEXT),
    F("eventCreatedAt", API_TIME), F("attempt", API_INT), F("attemptedAt", API_TIME),
    F("outcome", API_TEXT), F("statusCode", API_INT), F("error", API_TEXT),
    F("durationMs", API_INT), F("deliverer", API_TEXT), F("nextAttemptAt", API_TIME),
    F("payload", API_JSON),
};

#define SHAPE(f) {f, sizeof f / sizeof f[0]}
const struct api_shape api_idle_policy_shape = SHAPE(idle_policy_fields);
const struct api_shape api_idle_candidate_shape = SHAPE(idle_candidate_fields);
const struct api_shape api_user_shape = SHAPE(user_fields);
const struct api_shape api_apikey_shape = SHAPE(apikey_fields);
const struct api_shape api_allocation_shape = SHAPE(allocation_fields);
const struct api_shape api_rule_shape = SHAPE(rule_fields);
const struct api_shape api_session_shape = SHAPE(session_fields);
const struct api_shape api_event_shape = SHAPE(event_fields);
const struct api_shape api_usage_point_shape = SHAPE(usage_point_fields);
const struct api_shape api_webhook_shape = SHAPE(webhook_fields);
const struct api_shape api_delivery_shape = SHAPE(delivery_fields);

bool api_time_text(const char *pg, char out[API_TIME_LEN])
{
    /* PostgreSQL's ISO output in UTC (the pool sets TimeZone and DateStyle):
     * "YYYY-MM-DD HH:MM:SS[.ffffff]+00" */
    size_t n = strlen(pg);
    if (n < 22 || pg[10] != ' ' || strcmp(pg + n - 3, "+00") != 0)
        return false;
    memcpy(out, pg, 10);
    out[10] = 'T';
    memcpy(out + 11, pg + 11, 8);
    out[19] = '.';
    const char *frac = pg[19] == '.' ? pg + 20 : "";
    size_t digits = pg[19] == '.' ? (size_t)(pg + n - 3 - frac) : 0;
    for (size_t i = 0; i < 6; i++)
        out[20 + i] = i < digits ? frac[i] : '0';
    out[26] = 'Z';
    out[27] = '\0';
    return true;
}

static json_t *value_of(const PGresult *res, int row, int col, enum api_kind kind)
{
    if (PQgetisnull(res, row, col))
        return json_null();
    const char *v = PQgetvalue(res, row, col);
    switch (kind) {
    case API_TEXT:
        return json_string(v);
    case API_TIME: {
        char t[API_TIME_LEN];
        return api_time_text(v, t) ? json_string(t) : json_string(v);
    }
    case API_INT:
        return json_integer(strtoll(v, NULL, 10));
    case API_BOOL:
        return json_boolean(v[0] == 't');
    case API_JSON: {
        json_error_t err;
        json_t *j = json_loads(v, JSON_DECODE_ANY, &err);
        return j ? j : json_null();
    }
    }
    return json_null();
}

json_t *api_row_object(const PGresult *res, int row, int col, const struct api_shape *shape)
{
    json_t *o = json_object();
    for (size_t i = 0; i < shape->n; i++) {
        const char *name = shape->fields[i].name;
        json_t *v = value_of(res, row, col + (int)i, shape->fields[i].kind);
        const char *dot = strchr(name, '.');
        if (dot == NULL) {
            json_object_set_new(o, name, v ? v : json_null());
            continue;
        }
        char outer[32];
        snprintf(outer, sizeof outer, "%.*s", (int)(dot - name), name);
        json_t *inner = json_object_get(o, outer);
        if (inner == NULL) {
            inner = json_object();
            json_object_set_new(o, outer, inner);
        }
        json_object_set_new(inner, dot + 1, v ? v : json_null());
    }
    return o;
}

/* The prefix of a nested member ("user" of "user.id"), or 0 chars. */
static size_t outer_len(const char *name)
{
    const char *dot = strchr(name, '.');
    return dot ? (size_t)(dot - name) : 0;
}

void api_row_json(struct buf *out, const PGresult *res, int row, int col,
                  const struct api_shape *shape)
{
    buf_lit(out, "{");
    size_t open = 0; /* length of the nested object's name being written, 0: none */
    const char *open_name = NULL;
    bool first = true, first_inner = true;
    for (size_t i = 0; i < shape->n; i++) {
        const char *name = shape->fields[i].name;
        size_t outer = outer_len(name);
        if (open > 0 && (outer != open || strncmp(name, open_name, open) != 0)) {
            buf_lit(out, "}");
            open = 0;
        }
        if (outer > 0 && open == 0) {
            if (!first)
                buf_lit(out, ",");
            first = false;
            buf_lit(out, "\"");
            buf_append(out, name, outer);
            buf_lit(out, "\":{");
            open = outer;
            open_name = name;
            first_inner = true;
        }
        const char *member = outer > 0 ? name + outer + 1 : name;
        bool *first_here = outer > 0 ? &first_inner : &first;
        if (!*first_here)
            buf_lit(out, ",");
        *first_here = false;
        buf_lit(out, "\"");
        buf_append(out, member, strlen(member));
        buf_lit(out, "\":");
        int c = col + (int)i;
        if (PQgetisnull(res, row, c)) {
            buf_lit(out, "null");
            continue;
        }
        const char *v = PQgetvalue(res, row, c);
        char t[API_TIME_LEN];
        switch (shape->fields[i].kind) {
        case API_TEXT:
            buf_json_string(out, v, (size_t)PQgetlength(res, row, c));
            break;
        case API_TIME:
            buf_json_string(out, api_time_text(v, t) ? t : v, SIZE_MAX);
            break;
        case API_INT:
        case API_JSON: /* built by PostgreSQL: valid JSON */
            buf_append(out, v, (size_t)PQgetlength(res, row, c));
            break;
        case API_BOOL:
            if (v[0] == 't')
                buf_lit(out, "true");
            else
                buf_lit(out, "false");
            break;
        }
    }
    if (open > 0)
        buf_lit(out, "}");
    buf_lit(out, "}");
}

/* One CSV field (RFC 4180): quoted when it holds a comma, a quote or a line
 * break; a field that a spreadsheet would run as a formula gets a leading
 * quote character. */
static void csv_field(struct buf *out, const char *v)
{
    bool formula = v[0] == '=' || v[0] == '+' || v[0] == '-' || v[0] == '@';
    if (strpbrk(v, ",\"\r\n") == NULL && !formula) {
        buf_append(out, v, strlen(v));
        return;
    }
    buf_lit(out, "\"");
    if (formula)
        buf_lit(out, "'");
    for (const char *p = v; *p != '\0'; p++) {
        if (*p == '"')
            buf_lit(out, "\"");
        buf_append(out, p, 1);
    }
    buf_lit(out, "\"");
}

void api_csv_header(struct buf *out, const struct api_shape *shape)
{
    for (size_t i = 0; i < shape->n; i++) {
        if (i > 0)
            buf_lit(out, ",");
        csv_field(out, shape->fields[i].name);
    }
    buf_lit(out, "\r\n");
}

void api_csv_row(struct buf *out, const PGresult *res, int row, int col,
                 const struct api_shape *shape)
{
    for (size_t i = 0; i < shape->n; i++) {
        if (i > 0)
            buf_lit(out, ",");
        if (PQgetisnull(res, row, col + (int)i))
            continue;
        const char *v = PQgetvalue(res, row, col + (int)i);
        char t[API_TIME_LEN];
        if (shape->fields[i].kind == API_TIME && api_time_text(v, t))
            v = t;
        else if (shape->fields[i].kind == API_BOOL)
            v = v[0] == 't' ? "true" : "false";
        csv_field(out, v);
    }
    buf_lit(out, "\r\n");
}

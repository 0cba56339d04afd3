/* The resources: one file per resource in src/api.  Handlers are thin: parse
 * and validate, call the core and the database, end in one reply. */
#ifndef ALLOT_API_H
#define ALLOT_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "allot/buf.h"
#include "allot/db.h"
#include "allot/http.h"
#include "allot/json_spec.h"
#include "allot/store.h"

struct app;

/* The route table of allotd (src/api/routes.c): every path it serves, who
 * may call it, and whether it reads a JSON body. */
extern const struct http_route api_routes[];
extern const size_t api_routes_count;

/* Handlers, referenced by the route table. */
void api_health(struct http_request *r);
void api_ready(struct http_request *r);
void api_metrics(struct http_request *r);
void api_apikeys_create(struct http_request *r);
void api_apikeys_list(struct http_request *r);
void api_apikeys_get(struct http_request *r);
void api_apikeys_delete(struct http_request *r);
void api_users_create(struct http_request *r);
void api_users_list(struct http_request *r);
void api_users_get(struct http_request *r);
void api_users_update(struct http_request *r);
void api_users_delete(struct http_request *r);
void api_license_get(struct http_request *r);
void api_license_put(struct http_request *r);
void api_license_definition(struct http_request *r);
void api_license_sync(struct http_request *r);
void api_allocations_create(struct http_request *r);
void api_allocations_list(struct http_request *r);
void api_allocations_get(struct http_request *r);
void api_allocations_delete(struct http_request *r);
void api_allocations_reinstate(struct http_request *r);
void api_rules_create(struct http_request *r);
void api_rules_list(struct http_request *r);
void api_rules_get(struct http_request *r);
void api_rules_update(struct http_request *r);
void api_rules_delete(struct http_request *r);
void api_sessions_start(struct http_request *r);
void api_sessions_list(struct http_request *r);
void api_sessions_events(struct http_request *r);
void api_sessions_get(struct http_request *r);
void api_sessions_end(struct http_request *r);
void api_sessions_heartbeat(struct http_request *r);
void api_reports_usage(struct http_request *r);
void api_webhooks_create(struct http_request *r);
void api_webhooks_list(struct http_request *r);
void api_webhooks_get(struct http_request *r);
void api_webhooks_delete(struct http_request *r);
void api_webhooks_test(struct http_request *r);
void api_webhooks_deliveries(struct http_request *r);
void api_scim_users_list(struct http_request *r);
void api_scim_users_create(struct http_request *r);
void api_scim_users_get(struct http_request *r);
void api_scim_users_replace(struct http_request *r);
void api_scim_users_patch(struct http_request *r);
void api_scim_users_delete(struct http_request *r);
void api_scim_groups_list(struct http_request *r);
void api_scim_groups_create(struct http_request *r);
void api_scim_groups_get(struct http_request *r);
void api_scim_groups_replace(struct http_request *r);
void api_scim_groups_patch(struct http_request *r);
void api_scim_groups_delete(struct http_request *r);
void api_scim_service_provider_config(struct http_request *r);
void api_scim_resource_types(struct http_request *r);
void api_scim_resource_type(struct http_request *r);
void api_scim_schemas(struct http_request *r);
void api_scim_schema(struct http_request *r);
void api_idle_release_list(struct http_request *r);
void api_idle_release_get(struct http_request *r);
void api_idle_release_put(struct http_request *r);
void api_idle_release_preview(struct http_request *r);

/* The error dialects of allotd's paths: SCIM's under /scim/v2
 * (src/api/scim_meta.c). */
extern const struct http_error_dialect api_error_dialects[];
extern const size_t api_error_dialects_count;

/* Shared helpers (src/api/common.c). */

/* Maps a failed database status to its reply: 409, 503 with Retry-After, 500. */
void api_reply_db(struct http_request *r, enum db_status s);
/* Validates the JSON body against a spec; on failure replies 400 naming the
 * field and returns false. */
bool api_body(struct http_request *r, const struct jspec *spec, size_t n, json_t **out);
/* True when text is a canonical UUID (36 characters, lower or upper hex). */
bool api_is_uuid(const char *text);
/* Path parameter i as a UUID, or a 404 reply (a malformed id names nothing). */
const char *api_id_param(struct http_request *r, size_t i);

/* A page request: ?limit= and ?cursor=; replies 400 and returns false when bad. */
bool api_page_parse(struct http_request *r, struct db_page *p);
/* Query parameter as a filter: NULL when absent; replies 400 and sets *bad when
 * present but not acceptable text. */
const char *api_filter(struct http_request *r, const char *name, bool *bad);

/* ---- presentation (src/api/present.c) -------------------------------------- */

/* How a column is shown: text, an RFC 3339 time, an integer, a boolean, or
 * JSON the database built (arrays). */
enum api_kind { API_TEXT, API_TIME, API_INT, API_BOOL, API_JSON };
struct api_field {
    const char *name; /* the member; "user.id" is the member id of the object user */
    enum api_kind kind;
};
/* A resource: its members in the order of its columns. */
struct api_shape {
    const struct api_field *fields;
    size_t n;
};
extern const struct api_shape api_user_shape, api_apikey_shape, api_allocation_shape,
    api_rule_shape, api_session_shape, api_event_shape, api_usage_point_shape,
    api_idle_policy_shape, api_idle_candidate_shape;
extern const struct api_shape api_webhook_shape, api_delivery_shape;

/* The object of row `row` whose columns start at `col`: as jansson, and as
 * JSON text appended to out (the replies: no tree is built).  The members of
 * a nested object ("user.id", "user.userId") are consecutive in a shape. */
json_t *api_row_object(const PGresult *res, int row, int col, const struct api_shape *shape);
void api_row_json(struct buf *out, const PGresult *res, int row, int col,
                  const struct api_shape *shape);
/* A timestamptz as PostgreSQL shows it (UTC, ISO) to RFC 3339 with
 * microseconds ("2026-01-31T23:59:59.000000Z"); false when it is not one. */
#define API_TIME_LEN 32
bool api_time_text(const char *pg, char out[API_TIME_LEN]);
/* CSV (RFC 4180) of the same shapes: the header line, and one row. */
void api_csv_header(struct buf *out, const struct api_shape *shape);
void api_csv_row(struct buf *out, const PGresult *res, int row, int col,
                 const struct api_shape *shape);

/* ---- replies --------------------------------------------------------------- */

/* Maps a failed database status to its reply: 409, 503 with Retry-After, 500. */
void api_reply_db(struct http_request *r, enum db_status s);
/* The resource of row 0 (columns from 1, after the outcome): 201 with
 * Location when status is 201, else status.  Takes the result. */
void api_reply_row(struct http_request *r, unsigned status, PGresult *res,
                   const struct api_shape *shape);
/* Replies to a list statement's result (see store.h): {"data": [...],
 * "links": {"next": ...}}; filters are the query parameters to carry into
 * the next link (NULL-terminated).  Takes the result. */
void api_reply_page(struct http_request *r, PGresult *res, const struct db_page *p,
                    const struct api_shape *shape, const char *const *filters);

/* ---- lists (src/api/lists.c) ------------------------------------------------ */

/* Replies to a list statement's result as api_reply_page does, or as CSV
 * when the request's Accept asks for text/csv (the same page: a header line,
 * its rows, and the next page in a Link header).  Takes the result. */
void api_reply_list(struct http_request *r, PGresult *res, const struct db_page *p,
                    const struct api_shape *shape, const char *const *filters);
/* True when Accept names text/csv and prefers it to application/json. */
bool api_wants_csv(struct http_request *r);
/* Appends the URL of the next page (the request's path, its filters among
 * `filters`, limit and a cursor after the row at (ts_us, id)) to out; false
 * when the cursor key cannot be read or out overflows. */
bool api_next_link(struct http_request *r, const struct db_page *p, const char *ts_us,
                   const char *id, const char *const *filters, struct buf *out);

/* A time query parameter (RFC 3339, any offset). */
struct api_time {
    bool given;
    int64_t secs; /* unix seconds */
    long us;      /* and microseconds */
    char pg[48];  /* as a timestamptz literal, UTC, to the microsecond */
};
/* Reads query parameter name into out: false when absent, or when it is not
 * an RFC 3339 time (then it replies 400 naming it and sets *bad).  Does
 * nothing once *bad is set. */
bool api_time_query(struct http_request *r, const char *name, struct api_time *out, bool *bad);

/* The engine's outcomes (allot/outcomes.def, the words of sql/outcome.sql). */
enum api_outcome {
#define SUCCESS(word) API_OUTCOME_##word,
#define REFUSE(word, error, field, message) API_OUTCOME_##word,
#include "allot/outcomes.def"
#undef SUCCESS
#undef REFUSE
    API_OUTCOME_COUNT
};
/* The outcome of a word (API_OUTCOME_COUNT when unknown), and back. */
enum api_outcome api_outcome_parse(const char *word);
const char *api_outcome_word(enum api_outcome o);
/* The outcome in column 0 of row 0 of a decision's result. */
enum api_outcome api_outcome_of(const PGresult *res);
/* The reply to a refusal: its error, field and message from outcomes.def,
 * with resultCode when given (license checks). */
void api_reply_refusal(struct http_request *r, enum api_outcome o, const char *result_code);
/* Either: the resource (status ok_status) on a success, or the refusal.
 * Takes the result. */
void api_reply_decision(struct http_request *r, enum db_status s, PGresult *res,
                        unsigned ok_status, const struct api_shape *shape);

/* Replies the text built in body (status, Content-Type type), or 500 when it
 * overflowed; frees body either way. */
void api_reply_buf(struct http_request *r, unsigned status, const char *type, struct buf *body);

/* A decision of the engine on the resource the path's id names, taken now:
 * call(pool, id, now) answers the resource or a refusal.  The reply: 204 when
 * the outcome is `empty_on` (API_OUTCOME_COUNT: never), else as
 * api_reply_decision with ok_status.  changes_license: the decision may
 * change what GET /license shows (units, quarantine). */
typedef enum db_status (*api_id_call)(struct db_pool *p, const char *id, const char *now,
                                      PGresult **out);
void api_id_decision(struct http_request *r, api_id_call call, enum api_outcome empty_on,
                     unsigned ok_status, const struct api_shape *shape, bool changes_license);
/* The first half of every call on the path's id: reads the id (false, with
 * the 400 made, when it is not one), then *s = call(pool, id, now, res). */
bool api_id_call_now(struct http_request *r, api_id_call call, PGresult **res, enum db_status *s);

/* ---- allotd export-events (src/api/export.c) ---------------------------------- */
/* Writes the audit trail at or after from and before to (RFC 3339 texts, or
 * NULL: unbounded) to out as JSON Lines, oldest first; *lines = the events
 * written.  0 when all were written, else 1 with the reason in err. */
struct db_pool;
int api_export_events(struct db_pool *p, const char *from, const char *to, FILE *out,
                      long long *lines, char *err, size_t errlen);

/* ---- the license (src/api/license.c) ---------------------------------------- */

/* The license as GET /license shows it, from a cache that a change anywhere
 * (NOTIFY allot_license) or the passing of time (the view's changes_at)
 * empties.  The reply body is shared: do not change it. */
void api_reply_license(struct http_request *r);
/* Appends the licensing gauges of /metrics (from the same view). */
void api_license_metrics(struct app *a, struct buf *out);
/* Forgets the cached view: a change was made or notified. */
void api_license_changed(struct app *a);
struct api_license_cache *api_license_cache_new(void);
void api_license_cache_free(struct api_license_cache *c);

/* Cursors: keyset positions (timestamp in microseconds, UUID) with an HMAC, so
 * a forged or altered cursor is refused.  Pure; key is 32 bytes. */
#define API_CURSOR_LEN 43
void api_cursor_encode(const unsigned char key[32], int64_t ts_us, const char *uuid,
                       char out[API_CURSOR_LEN + 1]);
bool api_cursor_decode(const unsigned char key[32], const char *text, int64_t *ts_us,
                       char uuid[37]);

#endif

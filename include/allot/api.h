/* The resources: one file per resource in src/api.  Handlers are thin: parse
 * and validate, call the core and the database, end in one reply. */
#ifndef ALLOT_API_H
#define ALLOT_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "allot/db.h"
#include "allot/http.h"
#include "allot/json_spec.h"

/* Handlers, referenced by the route table (src/http/routes.c). */
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

/* Shared helpers (src/api/common.c). */

/* Maps a failed database status to its reply: 409, 503 with Retry-After, 500. */
void api_reply_db(struct http_request *r, enum db_status s);
/* A resource: 201 with Location when status is 201, else status. */
void api_reply_entity(struct http_request *r, unsigned status, json_t *body);
/* Validates the JSON body against a spec; on failure replies 400 naming the
 * field and returns false. */
bool api_body(struct http_request *r, const struct jspec *spec, size_t n, json_t **out);
/* True when text is a canonical UUID (36 characters, lower or upper hex). */
bool api_is_uuid(const char *text);
/* Path parameter i as a UUID, or a 404 reply (a malformed id names nothing). */
const char *api_id_param(struct http_request *r, size_t i);

/* A page request: ?limit= and ?cursor=; replies 400 and returns false when bad. */
struct api_page {
    int limit;
    bool has_after;
    char after_ts[24]; /* microseconds since the epoch, decimal */
    char after_id[37];
};
bool api_page_parse(struct http_request *r, struct api_page *p);
/* Query parameter as a filter: NULL when absent; replies 400 and sets *bad when
 * present but not acceptable text. */
const char *api_filter(struct http_request *r, const char *name, bool *bad);

/* Builds {"data": rows, "links": {"next": ...}} from a result whose columns
 * are (json, ts_us, id) and that holds up to limit + 1 rows; filters are the
 * query parameters to carry into the next link (NULL-terminated name list). */
void api_reply_page(struct http_request *r, PGresult *res, const struct api_page *p,
                    const char *const *filters);

/* Parses column 0 of row 0 (a JSON text built by the database). */
json_t *api_row_json(PGresult *res, int row);

/* The license as GET /license shows it, from db_license_raw's JSON (NULL: none
 * applied); now in unix seconds. */
json_t *api_license_view_steal(json_t *raw, int64_t now);
void api_reply_license(struct http_request *r);

/* Cursors: keyset positions (timestamp in microseconds, UUID) with an HMAC, so
 * a forged or altered cursor is refused.  Pure; key is 32 bytes. */
#define API_CURSOR_LEN 43
void api_cursor_encode(const unsigned char key[32], int64_t ts_us, const char *uuid,
                       char out[API_CURSOR_LEN + 1]);
bool api_cursor_decode(const unsigned char key[32], const char *text, int64_t *ts_us,
                       char uuid[37]);

#endif

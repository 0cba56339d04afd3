/* HTTP layer: daemon, route table, per-request context and replies.
 *
 * The router alone answers 404, 405 (with Allow), HEAD, authentication and the
 * role check; a handler parses, calls the core and the database, and ends in
 * exactly one reply call (http_reply_*). */
#ifndef ALLOT_HTTP_H
#define ALLOT_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "allot/errors.h"

struct app;
struct http_request;

typedef void (*http_handler)(struct http_request *r);

/* Roles of API keys; a route lists the roles it admits. */
enum {
    ROLE_ADMIN = 1u << 0,
    ROLE_AUDITOR = 1u << 1,
    ROLE_PROXY = 1u << 2,
    ROLE_SCIM = 1u << 3, /* a directory's provisioning client: /scim/v2 only */
};
#define ROLE_PUBLIC 0u /* no key needed */
#define ROLE_ANY (ROLE_ADMIN | ROLE_AUDITOR | ROLE_PROXY)
#define ROLE_READ (ROLE_ADMIN | ROLE_AUDITOR)

#define HTTP_MAX_PARAMS 4
#define HTTP_BODY_LIMIT (1024u * 1024u)
/* The largest reply body allotd builds (a page of 1000 rows fits). */
#define HTTP_REPLY_LIMIT (16u * 1024u * 1024u)
/* A request target (path and query) allot takes: longer, or with more query
 * parameters, is 414 LICENSES-UriTooLong (no route takes more than a few). */
#define HTTP_MAX_TARGET 8192u
#define HTTP_MAX_QUERY_PARAMS 64u
/* libmicrohttpd's memory pool of one connection.  It holds the request line
 * and headers as read, a record (about 50 bytes) per header and query
 * parameter, and the reply's headers; 64 KiB takes a target of HTTP_MAX_TARGET
 * with HTTP_MAX_QUERY_PARAMS parameters and some 40 KiB of headers.  A head
 * larger than the pool is refused by libmicrohttpd itself (414 or 431, with
 * its own body).  1024 connections hold at most 64 MiB of pools. */
#define HTTP_CONNECTION_MEMORY ((size_t)64 * 1024)

struct http_route {
    const char *method;  /* "GET", "POST", ... (HEAD is served by GET routes) */
    const char *pattern; /* "/users/{id}": a {name} segment captures one segment;
                          * a last {name*} segment the rest of the path */
    http_handler handler;
    unsigned roles;      /* ROLE_PUBLIC or a mask of ROLE_* */
    bool needs_body;     /* the route reads a JSON body */
};

/* Role names: "admin", "auditor", "proxy", "scim"; 0 when unknown. */
const char *http_role_name(unsigned role);
unsigned http_role_parse(const char *name);

/* Who calls: the key's role and id, from its secret (the Bearer). */
#define HTTP_KEY_ID_LEN 40
enum http_auth { HTTP_AUTH_OK, HTTP_AUTH_UNKNOWN, HTTP_AUTH_UNAVAILABLE };
typedef enum http_auth (*http_authenticate_fn)(struct app *a, const char *secret,
                                               unsigned *role, char key_id[HTTP_KEY_ID_LEN]);

/* Errors of the paths under a prefix answered in another shape (SCIM's,
 * RFC 7644 section 3.12): shape_steal turns allot's error body (errorType,
 * message, statusCode, corrId, field and the extra members) into the
 * dialect's; content_type is its media type.  Successes are the handlers'. */
struct http_error_dialect {
    const char *prefix; /* "/scim/v2": that path and everything under it */
    const char *content_type;
    json_t *(*shape_steal)(json_t *body);
};

/* What a server serves: its route table and how it knows a key (the api
 * layer gives both: api_routes and auth_check), and the error dialects of
 * some paths (may be NULL). */
struct http_service {
    const struct http_route *routes;
    size_t nroutes;
    http_authenticate_fn authenticate;
    const struct http_error_dialect *dialects;
    size_t ndialects;
};

enum route_match {
    ROUTE_FOUND,
    ROUTE_NO_PATH,
    ROUTE_NO_METHOD,
};

/* Pure matcher over a table.  On ROUTE_FOUND, *found is set and params[i] point
 * into copies written to buf (path segments, percent-decoding not applied).
 * On ROUTE_NO_METHOD, allow receives "GET, HEAD, POST" style text. */
enum route_match http_route_match(const struct http_route *table, size_t n,
                                  const char *method, const char *path,
                                  const struct http_route **found,
                                  char *buf, size_t buflen,
                                  const char *params[HTTP_MAX_PARAMS], size_t *nparams,
                                  char *allow, size_t allowlen);

/* Accessors a handler uses. */
struct app *http_app(const struct http_request *r);
const char *http_param(const struct http_request *r, size_t i);
const char *http_query(const struct http_request *r, const char *name);
const char *http_header(const struct http_request *r, const char *name);
const char *http_corr_id(const struct http_request *r);
const char *http_method(const struct http_request *r);
const char *http_path(const struct http_request *r);
json_t *http_body(const struct http_request *r); /* borrowed; NULL without body */
unsigned http_role(const struct http_request *r); /* role of the caller's key */
const char *http_key_id(const struct http_request *r); /* id of the caller's key */

/* Replies: exactly one per request. */
void http_reply_json_steal(struct http_request *r, unsigned status, json_t *body);
/* 201 with Location: the request's path + "/" + the body's "id". */
void http_reply_created_steal(struct http_request *r, json_t *body);
void http_reply_empty(struct http_request *r, unsigned status);
void http_reply_text(struct http_request *r, unsigned status, const char *content_type,
                     const char *text, size_t len);
/* The same, taking text (malloc'd). */
void http_reply_text_steal(struct http_request *r, unsigned status, const char *content_type,
                           char *text, size_t len);
/* message NULL = the registry's default message; field NULL = none. */
void http_reply_error(struct http_request *r, enum http_error e, const char *field,
                      const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* An error whose body carries extra members (resultCode, ...). */
void http_reply_error_extra_steal(struct http_request *r, enum http_error e,
                                  const char *message, json_t *extra);
/* Adds a header to the reply that follows. */
void http_add_header(struct http_request *r, const char *name, const char *value);

#endif

#ifndef ALLOT_HTTP_SERVER_DECLS
#define ALLOT_HTTP_SERVER_DECLS
struct http_server;
struct http_tls;
/* Binds the listening socket of ALLOT_LISTEN; nothing is served yet, so the
 * caller can start what handlers need first.  tls (NULL: plain HTTP) stays
 * the caller's, to reload and to free after http_server_stop.  NULL with one
 * line naming ALLOT_LISTEN in err. */
struct http_server *http_server_bind(struct app *a, const struct http_service *service,
                                     struct http_tls *tls, char *err,
                                     size_t errlen);
/* Starts libmicrohttpd (internal thread pool, epoll) on the bound socket. */
bool http_server_start(struct http_server *s, char *err, size_t errlen);
/* Stops accepting, waits up to timeout_s for requests in flight, stops (also
 * a server bound and never started). */
void http_server_stop(struct http_server *s, int64_t timeout_s);
/* A fresh correlation id (32 hex digits). */
void http_new_corr_id(char out[33]);
#endif

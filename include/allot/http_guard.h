/* The connection guard of a libmicrohttpd daemon: what one client may hold of
 * the server, so that slow or silent clients cannot take it from the others.
 *
 *   - a deadline for the whole request head (counted from the accept, or from
 *     the previous reply on a kept-alive connection), so trickling one header
 *     line at a time no longer keeps a connection forever (libmicrohttpd's own
 *     timeout only counts idle time);
 *   - a deadline for the whole body, counted from the end of the head;
 *   - a cap per client address (libmicrohttpd refuses the connection);
 *   - a global cap that keeps room: when the connections open reach the cap
 *     less a reserve (1/16 of it), each new connection closes the one that has
 *     waited longest for its request head (then for its body), so a client
 *     that sends its request at once (GET /health, a session start) is served;
 *   - a budget of memory for all the request bodies in flight together.
 *
 * A connection past its deadline, or evicted, is shut down (the socket): it
 * gets no reply, since libmicrohttpd can send none before the request is
 * complete.  Both allotd (src/http/daemon.c) and allot-authority serve use it. */
#ifndef ALLOT_HTTP_GUARD_H
#define ALLOT_HTTP_GUARD_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <microhttpd.h>

struct http_guard_options {
    unsigned max_connections;   /* open at once, in all (libmicrohttpd's limit) */
    unsigned per_address;       /* open at once from one address; 0: no cap */
    int64_t head_timeout_ms;    /* to send a whole request head */
    int64_t body_timeout_ms;    /* to send a whole body once the head is in */
    size_t body_budget;         /* bytes all bodies in flight may hold together */
    size_t connection_memory;   /* libmicrohttpd's memory pool of one connection */
    const char *name;           /* for the log: "allotd", "allot-authority" */
};

struct http_guard;

/* Starts the guard's watchdog thread; NULL when it cannot. */
struct http_guard *http_guard_new(const struct http_guard_options *o);
/* After MHD_stop_daemon: stops the watchdog, frees what is left. */
void http_guard_free(struct http_guard *g);

/* The options to give MHD_start_daemon as MHD_OPTION_ARRAY: the connection
 * limits, the memory pool and the connection callback. */
const struct MHD_OptionItem *http_guard_mhd_options(struct http_guard *g);

/* What a connection is doing: waiting for a request head, reading a body
 * (each with its deadline), or busy with a request (no deadline). */
enum http_guard_phase { HTTP_GUARD_HEAD, HTTP_GUARD_BODY, HTTP_GUARD_BUSY };
/* Called from the request callbacks of the connection. */
void http_guard_phase(struct MHD_Connection *conn, enum http_guard_phase phase);

/* The body budget: takes n bytes (false, nothing taken, when fewer are left)
 * and gives them back. */
bool http_guard_body_take(struct http_guard *g, size_t n);
void http_guard_body_give(struct http_guard *g, size_t n);
size_t http_guard_body_free(struct http_guard *g);

/* libmicrohttpd's logger (MHD_OPTION_EXTERNAL_LOGGER, first option, with the
 * guard as its closure): its messages go to the log, except the one it writes
 * for each connection refused over a limit, which the guard counts into a
 * summary line (at most one per 10 s): a flood of connections must not become
 * a flood of log lines. */
void http_guard_mhd_log(void *guard, const char *fmt, va_list ap);

#endif

/* The connection guard (include/allot/http_guard.h).
 *
 * Each connection has a record from libmicrohttpd's "started" notification to
 * its "closed" one.  A connection waiting for a request head, or reading a
 * body, sits in the list of that phase; every connection of a list got the
 * same timeout when it entered, so each list is in deadline order and the
 * watchdog only ever looks at the fronts.  A connection past its deadline, or
 * evicted to make room, is shut down; libmicrohttpd then sees it end and
 * closes it.  libmicrohttpd notifies "closed" before it closes the socket, and
 * the record leaves the lists under the lock in that notification, so the
 * watchdog never shuts down a socket number that a newer connection reuses. */
#include "allot/http_guard.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "allot/log.h"

#define REPORT_EVERY_NS (10 * 1000000000LL) /* at most one summary line per 10 s */

struct guard_conn {
    struct http_guard *g;
    struct guard_conn *prev, *next; /* in lists[phase] while HEAD or BODY */
    MHD_socket fd;
    enum http_guard_phase phase;
    bool listed;
    bool closing; /* shut down by the guard; not yet closed by libmicrohttpd */
    int64_t deadline_ns;
};

struct conn_list {
    struct guard_conn *first, *last;
};

struct http_guard {
    struct http_guard_options o;
    unsigned soft_limit; /* open connections above this evict the slowest */
    atomic_size_t body_free;
    struct MHD_OptionItem mhd[5];

    pthread_mutex_t lock;
    pthread_cond_t wake;
    pthread_t thread;
    bool stop;
    struct conn_list lists[2]; /* HTTP_GUARD_HEAD, HTTP_GUARD_BODY */
    unsigned open, closing;

    /* What the next summary line reports. */
    unsigned long late_heads, late_bodies, evicted, refused, left;
    int64_t reported_ns;
};

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void list_remove(struct http_guard *g, struct guard_conn *c)
{
    if (!c->listed)
        return;
    struct conn_list *l = &g->lists[c->phase];
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        l->first = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    else
        l->last = c->prev;
    c->prev = c->next = NULL;
    c->listed = false;
}

static void list_append(struct http_guard *g, struct guard_conn *c)
{
    struct conn_list *l = &g->lists[c->phase];
    c->prev = l->last;
    c->next = NULL;
    if (l->last != NULL)
        l->last->next = c;
    else
        l->first = c;
    l->last = c;
    c->listed = true;
}

/* Shuts the connection down (lock held).  libmicrohttpd sees its socket end at
 * the next event and closes it. */
static void cut(struct http_guard *g, struct guard_conn *c)
{
    list_remove(g, c);
    c->closing = true;
    g->closing++;
    shutdown(c->fd, SHUT_RDWR);
}

/* Makes room for a new connection (lock held): the connection that has waited
 * longest for its request head goes, else the one that has read its body the
 * longest; never one that is busy with a request, nor the newcomer. */
static void make_room(struct http_guard *g, struct guard_conn *newcomer)
{
    for (int phase = HTTP_GUARD_HEAD; phase <= HTTP_GUARD_BODY; phase++) {
        struct guard_conn *victim = g->lists[phase].first;
        if (victim == newcomer)
            victim = victim->next;
        if (victim != NULL) {
            cut(g, victim);
            g->evicted++;
            return;
        }
    }
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
    struct http_guard *g = cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *fd =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        struct guard_conn *c = fd != NULL ? calloc(1, sizeof *c) : NULL;
        *socket_context = c;
        if (c == NULL)
            return; /* unguarded: libmicrohttpd's idle timeout still applies */
        c->g = g;
        c->fd = fd->connect_fd;
        c->phase = HTTP_GUARD_HEAD;
        pthread_mutex_lock(&g->lock);
        c->deadline_ns = mono_ns() + g->o.head_timeout_ms * 1000000;
        bool was_empty = g->lists[HTTP_GUARD_HEAD].first == NULL;
        list_append(g, c);
        g->open++;
        if (g->open - g->closing > g->soft_limit)
            make_room(g, c);
        if (was_empty)
            pthread_cond_signal(&g->wake);
        pthread_mutex_unlock(&g->lock);
        return;
    }
    struct guard_conn *c = *socket_context;
    if (c == NULL)
        return;
    pthread_mutex_lock(&g->lock);
    list_remove(g, c);
    g->open--;
    if (c->closing)
        g->closing--;
    pthread_mutex_unlock(&g->lock);
    free(c);
    *socket_context = NULL;
}

void http_guard_phase(struct MHD_Connection *conn, enum http_guard_phase phase)
{
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    struct guard_conn *c = info != NULL ? info->socket_context : NULL;
    if (c == NULL)
        return;
    struct http_guard *g = c->g;
    pthread_mutex_lock(&g->lock);
    if (!c->closing && (c->phase != phase || phase == HTTP_GUARD_HEAD)) {
        list_remove(g, c);
        c->phase = phase;
        if (phase != HTTP_GUARD_BUSY) {
            int64_t timeout_ms = phase == HTTP_GUARD_HEAD ? g->o.head_timeout_ms
                                                          : g->o.body_timeout_ms;
            c->deadline_ns = mono_ns() + timeout_ms * 1000000;
            bool was_empty = g->lists[phase].first == NULL;
            list_append(g, c);
            if (was_empty)
                pthread_cond_signal(&g->wake);
        }
    }
    pthread_mutex_unlock(&g->lock);
}

/* One line now and then about the connections the guard closed (lock held
 * while counting; the line is written after). */
static void report(struct http_guard *g, int64_t now)
{
    if (g->late_heads + g->late_bodies + g->evicted + g->refused + g->left == 0 ||
        now - g->reported_ns < REPORT_EVERY_NS)
        return;
    unsigned long heads = g->late_heads, bodies = g->late_bodies, evicted = g->evicted,
                  refused = g->refused, left = g->left;
    unsigned open = g->open;
    g->late_heads = g->late_bodies = g->evicted = g->refused = g->left = 0;
    g->reported_ns = now;
    pthread_mutex_unlock(&g->lock);
    /* Only what the guard did makes it a warning; clients that left are news. */
    log_with(heads + bodies + evicted + refused > 0 ? LOG_WARN : LOG_INFO, NULL,
             json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:I}", "source", g->o.name, "lateHeads",
                       (json_int_t)heads, "lateBodies", (json_int_t)bodies, "evicted",
                       (json_int_t)evicted, "refused", (json_int_t)refused, "clientsLeft",
                       (json_int_t)left, "open", (json_int_t)open),
             "closed %lu connections that sent no complete request head within %llds, %lu "
             "whose body took longer than %llds and %lu to make room; refused %lu over the "
             "connection limits; %lu clients left mid-request",
             heads, (long long)(g->o.head_timeout_ms / 1000), bodies,
             (long long)(g->o.body_timeout_ms / 1000), evicted, refused, left);
    pthread_mutex_lock(&g->lock);
}

static void *watchdog(void *arg)
{
    struct http_guard *g = arg;
    pthread_mutex_lock(&g->lock);
    while (!g->stop) {
        int64_t now = mono_ns();
        int64_t next = now + 1000000000; /* at least once a second, for the report */
        for (int phase = HTTP_GUARD_HEAD; phase <= HTTP_GUARD_BODY; phase++) {
            struct guard_conn *c;
            while ((c = g->lists[phase].first) != NULL && c->deadline_ns <= now) {
                cut(g, c);
                if (phase == HTTP_GUARD_HEAD)
                    g->late_heads++;
                else
                    g->late_bodies++;
            }
            if (c != NULL && c->deadline_ns < next)
                next = c->deadline_ns;
        }
        report(g, now);
        if (g->stop)
            break;
        struct timespec until = {.tv_sec = next / 1000000000, .tv_nsec = next % 1000000000};
        pthread_cond_timedwait(&g->wake, &g->lock, &until);
    }
    pthread_mutex_unlock(&g->lock);
    return NULL;
}

/* libmicrohttpd's messages go to the log, but the one it writes for every
 * connection refused over a limit is counted into the summary instead: a
 * flood of connections must not become a flood of log lines. */
void http_guard_mhd_log(void *cls, const char *fmt, va_list ap)
{
    struct http_guard *g = cls;
    bool refused = strstr(fmt, "reached connection limit") != NULL;
    /* A client that left mid-request: its access line says so already. */
    bool left = strstr(fmt, "closed by remote side") != NULL ||
                strstr(fmt, "socket is closed when reading") != NULL;
    if (refused || left) {
        pthread_mutex_lock(&g->lock);
        if (refused)
            g->refused++;
        else
            g->left++;
        pthread_mutex_unlock(&g->lock);
        return;
    }
    log_external((void *)"libmicrohttpd", fmt, ap);
}

struct http_guard *http_guard_new(const struct http_guard_options *o)
{
    struct http_guard *g = calloc(1, sizeof *g);
    if (g == NULL)
        return NULL;
    g->o = *o;
    unsigned reserve = o->max_connections / 16;
    if (reserve == 0)
        reserve = 1;
    g->soft_limit = o->max_connections > reserve ? o->max_connections - reserve : 0;
    atomic_init(&g->body_free, o->body_budget);
    g->reported_ns = mono_ns();
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&g->wake, &attr);
    pthread_condattr_destroy(&attr);
    pthread_mutex_init(&g->lock, NULL);
    /* The watchdog takes no signal: they are the main thread's to wait for. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    int started = pthread_create(&g->thread, NULL, watchdog, g);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (started != 0) {
        pthread_cond_destroy(&g->wake);
        pthread_mutex_destroy(&g->lock);
        free(g);
        return NULL;
    }
    g->mhd[0] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_LIMIT, (intptr_t)o->max_connections,
                                        NULL};
    g->mhd[1] = (struct MHD_OptionItem){MHD_OPTION_PER_IP_CONNECTION_LIMIT,
                                        (intptr_t)o->per_address, NULL};
    g->mhd[2] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_MEMORY_LIMIT,
                                        (intptr_t)o->connection_memory, NULL};
    g->mhd[3] = (struct MHD_OptionItem){MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)on_connection, g};
    g->mhd[4] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
    return g;
}

const struct MHD_OptionItem *http_guard_mhd_options(struct http_guard *g)
{
    return g->mhd;
}

void http_guard_free(struct http_guard *g)
{
    if (g == NULL)
        return;
    pthread_mutex_lock(&g->lock);
    g->stop = true;
    pthread_cond_signal(&g->wake);
    pthread_mutex_unlock(&g->lock);
    pthread_join(g->thread, NULL);
    pthread_cond_destroy(&g->wake);
    pthread_mutex_destroy(&g->lock);
    free(g);
}

bool http_guard_body_take(struct http_guard *g, size_t n)
{
    size_t have = atomic_load(&g->body_free);
    do {
        if (have < n)
            return false;
    } while (!atomic_compare_exchange_weak(&g->body_free, &have, have - n));
    return true;
}

void http_guard_body_give(struct http_guard *g, size_t n)
{
    atomic_fetch_add(&g->body_free, n);
}

size_t http_guard_body_free(struct http_guard *g)
{
    return atomic_load(&g->body_free);
}

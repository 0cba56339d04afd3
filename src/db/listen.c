/* LISTEN/NOTIFY: what every allotd instance must learn at once (the license
 * changed, an API key was deleted, the engine was replaced) arrives on a
 * connection of its own, owned by one thread.
 *
 * While the connection is down nothing arrives, so the thread tells its
 * caller (fn(NULL)) when it loses the connection and again when it has it
 * back and LISTENs: a cache must not trust itself in between. */
#include "allot/db.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "allot/log.h"

#define RETRY_MIN_MS 200
#define RETRY_MAX_MS 5000
#define MAX_CHANNELS 8

struct db_listener {
    char *url;
    const char *channels[MAX_CHANNELS];
    size_t nchannels;
    db_listen_fn fn;
    void *arg;
    int wake[2]; /* a byte on wake[1] stops the thread */
    atomic_bool up;
    pthread_t thread;
};

static bool stopping(struct db_listener *l, int timeout_ms, int pg_fd)
{
    struct pollfd fds[2] = {{.fd = l->wake[0], .events = POLLIN},
                            {.fd = pg_fd, .events = POLLIN}};
    int rc = poll(fds, pg_fd >= 0 ? 2 : 1, timeout_ms);
    return rc > 0 && (fds[0].revents & POLLIN);
}

static PGconn *connect_and_listen(struct db_listener *l)
{
    const char *keys[] = {"dbname", "application_name", "connect_timeout", "keepalives",
                          "keepalives_idle", "keepalives_interval", "keepalives_count", NULL};
    const char *vals[] = {l->url, "allotd-listen", "5", "1", "30", "10", "3", NULL};
    PGconn *pg = PQconnectdbParams(keys, vals, 1);
    if (PQstatus(pg) != CONNECTION_OK) {
        PQfinish(pg);
        return NULL;
    }
    for (size_t i = 0; i < l->nchannels; i++) {
        char sql[96];
        snprintf(sql, sizeof sql, "LISTEN %s", l->channels[i]);
        PGresult *r = PQexec(pg, sql);
        bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
        PQclear(r);
        if (!ok) {
            PQfinish(pg);
            return NULL;
        }
    }
    return pg;
}

/* Reads what arrived; false when the connection is gone. */
static bool drain(struct db_listener *l, PGconn *pg)
{
    if (PQconsumeInput(pg) != 1 || PQstatus(pg) != CONNECTION_OK)
        return false;
    PGnotify *n;
    while ((n = PQnotifies(pg)) != NULL) {
        l->fn(n->relname, l->arg);
        PQfreemem(n);
    }
    return true;
}

static void *run(void *arg)
{
    struct db_listener *l = arg;
    int retry_ms = RETRY_MIN_MS;
    bool logged_down = false;
    for (;;) {
        PGconn *pg = connect_and_listen(l);
        if (pg == NULL) {
            if (!logged_down)
                log_warn(NULL, "LISTEN connection to PostgreSQL failed; caches are bypassed "
                         "until it is back");
            logged_down = true;
            if (stopping(l, retry_ms, -1))
                return NULL;
            retry_ms = retry_ms * 2 > RETRY_MAX_MS ? RETRY_MAX_MS : retry_ms * 2;
            continue;
        }
        if (logged_down)
            log_info(NULL, "LISTEN connection to PostgreSQL is back");
        logged_down = false;
        retry_ms = RETRY_MIN_MS;
        atomic_store(&l->up, true);
        l->fn(NULL, l->arg); /* whatever changed while it was down */
        bool stop = false;
        while (!(stop = stopping(l, -1, PQsocket(pg))) && drain(l, pg))
            ;
        atomic_store(&l->up, false);
        l->fn(NULL, l->arg);
        PQfinish(pg);
        if (stop)
            return NULL;
        log_warn(NULL, "LISTEN connection to PostgreSQL lost; caches are bypassed until it "
                 "is back");
        logged_down = true;
    }
}

struct db_listener *db_listener_start(const char *url, const char *const *channels,
                                      db_listen_fn fn, void *arg)
{
    struct db_listener *l = calloc(1, sizeof *l);
    if (l == NULL)
        return NULL;
    l->url = strdup(url);
    for (; channels[l->nchannels] != NULL && l->nchannels < MAX_CHANNELS; l->nchannels++)
        l->channels[l->nchannels] = channels[l->nchannels];
    l->fn = fn;
    l->arg = arg;
    if (l->url == NULL || pipe2(l->wake, O_CLOEXEC | O_NONBLOCK) != 0) {
        free(l->url);
        free(l);
        return NULL;
    }
    if (pthread_create(&l->thread, NULL, run, l) != 0) {
        close(l->wake[0]);
        close(l->wake[1]);
        free(l->url);
        free(l);
        return NULL;
    }
    return l;
}

void db_listener_stop(struct db_listener *l)
{
    if (l == NULL)
        return;
    ssize_t w;
    do
        w = write(l->wake[1], "x", 1);
    while (w < 0 && errno == EINTR);
    pthread_join(l->thread, NULL);
    close(l->wake[0]);
    close(l->wake[1]);
    free(l->url);
    free(l);
}

bool db_listener_up(struct db_listener *l)
{
    return l != NULL && atomic_load(&l->up);
}

/* The reaper: a session with no activity for the idle timeout ends by itself,
 * so a crashed client never holds a pass for ever.  Every instance runs it;
 * the statement skips rows another instance is ending. */
#include <stdio.h>

#include "allot/app.h"
#include "allot/jobs.h"
#include "allot/log.h"
#include "allot/store.h"

static int64_t reap(struct app *a, void *arg)
{
    (void)arg;
    char now[40], idle[24];
    app_wall_pg(now);
    snprintf(idle, sizeof idle, "%lld", (long long)a->cfg->session_idle_timeout);
    int ended = 0;
    enum db_status s = db_reap(a->pool, now, idle, &ended);
    if (s == DB_OK && ended > 0)
        log_info(NULL, "ended %d idle sessions", ended);
    else if (s != DB_OK && s != DB_UNAVAILABLE)
        log_warn(NULL, "the reaper failed (status %d)", (int)s);
    return 0;
}

struct job *reaper_start(struct app *a)
{
    return job_start(a, "reaper", a->cfg->reaper_interval * 1000, reap, NULL);
}

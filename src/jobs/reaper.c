/* The reaper: a session with no activity for the idle timeout ends by itself,
 * so a crashed client never holds a pass for ever.  Every instance runs it;
 * the statement skips rows another instance is ending.
 *
 * On the same tick it applies the idle-release policies (release_idle) and
 * rolls the audit trail up into the hourly and daily
 * usage aggregates (sql/usage_rollup.sql), up to a lag that covers every way
 * an event can be committed after its time: the clocks of the instances (a
 * 5 minute allowance), a statement that waits up to
 * ALLOT_DB_STATEMENT_TIMEOUT_MS before it commits, and an idle session that
 * this reaper ends at the moment it became idle, up to a tick (or two, if one
 * failed) late.
 *
 * Then it applies the retention (ALLOT_RETENTION, sql/retention.sql): ended
 * sessions, audit events and returned login passes older than it go, in
 * batches of PURGE_BATCH rows of each table per transaction, for at most
 * PURGE_BUDGET_MS a tick; the audit trail only once it is rolled up. */
#include <stdio.h>

#include "allot/app.h"
#include "allot/jobs.h"
#include "allot/log.h"
#include "allot/metrics.h"
#include "allot/store.h"

#define CLOCK_ALLOWANCE_S 300
/* One roll-up transaction takes at most a day or 200,000 events of trail
 * (about half a second here), and one tick rolls up for at most 2 s, then the
 * next comes after 1 s: a site with years of trail, or hours of thousands of
 * events a second, catches up in short steps. */
#define ROLLUP_HOURS 24
#define ROLLUP_EVENTS 200000
#define ROLLUP_BUDGET_MS 2000
#define CATCH_UP_DELAY_MS 1000

/* bench/retention: on this machine a batch of 2,000 audit events takes about
 * 23 ms (88,000 rows a second, the slowest batch a quarter of a second on a
 * busy machine), so each transaction holds its row locks briefly and session
 * starts and heartbeats go on beside it; a month of a 5,000-user site goes in
 * minutes, and in the steady state a tick removes a few rows a second's
 * worth. */
#define PURGE_BATCH 2000
#define PURGE_BUDGET_MS 2000

static int64_t rollup_lag(const struct config *cfg)
{
    return CLOCK_ALLOWANCE_S + 2 * cfg->reaper_interval + (cfg->db_statement_timeout_ms + 999) / 1000;
}

/* Rolls up what is due; true when more is due than one tick may do. */
static bool roll_up(struct app *a)
{
    char now[40], lag[24], hours[16], events[16];
    app_wall_pg(now); /* one moment per tick: the steps end where they must */
    snprintf(lag, sizeof lag, "%lld", (long long)rollup_lag(a->cfg));
    snprintf(hours, sizeof hours, "%d", ROLLUP_HOURS);
    snprintf(events, sizeof events, "%d", ROLLUP_EVENTS);
    int64_t deadline = app_now_ms() + ROLLUP_BUDGET_MS;
    int rolled = 0, steps = 0;
    do {
        enum db_status s = db_usage_rollup(a->pool, now, lag, hours, events, &rolled);
        if (s != DB_OK) {
            if (s != DB_UNAVAILABLE)
                log_warn(NULL, "the usage roll-up failed (status %d)", (int)s);
            return false;
        }
        steps += rolled > 0;
    } while (rolled > 0 && app_now_ms() < deadline);
    if (steps > 1)
        log_info(NULL, "rolled up the audit trail in %d steps%s", steps,
                 rolled > 0 ? "; more to come" : "");
    return rolled > 0;
}

/* The release of idle allocations (sql/idle_release.sql): each enabled
 * policy releases at most IDLE_RELEASE_BATCH allocations a tick, so that one
 * transaction stays short; true when a policy had more to release. */
#define IDLE_RELEASE_BATCH 500

static bool release_idle(struct app *a, const char *now)
{
    static const char *const types[] = {"professional", "analyzer"};
    char limit[16];
    snprintf(limit, sizeof limit, "%d", IDLE_RELEASE_BATCH);
    bool more = false;
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        int released = 0;
        enum db_status s = db_idle_release(a->pool, types[i], now, limit, &released);
        if (s != DB_OK) {
            if (s != DB_UNAVAILABLE)
                log_warn(NULL, "the release of idle %s allocations failed (status %d)", types[i],
                         (int)s);
            continue;
        }
        if (released > 0) /* (GET /license hears of it by NOTIFY allot_license) */
            log_info(NULL, "released %d idle %s allocations (the audit trail has each, kind "
                     "release)", released, types[i]);
        more |= released == IDLE_RELEASE_BATCH;
    }
    return more;
}

/* Removes what the retention says is due; true when more is due than one
 * tick may do. */
static bool purge(struct app *a)
{
    char now[40], retention[24], batch[16];
    app_wall_pg(now);
    snprintf(retention, sizeof retention, "%lld", (long long)a->cfg->retention);
    snprintf(batch, sizeof batch, "%d", PURGE_BATCH);
    int64_t deadline = app_now_ms() + PURGE_BUDGET_MS;
    long long total = 0;
    int removed = 0;
    do {
        enum db_status s = db_retention_purge(a->pool, now, retention, batch, &removed);
        if (s != DB_OK) {
            if (s != DB_UNAVAILABLE)
                log_warn(NULL, "the retention failed (status %d)", (int)s);
            return false;
        }
        total += removed;
    } while (removed > 0 && app_now_ms() < deadline);
    if (total > 0) {
        metrics_retention(a->metrics, (uint64_t)total);
        log_info(NULL, "retention: removed %lld rows of history older than ALLOT_RETENTION%s",
                 total, removed > 0 ? "; more to come" : "");
    }
    return removed > 0;
}

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
    bool more = release_idle(a, now);
    bool behind = roll_up(a);
    behind = purge(a) || behind;
    return behind || more ? CATCH_UP_DELAY_MS : 0;
}

struct job *reaper_start(struct app *a)
{
    return job_start(a, "reaper", a->cfg->reaper_interval * 1000, reap, NULL);
}

/* Background jobs: a thread that runs a function every interval, at once when
 * woken, and stops cleanly at shutdown.  The reaper and the sync use it. */
#ifndef ALLOT_JOBS_H
#define ALLOT_JOBS_H

#include <stdint.h>

struct app;
struct job;

/* Returns the delay in milliseconds before the next run (<= 0: the interval). */
typedef int64_t (*job_fn)(struct app *a, void *arg);

struct job *job_start(struct app *a, const char *name, int64_t interval_ms, job_fn fn, void *arg);
void job_wake(struct job *j);
void job_stop(struct job *j);

/* The reaper: every ALLOT_REAPER_INTERVAL ends idle sessions
 * (ALLOT_SESSION_IDLE_TIMEOUT), rolls the audit trail up into the usage
 * aggregates and removes the history older than ALLOT_RETENTION. */
struct job *reaper_start(struct app *a);

#endif

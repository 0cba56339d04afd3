/* The sync with the license backend: a background thread that re-verifies
 * the license every ALLOT_SYNC_INTERVAL (and refreshes its definition, which
 * every reply carries), at once after PUT /license, and on demand. */
#ifndef ALLOT_SYNC_H
#define ALLOT_SYNC_H

#include <stddef.h>
#include <stdint.h>

struct app;
struct sync;

enum sync_outcome {
    SYNC_OK,          /* verified; the license may now be revoked */
    SYNC_FAILED,      /* the backend could not be reached or verified */
    SYNC_OFFLINE,     /* ALLOT_AUTHORITY_URL is not set */
    SYNC_NO_LICENSE,  /* nothing to sync */
    SYNC_SKIPPED,     /* not due, or another instance is syncing */
    SYNC_DB,          /* the database is unreachable */
    SYNC_PENDING,     /* asked for, still under way: a request did not wait for it */
};

const char *sync_outcome_name(enum sync_outcome o);

struct sync *sync_start(struct app *a);
void sync_stop(struct sync *s);
/* Asks the sync thread for a sync now (forced: due or not) and waits for it
 * at most wait_s seconds; SYNC_PENDING when it is not over by then.  Only one
 * caller waits at a time: the others, while one waits, return SYNC_PENDING at
 * once, so requests asking for syncs never hold more than one HTTP worker;
 * and once a wait ran out, none waits again until a sync ends, so a silent
 * backend holds that worker for one wait, not one per request.
 * Requests that come while a sync runs share the next one.  why receives the
 * reason of a failure. */
/* corr (may be NULL): the corrId of the request, which the lines that sync
 * logs carry (of several requests sharing a sync, the first's). */
enum sync_outcome sync_now(struct sync *s, const char *corr, int64_t wait_s, char *why,
                           size_t whylen);

#endif

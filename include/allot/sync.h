/* The sync with the license backend: a background thread that re-verifies
 * the license every ALLOT_SYNC_INTERVAL (and refreshes its definition, which
 * every reply carries), at once after PUT /license, and on demand. */
#ifndef ALLOT_SYNC_H
#define ALLOT_SYNC_H

#include <stddef.h>

struct app;
struct sync;

enum sync_outcome {
    SYNC_OK,          /* verified; the license may now be revoked */
    SYNC_FAILED,      /* the backend could not be reached or verified */
    SYNC_OFFLINE,     /* ALLOT_AUTHORITY_URL is not set */
    SYNC_NO_LICENSE,  /* nothing to sync */
    SYNC_SKIPPED,     /* not due, or another instance is syncing */
    SYNC_DB,          /* the database is unreachable */
};

const char *sync_outcome_name(enum sync_outcome o);

struct sync *sync_start(struct app *a);
void sync_stop(struct sync *s);
/* Runs a sync now on the sync thread and waits for it (forced: due or not).
 * why receives the reason of a failure. */
enum sync_outcome sync_now(struct sync *s, char *why, size_t whylen);

#endif

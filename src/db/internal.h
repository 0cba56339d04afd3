/* What the files of src/db share and nothing else sees. */
#ifndef ALLOT_DB_INTERNAL_H
#define ALLOT_DB_INTERNAL_H

#include "allot/db.h"

/* The batches of a pool (batch.c): NULL when the pool does not batch. */
struct db_batcher;
struct db_batcher *db_batcher_new(struct db_pool *pool, int max_items, int max_inflight);
void db_batcher_free(struct db_batcher *b);
struct db_batcher *db_pool_batcher(struct db_pool *p);

/* Runs sql on a migrating connection (with n params, or a script of several
 * statements when n is 0); logs "migrate: <what> failed: ..." on failure. */
bool db_migrate_exec(PGconn *pg, const char *sql, int n, const char *const *params,
                     const char *what);

#endif

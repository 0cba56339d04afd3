/* What store.c and store_migrate.c share of PostgreSQL. */
#ifndef ALLOT_AUTHORITY_STORE_PG_H
#define ALLOT_AUTHORITY_STORE_PG_H

#include <stddef.h>

#include <libpq-fe.h>

#include "allot/db.h"

/* The authority's migrations, built into the binary. */
extern const struct db_migration authority_migrations[];
extern const size_t authority_migrations_count;

/* The columns of a license's state, in the order state_of_row reads them. */
#define STATE_COLUMNS "license_number, revoked, definition, definition_iat, sync_count, " \
                      "last_sync_at, site, assignments, site_definition_iat, " \
                      "rate_window_start, rate_count"

struct astore;
/* The first connection of a PostgreSQL store (import's transaction). */
PGconn *astore_pg_first(struct astore *s);

/* A connection with the store's session settings; NULL with why. */
PGconn *astore_pg_connect(const char *url, char *why, size_t whylen);
/* One parameterized statement; the result when it has the status wanted,
 * else NULL with why (never the statement's parameters). */
PGresult *astore_pg_exec(PGconn *c, const char *sql, int n, const char *const *params,
                         ExecStatusType want, char *why, size_t whylen);
/* The version of the schema `authority`; -1 with why. */
int astore_pg_schema_version(PGconn *c, char *why, size_t whylen);

#endif

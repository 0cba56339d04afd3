/* allot-authority's internal interface: the command table's helpers (main.c),
 * the commands (keys.c, main.c, serve.c) and the state directory (state.c). */
#ifndef ALLOT_AUTHORITY_H
#define ALLOT_AUTHORITY_H

#include "allot/license.h"
#include "allot/sync_protocol.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define AUTHORITY_PROG "allot-authority"
#define EXIT_USAGE 2

/* ---- commands (main.c) ----------------------------------------------------- */

struct command {
    const char *name;
    int (*run)(const struct command *cmd, int argc, char **argv);
    const char *usage;   /* after "allot-authority " */
    const char *summary;
    const char *help;    /* the options, one per line; NULL: none */
};

/* "allot-authority: CMD: message" on stderr (cmd may be NULL). */
void authority_errorf(const struct command *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* One usage line with a hint on stderr; returns EXIT_USAGE. */
int authority_usage_error(const struct command *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* getopt_long's '?' and ':' answers as one usage line; returns EXIT_USAGE. */
int authority_bad_option(const struct command *cmd, int c, char **argv);
void authority_print_help(const struct command *cmd, FILE *f);
/* A whole decimal integer in [min, max]: no blanks, no trailing text. */
bool authority_parse_i64(const char *s, int64_t min, int64_t max, int64_t *out);
/* 1 to LIC_NUMBER_MAX decimal digits (also keeps a number safe in a file name). */
bool authority_number_ok(const char *s);

int authority_cmd_keygen(const struct command *cmd, int argc, char **argv);  /* keys.c */
int authority_cmd_issue(const struct command *cmd, int argc, char **argv);   /* keys.c */
int authority_cmd_serve(const struct command *cmd, int argc, char **argv);   /* serve.c */
int authority_cmd_sites(const struct command *cmd, int argc, char **argv);   /* sites.c */

/* ---- the state directory (state.c) ----------------------------------------------
 *
 * DIR/licenses/NUMBER.json holds what the authority knows of one license (mode
 * 0600: it holds the license key).  Every change is a read-modify-write under an
 * exclusive flock of DIR/licenses/.lock, so `revoke` run by another process while
 * `serve` answers syncs is never lost; a file is replaced by writing a temporary
 * file, fsync, rename and fsync of the directory, so a reader never sees half. */

struct astate {
    char license_number[LIC_NUMBER_MAX + 1];
    bool revoked;
    char *definition;               /* the current license key (malloc'd), or NULL */
    int64_t definition_iat;         /* its iat (valid when definition != NULL) */
    int64_t sync_count;
    bool synced;                    /* the members below are set */
    int64_t last_sync_at;           /* unix seconds */
    char site[SYNC_SITE_MAX + 1];
    struct sync_assignments assignments;
    int64_t site_definition_iat;    /* definitionIssuedAt the site reported */
    int64_t rate_window_start;       /* the sync rate limit's window (0: none yet) */
    int64_t rate_count;              /* syncs counted in it */
};

/* A fresh state of `number` (nothing known). */
void astate_init(struct astate *st, const char *number);
void astate_free(struct astate *st);

/* Creates DIR and DIR/licenses (mode 0700) when missing and checks that the
 * lock file can be opened.  0 or -1 with `why`. */
int astate_prepare(const char *dir, char *why, size_t whylen);

/* Reads the state of `number` without locking (files are replaced atomically).
 * 1 found, 0 no state recorded (*st is a fresh state), -1 error with `why`. */
int astate_read(const char *dir, const char *number, struct astate *st, char *why,
                size_t whylen);

/* Changes the state of `number` under the lock: reads it (or starts fresh),
 * calls change(st, arg) and, when it returns 0, writes it back.  The state as
 * written is moved into *out (if not NULL; astate_free it).  0, or -1 with `why`
 * (also when change returns non-zero: then `why` is left to change). */
typedef int (*astate_change_fn)(struct astate *st, void *arg, char *why, size_t whylen);
int astate_update(const char *dir, const char *number, astate_change_fn change, void *arg,
                  struct astate *out, char *why, size_t whylen);

/* What GET /v1/licenses/NUMBER shows: no license key.  New reference or NULL. */
json_t *astate_public_json(const struct astate *st);

/* Calls fn for the state of every license number in DIR (sorted); stops at
 * the first non-zero return.  0, or -1 with why. */
int astate_list(const char *dir, int (*fn)(const struct astate *st, void *arg), void *arg,
                char *why, size_t whylen);

/* ---- the store (store.c): the state directory or PostgreSQL -------------------
 *
 * Everything the commands and `serve` keep goes through one interface with
 * two backends: the state directory (above; one machine) and PostgreSQL
 * (--database URL or ALLOT_AUTHORITY_DATABASE_URL; any number of instances on
 * one database).  In PostgreSQL each change is one call of a function of the
 * schema `authority` (migrations/authority/) that takes the license's row lock,
 * so two instances never lose each other's changes. */

#define AUTHORITY_DATABASE_ENV "ALLOT_AUTHORITY_DATABASE_URL"

struct astore;

/* What a sync records (serve.c). */
struct sync_change {
    const struct sync_request *req;
    const char *bearer;
    int64_t bearer_iat;
    int64_t now;
    int64_t rate_limit;     /* syncs per window per license; 0: no limit */
    int64_t rate_window;    /* seconds */
};

enum astore_result { ASTORE_OK = 0, ASTORE_RATE_LIMITED = 1, ASTORE_ERROR = -1 };

/* Opens the directory (created if missing) or connects to the database (its
 * schema must be current: run `migrate`).  conns: connections kept (pg).
 * NULL with why. */
struct astore *astore_open_dir(const char *dir, char *why, size_t whylen);
struct astore *astore_open_pg(const char *url, int conns, char *why, size_t whylen);
void astore_close(struct astore *s);
const char *astore_kind(const struct astore *s);   /* "directory" or "postgresql" */

/* 1 found, 0 nothing recorded (*st fresh), -1 error. */
int astore_read(struct astore *s, const char *number, struct astate *st, char *why,
                size_t whylen);
int astore_set_revoked(struct astore *s, const char *number, bool revoked, char *why,
                       size_t whylen);
int astore_set_definition(struct astore *s, const char *number, const char *key, int64_t iat,
                          char *why, size_t whylen);
/* Records a sync (rate limit first); *out receives the state as recorded (also
 * on ASTORE_RATE_LIMITED: revoked and definition), *retry_after the seconds to
 * wait when limited. */
enum astore_result astore_record_sync(struct astore *s, const char *number,
                                      const struct sync_change *c, struct astate *out,
                                      int64_t *retry_after, char *why, size_t whylen);
/* Every license's state, sorted by number. */
int astore_list(struct astore *s, int (*fn)(const struct astate *st, void *arg), void *arg,
                char *why, size_t whylen);
/* The store answers (the database is reachable and its schema current). */
bool astore_ready(struct astore *s, char *why, size_t whylen);

/* Applies migrations/authority/ to the database (idempotent).  0 or -1. */
int astore_migrate(const char *url, char *why, size_t whylen);
/* Copies every license of the state directory into the database, once: a
 * number the database already has is left as it is.  Counts into *added and
 * *kept.  0 or -1. */
int astore_import(const char *dir, const char *url, int *added, int *kept, char *why,
                  size_t whylen);

/* The store a command names: --state-dir DIR, or --database URL, or else
 * ALLOT_AUTHORITY_DATABASE_URL; exactly one.  NULL after printing the usage
 * error or the failure (*rc receives the exit status). */
struct astore *authority_store_of(const struct command *cmd, const char *dir, const char *url,
                                  int conns, int *rc);


/* ---- the vendor's report (sites.c) ------------------------------------------------- */

/* {"data": [{licenseNumber, organization, product, site, lastSyncAt, syncCount,
 * revoked, offlineGraceSeconds, stale, staleSince, assignments, allotments,
 * tokens}, ...], "stale": N}; NULL with why. */
json_t *authority_sites_json(struct astore *s, int64_t now, char *why, size_t whylen);
/* Licenses whose site has synced, and those of them not seen for longer than
 * their offlineGraceSeconds.  0 or -1. */
int authority_sites_count(struct astore *s, int64_t now, int64_t *seen, int64_t *stale,
                          char *why, size_t whylen);

#endif

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

#endif

/* The table-driven rule tests of the db suite (tests/db/test_rules_*.c): the
 * licensing engine's SQL functions called with p_now passed in, one case a
 * row of a table.
 *
 * A program makes one database, migrates it with `allotd migrate`, and loads
 * the fixture tests/db/rules_fixture.sql (schema t: a clock, a license from a
 * few numbers, users and rules by name, text views of replies and tables).
 * Each case then runs inside one transaction that is rolled back at its end,
 * so no case sees another's rows (each checks that it starts from empty
 * tables, and that the engine's counters agree with real counts when it
 * ends).
 *
 * A case: its name; the license (the arguments of t.license, e.g.
 * "professional => 1, params => '{\"maxParallelSessions\": 2}'"; NULL: no
 * license); the setup (SQL); the steps, each an SQL expression (a call of
 * an engine function with its p_now) and the text t.show makes of its value;
 * and the state left in the tables, in the same form.  A step whose want is
 * NULL is a statement (a production statement that is not a function, such
 * as the DELETE of a rule) that must succeed.
 *
 * TR_CASE=text in the environment runs only the cases whose name contains
 * text (for a run by hand). */
#ifndef ALLOT_TRULES_H
#define ALLOT_TRULES_H

#include <stddef.h>

#include <libpq-fe.h>

#include "tharness.h"

#define TR_STEPS 40
#define TR_AFTER 12

struct tr_step {
    const char *sql;  /* an SQL expression, or a statement when want is NULL */
    const char *want; /* t.show of its value; NULL: a statement that must succeed */
};

/* The engine's calls as the cases write them.  Each spells the SQL call of
 * the production function (a failing step prints it expanded); users are
 * named by their userId, sessions by the name START_AS kept them under, an
 * allocation by its user and type, and at is seconds from the fixture's
 * origin (t.at).  IDLE is the site's idle timeout (30 minutes, the default
 * of ALLOT_SESSION_IDLE_TIMEOUT), passed to heartbeats and the reaper. */
#define IDLE "1800"
#define START(user, at) "engine.session_start(t.uid('" user "'), NULL, NULL, t.at(" #at "))"
#define START_AS(name, user, at) "t.keep('" name "', " START(user, at) ")"
#define BEAT(name, at) "engine.session_heartbeat(t.s('" name "'), t.at(" #at "), " IDLE ")"
#define LOGOUT(name, at) "engine.session_end(t.s('" name "'), t.at(" #at "))"
#define REAP(at) "engine.reap(t.at(" #at "), " IDLE ")"
#define ALLOCATE(user, type, at) \
    "engine.allocation_create(t.uid('" user "'), '" type "', t.at(" #at "))"
#define REMOVE(user, type, at) "engine.allocation_delete(t.a('" user "', '" type "'), t.at(" #at "))"
#define REINSTATE(user, type, at) \
    "engine.allocation_reinstate(t.a('" user "', '" type "'), t.at(" #at "))"
#define DELETE_USER(user, at) "engine.user_delete(t.uid('" user "'), t.at(" #at "))"

/* Users u1..un in the given groups; starting sessions for u<from>..u<to>,
 * each kept under its user's name: the distinct replies. */
#define USERS(n, groups) "SELECT t.user('u' || i, '" groups "') FROM generate_series(1, " #n ") i;"
#define START_EACH(from, to, at)                                                               \
    "(SELECT string_agg(DISTINCT t.keep('u' || i, engine.session_start(t.uid('u' || i), NULL, " \
    "NULL, t.at(" #at "))), ', ') FROM generate_series(" #from ", " #to ") i)"

/* What a session start answers, as t.show prints it. */
#define OK_AS(type) "ok Ok " type
#define REFUSED_NONE "no_access_type NoAvailableAccessType"
#define REFUSED_PENDING "pending_user_sync NoAvailableAccessTypePendingUserSync"
#define REFUSED_PARALLEL "too_many_sessions MaxParallelSessionsExceeded"
#define REFUSED_EXCESS "excess_assignment ExcessAssignment"

struct tr_case {
    const char *name;
    const char *license;
    const char *setup;
    struct tr_step steps[TR_STEPS];
    struct tr_step after[TR_AFTER];
};

/* A database of this program's own, made, migrated by `allotd migrate` and
 * with the fixture loaded; the connection to it (autocommit).  Bails out
 * when any of it fails.  db (may be NULL) gets its name and URL. */
PGconn *tr_open(struct th_db *db);
/* Closes the connection and drops the database. */
void tr_close(PGconn *pg);
/* The first column of the first row of sql on pg, malloc'd ("" for NULL or
 * no row), or NULL (with a diagnostic) when it failed. */
char *tr_value(PGconn *pg, const char *sql);

/* Runs the cases, one TAP test point each; returns the exit status. */
int tr_main(const struct tr_case *cases, size_t n);

#define TR_RUN(cases) tr_main(cases, sizeof(cases) / sizeof((cases)[0]))

#endif

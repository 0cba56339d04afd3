/* db suite: the licensing engine as a whole (sql/, applied by `allotd
 * migrate`, src/db/engine.c): its outcome words are allotd's, applying it
 * twice changes nothing, dropping and applying its schema again loses no
 * table, column, default or constraint, heartbeats are HOT updates, and its
 * counters equal real counts.  Each test has a database of its own: these
 * need committed transactions (the catalog, the statistics, a second
 * `allotd migrate`), which the rule tables' rolled-back cases cannot give. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "allot/api.h"
#include "allot/db.h"
#include "trules.h"

/* Runs a statement that must succeed. */
static bool exec_ok(PGconn *pg, const char *sql)
{
    char *v = tr_value(pg, sql);
    free(v);
    return v != NULL;
}

static long value_long(PGconn *pg, const char *sql)
{
    char *v = tr_value(pg, sql);
    long n = v != NULL && *v != '\0' ? strtol(v, NULL, 10) : -1;
    free(v);
    return n;
}

/* Prints the lines of a that b lacks, as TAP comments. */
static void diff_lines(const char *label, const char *a, const char *b)
{
    for (const char *p = a; *p != '\0';) {
        size_t n = strcspn(p, "\n");
        bool found = false;
        for (const char *q = b; *q != '\0' && !found;) {
            size_t m = strcspn(q, "\n");
            found = m == n && memcmp(p, q, n) == 0;
            q += m + (q[m] == '\n');
        }
        if (!found)
            printf("#   %s: %.*s\n", label, (int)n, p);
        p += n + (p[n] == '\n');
    }
}

/* ---- the outcome words ------------------------------------------------------ */

static void test_outcome_words(void)
{
    struct th_db db;
    PGconn *pg = tr_open(&db);
    char want[4096] = "";
    size_t o = 0;
    for (size_t i = 0; i < API_OUTCOME_COUNT; i++)
        o += (size_t)snprintf(want + o, sizeof want - o, "%s%s", i ? "," : "",
                              api_outcome_word((enum api_outcome)i));
    T_REQUIRE(o < sizeof want);
    char *got = tr_value(pg, "SELECT array_to_string(enum_range(NULL::engine.outcome), ',')");
    T_REQUIRE(got != NULL);
    T_EQ_STR(got, want);
    free(got);
    /* each word parses back to its place */
    for (size_t i = 0; i < API_OUTCOME_COUNT; i++)
        T_EQ_INT(api_outcome_parse(api_outcome_word((enum api_outcome)i)), i);
    tr_close(pg);
}

/* ---- applying the engine ---------------------------------------------------- */

/* The engine's objects with their identities: a new apply makes new OIDs. */
#define ENGINE_OBJECTS                                                                       \
    "SELECT string_agg(x, ',' ORDER BY x) FROM ("                                            \
    " SELECT p.oid::text || ' ' || p.oid::regprocedure::text AS x FROM pg_proc p"            \
    "  WHERE p.pronamespace = 'engine'::regnamespace"                                        \
    " UNION ALL SELECT t.oid::text || ' ' || t.oid::regtype::text FROM pg_type t"            \
    "  WHERE t.typnamespace = 'engine'::regnamespace"                                        \
    " UNION ALL SELECT g.oid::text || ' ' || g.tgname FROM pg_trigger g WHERE NOT g.tgisinternal) s"

static void test_apply_twice(void)
{
    struct th_db db;
    PGconn *pg = tr_open(&db); /* migrated once */
    char *version = tr_value(pg, "SELECT digest || ' ' || applied_at FROM engine_version");
    char *objects = tr_value(pg, ENGINE_OBJECTS);
    T_REQUIRE(version != NULL && objects != NULL);
    T_EQ_INT(th_migrate(db.url), 0);
    char *version2 = tr_value(pg, "SELECT digest || ' ' || applied_at FROM engine_version");
    char *objects2 = tr_value(pg, ENGINE_OBJECTS);
    T_EQ_STR(version2, version);
    T_EQ_STR(objects2, objects);
    T_EQ_INT(value_long(pg, "SELECT count(*) FROM engine_version"), 1);
    char *digest = tr_value(pg, "SELECT digest FROM engine_version");
    T_EQ_STR(digest, db_engine_digest());
    /* each file of sql/ made its functions: none is missing */
    T_CHECK(value_long(pg, "SELECT count(*) FROM pg_proc WHERE pronamespace = 'engine'::regnamespace") >
            (long)db_engine_files_count);
    free(version);
    free(version2);
    free(objects);
    free(objects2);
    free(digest);
    tr_close(pg);
}

/* The tables as the numbered migrations made them: tables and their
 * options, columns with types, NOT NULL and defaults, constraints, indexes.
 * (Triggers apart: the engine's triggers go with its schema.) */
#define TABLES                                                                                  \
    "SELECT string_agg(x, E'\\n' ORDER BY x) FROM ("                                            \
    " SELECT 'table ' || c.relname || ' ' || c.relkind::text || coalesce(' ' || array_to_string("     \
    "   c.reloptions, ','), '') AS x FROM pg_class c"                                           \
    "  WHERE c.relnamespace = 'public'::regnamespace"                                           \
    " UNION ALL SELECT 'column ' || c.relname || '.' || a.attname || ' '"                       \
    "   || format_type(a.atttypid, a.atttypmod) || CASE WHEN a.attnotnull THEN ' not null'"     \
    "   ELSE '' END || coalesce(' default ' || pg_get_expr(d.adbin, d.adrelid), '')"            \
    "   FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0"             \
    "    AND NOT a.attisdropped LEFT JOIN pg_attrdef d ON d.adrelid = c.oid"                    \
    "    AND d.adnum = a.attnum"                                                                \
    "  WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm')"     \
    " UNION ALL SELECT 'constraint ' || conrelid::regclass::text || ' ' || conname || ' '"      \
    "   || pg_get_constraintdef(oid) FROM pg_constraint"                                        \
    "  WHERE connamespace = 'public'::regnamespace"                                             \
    " UNION ALL SELECT 'index ' || indexdef FROM pg_indexes WHERE schemaname = 'public') s"
#define TRIGGERS                                                                    \
    "SELECT string_agg(pg_get_triggerdef(oid), E'\\n' ORDER BY pg_get_triggerdef(oid))" \
    " FROM pg_trigger WHERE NOT tgisinternal"
#define ROWS "SELECT (SELECT count(*) FROM users) || '/' || (SELECT count(*) FROM license)"

static void test_drop_and_apply_again(void)
{
    struct th_db db;
    PGconn *pg = tr_open(&db);
    T_REQUIRE(exec_ok(pg, "SELECT t.license(professional => 1)") &&
              exec_ok(pg, "SELECT t.user('ann')"));
    T_REQUIRE(exec_ok(pg, "DROP SCHEMA t CASCADE")); /* the fixture depends on the engine */
    char *tables = tr_value(pg, TABLES), *triggers = tr_value(pg, TRIGGERS);
    T_REQUIRE(tables != NULL && triggers != NULL);
    T_CHECK(strlen(tables) > 1000 && strlen(triggers) > 100);

    /* Dropped: the tables keep everything (no table depends on the schema),
     * and the triggers that go are the engine's own. */
    T_REQUIRE(exec_ok(pg, "DROP SCHEMA engine CASCADE"));
    char *tables_dropped = tr_value(pg, TABLES);
    T_REQUIRE(tables_dropped != NULL);
    if (strcmp(tables_dropped, tables) != 0) {
        diff_lines("lost", tables, tables_dropped);
        diff_lines("new", tables_dropped, tables);
    }
    T_EQ_STR(tables_dropped, tables);
    T_EQ_INT(value_long(pg, "SELECT count(*) FROM pg_trigger WHERE NOT tgisinternal"), 0);
    char *rows = tr_value(pg, ROWS);
    T_EQ_STR(rows, "1/1");

    /* Applied again (the recorded digest no longer matches anything). */
    T_REQUIRE(exec_ok(pg, "UPDATE engine_version SET digest = 'dropped'"));
    T_EQ_INT(th_migrate(db.url), 0);
    char *tables_again = tr_value(pg, TABLES), *triggers_again = tr_value(pg, TRIGGERS);
    T_REQUIRE(tables_again != NULL && triggers_again != NULL);
    if (strcmp(tables_again, tables) != 0) {
        diff_lines("lost", tables, tables_again);
        diff_lines("new", tables_again, tables);
    }
    T_EQ_STR(tables_again, tables);
    if (strcmp(triggers_again, triggers) != 0) {
        diff_lines("trigger lost", triggers, triggers_again);
        diff_lines("trigger new", triggers_again, triggers);
    }
    T_EQ_STR(triggers_again, triggers);
    free(rows);
    rows = tr_value(pg, ROWS);
    T_EQ_STR(rows, "1/1");
    char *digest = tr_value(pg, "SELECT digest FROM engine_version");
    T_EQ_STR(digest, db_engine_digest());
    free(digest);
    free(rows);
    free(tables);
    free(triggers);
    free(tables_dropped);
    free(tables_again);
    free(triggers_again);
    tr_close(pg);
}

/* ---- heartbeats are HOT ---------------------------------------------------- */

/* Updates and HOT updates of sessions as the statistics show them, after
 * this backend's own were flushed: pg_stat_force_next_flush() makes the
 * backend flush them when it is next idle, before the query that follows;
 * should they not be there yet, they are waited for with a deadline. */
static bool session_updates(PGconn *pg, long min_updates, long *upd, long *hot)
{
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
        if (!exec_ok(pg, "SELECT pg_stat_force_next_flush()"))
            return false;
        char *v = tr_value(pg, "SELECT n_tup_upd || ' ' || n_tup_hot_upd FROM pg_stat_user_tables"
                               " WHERE relid = 'sessions'::regclass");
        if (v == NULL || sscanf(v, "%ld %ld", upd, hot) != 2) {
            free(v);
            return false;
        }
        free(v);
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (*upd >= min_updates || now.tv_sec - start.tv_sec >= 15)
            return *upd >= min_updates;
        struct timespec pause = {0, 50 * 1000000};
        nanosleep(&pause, NULL);
    }
}

/* Ten sessions of every kind, three heartbeats each: the login and
 * capacity sessions pay again at each beat (loginPassSeconds and
 * capacityUnitSeconds of a minute), so both paths of the heartbeat run.
 * Their 40 row versions fit on one page, so whether a beat is HOT depends
 * only on what it changes, not on page pruning, which a long transaction
 * anywhere in the cluster (another test's) can hold back. */
#define HOT_USERS 10
#define HOT_BEATS 3

static void test_heartbeats_are_hot(void)
{
    struct th_db db;
    PGconn *pg = tr_open(&db);
    /* No index of sessions covers a column a heartbeat writes. */
    char *indexed = tr_value(pg,
        "SELECT string_agg(DISTINCT a.attname, ',') FROM pg_index i"
        " JOIN pg_attribute a ON a.attrelid = i.indrelid"
        "  AND (a.attnum = ANY (i.indkey) OR pg_get_expr(i.indpred, i.indrelid) ~ a.attname"
        "       OR pg_get_expr(i.indexprs, i.indrelid) ~ a.attname)"
        " WHERE i.indrelid = 'sessions'::regclass"
        "  AND a.attname IN ('last_activity', 'paid_until', 'login_pass_id', 'rule_id')");
    T_EQ_STR(indexed, "");
    free(indexed);

    char sql[1024];
    snprintf(sql, sizeof sql,
             "SELECT t.license(professional => 4, capacity => 1000, tokens => 2,"
             "  params => '{\"loginPassSeconds\": 60, \"capacityUnitSeconds\": 60}');"
             "SELECT t.rule('logins', 'login', '{Sales}', 2);"
             "SELECT t.rule('capacity', 'analyzer_time', '{Viewers}');"
             "SELECT t.user('u' || i, CASE WHEN i <= 4 THEN '{}' WHEN i <= 7 THEN '{Sales}'"
             "  ELSE '{Viewers}' END::text[]) FROM generate_series(1, %d) i;"
             "SELECT t.alloc('u' || i, 'professional') FROM generate_series(1, 4) i;"
             "SELECT t.keep('u' || i, engine.session_start(t.uid('u' || i), NULL, NULL, t.at(0)))"
             "  FROM generate_series(1, %d) i",
             HOT_USERS, HOT_USERS);
    T_REQUIRE(exec_ok(pg, sql));
    char *kinds = tr_value(pg, "SELECT string_agg(access_type || ' ' || n, ', ' ORDER BY access_type)"
                               " FROM (SELECT access_type, count(*) AS n FROM sessions"
                               "  WHERE ended_at IS NULL GROUP BY access_type) k");
    T_EQ_STR(kinds, "analyzer_time 3, login 3, professional 4");
    free(kinds);
    long upd0 = 0, hot0 = 0;
    T_REQUIRE(session_updates(pg, 0, &upd0, &hot0));
    /* Each beat its own transaction, as allotd sends them: a minute apart. */
    int ok = 0;
    for (int beat = 1; beat <= HOT_BEATS; beat++)
        for (int u = 1; u <= HOT_USERS; u++) {
            snprintf(sql, sizeof sql,
                     "SELECT (engine.session_heartbeat(t.s('u%d'), t.at(%d), 1800)).outcome", u,
                     beat * 60);
            char *v = tr_value(pg, sql);
            ok += v != NULL && strcmp(v, "ok") == 0;
            free(v);
        }
    T_EQ_INT(ok, HOT_BEATS * HOT_USERS);
    /* the login and capacity sessions paid again at every beat */
    T_EQ_INT(value_long(pg, "SELECT count(*) FROM login_passes"), 3 * (HOT_BEATS + 1));
    T_EQ_INT(value_long(pg, "SELECT minutes FROM capacity_usage"), 3 * (HOT_BEATS + 1));
    long upd = 0, hot = 0;
    T_CHECK(session_updates(pg, upd0 + HOT_BEATS * HOT_USERS, &upd, &hot));
    long n = upd - upd0, n_hot = hot - hot0;
    printf("# heartbeats: %ld updates of sessions, %ld of them HOT\n", n, n_hot);
    T_EQ_INT(n, HOT_BEATS * HOT_USERS);
    T_EQ_INT(n_hot, n);
    tr_close(pg);
}

/* ---- the hot paths are planned once per connection -------------------------- */

/* The plans auto_explain reports, appended to a buffer. */
struct notices {
    char text[65536];
    size_t len;
};

static void keep_notice(void *arg, const char *message)
{
    struct notices *n = arg;
    int w = snprintf(n->text + n->len, sizeof n->text - n->len, "%s\n", message);
    if (w > 0 && (size_t)w < sizeof n->text - n->len)
        n->len += (size_t)w;
}

/* Whether the plan auto_explain printed for the statement whose text holds
 * `statement` reads its values as parameters ($n): a plan made once for any
 * value, rather than planned again for each call's values. */
static bool planned_once(const struct notices *n, const char *statement)
{
    const char *at = strstr(n->text, statement);
    if (at == NULL)
        return false;
    const char *end = strstr(at, "duration:");
    const char *param = strstr(at, "$");
    return param != NULL && (end == NULL || param < end);
}

/* Planning a statement costs more than running a key lookup: the hot paths'
 * statements must be planned once per connection and reused, not planned
 * again for each call's values (the batch of beats, planned per call, cost
 * five times a beat).  auto_explain shows, after a few calls, whether the
 * plan a statement ran has its values as parameters. */
static void test_hot_paths_planned_once(void)
{
    struct th_db db;
    PGconn *pg = tr_open(&db);
    /* A site of some size, its statistics known: a plan for each call's
     * values is then what PostgreSQL picks by itself for some statements. */
    T_REQUIRE(exec_ok(pg, "SELECT t.license(professional => 2002);"
                          "SELECT t.user('ann'); SELECT t.user('bob');"
                          "SELECT t.alloc('ann', 'professional');"
                          "SELECT t.alloc('bob', 'professional');"
                          "SELECT t.keep('a', engine.session_start(t.uid('ann'), NULL, NULL, t.at(0)));"
                          "SELECT t.user('u' || i) FROM generate_series(1, 2000) i;"
                          "SELECT t.alloc('u' || i, 'professional') FROM generate_series(1, 2000) i;"
                          "SELECT engine.session_start(t.uid('u' || i), NULL, NULL, t.at(0))"
                          "  FROM generate_series(1, 2000) i;"
                          "ANALYZE"));
    T_REQUIRE(exec_ok(pg, "LOAD 'auto_explain'; SET auto_explain.log_min_duration = 0;"
                          "SET auto_explain.log_nested_statements = on;"
                          "SET auto_explain.log_level = notice; SET client_min_messages = notice"));
    static struct notices n;
    PQsetNoticeProcessor(pg, keep_notice, &n);
    /* each call at the second the setting t.i names */
#define AT "t.at(current_setting('t.i')::int)"
    const char *calls[] = {
        "SELECT count(*) FROM engine.session_beats(ARRAY[t.s('a')], " AT ", 1800)",
        "SELECT engine.session_heartbeat(t.s('a'), " AT ", 1800)",
        "SELECT engine.session_end((engine.session_start(t.uid('bob'), NULL, NULL, " AT ")).id, "
        AT ")",
    };
#undef AT
    const char *statements[] = {"UPDATE sessions x SET last_activity", "UPDATE sessions x SET",
                                "FROM users u WHERE u.id = ANY (p_users)"};
    for (size_t c = 0; c < sizeof calls / sizeof calls[0]; c++) {
        for (int i = 1; i <= 8; i++) {
            char at[64];
            snprintf(at, sizeof at, "SET t.i = %d", 100 * (int)c + i);
            T_REQUIRE(exec_ok(pg, at));
            n.len = 0;
            n.text[0] = '\0';
            T_REQUIRE(exec_ok(pg, calls[c]));
        }
        T_CHECK(planned_once(&n, statements[c]));
        if (!planned_once(&n, statements[c]))
            printf("# %s: the last call's plans:\n# %.*s\n", calls[c], 2000, n.text);
    }
    PQsetNoticeProcessor(pg, NULL, NULL);
    tr_close(pg);
}

/* ---- the counters ------------------------------------------------------------ */

static void test_counters(void)
{
    struct th_db db;
    PGconn *pg = tr_open(&db);
    /* A mix of operations, each committed on its own, as allotd runs them. */
    static const char *const mix[] = {
        "SELECT t.license(professional => 3, analyzer => 2, capacity => 60, tokens => 3,"
        " params => '{\"quarantineSeconds\": 1000, \"sessionLingerSeconds\": 0}')",
        "SELECT t.user('u' || i, '{Sales}') FROM generate_series(1, 8) i",
        "SELECT t.rule('pro', 'professional', '{Sales}')",
        "SELECT t.rule('logins', 'login', '{Sales}', 1)",
        "SELECT t.rule('capacity', 'analyzer_time', '{Sales}')",
        "SELECT t.alloc('u1', 'analyzer'), t.alloc('u2', 'user'), t.alloc('u3', 'user')",
        /* starts: existing, dynamic, login, capacity, refusals */
        "SELECT t.keep('s' || i || '_' || k, engine.session_start(t.uid('u' || i), NULL, NULL,"
        " t.at(k))) FROM generate_series(1, 8) i, generate_series(0, 2) k",
        "SELECT engine.session_start(t.uid('u1'), NULL, NULL, t.at(k)) FROM generate_series(3, 5) k",
        "SELECT engine.session_end(t.s('s1_0'), t.at(10))",
        "SELECT engine.session_end(t.s('s2_1'), t.at(10))",
        "SELECT engine.allocation_delete(t.a('u1', 'analyzer'), t.at(20))",
        "SELECT engine.allocation_reinstate(t.a('u1', 'analyzer'), t.at(30))",
        "SELECT engine.allocation_delete(t.a('u3', 'user'), t.at(40))",
        "SELECT engine.user_delete(t.uid('u4'), t.at(50))",
        "SELECT engine.session_heartbeat(t.s('s5_0'), t.at(60), 1800)",
        "SELECT engine.reap(t.at(2000), 1800)",
        "SELECT engine.session_start(t.uid('u' || i), NULL, NULL, t.at(2100))"
        " FROM generate_series(1, 8) i",
        "SELECT engine.reap(t.at(5000), 1800)",
        "SELECT engine.allocation_create(t.uid('u5'), 'analyzer', t.at(5000))",
        "SELECT engine.session_start(t.uid('u' || i), NULL, NULL, t.at(5100))"
        " FROM generate_series(1, 8) i",
    };
    for (size_t i = 0; i < sizeof mix / sizeof mix[0]; i++) {
        T_REQUIRE(exec_ok(pg, mix[i]));
        char *d = tr_value(pg, "SELECT t.counters()");
        if (d != NULL && *d != '\0')
            printf("#   after step %zu: %s\n", i + 1, d);
        T_CHECK(d != NULL && *d == '\0');
        free(d);
    }
    /* the mix did what a mix should: something of each */
    T_CHECK(value_long(pg, "SELECT count(*) FROM allocations") >= 3);
    T_CHECK(value_long(pg, "SELECT count(*) FROM sessions WHERE ended_at IS NULL") >= 3);
    T_CHECK(value_long(pg, "SELECT count(DISTINCT end_reason) FROM sessions") >= 3);
    T_CHECK(value_long(pg, "SELECT count(DISTINCT access_type) FROM sessions") >= 4);

    /* allotd migrate counts them again: a counter that drifted is mended */
    T_REQUIRE(exec_ok(pg, "UPDATE allocation_counts SET n = n + 7 WHERE type = 'analyzer';"
                          "UPDATE users SET sessions_active = sessions_active + 3"
                          " WHERE user_id = 'u5';"
                          "UPDATE engine_version SET digest = 'old'"));
    char *d = tr_value(pg, "SELECT t.counters() <> ''");
    T_EQ_STR(d, "t");
    free(d);
    T_EQ_INT(th_migrate(db.url), 0);
    /* (the fixture's helpers on the engine's types went with its schema;
     * t.counters reads only tables) */
    d = tr_value(pg, "SELECT t.counters()");
    T_EQ_STR(d, "");
    free(d);
    /* TRUNCATE of allocations resets their counts */
    T_REQUIRE(exec_ok(pg, "TRUNCATE allocations"));
    d = tr_value(pg, "SELECT t.counters()");
    T_EQ_STR(d, "");
    free(d);
    tr_close(pg);
}

int main(void)
{
    T_RUN(test_outcome_words);
    T_RUN(test_apply_twice);
    T_RUN(test_drop_and_apply_again);
    T_RUN(test_heartbeats_are_hot);
    T_RUN(test_hot_paths_planned_once);
    T_RUN(test_counters);
    return t_done();
}

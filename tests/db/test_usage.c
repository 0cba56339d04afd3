/* db suite: the usage history (sql/usage_trail.sql, usage_rollup.sql,
 * usage_report.sql) on a real PostgreSQL, called with p_now, table-driven.
 *
 * Each case writes an audit trail (and capacity charges, and sessions where
 * the case needs them), calls engine.usage_rollup at given moments, and
 * compares the hourly and daily aggregates, the watermark and the reports
 * with what they must be.  Rows are shown compactly, one step per item:
 *   "10 s=analyzer:1,professional:1 r=NoAvailableAccessType:1 peak=2 cap=0"
 * (the UTC hour, or "MM-DD" for a day; s= sessions started by access type,
 * r= refusals by result code, peak= peak concurrent sessions, cap= capacity
 * minutes, and in reports mtd= the month's minutes so far, pool=). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "tharness.h"

T_DEFINE_STATE;

static struct th_db db;

#define YEAR "2025-"

/* ---- the fixture ------------------------------------------------------------ */

static bool run(const char *sql)
{
    char *ok = th_sql(db.url, sql);
    bool done = ok != NULL;
    if (!done)
        printf("#   failed: %.300s\n", sql);
    free(ok);
    return done;
}

static bool reset(void)
{
    return run("TRUNCATE session_events, sessions, usage_hours, usage_days, capacity_hours, license,"
               " login_passes;"
               " UPDATE usage_rollup SET rolled_until = NULL, open_sessions = 0");
}

/* "MM-DD HH:MM" of 2025 as a timestamptz literal. */
static void ts(const char *mmdd_hhmm, char out[48])
{
    snprintf(out, 48, "'" YEAR "%.11s:00Z'", mmdd_hhmm);
}

/* Calls one(item, when) for each ';'-separated item of spec ("MM-DD HH:MM
 * ..."), leading spaces skipped, when its time as a timestamptz literal;
 * false as soon as one does. */
static bool each_item(const char *spec, bool (*one)(const char *item, const char *when))
{
    char copy[2048];
    snprintf(copy, sizeof copy, "%s", spec ? spec : "");
    for (char *save = NULL, *e = strtok_r(copy, ";", &save); e != NULL; e = strtok_r(NULL, ";", &save)) {
        while (*e == ' ')
            e++;
        char when[48];
        ts(e, when);
        if (!one(e, when))
            return false;
    }
    return true;
}

/* Events: "MM-DD HH:MM grant TYPE", "... refusal CODE", "... end" (a
 * session's end). */
static bool add_event(const char *e, const char *when)
{
    char kind[16] = "", key[64] = "";
    if (sscanf(e + 12, "%15s %63s", kind, key) < 1)
        return false;
    char sql[512];
    snprintf(sql, sizeof sql,
             "INSERT INTO session_events (id, at, kind, session_id, user_directory, user_id,"
             " access_type, result_code) VALUES (gen_random_uuid(), %s, '%s', gen_random_uuid(),"
             " 'CORP', 'u', %s%s%s, '%s')",
             when, kind, strcmp(kind, "grant") == 0 ? "'" : "",
             strcmp(kind, "grant") == 0 ? key : "NULL", strcmp(kind, "grant") == 0 ? "'" : "",
             strcmp(kind, "refusal") == 0 ? key : "Ok");
    return run(sql);
}

static bool add_events(const char *spec)
{
    return each_item(spec, add_event);
}

/* Capacity charges: "MM-DD HH:MM MINUTES". */
static bool add_charge(const char *e, const char *when)
{
    char sql[256];
    snprintf(sql, sizeof sql,
             "INSERT INTO capacity_hours AS c (hour, minutes) VALUES (engine.hour_of(%s), %ld)"
             " ON CONFLICT (hour) DO UPDATE SET minutes = c.minutes + EXCLUDED.minutes",
             when, strtol(e + 12, NULL, 10));
    return run(sql);
}

static bool add_capacity(const char *spec)
{
    return each_item(spec, add_charge);
}

/* Sessions: "MM-DD HH:MM active", "MM-DD HH:MM ended" or "MM-DD HH:MM
 * lingering" (ended, still holding its slot: live). */
static bool add_session(const char *e, const char *when)
{
    bool active = strstr(e + 12, "active") != NULL;
    bool lingering = strstr(e + 12, "lingering") != NULL;
    char sql[512];
    snprintf(sql, sizeof sql,
             "INSERT INTO sessions (user_directory, user_id, access_type, started_at,"
             " last_activity, ended_at, live) VALUES ('CORP', 'u', 'professional', %s, %s, %s, %s)",
             when, when, active ? "NULL" : when, active || lingering ? "true" : "false");
    return run(sql);
}

static bool add_sessions(const char *spec)
{
    return each_item(spec, add_session);
}

/* Login passes: "MM-DD HH:MM" is when the pass returns to its group; it was
 * used two days before, for an hour's window. */
static bool add_pass(const char *e, const char *when)
{
    (void)e;
    char sql[512];
    snprintf(sql, sizeof sql,
             "INSERT INTO login_passes (used_at, window_end, returns_at) VALUES"
             " (%s::timestamptz - interval '2 days', %s::timestamptz - interval '47 hours', %s)",
             when, when, when);
    return run(sql);
}

static bool add_passes(const char *spec)
{
    return each_item(spec, add_pass);
}

/* A license with a capacity pool of units + overage minutes a month. */
static bool add_license(long units, long overage)
{
    char sql[512];
    snprintf(sql, sizeof sql,
             "INSERT INTO license (license_number, organization, product, valid_from, valid_to,"
             " issued_at, last_verified_at, capacity_units, capacity_overage, parameters)"
             " VALUES ('1', 'Acme', 'P', '2025-01-01Z', '2026-01-01Z', '2025-01-01Z', '2025-01-01Z',"
             " %ld, %ld, '{\"capacityUnitSeconds\": 360}')",
             units, overage);
    return run(sql);
}

/* ---- what the aggregates show --------------------------------------------- */

#define COUNTS(col) \
    "' s=' || coalesce((SELECT string_agg(k || ':' || v, ',' ORDER BY k)" \
    " FROM jsonb_each_text(" col ") AS j (k, v)), '')"

static char *hours_text(void)
{
    return th_sql(db.url,
                  "SELECT coalesce(string_agg(to_char(hour AT TIME ZONE 'UTC', 'HH24') || " COUNTS("sessions_started")
                  " || replace(" COUNTS("refusals") ", ' s=', ' r=') || ' peak=' || peak_sessions"
                  " || ' cap=' || capacity_minutes, ' | ' ORDER BY hour), '') FROM usage_hours");
}

static char *days_text(void)
{
    return th_sql(db.url,
                  "SELECT coalesce(string_agg(to_char(day, 'MM-DD') || " COUNTS("sessions_started")
                  " || replace(" COUNTS("refusals") ", ' s=', ' r=') || ' peak=' || peak_sessions"
                  " || ' cap=' || capacity_minutes, ' | ' ORDER BY day), '') FROM usage_days");
}

static char *state_text(void)
{
    return th_sql(db.url, "SELECT coalesce(to_char(rolled_until AT TIME ZONE 'UTC', 'MM-DD HH24:MI'), 'none')"
                          " || ' open=' || open_sessions FROM usage_rollup");
}

static char *report_text(const char *from, const char *to, const char *step, const char *now)
{
    char f[48], t[48], n[48], sql[1536];
    ts(from, f);
    ts(to, t);
    ts(now, n);
    snprintf(sql, sizeof sql,
             "SELECT string_agg(to_char(start AT TIME ZONE 'UTC', '%s') || " COUNTS("sessions_started")
             " || replace(" COUNTS("refusals") ", ' s=', ' r=') || ' peak=' || peak_sessions"
             " || ' cap=' || capacity_minutes || ' mtd=' || capacity_month_to_date"
             " || ' pool=' || coalesce(capacity_pool::text, '-'), ' | ' ORDER BY start)"
             " FROM engine.usage_report(%s, %s, '%s', %s)",
             strcmp(step, "hour") == 0 ? "HH24" : "MM-DD", f, t, step, n);
    return th_sql(db.url, sql);
}

static long rollup_events(const char *now, long lag, int max_hours, int max_events)
{
    char n[48];
    ts(now, n);
    return th_sql_longf(db.url, "SELECT engine.usage_rollup(%s, %ld, %d, %d)", n, lag, max_hours,
                        max_events);
}

static long rollup(const char *now, long lag, int max_hours)
{
    return rollup_events(now, lag, max_hours, 1000);
}

#define T_TEXT(got_expr, want) \
    do { \
        char *got_ = (got_expr); \
        T_EQ_STR(got_, want); \
        free(got_); \
    } while (0)

/* ---- the roll-up, table-driven ---------------------------------------------- */

struct call {
    const char *now;
    long lag;
    int max_hours, max_events;
    long rolled; /* hours written */
};

struct rollup_case {
    const char *name;
    const char *events;
    const char *capacity;
    const char *sessions;
    struct call calls[6];
    const char *hours;
    const char *days;
    const char *state;
};

static const struct rollup_case rollup_cases[] = {
    {"grants, refusals and ends make an hour; the lag holds back the last minutes",
     "03-10 10:05 grant professional; 03-10 10:10 grant analyzer; 03-10 10:20 end;"
     " 03-10 10:30 refusal NoAvailableAccessType; 03-10 10:40 refusal NoAvailableAccessType;"
     " 03-10 11:01 grant professional",
     NULL, "03-10 10:05 active; 03-10 11:01 active",
     /* At 11:03 with a lag of 300 s: up to 10:58, hour 10 only. */
     {{"03-10 11:03", 300, 24, 1000, 1}, {"03-10 11:03", 300, 24, 1000, 0},
      {"03-10 12:06", 300, 24, 1000, 3}},
     "10 s=analyzer:1,professional:1 r=NoAvailableAccessType:2 peak=2 cap=0"
     " | 11 s=professional:1 r= peak=2 cap=0 | 12 s= r= peak=2 cap=0",
     "03-10 s=analyzer:1,professional:2 r=NoAvailableAccessType:2 peak=2 cap=0",
     "03-10 12:01 open=2"},
    {"an end and a grant of the same instant do not overlap",
     "03-10 10:00 grant professional; 03-10 10:30 end; 03-10 10:30 grant login",
     NULL, "03-10 10:30 active", {{"03-10 11:30", 60, 24, 1000, 2}},
     "10 s=login:1,professional:1 r= peak=1 cap=0 | 11 s= r= peak=1 cap=0", NULL,
     "03-10 11:29 open=1"},
    {"a session open across hours counts in each; hours without events are rows",
     "03-10 10:50 grant analyzer; 03-10 10:55 grant analyzer; 03-10 12:10 end; 03-10 12:20 end",
     NULL, NULL, {{"03-10 14:30", 60, 24, 1000, 5}},
     "10 s=analyzer:2 r= peak=2 cap=0 | 11 s= r= peak=2 cap=0 | 12 s= r= peak=2 cap=0"
     " | 13 s= r= peak=0 cap=0 | 14 s= r= peak=0 cap=0",
     "03-10 s=analyzer:2 r= peak=2 cap=0", "03-10 14:29 open=0"},
    {"at most max_hours a call, from the hour of the first event; days add up across calls",
     "03-10 22:10 grant user; 03-11 00:10 refusal MaxParallelSessionsExceeded; 03-11 01:30 end",
     "03-10 23:20 6; 03-11 00:05 12",
     NULL, {{"03-11 05:00", 60, 2, 1000, 2}, {"03-11 05:00", 60, 2, 1000, 2},
            {"03-11 05:00", 60, 2, 1000, 2}, {"03-11 05:00", 60, 2, 1000, 1},
            {"03-11 05:00", 60, 2, 1000, 0}},
     "22 s=user:1 r= peak=1 cap=0 | 23 s= r= peak=1 cap=6 | 00 s= r=MaxParallelSessionsExceeded:1 peak=1 cap=12"
     " | 01 s= r= peak=1 cap=0 | 02 s= r= peak=0 cap=0 | 03 s= r= peak=0 cap=0 | 04 s= r= peak=0 cap=0",
     "03-10 s=user:1 r= peak=1 cap=6 | 03-11 s= r=MaxParallelSessionsExceeded:1 peak=1 cap=12",
     "03-11 04:59 open=0"},
    {"at most max_events a call: an hour rolled in steps is the hour rolled at once",
     "03-10 10:01 grant professional; 03-10 10:02 grant analyzer; 03-10 10:03 refusal NoAvailableAccessType;"
     " 03-10 10:04 end; 03-10 10:05 grant login; 03-10 10:06 end; 03-10 10:07 refusal NoAvailableAccessType",
     NULL, "03-10 10:05 active",
     /* Steps end at 10:03, 10:05, 10:07 (two events each), then 11:29. */
     {{"03-10 11:30", 60, 24, 2, 1}, {"03-10 11:30", 60, 24, 2, 1}, {"03-10 11:30", 60, 24, 2, 1},
      {"03-10 11:30", 60, 24, 2, 2}, {"03-10 11:30", 60, 24, 2, 0}},
     "10 s=analyzer:1,login:1,professional:1 r=NoAvailableAccessType:2 peak=2 cap=0"
     " | 11 s= r= peak=1 cap=0",
     "03-10 s=analyzer:1,login:1,professional:1 r=NoAvailableAccessType:2 peak=2 cap=0",
     "03-10 11:29 open=1"},
    {"an hour's capacity minutes are counted once the hour is over",
     "03-10 10:10 grant analyzer_time", "03-10 10:20 6; 03-10 11:10 6", "03-10 10:10 active",
     {{"03-10 10:45", 60, 24, 1000, 1}, {"03-10 11:30", 60, 24, 1000, 2}},
     "10 s=analyzer_time:1 r= peak=1 cap=6 | 11 s= r= peak=1 cap=0",
     "03-10 s=analyzer_time:1 r= peak=1 cap=6", "03-10 11:29 open=1"},
    {"once caught up, the open sessions are counted from the sessions themselves",
     /* The trail lacks a grant (a session started before the trail began):
      * three sessions are active, the trail shows two grants.  The first
      * step counts from the trail; from then on the sessions tell: three
      * active, less the grant after the watermark, two at 11:09. */
     "03-10 10:10 grant professional; 03-10 12:30 grant professional",
     NULL, "03-10 09:00 active; 03-10 10:10 active; 03-10 12:30 active",
     {{"03-10 11:10", 60, 24, 1000, 2}, {"03-10 13:10", 60, 24, 1000, 3}},
     "10 s=professional:1 r= peak=1 cap=0 | 11 s= r= peak=2 cap=0"
     " | 12 s=professional:1 r= peak=3 cap=0 | 13 s= r= peak=3 cap=0",
     "03-10 s=professional:2 r= peak=3 cap=0", "03-10 13:09 open=3"},
    {"nothing recorded: nothing to roll up, no watermark", NULL, NULL, NULL,
     {{"03-10 12:00", 60, 24, 1000, 0}}, "", "", "none open=0"},
};

static void test_rollup_cases(void)
{
    for (size_t i = 0; i < sizeof rollup_cases / sizeof rollup_cases[0]; i++) {
        const struct rollup_case *c = &rollup_cases[i];
        printf("# %s\n", c->name);
        T_REQUIRE(reset() && add_events(c->events) && add_capacity(c->capacity) &&
                  add_sessions(c->sessions));
        for (size_t k = 0; k < 6 && c->calls[k].now != NULL; k++)
            T_EQ_INT(rollup_events(c->calls[k].now, c->calls[k].lag, c->calls[k].max_hours,
                                   c->calls[k].max_events),
                     c->calls[k].rolled);
        T_TEXT(hours_text(), c->hours);
        if (c->days != NULL)
            T_TEXT(days_text(), c->days);
        T_TEXT(state_text(), c->state);
    }
}

/* A second instance finds the watermark locked and skips its turn. */
static void test_rollup_skips_when_locked(void)
{
    T_REQUIRE(reset() && add_events("03-10 10:05 grant professional"));
    PGconn *other = PQconnectdb(db.url);
    T_REQUIRE(PQstatus(other) == CONNECTION_OK);
    PQclear(PQexec(other, "BEGIN"));
    PGresult *r = PQexec(other, "SELECT * FROM usage_rollup FOR UPDATE");
    T_CHECK(PQresultStatus(r) == PGRES_TUPLES_OK);
    PQclear(r);
    T_EQ_INT(rollup("03-10 12:00", 60, 24), 0);
    PQclear(PQexec(other, "COMMIT"));
    PQfinish(other);
    T_EQ_INT(rollup("03-10 12:00", 60, 24), 2);
    /* The row gone (a truncation): the next call puts it back. */
    T_REQUIRE(run("DELETE FROM usage_rollup"));
    T_EQ_INT(rollup("03-10 12:00", 60, 24), 0);
    T_EQ_INT(th_sql_long(db.url, "SELECT count(*) FROM usage_rollup WHERE rolled_until IS NULL"), 1);
}

/* engine.capacity_charge counts the block in the hour it charges it in. */
static void test_capacity_charge_records_the_hour(void)
{
    T_REQUIRE(reset() && add_license(60, 0));
    T_TEXT(th_sql(db.url, "SELECT engine.capacity_charge(l, '2025-03-31 23:10Z') FROM license l"), "t");
    T_TEXT(th_sql(db.url, "SELECT engine.capacity_charge(l, '2025-03-31 23:50Z') FROM license l"), "t");
    T_TEXT(th_sql(db.url, "SELECT engine.capacity_charge(l, '2025-04-01 00:01Z') FROM license l"), "t");
    T_TEXT(th_sql(db.url, "SELECT string_agg(to_char(hour AT TIME ZONE 'UTC', 'MM-DD HH24') || '=' || minutes,"
                          " ' ' ORDER BY hour) FROM capacity_hours"),
           "03-31 23=12 04-01 00=6");
}

/* ---- the report, table-driven ----------------------------------------------- */

struct report_case {
    const char *name;
    const char *from, *to, *step, *now;
    const char *want;
};

/* One trail for every report: two days around a month's end, rolled up to
 * 04-01 01:05 (the lag), the rest raw.  One session is still active, as the
 * trail says (four grants, three ends). */
static const char report_events[] =
    "03-31 22:10 grant analyzer_time; 03-31 22:20 refusal NoAvailableAccessType;"
    " 03-31 23:30 grant professional; 03-31 23:40 end;"
    " 04-01 00:15 grant login; 04-01 01:05 grant professional; 04-01 01:10 end;"
    " 04-01 02:30 refusal UnknownUser; 04-01 02:40 end";
static const char report_capacity[] = "03-31 22:10 6; 03-31 23:00 6; 04-01 00:30 6; 04-01 02:00 12";
static const char report_sessions[] = "04-01 00:15 active";

static const struct report_case report_cases[] = {
    {"hours across the watermark (01:05) and the month's end", "03-31 22:00", "04-01 04:00", "hour",
     "04-01 03:10",
     "22 s=analyzer_time:1 r=NoAvailableAccessType:1 peak=1 cap=6 mtd=6 pool=600"
     " | 23 s=professional:1 r= peak=2 cap=6 mtd=12 pool=600"
     " | 00 s=login:1 r= peak=2 cap=6 mtd=6 pool=600"
     " | 01 s=professional:1 r= peak=3 cap=0 mtd=6 pool=600"
     " | 02 s= r=UnknownUser:1 peak=2 cap=12 mtd=18 pool=600"
     " | 03 s= r= peak=1 cap=0 mtd=18 pool=600"},
    {"a step after now has no peak", "04-01 02:00", "04-01 05:00", "hour", "04-01 03:10",
     "02 s= r=UnknownUser:1 peak=2 cap=12 mtd=18 pool=600 | 03 s= r= peak=1 cap=0 mtd=18 pool=600"
     " | 04 s= r= peak=0 cap=0 mtd=18 pool=600"},
    {"days: a rolled day, and a day the watermark cuts in two", "03-30 00:00", "04-02 00:00", "day",
     "04-01 03:10",
     "03-30 s= r= peak=0 cap=0 mtd=0 pool=600"
     " | 03-31 s=analyzer_time:1,professional:1 r=NoAvailableAccessType:1 peak=2 cap=12 mtd=12 pool=600"
     " | 04-01 s=login:1,professional:1 r=UnknownUser:1 peak=3 cap=18 mtd=18 pool=600"},
    {"before anything was recorded", "03-01 00:00", "03-01 02:00", "hour", "04-01 03:10",
     "00 s= r= peak=0 cap=0 mtd=0 pool=600 | 01 s= r= peak=0 cap=0 mtd=0 pool=600"},
};

static void test_report_cases(void)
{
    T_REQUIRE(reset() && add_events(report_events) && add_capacity(report_capacity) &&
              add_sessions(report_sessions) && add_license(500, 100));
    T_EQ_INT(rollup("04-01 01:10", 300, 24), 4); /* 22:00 to 01:05 */
    T_TEXT(state_text(), "04-01 01:05 open=2");
    for (size_t i = 0; i < sizeof report_cases / sizeof report_cases[0]; i++) {
        const struct report_case *c = &report_cases[i];
        printf("# %s\n", c->name);
        T_TEXT(report_text(c->from, c->to, c->step, c->now), c->want);
    }
    /* The same reports once everything is rolled up: rolled and raw agree. */
    T_EQ_INT(rollup("04-02 00:10", 300, 48), 24); /* 01:05 to 04-02 00:05 */
    for (size_t i = 0; i < sizeof report_cases / sizeof report_cases[0]; i++) {
        const struct report_case *c = &report_cases[i];
        printf("# rolled: %s\n", c->name);
        T_TEXT(report_text(c->from, c->to, c->step, c->now), c->want);
    }
    /* No capacity pool: unbounded overage, then no analyzer_time allotment. */
    T_REQUIRE(run("UPDATE license SET capacity_overage = -1"));
    T_TEXT(th_sql(db.url, "SELECT capacity_pool IS NULL FROM engine.usage_report("
                          "'2025-04-01Z', '2025-04-02Z', 'day', '2025-04-01 03:00Z')"), "t");
    T_REQUIRE(run("UPDATE license SET capacity_units = NULL, capacity_overage = 0"));
    T_TEXT(th_sql(db.url, "SELECT capacity_pool IS NULL FROM engine.usage_report("
                          "'2025-04-01Z', '2025-04-02Z', 'day', '2025-04-01 03:00Z')"), "t");
}

/* A report reads the aggregates and the trail after the watermark, never the
 * trail before it: with the rolled hours' events gone (as retention will
 * remove them), the report is the same. */
static void test_report_reads_the_aggregates(void)
{
    T_REQUIRE(reset() && add_events(report_events) && add_capacity(report_capacity) &&
              add_sessions(report_sessions) && add_license(500, 100));
    T_EQ_INT(rollup("04-01 01:10", 300, 24), 4);
    char *before = report_text("03-31 00:00", "04-02 00:00", "day", "04-01 03:10");
    char *hours_before = report_text("03-31 20:00", "04-01 04:00", "hour", "04-01 03:10");
    T_REQUIRE(run("DELETE FROM session_events WHERE at < '2025-04-01 01:05Z';"
                  " DELETE FROM capacity_hours WHERE hour < '2025-04-01 01:00Z'"));
    T_TEXT(report_text("03-31 00:00", "04-02 00:00", "day", "04-01 03:10"), before);
    T_TEXT(report_text("03-31 20:00", "04-01 04:00", "hour", "04-01 03:10"), hours_before);
    free(before);
    free(hours_before);
}

/* A trail of days that the roll-up has not caught up with yet (an upgrade, or
 * allotd stopped for days): the report says so rather than read the days of
 * raw trail, and answers once the reaper has caught up. */
static void test_report_while_rolling_up(void)
{
    T_REQUIRE(reset() && add_events("03-01 10:00 grant professional; 03-05 10:00 end"));
    T_TEXT(th_sql(db.url, "SELECT string_agg(outcome::text, ',') FROM engine.usage_report("
                          "'2025-03-05Z', '2025-03-06Z', 'day', '2025-03-05 12:00Z')"),
           "usage_rolling_up");
    /* A report that ends before the watermark needs no raw trail. */
    T_EQ_INT(rollup("03-05 12:00", 300, 24), 24);
    T_TEXT(th_sql(db.url, "SELECT string_agg(outcome::text, ',') FROM engine.usage_report("
                          "'2025-03-01Z', '2025-03-02Z', 'day', '2025-03-05 12:00Z')"),
           "ok");
    while (rollup("03-05 12:00", 300, 24) > 0) {
    }
    T_TEXT(state_text(), "03-05 11:55 open=0");
    T_TEXT(report_text("03-04 00:00", "03-06 00:00", "day", "03-05 12:00"),
           "03-04 s= r= peak=1 cap=0 mtd=0 pool=- | 03-05 s= r= peak=1 cap=0 mtd=0 pool=-");
}


/* ---- retention (sql/retention.sql), table-driven ---------------------------- */

/* What is left: "e=<events' times> s=<sessions' starts> p=<passes' returns>". */
static char *left_text(void)
{
    return th_sql(db.url,
                  "SELECT 'e=' || coalesce((SELECT string_agg(to_char(at AT TIME ZONE 'UTC', 'MM-DD HH24:MI'), ','"
                  " ORDER BY at) FROM session_events), '')"
                  " || ' s=' || coalesce((SELECT string_agg(to_char(started_at AT TIME ZONE 'UTC', 'MM-DD HH24:MI'), ','"
                  " ORDER BY started_at) FROM sessions), '')"
                  " || ' p=' || coalesce((SELECT string_agg(to_char(returns_at AT TIME ZONE 'UTC', 'MM-DD HH24:MI'), ','"
                  " ORDER BY returns_at) FROM login_passes), '')");
}

static long purge(const char *now, long retention, int batch)
{
    char n[48];
    ts(now, n);
    return th_sql_longf(db.url, "SELECT engine.retention_purge(%s, %ld, %d)", n, retention, batch);
}

#define DAY 86400L

struct retention_case {
    const char *name;
    const char *events, *sessions, *passes;
    const char *rolled_at; /* roll the trail up at this moment (lag 0) first; NULL: never */
    const char *now;
    long retention;
    int batch;
    long removed[4];       /* rows removed by each call, in turn; the last is 0 */
    const char *left;
};

static const struct retention_case retention_cases[] = {
    {"what is older than the retention and rolled up goes; the rest stays",
     "03-01 10:00 grant professional; 03-01 10:30 end; 03-09 10:00 grant professional",
     "03-01 10:00 ended; 03-01 09:00 active; 03-01 08:00 lingering; 03-09 10:00 ended",
     "03-01 12:00; 03-09 12:00; 03-20 12:00",
     "03-10 12:00", "03-10 12:00", 2 * DAY, 1000, {4, 0},
     "e=03-09 10:00 s=03-01 08:00,03-01 09:00,03-09 10:00 p=03-09 12:00,03-20 12:00"},
    {"no event goes before the roll-up has counted it (sessions do)",
     "03-01 10:00 grant professional; 03-01 10:30 end", "03-01 10:00 ended", NULL,
     NULL, "03-10 12:00", DAY, 1000, {1, 0},
     "e=03-01 10:00,03-01 10:30 s= p="},
    {"the roll-up's watermark bounds the trail removed",
     "03-01 10:00 grant professional; 03-03 10:00 refusal NoAvailableAccessType", NULL, NULL,
     "03-02 00:00", "03-10 12:00", DAY, 1000, {1, 0},
     "e=03-03 10:00 s= p="},
    {"in batches: at most so many rows of each table a call",
     "03-01 10:00 grant professional; 03-01 10:01 grant professional; 03-01 10:02 grant professional",
     "03-01 10:00 ended; 03-01 10:01 ended; 03-01 10:02 ended", NULL,
     "03-02 00:00", "03-10 12:00", DAY, 2, {4, 2, 0},
     "e= s= p="},
    {"a retention of seconds", "03-10 11:59 grant professional; 03-10 11:59 end",
     "03-10 11:58 ended; 03-10 11:59 ended", "03-10 11:59",
     "03-10 12:00", "03-10 12:00", 30, 1000, {5, 0},
     "e= s= p="},
    {"nothing is removed with a retention or a batch below 1", "03-01 10:00 grant professional",
     "03-01 10:00 ended", NULL, "03-02 00:00", "03-10 12:00", 0, 1000, {0},
     "e=03-01 10:00 s=03-01 10:00 p="},
};

static void test_retention_cases(void)
{
    for (size_t i = 0; i < sizeof retention_cases / sizeof retention_cases[0]; i++) {
        const struct retention_case *c = &retention_cases[i];
        printf("# %s\n", c->name);
        T_REQUIRE(reset() && add_events(c->events) && add_sessions(c->sessions) &&
                  add_passes(c->passes));
        if (c->rolled_at != NULL)
            while (rollup(c->rolled_at, 0, 24 * 30) > 0) {
            }
        for (int k = 0; k < 4; k++) {
            T_EQ_INT(purge(c->now, c->retention, c->batch), c->removed[k]);
            if (c->removed[k] == 0)
                break;
        }
        T_TEXT(left_text(), c->left);
    }
    /* A batch below 1 removes nothing either. */
    T_REQUIRE(reset() && add_sessions("03-01 10:00 ended"));
    T_EQ_INT(purge("03-10 12:00", DAY, 0), 0);
    T_TEXT(left_text(), "e= s=03-01 10:00 p=");
}

/* What a rule reads is never removed, however old and however short the
 * retention: users, allocations live and in quarantine, active and
 * lingering sessions, login passes still out, the capacity of the month. */
static void test_retention_keeps_what_rules_read(void)
{
    T_REQUIRE(reset() && run("TRUNCATE users CASCADE; TRUNCATE capacity_usage") &&
              run("INSERT INTO users (user_directory, user_id) VALUES ('CORP', 'alice'), ('CORP', 'bob')") &&
              run("INSERT INTO allocations (type, user_ref, user_directory, user_id, created_at, last_used)"
                  " SELECT 'professional', id, user_directory, user_id, '2023-01-01Z', '2023-01-02Z'"
                  " FROM users WHERE user_id = 'alice'") &&
              run("INSERT INTO allocations (type, user_ref, user_directory, user_id, created_at, last_used,"
                  " quarantine_end) SELECT 'analyzer', id, user_directory, user_id, '2023-01-01Z',"
                  " '2025-03-09Z', '2025-03-16Z' FROM users WHERE user_id = 'bob'") &&
              run("INSERT INTO capacity_usage (month, minutes) VALUES ('2025-03-01', 42)") &&
              add_sessions("01-01 08:00 active; 01-01 09:00 lingering; 01-01 10:00 ended") &&
              add_passes("03-11 00:00; 01-03 00:00") &&
              add_events("01-01 08:00 grant professional"));
    while (rollup("03-10 12:00", 0, 24 * 30) > 0) {
    }
    while (purge("03-10 12:00", 1, 1000) > 0) {
    }
    T_TEXT(left_text(), "e= s=01-01 08:00,01-01 09:00 p=03-11 00:00");
    T_EQ_INT(th_sql_long(db.url, "SELECT count(*) FROM users"), 2);
    T_EQ_INT(th_sql_long(db.url, "SELECT count(*) FROM allocations"), 2);
    T_EQ_INT(th_sql_long(db.url, "SELECT count(*) FROM allocations WHERE quarantine_end IS NOT NULL"), 1);
    T_EQ_INT(th_sql_long(db.url, "SELECT minutes FROM capacity_usage"), 42);
    T_REQUIRE(run("TRUNCATE users CASCADE"));
}

/* The aggregates outlive the raw rows: a report over days whose trail the
 * retention removed is the report it was before; aggregates older than ten
 * years go. */
static void test_retention_keeps_the_aggregates(void)
{
    T_REQUIRE(reset() && add_events(report_events) && add_capacity(report_capacity) &&
              add_sessions(report_sessions) && add_license(500, 100));
    while (rollup("04-01 03:10", 300, 24) > 0) {
    }
    char *days = report_text("03-31 00:00", "04-02 00:00", "day", "04-01 03:10");
    char *hours = report_text("03-31 20:00", "04-01 04:00", "hour", "04-01 03:10");
    long events = th_sql_long(db.url, "SELECT count(*) FROM session_events");
    /* Everything rolled up and older than an hour goes. */
    long removed = 0, n;
    while ((n = purge("04-01 03:10", 3600, 2)) > 0)
        removed += n;
    T_CHECK(removed > 0);
    T_CHECK(th_sql_long(db.url, "SELECT count(*) FROM session_events") < events);
    T_EQ_INT(th_sql_long(db.url, "SELECT count(*) FROM session_events WHERE at < '2025-04-01 02:10Z'"), 0);
    T_TEXT(report_text("03-31 00:00", "04-02 00:00", "day", "04-01 03:10"), days);
    T_TEXT(report_text("03-31 20:00", "04-01 04:00", "hour", "04-01 03:10"), hours);
    free(days);
    free(hours);

    /* Ten years: a day, an hour and a capacity hour just older go, those just
     * younger stay. */
    T_REQUIRE(reset() &&
              run("INSERT INTO usage_days (day) VALUES ('2015-03-09'), ('2015-03-11');"
                  " INSERT INTO usage_hours (hour) VALUES ('2015-03-10 11:00Z'), ('2015-03-10 13:00Z');"
                  " INSERT INTO capacity_hours (hour, minutes) VALUES ('2015-03-10 11:00Z', 6),"
                  " ('2015-03-10 13:00Z', 6)"));
    T_EQ_INT(purge("03-10 12:00", DAY, 1000), 3);
    T_TEXT(th_sql(db.url, "SELECT string_agg(day::text, ',') FROM usage_days"), "2015-03-11");
    T_EQ_INT(th_sql_long(db.url, "SELECT count(*) FROM usage_hours"), 1);
    T_EQ_INT(th_sql_long(db.url, "SELECT count(*) FROM capacity_hours"), 1);
}

int main(void)
{
    th_db_create(&db);
    if (th_migrate(db.url) != 0) {
        printf("Bail out! allotd migrate failed\n");
        th_db_drop(&db);
        return 1;
    }
    T_RUN(test_rollup_cases);
    T_RUN(test_rollup_skips_when_locked);
    T_RUN(test_capacity_charge_records_the_hour);
    T_RUN(test_report_cases);
    T_RUN(test_report_reads_the_aggregates);
    T_RUN(test_report_while_rolling_up);
    T_RUN(test_retention_cases);
    T_RUN(test_retention_keeps_what_rules_read);
    T_RUN(test_retention_keeps_the_aggregates);
    th_db_drop(&db);
    return t_done();
}

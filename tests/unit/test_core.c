/* Unit tests of src/core (include/allot/rules.h): the licensing rules as pure
 * functions.  Every `now` is passed in; nothing reads the clock. */
#include "allot/rules.h"

#include <time.h>

#include "ttest.h"

#define MINUTE INT64_C(60)
#define HOUR INT64_C(3600)
#define DAY INT64_C(86400)

/* Fixed instants (checked against `date -u -d ... +%s`). */
#define T_2023_12_01 INT64_C(1701388800)
#define T_2023_12_31_235959 INT64_C(1704067199)
#define T_2024_01_01 INT64_C(1704067200)
#define T_2024_01_31_2359 INT64_C(1706745540)
#define T_2024_02_01 INT64_C(1706745600)
#define T_2024_02_01_0001 INT64_C(1706745660)
#define T_2024_02_29_1200 INT64_C(1709208000)
#define T_2024_03_01 INT64_C(1709251200)
#define T_2024_06_15_1200 INT64_C(1718452800)

/* ---- parameters ------------------------------------------------------------ */

static void test_params_default(void)
{
    struct core_params p = core_params_default();
    T_EQ_INT(p.offline_grace, 432000);
    T_EQ_INT(p.capacity_unit, 360);
    T_EQ_INT(p.login_pass, 3600);
    T_EQ_INT(p.max_parallel_sessions, 5);
    T_EQ_INT(p.pass_return, 2419200);
    T_EQ_INT(p.session_linger, 300);
    T_EQ_INT(p.quarantine, 604800);
}

static void test_time_add_saturates(void)
{
    T_EQ_INT(core_time_add(10, 5), 15);
    T_EQ_INT(core_time_add(10, -5), 5);
    T_CHECK(core_time_add(INT64_MAX - 1, 5) == INT64_MAX);
    T_CHECK(core_time_add(INT64_MIN + 1, -5) == INT64_MIN);
    T_CHECK(core_time_add(T_2024_01_01, INT64_MAX) == INT64_MAX);
}

/* ---- calendar -------------------------------------------------------------- */

static void test_month_start_known_dates(void)
{
    T_EQ_INT(core_month_start(0), 0);
    T_EQ_INT(core_next_month_start(0), INT64_C(2678400));            /* 1970-02-01 */
    T_EQ_INT(core_month_start(T_2024_06_15_1200), INT64_C(1717200000)); /* 2024-06-01 */
    /* The first second of a month is its own start; the last belongs before. */
    T_EQ_INT(core_month_start(T_2024_02_01), T_2024_02_01);
    T_EQ_INT(core_month_start(T_2024_02_01 - 1), T_2024_01_01);
    T_EQ_INT(core_next_month_start(T_2024_02_01 - 1), T_2024_02_01);
}

static void test_month_start_leap_february(void)
{
    /* 2024 is a leap year: Feb 29 exists and belongs to February. */
    T_EQ_INT(core_month_start(T_2024_02_29_1200), T_2024_02_01);
    T_EQ_INT(core_next_month_start(T_2024_02_29_1200), T_2024_03_01);
    T_EQ_INT(core_month_start(T_2024_03_01), T_2024_03_01);
    T_EQ_INT(core_month_start(T_2024_03_01 - 1), T_2024_02_01);
    T_EQ_INT(T_2024_03_01 - T_2024_02_01, 29 * DAY);
    /* 2000 (divisible by 400) is leap, 2100 is not. */
    T_EQ_INT(core_month_start(INT64_C(951782400)), INT64_C(949363200)); /* 2000-02-29 */
    T_EQ_INT(core_next_month_start(INT64_C(951782400)), INT64_C(951868800));
    T_EQ_INT(core_month_start(INT64_C(4107492000)), INT64_C(4105123200)); /* 2100-02-28 */
    T_EQ_INT(core_next_month_start(INT64_C(4107492000)), INT64_C(4107542400));
    T_EQ_INT(INT64_C(4107542400) - INT64_C(4105123200), 28 * DAY);
}

static void test_month_start_december_rollover(void)
{
    T_EQ_INT(core_month_start(T_2023_12_31_235959), T_2023_12_01);
    T_EQ_INT(core_next_month_start(T_2023_12_31_235959), T_2024_01_01);
    T_EQ_INT(core_next_month_start(T_2023_12_01), T_2024_01_01);
    T_EQ_INT(core_month_start(T_2024_01_01), T_2024_01_01);
    /* The last month of the range. */
    T_EQ_INT(core_month_start(CORE_TIME_MAX), INT64_C(253399622400));   /* 9999-12-01 */
    T_EQ_INT(core_next_month_start(CORE_TIME_MAX), CORE_TIME_MAX + 1);   /* 10000-01-01 */
}

static void test_month_start_clamps(void)
{
    T_EQ_INT(core_month_start(-1), 0);
    T_EQ_INT(core_month_start(INT64_MIN), 0);
    T_EQ_INT(core_month_start(INT64_MAX), INT64_C(253399622400));
    T_EQ_INT(core_next_month_start(INT64_MAX), CORE_TIME_MAX + 1);
}

/* Every day of 1970..9999 against libc's gmtime_r (the test may use libc; the
 * core may not). */
static void test_calendar_matches_gmtime(void)
{
    const int64_t last_day = CORE_TIME_MAX / DAY;
    int64_t prev_start = -1;
    int bad = 0;
    for (int64_t day = 0; day <= last_day && bad < 5; day++) {
        int64_t y;
        unsigned m, d;
        core_civil_from_days(day, &y, &m, &d);
        if (core_days_from_civil(y, m, d) != day) {
            printf("# round trip failed at day %" PRId64 "\n", day);
            bad++;
        }
        time_t t = (time_t)(day * DAY + 12 * HOUR);
        struct tm tm;
        T_REQUIRE(gmtime_r(&t, &tm) != NULL);
        if (tm.tm_year + 1900 != y || (unsigned)tm.tm_mon + 1 != m || (unsigned)tm.tm_mday != d) {
            printf("# day %" PRId64 ": %" PRId64 "-%u-%u, gmtime %d-%d-%d\n", day, y, m, d,
                   tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
            bad++;
        }
        int64_t start = core_month_start(day * DAY + 12 * HOUR);
        if (start != core_days_from_civil(y, m, 1) * DAY
            || (d == 1 && start == prev_start) || (d != 1 && start != prev_start)) {
            printf("# month start wrong on day %" PRId64 "\n", day);
            bad++;
        }
        prev_start = start;
    }
    T_EQ_INT(bad, 0);
}

/* ---- analyzer capacity ----------------------------------------------------- */

static void test_capacity_26_minutes_cost_5_blocks(void)
{
    const int64_t unit = core_params_default().capacity_unit;
    const int64_t t0 = T_2024_06_15_1200;
    int64_t block_end = 0, blocks = 0;
    for (int64_t t = t0; t <= t0 + 26 * MINUTE; t += MINUTE) {
        int64_t next;
        blocks += core_capacity_activity(block_end, t, unit, &next);
        block_end = next;
    }
    T_EQ_INT(blocks, 5);
    T_EQ_INT(blocks * core_capacity_block_minutes(unit), 30);
    T_EQ_INT(block_end, t0 + 30 * MINUTE);   /* blocks at 0, 6, 12, 18, 24 minutes */
}

static void test_capacity_block_boundaries(void)
{
    const int64_t t0 = T_2024_06_15_1200;
    int64_t next = -1;
    /* Nothing charged yet: the first activity charges. */
    T_EQ_INT(core_capacity_activity(0, t0, 360, &next), 1);
    T_EQ_INT(next, t0 + 360);
    /* Inside the block: free, state unchanged. */
    T_EQ_INT(core_capacity_activity(t0 + 360, t0 + 359, 360, &next), 0);
    T_EQ_INT(next, t0 + 360);
    /* At exactly the block end a new block starts. */
    T_EQ_INT(core_capacity_activity(t0 + 360, t0 + 360, 360, &next), 1);
    T_EQ_INT(next, t0 + 720);
    /* A unit below 1 s counts as 1 s; the end never overflows. */
    T_EQ_INT(core_capacity_activity(0, t0, 0, &next), 1);
    T_EQ_INT(next, t0 + 1);
    T_EQ_INT(core_capacity_activity(0, t0, INT64_MAX, &next), 1);
    T_CHECK(next == INT64_MAX);
    T_EQ_INT(core_capacity_activity(0, t0, 360, NULL), 1);
}

static void test_capacity_idle_hour_is_free(void)
{
    const int64_t unit = 360, t0 = T_2024_06_15_1200;
    int64_t block_end = 0, blocks = 0, next;
    blocks += core_capacity_activity(block_end, t0, unit, &next);
    block_end = next;
    blocks += core_capacity_activity(block_end, t0 + 2 * MINUTE, unit, &next);
    block_end = next;
    /* An idle hour, then activity again: one more block, not ten. */
    blocks += core_capacity_activity(block_end, t0 + 62 * MINUTE, unit, &next);
    block_end = next;
    blocks += core_capacity_activity(block_end, t0 + 63 * MINUTE, unit, &next);
    T_EQ_INT(blocks, 2);
}

static void test_capacity_block_month_is_its_start(void)
{
    const int64_t unit = 360;
    int64_t next;
    /* A session active at 23:59 on Jan 31: the block runs into February but is
     * charged wholly to January. */
    T_EQ_INT(core_capacity_activity(0, T_2024_01_31_2359, unit, &next), 1);
    T_EQ_INT(core_capacity_pool_month(T_2024_01_31_2359), T_2024_01_01);
    T_CHECK(next > T_2024_02_01);
    /* Its activity at 00:01 Feb 1 is inside that block: free. */
    T_EQ_INT(core_capacity_activity(next, T_2024_02_01_0001, unit, &next), 0);
    /* A new block at 00:01 Feb 1 (another session) goes to February. */
    T_EQ_INT(core_capacity_activity(0, T_2024_02_01_0001, unit, &next), 1);
    T_EQ_INT(core_capacity_pool_month(T_2024_02_01_0001), T_2024_02_01);
    /* And so does the first session's next block, started at 00:05. */
    int64_t first_end = T_2024_01_31_2359 + unit;
    T_EQ_INT(core_capacity_activity(first_end, first_end, unit, &next), 1);
    T_EQ_INT(core_capacity_pool_month(first_end), T_2024_02_01);
}

static void test_capacity_block_minutes(void)
{
    T_EQ_INT(core_capacity_block_minutes(360), 6);
    T_EQ_INT(core_capacity_block_minutes(361), 7);
    T_EQ_INT(core_capacity_block_minutes(60), 1);
    T_EQ_INT(core_capacity_block_minutes(1), 1);
    T_EQ_INT(core_capacity_block_minutes(0), 1);
    T_EQ_INT(core_capacity_block_minutes(-5), 1);
    T_EQ_INT(core_capacity_block_minutes(INT64_MAX), INT64_MAX / 60 + 1);
}

static void test_capacity_pool_exhaustion(void)
{
    /* 30 minutes, no overage: five 6-minute blocks and no sixth. */
    int64_t used = 0;
    int charged = 0;
    while (core_capacity_can_charge(30, 0, used, 360) && charged < 100) {
        used += core_capacity_block_minutes(360);
        charged++;
    }
    T_EQ_INT(charged, 5);
    T_EQ_INT(core_capacity_available(30, 0, used), 0);
    T_CHECK(!core_capacity_can_charge(30, 0, 30, 360));
    /* A block must fit whole: 5 minutes left is not enough for 6. */
    T_EQ_INT(core_capacity_available(30, 0, 25), 5);
    T_CHECK(!core_capacity_can_charge(30, 0, 25, 360));
    T_CHECK(core_capacity_can_charge(30, 0, 24, 360));
    /* Overage extends the pool. */
    T_EQ_INT(core_capacity_available(30, 12, 30), 12);
    T_CHECK(core_capacity_can_charge(30, 12, 30, 360));
    T_CHECK(!core_capacity_can_charge(30, 12, 40, 360));
    /* Used beyond the pool (license shrank): 0, never negative. */
    T_EQ_INT(core_capacity_available(30, 0, 90), 0);
    /* Unbounded overage. */
    T_CHECK(core_capacity_available(30, -1, 1000000) == INT64_MAX);
    T_CHECK(core_capacity_can_charge(0, -1, INT64_MAX, 360));
    T_CHECK(core_capacity_can_charge(30, -1, 30, INT64_MAX));
    /* No pool at all. */
    T_CHECK(!core_capacity_can_charge(0, 0, 0, 360));
    /* Huge license values saturate instead of overflowing. */
    T_CHECK(core_capacity_available(INT64_MAX, INT64_MAX, 0) == INT64_MAX);
    T_CHECK(core_capacity_can_charge(INT64_MAX, INT64_MAX, INT64_MAX - 10, 360));
}

/* ---- login access passes --------------------------------------------------- */

static void test_login_window(void)
{
    const struct core_params p = core_params_default();
    const int64_t start = T_2024_06_15_1200;
    T_CHECK(core_login_window_open(start, start, &p));
    T_CHECK(core_login_window_open(start, start + 30 * MINUTE, &p));
    T_CHECK(core_login_window_open(start, start + p.login_pass - 1, &p));
    T_CHECK(!core_login_window_open(start, start + p.login_pass, &p));   /* closed at exactly */
    T_CHECK(!core_login_window_open(start, start + 2 * p.login_pass, &p));
    T_CHECK(!core_login_window_open(0, start, &p));                    /* no window yet */
    T_CHECK(core_login_window_open(start + 5, start, &p));             /* clock skew */
    struct core_params big = p;
    big.login_pass = INT64_MAX;
    T_CHECK(core_login_window_open(start, INT64_MAX - 1, &big));
}

/* A user's activity over time: a pass opens a window; activity after it closed
 * uses another pass. */
static void test_login_new_pass_after_close(void)
{
    struct core_params p = core_params_default();
    p.login_pass = 10;   /* as the tests issue licenses: seconds */
    const int64_t t0 = T_2024_06_15_1200;
    const int64_t activity[] = {t0, t0 + 3, t0 + 9, t0 + 10, t0 + 15, t0 + 19, t0 + 100};
    int64_t window = 0, passes = 0;
    for (size_t i = 0; i < sizeof activity / sizeof activity[0]; i++) {
        if (!core_login_window_open(window, activity[i], &p)) {
            window = activity[i];
            passes++;
        }
    }
    T_EQ_INT(passes, 3);   /* t0, t0+10, t0+100 */
    T_EQ_INT(window, t0 + 100);
}

static void test_pass_return(void)
{
    const struct core_params p = core_params_default();
    const int64_t used = T_2024_01_01;
    T_CHECK(!core_pass_returned(used, used, &p));
    T_CHECK(!core_pass_returned(used, used + 28 * DAY - 1, &p));
    T_CHECK(core_pass_returned(used, used + 28 * DAY, &p));
    T_CHECK(core_pass_returned(used, used + 40 * DAY, &p));
    struct core_params big = p;
    big.pass_return = INT64_MAX;
    T_CHECK(!core_pass_returned(used, INT64_MAX - 1, &big));
}

static void test_login_pass_counts(void)
{
    T_EQ_INT(core_login_passes_total(0), 0);
    T_EQ_INT(core_login_passes_total(1), 10);
    T_EQ_INT(core_login_passes_total(7), 70);
    T_EQ_INT(core_login_passes_total(-3), 0);
    T_CHECK(core_login_passes_total(INT64_MAX / 5) == INT64_MAX);
    T_EQ_INT(core_login_passes_available(20, 0), 20);
    T_EQ_INT(core_login_passes_available(20, 19), 1);
    T_EQ_INT(core_login_passes_available(20, 20), 0);
    T_EQ_INT(core_login_passes_available(20, 25), 0);
    T_EQ_INT(core_login_passes_available(20, -1), 20);
}

static void test_login_group_removal_refund(void)
{
    T_EQ_INT(core_login_group_tokens_freed(3, 0), 3);    /* all unused */
    T_EQ_INT(core_login_group_tokens_freed(3, 1), 2);    /* one pass out keeps a token */
    T_EQ_INT(core_login_group_tokens_freed(3, 9), 2);
    T_EQ_INT(core_login_group_tokens_freed(3, 10), 2);
    T_EQ_INT(core_login_group_tokens_freed(3, 11), 1);
    T_EQ_INT(core_login_group_tokens_freed(3, 20), 1);
    T_EQ_INT(core_login_group_tokens_freed(3, 21), 0);
    T_EQ_INT(core_login_group_tokens_freed(3, 30), 0);
    T_EQ_INT(core_login_group_tokens_freed(3, 45), 0);   /* never below 0 */
    T_EQ_INT(core_login_group_tokens_freed(0, 0), 0);
    T_EQ_INT(core_login_group_tokens_freed(3, -4), 3);
    T_EQ_INT(core_login_group_tokens_freed(INT64_MAX, INT64_MAX), INT64_MAX - (INT64_MAX / 10 + 1));
}

/* ---- quarantine and allotments --------------------------------------------- */

static void test_quarantine(void)
{
    const struct core_params p = core_params_default();
    const int64_t now = T_2024_06_15_1200;
    int64_t end = -1;

    T_EQ_INT(core_removal(now - DAY, now, &p, &end), CORE_QUARANTINE);
    T_EQ_INT(end, now - DAY + 7 * DAY);
    T_CHECK(!core_quarantine_over(end, now));
    T_CHECK(!core_quarantine_over(end, end - 1));
    T_CHECK(core_quarantine_over(end, end));

    end = -1;
    T_EQ_INT(core_removal(now - 8 * DAY, now, &p, &end), CORE_RELEASE);
    T_EQ_INT(end, 0);

    end = -1;
    T_EQ_INT(core_removal(0, now, &p, &end), CORE_RELEASE);   /* never used */
    T_EQ_INT(end, 0);

    /* Boundary: used exactly 7 days ago is no longer "within the last 7 days". */
    T_EQ_INT(core_removal(now - 7 * DAY, now, &p, &end), CORE_RELEASE);
    T_EQ_INT(core_removal(now - 7 * DAY + 1, now, &p, &end), CORE_QUARANTINE);
    T_EQ_INT(end, now + 1);
    /* Used just now. */
    T_EQ_INT(core_removal(now, now, &p, NULL), CORE_QUARANTINE);

    /* A license without quarantine releases at once. */
    struct core_params none = p;
    none.quarantine = 0;
    T_EQ_INT(core_removal(now, now, &none, &end), CORE_RELEASE);
}

static void test_allotment_available(void)
{
    T_EQ_INT(core_allotment_available(5, 0, 3, 1), 1);
    T_CHECK(core_allotment_has_room(5, 0, 3, 1));
    T_EQ_INT(core_allotment_available(5, 0, 4, 1), 0);
    T_CHECK(!core_allotment_has_room(5, 0, 4, 1));
    /* Quarantined units keep counting as taken. */
    T_EQ_INT(core_allotment_available(5, 0, 0, 5), 0);
    /* Overage beyond units. */
    T_EQ_INT(core_allotment_available(5, 2, 5, 1), 1);
    T_CHECK(core_allotment_has_room(5, 2, 5, 1));
    /* The license shrank below what is taken: 0, never negative. */
    T_EQ_INT(core_allotment_available(2, 0, 5, 3), 0);
    /* Unbounded overage. */
    T_CHECK(core_allotment_available(5, -1, 100, 100) == INT64_MAX);
    T_CHECK(core_allotment_has_room(0, -1, INT64_MAX, INT64_MAX));
    /* Nothing licensed. */
    T_EQ_INT(core_allotment_available(0, 0, 0, 0), 0);
    T_CHECK(!core_allotment_has_room(0, 0, 0, 0));
    /* Nonsense inputs are treated as 0; huge ones saturate. */
    T_EQ_INT(core_allotment_available(-5, -7, -1, -1), 0);
    T_EQ_INT(core_allotment_available(3, -7, 0, 0), 3);
    T_CHECK(core_allotment_available(INT64_MAX, INT64_MAX, 0, 0) == INT64_MAX);
    T_EQ_INT(core_allotment_available(10, 0, INT64_MAX, INT64_MAX), 0);
}

/* ---- sessions -------------------------------------------------------------- */

static void test_session_linger(void)
{
    const struct core_params p = core_params_default();
    const int64_t ended = T_2024_06_15_1200;
    T_CHECK(core_session_counts_toward_limit(0, ended, &p));            /* active */
    T_CHECK(core_session_counts_toward_limit(ended, ended, &p));
    T_CHECK(core_session_counts_toward_limit(ended, ended + 299, &p));
    T_CHECK(!core_session_counts_toward_limit(ended, ended + 300, &p));  /* slot free again */
    T_CHECK(!core_session_counts_toward_limit(ended, ended + DAY, &p));
}

static void test_session_idle(void)
{
    const int64_t last = T_2024_06_15_1200, timeout = 30 * MINUTE;
    T_CHECK(!core_session_idle(last, last, timeout));
    T_CHECK(!core_session_idle(last, last + timeout - 1, timeout));
    T_CHECK(core_session_idle(last, last + timeout, timeout));
    T_CHECK(!core_session_idle(last, INT64_MAX - 1, INT64_MAX));
}

/* ---- license state --------------------------------------------------------- */

static void test_license_state(void)
{
    const struct core_params p = core_params_default();
    const int64_t verified = T_2024_06_15_1200, valid_to = T_2024_06_15_1200 + 365 * DAY;
    const int64_t disabled = verified + 5 * DAY;

    T_EQ_INT(core_license_disabled_at(verified, &p), disabled);
    T_EQ_INT(core_license_state_at(true, false, valid_to, verified, verified, &p), CORE_LICENSE_OK);
    T_EQ_INT(core_license_state_at(true, false, valid_to, verified, disabled - 1, &p),
             CORE_LICENSE_OK);
    T_EQ_INT(core_license_state_at(true, false, valid_to, verified, disabled, &p),
             CORE_LICENSE_STALE);
    T_EQ_INT(core_license_state_at(false, false, valid_to, verified, verified, NULL),
             CORE_LICENSE_MISSING);
    T_EQ_INT(core_license_state_at(true, true, valid_to, verified, verified, &p),
             CORE_LICENSE_REVOKED);
    /* validTo is the last valid second; expiry beats staleness. */
    T_EQ_INT(core_license_state_at(true, false, valid_to, verified, valid_to, &p),
             CORE_LICENSE_STALE);
    T_EQ_INT(core_license_state_at(true, false, valid_to, valid_to, valid_to, &p),
             CORE_LICENSE_OK);
    T_EQ_INT(core_license_state_at(true, false, valid_to, valid_to, valid_to + 1, &p),
             CORE_LICENSE_EXPIRED);
    T_EQ_INT(core_license_state_at(true, false, valid_to, verified, valid_to + 1, &p),
             CORE_LICENSE_EXPIRED);

    T_EQ_STR(core_license_state_name(CORE_LICENSE_OK), "ok");
    T_EQ_STR(core_license_state_name(CORE_LICENSE_STALE), "stale");
    T_EQ_STR(core_license_state_name(CORE_LICENSE_MISSING), "missing");
    T_EQ_STR(core_license_state_name(CORE_LICENSE_EXPIRED), "expired");
    T_EQ_STR(core_license_state_name(CORE_LICENSE_REVOKED), "revoked");
}

/* ---- the resolution order -------------------------------------------------- */

struct resolve_case {
    const char *name;
    struct core_access_snapshot s;
    enum core_access_type access;
    enum core_grant_via via;
    enum core_result_code result;
    enum core_access_error error;
};

/* Everything that could grant, for "an earlier step wins over all later ones". */
#define ALL_LATER_STEPS \
    .matches_professional_rule = true, .professional_unit_free = true, \
    .matches_analyzer_rule = true, .analyzer_unit_free = true, \
    .matches_login_group = true, .login_window_open = true, .login_pass_available = true, \
    .matches_capacity_rule = true, .capacity_block_available = true

#define OK_(type, how) CORE_ACCESS_##type, CORE_VIA_##how, CORE_RESULT_OK, CORE_ERROR_NONE
#define REFUSED_(result, error) CORE_ACCESS_NONE, CORE_VIA_NONE, CORE_RESULT_##result, \
    CORE_ERROR_##error

static const struct resolve_case resolve_cases[] = {
    /* Before any access type: user, license, parallel sessions. */
    {"unknown user first",
     {.user_known = false, .license_state = CORE_LICENSE_MISSING, .sessions_in_use = 9,
      .has_professional = true},
     REFUSED_(UNKNOWN_USER, NOT_FOUND)},
    {"missing license",
     {.user_known = true, .license_state = CORE_LICENSE_MISSING, .has_professional = true},
     REFUSED_(LICENSE_NOT_AVAILABLE, NO_LICENSE)},
    {"expired license",
     {.user_known = true, .license_state = CORE_LICENSE_EXPIRED, .has_professional = true},
     REFUSED_(LICENSE_NOT_AVAILABLE, NO_LICENSE)},
    {"revoked license",
     {.user_known = true, .license_state = CORE_LICENSE_REVOKED, .has_professional = true},
     REFUSED_(LICENSE_NOT_AVAILABLE, NO_LICENSE)},
    {"stale license is outdated, not missing",
     {.user_known = true, .license_state = CORE_LICENSE_STALE, .has_professional = true},
     REFUSED_(LICENSE_NOT_AVAILABLE, OUTDATED_LICENSE)},
    {"stale license before the parallel limit",
     {.user_known = true, .license_state = CORE_LICENSE_STALE, .sessions_in_use = 5},
     REFUSED_(LICENSE_NOT_AVAILABLE, OUTDATED_LICENSE)},
    {"parallel limit before allocations",
     {.user_known = true, .sessions_in_use = 5, .has_professional = true, ALL_LATER_STEPS},
     REFUSED_(MAX_PARALLEL_SESSIONS_EXCEEDED, TOO_MANY_SESSIONS)},
    {"parallel limit counts lingering sessions too",
     {.user_known = true, .sessions_in_use = 6, .has_analyzer = true},
     REFUSED_(MAX_PARALLEL_SESSIONS_EXCEEDED, TOO_MANY_SESSIONS)},
    {"one slot left",
     {.user_known = true, .sessions_in_use = 4, .has_professional = true},
     OK_(PROFESSIONAL, EXISTING_ALLOCATION)},

    /* 1..6, each winning over everything after it. */
    {"1 professional allocation first",
     {.user_known = true, .has_professional = true, .has_analyzer = true,
      .has_user_pass = true, ALL_LATER_STEPS},
     OK_(PROFESSIONAL, EXISTING_ALLOCATION)},
    {"2 analyzer allocation",
     {.user_known = true, .has_analyzer = true, .has_user_pass = true, ALL_LATER_STEPS},
     OK_(ANALYZER, EXISTING_ALLOCATION)},
    {"3 user pass",
     {.user_known = true, .has_user_pass = true, ALL_LATER_STEPS},
     OK_(USER_PASS, EXISTING_ALLOCATION)},
    {"4 professional rule before analyzer rule",
     {.user_known = true, ALL_LATER_STEPS},
     OK_(PROFESSIONAL, DYNAMIC_ASSIGNMENT)},
    {"4 analyzer rule when no professional unit is free",
     {.user_known = true, .matches_professional_rule = true, .matches_analyzer_rule = true,
      .analyzer_unit_free = true, .matches_login_group = true, .login_window_open = true,
      .login_pass_available = true, .matches_capacity_rule = true,
      .capacity_block_available = true},
     OK_(ANALYZER, DYNAMIC_ASSIGNMENT)},
    {"5 open login window before a new pass and capacity",
     {.user_known = true, .matches_login_group = true, .login_window_open = true,
      .login_pass_available = true, .matches_capacity_rule = true,
      .capacity_block_available = true},
     OK_(LOGIN, OPEN_WINDOW)},
    {"5 open login window while the group has no pass left",
     {.user_known = true, .matches_login_group = true, .login_window_open = true},
     OK_(LOGIN, OPEN_WINDOW)},
    {"5 new login pass before capacity",
     {.user_known = true, .matches_login_group = true, .login_pass_available = true,
      .matches_capacity_rule = true, .capacity_block_available = true},
     OK_(LOGIN, NEW_PASS)},
    {"6 capacity when the login group is out of passes",
     {.user_known = true, .matches_login_group = true, .matches_capacity_rule = true,
      .capacity_block_available = true},
     OK_(ANALYZER_TIME, CAPACITY)},
    {"6 capacity alone",
     {.user_known = true, .matches_capacity_rule = true, .capacity_block_available = true},
     OK_(ANALYZER_TIME, CAPACITY)},
    {"rules need their match flag",
     {.user_known = true, .professional_unit_free = true, .analyzer_unit_free = true,
      .login_window_open = true, .login_pass_available = true,
      .capacity_block_available = true},
     REFUSED_(NO_AVAILABLE_ACCESS_TYPE, NO_ACCESS_PASS)},

    /* Excess allocations are skipped. */
    {"excess professional alone",
     {.user_known = true, .has_professional = true, .professional_excess = true},
     REFUSED_(EXCESS_ASSIGNMENT, NO_ACCESS_PASS)},
    {"excess professional skipped for analyzer",
     {.user_known = true, .has_professional = true, .professional_excess = true,
      .has_analyzer = true},
     OK_(ANALYZER, EXISTING_ALLOCATION)},
    {"excess analyzer skipped for user pass",
     {.user_known = true, .has_analyzer = true, .analyzer_excess = true,
      .has_user_pass = true},
     OK_(USER_PASS, EXISTING_ALLOCATION)},
    {"excess user pass skipped for a login pass",
     {.user_known = true, .has_user_pass = true, .user_pass_excess = true,
      .matches_login_group = true, .login_pass_available = true},
     OK_(LOGIN, NEW_PASS)},
    {"all allocations excess, capacity grants",
     {.user_known = true, .has_professional = true, .professional_excess = true,
      .has_analyzer = true, .analyzer_excess = true, .has_user_pass = true,
      .user_pass_excess = true, .matches_capacity_rule = true,
      .capacity_block_available = true},
     OK_(ANALYZER_TIME, CAPACITY)},
    {"excess wins over pending user sync",
     {.user_known = true, .has_analyzer = true, .analyzer_excess = true,
      .matches_professional_rule = true},
     REFUSED_(EXCESS_ASSIGNMENT, NO_ACCESS_PASS)},

    /* Pending user sync vs no access type. */
    {"professional rule without a free unit",
     {.user_known = true, .matches_professional_rule = true},
     REFUSED_(NO_AVAILABLE_ACCESS_TYPE_PENDING_USER_SYNC, NO_ACCESS_PASS)},
    {"analyzer rule without a free unit",
     {.user_known = true, .matches_analyzer_rule = true, .professional_unit_free = true,
      .matches_login_group = true, .matches_capacity_rule = true},
     REFUSED_(NO_AVAILABLE_ACCESS_TYPE_PENDING_USER_SYNC, NO_ACCESS_PASS)},
    {"rule without a free unit, but a login pass grants",
     {.user_known = true, .matches_professional_rule = true, .matches_login_group = true,
      .login_pass_available = true},
     OK_(LOGIN, NEW_PASS)},
    {"capacity pool spent",
     {.user_known = true, .matches_capacity_rule = true},
     REFUSED_(NO_AVAILABLE_ACCESS_TYPE, NO_ACCESS_PASS)},
    {"login group out of passes, window closed",
     {.user_known = true, .matches_login_group = true},
     REFUSED_(NO_AVAILABLE_ACCESS_TYPE, NO_ACCESS_PASS)},
    {"nothing at all",
     {.user_known = true},
     REFUSED_(NO_AVAILABLE_ACCESS_TYPE, NO_ACCESS_PASS)},
};

static void test_resolve_table(void)
{
    const struct core_params p = core_params_default();
    for (size_t i = 0; i < sizeof resolve_cases / sizeof resolve_cases[0]; i++) {
        const struct resolve_case *c = &resolve_cases[i];
        struct core_access_decision d = core_resolve_access(&c->s, &p);
        if (d.access != c->access || d.via != c->via || d.result != c->result
            || d.error != c->error) {
            printf("# case \"%s\": got %s/%s/%s/%d, expected %s/%s/%s/%d\n", c->name,
                   core_access_type_name(d.access), core_grant_via_name(d.via),
                   core_result_code_name(d.result), (int)d.error,
                   core_access_type_name(c->access), core_grant_via_name(c->via),
                   core_result_code_name(c->result), (int)c->error);
            t_fail_at(__FILE__, __LINE__, c->name);
        }
    }
}

static void test_resolve_parallel_limit_from_params(void)
{
    struct core_params p = core_params_default();
    struct core_access_snapshot s = {.user_known = true, .has_professional = true,
                                     .sessions_in_use = 1};
    p.max_parallel_sessions = 1;
    T_EQ_INT(core_resolve_access(&s, &p).result, CORE_RESULT_MAX_PARALLEL_SESSIONS_EXCEEDED);
    p.max_parallel_sessions = 2;
    T_EQ_INT(core_resolve_access(&s, &p).result, CORE_RESULT_OK);
    s.sessions_in_use = 0;
    p.max_parallel_sessions = 0;
    T_EQ_INT(core_resolve_access(&s, &p).result, CORE_RESULT_MAX_PARALLEL_SESSIONS_EXCEEDED);
}

/* ---- names ----------------------------------------------------------------- */

static void test_names(void)
{
    T_EQ_STR(core_result_code_name(CORE_RESULT_OK), "Ok");
    T_EQ_STR(core_result_code_name(CORE_RESULT_UNKNOWN_USER), "UnknownUser");
    T_EQ_STR(core_result_code_name(CORE_RESULT_LICENSE_NOT_AVAILABLE), "LicenseNotAvailable");
    T_EQ_STR(core_result_code_name(CORE_RESULT_NO_AVAILABLE_ACCESS_TYPE),
             "NoAvailableAccessType");
    T_EQ_STR(core_result_code_name(CORE_RESULT_NO_AVAILABLE_ACCESS_TYPE_PENDING_USER_SYNC),
             "NoAvailableAccessTypePendingUserSync");
    T_EQ_STR(core_result_code_name(CORE_RESULT_MAX_PARALLEL_SESSIONS_EXCEEDED),
             "MaxParallelSessionsExceeded");
    T_EQ_STR(core_result_code_name(CORE_RESULT_EXCESS_ASSIGNMENT), "ExcessAssignment");
    T_EQ_STR(core_result_code_name((enum core_result_code)99), "Unknown");

    static const struct {
        enum core_access_type t;
        const char *name;
    } types[] = {
        {CORE_ACCESS_PROFESSIONAL, "professional"}, {CORE_ACCESS_ANALYZER, "analyzer"},
        {CORE_ACCESS_USER_PASS, "user"}, {CORE_ACCESS_LOGIN, "login"},
        {CORE_ACCESS_ANALYZER_TIME, "analyzer_time"},
    };
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        enum core_access_type back = CORE_ACCESS_NONE;
        T_EQ_STR(core_access_type_name(types[i].t), types[i].name);
        T_CHECK(core_access_type_parse(types[i].name, &back));
        T_EQ_INT(back, types[i].t);
    }
    T_EQ_STR(core_access_type_name(CORE_ACCESS_NONE), "none");
    enum core_access_type untouched = CORE_ACCESS_LOGIN;
    const char *bad[] = {"none", "", "Professional", "user_pass", "analyzer-time",
                         "login ", "capacity"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        T_CHECK(!core_access_type_parse(bad[i], &untouched));
    T_CHECK(!core_access_type_parse(NULL, &untouched));
    T_EQ_INT(untouched, CORE_ACCESS_LOGIN);

    T_EQ_STR(core_grant_via_name(CORE_VIA_EXISTING_ALLOCATION), "existing_allocation");
    T_EQ_STR(core_grant_via_name(CORE_VIA_DYNAMIC_ASSIGNMENT), "dynamic_assignment");
    T_EQ_STR(core_grant_via_name(CORE_VIA_OPEN_WINDOW), "open_window");
    T_EQ_STR(core_grant_via_name(CORE_VIA_NEW_PASS), "new_pass");
    T_EQ_STR(core_grant_via_name(CORE_VIA_CAPACITY), "capacity");
    T_EQ_STR(core_grant_via_name(CORE_VIA_NONE), "none");
}

/* ---- durations ------------------------------------------------------------- */

static void test_duration_good(void)
{
    static const struct {
        const char *text;
        int64_t seconds;
    } good[] = {
        {"90s", 90}, {"10m", 600}, {"1h", 3600}, {"5d", 432000}, {"30", 30}, {"1", 1},
        {"007m", 420}, {"9223372036854775807", INT64_MAX},
        {"9223372036854775807s", INT64_MAX}, {"106751991167300d", INT64_C(106751991167300) * DAY},
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        int64_t v = -1;
        if (!core_duration_parse(good[i].text, &v) || v != good[i].seconds) {
            printf("# \"%s\" -> %" PRId64 "\n", good[i].text, v);
            t_fail_at(__FILE__, __LINE__, good[i].text);
        }
    }
}

static void test_duration_bad(void)
{
    static const char *const bad[] = {
        "", "0", "0s", "00m", "-5m", "+5m", "1.5m", " 10m", "10m ", "10 m", "m", "s",
        "10ms", "10mm", "10M", "1H", "10x", "1w", "1e3", "0x10", "10\n",
        "9223372036854775808", "106751991167301d", "153722867280912931m",
        "99999999999999999999999s",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t v = 12345;
        if (core_duration_parse(bad[i], &v) || v != 12345) {
            printf("# accepted \"%s\" -> %" PRId64 "\n", bad[i], v);
            t_fail_at(__FILE__, __LINE__, bad[i]);
        }
    }
    int64_t v = 1;
    T_CHECK(!core_duration_parse(NULL, &v));
    T_CHECK(!core_duration_parse("10m", NULL));
}

int main(void)
{
    T_RUN(test_params_default);
    T_RUN(test_time_add_saturates);
    T_RUN(test_month_start_known_dates);
    T_RUN(test_month_start_leap_february);
    T_RUN(test_month_start_december_rollover);
    T_RUN(test_month_start_clamps);
    T_RUN(test_calendar_matches_gmtime);
    T_RUN(test_capacity_26_minutes_cost_5_blocks);
    T_RUN(test_capacity_block_boundaries);
    T_RUN(test_capacity_idle_hour_is_free);
    T_RUN(test_capacity_block_month_is_its_start);
    T_RUN(test_capacity_block_minutes);
    T_RUN(test_capacity_pool_exhaustion);
    T_RUN(test_login_window);
    T_RUN(test_login_new_pass_after_close);
    T_RUN(test_pass_return);
    T_RUN(test_login_pass_counts);
    T_RUN(test_login_group_removal_refund);
    T_RUN(test_quarantine);
    T_RUN(test_allotment_available);
    T_RUN(test_session_linger);
    T_RUN(test_session_idle);
    T_RUN(test_license_state);
    T_RUN(test_resolve_table);
    T_RUN(test_resolve_parallel_limit_from_params);
    T_RUN(test_names);
    T_RUN(test_duration_good);
    T_RUN(test_duration_bad);
    return t_done();
}

/* Unit tests of src/core (include/allot/core.h): what C owns of the domain:
 * the calendar, RFC 3339 time, durations and the table of license
 * parameters.  The licensing rules are tested where they live, in
 * PostgreSQL (tests/db/test_rules.c). */
#include "allot/core.h"

#include <time.h>

#include "ttest.h"

#define HOUR INT64_C(3600)
#define DAY INT64_C(86400)

static void test_calendar_matches_gmtime(void)
{
    const int64_t last_day = INT64_C(253402300799) / DAY;
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
    }
    T_EQ_INT(bad, 0);
}

/* ---- analyzer capacity ----------------------------------------------------- */

static void test_time_round_trip(void)
{
    char buf[CORE_TIME_BUFSZ];
    int64_t t = 0;
    T_CHECK(core_time_parse("2024-02-29T12:00:00Z", &t));
    T_EQ_INT(t, INT64_C(1709208000));
    T_CHECK(core_time_format(t, buf, sizeof buf));
    T_EQ_STR(buf, "2024-02-29T12:00:00Z");
    T_CHECK(core_time_parse("2024-03-01T01:30:00.999+01:30", &t));
    T_EQ_INT(t, INT64_C(1709251200));
    T_CHECK(!core_time_parse("2023-02-29T00:00:00Z", &t));
    T_CHECK(!core_time_parse("2024-01-01T00:00:60Z", &t));
    T_CHECK(!core_time_parse("2024-01-01 00:00:00Z", &t));
    T_CHECK(!core_time_format(INT64_C(253402300800), buf, sizeof buf));
}

/* The table of parameters is sound: names unique and found, defaults within
 * their bounds, the durations' bound keeps now + value far from overflow. */
static void test_params_table(void)
{
    T_EQ_INT(CORE_PARAM_COUNT, 8);
    for (int i = 0; i < CORE_PARAM_COUNT; i++) {
        const struct core_param_def *p = &core_params[i];
        T_CHECK(p->name != NULL && p->description != NULL && p->description[0] != '\0');
        T_EQ_INT(core_param_find(p->name), i);
        T_CHECK(p->min <= p->def && p->def <= p->max);
        T_CHECK(p->max <= CORE_PARAM_SECONDS_MAX);
    }
    T_EQ_INT(core_param_find("nope"), -1);
    T_EQ_INT(core_param_find(NULL), -1);
    T_EQ_INT(core_params[CORE_PARAM_OFFLINE_GRACE].def, 432000);
    T_EQ_STR(core_params[CORE_PARAM_MAX_PARALLEL].name, "maxParallelSessions");
}

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

static void test_hex(void)
{
    const unsigned char raw[] = {0x00, 0x7f, 0xa5, 0xff};
    char text[9];
    core_hex(raw, sizeof raw, text);
    T_EQ_STR(text, "007fa5ff");
    unsigned char back[4] = {0};
    T_CHECK(core_unhex("007FA5ff", 4, back));
    T_CHECK(memcmp(back, raw, 4) == 0);
    T_CHECK(!core_unhex("007fa5fg", 4, back));
    T_CHECK(!core_unhex("0x", 1, back));
    T_CHECK(!core_unhex("0", 1, back)); /* stops at the NUL */
}

int main(void)
{
    T_RUN(test_calendar_matches_gmtime);
    T_RUN(test_time_round_trip);
    T_RUN(test_params_table);
    T_RUN(test_duration_good);
    T_RUN(test_duration_bad);
    T_RUN(test_hex);
    return t_done();
}

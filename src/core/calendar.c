/* Calendar arithmetic, proleptic Gregorian in UTC, without libc time zones.
 * days_from_civil / civil_from_days are Howard Hinnant's algorithms
 * (http://howardhinnant.github.io/date_algorithms.html): eras of 400 years
 * (146097 days) starting on 1 March, so leap days fall at the end of a year. */
#include "allot/rules.h"

#include <stddef.h>

#define SECONDS_PER_DAY INT64_C(86400)

/* Division rounding towards minus infinity (C rounds towards zero). */
static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    if ((a % b != 0) && ((a < 0) != (b < 0)))
        q--;
    return q;
}

int64_t core_days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    const int64_t era = floor_div(y, 400);
    const int64_t yoe = y - era * 400;                                   /* [0, 399] */
    const int64_t mp = m > 2 ? (int64_t)m - 3 : (int64_t)m + 9;          /* [0, 11] */
    const int64_t doy = (153 * mp + 2) / 5 + (int64_t)d - 1;             /* [0, 365] */
    const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;           /* [0, 146096] */
    return era * 146097 + doe - 719468;
}

void core_civil_from_days(int64_t days, int64_t *y, unsigned *m, unsigned *d)
{
    const int64_t z = days + 719468;
    const int64_t era = floor_div(z, 146097);
    const int64_t doe = z - era * 146097;                                /* [0, 146096] */
    const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365; /* [0, 399] */
    const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);         /* [0, 365] */
    const int64_t mp = (5 * doy + 2) / 153;                              /* [0, 11] */
    const unsigned dd = (unsigned)(doy - (153 * mp + 2) / 5 + 1);        /* [1, 31] */
    const unsigned mm = (unsigned)(mp < 10 ? mp + 3 : mp - 9);           /* [1, 12] */
    if (y != NULL)
        *y = yoe + era * 400 + (mm <= 2);
    if (m != NULL)
        *m = mm;
    if (d != NULL)
        *d = dd;
}

static int64_t clamp_time(int64_t now)
{
    if (now < CORE_TIME_MIN)
        return CORE_TIME_MIN;
    if (now > CORE_TIME_MAX)
        return CORE_TIME_MAX;
    return now;
}

int64_t core_month_start(int64_t now)
{
    int64_t y;
    unsigned m;
    core_civil_from_days(floor_div(clamp_time(now), SECONDS_PER_DAY), &y, &m, NULL);
    return core_days_from_civil(y, m, 1) * SECONDS_PER_DAY;
}

int64_t core_next_month_start(int64_t now)
{
    int64_t y;
    unsigned m;
    core_civil_from_days(floor_div(clamp_time(now), SECONDS_PER_DAY), &y, &m, NULL);
    if (m == 12) {
        y++;
        m = 1;
    } else {
        m++;
    }
    return core_days_from_civil(y, m, 1) * SECONDS_PER_DAY;
}

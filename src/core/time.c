/* Calendar arithmetic and RFC 3339 timestamps <-> unix seconds, proleptic
 * Gregorian in UTC, without the C library's time zone machinery.
 * days_from_civil / civil_from_days are Howard Hinnant's algorithms
 * (http://howardhinnant.github.io/date_algorithms.html): eras of 400 years
 * (146097 days) starting on 1 March, so leap days fall at the end of a year. */
#include "allot/core.h"

#include <stdio.h>
#include <string.h>

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

static bool is_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static unsigned days_in_month(int64_t y, unsigned m)
{
    static const unsigned char dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : dim[m - 1];
}

/* Reads exactly n decimal digits. */
static bool digits(const char **p, int n, unsigned *out)
{
    unsigned v = 0;
    for (int i = 0; i < n; i++) {
        char c = (*p)[i];
        if (c < '0' || c > '9')
            return false;
        v = v * 10 + (unsigned)(c - '0');
    }
    *p += n;
    *out = v;
    return true;
}

static bool expect(const char **p, char c)
{
    if (**p != c)
        return false;
    (*p)++;
    return true;
}

bool core_time_parse(const char *s, int64_t *out)
{
    if (s == NULL)
        return false;
    const char *p = s;
    unsigned y, mo, d, h, mi, sec;
    if (!digits(&p, 4, &y) || !expect(&p, '-') || !digits(&p, 2, &mo) || !expect(&p, '-') ||
        !digits(&p, 2, &d))
        return false;
    if (*p != 'T' && *p != 't')
        return false;
    p++;
    if (!digits(&p, 2, &h) || !expect(&p, ':') || !digits(&p, 2, &mi) || !expect(&p, ':') ||
        !digits(&p, 2, &sec))
        return false;
    if (*p == '.') {
        p++;
        int n = 0;
        while (*p >= '0' && *p <= '9') {
            p++;
            n++;
        }
        if (n < 1 || n > 9)
            return false;
    }
    int64_t offset = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int sign = *p == '-' ? -1 : 1;
        unsigned oh, om;
        p++;
        if (!digits(&p, 2, &oh) || !expect(&p, ':') || !digits(&p, 2, &om))
            return false;
        if (oh > 23 || om > 59)
            return false;
        offset = sign * (int64_t)(oh * 3600 + om * 60);
    } else {
        return false;
    }
    if (*p != '\0')
        return false;
    if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 || sec > 59)
        return false;
    int64_t t = core_days_from_civil(y, mo, d) * 86400 + (int64_t)(h * 3600 + mi * 60 + sec);
    *out = t - offset;
    return true;
}

bool core_time_format(int64_t t, char *buf, size_t len)
{
    /* 0000-01-01T00:00:00Z .. 9999-12-31T23:59:59Z */
    if (buf == NULL || len < 21 || t < -62167219200LL || t > 253402300799LL)
        return false;
    int64_t days = t / 86400, rem = t % 86400;
    if (rem < 0) {
        rem += 86400;
        days--;
    }
    int64_t y;
    unsigned m, d;
    core_civil_from_days(days, &y, &m, &d);
    int n = snprintf(buf, len, "%04d-%02u-%02uT%02d:%02d:%02dZ", (int)y, m, d,
                     (int)(rem / 3600), (int)(rem / 60 % 60), (int)(rem % 60));
    return n == 20;
}

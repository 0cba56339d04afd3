/* Durations in configuration: "90s", "10m", "1h", "5d" or bare seconds. */
#include "allot/core.h"

#include <stddef.h>

bool core_duration_parse(const char *text, int64_t *seconds)
{
    if (text == NULL || seconds == NULL)
        return false;

    const char *c = text;
    int64_t n = 0;
    if (*c < '0' || *c > '9')
        return false;               /* empty, sign, space, '.', ... */
    for (; *c >= '0' && *c <= '9'; c++) {
        if (__builtin_mul_overflow(n, 10, &n) || __builtin_add_overflow(n, *c - '0', &n))
            return false;
    }

    int64_t scale;
    switch (*c) {
    case '\0': scale = 1; break;
    case 's': scale = 1; c++; break;
    case 'm': scale = 60; c++; break;
    case 'h': scale = 3600; c++; break;
    case 'd': scale = 86400; c++; break;
    default: return false;
    }
    if (*c != '\0')
        return false;               /* "1.5m", "10m ", "10ms", ... */

    int64_t r;
    if (__builtin_mul_overflow(n, scale, &r) || r <= 0)
        return false;
    *seconds = r;
    return true;
}

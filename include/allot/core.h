/* What C owns of the domain (src/core): durations of the configuration,
 * RFC 3339 time, and the license parameters (allot/params.h).  The licensing
 * rules themselves live in PostgreSQL (sql/).  Pure: no I/O, no clock, no
 * state; every function is reentrant. */
#ifndef ALLOT_CORE_H
#define ALLOT_CORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "allot/params.h"

/* ---- durations in configuration ------------------------------------------- */

/* Parses a positive duration: digits followed by one optional unit, "s", "m",
 * "h" or "d" ("90s", "10m", "1h", "5d"; bare digits are seconds).  false for
 * anything else, zero, or an overflow. */
bool core_duration_parse(const char *text, int64_t *seconds);

/* ---- calendar and RFC 3339 time (proleptic Gregorian, UTC) ----------------- */

/* Days since 1970-01-01 of the date y-m-d (m 1..12, d 1..31, not checked), and
 * back (Howard Hinnant's algorithms). */
int64_t core_days_from_civil(int64_t y, unsigned m, unsigned d);
void core_civil_from_days(int64_t days, int64_t *y, unsigned *m, unsigned *d);

/* Buffer size for core_time_format ("YYYY-MM-DDTHH:MM:SSZ" + NUL, with room). */
#define CORE_TIME_BUFSZ 32

/* Parses "YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM)" (T/Z may be lower
 * case; 1..9 fraction digits, truncated) into unix seconds (UTC).  Calendar
 * dates are checked (leap years); a leap second (:60) is refused.  Years
 * 0000..9999.  true on success; *out is untouched on failure. */
bool core_time_parse(const char *s, int64_t *out);

/* Formats unix seconds as "YYYY-MM-DDTHH:MM:SSZ".  false when the time is
 * outside years 0000..9999 or buf is too small. */
bool core_time_format(int64_t t, char *buf, size_t len);

/* ---- encodings -------------------------------------------------------------- */

/* n bytes as 2n lower-case hex digits and a NUL (out holds 2n + 1). */
void core_hex(const unsigned char *in, size_t n, char *out);
/* The n bytes of the first 2n hex digits of in (either case); false when one
 * of them is not a hex digit (in is read no further than that). */
bool core_unhex(const char *in, size_t n, unsigned char *out);

/* base64url without padding, malloc'd and NUL-terminated; NULL when out of
 * memory. */
char *core_b64url_encode(const unsigned char *data, size_t len);
/* The bytes of s (slen characters), malloc'd (NUL after them), length in
 * *outlen; NULL for anything but canonical unpadded base64url. */
unsigned char *core_b64url_decode(const char *s, size_t slen, size_t *outlen);

#endif

/* A growable byte buffer with a hard cap: every dynamic buffer has one. */
#ifndef ALLOT_BUF_H
#define ALLOT_BUF_H

#include <stdbool.h>
#include <stddef.h>

struct buf {
    char *data;
    size_t len, cap, limit;
    bool overflow; /* an append would have passed limit; data kept as it was */
    bool borrowed; /* data is the caller's storage (buf_init_on) until it grows */
};

void buf_init(struct buf *b, size_t limit);
/* Starts on the caller's storage (a stack array, say), moved to the heap only
 * when it outgrows it: no allocation for the usual small text. */
void buf_init_on(struct buf *b, char *storage, size_t size, size_t limit);
void buf_free(struct buf *b);
/* Makes room for cap bytes in all (data and its NUL), exactly: for a caller
 * that accounts for the memory a buffer holds.  False past limit + 1. */
bool buf_grow_to(struct buf *b, size_t cap);
bool buf_append(struct buf *b, const void *data, size_t len);
/* Appends a string literal (its length known at compile time). */
#define buf_lit(b, literal) buf_append((b), "" literal "", sizeof(literal) - 1)
bool buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends text (at most max bytes of it) as a JSON string literal: quotes,
 * backslashes and control characters escaped, bytes that are not UTF-8
 * replaced by U+FFFD, so the result is always valid JSON. */
void buf_json_string(struct buf *b, const char *text, size_t max);
/* Takes the NUL-terminated contents; the buffer is left empty. */
char *buf_steal(struct buf *b, size_t *len);

#endif

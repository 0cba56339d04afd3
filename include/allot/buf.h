/* A growable byte buffer with a hard cap: every dynamic buffer has one. */
#ifndef ALLOT_BUF_H
#define ALLOT_BUF_H

#include <stdbool.h>
#include <stddef.h>

struct buf {
    char *data;
    size_t len, cap, limit;
    bool overflow; /* an append would have passed limit; data kept as it was */
};

void buf_init(struct buf *b, size_t limit);
void buf_free(struct buf *b);
/* Makes room for cap bytes in all (data and its NUL), exactly: for a caller
 * that accounts for the memory a buffer holds.  False past limit + 1. */
bool buf_grow_to(struct buf *b, size_t cap);
bool buf_append(struct buf *b, const void *data, size_t len);
bool buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Takes the NUL-terminated contents; the buffer is left empty. */
char *buf_steal(struct buf *b, size_t *len);

#endif

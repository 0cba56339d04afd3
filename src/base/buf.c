#include "allot/buf.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void buf_init(struct buf *b, size_t limit)
{
    memset(b, 0, sizeof *b);
    b->limit = limit;
}

void buf_free(struct buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

bool buf_grow_to(struct buf *b, size_t cap)
{
    if (cap <= b->cap)
        return true;
    if (b->limit < SIZE_MAX && cap > b->limit + 1) {
        b->overflow = true;
        return false;
    }
    char *grown = realloc(b->data, cap);
    if (grown == NULL) {
        b->overflow = true;
        return false;
    }
    b->data = grown;
    b->cap = cap;
    return true;
}

static bool reserve(struct buf *b, size_t extra)
{
    if (extra > b->limit || b->len > b->limit - extra) {
        b->overflow = true;
        return false;
    }
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return true;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap *= 2; /* doubling, but never past what the limit can need */
    if (b->limit < SIZE_MAX && cap > b->limit + 1)
        cap = b->limit + 1;
    return buf_grow_to(b, cap);
}

bool buf_append(struct buf *b, const void *data, size_t len)
{
    if (!reserve(b, len))
        return false;
    memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
    return true;
}

bool buf_printf(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || !reserve(b, (size_t)n))
        return false;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return true;
}

char *buf_steal(struct buf *b, size_t *len)
{
    if (b->data == NULL) {
        if (!reserve(b, 0))
            return NULL;
        b->data[0] = '\0';
    }
    char *d = b->data;
    if (len != NULL)
        *len = b->len;
    b->data = NULL;
    b->len = b->cap = 0;
    return d;
}

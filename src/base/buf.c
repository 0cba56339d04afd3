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

void buf_init_on(struct buf *b, char *storage, size_t size, size_t limit)
{
    buf_init(b, limit);
    b->data = storage;
    b->cap = size;
    b->borrowed = true;
    if (size > 0)
        storage[0] = '\0';
}

void buf_free(struct buf *b)
{
    if (!b->borrowed)
        free(b->data);
    b->borrowed = false;
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
    char *grown = b->borrowed ? malloc(cap) : realloc(b->data, cap);
    if (grown == NULL) {
        b->overflow = true;
        return false;
    }
    if (b->borrowed && b->len > 0)
        memcpy(grown, b->data, b->len + 1);
    b->borrowed = false;
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
    if (b->borrowed) {
        /* The caller's storage cannot leave: hand out a heap copy. */
        char *copy = malloc(b->len + 1);
        if (copy == NULL)
            return NULL;
        memcpy(copy, b->data, b->len);
        copy[b->len] = '\0';
        if (len != NULL)
            *len = b->len;
        b->borrowed = false;
        b->data = NULL;
        b->len = b->cap = 0;
        return copy;
    }
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

/* A JSON string literal of text (at most max bytes of it), escaped; bytes
 * that are not UTF-8 become U+FFFD, so the line stays valid JSON. */
void buf_json_string(struct buf *b, const char *text, size_t max)
{
    static const char hex[] = "0123456789abcdef";
    buf_append(b, "\"", 1);
    const unsigned char *p = (const unsigned char *)text;
    const unsigned char *end = p + strnlen(text, max);
    while (p < end) {
        unsigned char c = *p;
        if (c == '"' || c == '\\') {
            char esc[2] = {'\\', (char)c};
            buf_append(b, esc, 2);
            p++;
        } else if (c < 0x20 || c == 0x7f) {
            char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            buf_append(b, esc, 6);
            p++;
        } else if (c < 0x80) {
            buf_append(b, p, 1);
            p++;
        } else {
            /* One well-formed UTF-8 sequence, or U+FFFD for the byte. */
            size_t len = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 ? 2 : 0;
            bool ok = len > 0 && c < 0xf5 && p + len <= end;
            for (size_t i = 1; ok && i < len; i++)
                ok = (p[i] & 0xc0) == 0x80;
            if (ok && len == 3)
                ok = !(c == 0xe0 && p[1] < 0xa0) && !(c == 0xed && p[1] >= 0xa0);
            if (ok && len == 4)
                ok = !(c == 0xf0 && p[1] < 0x90) && !(c == 0xf4 && p[1] >= 0x90);
            if (ok) {
                buf_append(b, p, len);
                p += len;
            } else {
                buf_append(b, "\xef\xbf\xbd", 3);
                p++;
            }
        }
    }
    buf_append(b, "\"", 1);
}

/* Declarative validation of JSON request bodies: a table of fields, checked in
 * one pass, that names the field it rejects. */
#ifndef ALLOT_JSON_SPEC_H
#define ALLOT_JSON_SPEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

enum jspec_type {
    JS_STRING,       /* min..max code points, no control characters */
    JS_STRING_ARRAY, /* 0..max_items strings, each min..max code points */
    JS_INT,          /* an integer in min..max */
    JS_BOOL,
    JS_OBJECT,       /* any object; validated by the caller */
    JS_ARRAY,        /* min..max_items items of any kind; validated by the caller */
};

struct jspec {
    const char *name;
    enum jspec_type type;
    bool required;
    int64_t min, max;
    size_t max_items;
};

/* Validates body against spec (n entries).  out[i] receives the value of
 * spec[i] (borrowed) or NULL when absent.  Unknown members are refused.  On
 * failure returns a message and sets *field to the member to blame (NULL when
 * the body itself is wrong). */
const char *jspec_check(const json_t *body, const struct jspec *spec, size_t n,
                        json_t **out, const char **field);

/* A string acceptable as text: valid UTF-8 (jansson checks bodies, but query
 * parameters come here unchecked), no control characters (C0, DEL, C1), at
 * least min and at most max code points. */
const char *jspec_text_ok(const char *s, int64_t min, int64_t max);

#endif

#include "allot/json_spec.h"

#include <string.h>

/* Length of the well-formed UTF-8 sequence at p (RFC 3629: no overlongs, no
 * surrogates, nothing above U+10FFFF), or 0. */
static size_t utf8_sequence(const unsigned char *p)
{
    unsigned c = p[0];
    if (c < 0x80)
        return 1;
    size_t n;
    unsigned lo = 0x80, hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf)
        n = 2;
    else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        if (c == 0xe0)
            lo = 0xa0;
        else if (c == 0xed)
            hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        if (c == 0xf0)
            lo = 0x90;
        else if (c == 0xf4)
            hi = 0x8f;
    } else
        return 0;
    if (p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++)
        if (p[i] < 0x80 || p[i] > 0xbf)
            return 0;
    return n;
}

const char *jspec_text_ok(const char *s, int64_t min, int64_t max)
{
    int64_t points = 0;
    const unsigned char *p = (const unsigned char *)s;
    while (*p != '\0') {
        unsigned c = *p;
        if (c < 0x20 || c == 0x7f)
            return "must not contain control characters";
        if (c == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f)
            return "must not contain control characters"; /* C1 controls */
        size_t n = utf8_sequence(p);
        if (n == 0)
            return "must be valid UTF-8";
        points++;
        p += n;
    }
    if (points < min)
        return min == 1 ? "must not be empty" : "is too short";
    if (points > max)
        return "is too long";
    return NULL;
}

static const struct jspec *find(const struct jspec *spec, size_t n, const char *name,
                                size_t *index)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(spec[i].name, name) == 0) {
            *index = i;
            return &spec[i];
        }
    return NULL;
}

static const char *check_value(const struct jspec *s, const json_t *v)
{
    switch (s->type) {
    case JS_STRING:
        if (!json_is_string(v))
            return "must be a string";
        return jspec_text_ok(json_string_value(v), s->min, s->max);
    case JS_STRING_ARRAY: {
        if (!json_is_array(v))
            return "must be an array of strings";
        if (json_array_size(v) > s->max_items)
            return "has too many items";
        size_t i;
        const json_t *item;
        json_array_foreach(v, i, item) {
            if (!json_is_string(item))
                return "must be an array of strings";
            const char *why = jspec_text_ok(json_string_value(item), s->min, s->max);
            if (why != NULL)
                return why;
        }
        return NULL;
    }
    case JS_INT:
        if (!json_is_integer(v))
            return "must be an integer";
        if (json_integer_value(v) < s->min || json_integer_value(v) > s->max)
            return "is out of range";
        return NULL;
    case JS_BOOL:
        return json_is_boolean(v) ? NULL : "must be true or false";
    case JS_OBJECT:
        return json_is_object(v) ? NULL : "must be an object";
    case JS_ARRAY:
        if (!json_is_array(v))
            return "must be an array";
        if (json_array_size(v) < (size_t)s->min)
            return "has too few items";
        return json_array_size(v) > s->max_items ? "has too many items" : NULL;
    }
    return "has an unknown type";
}

const char *jspec_check(const json_t *body, const struct jspec *spec, size_t n,
                        json_t **out, const char **field)
{
    *field = NULL;
    for (size_t i = 0; i < n; i++)
        out[i] = NULL;
    if (!json_is_object(body))
        return "the body must be a JSON object";
    const char *key;
    json_t *value;
    json_object_foreach((json_t *)body, key, value) {
        size_t index;
        const struct jspec *s = find(spec, n, key, &index);
        if (s == NULL) {
            *field = key;
            return "is not a known field";
        }
        if (json_is_null(value) && !s->required)
            continue; /* null = absent for optional members */
        const char *why = check_value(s, value);
        if (why != NULL) {
            *field = s->name;
            return why;
        }
        out[index] = value;
    }
    for (size_t i = 0; i < n; i++)
        if (spec[i].required && out[i] == NULL) {
            *field = spec[i].name;
            return "is required";
        }
    return NULL;
}

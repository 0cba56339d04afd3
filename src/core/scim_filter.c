/* SCIM filters: `attr eq "value"` joined by `and` (include/allot/scim_filter.h). */
#include "allot/scim_filter.h"

#include "allot/core.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const attr_names[SCIM_ATTR_COUNT] = {
    [SCIM_ATTR_ID] = "id",
    [SCIM_ATTR_USER_NAME] = "userName",
    [SCIM_ATTR_EXTERNAL_ID] = "externalId",
    [SCIM_ATTR_DISPLAY_NAME] = "displayName",
};

/* The schema URNs an attribute may be prefixed with. */
static const char *const schema_prefixes[] = {
    "urn:ietf:params:scim:schemas:core:2.0:User:",
    "urn:ietf:params:scim:schemas:core:2.0:Group:",
};

const char *scim_attr_name(enum scim_attr a)
{
    return (size_t)a < SCIM_ATTR_COUNT ? attr_names[a] : NULL;
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t';
}

static bool is_name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '-' || c == '.' || c == ':' || c == '$';
}

/* A word (case-insensitive) at *p, followed by a space or the end. */
static bool take_word(const char **p, const char *word)
{
    size_t n = strlen(word);
    if (strncasecmp(*p, word, n) != 0 || !(is_space((*p)[n]) || (*p)[n] == '\0'))
        return false;
    *p += n;
    return true;
}

static void skip_spaces(const char **p)
{
    while (is_space(**p))
        (*p)++;
}

/* Four hex digits at p (a \u escape's), with core_unhex. */
static bool read_hex4(const char *p, uint32_t *out)
{
    unsigned char b[2];
    if (!core_unhex(p, 2, b))
        return false;
    *out = (uint32_t)b[0] << 8 | b[1];
    return true;
}

static size_t put_utf8(uint32_t cp, char *out)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xc0 | cp >> 6);
        out[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xe0 | cp >> 12);
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        out[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    out[0] = (char)(0xf0 | cp >> 18);
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    out[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/* The length of a well-formed UTF-8 sequence at p (no overlongs, no
 * surrogates), or 0. */
static size_t utf8_len(const unsigned char *p)
{
    if (*p >= 0x20 && *p < 0x80)
        return 1;
    if (*p >= 0xc2 && *p <= 0xdf && (p[1] & 0xc0) == 0x80)
        return 2;
    if (*p >= 0xe0 && *p <= 0xef && (p[1] & 0xc0) == 0x80 && (p[2] & 0xc0) == 0x80 &&
        !(*p == 0xe0 && p[1] < 0xa0) && !(*p == 0xed && p[1] >= 0xa0))
        return 3;
    if (*p >= 0xf0 && *p <= 0xf4 && (p[1] & 0xc0) == 0x80 && (p[2] & 0xc0) == 0x80 &&
        (p[3] & 0xc0) == 0x80 && !(*p == 0xf0 && p[1] < 0x90) && !(*p == 0xf4 && p[1] >= 0x90))
        return 4;
    return 0;
}

/* A JSON string at *p (its opening quote), decoded into a malloc'd value. */
static const char *take_string(const char **p, char **value)
{
    const char *s = *p + 1;
    char *out = malloc(SCIM_VALUE_MAX + 1);
    if (out == NULL)
        return "out of memory";
    size_t n = 0;
    const char *why = NULL;
    for (;;) {
        unsigned char c = (unsigned char)*s;
        char tmp[4];
        size_t len;
        if (c == '\0') {
            why = "a value's closing quote is missing";
            break;
        }
        if (c == '"') {
            s++;
            break;
        }
        if (c == '\\') {
            uint32_t cp = 0;
            s++;
            switch (*s) {
            case '"': cp = '"'; break;
            case '\\': cp = '\\'; break;
            case '/': cp = '/'; break;
            case 'b': cp = '\b'; break;
            case 'f': cp = '\f'; break;
            case 'n': cp = '\n'; break;
            case 'r': cp = '\r'; break;
            case 't': cp = '\t'; break;
            case 'u':
                if (!read_hex4(s + 1, &cp)) {
                    why = "a \\u escape needs four hex digits";
                    break;
                }
                s += 4;
                if (cp >= 0xd800 && cp <= 0xdbff) {
                    uint32_t lo;
                    if (s[1] != '\\' || s[2] != 'u' || !read_hex4(s + 3, &lo) || lo < 0xdc00 ||
                        lo > 0xdfff) {
                        why = "a \\u escape is half a surrogate pair";
                        break;
                    }
                    cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                    s += 6;
                } else if (cp >= 0xdc00 && cp <= 0xdfff) {
                    why = "a \\u escape is half a surrogate pair";
                } else if (cp == 0) {
                    why = "a value contains \\u0000";
                }
                break;
            default:
                why = "a value has an unknown escape";
                break;
            }
            if (why != NULL)
                break;
            s++;
            len = put_utf8(cp, tmp);
        } else {
            len = utf8_len((const unsigned char *)s);
            if (len == 0) {
                why = "a value is not UTF-8 text without control characters";
                break;
            }
            memcpy(tmp, s, len);
            s += len;
        }
        if (n + len > SCIM_VALUE_MAX) {
            why = "a value is longer than 1024 bytes";
            break;
        }
        memcpy(out + n, tmp, len);
        n += len;
    }
    if (why != NULL) {
        free(out);
        return why;
    }
    out[n] = '\0';
    *value = out;
    *p = s;
    return NULL;
}

/* An attribute path at *p: its name (a schema's URN first, or not). */
static const char *take_attr(const char **p, unsigned allowed, enum scim_attr *out)
{
    const char *s = *p;
    size_t len = 0;
    while (is_name_char(s[len]))
        len++;
    if (len == 0)
        return "an attribute name is expected";
    const char *name = s;
    size_t nlen = len;
    for (size_t i = 0; i < sizeof schema_prefixes / sizeof schema_prefixes[0]; i++) {
        size_t plen = strlen(schema_prefixes[i]);
        if (len > plen && strncasecmp(s, schema_prefixes[i], plen) == 0) {
            name += plen;
            nlen -= plen;
            break;
        }
    }
    for (size_t a = 0; a < SCIM_ATTR_COUNT; a++) {
        if (strlen(attr_names[a]) == nlen && strncasecmp(name, attr_names[a], nlen) == 0) {
            if ((allowed & SCIM_ATTR_BIT(a)) == 0)
                return "this attribute cannot be filtered on here";
            *out = (enum scim_attr)a;
            *p = s + len;
            return NULL;
        }
    }
    return "only userName, externalId, displayName and id can be filtered on";
}

const char *scim_filter_parse(const char *text, unsigned allowed, struct scim_filter *out)
{
    memset(out, 0, sizeof *out);
    if (strlen(text) > SCIM_FILTER_MAX)
        return "the filter is longer than 2048 bytes";
    const char *p = text;
    const char *why = NULL;
    for (;;) {
        skip_spaces(&p);
        enum scim_attr a;
        if ((why = take_attr(&p, allowed, &a)) != NULL)
            break;
        if (!is_space(*p)) {
            why = "an operator must follow the attribute, after a space";
            break;
        }
        skip_spaces(&p);
        if (!take_word(&p, "eq")) {
            why = "only the operator eq is supported (joined by and)";
            break;
        }
        skip_spaces(&p);
        if (*p != '"') {
            why = "a value must be a JSON string in double quotes";
            break;
        }
        char *value = NULL;
        if ((why = take_string(&p, &value)) != NULL)
            break;
        if (out->value[a] == NULL)
            out->value[a] = value;
        else {
            if (strcmp(out->value[a], value) != 0)
                out->none = true;
            free(value);
        }
        if (*p != '\0' && !is_space(*p)) {
            why = "a space or the end must follow a value";
            break;
        }
        skip_spaces(&p);
        if (*p == '\0')
            break;
        if (!take_word(&p, "and")) {
            why = "only and can join two comparisons";
            break;
        }
    }
    if (why != NULL)
        scim_filter_free(out);
    return why;
}

void scim_filter_free(struct scim_filter *f)
{
    for (size_t a = 0; a < SCIM_ATTR_COUNT; a++)
        free(f->value[a]);
    memset(f, 0, sizeof *f);
}

/* Appends text to out at *n; false when it does not fit. */
static bool put(char *out, size_t outlen, size_t *n, const char *text, size_t len)
{
    if (*n + len + 1 > outlen)
        return false;
    memcpy(out + *n, text, len);
    *n += len;
    out[*n] = '\0';
    return true;
}

bool scim_filter_format(const struct scim_filter *f, char *out, size_t outlen)
{
    static const char hex[] = "0123456789abcdef";
    size_t n = 0;
    if (outlen == 0)
        return false;
    out[0] = '\0';
    bool first = true;
    for (size_t a = 0; a < SCIM_ATTR_COUNT; a++) {
        const char *v = f->value[a];
        if (v == NULL)
            continue;
        if (!first && !put(out, outlen, &n, " and ", 5))
            return false;
        first = false;
        if (!put(out, outlen, &n, attr_names[a], strlen(attr_names[a])) ||
            !put(out, outlen, &n, " eq \"", 5))
            return false;
        for (const unsigned char *c = (const unsigned char *)v; *c != '\0'; c++) {
            char esc[6] = {'\\', (char)*c, 0, 0, 0, 0};
            size_t len = 2;
            if (*c < 0x20) {
                esc[1] = 'u';
                esc[2] = '0';
                esc[3] = '0';
                esc[4] = hex[*c >> 4];
                esc[5] = hex[*c & 15];
                len = 6;
            } else if (*c != '"' && *c != '\\') {
                esc[0] = (char)*c;
                len = 1;
            }
            if (!put(out, outlen, &n, esc, len))
                return false;
        }
        if (!put(out, outlen, &n, "\"", 1))
            return false;
    }
    return true;
}

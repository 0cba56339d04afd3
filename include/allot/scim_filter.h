/* SCIM filters (RFC 7644 section 3.4.2.2), the part provisioning clients
 * send: `attribute eq "value"`, joined by `and`.  Pure (src/core), so that
 * it is unit-tested and fuzzed alone (tests/fuzz/fuzz_scim_filter.c). */
#ifndef ALLOT_SCIM_FILTER_H
#define ALLOT_SCIM_FILTER_H

#include <stdbool.h>
#include <stddef.h>

/* The attributes a filter may name (a route allows some of them). */
enum scim_attr {
    SCIM_ATTR_ID,
    SCIM_ATTR_USER_NAME,
    SCIM_ATTR_EXTERNAL_ID,
    SCIM_ATTR_DISPLAY_NAME,
    SCIM_ATTR_COUNT
};
#define SCIM_ATTR_BIT(a) (1u << (a))

/* A filter longer than this is refused, and so is a value (in bytes, once
 * its escapes are decoded). */
#define SCIM_FILTER_MAX 2048
#define SCIM_VALUE_MAX 1024

/* What a filter asks: the value each attribute must equal (NULL: any).
 * The same attribute twice with two values matches nothing: `none`. */
struct scim_filter {
    char *value[SCIM_ATTR_COUNT]; /* malloc'd, UTF-8, NUL-free */
    bool none;
};

/* Parses text into out (zeroed first).  Attribute names and the words eq
 * and and are case-insensitive; an attribute may carry its schema's URN
 * ("urn:ietf:params:scim:schemas:core:2.0:User:userName").  A value is a
 * JSON string.  Only attributes in `allowed` (SCIM_ATTR_BIT mask) are
 * taken.  Returns NULL, or why the filter is refused (static text); out is
 * then empty. */
const char *scim_filter_parse(const char *text, unsigned allowed, struct scim_filter *out);
void scim_filter_free(struct scim_filter *f);
/* The canonical text of a filter (attributes in enum order), into out;
 * false when it does not fit.  It parses back to the same filter. */
bool scim_filter_format(const struct scim_filter *f, char *out, size_t outlen);
/* The attribute's name as SCIM spells it. */
const char *scim_attr_name(enum scim_attr a);

#endif

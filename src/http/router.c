/* Route matching over a const table: pure, so it is unit-tested alone. */
#include "allot/http.h"

#include <stdio.h>
#include <string.h>

/* True when the pattern segment p (plen bytes) is "{name*}": the rest of the
 * path.  Only the last segment of a pattern can be one. */
static bool is_rest(const char *p, size_t plen)
{
    return plen > 3 && p[0] == '{' && p[plen - 2] == '*' && p[plen - 1] == '}' && p[plen] == '\0';
}

/* Compares one pattern with a path segment by segment; a "{name}" segment
 * captures any non-empty segment, a final "{name*}" segment everything after
 * the slash before it, slashes included, possibly nothing (copied into buf
 * unless buf is NULL). */
static bool pattern_matches(const char *pattern, const char *path, char *buf, size_t buflen,
                            const char *params[HTTP_MAX_PARAMS], size_t *nparams)
{
    size_t used = 0, np = 0;
    const char *p = pattern, *s = path;
    while (*p == '/' && *s == '/') {
        p++;
        s++;
        size_t plen = strcspn(p, "/");
        size_t slen = strcspn(s, "/");
        bool rest = is_rest(p, plen);
        if (rest)
            slen = strlen(s);
        if (plen > 1 && p[0] == '{' && p[plen - 1] == '}') {
            if ((slen == 0 && !rest) || np == HTTP_MAX_PARAMS)
                return false;
            if (buf != NULL) {
                if (used + slen + 1 > buflen)
                    return false;
                memcpy(buf + used, s, slen);
                buf[used + slen] = '\0';
                params[np] = buf + used;
                used += slen + 1;
            }
            np++;
        } else if (plen != slen || memcmp(p, s, plen) != 0) {
            return false;
        }
        p += plen;
        s += slen;
    }
    if (*p != '\0' || *s != '\0')
        return false;
    *nparams = np;
    return true;
}

/* Literal segments of a pattern: among patterns that match a path, the most
 * literal ones win ("/sessions/events" over "/sessions/{id}"). */
static int literal_segments(const char *pattern)
{
    int n = 0;
    for (const char *p = pattern; *p != '\0'; p++)
        if (*p == '/' && p[1] != '{' && p[1] != '\0')
            n++;
    return n;
}

static void allow_add(char *allow, size_t allowlen, const char *method)
{
    if (strstr(allow, method) != NULL)
        return;
    size_t len = strlen(allow);
    snprintf(allow + len, allowlen - len, "%s%s", len ? ", " : "", method);
}

/* Routes one path may match at most (its methods, and a literal and a
 * parameter pattern over it): far more than the table has. */
#define ROUTE_HITS_MAX 32

enum route_match http_route_match(const struct http_route *table, size_t n,
                                  const char *method, const char *path,
                                  const struct http_route **found,
                                  char *buf, size_t buflen,
                                  const char *params[HTTP_MAX_PARAMS], size_t *nparams,
                                  char *allow, size_t allowlen)
{
    bool path_known = false;
    const char *want = strcmp(method, "HEAD") == 0 ? "GET" : method;
    if (allowlen > 0)
        allow[0] = '\0';
    *found = NULL;
    *nparams = 0;
    /* One pass over the table finds the patterns the path matches (the
     * methods of a path or two: a handful) and their literal segments; the
     * most literal of them are then taken in the table's order.  A pattern
     * the path does not match is left at its first differing character. */
    int best = -1;
    const char *scratch[HTTP_MAX_PARAMS];
    size_t nscratch;
    size_t hits[ROUTE_HITS_MAX];
    int lits[ROUTE_HITS_MAX];
    size_t nhits = 0;
    for (size_t i = 0; i < n; i++) {
        if (!pattern_matches(table[i].pattern, path, NULL, 0, scratch, &nscratch))
            continue;
        if (nhits == ROUTE_HITS_MAX)
            return ROUTE_NO_PATH; /* a table of that many look-alike routes is a bug */
        lits[nhits] = literal_segments(table[i].pattern);
        if (lits[nhits] > best)
            best = lits[nhits];
        hits[nhits++] = i;
    }
    for (size_t h = 0; h < nhits; h++) {
        size_t i = hits[h];
        if (lits[h] != best)
            continue;
        path_known = true;
        allow_add(allow, allowlen, table[i].method);
        if (strcmp(table[i].method, "GET") == 0)
            allow_add(allow, allowlen, "HEAD");
        if (*found == NULL && strcmp(table[i].method, want) == 0) {
            if (!pattern_matches(table[i].pattern, path, buf, buflen, params, nparams))
                return ROUTE_NO_PATH; /* a segment too long to name anything */
            *found = &table[i];
        }
    }
    if (*found != NULL)
        return ROUTE_FOUND;
    return path_known ? ROUTE_NO_METHOD : ROUTE_NO_PATH;
}

const char *http_role_name(unsigned role)
{
    switch (role) {
    case ROLE_ADMIN: return "admin";
    case ROLE_AUDITOR: return "auditor";
    case ROLE_PROXY: return "proxy";
    case ROLE_SCIM: return "scim";
    default: return "unknown";
    }
}

unsigned http_role_parse(const char *name)
{
    if (strcmp(name, "admin") == 0) return ROLE_ADMIN;
    if (strcmp(name, "auditor") == 0) return ROLE_AUDITOR;
    if (strcmp(name, "proxy") == 0) return ROLE_PROXY;
    if (strcmp(name, "scim") == 0) return ROLE_SCIM;
    return 0;
}

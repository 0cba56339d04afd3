/* allot-authority sites and GET /v1/sites: the vendor's report of every
 * license, its site, its last sync, its assignments against its allotments,
 * and whether its site has gone quiet for longer than the license allows
 * (offlineGraceSeconds: past it, the site has disabled its licenses). */
#include "authority.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The payload of the recorded license key (the authority's own record; its
 * signature was checked when it was recorded). */
static bool definition_of(const char *key, struct lic_license *lic)
{
    lic_license_init(lic);
    const char *dot1 = key != NULL ? strchr(key, '.') : NULL;
    const char *dot2 = dot1 != NULL ? strchr(dot1 + 1, '.') : NULL;
    if (dot2 == NULL)
        return false;
    size_t len = 0;
    unsigned char *raw = core_b64url_decode(dot1 + 1, (size_t)(dot2 - dot1 - 1), &len);
    json_t *p = raw != NULL ? json_loadb((const char *)raw, len, 0, NULL) : NULL;
    free(raw);
    bool ok = p != NULL && lic_parse(p, lic, NULL, 0) == LIC_OK;
    json_decref(p);
    return ok;
}

static int64_t grace_of(const struct astate *st, struct lic_license *lic, bool *known)
{
    *known = definition_of(st->definition, lic);
    return lic->params.v[CORE_PARAM_OFFLINE_GRACE];
}

static bool is_stale(const struct astate *st, int64_t grace, int64_t now)
{
    return st->synced && now > st->last_sync_at + grace;
}

struct report {
    json_t *data;
    int64_t now, seen, stale;
};

static json_t *time_or_null(int64_t t, bool set)
{
    char buf[CORE_TIME_BUFSZ];
    return set && core_time_format(t, buf, sizeof buf) ? json_string(buf) : json_null();
}

static int add_site(const struct astate *st, void *arg)
{
    struct report *r = arg;
    struct lic_license lic;
    bool known;
    int64_t grace = grace_of(st, &lic, &known);
    bool stale = is_stale(st, grace, r->now);
    r->seen += st->synced;
    r->stale += stale;
    if (r->data == NULL)
        return 0;
    json_t *allot = json_array();
    for (int k = 0; known && k < LIC_ALLOTMENT_COUNT; k++)
        if (lic.allotments[k].present)
            json_array_append_new(allot, json_pack("{s:s, s:I, s:I}", "name",
                                                   lic_allotment_name(k), "units",
                                                   (json_int_t)lic.allotments[k].units,
                                                   "overage",
                                                   (json_int_t)lic.allotments[k].overage));
    json_t *o = json_pack(
        "{s:s, s:o, s:o, s:o, s:o, s:I, s:b, s:I, s:b, s:o, s:o, s:o, s:o, s:o}",
        "licenseNumber", st->license_number,
        "organization", known ? json_string(lic.organization) : json_null(),
        "product", known ? json_string(lic.product) : json_null(),
        "site", st->synced ? json_string(st->site) : json_null(),
        "lastSyncAt", time_or_null(st->last_sync_at, st->synced),
        "syncCount", (json_int_t)st->sync_count, "revoked", (int)st->revoked,
        "offlineGraceSeconds", (json_int_t)grace, "stale", (int)stale,
        "staleSince", time_or_null(st->last_sync_at + grace, stale),
        "assignments", st->synced ? sync_assignments_to_json(&st->assignments) : json_null(),
        "allotments", allot,
        "tokens", known && lic.has_tokens ? json_integer((json_int_t)lic.tokens) : json_null(),
        "validTo", time_or_null(lic.valid_to, known));
    if (o == NULL || json_array_append_new(r->data, o) != 0)
        return -1;
    return 0;
}

json_t *authority_sites_json(struct astore *s, int64_t now, char *why, size_t whylen)
{
    struct report r = {.data = json_array(), .now = now};
    if (r.data == NULL || astore_list(s, add_site, &r, why, whylen) != 0) {
        json_decref(r.data);
        return NULL;
    }
    return json_pack("{s:o, s:I, s:I}", "data", r.data, "seen", (json_int_t)r.seen, "stale",
                     (json_int_t)r.stale);
}

int authority_sites_count(struct astore *s, int64_t now, int64_t *seen, int64_t *stale,
                          char *why, size_t whylen)
{
    struct report r = {.now = now};
    int rc = astore_list(s, add_site, &r, why, whylen);
    *seen = r.seen;
    *stale = r.stale;
    return rc;
}

static void print_text(const json_t *report)
{
    printf("%-12s %-24s %-20s %-21s %-6s %s\n", "LICENSE", "ORGANIZATION", "SITE", "LAST SYNC",
           "STALE", "ASSIGNED/ALLOTTED");
    size_t i;
    const json_t *e;
    json_array_foreach(json_object_get(report, "data"), i, e) {
        const json_t *as = json_object_get(e, "assignments");
        char used[160] = "";
        size_t k, off = 0;
        const json_t *a;
        json_array_foreach(json_object_get(e, "allotments"), k, a) {
            const char *name = json_string_value(json_object_get(a, "name"));
            const char *member = strcmp(name, "analyzer_time") == 0 ? "capacityMinutesThisMonth"
                                                                    : name;
            int n = snprintf(used + off, sizeof used - off, "%s%s %lld/%lld", off ? ", " : "",
                             name, (long long)json_integer_value(json_object_get(as, member)),
                             (long long)json_integer_value(json_object_get(a, "units")));
            if (n > 0 && (size_t)n < sizeof used - off)
                off += (size_t)n;
        }
        const char *org = json_string_value(json_object_get(e, "organization"));
        const char *site = json_string_value(json_object_get(e, "site"));
        const char *last = json_string_value(json_object_get(e, "lastSyncAt"));
        printf("%-12s %-24.24s %-20.20s %-21s %-6s %s%s\n",
               json_string_value(json_object_get(e, "licenseNumber")), org ? org : "-",
               site ? site : "-", last ? last : "never",
               json_is_true(json_object_get(e, "stale")) ? "yes" : "no", used,
               json_is_true(json_object_get(e, "revoked")) ? " (revoked)" : "");
    }
}

int authority_cmd_sites(const struct command *cmd, int argc, char **argv)
{
    static const struct option opts[] = {
        {"state-dir", required_argument, NULL, 's'},
        {"database", required_argument, NULL, 'd'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *dir = NULL, *url = NULL;
    bool as_json = false;
    int c, rc;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (c) {
        case 's': dir = optarg; break;
        case 'd': url = optarg; break;
        case 'j': as_json = true; break;
        case 'h': authority_print_help(cmd, stdout); return 0;
        default: return authority_bad_option(cmd, c, argv);
        }
    }
    if (optind < argc)
        return authority_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
    struct astore *store = authority_store_of(cmd, dir, url, 1, &rc);
    if (store == NULL)
        return rc;
    char why[512];
    json_t *report = authority_sites_json(store, (int64_t)time(NULL), why, sizeof why);
    astore_close(store);
    if (report == NULL) {
        authority_errorf(cmd, "%s", why);
        return 1;
    }
    if (as_json)
        json_dumpf(report, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER), putchar('\n');
    else
        print_text(report);
    json_decref(report);
    return fflush(stdout) == 0 ? 0 : 1;
}

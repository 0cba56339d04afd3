/* allot-authority keygen and issue: the authority's key pair and license keys.
 *
 * `issue --state-dir DIR` also records the key as the current definition of its
 * license number, so the next sync of that license hands it to the site: this is
 * how a vendor changes a site's license. */
#include "authority.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static bool copy_text(char *dst, size_t dstsize, const char *src)
{
    size_t len = strlen(src);
    if (len == 0 || len >= dstsize)
        return false;
    memcpy(dst, src, len + 1);
    return true;
}

/* "DIR/name" in a fresh buffer, or NULL. */
static char *join_path(const char *dir, const char *name)
{
    size_t dl = strlen(dir), nl = strlen(name);
    char *p = malloc(dl + 1 + nl + 1);
    if (p == NULL)
        return NULL;
    memcpy(p, dir, dl);
    size_t o = dl;
    if (dl == 0 || dir[dl - 1] != '/')
        p[o++] = '/';
    memcpy(p + o, name, nl + 1);
    return p;
}

/* ---- keygen ---------------------------------------------------------------- */

int authority_cmd_keygen(const struct command *cmd, int argc, char **argv)
{
    static const struct option opts[] = {
        {"out", required_argument, NULL, 'o'},
        {"force", no_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *dir = NULL;
    bool force = false;
    int c;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (c) {
        case 'o': dir = optarg; break;
        case 'f': force = true; break;
        case 'h': authority_print_help(cmd, stdout); return 0;
        default: return authority_bad_option(cmd, c, argv);
        }
    }
    if (optind < argc)
        return authority_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
    if (dir == NULL || dir[0] == '\0')
        return authority_usage_error(cmd, "--out DIR is required");

    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        authority_errorf(cmd, "cannot create %s: %s", dir, strerror(errno));
        return 1;
    }
    char *keypath = join_path(dir, "authority.key"), *pubpath = join_path(dir, "authority.pub");
    int rc = 1;
    EVP_PKEY *key = NULL;
    char why[512];
    if (keypath == NULL || pubpath == NULL) {
        authority_errorf(cmd, "out of memory");
        goto out;
    }
    if (!force) {
        const char *exists = access(keypath, F_OK) == 0 ? keypath
                             : access(pubpath, F_OK) == 0 ? pubpath : NULL;
        if (exists != NULL) {
            authority_errorf(cmd, "%s already exists; use --force to replace the key pair",
                             exists);
            goto out;
        }
    }
    key = lic_key_generate();
    if (key == NULL) {
        authority_errorf(cmd, "cannot generate an Ed25519 key");
        goto out;
    }
    if (lic_key_write_private(key, keypath, force, why, sizeof why) != 0 ||
        lic_key_write_public(key, pubpath, force, why, sizeof why) != 0) {
        authority_errorf(cmd, "%s", why);
        goto out;
    }
    printf("wrote %s (private, mode 0600) and %s (public)\n", keypath, pubpath);
    rc = 0;
out:
    EVP_PKEY_free(key);
    free(keypath);
    free(pubpath);
    return rc;
}

/* ---- issue ------------------------------------------------------------------ */

enum {
    OPT_KEY = 256, OPT_NUMBER, OPT_ORG, OPT_PRODUCT, OPT_FROM, OPT_TO, OPT_PROFESSIONAL,
    OPT_ANALYZER, OPT_ANALYZER_TIME, OPT_OVERAGE, OPT_TOKENS, OPT_CONVERSION, OPT_PARAM,
    OPT_IAT, OPT_STATE_DIR, OPT_DATABASE,
};

/* "NAME=N" -> name (in buf) and value. */
static bool split_assignment(const char *arg, char *name, size_t namesize, const char **value)
{
    const char *eq = strchr(arg, '=');
    if (eq == NULL || eq == arg || (size_t)(eq - arg) >= namesize)
        return false;
    memcpy(name, arg, (size_t)(eq - arg));
    name[eq - arg] = '\0';
    *value = eq + 1;
    return true;
}

static int set_units(const struct command *cmd, struct lic_license *lic,
                     enum lic_allotment_kind k, const char *opt, const char *arg)
{
    if (!authority_parse_i64(arg, 0, LIC_UNITS_MAX, &lic->allotments[k].units))
        return authority_usage_error(cmd, "%s: expected an integer from 0 to %lld, got '%s'",
                                     opt, (long long)LIC_UNITS_MAX, arg);
    lic->allotments[k].present = true;
    return 0;
}

static int set_overage(const struct command *cmd, struct lic_license *lic, const char *arg)
{
    char name[64];
    const char *value;
    if (!split_assignment(arg, name, sizeof name, &value))
        return authority_usage_error(cmd, "--overage: expected NAME=N, got '%s'", arg);
    int k = lic_allotment_find(name);
    if (k < 0)
        return authority_usage_error(cmd, "--overage: unknown allotment '%s' "
                                     "(professional, analyzer, analyzer_time)", name);
    if (!authority_parse_i64(value, -1, LIC_UNITS_MAX, &lic->allotments[k].overage))
        return authority_usage_error(cmd, "--overage %s: expected -1 (unbounded) or an "
                                     "integer from 0 to %lld, got '%s'", name,
                                     (long long)LIC_UNITS_MAX, value);
    lic->allotments[k].present = true;
    return 0;
}

static int set_param(const struct command *cmd, struct lic_license *lic, const char *arg)
{
    char name[64], why[256];
    const char *value;
    int64_t v;
    if (!split_assignment(arg, name, sizeof name, &value))
        return authority_usage_error(cmd, "--param: expected NAME=VALUE, got '%s'", arg);
    if (!authority_parse_i64(value, INT64_MIN, INT64_MAX, &v))
        return authority_usage_error(cmd, "--param %s: expected an integer, got '%s'", name, value);
    if (lic_params_set(&lic->params, name, v, why, sizeof why) != 0)
        return authority_usage_error(cmd, "--param: %s", why);
    return 0;
}

static int set_time_opt(const struct command *cmd, const char *opt, const char *arg,
                        int64_t *out)
{
    if (!core_time_parse(arg, out))
        return authority_usage_error(cmd, "%s: expected an RFC 3339 time such as "
                                     "2025-01-31T00:00:00Z, got '%s'", opt, arg);
    return 0;
}

static const struct option issue_opts[] = {
    {"key", required_argument, NULL, OPT_KEY},
    {"license-number", required_argument, NULL, OPT_NUMBER},
    {"organization", required_argument, NULL, OPT_ORG},
    {"product", required_argument, NULL, OPT_PRODUCT},
    {"valid-from", required_argument, NULL, OPT_FROM},
    {"valid-to", required_argument, NULL, OPT_TO},
    {"professional", required_argument, NULL, OPT_PROFESSIONAL},
    {"analyzer", required_argument, NULL, OPT_ANALYZER},
    {"analyzer-time-minutes", required_argument, NULL, OPT_ANALYZER_TIME},
    {"overage", required_argument, NULL, OPT_OVERAGE},
    {"tokens", required_argument, NULL, OPT_TOKENS},
    {"conversion-date", required_argument, NULL, OPT_CONVERSION},
    {"param", required_argument, NULL, OPT_PARAM},
    {"iat", required_argument, NULL, OPT_IAT},
    {"state-dir", required_argument, NULL, OPT_STATE_DIR},
    {"database", required_argument, NULL, OPT_DATABASE},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* One option of issue; 0 or an exit status. */
static int issue_option(const struct command *cmd, int c, struct lic_license *lic,
                        bool *from_set, bool *to_set)
{
    const char *name = issue_opts[0].name;
    for (size_t i = 0; issue_opts[i].name != NULL; i++)
        if (issue_opts[i].val == c)
            name = issue_opts[i].name;
    char opt[64];
    snprintf(opt, sizeof opt, "--%s", name);
    switch (c) {
    case OPT_NUMBER:
        if (!copy_text(lic->license_number, sizeof lic->license_number, optarg) ||
            strspn(optarg, "0123456789") != strlen(optarg))
            return authority_usage_error(cmd, "--license-number: expected 1 to %d digits, "
                                         "got '%s'", LIC_NUMBER_MAX, optarg);
        return 0;
    case OPT_ORG:
    case OPT_PRODUCT: {
        char *dst = c == OPT_ORG ? lic->organization : lic->product;
        if (!copy_text(dst, LIC_TEXT_MAX + 1, optarg))
            return authority_usage_error(cmd, "%s: expected 1 to %d bytes of text", opt,
                                         LIC_TEXT_MAX);
        return 0;
    }
    case OPT_FROM: *from_set = true; return set_time_opt(cmd, opt, optarg, &lic->valid_from);
    case OPT_TO: *to_set = true; return set_time_opt(cmd, opt, optarg, &lic->valid_to);
    case OPT_PROFESSIONAL: return set_units(cmd, lic, LIC_PROFESSIONAL, opt, optarg);
    case OPT_ANALYZER: return set_units(cmd, lic, LIC_ANALYZER, opt, optarg);
    case OPT_ANALYZER_TIME: return set_units(cmd, lic, LIC_ANALYZER_TIME, opt, optarg);
    case OPT_OVERAGE: return set_overage(cmd, lic, optarg);
    case OPT_TOKENS:
        if (!authority_parse_i64(optarg, 0, LIC_UNITS_MAX, &lic->tokens))
            return authority_usage_error(cmd, "--tokens: expected an integer from 0 to %lld, "
                                         "got '%s'", (long long)LIC_UNITS_MAX, optarg);
        lic->has_tokens = true;
        return 0;
    case OPT_CONVERSION:
        lic->has_conversion_date = true;
        return set_time_opt(cmd, opt, optarg, &lic->conversion_date);
    case OPT_PARAM: return set_param(cmd, lic, optarg);
    case OPT_IAT:
        if (!authority_parse_i64(optarg, 0, 253402300799LL, &lic->iat))
            return authority_usage_error(cmd, "--iat: expected unix seconds, got '%s'", optarg);
        return 0;
    default:
        return authority_usage_error(cmd, "unhandled option");
    }
}

/* Records the issued key as the current definition of its license number. */
static int record_definition(struct astore *store, const struct command *cmd,
                             const struct lic_license *lic, const char *compact)
{
    char why[512];
    if (astore_set_definition(store, lic->license_number, compact, lic->iat, why,
                              sizeof why) != 0) {
        authority_errorf(cmd, "the key was not recorded, nor printed: %s", why);
        return -1;
    }
    return 0;
}

int authority_cmd_issue(const struct command *cmd, int argc, char **argv)
{
    struct lic_license lic;
    lic_license_init(&lic);
    int64_t now = (int64_t)time(NULL);
    lic.iat = now;
    const char *keyfile = NULL, *state_dir = NULL, *database = NULL;
    bool from_set = false, to_set = false;
    int c;
    while ((c = getopt_long(argc, argv, ":h", issue_opts, NULL)) != -1) {
        if (c == 'h') {
            authority_print_help(cmd, stdout);
            return 0;
        }
        if (c == '?' || c == ':')
            return authority_bad_option(cmd, c, argv);
        if (c == OPT_KEY) {
            keyfile = optarg;
            continue;
        }
        if (c == OPT_STATE_DIR) {
            state_dir = optarg;
            continue;
        }
        if (c == OPT_DATABASE) {
            database = optarg;
            continue;
        }
        int rc = issue_option(cmd, c, &lic, &from_set, &to_set);
        if (rc != 0)
            return rc;
    }
    if (optind < argc)
        return authority_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
    if (keyfile == NULL)
        return authority_usage_error(cmd, "--key FILE is required");
    if (lic.license_number[0] == '\0')
        return authority_usage_error(cmd, "--license-number is required");
    if (lic.organization[0] == '\0')
        return authority_usage_error(cmd, "--organization is required");
    if (lic.product[0] == '\0')
        return authority_usage_error(cmd, "--product is required");
    if (!from_set)
        lic.valid_from = now;
    if (!to_set)
        lic.valid_to = lic.valid_from + 365LL * 86400;
    if (lic.valid_to <= lic.valid_from)
        return authority_usage_error(cmd, "--valid-to must be after --valid-from");

    /* Check what would be signed before touching the key. */
    char why[512];
    struct lic_license back;
    json_t *payload = lic_to_json(&lic);
    if (payload == NULL)
        return authority_usage_error(cmd, "a time is outside the years 0000 to 9999");
    enum lic_result pr = lic_parse(payload, &back, why, sizeof why);
    json_decref(payload);
    if (pr != LIC_OK)
        return authority_usage_error(cmd, "%s", why);

    EVP_PKEY *key = lic_key_load_private_file(keyfile, why, sizeof why);
    if (key == NULL) {
        authority_errorf(cmd, "%s", why);
        return 1;
    }
    char *compact = NULL;
    int rc = lic_issue(key, &lic, &compact, why, sizeof why);
    EVP_PKEY_free(key);
    if (rc != 0) {
        authority_errorf(cmd, "%s", why);
        return 1;
    }
    /* Recorded only when asked (--state-dir or --database; the environment's
     * database is not enough: issue alone never changes a store). */
    if (state_dir != NULL || database != NULL) {
        struct astore *store = authority_store_of(cmd, state_dir, database, 1, &rc);
        if (store == NULL || record_definition(store, cmd, &lic, compact) != 0) {
            astore_close(store);
            free(compact);
            return store == NULL ? rc : 1;
        }
        astore_close(store);
    }
    rc = printf("%s\n", compact) < 0 || fflush(stdout) != 0 ? 1 : 0;
    if (rc != 0)
        authority_errorf(cmd, "cannot write to stdout: %s", strerror(errno));
    free(compact);
    return rc;
}


/* allot-authority: the license backend a vendor runs.
 *
 *   allot-authority keygen --out DIR [--force]                    (keys.c)
 *   allot-authority issue --key FILE [--state-dir DIR] [options]  (keys.c)
 *   allot-authority serve --key FILE --listen HOST:PORT --state-dir DIR|--database URL
 *                         [--verify-key FILE] [--retire-key FILE] [options]  (serve.c)
 *   allot-authority revoke --state-dir DIR|--database URL [--undo] NUMBER
 *   allot-authority export --key FILE --state-dir DIR|--database URL NUMBER
 *   allot-authority migrate --database URL
 *   allot-authority import --state-dir DIR --database URL
 *   allot-authority sites --state-dir DIR|--database URL [--json]      (sites.c)
 *
 * Every command that takes --state-dir takes --database URL instead (or
 * ALLOT_AUTHORITY_DATABASE_URL): the store (store.c).
 *   allot-authority --version
 *
 * Exit status: 0 success, 1 failure (I/O, key, signing, state), 2 usage error.
 * Errors are one line on stderr, prefixed with the program and command name.
 */
#include "authority.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void authority_errorf(const struct command *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "%s: %s%s", AUTHORITY_PROG, cmd != NULL ? cmd->name : "",
            cmd != NULL ? ": " : "");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

/* The license parameters of --param, from their one table (allot/params.def). */
static void print_params(FILE *f)
{
    fprintf(f, "\nlicense parameters (--param NAME=VALUE; durations in seconds):\n");
    for (size_t i = 0; i < CORE_PARAM_COUNT; i++)
        fprintf(f, "  %-26s default %lld, %lld to %lld: %s\n", core_params[i].name,
                (long long)core_params[i].def, (long long)core_params[i].min,
                (long long)core_params[i].max, core_params[i].description);
}

void authority_print_help(const struct command *cmd, FILE *f)
{
    fprintf(f, "usage: %s %s\n%s\n", AUTHORITY_PROG, cmd->usage, cmd->summary);
    if (cmd->help != NULL)
        fprintf(f, "\noptions:\n%s", cmd->help);
    if (cmd->run == authority_cmd_issue)
        print_params(f);
}

int authority_usage_error(const struct command *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "%s: %s: ", AUTHORITY_PROG, cmd->name);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, " (see '%s %s --help')\n", AUTHORITY_PROG, cmd->name);
    return EXIT_USAGE;
}

int authority_bad_option(const struct command *cmd, int c, char **argv)
{
    const char *arg = argv[optind - 1];
    if (c == ':')
        return authority_usage_error(cmd, "option %s needs a value", arg);
    if (optopt != 0)
        return authority_usage_error(cmd, "unknown option -%c", optopt);
    return authority_usage_error(cmd, "unknown option %s", arg);
}

bool authority_parse_i64(const char *s, int64_t min, int64_t max, int64_t *out)
{
    if (s == NULL ||
        !((s[0] >= '0' && s[0] <= '9') || (s[0] == '-' && s[1] >= '0' && s[1] <= '9')))
        return false;
    errno = 0;
    char *end = NULL;
    long long v = strtoll(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
        return false;
    *out = v;
    return true;
}

bool authority_number_ok(const char *s)
{
    size_t len = s != NULL ? strnlen(s, LIC_NUMBER_MAX + 1) : 0;
    return len >= 1 && len <= LIC_NUMBER_MAX && strspn(s, "0123456789") == len;
}

/* The single NUMBER operand of revoke and export; 0 or an exit status. */
static int number_operand(const struct command *cmd, int argc, char **argv,
                          const char **number)
{
    if (optind >= argc)
        return authority_usage_error(cmd, "the license NUMBER is missing");
    if (optind + 1 < argc)
        return authority_usage_error(cmd, "unexpected argument '%s'", argv[optind + 1]);
    if (!authority_number_ok(argv[optind]))
        return authority_usage_error(cmd, "NUMBER: expected 1 to %d digits, got '%s'",
                                     LIC_NUMBER_MAX, argv[optind]);
    *number = argv[optind];
    return 0;
}

/* ---- revoke ----------------------------------------------------------------- */

static int cmd_revoke(const struct command *cmd, int argc, char **argv)
{
    static const struct option opts[] = {
        {"state-dir", required_argument, NULL, 's'},
        {"database", required_argument, NULL, 'd'},
        {"undo", no_argument, NULL, 'u'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *dir = NULL, *url = NULL, *number = NULL;
    bool revoked = true;
    int c;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (c) {
        case 's': dir = optarg; break;
        case 'd': url = optarg; break;
        case 'u': revoked = false; break;
        case 'h': authority_print_help(cmd, stdout); return 0;
        default: return authority_bad_option(cmd, c, argv);
        }
    }
    int rc = number_operand(cmd, argc, argv, &number);
    if (rc != 0)
        return rc;
    struct astore *store = authority_store_of(cmd, dir, url, 1, &rc);
    if (store == NULL)
        return rc;
    char why[512];
    rc = astore_set_revoked(store, number, revoked, why, sizeof why);
    astore_close(store);
    if (rc != 0) {
        authority_errorf(cmd, "%s", why);
        return 1;
    }
    printf(revoked ? "license %s revoked: its next sync disables it\n"
                   : "license %s is no longer revoked\n", number);
    return fflush(stdout) == 0 ? 0 : 1;
}

/* ---- migrate and import ---------------------------------------------------------- */

static const char *database_url(const char *url)
{
    const char *env = getenv(AUTHORITY_DATABASE_ENV);
    return url != NULL ? url : env != NULL && env[0] != '\0' ? env : NULL;
}

static int cmd_migrate(const struct command *cmd, int argc, char **argv)
{
    static const struct option opts[] = {
        {"database", required_argument, NULL, 'd'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *url = NULL;
    int c;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (c) {
        case 'd': url = optarg; break;
        case 'h': authority_print_help(cmd, stdout); return 0;
        default: return authority_bad_option(cmd, c, argv);
        }
    }
    if (optind < argc)
        return authority_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
    url = database_url(url);
    if (url == NULL)
        return authority_usage_error(cmd, "--database URL (or %s) is required",
                                     AUTHORITY_DATABASE_ENV);
    char why[512];
    if (astore_migrate(url, why, sizeof why) != 0) {
        authority_errorf(cmd, "%s", why);
        return 1;
    }
    printf("the authority's schema is current\n");
    return fflush(stdout) == 0 ? 0 : 1;
}

static int cmd_import(const struct command *cmd, int argc, char **argv)
{
    static const struct option opts[] = {
        {"state-dir", required_argument, NULL, 's'},
        {"database", required_argument, NULL, 'd'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *dir = NULL, *url = NULL;
    int c;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (c) {
        case 's': dir = optarg; break;
        case 'd': url = optarg; break;
        case 'h': authority_print_help(cmd, stdout); return 0;
        default: return authority_bad_option(cmd, c, argv);
        }
    }
    if (optind < argc)
        return authority_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
    if (dir == NULL || dir[0] == '\0')
        return authority_usage_error(cmd, "--state-dir DIR is required");
    url = database_url(url);
    if (url == NULL)
        return authority_usage_error(cmd, "--database URL (or %s) is required",
                                     AUTHORITY_DATABASE_ENV);
    char why[512];
    int added = 0, kept = 0;
    if (astore_import(dir, url, &added, &kept, why, sizeof why) != 0) {
        authority_errorf(cmd, "nothing imported: %s", why);
        return 1;
    }
    printf("imported %d license(s); %d already in the database were left as they are\n",
           added, kept);
    return fflush(stdout) == 0 ? 0 : 1;
}

/* ---- export ----------------------------------------------------------------- */

static int cmd_export(const struct command *cmd, int argc, char **argv)
{
    static const struct option opts[] = {
        {"key", required_argument, NULL, 'k'},
        {"state-dir", required_argument, NULL, 's'},
        {"database", required_argument, NULL, 'd'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *keyfile = NULL, *dir = NULL, *url = NULL, *number = NULL;
    int c;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (c) {
        case 'k': keyfile = optarg; break;
        case 's': dir = optarg; break;
        case 'd': url = optarg; break;
        case 'h': authority_print_help(cmd, stdout); return 0;
        default: return authority_bad_option(cmd, c, argv);
        }
    }
    int rc = number_operand(cmd, argc, argv, &number);
    if (rc != 0)
        return rc;
    if (keyfile == NULL)
        return authority_usage_error(cmd, "--key FILE is required");
    struct astore *store = authority_store_of(cmd, dir, url, 1, &rc);
    if (store == NULL)
        return rc;

    char why[512];
    struct astate st;
    int found = astore_read(store, number, &st, why, sizeof why);
    astore_close(store);
    if (found < 0 || st.definition == NULL) {
        if (found >= 0)
            authority_errorf(cmd, "no license key is recorded for license %s (record one "
                             "with 'issue --state-dir' or 'issue --database')", number);
        else
            authority_errorf(cmd, "%s", why);
        astate_free(&st);
        return 1;
    }
    EVP_PKEY *key = lic_key_load_private_file(keyfile, why, sizeof why);
    char *doc = NULL, *def = NULL;
    rc = 1;
    struct lic_keyring ring;
    lic_keyring_init(&ring);
    if (key == NULL)
        authority_errorf(cmd, "%s", why);
    /* The key as recorded, signed again by --key when it was signed (without a
     * kid) by it; a key of another signer goes as it is. */
    else if (lic_keyring_add(&ring, key) == 0 &&
             lic_resign_key(key, &ring, st.definition, &def, why, sizeof why) != 0 &&
             (def = strdup(st.definition)) == NULL)
        authority_errorf(cmd, "out of memory");
    else if (definition_doc_sign(key, number, def, (int64_t)time(NULL), st.revoked,
                                 &doc) != 0)
        authority_errorf(cmd, "cannot sign the definition (not the authority's private key?)");
    else if (printf("%s\n", doc) < 0 || fflush(stdout) != 0)
        authority_errorf(cmd, "cannot write to stdout: %s", strerror(errno));
    else
        rc = 0;
    free(doc);
    free(def);
    lic_keyring_free(&ring);
    EVP_PKEY_free(key);
    astate_free(&st);
    return rc;
}

/* ---- dispatch ---------------------------------------------------------------- */

static const struct command commands[] = {
    {"keygen", authority_cmd_keygen, "keygen --out DIR [--force]",
     "Write a new Ed25519 key pair: DIR/authority.key (private, PEM, mode 0600) and\n"
     "DIR/authority.pub (public, PEM). An existing key is kept unless --force.",
     "  --out DIR     directory to write to (created if missing)\n"
     "  --force       replace an existing key pair\n"},
    {"issue", authority_cmd_issue, "issue --key FILE [options]",
     "Print one signed license key on stdout.",
     "  --key FILE                 the authority's private key (required)\n"
     "  --license-number N         1 to 32 digits (required)\n"
     "  --organization TEXT        licensee (required)\n"
     "  --product TEXT             licensed product (required)\n"
     "  --valid-from TIME          RFC 3339 (default: now)\n"
     "  --valid-to TIME            RFC 3339 (default: valid-from + 365 days)\n"
     "  --professional N           professional units (users)\n"
     "  --analyzer N               analyzer units (users)\n"
     "  --analyzer-time-minutes N  analyzer capacity, minutes per calendar month\n"
     "  --overage NAME=N           extra units of an allotment; -1 = unbounded (repeatable)\n"
     "  --tokens N                 legacy tokens\n"
     "  --conversion-date TIME     RFC 3339 date tokens were converted\n"
     "  --param NAME=VALUE         a license parameter (repeatable; see below)\n"
     "  --iat UNIX                 signing time to record (default: now; for tests)\n"
     "  --state-dir DIR            also record the key as the current definition of its\n"
     "                             license number: the next sync hands it to the site\n"
     "  --database URL             the same in the authority's PostgreSQL\n"},
    {"serve", authority_cmd_serve,
     "serve --key FILE --listen HOST:PORT --state-dir DIR|--database URL [options]",
     "Answer the sync requests of sites (POST /v1/licenses/NUMBER/sync) and show what\n"
     "is recorded (GET /v1/licenses/NUMBER, with that license's key as the Bearer, as a\n"
     "sync). What it learns is kept in DIR, or in PostgreSQL, which any number of\n"
     "instances may share. GET /health, GET /ready (the store answers), and with the\n"
     "admin key GET /metrics, GET /v1/sites and PUT|DELETE\n"
     "/v1/licenses/NUMBER/revocation (revoke, lift). Logs one JSON line per request on\n"
     "stderr; SIGTERM or SIGINT stops it, SIGHUP reads the TLS certificate and key again.",
     "  --key FILE          the authority's private key: it signs (required)\n"
     "  --listen HOST:PORT  address to listen on, e.g. 127.0.0.1:8443 or [::1]:8443;\n"
     "                      port 0 picks a free port (logged) (required)\n"
     "  --state-dir DIR     state directory (created if missing), or\n"
     "  --database URL      the authority's PostgreSQL (default: $" AUTHORITY_DATABASE_ENV ")\n"
     "  --verify-key FILE   another key of the authority (PEM, public or private) that\n"
     "                      only verifies, announced to sites as trusted (repeatable)\n"
     "  --retire-key FILE   a key no longer trusted: announced to sites as retired, and\n"
     "                      license keys it signed are refused (repeatable)\n"
     "  --sync-rate-limit N  syncs of one license per window (default 30; 0: no limit);\n"
     "                      past it, 429 with Retry-After\n"
     "  --sync-rate-window DUR  the window of --sync-rate-limit (default 5m)\n"
     "  --admin-key-file FILE  the vendor's admin key (first line; 16 to 256\n"
     "                      characters), or $ALLOT_AUTHORITY_ADMIN_KEY: the Bearer of\n"
     "                      /metrics and /v1/sites (without one, both answer 401)\n"
     "  --tls-cert FILE     PEM certificate chain: serve HTTPS only (with --tls-key)\n"
     "  --tls-key FILE      PEM private key of --tls-cert\n"
     "  --max-connections N  connections open at once (default 1024); when nearly all\n"
     "                      are taken, a new one closes the connection that has waited\n"
     "                      longest for its request head\n"
     "  --max-connections-per-address N  from one address (default 32; 0: no cap)\n"
     "  --header-timeout DUR  to send a whole request head (default 10s)\n"
     "  --body-timeout DUR  to send a whole body after the head (default 30s)\n"},
    {"revoke", cmd_revoke, "revoke --state-dir DIR|--database URL [--undo] NUMBER",
     "Make the next sync of license NUMBER disable it (takes effect at once, even\n"
     "while 'serve' runs, on every instance of a database).",
     "  --state-dir DIR     state directory\n"
     "  --database URL      or the PostgreSQL of the authority (default: $"
     AUTHORITY_DATABASE_ENV ")\n"
     "  --undo              lift the revocation instead\n"},
    {"export", cmd_export, "export --key FILE --state-dir DIR|--database URL NUMBER",
     "Print a signed definition document for an air-gapped site: the current license\n"
     "key of NUMBER (recorded by 'issue --state-dir' or the last sync), verified now.",
     "  --key FILE          the authority's private key (required)\n"
     "  --state-dir DIR     state directory\n"
     "  --database URL      or the PostgreSQL of the authority (default: $"
     AUTHORITY_DATABASE_ENV ")\n"},
    {"migrate", cmd_migrate, "migrate --database URL",
     "Create or update the authority's schema (schema 'authority') in PostgreSQL; safe\n"
     "to run twice, and from several machines at once.",
     "  --database URL      libpq connection string or URI (default: $"
     AUTHORITY_DATABASE_ENV ")\n"},
    {"import", cmd_import, "import --state-dir DIR --database URL",
     "Copy the state directory's licenses into the database, in one transaction: a\n"
     "license the database already holds is left as it is, so running it again changes\n"
     "nothing.",
     "  --state-dir DIR     the state directory to read (it is not changed)\n"
     "  --database URL      the migrated database (default: $" AUTHORITY_DATABASE_ENV ")\n"},
    {"sites", authority_cmd_sites, "sites --state-dir DIR|--database URL [--json]",
     "List each license: its site, its last sync, its assignments against its\n"
     "allotments, and whether it is stale (not seen for longer than its\n"
     "offlineGraceSeconds).",
     "  --state-dir DIR     state directory\n"
     "  --database URL      or the PostgreSQL of the authority (default: $"
     AUTHORITY_DATABASE_ENV ")\n"
     "  --json              the same JSON as GET /v1/sites\n"},
};
#define NCOMMANDS (sizeof commands / sizeof commands[0])

static void print_usage(FILE *f)
{
    fprintf(f, "usage: %s COMMAND [options]\n\ncommands:\n", AUTHORITY_PROG);
    for (size_t i = 0; i < NCOMMANDS; i++)
        fprintf(f, "  %s\n", commands[i].usage);
    fprintf(f, "\n'%s COMMAND --help' describes a command.\n", AUTHORITY_PROG);
}

static const struct command *find_command(const char *name)
{
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (strcmp(name, commands[i].name) == 0)
            return &commands[i];
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        authority_errorf(NULL, "no command given (see '%s --help')", AUTHORITY_PROG);
        return EXIT_USAGE;
    }
    const char *name = argv[1];
    if (strcmp(name, "--version") == 0) {
        printf("%s %s\n", AUTHORITY_PROG, ALLOT_VERSION);
        return 0;
    }
    if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0 || strcmp(name, "help") == 0) {
        const struct command *cmd = argc > 2 ? find_command(argv[2]) : NULL;
        if (cmd != NULL)
            authority_print_help(cmd, stdout);
        else
            print_usage(stdout);
        return 0;
    }
    const struct command *cmd = find_command(name);
    if (cmd == NULL) {
        authority_errorf(NULL, "unknown command '%s' (see '%s --help')", name, AUTHORITY_PROG);
        return EXIT_USAGE;
    }
    opterr = 0; /* bad_option() reports */
    optind = 1;
    return cmd->run(cmd, argc - 1, argv + 1);
}

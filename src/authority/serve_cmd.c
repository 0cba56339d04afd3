/* allot-authority serve, the command: its options, the keys (the signer, keys
 * that only verify, retired kids, the admin key), the store; then serve_run. */
#include "serve.h"
#include "allot/http_guard.h"
#include "allot/log.h"
#include "allot/tls.h"

#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>


/* "HOST:PORT" or "[V6]:PORT" into a socket address; false on a bad form. */
static bool parse_listen(const char *arg, struct serve_listen *l)
{
    const char *colon = strrchr(arg, ':');
    int64_t p;
    if (colon == NULL || colon == arg || !authority_parse_i64(colon + 1, 0, 65535, &p))
        return false;
    char host[256];
    size_t hlen = (size_t)(colon - arg);
    const char *h = arg;
    if (arg[0] == '[') {
        if (hlen < 3 || arg[hlen - 1] != ']')
            return false;
        h = arg + 1;
        hlen -= 2;
    }
    if (hlen >= sizeof host)
        return false;
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    char service[8];
    snprintf(service, sizeof service, "%u", (unsigned)p);
    if (getaddrinfo(host, service, &hints, &res) != 0 || res == NULL)
        return false;
    memcpy(&l->addr, res->ai_addr, res->ai_addrlen);
    l->v6 = res->ai_family == AF_INET6;
    l->port = (uint16_t)p;
    l->text = arg;
    freeaddrinfo(res);
    return true;
}

/* A duration flag (90s, 10m, 1h) in milliseconds; false on a bad one. */
static bool duration_ms(const char *text, int64_t *ms)
{
    int64_t seconds;
    if (!core_duration_parse(text, &seconds) || seconds < 1 || seconds > 3600)
        return false;
    *ms = seconds * 1000;
    return true;
}

/* --verify-key and --retire-key: a PEM file, private or public. */
static EVP_PKEY *load_any_key(const char *path, char *why, size_t whylen)
{
    char ignored[256];
    EVP_PKEY *k = lic_key_load_public_file(path, ignored, sizeof ignored);
    return k != NULL ? k : lic_key_load_private_file(path, why, whylen);
}

/* The signer, the keys that only verify and the retired kids into s. */
static int load_keys(const struct command *cmd, struct server *s, const char *keyfile,
                     const char *const *verify, size_t nverify, const char *const *retire,
                     size_t nretire)
{
    char why[512];
    s->priv = lic_key_load_private_file(keyfile, why, sizeof why);
    if (s->priv == NULL) {
        authority_errorf(cmd, "%s", why);
        return -1;
    }
    if (lic_keyring_add(&s->ring, s->priv) != 0) {
        authority_errorf(cmd, "cannot use the key of %s", keyfile);
        return -1;
    }
    for (size_t i = 0; i < nretire; i++) {
        EVP_PKEY *k = load_any_key(retire[i], why, sizeof why);
        char kid[LIC_KID_LEN + 1];
        int rc = k != NULL ? lic_key_kid(k, kid) : -1;
        EVP_PKEY_free(k);
        if (rc != 0) {
            authority_errorf(cmd, "--retire-key: %s", why);
            return -1;
        }
        if (lic_keyring_find(&s->ring, kid) != NULL) {
            authority_errorf(cmd, "--retire-key %s: that is the signing key", retire[i]);
            return -1;
        }
        lic_keyring_retire(&s->ring, kid);
    }
    for (size_t i = 0; i < nverify; i++) {
        EVP_PKEY *k = load_any_key(verify[i], why, sizeof why);
        char kid[LIC_KID_LEN + 1] = "";
        if (k != NULL)
            lic_key_kid(k, kid);
        const struct lic_keyring_entry *e = lic_keyring_find(&s->ring, kid);
        int rc = k == NULL || (e != NULL && e->retired) ? -1 : lic_keyring_add(&s->ring, k);
        EVP_PKEY_free(k);
        if (rc != 0) {
            authority_errorf(cmd, "--verify-key %s: %s", verify[i],
                             k == NULL ? why : e != NULL ? "also given to --retire-key"
                                                         : "too many keys");
            return -1;
        }
    }
    /* What every reply announces: the keys it holds, then the retired kids. */
    for (size_t i = 0; i < s->ring.n; i++) {
        const struct lic_keyring_entry *e = &s->ring.e[i];
        if (e->retired && s->announce.nretired < SYNC_KEYS_MAX) {
            memcpy(s->announce.retired[s->announce.nretired++], e->kid, LIC_KID_LEN + 1);
        } else if (!e->retired && s->announce.nkeys < SYNC_KEYS_MAX) {
            char *x = lic_key_x(e->pub);
            if (x == NULL)
                return -1;
            struct sync_key *k = &s->announce.keys[s->announce.nkeys++];
            memcpy(k->kid, e->kid, LIC_KID_LEN + 1);
            snprintf(k->x, sizeof k->x, "%s", x);
            free(x);
        }
    }
    return 0;
}

/* The admin key: the first line of --admin-key-file, or ALLOT_AUTHORITY_ADMIN_KEY. */
static char *admin_key_of(const struct command *cmd, const char *file)
{
    const char *env = getenv("ALLOT_AUTHORITY_ADMIN_KEY");
    char buf[300] = "";
    if (file != NULL) {
        FILE *f = fopen(file, "re");
        if (f == NULL || fgets(buf, sizeof buf, f) == NULL) {
            authority_errorf(cmd, "--admin-key-file %s: %s", file,
                             f == NULL ? strerror(errno) : "empty");
            if (f != NULL)
                fclose(f);
            return NULL;
        }
        fclose(f);
        buf[strcspn(buf, "\r\n")] = '\0';
    } else if (env != NULL) {
        snprintf(buf, sizeof buf, "%s", env);
    } else {
        return strdup("");
    }
    size_t len = strlen(buf);
    if (len < 16 || len > 256) {
        authority_errorf(cmd, "the admin key must be 16 to 256 characters");
        OPENSSL_cleanse(buf, sizeof buf);
        return NULL;
    }
    char *key = strdup(buf);
    OPENSSL_cleanse(buf, sizeof buf);
    return key;
}

#define KEYS_MAX 8

int authority_cmd_serve(const struct command *cmd, int argc, char **argv)
{
    static const struct option opts[] = {
        {"key", required_argument, NULL, 'k'},
        {"listen", required_argument, NULL, 'l'},
        {"state-dir", required_argument, NULL, 's'},
        {"database", required_argument, NULL, 'd'},
        {"verify-key", required_argument, NULL, 'v'},
        {"retire-key", required_argument, NULL, 'r'},
        {"sync-rate-limit", required_argument, NULL, 'R'},
        {"sync-rate-window", required_argument, NULL, 'W'},
        {"admin-key-file", required_argument, NULL, 'A'},
        {"tls-cert", required_argument, NULL, 'c'},
        {"tls-key", required_argument, NULL, 't'},
        {"max-connections", required_argument, NULL, 'm'},
        {"max-connections-per-address", required_argument, NULL, 'a'},
        {"header-timeout", required_argument, NULL, 'H'},
        {"body-timeout", required_argument, NULL, 'B'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *keyfile = NULL, *listen_arg = NULL, *dir = NULL, *url = NULL;
    const char *tls_cert = NULL, *tls_key = NULL, *admin_file = NULL;
    const char *verify[KEYS_MAX], *retire[KEYS_MAX];
    size_t nverify = 0, nretire = 0;
    const char *header_timeout = DEFAULT_HEADER_TIMEOUT, *body_timeout = DEFAULT_BODY_TIMEOUT;
    const char *rate_window = DEFAULT_RATE_WINDOW;
    int64_t max_connections = DEFAULT_MAX_CONNECTIONS, per_address = DEFAULT_PER_ADDRESS;
    int64_t rate_limit = DEFAULT_RATE_LIMIT;
    struct http_guard_options guard = {.body_budget = BODY_BUDGET,
                                       .connection_memory = CONNECTION_MEMORY,
                                       .name = "allot-authority"};
    int c;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (c) {
        case 'k': keyfile = optarg; break;
        case 'l': listen_arg = optarg; break;
        case 's': dir = optarg; break;
        case 'd': url = optarg; break;
        case 'v':
        case 'r':
            if ((c == 'v' ? nverify : nretire) >= KEYS_MAX)
                return authority_usage_error(cmd, "at most %d of --%s", KEYS_MAX,
                                             c == 'v' ? "verify-key" : "retire-key");
            if (c == 'v')
                verify[nverify++] = optarg;
            else
                retire[nretire++] = optarg;
            break;
        case 'R':
            if (!authority_parse_i64(optarg, 0, 1000000, &rate_limit))
                return authority_usage_error(cmd, "--sync-rate-limit: expected 0 (no limit) to "
                                             "1000000, got '%s'", optarg);
            break;
        case 'W': rate_window = optarg; break;
        case 'A': admin_file = optarg; break;
        case 'c': tls_cert = optarg; break;
        case 't': tls_key = optarg; break;
        case 'm':
            if (!authority_parse_i64(optarg, 1, 65536, &max_connections))
                return authority_usage_error(cmd, "--max-connections: expected 1 to 65536, "
                                             "got '%s'", optarg);
            break;
        case 'a':
            if (!authority_parse_i64(optarg, 0, 65536, &per_address))
                return authority_usage_error(cmd, "--max-connections-per-address: expected 0 "
                                             "(no cap) to 65536, got '%s'", optarg);
            break;
        case 'H': header_timeout = optarg; break;
        case 'B': body_timeout = optarg; break;
        case 'h': authority_print_help(cmd, stdout); return 0;
        default: return authority_bad_option(cmd, c, argv);
        }
    }
    if (optind < argc)
        return authority_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
    if (keyfile == NULL)
        return authority_usage_error(cmd, "--key FILE is required");
    if (listen_arg == NULL)
        return authority_usage_error(cmd, "--listen HOST:PORT is required");
    if ((tls_cert == NULL) != (tls_key == NULL))
        return authority_usage_error(cmd, "--tls-cert and --tls-key go together");
    if (!duration_ms(header_timeout, &guard.head_timeout_ms))
        return authority_usage_error(cmd, "--header-timeout: expected a duration from 1s to 1h "
                                     "(10s, 2m), got '%s'", header_timeout);
    if (!duration_ms(body_timeout, &guard.body_timeout_ms))
        return authority_usage_error(cmd, "--body-timeout: expected a duration from 1s to 1h "
                                     "(30s, 2m), got '%s'", body_timeout);
    int64_t window_ms;
    if (!duration_ms(rate_window, &window_ms))
        return authority_usage_error(cmd, "--sync-rate-window: expected a duration from 1s to "
                                     "1h (60s, 10m), got '%s'", rate_window);
    struct serve_listen listen;
    if (!parse_listen(listen_arg, &listen))
        return authority_usage_error(cmd, "--listen: expected HOST:PORT (port 0 to 65535) of "
                                     "this machine, got '%s'", listen_arg);
    guard.max_connections = (unsigned)max_connections;
    guard.per_address = (unsigned)per_address;

    struct server s = {.rate_limit = rate_limit, .rate_window = window_ms / 1000};
    lic_keyring_init(&s.ring);
    atomic_init(&s.inflight, 0);
    int rc = 1;
    char why[512];
    struct http_tls *tls = NULL;
    char *admin = admin_key_of(cmd, admin_file);
    if (admin == NULL)
        goto out;
    s.admin_key = admin[0] != '\0' ? admin : NULL;
    if (load_keys(cmd, &s, keyfile, verify, nverify, retire, nretire) != 0)
        goto out;
    s.store = authority_store_of(cmd, dir, url, THREADS, &rc);
    if (s.store == NULL)
        goto out;
    rc = 1;
    s.guard = http_guard_new(&guard);
    if (s.guard == NULL) {
        authority_errorf(cmd, "cannot start the connection guard");
        goto out;
    }
    if (tls_cert != NULL) {
        tls = http_tls_load(tls_cert, tls_key, "--tls-cert", "--tls-key", why, sizeof why);
        if (tls == NULL) {
            authority_errorf(cmd, "%s", why);
            goto out;
        }
    }
    rc = serve_run(cmd, &s, &listen, tls);
out:
    http_tls_free(tls);
    http_guard_free(s.guard);
    astore_close(s.store);
    lic_keyring_free(&s.ring);
    EVP_PKEY_free(s.priv);
    if (admin != NULL) {
        OPENSSL_cleanse(admin, strlen(admin));
        free(admin);
    }
    return rc;
}


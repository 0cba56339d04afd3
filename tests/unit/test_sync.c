/* Unit tests of the sync protocol's documents (include/allot/sync_protocol.h):
 * nonce, request body, signed reply, air-gapped definition document; and the
 * real allot-authority serve/revoke/export spoken to over HTTP (libcurl). */
#include "allot/sync_protocol.h"
#include "license/internal.h"
#include "ttest.h"

#include <signal.h>
#include <stdarg.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

static EVP_PKEY *k1, *k2;          /* two Ed25519 key pairs, made once */
static char *key42, *key43, *key42_k2;  /* license keys: 42 and 43 by k1, 42 by k2 */

#define NOW 1735689600 /* 2025-01-01T00:00:00Z */

static char *issue(EVP_PKEY *key, const char *number, int64_t iat)
{
    struct lic_license l;
    lic_license_init(&l);
    snprintf(l.license_number, sizeof l.license_number, "%s", number);
    snprintf(l.organization, sizeof l.organization, "ACME");
    snprintf(l.product, sizeof l.product, "Hub");
    l.valid_from = NOW - 86400;
    l.valid_to = NOW + 86400;
    l.iat = iat;
    l.allotments[LIC_PROFESSIONAL].present = true;
    l.allotments[LIC_PROFESSIONAL].units = 10;
    char *out = NULL, why[256];
    return lic_issue(key, &l, &out, why, sizeof why) == 0 ? out : NULL;
}

/* A document of type typ signed by key, with the JSON text `payload`. */
static char *forge(EVP_PKEY *key, const char *typ, const char *payload)
{
    json_t *p = json_loads(payload, JSON_REJECT_DUPLICATES, NULL);
    char *out = NULL;
    if (p != NULL)
        lic_doc_sign(key, typ, NULL, p, &out);
    json_decref(p);
    return out;
}

static const char *nonce_a = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
static const char *nonce_b = "BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBA";

static void test_nonce(void)
{
    char a[SYNC_NONCE_LEN + 1], b[SYNC_NONCE_LEN + 1];
    T_REQUIRE(sync_nonce_new(a) == 0 && sync_nonce_new(b) == 0);
    T_EQ_INT(strlen(a), 43);
    T_CHECK(strspn(a, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") == 43);
    T_CHECK(strcmp(a, b) != 0);
    T_CHECK(sync_nonce_ok(a) && sync_nonce_ok(b));
    T_CHECK(sync_nonce_ok(nonce_a) && sync_nonce_ok(nonce_b));
    char bad[64];
    T_CHECK(!sync_nonce_ok(NULL));
    T_CHECK(!sync_nonce_ok(""));
    snprintf(bad, sizeof bad, "%.42s", a);
    T_CHECK(!sync_nonce_ok(bad));                        /* 42 chars */
    snprintf(bad, sizeof bad, "%sA", a);
    T_CHECK(!sync_nonce_ok(bad));                        /* 44 chars */
    snprintf(bad, sizeof bad, "%.42s=", a);
    T_CHECK(!sync_nonce_ok(bad));                        /* padding */
    snprintf(bad, sizeof bad, "+%.42s", a + 1);
    T_CHECK(!sync_nonce_ok(bad));                        /* base64, not base64url */
    snprintf(bad, sizeof bad, "%.42sB", nonce_a);
    T_CHECK(!sync_nonce_ok(bad));                        /* non-canonical last char */
}

static struct sync_request sample_request(void)
{
    struct sync_request r;
    memset(&r, 0, sizeof r);
    memcpy(r.nonce, nonce_a, SYNC_NONCE_LEN + 1);
    snprintf(r.license_number, sizeof r.license_number, "42");
    snprintf(r.site, sizeof r.site, "hub-1.example.com");
    r.assignments = (struct sync_assignments){1, 2, 3, 4, 5, 6};
    r.definition_issued_at = NOW;
    return r;
}

static void test_request_roundtrip(void)
{
    struct sync_request r = sample_request(), back;
    json_t *body = sync_request_build(&r);
    T_REQUIRE(body != NULL);
    char *text = json_dumps(body, JSON_COMPACT | JSON_SORT_KEYS);
    T_EQ_STR(text, "{\"assignments\":{\"analyzer\":2,\"capacityMinutesThisMonth\":5,"
                   "\"loginTokens\":4,\"professional\":1,\"quarantined\":6,\"userPasses\":3},"
                   "\"definitionIssuedAt\":1735689600,\"licenseNumber\":\"42\","
                   "\"nonce\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\","
                   "\"site\":\"hub-1.example.com\"}");
    free(text);
    char why[256] = "";
    T_CHECK(sync_request_parse(body, &back, why, sizeof why));
    T_CHECK(memcmp(&r, &back, sizeof r) == 0);
    json_decref(body);
    /* An empty site is allowed; a bad nonce is never built. */
    r.site[0] = '\0';
    body = sync_request_build(&r);
    T_CHECK(body != NULL);
    json_decref(body);
    r.nonce[0] = '=';
    T_CHECK(sync_request_build(&r) == NULL);
    r = sample_request();
    r.assignments.quarantined = -1;
    T_CHECK(sync_request_build(&r) == NULL);
}

/* Parses the sample with `path` (member or "assignments.member") set to the JSON
 * text `value` (NULL: removed); true when accepted.  why receives the reason. */
static bool parse_variant(const char *path, const char *value, char *why, size_t whylen)
{
    struct sync_request r = sample_request(), out;
    json_t *body = sync_request_build(&r), *obj = body;
    const char *key = path;
    if (strncmp(path, "assignments.", 12) == 0) {
        obj = json_object_get(body, "assignments");
        key = path + 12;
    }
    if (value == NULL)
        json_object_del(obj, key);
    else
        json_object_set_new(obj, key, json_loads(value, JSON_DECODE_ANY, NULL));
    why[0] = '\0';
    bool ok = sync_request_parse(body, &out, why, whylen);
    json_decref(body);
    return ok;
}

static void test_request_refusals(void)
{
    static const struct {
        const char *path, *value, *named;
    } cases[] = {
        {"extra", "1", "extra"},
        {"assignments.tokens", "1", "assignments.tokens"},
        {"nonce", NULL, "nonce"},
        {"nonce", "\"short\"", "nonce"},
        {"nonce", "\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\"", "nonce"},
        {"nonce", "42", "nonce"},
        {"licenseNumber", "\"4a\"", "licenseNumber"},
        {"licenseNumber", "\"\"", "licenseNumber"},
        {"licenseNumber", "42", "licenseNumber"},
        {"site", "null", "site"},
        {"assignments", "[]", "assignments"},
        {"assignments", NULL, "assignments"},
        {"assignments.professional", "-1", "assignments.professional"},
        {"assignments.analyzer", "1.5", "assignments.analyzer"},
        {"assignments.userPasses", "\"3\"", "assignments.userPasses"},
        {"assignments.quarantined", NULL, "assignments.quarantined"},
        {"assignments.loginTokens", "true", "assignments.loginTokens"},
        {"definitionIssuedAt", "-5", "definitionIssuedAt"},
        {"definitionIssuedAt", NULL, "definitionIssuedAt"},
    };
    char why[256];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        bool ok = parse_variant(cases[i].path, cases[i].value, why, sizeof why);
        if (ok || strstr(why, cases[i].named) == NULL)
            printf("#   case %zu %s=%s: ok=%d why=\"%s\"\n", i, cases[i].path,
                   cases[i].value ? cases[i].value : "(removed)", ok, why);
        T_CHECK(!ok && strstr(why, cases[i].named) != NULL);
    }
    char site[SYNC_SITE_MAX + 8];
    memset(site, 'x', sizeof site);
    snprintf(site + SYNC_SITE_MAX + 1, 4, "\"");
    site[0] = '"';
    T_CHECK(parse_variant("site", site, why, sizeof why));            /* 200 bytes */
    snprintf(site + SYNC_SITE_MAX + 1, 4, "y\"");
    T_CHECK(!parse_variant("site", site, why, sizeof why));           /* 201 bytes */
    struct sync_request out;
    json_t *arr = json_array();
    T_CHECK(!sync_request_parse(arr, &out, why, sizeof why));
    json_decref(arr);
}

static struct sync_reply sample_reply(const char *definition)
{
    struct sync_reply r = {.verified_at = NOW, .revoked = false, .definition = (char *)definition};
    snprintf(r.license_number, sizeof r.license_number, "42");
    memcpy(r.nonce, nonce_a, SYNC_NONCE_LEN + 1);
    return r;
}

static void test_reply_good(void)
{
    struct sync_reply r = sample_reply(key42), out;
    char *jws = NULL, why[256] = "";
    T_REQUIRE(sync_reply_sign(k1, &r, &jws) == 0);
    T_EQ_INT(sync_reply_verify(jws, k1, nonce_a, "42", &out, why, sizeof why), LIC_OK);
    T_EQ_STR(out.license_number, "42");
    T_EQ_STR(out.nonce, nonce_a);
    T_EQ_INT(out.verified_at, NOW);
    T_CHECK(!out.revoked);
    T_EQ_STR(out.definition, key42);
    sync_reply_free(&out);
    T_CHECK(out.definition == NULL);
    sync_reply_free(&out); /* twice is harmless */
    free(jws);
    r.revoked = true;
    T_REQUIRE(sync_reply_sign(k1, &r, &jws) == 0);
    T_EQ_INT(sync_reply_verify(jws, k1, nonce_a, "42", &out, why, sizeof why), LIC_OK);
    T_CHECK(out.revoked);
    sync_reply_free(&out);
    free(jws);
    /* Members a later authority may add are ignored. */
    char payload[2048];
    snprintf(payload, sizeof payload, "{\"nonce\":\"%s\",\"licenseNumber\":\"42\","
             "\"verifiedAt\":1,\"revoked\":false,\"definition\":\"%s\",\"later\":[1]}",
             nonce_a, key42);
    jws = forge(k1, LIC_TYP_SYNC, payload);
    T_EQ_INT(sync_reply_verify(jws, k1, nonce_a, "42", &out, why, sizeof why), LIC_OK);
    sync_reply_free(&out);
    free(jws);
}

static void test_reply_refusals(void)
{
    struct sync_reply r = sample_reply(key42), out;
    char *jws = NULL, why[256] = "";
    T_REQUIRE(sync_reply_sign(k1, &r, &jws) == 0);
    /* Another key. */
    T_EQ_INT(sync_reply_verify(jws, k2, nonce_a, "42", &out, why, sizeof why),
             LIC_BAD_SIGNATURE);
    T_CHECK(out.definition == NULL);
    /* A replayed reply (another nonce) or another license. */
    T_EQ_INT(sync_reply_verify(jws, k1, nonce_b, "42", &out, why, sizeof why),
             LIC_BAD_PAYLOAD);
    T_CHECK(strstr(why, "nonce") != NULL && out.definition == NULL);
    T_EQ_INT(sync_reply_verify(jws, k1, nonce_a, "43", &out, why, sizeof why),
             LIC_BAD_PAYLOAD);
    T_CHECK(strstr(why, "license") != NULL);
    T_EQ_INT(sync_reply_verify(jws, k1, NULL, "42", &out, why, sizeof why), LIC_BAD_PAYLOAD);
    /* Altered payload: revoked false -> true under the old signature. */
    char *dot1 = strchr(jws, '.'), *dot2 = strchr(dot1 + 1, '.');
    size_t plen = 0;
    unsigned char *raw = core_b64url_decode(dot1 + 1, (size_t)(dot2 - dot1 - 1), &plen);
    T_REQUIRE(raw != NULL);
    char *f = strstr((char *)raw, "false");
    T_REQUIRE(f != NULL);
    memcpy(f, "true ", 5);
    char *p64 = core_b64url_encode(raw, plen);
    size_t n = strlen(jws) + 8;
    char *altered = malloc(n);
    snprintf(altered, n, "%.*s.%s%s", (int)(dot1 - jws), jws, p64, dot2);
    T_EQ_INT(sync_reply_verify(altered, k1, nonce_a, "42", &out, why, sizeof why),
             LIC_BAD_SIGNATURE);
    free(raw);
    free(p64);
    free(altered);
    /* Type confusion: a license key or a definition document is not a reply, and a
     * reply is neither a license key nor a definition document. */
    T_EQ_INT(sync_reply_verify(key42, k1, nonce_a, "42", &out, why, sizeof why), LIC_BAD_TYP);
    char *def = NULL;
    T_REQUIRE(definition_doc_sign(k1, "42", key42, NOW, false, &def) == 0);
    T_EQ_INT(sync_reply_verify(def, k1, nonce_a, "42", &out, why, sizeof why), LIC_BAD_TYP);
    T_EQ_INT(definition_doc_verify(jws, k1, &out, why, sizeof why), LIC_BAD_TYP);
    struct lic_license l;
    T_EQ_INT(lic_verify_key(jws, k1, NOW, &l, NULL, why, sizeof why), LIC_BAD_TYP);
    free(def);
    free(jws);
    /* Garbage. */
    const char *garbage[] = {"", "abc", "a.b.c", "..", "a.b.c.d", "eyJ9.eyJ9.AAAA"};
    for (size_t i = 0; i < sizeof garbage / sizeof garbage[0]; i++)
        T_EQ_INT(sync_reply_verify(garbage[i], k1, nonce_a, "42", &out, why, sizeof why),
                 LIC_MALFORMED);
    T_EQ_INT(sync_reply_verify(NULL, k1, nonce_a, "42", &out, why, sizeof why), LIC_MALFORMED);
}

/* A signed reply with the payload made by fmt: refused with LIC_BAD_PAYLOAD,
 * why containing `named`. */
static void check_bad_payload(const char *named, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void check_bad_payload(const char *named, const char *fmt, ...)
{
    char payload[4096], why[256] = "";
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(payload, sizeof payload, fmt, ap);
    va_end(ap);
    char *jws = forge(k1, LIC_TYP_SYNC, payload);
    struct sync_reply out;
    T_REQUIRE(jws != NULL);
    T_EQ_INT(sync_reply_verify(jws, k1, nonce_a, "42", &out, why, sizeof why), LIC_BAD_PAYLOAD);
    if (strstr(why, named) == NULL)
        printf("#   why \"%s\" does not name %s\n", why, named);
    T_CHECK(strstr(why, named) != NULL && out.definition == NULL);
    free(jws);
}

#define REPLY_WITH(members) "{\"nonce\":\"%s\",\"licenseNumber\":\"42\"," members "}"

static void test_reply_payload_checks(void)
{
    check_bad_payload("verifiedAt", REPLY_WITH("\"revoked\":false,\"definition\":\"%s\""),
                      nonce_a, key42);
    check_bad_payload("verifiedAt", REPLY_WITH("\"verifiedAt\":\"1\",\"revoked\":false,"
                      "\"definition\":\"%s\""), nonce_a, key42);
    check_bad_payload("nonce", "{\"licenseNumber\":\"42\",\"verifiedAt\":1,\"revoked\":false,"
                      "\"definition\":\"%s\"}", key42);
    check_bad_payload("revoked", REPLY_WITH("\"verifiedAt\":1,\"revoked\":0,"
                      "\"definition\":\"%s\""), nonce_a, key42);
    check_bad_payload("definition", REPLY_WITH("\"verifiedAt\":1,\"revoked\":false,"
                      "\"definition\":\"x.y.z\""), nonce_a);
    check_bad_payload("definition", REPLY_WITH("\"verifiedAt\":1,\"revoked\":false"), nonce_a);
    /* The definition must be a license key by the same authority, for license 42. */
    check_bad_payload("license 43", REPLY_WITH("\"verifiedAt\":1,\"revoked\":false,"
                      "\"definition\":\"%s\""), nonce_a, key43);
    check_bad_payload("signature", REPLY_WITH("\"verifiedAt\":1,\"revoked\":false,"
                      "\"definition\":\"%s\""), nonce_a, key42_k2);
    /* Signing refuses what would be refused. */
    struct sync_reply r = sample_reply(key42);
    char *jws = NULL;
    r.nonce[5] = '*';
    T_EQ_INT(sync_reply_sign(k1, &r, &jws), -1);
    r = sample_reply(NULL);
    T_EQ_INT(sync_reply_sign(k1, &r, &jws), -1);
    r = sample_reply(key42);
    r.license_number[0] = 'x';
    T_EQ_INT(sync_reply_sign(k1, &r, &jws), -1);
    T_CHECK(jws == NULL);
}

static void test_definition_doc(void)
{
    char *doc = NULL, why[256] = "";
    struct sync_reply out;
    T_REQUIRE(definition_doc_sign(k1, "42", key42, NOW, true, &doc) == 0);
    T_EQ_INT(definition_doc_verify(doc, k1, &out, why, sizeof why), LIC_OK);
    T_EQ_STR(out.license_number, "42");
    T_EQ_STR(out.nonce, "");
    T_EQ_INT(out.verified_at, NOW);
    T_CHECK(out.revoked);
    T_EQ_STR(out.definition, key42);
    sync_reply_free(&out);
    T_EQ_INT(definition_doc_verify(doc, k2, &out, why, sizeof why), LIC_BAD_SIGNATURE);
    T_EQ_INT(definition_doc_verify(key42, k1, &out, why, sizeof why), LIC_BAD_TYP);
    T_EQ_INT(definition_doc_verify("x", k1, &out, why, sizeof why), LIC_MALFORMED);
    doc[strlen(doc) - 2] ^= 1; /* the signature altered */
    T_CHECK(definition_doc_verify(doc, k1, &out, why, sizeof why) != LIC_OK);
    free(doc);
    /* The inner key must be of the document's license. */
    T_REQUIRE(definition_doc_sign(k1, "42", key43, NOW, false, &doc) == 0);
    T_EQ_INT(definition_doc_verify(doc, k1, &out, why, sizeof why), LIC_BAD_PAYLOAD);
    free(doc);
    T_EQ_INT(definition_doc_sign(k1, "4x", key42, NOW, false, &doc), -1);
    T_EQ_INT(definition_doc_sign(k1, "42", "", NOW, false, &doc), -1);
    T_EQ_INT(definition_doc_sign(k1, "42", key42, -1, false, &doc), -1);
}

/* ---- the real allot-authority over HTTP ---------------------------------------- */

static char prog[4200], tmp[64];

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
    char cmd[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* The output of a shell command, trailing newline removed, in out. */
static void sh_out(char *out, size_t outsize, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void sh_out(char *out, size_t outsize, const char *fmt, ...)
{
    char cmd[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    FILE *f = popen(cmd, "r");
    size_t n = f != NULL ? fread(out, 1, outsize - 1, f) : 0;
    out[n] = '\0';
    if (f != NULL)
        pclose(f);
    if (n > 0 && out[n - 1] == '\n')
        out[n - 1] = '\0';
}

/* Starts serve on a free port (stderr to tmp/log.N, N counting the starts); the
 * port it logs, or 0. */
static long start_server(pid_t *pid)
{
    static int starts;
    char dir[128], key[128], log[128], out[64];
    snprintf(dir, sizeof dir, "%s/state", tmp);
    snprintf(key, sizeof key, "%s/authority.key", tmp);
    snprintf(log, sizeof log, "%s/log.%d", tmp, ++starts);
    *pid = fork();
    if (*pid == 0) {
        if (freopen(log, "w", stderr) == NULL)
            _exit(127);
        execl(prog, prog, "serve", "--key", key, "--listen", "127.0.0.1:0", "--state-dir", dir,
              (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 250; i++) {
        sh_out(out, sizeof out, "sed -n 's/.*\"port\":\\([0-9]*\\).*/\\1/p' %s 2>/dev/null",
               log);
        long port = strtol(out, NULL, 10);
        if (port > 0)
            return port;
        usleep(20000);
    }
    return 0;
}

static int stop_server(pid_t pid)
{
    int st = 0;
    kill(pid, SIGTERM);
    if (waitpid(pid, &st, 0) != pid)
        return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

struct http_reply {
    long status;
    char body[16384];
    size_t len;
    char ctype[128];
};

static size_t collect(char *data, size_t size, size_t n, void *arg)
{
    struct http_reply *r = arg;
    size_t take = size * n;
    if (take > sizeof r->body - 1 - r->len)
        take = sizeof r->body - 1 - r->len;
    memcpy(r->body + r->len, data, take);
    r->len += take;
    r->body[r->len] = '\0';
    return size * n;
}

static void http(long port, const char *method, const char *path, const char *bearer,
                 const char *ctype, const char *body, struct http_reply *r)
{
    memset(r, 0, sizeof *r);
    char url[256], auth[4096], ct[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%ld%s", port, path);
    CURL *c = curl_easy_init();
    struct curl_slist *h = NULL;
    if (bearer != NULL) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", bearer);
        h = curl_slist_append(h, auth);
    }
    snprintf(ct, sizeof ct, "Content-Type: %s", ctype != NULL ? ctype : "application/json");
    h = curl_slist_append(h, ct);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    if (body != NULL)
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
    if (curl_easy_perform(c) == CURLE_OK) {
        char *t = NULL;
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
        curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &t);
        snprintf(r->ctype, sizeof r->ctype, "%s", t != NULL ? t : "");
    }
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
}

/* A sync of license 42 presenting `bearer`, verified; fills *out. */
static void sync42(long port, const char *bearer, EVP_PKEY *pub, struct sync_reply *out)
{
    struct sync_request req = sample_request();
    T_REQUIRE(sync_nonce_new(req.nonce) == 0);
    json_t *b = sync_request_build(&req);
    char *text = json_dumps(b, JSON_COMPACT);
    json_decref(b);
    struct http_reply r;
    http(port, "POST", "/v1/licenses/42/sync", bearer, NULL, text, &r);
    free(text);
    char why[256] = "";
    T_EQ_INT(r.status, 200);
    T_EQ_STR(r.ctype, "application/jose");
    T_EQ_INT(sync_reply_verify(r.body, pub, req.nonce, "42", out, why, sizeof why), LIC_OK);
    if (why[0] != '\0')
        printf("#   %s\n", why);
}

static void check_refusals(long port, const char *bearer)
{
    struct sync_request req = sample_request();
    json_t *b = sync_request_build(&req);
    char *good = json_dumps(b, JSON_COMPACT);
    json_object_set_new(b, "extra", json_true());
    char *extra = json_dumps(b, JSON_COMPACT);
    json_decref(b);
    char *badnonce = strdup(good), *big = malloc(SYNC_BODY_MAX + 10);
    memcpy(strstr(badnonce, nonce_a), "!!", 2);
    memset(big, ' ', SYNC_BODY_MAX + 9);
    big[SYNC_BODY_MAX + 9] = '\0';
    const char *sync = "/v1/licenses/42/sync", *forged = "eyJhbGciOiJFZERTQSJ9.e30.AAAA";
    const struct {
        const char *method, *path, *bearer, *ctype, *body;
        long status;
    } cases[] = {
        {"POST", sync, NULL, NULL, good, 401},
        {"POST", sync, forged, NULL, good, 401},
        {"POST", "/v1/licenses/43/sync", bearer, NULL, good, 401}, /* a key of 42 */
        {"POST", sync, key42_k2, NULL, good, 401},       /* another authority's key */
        {"POST", sync, bearer, NULL, badnonce, 400},
        {"POST", sync, bearer, NULL, extra, 400},
        {"POST", sync, bearer, NULL, "{\"nonce\":1,\"nonce\":2}", 400},
        {"POST", sync, bearer, "text/plain", good, 415},
        {"POST", sync, bearer, NULL, big, 413},
        {"GET", sync, bearer, NULL, NULL, 405},
        {"DELETE", "/v1/licenses/42", NULL, NULL, NULL, 405},
        {"GET", "/v1/licenses/x42/sync", NULL, NULL, NULL, 404},
        {"GET", "/", NULL, NULL, NULL, 404},
        /* The state needs the license's key; every refusal reads alike. */
        {"GET", "/v1/licenses/77", NULL, NULL, NULL, 401},
        {"GET", "/v1/licenses/77", bearer, NULL, NULL, 401}, /* a key of 42 */
        {"GET", "/v1/licenses/42", NULL, NULL, NULL, 401},
        {"GET", "/v1/licenses/42", forged, NULL, NULL, 401},
        {"GET", "/v1/licenses/42", key42_k2, NULL, NULL, 401},
    };
    struct http_reply r;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        http(port, cases[i].method, cases[i].path, cases[i].bearer, cases[i].ctype,
             cases[i].body, &r);
        if (r.status != cases[i].status)
            printf("#   case %zu: %s %s\n", i, cases[i].method, cases[i].path);
        T_EQ_INT(r.status, cases[i].status);
        T_CHECK(strstr(r.body, "{\"error\":\"") == r.body);
    }
    http(port, "POST", sync, bearer, NULL, extra, &r);
    T_CHECK(strstr(r.body, "extra") != NULL); /* the 400 names the member */
    /* An unknown number is answered exactly like a wrong key. */
    http(port, "GET", "/v1/licenses/77", bearer, NULL, NULL, &r);
    char unknown[256];
    snprintf(unknown, sizeof unknown, "%.200s", r.body);
    http(port, "GET", "/v1/licenses/42", key42_k2, NULL, NULL, &r);
    T_EQ_STR(r.body, unknown);
    http(port, "GET", "/v1/licenses/42", NULL, NULL, NULL, &r);
    T_EQ_STR(r.body, unknown);
    free(good);
    free(extra);
    free(badnonce);
    free(big);
}

static void test_authority_serve(void)
{
    char exe[4096], out[8192], bearer[8192], key2[8192], why[256];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    T_REQUIRE(n > 0);
    exe[n] = '\0';
    for (int i = 0; i < 3 && strrchr(exe, '/') != NULL; i++)
        *strrchr(exe, '/') = '\0';
    snprintf(prog, sizeof prog, "%s/allot-authority", exe);
    if (access(prog, X_OK) != 0) {
        printf("# skipped: no %s\n", prog);
        return;
    }
    snprintf(tmp, sizeof tmp, "/tmp/allot-test-sync-XXXXXX");
    T_REQUIRE(mkdtemp(tmp) != NULL);
    T_REQUIRE(sh("'%s' keygen --out %s >/dev/null", prog, tmp) == 0);
#define ISSUE_FMT "'%s' issue --key %s/authority.key --license-number 42 " \
                  "--organization O --product P --iat %d %s"
    sh_out(bearer, sizeof bearer, ISSUE_FMT, prog, tmp, 1000, "");
    snprintf(out, sizeof out, "%s/authority.pub", tmp);
    EVP_PKEY *pub = lic_key_load_public_file(out, why, sizeof why);
    T_REQUIRE(pub != NULL);

    pid_t pid;
    long port = start_server(&pid);
    T_REQUIRE(port > 0);
    struct sync_reply rep;
    sync42(port, bearer, pub, &rep);
    T_CHECK(!rep.revoked && rep.definition != NULL && strcmp(rep.definition, bearer) == 0);
    T_CHECK(rep.verified_at >= (int64_t)time(NULL) - 60);
    sync_reply_free(&rep);
    check_refusals(port, bearer);
    struct http_reply r;
    http(port, "GET", "/v1/licenses/42", bearer, NULL, NULL, &r);
    T_EQ_INT(r.status, 200);
    T_CHECK(strstr(r.body, "\"syncCount\":1") != NULL);
    T_CHECK(strstr(r.body, "\"site\":\"hub-1.example.com\"") != NULL);
    T_CHECK(strstr(r.body, bearer + 40) == NULL); /* no key shown */
    T_EQ_INT(stop_server(pid), 0);

    /* A new key issued with --state-dir is handed out by the next sync, after a
     * restart that keeps the count. */
    snprintf(out, sizeof out, "--state-dir %s/state", tmp);
    sh_out(key2, sizeof key2, ISSUE_FMT, prog, tmp, 2000, out);
    T_CHECK(strlen(key2) > 100 && strcmp(key2, bearer) != 0);
    port = start_server(&pid);
    T_REQUIRE(port > 0);
    sync42(port, bearer, pub, &rep);
    T_CHECK(rep.definition != NULL && strcmp(rep.definition, key2) == 0);
    sync_reply_free(&rep);
    http(port, "GET", "/v1/licenses/42", bearer, NULL, NULL, &r);
    T_CHECK(strstr(r.body, "\"syncCount\":2") != NULL);

    /* revoke while serving counts at the next sync; --undo lifts it. */
    T_EQ_INT(sh("'%s' revoke --state-dir %s/state 42 >/dev/null", prog, tmp), 0);
    sync42(port, bearer, pub, &rep);
    T_CHECK(rep.revoked);
    sync_reply_free(&rep);
    T_EQ_INT(sh("'%s' revoke --state-dir %s/state 42 --undo >/dev/null", prog, tmp), 0);
    sync42(port, bearer, pub, &rep);
    T_CHECK(!rep.revoked);
    sync_reply_free(&rep);
    T_EQ_INT(stop_server(pid), 0);

    /* export: a definition document of the current key. */
    T_EQ_INT(sh("'%s' revoke --state-dir %s/state 42 >/dev/null", prog, tmp), 0);
    sh_out(out, sizeof out, "'%s' export --key %s/authority.key --state-dir %s/state 42",
           prog, tmp, tmp);
    T_EQ_INT(definition_doc_verify(out, pub, &rep, why, sizeof why), LIC_OK);
    T_CHECK(rep.revoked && rep.definition != NULL && strcmp(rep.definition, key2) == 0);
    sync_reply_free(&rep);
    T_EQ_INT(sh("'%s' export --key %s/authority.key --state-dir %s/state 99 2>/dev/null",
                prog, tmp, tmp), 1);
    T_EQ_INT(sh("'%s' revoke --state-dir %s/state 4x2 2>/dev/null", prog, tmp), 2);
    T_EQ_INT(sh("'%s' serve --key %s/authority.key --listen nohost --state-dir %s/s "
                "2>/dev/null", prog, tmp, tmp), 2);
    /* Never a license key in the log. */
    T_EQ_INT(sh("cat %s/log.* | grep -q -F '%.60s'", tmp, bearer + 30), 1);
    T_EQ_INT(sh("cat %s/log.* | grep -q '\"status\":401'", tmp), 0);
    T_EQ_INT(sh("cat %s/log.* | grep -v -q '^{.*}$'", tmp), 1); /* JSON lines only */
    EVP_PKEY_free(pub);
    sh("rm -rf '%s'", tmp);
}

int main(void)
{
    k1 = lic_key_generate();
    k2 = lic_key_generate();
    key42 = k1 != NULL ? issue(k1, "42", NOW) : NULL;
    key43 = k1 != NULL ? issue(k1, "43", NOW) : NULL;
    key42_k2 = k2 != NULL ? issue(k2, "42", NOW) : NULL;
    if (key42 == NULL || key43 == NULL || key42_k2 == NULL) {
        printf("Bail out! cannot make keys\n");
        return 1;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    T_RUN(test_nonce);
    T_RUN(test_request_roundtrip);
    T_RUN(test_request_refusals);
    T_RUN(test_reply_good);
    T_RUN(test_reply_refusals);
    T_RUN(test_reply_payload_checks);
    T_RUN(test_definition_doc);
    T_RUN(test_authority_serve);
    curl_global_cleanup();
    free(key42);
    free(key43);
    free(key42_k2);
    EVP_PKEY_free(k1);
    EVP_PKEY_free(k2);
    return t_done();
}

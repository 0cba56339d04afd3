/* Unit tests of src/license: base64url, compact JWS, keys, the license payload,
 * RFC 3339 time, and a key issued by the real allot-authority program. */
#include "allot/license.h"
#include "license/internal.h"
#include "ttest.h"

#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>

static EVP_PKEY *k1, *k2; /* two Ed25519 key pairs, made once */

#define NOW 1735689600 /* 2025-01-01T00:00:00Z */

/* A compact JWS made by hand: base64url(header).base64url(payload).sig, where
 * the signature is Ed25519 over the first two parts (or hmac/none as asked). */
static char *forge(EVP_PKEY *key, const char *header, const char *payload)
{
    char *h = core_b64url_encode((const unsigned char *)header, strlen(header));
    char *p = core_b64url_encode((const unsigned char *)payload, strlen(payload));
    size_t n = strlen(h) + strlen(p) + 2;
    char *input = malloc(n);
    snprintf(input, n, "%s.%s", h, p);
    unsigned char sig[64];
    size_t siglen = sizeof sig;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    EVP_DigestSignInit(ctx, NULL, NULL, NULL, key);
    EVP_DigestSign(ctx, sig, &siglen, (unsigned char *)input, strlen(input));
    EVP_MD_CTX_free(ctx);
    char *s = core_b64url_encode(sig, siglen);
    size_t total = n + strlen(s) + 1;
    char *out = malloc(total);
    snprintf(out, total, "%s.%s", input, s);
    free(h);
    free(p);
    free(input);
    free(s);
    return out;
}

static const char *license_payload =
    "{\"licenseNumber\":\"9999000011112222\",\"organization\":\"ACME\",\"product\":\"Hub\","
    "\"validFrom\":\"2024-01-01T00:00:00Z\",\"validTo\":\"2026-01-01T00:00:00Z\","
    "\"iat\":1704067200,\"allotments\":[{\"name\":\"professional\",\"units\":10}]}";

static json_t *load(const char *text)
{
    json_error_t e;
    return json_loads(text, JSON_REJECT_DUPLICATES, &e);
}

/* A payload = license_payload with `key` set to the JSON text `value`
 * (NULL: removed). */
static json_t *variant(const char *key, const char *value)
{
    json_t *o = load(license_payload);
    if (value == NULL)
        json_object_del(o, key);
    else
        json_object_set_new(o, key, json_loads(value, JSON_DECODE_ANY, NULL));
    return o;
}

static char last_why[256];

static enum lic_result parse_variant(const char *key, const char *value, struct lic_license *l)
{
    json_t *o = variant(key, value);
    last_why[0] = '\0';
    enum lic_result r = lic_parse(o, l, last_why, sizeof last_why);
    json_decref(o);
    return r;
}

static void test_b64url(void)
{
    char *e = core_b64url_encode((const unsigned char *)"\xfb\xff", 2);
    T_EQ_STR(e, "-_8");
    free(e);
    size_t n = 0;
    unsigned char *d = core_b64url_decode("-_8", 3, &n);
    T_REQUIRE(d != NULL);
    T_EQ_INT(n, 2);
    T_CHECK(d[0] == 0xfb && d[1] == 0xff);
    free(d);
    T_CHECK(core_b64url_decode("-_9", 3, &n) == NULL);   /* non-zero trailing bits */
    T_CHECK(core_b64url_decode("QQ==", 4, &n) == NULL);  /* padding */
    T_CHECK(core_b64url_decode("Q+/A", 4, &n) == NULL);  /* standard alphabet */
    T_CHECK(core_b64url_decode("QUJD\n", 5, &n) == NULL);
    T_CHECK(core_b64url_decode("QUJDR", 5, &n) == NULL); /* len % 4 == 1 */
}

static void test_roundtrip(void)
{
    json_t *p = json_pack("{s:s, s:i}", "hello", "wörld", "n", 42);
    char *jws = NULL;
    T_REQUIRE(lic_jws_sign(k1, p, &jws) == 0);
    T_CHECK(strchr(jws, '=') == NULL && strchr(jws, '\n') == NULL);
    json_t *back = NULL;
    char why[256] = "";
    T_EQ_INT(lic_jws_verify(jws, k1, &back, why, sizeof why), LIC_OK);
    T_CHECK(json_equal(p, back));
    /* The header is exactly this text. */
    size_t n = 0;
    unsigned char *h = core_b64url_decode(jws, (size_t)(strchr(jws, '.') - jws), &n);
    T_EQ_STR((char *)h, "{\"alg\":\"EdDSA\",\"typ\":\"JWT\"}");
    free(h);
    json_decref(back);
    free(jws);
    /* kid is allowed. */
    T_REQUIRE(lic_doc_sign(k1, LIC_TYP_SYNC, "k-2025", p, &jws) == 0);
    T_EQ_INT(lic_doc_verify(jws, k1, LIC_TYP_SYNC, NULL, why, sizeof why), LIC_OK);
    free(jws);
    json_decref(p);
}

static void test_other_key_refused(void)
{
    json_t *p = json_pack("{s:i}", "a", 1);
    char *jws = NULL, why[256] = "";
    T_REQUIRE(lic_jws_sign(k1, p, &jws) == 0);
    json_t *back = (json_t *)p; /* must be reset to NULL */
    T_EQ_INT(lic_jws_verify(jws, k2, &back, why, sizeof why), LIC_BAD_SIGNATURE);
    T_CHECK(back == NULL);
    T_EQ_STR(why, "signature does not verify");
    free(jws);
    json_decref(p);
}

static void test_altered_refused(void)
{
    char *jws = forge(k1, "{\"alg\":\"EdDSA\",\"typ\":\"JWT\"}", "{\"units\":10}");
    char why[256];
    T_EQ_INT(lic_jws_verify(jws, k1, NULL, why, sizeof why), LIC_OK);
    /* Payload {"units":90}: same length, another signature needed. */
    char *other = forge(k2, "{\"alg\":\"EdDSA\",\"typ\":\"JWT\"}", "{\"units\":90}");
    char *d1 = strchr(jws, '.'), *d2 = strchr(d1 + 1, '.');
    char *o1 = strchr(other, '.');
    char *spliced = strdup(jws);
    memcpy(spliced + (d1 - jws), o1, (size_t)(d2 - d1)); /* their payload, our signature */
    T_EQ_INT(lic_jws_verify(spliced, k1, NULL, why, sizeof why), LIC_BAD_SIGNATURE);
    /* One flipped character in the signature (middle). */
    char *bad = strdup(jws);
    size_t mid = (size_t)(d2 - jws) + 20;
    bad[mid] = bad[mid] == 'A' ? 'B' : 'A';
    T_EQ_INT(lic_jws_verify(bad, k1, NULL, why, sizeof why), LIC_BAD_SIGNATURE);
    free(bad);
    /* One flipped character in the payload. */
    bad = strdup(jws);
    bad[d1 - jws + 3] = bad[d1 - jws + 3] == 'e' ? 'f' : 'e';
    enum lic_result r = lic_jws_verify(bad, k1, NULL, why, sizeof why);
    T_CHECK(r == LIC_BAD_SIGNATURE || r == LIC_MALFORMED);
    free(bad);
    /* The last signature character spelled with other unused bits: its four low
     * bits are zero (A, Q, g or w), the next character of the alphabet sets one. */
    bad = strdup(jws);
    size_t last = strlen(bad) - 1;
    T_CHECK(strchr("AQgw", bad[last]) != NULL);
    bad[last] = (char)(bad[last] + 1);
    T_EQ_INT(lic_jws_verify(bad, k1, NULL, why, sizeof why), LIC_MALFORMED);
    free(bad);
    free(spliced);
    free(other);
    free(jws);
}

static void test_truncated_refused(void)
{
    char *jws = forge(k1, "{\"alg\":\"EdDSA\",\"typ\":\"JWT\"}", "{\"a\":1}");
    T_REQUIRE(jws != NULL);
    char why[256], *t = strdup(jws);
    size_t len = strlen(t);
    t[len - 1] = '\0'; /* drop the last character */
    T_EQ_INT(lic_jws_verify(t, k1, NULL, why, sizeof why), LIC_MALFORMED);
    t[len - 2] = '\0'; /* 63-byte signature */
    T_EQ_INT(lic_jws_verify(t, k1, NULL, why, sizeof why), LIC_MALFORMED);
    free(t);
    t = strdup(jws);
    *strrchr(t, '.') = '\0'; /* drop a part */
    T_EQ_INT(lic_jws_verify(t, k1, NULL, why, sizeof why), LIC_MALFORMED);
    T_EQ_STR(why, "malformed: expected three dot-separated parts");
    free(t);
    t = malloc(strlen(jws) + 8);
    snprintf(t, strlen(jws) + 8, "%s.", jws); /* four parts */
    T_EQ_INT(lic_jws_verify(t, k1, NULL, why, sizeof why), LIC_MALFORMED);
    snprintf(t, strlen(jws) + 8, "%s\n", jws); /* trailing newline */
    T_EQ_INT(lic_jws_verify(t, k1, NULL, why, sizeof why), LIC_MALFORMED);
    snprintf(t, strlen(jws) + 8, "%s==", jws); /* padding */
    T_EQ_INT(lic_jws_verify(t, k1, NULL, why, sizeof why), LIC_MALFORMED);
    free(t);
    T_EQ_INT(lic_jws_verify("", k1, NULL, why, sizeof why), LIC_MALFORMED);
    T_EQ_INT(lic_jws_verify("..", k1, NULL, why, sizeof why), LIC_MALFORMED);
    T_EQ_INT(lic_jws_verify(NULL, k1, NULL, why, sizeof why), LIC_MALFORMED);
    free(jws);
}

static void test_wrong_alg_refused(void)
{
    char why[256];
    const char *payload = "{\"a\":1}";
    /* alg none, no signature: refused (malformed or bad alg, never ok). */
    char *h = core_b64url_encode((const unsigned char *)"{\"alg\":\"none\",\"typ\":\"JWT\"}", 26);
    char *p = core_b64url_encode((const unsigned char *)payload, strlen(payload));
    char none[256];
    snprintf(none, sizeof none, "%s.%s.", h, p);
    T_CHECK(lic_jws_verify(none, k1, NULL, why, sizeof why) != LIC_OK);
    /* alg none carrying a real Ed25519 signature. */
    char *jws = forge(k1, "{\"alg\":\"none\",\"typ\":\"JWT\"}", payload);
    T_EQ_INT(lic_jws_verify(jws, k1, NULL, why, sizeof why), LIC_BAD_ALG);
    T_CHECK(strstr(why, "unsupported alg") != NULL);
    free(jws);
    /* HS256 keyed with the public key bytes (the classic confusion). */
    free(h);
    h = core_b64url_encode((const unsigned char *)"{\"alg\":\"HS256\",\"typ\":\"JWT\"}", 27);
    char input[256];
    snprintf(input, sizeof input, "%s.%s", h, p);
    unsigned char pubraw[32], mac[32];
    size_t publen = sizeof pubraw, maclen = 0;
    EVP_PKEY_get_raw_public_key(k1, pubraw, &publen);
    T_REQUIRE(EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, pubraw, publen,
                        (unsigned char *)input, strlen(input), mac, sizeof mac, &maclen) != NULL);
    char *m = core_b64url_encode(mac, maclen);
    char hs[300];
    snprintf(hs, sizeof hs, "%s.%s", input, m);
    T_EQ_INT(lic_jws_verify(hs, k1, NULL, why, sizeof why), LIC_BAD_ALG);
    free(m);
    free(h);
    free(p);
    /* Other header shapes. */
    jws = forge(k1, "{\"typ\":\"JWT\"}", payload);
    T_EQ_INT(lic_jws_verify(jws, k1, NULL, why, sizeof why), LIC_BAD_ALG);
    free(jws);
    jws = forge(k1, "{\"alg\":\"EdDSA\",\"typ\":\"JWT\",\"crit\":\"exp\"}", payload);
    T_EQ_INT(lic_jws_verify(jws, k1, NULL, why, sizeof why), LIC_MALFORMED);
    free(jws);
    jws = forge(k1, "{\"alg\":\"EdDSA\",\"alg\":\"EdDSA\",\"typ\":\"JWT\"}", payload);
    T_EQ_INT(lic_jws_verify(jws, k1, NULL, why, sizeof why), LIC_MALFORMED);
    free(jws);
    jws = forge(k1, "[\"EdDSA\"]", payload);
    T_EQ_INT(lic_jws_verify(jws, k1, NULL, why, sizeof why), LIC_MALFORMED);
    free(jws);
}

static void test_payload_shape(void)
{
    char why[256];
    const char *hdr = "{\"alg\":\"EdDSA\",\"typ\":\"JWT\"}";
    char *jws = forge(k1, hdr, "[1,2]");
    T_EQ_INT(lic_jws_verify(jws, k1, NULL, why, sizeof why), LIC_BAD_PAYLOAD);
    free(jws);
    jws = forge(k1, hdr, "{\"a\":1,\"a\":2}");
    T_EQ_INT(lic_jws_verify(jws, k1, NULL, why, sizeof why), LIC_BAD_PAYLOAD);
    free(jws);
    /* Over the length cap: not signed, and not verified. */
    char *big = malloc(LIC_JWS_MAX);
    memset(big, 'x', LIC_JWS_MAX - 1);
    big[LIC_JWS_MAX - 1] = '\0';
    json_t *p = json_pack("{s:s}", "big", big);
    char *out = NULL;
    T_CHECK(lic_jws_sign(k1, p, &out) == -1 && out == NULL);
    char *text = json_dumps(p, JSON_COMPACT);
    jws = forge(k1, hdr, text);
    T_EQ_INT(lic_jws_verify(jws, k1, NULL, why, sizeof why), LIC_MALFORMED);
    free(jws);
    free(text);
    json_decref(p);
    free(big);
}

static void test_typ_confusion(void)
{
    char why[256], *sync = NULL, *key = NULL;
    json_t *p = load(license_payload);
    struct lic_license lic;
    T_REQUIRE(lic_doc_sign(k1, LIC_TYP_SYNC, NULL, p, &sync) == 0);
    T_EQ_INT(lic_verify_key(sync, k1, NOW, &lic, NULL, why, sizeof why), LIC_BAD_TYP);
    T_CHECK(strstr(why, LIC_TYP_LICENSE) != NULL);
    T_REQUIRE(lic_doc_sign(k1, LIC_TYP_LICENSE, NULL, p, &key) == 0);
    T_EQ_INT(lic_verify_key(key, k1, NOW, &lic, NULL, why, sizeof why), LIC_OK);
    T_EQ_INT(lic_doc_verify(key, k1, LIC_TYP_SYNC, NULL, why, sizeof why), LIC_BAD_TYP);
    T_EQ_INT(lic_doc_verify(key, k1, LIC_TYP_DEFINITION, NULL, why, sizeof why), LIC_BAD_TYP);
    T_EQ_INT(lic_jws_verify(key, k1, NULL, why, sizeof why), LIC_BAD_TYP);
    free(sync);
    free(key);
    T_REQUIRE(lic_jws_sign(k1, p, &key) == 0); /* typ JWT is not a license either */
    T_EQ_INT(lic_verify_key(key, k1, NOW, &lic, NULL, why, sizeof why), LIC_BAD_TYP);
    free(key);
    json_decref(p);
}

static void test_parse_defaults(void)
{
    struct lic_license l;
    T_REQUIRE(parse_variant("tokens", NULL, &l) == LIC_OK);
    T_EQ_STR(l.license_number, "9999000011112222");
    T_EQ_STR(l.organization, "ACME");
    T_EQ_INT(l.valid_from, 1704067200);
    T_EQ_INT(l.valid_to, 1767225600);
    T_EQ_INT(l.iat, 1704067200);
    T_CHECK(l.allotments[LIC_PROFESSIONAL].present);
    T_EQ_INT(l.allotments[LIC_PROFESSIONAL].units, 10);
    T_EQ_INT(l.allotments[LIC_PROFESSIONAL].overage, 0);
    T_CHECK(!l.allotments[LIC_ANALYZER].present && !l.allotments[LIC_ANALYZER_TIME].present);
    T_CHECK(!l.has_tokens && !l.has_conversion_date);
    T_EQ_INT(l.params.v[CORE_PARAM_OFFLINE_GRACE], 432000);
    T_EQ_INT(l.params.v[CORE_PARAM_CAPACITY_UNIT], 360);
    T_EQ_INT(l.params.v[CORE_PARAM_LOGIN_PASS], 3600);
    T_EQ_INT(l.params.v[CORE_PARAM_MAX_PARALLEL], 5);
    T_EQ_INT(l.params.v[CORE_PARAM_PASS_RETURN], 2419200);
    T_EQ_INT(l.params.v[CORE_PARAM_SESSION_LINGER], 300);
    T_EQ_INT(l.params.v[CORE_PARAM_QUARANTINE], 604800);
    T_EQ_INT(l.params.v[CORE_PARAM_DEFINITION_REFRESH], 86400);
    T_EQ_INT(CORE_PARAM_COUNT, 8);
    /* Object form, overage -1, tokens, conversionDate, parameters. */
    json_t *o = variant("allotments", "{\"analyzer\":{\"units\":3,\"overage\":-1},"
                                      "\"analyzer_time\":{\"units\":600}}");
    json_object_set_new(o, "tokens", json_integer(50));
    json_object_set_new(o, "conversionDate", json_string("2025-06-01T00:00:00.5+00:00"));
    json_object_set_new(o, "parameters", json_pack("{s:i, s:i}", "offlineGraceSeconds", 10,
                                                   "passReturnSeconds", 0));
    char why[256] = "";
    T_EQ_INT(lic_parse(o, &l, why, sizeof why), LIC_OK);
    T_EQ_INT(l.allotments[LIC_ANALYZER].overage, -1);
    T_EQ_INT(l.allotments[LIC_ANALYZER_TIME].units, 600);
    T_CHECK(!l.allotments[LIC_PROFESSIONAL].present);
    T_CHECK(l.has_tokens && l.tokens == 50);
    T_CHECK(l.has_conversion_date && l.conversion_date == 1748736000);
    T_EQ_INT(l.params.v[CORE_PARAM_OFFLINE_GRACE], 10);
    T_EQ_INT(l.params.v[CORE_PARAM_PASS_RETURN], 0);
    T_EQ_INT(l.params.v[CORE_PARAM_QUARANTINE], 604800);
    /* lic_to_json gives the same license back. */
    json_t *j = lic_to_json(&l);
    struct lic_license l2;
    T_EQ_INT(lic_parse(j, &l2, why, sizeof why), LIC_OK);
    T_CHECK(memcmp(&l, &l2, sizeof l) == 0);
    T_EQ_STR(json_string_value(json_object_get(j, "conversionDate")), "2025-06-01T00:00:00Z");
    T_EQ_INT(json_array_size(json_object_get(j, "allotments")), 2);
    T_EQ_INT(json_object_size(json_object_get(j, "parameters")), 8);
    json_decref(j);
    json_decref(o);
}

static void test_parse_refusals(void)
{
    struct lic_license l;
    struct { const char *key, *value; } bad[] = {
        {"parameters", "{\"offlineGraceSecs\":10}"},           /* unknown parameter */
        {"parameters", "{\"capacityUnitSeconds\":0}"},         /* out of range */
        {"parameters", "{\"maxParallelSessions\":\"5\"}"},     /* not an integer */
        {"parameters", "{\"loginPassSeconds\":1.5}"},
        {"parameters", "[]"},
        {"allotments", "[{\"name\":\"enterprise\",\"units\":1}]"},  /* bad name */
        {"allotments", "{\"Professional\":{\"units\":1}}"},
        {"allotments", "[{\"name\":\"analyzer\",\"units\":1},{\"name\":\"analyzer\",\"units\":2}]"},
        {"allotments", "[{\"name\":\"analyzer\",\"units\":-1}]"},
        {"allotments", "[{\"name\":\"analyzer\",\"units\":1,\"overage\":-2}]"},
        {"allotments", "[{\"name\":\"analyzer\",\"units\":1,\"extra\":0}]"},
        {"allotments", "[{\"name\":\"analyzer\"}]"},
        {"allotments", "[\"analyzer\"]"},
        {"allotments", "7"},
        {"allotments", NULL},
        {"licenseNumber", "\"12a4\""},
        {"licenseNumber", "\"\""},
        {"licenseNumber", "\"123456789012345678901234567890123\""},  /* 33 digits */
        {"licenseNumber", "1234"},
        {"organization", "\"\""},
        {"organization", "\"A\\nB\""},
        {"product", NULL},
        {"validFrom", "\"2024-01-01\""},
        {"validTo", "\"2023-12-31T23:59:59Z\""},                  /* before validFrom */
        {"validTo", "\"2024-01-01T00:00:00Z\""},                  /* equal */
        {"iat", NULL},
        {"iat", "-1"},
        {"iat", "\"1704067200\""},
        {"tokens", "-1"},
        {"tokens", "true"},
        {"conversionDate", "\"soon\""},
        {"exp", "1"},                                             /* unknown field */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        enum lic_result r = parse_variant(bad[i].key, bad[i].value, &l);
        /* refused, and the reason names the field */
        if (r != LIC_BAD_PAYLOAD || strstr(last_why, bad[i].key) == NULL) {
            printf("#   %s = %s: %s\n", bad[i].key, bad[i].value ? bad[i].value : "-",
                   r == LIC_OK ? "accepted" : last_why);
            T_CHECK(!"refused with a reason naming the field");
        }
    }
    char why[256];
    T_EQ_INT(lic_parse(NULL, &l, why, sizeof why), LIC_BAD_PAYLOAD);
    T_EQ_INT(parse_variant("allotments", "[]", &l), LIC_OK); /* tokens-only license */
    T_EQ_INT(parse_variant("licenseNumber", "\"12345678901234567890123456789012\"", &l), LIC_OK);
    /* The reason names the field. */
    json_t *o = variant("parameters", "{\"fooSeconds\":1}");
    T_EQ_INT(lic_parse(o, &l, why, sizeof why), LIC_BAD_PAYLOAD);
    T_CHECK(strstr(why, "parameters.fooSeconds") != NULL);
    json_decref(o);
    struct lic_params pp;
    lic_params_default(&pp);
    T_EQ_INT(lic_params_set(&pp, "nope", 1, why, sizeof why), -1);
    T_EQ_INT(lic_params_set(&pp, "maxParallelSessions", 2, why, sizeof why), 0);
    T_EQ_INT(pp.v[CORE_PARAM_MAX_PARALLEL], 2);
    T_EQ_INT(lic_allotment_find("analyzer_time"), LIC_ANALYZER_TIME);
    T_EQ_INT(lic_allotment_find("user"), -1);
}

static void test_validity(void)
{
    struct lic_license l;
    T_REQUIRE(parse_variant("tokens", NULL, &l) == LIC_OK);
    char why[256];
    T_EQ_INT(lic_check_validity(&l, l.valid_from - 1, why, sizeof why), LIC_NOT_YET_VALID);
    T_CHECK(strstr(why, "not valid before 2024-01-01T00:00:00Z") != NULL);
    T_EQ_INT(lic_check_validity(&l, l.valid_from, why, sizeof why), LIC_OK);
    T_EQ_INT(lic_check_validity(&l, NOW, why, sizeof why), LIC_OK);
    T_EQ_INT(lic_check_validity(&l, l.valid_to, why, sizeof why), LIC_OK);
    T_EQ_INT(lic_check_validity(&l, l.valid_to + 1, why, sizeof why), LIC_EXPIRED);
    T_CHECK(strstr(why, "expired") != NULL);

    /* Through lic_verify_key: out filled, payload only on LIC_OK. */
    char *key = NULL;
    T_REQUIRE(lic_issue(k1, &l, &key, why, sizeof why) == 0);
    struct lic_license got;
    json_t *pl = NULL;
    T_EQ_INT(lic_verify_key(key, k1, l.valid_to + 1, &got, &pl, why, sizeof why), LIC_EXPIRED);
    T_CHECK(pl == NULL);
    T_EQ_STR(got.license_number, "9999000011112222");
    T_EQ_INT(lic_verify_key(key, k1, 0, &got, &pl, why, sizeof why), LIC_NOT_YET_VALID);
    T_EQ_INT(lic_verify_key(key, k1, NOW, &got, &pl, why, sizeof why), LIC_OK);
    T_CHECK(pl != NULL && json_is_object(json_object_get(pl, "parameters")));
    T_CHECK(memcmp(&got, &l, sizeof l) == 0);
    json_decref(pl);
    T_EQ_INT(lic_verify_key(key, k2, NOW, &got, &pl, why, sizeof why), LIC_BAD_SIGNATURE);
    T_EQ_STR(lic_result_name(LIC_EXPIRED), "expired");
    /* The header of a license key. */
    size_t n = 0;
    unsigned char *h = core_b64url_decode(key, (size_t)(strchr(key, '.') - key), &n);
    /* The header of a license key names its signer by kid (RFC 7638). */
    char kid[LIC_KID_LEN + 1], want[200];
    T_REQUIRE(lic_key_kid(k1, kid) == 0);
    snprintf(want, sizeof want, "{\"alg\":\"EdDSA\",\"typ\":\"allot-license+jwt\",\"kid\":\"%s\"}",
             kid);
    T_EQ_STR((char *)h, want);
    free(h);
    free(key);
    /* An invalid license is never signed. */
    l.valid_to = l.valid_from;
    T_EQ_INT(lic_issue(k1, &l, &key, why, sizeof why), -1);
    T_CHECK(key == NULL);
}

static void test_time(void)
{
    int64_t t = -1;
    struct { const char *s; int64_t want; } ok[] = {
        {"1970-01-01T00:00:00Z", 0},
        {"2025-01-01T00:00:00Z", NOW},
        {"2025-01-01t00:00:00z", NOW},
        {"2025-01-01T00:00:00+00:00", NOW},
        {"2025-01-01T00:00:00-00:00", NOW},
        {"2025-01-01T02:00:00+02:00", NOW},
        {"2024-12-31T19:30:00-04:30", NOW},
        {"2025-01-01T00:00:00.999999999Z", NOW},
        {"2025-01-01T00:00:00.5+00:00", NOW},
        {"2024-02-29T00:00:00Z", 1709164800},
        {"2000-02-29T00:00:00Z", 951782400},
        {"1969-12-31T23:59:59Z", -1},
        {"9999-12-31T23:59:59Z", 253402300799LL},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        t = 12345;
        if (!core_time_parse(ok[i].s, &t) || t != ok[i].want) {
            printf("#   %s -> %lld\n", ok[i].s, (long long)t);
            T_CHECK(!"parsed");
        }
    }
    const char *bad[] = {
        "", "2025-01-01", "2025-01-01T00:00:00", "2025-01-01 00:00:00Z",
        "2023-02-29T00:00:00Z", "1900-02-29T00:00:00Z", "2025-04-31T00:00:00Z",
        "2025-13-01T00:00:00Z", "2025-00-01T00:00:00Z", "2025-01-00T00:00:00Z",
        "2025-01-01T24:00:00Z", "2025-01-01T00:60:00Z", "2025-12-31T23:59:60Z",
        "2025-01-01T00:00:00.Z", "2025-01-01T00:00:00.1234567890Z", "2025-1-01T00:00:00Z",
        "2025-01-01T00:00:00Zjunk", "2025-01-01T00:00:00+0000", "2025-01-01T00:00:00+24:00",
        "2025-01-01T00:00:00+01:60", "+2025-01-01T00:00:00Z", " 2025-01-01T00:00:00Z",
        "2025-01-01T00:00:00UTC", "2025-01-01T00:00:00,5Z",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        t = 777;
        if (core_time_parse(bad[i], &t) || t != 777) {
            printf("#   accepted \"%s\"\n", bad[i]);
            T_CHECK(!"refused");
        }
    }
    T_CHECK(!core_time_parse(NULL, &t));
    char buf[CORE_TIME_BUFSZ];
    T_CHECK(core_time_format(0, buf, sizeof buf));
    T_EQ_STR(buf, "1970-01-01T00:00:00Z");
    T_CHECK(core_time_format(-1, buf, sizeof buf));
    T_EQ_STR(buf, "1969-12-31T23:59:59Z");
    T_CHECK(core_time_format(1709164800 + 86399, buf, sizeof buf));
    T_EQ_STR(buf, "2024-02-29T23:59:59Z");
    T_CHECK(core_time_format(253402300799LL, buf, sizeof buf));
    T_EQ_STR(buf, "9999-12-31T23:59:59Z");
    T_CHECK(!core_time_format(253402300800LL, buf, sizeof buf));
    T_CHECK(!core_time_format(0, buf, 20));
    /* Every day of a few centuries round-trips. */
    for (int64_t d = -719162; d <= 2932896; d += 7) { /* 0001-01-01 .. 9999-12-31 */
        int64_t back = 0;
        T_REQUIRE(core_time_format(d * 86400 + 3723, buf, sizeof buf));
        T_REQUIRE(core_time_parse(buf, &back) && back == d * 86400 + 3723);
    }
}

static char *tmpdir_path(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    snprintf(p, n, "%s/%s", dir, name);
    return p;
}

static void test_pem_files(void)
{
    char dir[] = "/tmp/allot-test-license-XXXXXX";
    T_REQUIRE(mkdtemp(dir) != NULL);
    char *kp = tmpdir_path(dir, "authority.key"), *pp = tmpdir_path(dir, "authority.pub");
    char why[512] = "";
    struct stat st;
    T_CHECK(lic_key_write_private(k1, kp, false, why, sizeof why) == 0);
    T_CHECK(lic_key_write_public(k1, pp, false, why, sizeof why) == 0);
    T_CHECK(stat(kp, &st) == 0 && (st.st_mode & 0777) == 0600);
    T_CHECK(stat(pp, &st) == 0 && (st.st_mode & 0777) == 0644);
    /* No overwrite unless asked. */
    T_EQ_INT(lic_key_write_private(k2, kp, false, why, sizeof why), -1);
    T_CHECK(strstr(why, "already exists") != NULL);
    EVP_PKEY *priv = lic_key_load_private_file(kp, why, sizeof why);
    EVP_PKEY *pub = lic_key_load_public_file(pp, why, sizeof why);
    T_REQUIRE(priv != NULL && pub != NULL);
    T_CHECK(EVP_PKEY_eq(priv, k1) == 1 && EVP_PKEY_eq(pub, k1) == 1);
    json_t *p = json_pack("{s:b}", "x", 1);
    char *jws = NULL;
    T_REQUIRE(lic_jws_sign(priv, p, &jws) == 0);
    T_EQ_INT(lic_jws_verify(jws, pub, NULL, why, sizeof why), LIC_OK);
    free(jws);
    T_CHECK(lic_key_write_private(k2, kp, true, why, sizeof why) == 0);
    T_CHECK(stat(kp, &st) == 0 && (st.st_mode & 0777) == 0600);
    EVP_PKEY *again = lic_key_load_private_file(kp, why, sizeof why);
    T_CHECK(again != NULL && EVP_PKEY_eq(again, k2) == 1);
    EVP_PKEY_free(again);
    /* Wrong kinds of file. */
    T_CHECK(lic_key_load_private_file(pp, why, sizeof why) == NULL);
    T_CHECK(lic_key_load_public_file(kp, why, sizeof why) == NULL);
    char *missing = tmpdir_path(dir, "missing.pem");
    T_CHECK(lic_key_load_public_file(missing, why, sizeof why) == NULL);
    T_CHECK(strstr(why, "missing.pem") != NULL);
    free(missing);
    /* From PEM text; a P-256 key is not accepted. */
    char *pem = lic_key_public_pem(k1);
    T_REQUIRE(pem != NULL && strstr(pem, "-----BEGIN PUBLIC KEY-----") == pem);
    EVP_PKEY *frompem = lic_key_load_public_pem(pem, 0, why, sizeof why);
    T_CHECK(frompem != NULL && EVP_PKEY_eq(frompem, k1) == 1);
    EVP_PKEY_free(frompem);
    free(pem);
    EVP_PKEY *ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    pem = lic_key_public_pem(ec);
    T_CHECK(lic_key_load_public_pem(pem, strlen(pem), why, sizeof why) == NULL);
    T_CHECK(strstr(why, "not an Ed25519 key") != NULL);
    T_EQ_INT(lic_jws_verify("a.b.c", ec, NULL, why, sizeof why), LIC_BAD_SIGNATURE);
    free(pem);
    EVP_PKEY_free(ec);
    T_CHECK(lic_key_load_public_pem("garbage", 0, why, sizeof why) == NULL);
    json_decref(p);
    EVP_PKEY_free(priv);
    EVP_PKEY_free(pub);
    unlink(kp);
    unlink(pp);
    T_CHECK(rmdir(dir) == 0);
    free(kp);
    free(pp);
}

/* Made by hand with the real program:
 *   allot-authority keygen --out DIR
 *   allot-authority issue --key DIR/authority.key --license-number 1234567890
 *     --organization 'ACME Corp' --product 'Analytics Hub' --valid-from
 *     2025-01-01T00:00:00Z --valid-to 2026-01-01T00:00:00Z --professional 10
 *     --analyzer 20 --analyzer-time-minutes 6000 --overage analyzer=-1 --tokens 30
 *     --param offlineGraceSeconds=60 --iat 1735689600 */
static const char *golden_pub =
    "-----BEGIN PUBLIC KEY-----\n"
    "MCowBQYDK2VwAyEAR5sxf+RQjdKpIcbJXMt6SesmCP8jYfIBh+qnkKUs/lM=\n"
    "-----END PUBLIC KEY-----\n";
static const char *golden_key =
    "eyJhbGciOiJFZERTQSIsInR5cCI6ImFsbG90LWxpY2Vuc2Urand0In0.eyJsaWNlbnNlTnVtYmVyIjoiMTIz"
    "NDU2Nzg5MCIsIm9yZ2FuaXphdGlvbiI6IkFDTUUgQ29ycCIsInByb2R1Y3QiOiJBbmFseXRpY3MgSHViIiwi"
    "dmFsaWRGcm9tIjoiMjAyNS0wMS0wMVQwMDowMDowMFoiLCJ2YWxpZFRvIjoiMjAyNi0wMS0wMVQwMDowMDow"
    "MFoiLCJpYXQiOjE3MzU2ODk2MDAsImFsbG90bWVudHMiOlt7Im5hbWUiOiJwcm9mZXNzaW9uYWwiLCJ1bml0"
    "cyI6MTAsIm92ZXJhZ2UiOjB9LHsibmFtZSI6ImFuYWx5emVyIiwidW5pdHMiOjIwLCJvdmVyYWdlIjotMX0s"
    "eyJuYW1lIjoiYW5hbHl6ZXJfdGltZSIsInVuaXRzIjo2MDAwLCJvdmVyYWdlIjowfV0sInRva2VucyI6MzAs"
    "InBhcmFtZXRlcnMiOnsib2ZmbGluZUdyYWNlU2Vjb25kcyI6NjAsImNhcGFjaXR5VW5pdFNlY29uZHMiOjM2"
    "MCwibG9naW5QYXNzU2Vjb25kcyI6MzYwMCwibWF4UGFyYWxsZWxTZXNzaW9ucyI6NSwicGFzc1JldHVyblNl"
    "Y29uZHMiOjI0MTkyMDAsInNlc3Npb25MaW5nZXJTZWNvbmRzIjozMDAsInF1YXJhbnRpbmVTZWNvbmRzIjo2"
    "MDQ4MDAsImRlZmluaXRpb25SZWZyZXNoU2Vjb25kcyI6ODY0MDB9fQ.i9rmPPD09q6VZSDYYmanP6iEdEpJe"
    "hcnKGv7ZJPfv0FnhCJGDP9eOB6576HIiPR9jz1iAnjbI-n8fez_JYi3Aw";

static void test_authority_golden(void)
{
    char why[256] = "";
    EVP_PKEY *pub = lic_key_load_public_pem(golden_pub, 0, why, sizeof why);
    T_REQUIRE(pub != NULL);
    struct lic_license l;
    T_EQ_INT(lic_verify_key(golden_key, pub, NOW + 86400, &l, NULL, why, sizeof why), LIC_OK);
    T_EQ_STR(l.license_number, "1234567890");
    T_EQ_STR(l.organization, "ACME Corp");
    T_EQ_STR(l.product, "Analytics Hub");
    T_EQ_INT(l.valid_from, NOW);
    T_EQ_INT(l.iat, NOW);
    T_EQ_INT(l.allotments[LIC_PROFESSIONAL].units, 10);
    T_EQ_INT(l.allotments[LIC_ANALYZER].overage, -1);
    T_EQ_INT(l.allotments[LIC_ANALYZER_TIME].units, 6000);
    T_EQ_INT(l.tokens, 30);
    T_EQ_INT(l.params.v[CORE_PARAM_OFFLINE_GRACE], 60);
    T_EQ_INT(l.params.v[CORE_PARAM_MAX_PARALLEL], 5);
    T_EQ_INT(lic_verify_key(golden_key, pub, NOW + 400 * 86400, &l, NULL, why, sizeof why),
             LIC_EXPIRED);
    T_EQ_INT(lic_verify_key(golden_key, k1, NOW, &l, NULL, why, sizeof why), LIC_BAD_SIGNATURE);
    EVP_PKEY_free(pub);
}

/* The built allot-authority beside this test (BUILD/tests/unit/test_license ->
 * BUILD/allot-authority), run for real; skipped when it is not there. */
static int run(const char *cmd, char *out, size_t outsize)
{
    FILE *f = popen(cmd, "r");
    if (f == NULL)
        return -1;
    size_t n = fread(out, 1, outsize - 1, f);
    out[n] = '\0';
    int st = pclose(f);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void test_authority_program(void)
{
    char exe[4096], prog[4200], cmd[8600], out[8192], why[256];
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
    char dir[] = "/tmp/allot-test-authority-XXXXXX";
    T_REQUIRE(mkdtemp(dir) != NULL);
    snprintf(cmd, sizeof cmd, "'%s' keygen --out %s 2>&1", prog, dir);
    T_EQ_INT(run(cmd, out, sizeof out), 0);
    T_EQ_INT(run(cmd, out, sizeof out), 1); /* refuses to overwrite */
    T_CHECK(strstr(out, "already exists") != NULL);
    snprintf(cmd, sizeof cmd, "'%s' issue --key %s/authority.key --license-number 42 "
             "--organization 'Org' --product 'Hub' --analyzer 3 --overage professional=-1 "
             "--param maxParallelSessions=2 --iat 1000", prog, dir);
    T_EQ_INT(run(cmd, out, sizeof out), 0);
    T_REQUIRE(strlen(out) > 1 && out[strlen(out) - 1] == '\n');
    out[strlen(out) - 1] = '\0';
    snprintf(cmd, sizeof cmd, "%s/authority.pub", dir);
    EVP_PKEY *pub = lic_key_load_public_file(cmd, why, sizeof why);
    T_REQUIRE(pub != NULL);
    struct lic_license l;
    T_EQ_INT(lic_verify_key(out, pub, time(NULL), &l, NULL, why, sizeof why), LIC_OK);
    T_EQ_STR(l.license_number, "42");
    T_EQ_INT(l.iat, 1000);
    T_EQ_INT(l.valid_to - l.valid_from, 365 * 86400);
    T_EQ_INT(l.allotments[LIC_ANALYZER].units, 3);
    T_CHECK(l.allotments[LIC_PROFESSIONAL].present && l.allotments[LIC_PROFESSIONAL].overage == -1);
    T_EQ_INT(l.params.v[CORE_PARAM_MAX_PARALLEL], 2);
    EVP_PKEY_free(pub);
    const char *usage[] = {"--param nope=1", "--professional 1.5", "--overage user=1",
                           "--valid-to 2020-01-01T00:00:00Z", "--tokens ''", "extra"};
    for (size_t i = 0; i < sizeof usage / sizeof usage[0]; i++) {
        snprintf(cmd, sizeof cmd, "'%s' issue --key %s/authority.key --license-number 1 "
                 "--organization O --product P %s 2>&1", prog, dir, usage[i]);
        T_EQ_INT(run(cmd, out, sizeof out), 2);
        T_CHECK(strchr(out, '\n') == out + strlen(out) - 1); /* one line */
    }
    snprintf(cmd, sizeof cmd, "'%s' serve 2>&1", prog);
    T_EQ_INT(run(cmd, out, sizeof out), 2);
    T_CHECK(strstr(out, "--key") != NULL); /* names what is missing */
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    T_EQ_INT(system(cmd), 0);
}

int main(void)
{
    k1 = lic_key_generate();
    k2 = lic_key_generate();
    if (k1 == NULL || k2 == NULL) {
        printf("Bail out! cannot generate Ed25519 keys\n");
        return 1;
    }
    T_RUN(test_b64url);
    T_RUN(test_roundtrip);
    T_RUN(test_other_key_refused);
    T_RUN(test_altered_refused);
    T_RUN(test_truncated_refused);
    T_RUN(test_wrong_alg_refused);
    T_RUN(test_payload_shape);
    T_RUN(test_typ_confusion);
    T_RUN(test_parse_defaults);
    T_RUN(test_parse_refusals);
    T_RUN(test_validity);
    T_RUN(test_time);
    T_RUN(test_pem_files);
    T_RUN(test_authority_golden);
    T_RUN(test_authority_program);
    EVP_PKEY_free(k1);
    EVP_PKEY_free(k2);
    return t_done();
}

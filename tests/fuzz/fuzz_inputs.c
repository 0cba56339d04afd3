/* Fuzzing of everything allot parses from the outside: license keys and sync
 * replies (JWS), the sync request body, JSON bodies against field specs,
 * routes, list cursors, RFC 3339 times and durations.
 *
 * Built two ways from this one file:
 *   - with clang and -fsanitize=fuzzer (define ALLOT_LIBFUZZER): a libFuzzer
 *     target, LLVMFuzzerTestOneInput, for long runs by hand;
 *   - otherwise (what ./scripts/test runs, also under ASan/UBSan): a bounded,
 *     deterministic driver that mutates a set of valid seeds a fixed number of
 *     times and feeds each input to every parser.  It passes when nothing
 *     crashes, leaks or trips a sanitizer, and prints TAP. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "allot/api.h"
#include "allot/http.h"
#include "allot/json_spec.h"
#include "allot/license.h"
#include "allot/core.h"
#include "allot/sync_protocol.h"

static EVP_PKEY *key;

static void feed(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (text == NULL)
        return;
    memcpy(text, data, size);
    text[size] = '\0';

    struct lic_license lic;
    char why[256];
    json_t *payload = NULL;
    lic_verify_key(text, key, 1800000000, &lic, &payload, why, sizeof why);
    json_decref(payload);
    struct sync_reply reply = {0};
    if (sync_reply_verify(text, key, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "1", &reply, why,
                          sizeof why) == LIC_OK)
        sync_reply_free(&reply);
    if (definition_doc_verify(text, key, &reply, why, sizeof why) == LIC_OK)
        sync_reply_free(&reply);

    json_error_t err;
    json_t *body = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &err);
    if (body != NULL) {
        static const struct jspec spec[] = {
            {"name", JS_STRING, true, 1, 255, 0},
            {"groups", JS_STRING_ARRAY, false, 1, 255, 100},
            {"tokens", JS_INT, false, 0, 1000, 0},
            {"on", JS_BOOL, false, 0, 0, 0},
            {"match", JS_OBJECT, false, 0, 0, 0},
        };
        json_t *out[5];
        const char *field;
        jspec_check(body, spec, 5, out, &field);
        struct sync_request req;
        sync_request_parse(body, &req, why, sizeof why);
        struct lic_license parsed;
        lic_parse(body, &parsed, why, sizeof why);
        json_decref(body);
    }

    const struct http_route *found;
    char buf[512], allow[96];
    const char *params[HTTP_MAX_PARAMS];
    size_t nparams;
    http_route_match(http_routes, http_routes_count, "GET", text, &found, buf, sizeof buf, params,
                     &nparams, allow, sizeof allow);
    static const unsigned char cursor_key[32] = {1, 2, 3};
    int64_t ts;
    char uuid[37];
    api_cursor_decode(cursor_key, text, &ts, uuid);
    int64_t t;
    core_time_parse(text, &t);
    core_duration_parse(text, &t);
    jspec_text_ok(text, 0, 255);
    free(text);
}

#ifdef ALLOT_LIBFUZZER
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (key == NULL)
        key = lic_key_generate();
    feed(data, size);
    return 0;
}
#else

static uint64_t rng = 0x2545F4914F6CDD1Dull;

static uint32_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 11);
}

/* One mutation: flip, insert, delete, duplicate a run, or splice a token. */
static size_t mutate(uint8_t *d, size_t n, size_t cap)
{
    static const char *const tokens[] = {".", "\"", "{", "}", "[", "]", ",", ":", "\\u0000",
                                         "\xff", "%", "/", "{id}", "-", "=", "9999999999999999999",
                                         "\"alg\":\"none\"", "null"};
    size_t pos = n ? next() % n : 0;
    switch (next() % 5) {
    case 0:
        if (n)
            d[pos] ^= (uint8_t)(1u << (next() % 8));
        return n;
    case 1:
        if (n < cap) {
            memmove(d + pos + 1, d + pos, n - pos);
            d[pos] = (uint8_t)next();
            return n + 1;
        }
        return n;
    case 2:
        if (n) {
            memmove(d + pos, d + pos + 1, n - pos - 1);
            return n - 1;
        }
        return n;
    case 3: {
        size_t len = n - pos < 16 ? n - pos : 16;
        if (n + len <= cap) {
            memmove(d + pos + len, d + pos, n - pos);
            return n + len;
        }
        return n;
    }
    default: {
        const char *t = tokens[next() % (sizeof tokens / sizeof tokens[0])];
        size_t len = strlen(t);
        if (n + len <= cap) {
            memmove(d + pos + len, d + pos, n - pos);
            memcpy(d + pos, t, len);
            return n + len;
        }
        return n;
    }
    }
}

int main(int argc, char **argv)
{
    long rounds = argc > 1 ? strtol(argv[1], NULL, 10) : 3000;
    key = lic_key_generate();
    struct lic_license lic;
    lic_license_init(&lic);
    snprintf(lic.license_number, sizeof lic.license_number, "1");
    snprintf(lic.organization, sizeof lic.organization, "Fuzz");
    snprintf(lic.product, sizeof lic.product, "Fuzz");
    lic.valid_from = 1700000000;
    lic.valid_to = 1900000000;
    lic.iat = 1700000000;
    lic.allotments[LIC_PROFESSIONAL].present = true;
    lic.allotments[LIC_PROFESSIONAL].units = 5;
    char *good_key = NULL, why[256];
    lic_issue(key, &lic, &good_key, why, sizeof why);
    struct sync_reply reply = {.verified_at = 1800000000, .definition = good_key};
    snprintf(reply.license_number, sizeof reply.license_number, "1");
    memset(reply.nonce, 'A', SYNC_NONCE_LEN);
    char *good_reply = NULL;
    sync_reply_sign(key, &reply, &good_reply);
    const char *seeds[] = {
        good_key ? good_key : "",
        good_reply ? good_reply : "",
        "{\"name\":\"x\",\"groups\":[\"a\",\"b\"],\"tokens\":3,\"on\":true,\"match\":{}}",
        "{\"nonce\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\",\"licenseNumber\":\"1\","
        "\"site\":\"s\",\"assignments\":{\"professional\":1,\"analyzer\":0,\"userPasses\":0,"
        "\"loginTokens\":0,\"capacityMinutesThisMonth\":0,\"quarantined\":0},"
        "\"definitionIssuedAt\":1}",
        "/allocations/rules/0d9e4c2a-6f0b-4d5e-9a2b-1c3d4e5f6a7b",
        "/sessions/events",
        "2026-11-26T00:17:41.248489+01:00",
        "90s",
        "AAZhIumQh8kae3bbKKVMfrb7-i7bOBYsHRAavcezGEo",
    };
    size_t nseeds = sizeof seeds / sizeof seeds[0];
    uint8_t *data = malloc(8192);
    for (size_t s = 0; s < nseeds; s++) {
        size_t n = strlen(seeds[s]) < 4096 ? strlen(seeds[s]) : 4096;
        memcpy(data, seeds[s], n);
        feed(data, n); /* the seed itself */
        for (long i = 0; i < rounds; i++) {
            size_t m = n;
            memcpy(data, seeds[s], n);
            for (uint32_t k = 1 + next() % 4; k > 0; k--)
                m = mutate(data, m, 8192);
            feed(data, m);
        }
        printf("ok %zu - %ld mutations of seed %zu\n", s + 1, rounds, s + 1);
    }
    printf("1..%zu\n", nseeds);
    free(data);
    free(good_key);
    free(good_reply);
    EVP_PKEY_free(key);
    return 0;
}
#endif

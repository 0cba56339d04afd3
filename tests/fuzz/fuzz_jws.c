/* Fuzz target: the compact JWS parser and the license key (src/license/jws.c,
 * payload.c, key.c).  Three views of each input:
 *   - as a compact JWS: verified as it is (nearly always refused: the point is
 *     that refusing never misbehaves);
 *   - as "header.payload" (the part before a second '.'): signed with the
 *     run's key and then verified, so the header and payload checks behind the
 *     signature are reached;
 *   - as a license payload (JSON): signed as a license key, then verified and
 *     parsed; an accepted license must survive lic_to_json and parse again. */
#include "fuzz.h"

#include <jansson.h>
#include <openssl/evp.h>

#include "license/internal.h"

static void as_compact(const char *text)
{
    struct lic_license lic;
    json_t *payload = NULL;
    char why[256];
    lic_verify_key(text, fuzz_key(), 1800000000, &lic, &payload, why, sizeof why);
    json_decref(payload);
    /* Nothing the run's key did not sign verifies (it signed nothing of this). */
    FUZZ_ASSERT(lic_jws_verify(text, fuzz_key(), NULL, why, sizeof why) != LIC_OK);
}

/* Signs the bytes "h.p" with the run's key and verifies "h.p.sig". */
static void as_signing_input(const char *text)
{
    const char *dot = strchr(text, '.');
    if (dot == NULL)
        return;
    const char *dot2 = strchr(dot + 1, '.');
    size_t len = dot2 != NULL ? (size_t)(dot2 - text) : strlen(text);
    unsigned char sig[64];
    size_t siglen = sizeof sig;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    bool ok = ctx != NULL && EVP_DigestSignInit(ctx, NULL, NULL, NULL, fuzz_key()) == 1 &&
              EVP_DigestSign(ctx, sig, &siglen, (const unsigned char *)text, len) == 1;
    EVP_MD_CTX_free(ctx);
    if (!ok)
        return;
    char *b64 = core_b64url_encode(sig, siglen);
    char *compact = b64 != NULL ? malloc(len + strlen(b64) + 2) : NULL;
    if (compact != NULL) {
        memcpy(compact, text, len);
        compact[len] = '.';
        memcpy(compact + len + 1, b64, strlen(b64) + 1);
        json_t *payload = NULL;
        char why[256];
        if (lic_doc_verify(compact, fuzz_key(), LIC_TYP_LICENSE, &payload, why, sizeof why) ==
            LIC_OK)
            FUZZ_ASSERT(json_is_object(payload));
        json_decref(payload);
        struct lic_license lic;
        lic_verify_key(compact, fuzz_key(), 1800000000, &lic, NULL, why, sizeof why);
    }
    free(compact);
    free(b64);
}

static void as_payload(const uint8_t *data, size_t size)
{
    json_error_t err;
    json_t *payload = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &err);
    if (!json_is_object(payload)) {
        json_decref(payload);
        return;
    }
    char *key = NULL, why[256];
    if (lic_doc_sign(fuzz_key(), LIC_TYP_LICENSE, NULL, payload, &key) == 0) {
        struct lic_license lic;
        enum lic_result r = lic_verify_key(key, fuzz_key(), 1800000000, &lic, NULL, why,
                                           sizeof why);
        if (r == LIC_OK || r == LIC_EXPIRED || r == LIC_NOT_YET_VALID) {
            /* What was accepted reads back the same. */
            json_t *again = lic_to_json(&lic);
            struct lic_license lic2;
            FUZZ_ASSERT(again != NULL);
            FUZZ_ASSERT(lic_parse(again, &lic2, why, sizeof why) == LIC_OK);
            FUZZ_ASSERT(strcmp(lic.license_number, lic2.license_number) == 0);
            FUZZ_ASSERT(lic.valid_from == lic2.valid_from && lic.valid_to == lic2.valid_to);
            json_decref(again);
        }
    }
    free(key);
    json_decref(payload);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_text(data, size);
    if (text == NULL)
        return 0;
    as_compact(text);
    as_signing_input(text);
    free(text);
    as_payload(data, size);
    return 0;
}

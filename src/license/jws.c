/* Compact JWS (RFC 7515) with EdDSA/Ed25519 (RFC 8037), strict verification. */
#include "allot/license.h"
#include "internal.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>

#define ED25519_SIG_LEN 64
#define HEADER_MAX 1024

const char *lic_result_name(enum lic_result r)
{
    switch (r) {
    case LIC_OK: return "ok";
    case LIC_MALFORMED: return "malformed";
    case LIC_BAD_SIGNATURE: return "bad_signature";
    case LIC_BAD_ALG: return "bad_alg";
    case LIC_BAD_TYP: return "bad_typ";
    case LIC_BAD_PAYLOAD: return "bad_payload";
    case LIC_NOT_YET_VALID: return "not_yet_valid";
    case LIC_EXPIRED: return "expired";
    case LIC_UNKNOWN_KEY: return "unknown_key";
    }
    return "unknown";
}

/* base64url(JSON text of obj); NULL on failure. */
static char *encode_json(const json_t *obj)
{
    char *text = json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (text == NULL)
        return NULL;
    char *b64 = core_b64url_encode((const unsigned char *)text, strlen(text));
    free(text);
    return b64;
}

int lic_doc_sign(EVP_PKEY *priv, const char *typ, const char *kid,
                 const json_t *payload, char **out)
{
    *out = NULL;
    if (priv == NULL || typ == NULL || !json_is_object(payload) ||
        !EVP_PKEY_is_a(priv, "ED25519"))
        return -1;
    json_t *header = json_pack("{s:s, s:s}", "alg", "EdDSA", "typ", typ);
    if (header == NULL)
        return -1;
    if (kid != NULL && json_object_set_new(header, "kid", json_string(kid)) != 0) {
        json_decref(header);
        return -1;
    }
    char *h64 = encode_json(header);
    json_decref(header);
    char *p64 = encode_json(payload);
    char *signing_input = NULL, *s64 = NULL;
    EVP_MD_CTX *ctx = NULL;
    int rc = -1;
    if (h64 == NULL || p64 == NULL)
        goto out;
    size_t hlen = strlen(h64), plen = strlen(p64);
    if (hlen + plen + 1 + 87 > LIC_JWS_MAX) /* 87 = base64url of 64 bytes + dot */
        goto out;
    signing_input = malloc(hlen + 1 + plen + 1);
    if (signing_input == NULL)
        goto out;
    memcpy(signing_input, h64, hlen);
    signing_input[hlen] = '.';
    memcpy(signing_input + hlen + 1, p64, plen + 1);

    unsigned char sig[ED25519_SIG_LEN];
    size_t siglen = sizeof sig;
    ctx = EVP_MD_CTX_new();
    if (ctx == NULL || EVP_DigestSignInit(ctx, NULL, NULL, NULL, priv) != 1 ||
        EVP_DigestSign(ctx, sig, &siglen, (const unsigned char *)signing_input,
                       hlen + 1 + plen) != 1 ||
        siglen != ED25519_SIG_LEN)
        goto out;
    s64 = core_b64url_encode(sig, siglen);
    if (s64 == NULL)
        goto out;
    size_t slen = strlen(s64);
    char *compact = malloc(hlen + 1 + plen + 1 + slen + 1);
    if (compact == NULL)
        goto out;
    memcpy(compact, signing_input, hlen + 1 + plen);
    compact[hlen + 1 + plen] = '.';
    memcpy(compact + hlen + 1 + plen + 1, s64, slen + 1);
    *out = compact;
    rc = 0;
out:
    ERR_clear_error();
    EVP_MD_CTX_free(ctx);
    free(h64);
    free(p64);
    free(signing_input);
    free(s64);
    return rc;
}

int lic_jws_sign(EVP_PKEY *priv, const json_t *payload, char **out)
{
    return lic_doc_sign(priv, LIC_TYP_JWT, NULL, payload, out);
}

/* Header checks after the structure: members, alg, typ. */
static enum lic_result check_header(const json_t *header, const char *expected_typ,
                                    char *why, size_t whylen)
{
    const char *key;
    json_t *value;
    json_object_foreach((json_t *)header, key, value) {
        if (strcmp(key, "alg") != 0 && strcmp(key, "typ") != 0 && strcmp(key, "kid") != 0) {
            lic_whyf(why, whylen, "malformed: unsupported header member \"%.40s\"", key);
            return LIC_MALFORMED;
        }
        if (!json_is_string(value)) {
            lic_whyf(why, whylen, "malformed: header member \"%s\" is not a string", key);
            return LIC_MALFORMED;
        }
    }
    const char *alg = json_string_value(json_object_get(header, "alg"));
    if (alg == NULL) {
        lic_whyf(why, whylen, "unsupported alg: the header names no alg");
        return LIC_BAD_ALG;
    }
    if (strcmp(alg, "EdDSA") != 0) {
        lic_whyf(why, whylen, "unsupported alg \"%.20s\": only EdDSA is accepted", alg);
        return LIC_BAD_ALG;
    }
    const char *typ = json_string_value(json_object_get(header, "typ"));
    if (typ == NULL || strcmp(typ, expected_typ) != 0) {
        lic_whyf(why, whylen, "wrong document type \"%.40s\": expected \"%s\"",
                 typ != NULL ? typ : "(none)", expected_typ);
        return LIC_BAD_TYP;
    }
    return LIC_OK;
}

static bool verify_sig(EVP_PKEY *pub, const unsigned char *sig, size_t siglen,
                       const char *msg, size_t msglen)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    bool ok = ctx != NULL && EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, pub) == 1 &&
              EVP_DigestVerify(ctx, sig, siglen, (const unsigned char *)msg, msglen) == 1;
    EVP_MD_CTX_free(ctx);
    ERR_clear_error();
    return ok;
}

/* Verifies with `pub`, or with the ring when pub is NULL (see license.h). */
static enum lic_result doc_verify(const char *compact, EVP_PKEY *pub,
                                  const struct lic_keyring *ring, const char *expected_typ,
                                  json_t **payload_out, char *kid_out, char *why, size_t whylen)
{
    if (payload_out != NULL)
        *payload_out = NULL;
    if (kid_out != NULL)
        kid_out[0] = '\0';
    if (expected_typ == NULL || (pub == NULL && ring == NULL) ||
        (pub != NULL && !EVP_PKEY_is_a(pub, "ED25519"))) {
        lic_whyf(why, whylen, "no Ed25519 public key to verify with");
        return LIC_BAD_SIGNATURE;
    }
    if (compact == NULL || compact[0] == '\0') {
        lic_whyf(why, whylen, "malformed: empty");
        return LIC_MALFORMED;
    }
    size_t len = strnlen(compact, LIC_JWS_MAX + 1);
    if (len > LIC_JWS_MAX) {
        lic_whyf(why, whylen, "malformed: longer than %d bytes", LIC_JWS_MAX);
        return LIC_MALFORMED;
    }
    const char *dot1 = memchr(compact, '.', len);
    const char *dot2 = dot1 != NULL ? memchr(dot1 + 1, '.', len - (size_t)(dot1 + 1 - compact))
                                    : NULL;
    if (dot1 == NULL || dot2 == NULL ||
        memchr(dot2 + 1, '.', len - (size_t)(dot2 + 1 - compact)) != NULL) {
        lic_whyf(why, whylen, "malformed: expected three dot-separated parts");
        return LIC_MALFORMED;
    }
    size_t hlen = (size_t)(dot1 - compact), plen = (size_t)(dot2 - dot1 - 1);
    size_t slen = len - (size_t)(dot2 + 1 - compact);
    if (hlen == 0 || plen == 0 || slen == 0) {
        lic_whyf(why, whylen, "malformed: empty %s part",
                 hlen == 0 ? "header" : plen == 0 ? "payload" : "signature");
        return LIC_MALFORMED;
    }

    enum lic_result rc = LIC_MALFORMED;
    unsigned char *hraw = NULL, *praw = NULL, *sig = NULL;
    json_t *header = NULL, *payload = NULL;
    size_t hrawlen = 0, prawlen = 0, siglen = 0;
    hraw = core_b64url_decode(compact, hlen, &hrawlen);
    praw = core_b64url_decode(dot1 + 1, plen, &prawlen);
    sig = core_b64url_decode(dot2 + 1, slen, &siglen);
    if (hraw == NULL || praw == NULL || sig == NULL) {
        lic_whyf(why, whylen, "malformed: the %s is not valid unpadded base64url",
                 hraw == NULL ? "header" : praw == NULL ? "payload" : "signature");
        goto out;
    }
    json_error_t err;
    if (hrawlen > HEADER_MAX ||
        (header = json_loadb((const char *)hraw, hrawlen, JSON_REJECT_DUPLICATES, &err)) ==
            NULL ||
        !json_is_object(header)) {
        lic_whyf(why, whylen, "malformed: the header is not a JSON object");
        goto out;
    }
    rc = check_header(header, expected_typ, why, whylen);
    if (rc != LIC_OK)
        goto out;
    if (siglen != ED25519_SIG_LEN) {
        lic_whyf(why, whylen, "malformed: the signature is %zu bytes, expected %d", siglen,
                 ED25519_SIG_LEN);
        rc = LIC_MALFORMED;
        goto out;
    }
    if (pub != NULL) {
        if (!verify_sig(pub, sig, siglen, compact, hlen + 1 + plen)) {
            lic_whyf(why, whylen, "signature does not verify");
            rc = LIC_BAD_SIGNATURE;
            goto out;
        }
    } else {
        const char *kid = json_string_value(json_object_get(header, "kid"));
        const struct lic_keyring_entry *e = kid != NULL ? lic_keyring_find(ring, kid) : NULL;
        bool verified = false;
        if (kid != NULL && (e == NULL || e->retired || e->pub == NULL)) {
            lic_whyf(why, whylen, "signature does not verify: signed by %s key \"%.43s\"",
                     e != NULL ? "a retired" : "an unknown", kid);
            rc = LIC_UNKNOWN_KEY;
            goto out;
        }
        if (e != NULL) {
            verified = verify_sig(e->pub, sig, siglen, compact, hlen + 1 + plen);
        } else { /* no kid: an authority older than rotation; any trusted key */
            for (size_t i = 0; i < ring->n && !verified; i++)
                if (!ring->e[i].retired && ring->e[i].pub != NULL &&
                    verify_sig(ring->e[i].pub, sig, siglen, compact, hlen + 1 + plen))
                    e = &ring->e[i], verified = true;
        }
        if (!verified) {
            lic_whyf(why, whylen, "signature does not verify");
            rc = LIC_BAD_SIGNATURE;
            goto out;
        }
        if (kid_out != NULL)
            memcpy(kid_out, e->kid, LIC_KID_LEN + 1);
    }
    payload = json_loadb((const char *)praw, prawlen, JSON_REJECT_DUPLICATES, &err);
    if (payload == NULL || !json_is_object(payload)) {
        lic_whyf(why, whylen, "bad payload: not a JSON object%s%.80s",
                 payload == NULL ? ": " : "", payload == NULL ? err.text : "");
        rc = LIC_BAD_PAYLOAD;
        goto out;
    }
    rc = LIC_OK;
    if (payload_out != NULL) {
        *payload_out = payload;
        payload = NULL;
    }
out:
    json_decref(header);
    json_decref(payload);
    free(hraw);
    free(praw);
    free(sig);
    return rc;
}

enum lic_result lic_doc_verify(const char *compact, EVP_PKEY *pub, const char *expected_typ,
                               json_t **payload_out, char *why, size_t whylen)
{
    if (pub == NULL) {
        if (payload_out != NULL)
            *payload_out = NULL;
        lic_whyf(why, whylen, "no Ed25519 public key to verify with");
        return LIC_BAD_SIGNATURE;
    }
    return doc_verify(compact, pub, NULL, expected_typ, payload_out, NULL, why, whylen);
}

enum lic_result lic_doc_verify_ring(const char *compact, const struct lic_keyring *ring,
                                    const char *expected_typ, json_t **payload_out,
                                    char kid_out[LIC_KID_LEN + 1], char *why, size_t whylen)
{
    if (ring == NULL) {
        if (payload_out != NULL)
            *payload_out = NULL;
        lic_whyf(why, whylen, "no Ed25519 public key to verify with");
        return LIC_BAD_SIGNATURE;
    }
    return doc_verify(compact, NULL, ring, expected_typ, payload_out, kid_out, why, whylen);
}

void lic_doc_kid(const char *compact, char out[LIC_KID_LEN + 1])
{
    out[0] = '\0';
    const char *dot = compact != NULL ? strchr(compact, '.') : NULL;
    if (dot == NULL || dot - compact > 2048)
        return;
    size_t len = 0;
    unsigned char *raw = core_b64url_decode(compact, (size_t)(dot - compact), &len);
    json_t *h = raw != NULL ? json_loadb((const char *)raw, len, 0, NULL) : NULL;
    const char *kid = json_string_value(json_object_get(h, "kid"));
    if (kid != NULL && strlen(kid) == LIC_KID_LEN)
        memcpy(out, kid, LIC_KID_LEN + 1);
    json_decref(h);
    free(raw);
}

enum lic_result lic_jws_verify(const char *compact, EVP_PKEY *pub, json_t **payload_out,
                               char *why, size_t whylen)
{
    return lic_doc_verify(compact, pub, LIC_TYP_JWT, payload_out, why, whylen);
}

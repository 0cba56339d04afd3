/* The sync protocol's documents: nonce, request body, signed reply and the
 * air-gapped definition document (see include/allot/sync_protocol.h). */
#include "allot/sync_protocol.h"
#include "internal.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/rand.h>

#define COUNT_MAX 9007199254740992LL   /* 2^53: exact in every JSON reader */
#define TIME_MAX 253402300799LL        /* 9999-12-31T23:59:59Z */

/* ---- nonce ------------------------------------------------------------------ */

int sync_nonce_new(char out[SYNC_NONCE_LEN + 1])
{
    unsigned char raw[SYNC_NONCE_BYTES];
    out[0] = '\0';
    if (RAND_bytes(raw, sizeof raw) != 1) {
        ERR_clear_error();
        return -1;
    }
    char *b64 = core_b64url_encode(raw, sizeof raw);
    OPENSSL_cleanse(raw, sizeof raw);
    if (b64 == NULL || strlen(b64) != SYNC_NONCE_LEN) {
        free(b64);
        return -1;
    }
    memcpy(out, b64, SYNC_NONCE_LEN + 1);
    free(b64);
    return 0;
}

bool sync_nonce_ok(const char *nonce)
{
    if (nonce == NULL || strnlen(nonce, SYNC_NONCE_LEN + 1) != SYNC_NONCE_LEN)
        return false;
    size_t n = 0;
    /* The decoder is strict: alphabet only, unused trailing bits zero. */
    unsigned char *raw = core_b64url_decode(nonce, SYNC_NONCE_LEN, &n);
    bool ok = raw != NULL && n == SYNC_NONCE_BYTES;
    free(raw);
    return ok;
}

/* ---- shared checks ------------------------------------------------------------ */

static bool number_ok(const char *s)
{
    size_t len = s != NULL ? strnlen(s, LIC_NUMBER_MAX + 1) : 0;
    return len >= 1 && len <= LIC_NUMBER_MAX && strspn(s, "0123456789") == len;
}

/* An integer member in [min, max]. */
static bool get_int(const json_t *obj, const char *name, int64_t min, int64_t max,
                    int64_t *out, char *why, size_t whylen)
{
    const json_t *v = json_object_get(obj, name);
    if (v == NULL) {
        lic_whyf(why, whylen, "%s: missing", name);
        return false;
    }
    if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max) {
        lic_whyf(why, whylen, "%s: expected an integer from %lld to %lld", name,
                 (long long)min, (long long)max);
        return false;
    }
    *out = (int64_t)json_integer_value(v);
    return true;
}

/* A string member, copied into dst (dstsize - 1 bytes at most). */
static bool get_text(const json_t *obj, const char *name, char *dst, size_t dstsize,
                     char *why, size_t whylen)
{
    const json_t *v = json_object_get(obj, name);
    if (v == NULL) {
        lic_whyf(why, whylen, "%s: missing", name);
        return false;
    }
    size_t len = json_string_length(v);
    if (!json_is_string(v) || len >= dstsize || memchr(json_string_value(v), '\0', len)) {
        lic_whyf(why, whylen, "%s: expected a string of at most %zu bytes", name,
                 dstsize - 1);
        return false;
    }
    memcpy(dst, json_string_value(v), len + 1);
    return true;
}

/* Every member of obj is one of names[0..n). */
static bool only_members(const json_t *obj, const char *const *names, size_t n,
                         const char *where, char *why, size_t whylen)
{
    const char *key;
    const json_t *value;
    json_object_foreach((json_t *)obj, key, value) {
        bool known = false;
        for (size_t i = 0; i < n && !known; i++)
            known = strcmp(key, names[i]) == 0;
        if (!known) {
            lic_whyf(why, whylen, "%s%.64s: unknown member", where, key);
            return false;
        }
    }
    return true;
}

/* ---- request ------------------------------------------------------------------ */

static const char *const request_members[] = {
    "nonce", "licenseNumber", "site", "assignments", "definitionIssuedAt",
};

static const struct {
    const char *name;
    size_t offset;
} assignment_members[] = {
    {"professional", offsetof(struct sync_assignments, professional)},
    {"analyzer", offsetof(struct sync_assignments, analyzer)},
    {"userPasses", offsetof(struct sync_assignments, user_passes)},
    {"loginTokens", offsetof(struct sync_assignments, login_tokens)},
    {"capacityMinutesThisMonth", offsetof(struct sync_assignments, capacity_minutes_this_month)},
    {"quarantined", offsetof(struct sync_assignments, quarantined)},
};
#define NASSIGN (sizeof assignment_members / sizeof assignment_members[0])

static int64_t *assignment_at(struct sync_assignments *a, size_t i)
{
    return (int64_t *)(void *)((char *)a + assignment_members[i].offset);
}

bool sync_assignments_parse(const json_t *obj, struct sync_assignments *out, char *why,
                            size_t whylen)
{
    if (obj == NULL) {
        lic_whyf(why, whylen, "assignments: missing");
        return false;
    }
    if (!json_is_object(obj)) {
        lic_whyf(why, whylen, "assignments: expected an object");
        return false;
    }
    const char *names[NASSIGN];
    for (size_t i = 0; i < NASSIGN; i++)
        names[i] = assignment_members[i].name;
    if (!only_members(obj, names, NASSIGN, "assignments.", why, whylen))
        return false;
    for (size_t i = 0; i < NASSIGN; i++) {
        char reason[160];
        if (!get_int(obj, names[i], 0, COUNT_MAX, assignment_at(out, i), reason,
                     sizeof reason)) {
            lic_whyf(why, whylen, "assignments.%s", reason);
            return false;
        }
    }
    return true;
}

bool sync_request_parse(const json_t *body, struct sync_request *out, char *why,
                        size_t whylen)
{
    memset(out, 0, sizeof *out);
    if (!json_is_object(body)) {
        lic_whyf(why, whylen, "the body is not a JSON object");
        return false;
    }
    bool ok = only_members(body, request_members,
                           sizeof request_members / sizeof request_members[0], "", why,
                           whylen) &&
              get_text(body, "nonce", out->nonce, sizeof out->nonce, why, whylen) &&
              get_text(body, "licenseNumber", out->license_number, sizeof out->license_number,
                       why, whylen) &&
              get_text(body, "site", out->site, sizeof out->site, why, whylen) &&
              sync_assignments_parse(json_object_get(body, "assignments"), &out->assignments,
                                     why, whylen) &&
              get_int(body, "definitionIssuedAt", 0, TIME_MAX, &out->definition_issued_at,
                      why, whylen);
    if (ok && !sync_nonce_ok(out->nonce)) {
        lic_whyf(why, whylen, "nonce: expected 43 base64url characters (32 random bytes)");
        ok = false;
    }
    if (ok && !number_ok(out->license_number)) {
        lic_whyf(why, whylen, "licenseNumber: expected 1 to %d digits", LIC_NUMBER_MAX);
        ok = false;
    }
    if (!ok)
        memset(out, 0, sizeof *out);
    return ok;
}

json_t *sync_assignments_to_json(const struct sync_assignments *a)
{
    struct sync_assignments copy = *a;
    json_t *obj = json_object();
    for (size_t i = 0; obj != NULL && i < NASSIGN; i++)
        if (json_object_set_new(obj, assignment_members[i].name,
                                json_integer((json_int_t)*assignment_at(&copy, i))) != 0) {
            json_decref(obj);
            obj = NULL;
        }
    return obj;
}

json_t *sync_request_build(const struct sync_request *req)
{
    json_t *as = sync_assignments_to_json(&req->assignments);
    if (as == NULL)
        return NULL;
    json_t *body = json_pack("{s:s, s:s, s:s, s:o, s:I}", "nonce", req->nonce, "licenseNumber",
                             req->license_number, "site", req->site, "assignments", as,
                             "definitionIssuedAt", (json_int_t)req->definition_issued_at);
    struct sync_request check;
    if (body != NULL && !sync_request_parse(body, &check, NULL, 0)) {
        json_decref(body);
        body = NULL;
    }
    return body;
}

/* ---- reply and definition document ------------------------------------------- */

void sync_reply_free(struct sync_reply *r)
{
    if (r == NULL)
        return;
    free(r->definition);
    r->definition = NULL;
}

/* The announced keys and retired kids of a reply, into p. */
static int add_keys(json_t *p, const struct sync_reply *r)
{
    int err = 0;
    if (r->nkeys > 0) {
        json_t *keys = json_array();
        for (size_t i = 0; keys != NULL && i < r->nkeys && i < SYNC_KEYS_MAX; i++)
            err |= json_array_append_new(keys, json_pack("{s:s, s:s, s:s, s:s}", "kty", "OKP",
                                                         "crv", "Ed25519", "kid",
                                                         r->keys[i].kid, "x", r->keys[i].x));
        err |= keys == NULL || json_object_set_new(p, "keys", keys);
    }
    if (r->nretired > 0) {
        json_t *ret = json_array();
        for (size_t i = 0; ret != NULL && i < r->nretired && i < SYNC_KEYS_MAX; i++)
            err |= json_array_append_new(ret, json_string(r->retired[i]));
        err |= ret == NULL || json_object_set_new(p, "retiredKids", ret);
    }
    return err ? -1 : 0;
}

static int sign_doc(EVP_PKEY *priv, const char *typ, const char *nonce, const char *number,
                    const char *definition, int64_t verified_at, bool revoked,
                    const struct sync_reply *keys, char **out)
{
    *out = NULL;
    if (!number_ok(number) || definition == NULL || definition[0] == '\0' ||
        verified_at < 0 || verified_at > TIME_MAX || (nonce != NULL && !sync_nonce_ok(nonce)))
        return -1;
    char kid[LIC_KID_LEN + 1];
    if (lic_key_kid(priv, kid) != 0)
        return -1;
    json_t *p = json_object();
    int err = p == NULL;
    if (!err && nonce != NULL)
        err |= json_object_set_new(p, "nonce", json_string(nonce));
    if (!err) {
        err |= json_object_set_new(p, "licenseNumber", json_string(number));
        err |= json_object_set_new(p, "verifiedAt", json_integer((json_int_t)verified_at));
        err |= json_object_set_new(p, "revoked", json_boolean(revoked));
        err |= json_object_set_new(p, "definition", json_string(definition));
    }
    if (!err && keys != NULL)
        err |= add_keys(p, keys) != 0;
    int rc = err ? -1 : lic_doc_sign(priv, typ, kid, p, out);
    json_decref(p);
    return rc;
}

int sync_reply_sign(EVP_PKEY *priv, const struct sync_reply *r, char **out)
{
    return sign_doc(priv, LIC_TYP_SYNC, r->nonce, r->license_number, r->definition,
                    r->verified_at, r->revoked, r, out);
}

int definition_doc_sign(EVP_PKEY *priv, const char *license_number, const char *license_key,
                        int64_t verified_at, bool revoked, char **out)
{
    return sign_doc(priv, LIC_TYP_DEFINITION, NULL, license_number, license_key, verified_at,
                    revoked, NULL, out);
}

/* The definition member: a license key signed by pub for license `number`. */
static bool definition_ok(const json_t *payload, EVP_PKEY *pub, const struct lic_keyring *ring,
                          const char *number, char *why, size_t whylen)
{
    const char *def = json_string_value(json_object_get(payload, "definition"));
    if (def == NULL || def[0] == '\0') {
        lic_whyf(why, whylen, "bad payload: definition: expected a license key");
        return false;
    }
    char reason[256];
    json_t *lp = NULL;
    struct lic_license lic;
    enum lic_result r =
        pub != NULL ? lic_doc_verify(def, pub, LIC_TYP_LICENSE, &lp, reason, sizeof reason)
                    : lic_doc_verify_ring(def, ring, LIC_TYP_LICENSE, &lp, NULL, reason,
                                          sizeof reason);
    if (r == LIC_OK)
        r = lic_parse(lp, &lic, reason, sizeof reason);
    json_decref(lp);
    if (r != LIC_OK) {
        lic_whyf(why, whylen, "bad payload: definition: %s", reason);
        return false;
    }
    if (strcmp(lic.license_number, number) != 0) {
        lic_whyf(why, whylen, "bad payload: definition: a license key of license %s, "
                 "expected %s", lic.license_number, number);
        return false;
    }
    return true;
}

/* "keys" and "retiredKids" of a verified reply (absent: none). */
static bool keys_ok(const json_t *p, struct sync_reply *out, char *why, size_t whylen)
{
    const json_t *keys = json_object_get(p, "keys"), *ret = json_object_get(p, "retiredKids");
    if ((keys != NULL && (!json_is_array(keys) || json_array_size(keys) > SYNC_KEYS_MAX)) ||
        (ret != NULL && (!json_is_array(ret) || json_array_size(ret) > SYNC_KEYS_MAX))) {
        lic_whyf(why, whylen, "bad payload: keys, retiredKids: expected arrays of at most %d",
                 SYNC_KEYS_MAX);
        return false;
    }
    size_t i;
    const json_t *k;
    json_array_foreach(keys, i, k) {
        const char *kid = json_string_value(json_object_get(k, "kid"));
        const char *x = json_string_value(json_object_get(k, "x"));
        const char *kty = json_string_value(json_object_get(k, "kty"));
        const char *crv = json_string_value(json_object_get(k, "crv"));
        EVP_PKEY *key = x != NULL ? lic_key_from_x(x, NULL, 0) : NULL;
        char actual[LIC_KID_LEN + 1] = "";
        if (key != NULL)
            lic_key_kid(key, actual);
        EVP_PKEY_free(key);
        if (kty == NULL || strcmp(kty, "OKP") != 0 || crv == NULL ||
            strcmp(crv, "Ed25519") != 0 || kid == NULL || strcmp(kid, actual) != 0) {
            lic_whyf(why, whylen, "bad payload: keys[%zu]: not an Ed25519 JWK whose kid is its "
                     "thumbprint", i);
            return false;
        }
        memcpy(out->keys[i].kid, kid, LIC_KID_LEN + 1);
        memcpy(out->keys[i].x, x, LIC_KID_LEN + 1);
        out->nkeys = i + 1;
    }
    json_array_foreach(ret, i, k) {
        const char *kid = json_string_value(k);
        if (kid == NULL || strlen(kid) != LIC_KID_LEN) {
            lic_whyf(why, whylen, "bad payload: retiredKids[%zu]: expected a kid", i);
            return false;
        }
        memcpy(out->retired[i], kid, LIC_KID_LEN + 1);
        out->nretired = i + 1;
    }
    return true;
}

static enum lic_result verify_doc(const char *compact, EVP_PKEY *pub,
                                  const struct lic_keyring *ring, const char *typ,
                                  const char *expected_nonce, const char *expected_number,
                                  struct sync_reply *out, char *why, size_t whylen)
{
    memset(out, 0, sizeof *out);
    json_t *p = NULL;
    char kid[LIC_KID_LEN + 1] = "";
    enum lic_result rc = pub != NULL ? lic_doc_verify(compact, pub, typ, &p, why, whylen)
                                     : lic_doc_verify_ring(compact, ring, typ, &p, kid, why,
                                                           whylen);
    if (rc != LIC_OK)
        return rc;
    rc = LIC_BAD_PAYLOAD;
    char reason[200];
    const json_t *revoked = json_object_get(p, "revoked");
    if (expected_nonce != NULL) {
        if (!get_text(p, "nonce", out->nonce, sizeof out->nonce, reason, sizeof reason)) {
            lic_whyf(why, whylen, "bad payload: %s", reason);
            goto out;
        }
        if (strcmp(out->nonce, expected_nonce) != 0) {
            lic_whyf(why, whylen, "bad payload: the nonce is not the one sent "
                     "(a replayed or misdirected reply)");
            goto out;
        }
    }
    if (!get_text(p, "licenseNumber", out->license_number, sizeof out->license_number, reason,
                  sizeof reason) ||
        !get_int(p, "verifiedAt", 0, TIME_MAX, &out->verified_at, reason, sizeof reason)) {
        lic_whyf(why, whylen, "bad payload: %s", reason);
        goto out;
    }
    if (!number_ok(out->license_number)) {
        lic_whyf(why, whylen, "bad payload: licenseNumber: expected 1 to %d digits",
                 LIC_NUMBER_MAX);
        goto out;
    }
    if (expected_number != NULL && strcmp(out->license_number, expected_number) != 0) {
        lic_whyf(why, whylen, "bad payload: the reply is for license %s, not %s",
                 out->license_number, expected_number);
        goto out;
    }
    if (!json_is_boolean(revoked)) {
        lic_whyf(why, whylen, "bad payload: revoked: expected true or false");
        goto out;
    }
    out->revoked = json_is_true(revoked);
    if (!definition_ok(p, pub, ring, out->license_number, why, whylen) ||
        !keys_ok(p, out, why, whylen))
        goto out;
    memcpy(out->signed_by, kid, sizeof out->signed_by);
    out->definition = strdup(json_string_value(json_object_get(p, "definition")));
    if (out->definition == NULL) {
        lic_whyf(why, whylen, "out of memory");
        goto out;
    }
    rc = LIC_OK;
out:
    json_decref(p);
    if (rc != LIC_OK)
        memset(out, 0, sizeof *out);
    return rc;
}

enum lic_result sync_reply_verify(const char *compact, EVP_PKEY *pub,
                                  const char *expected_nonce, const char *expected_number,
                                  struct sync_reply *out, char *why, size_t whylen)
{
    if (expected_nonce == NULL || expected_number == NULL) {
        memset(out, 0, sizeof *out);
        lic_whyf(why, whylen, "no nonce or license number to check the reply against");
        return LIC_BAD_PAYLOAD;
    }
    if (pub == NULL) {
        memset(out, 0, sizeof *out);
        lic_whyf(why, whylen, "no Ed25519 public key to verify with");
        return LIC_BAD_SIGNATURE;
    }
    return verify_doc(compact, pub, NULL, LIC_TYP_SYNC, expected_nonce, expected_number, out,
                      why, whylen);
}

enum lic_result sync_reply_verify_ring(const char *compact, const struct lic_keyring *ring,
                                       const char *expected_nonce, const char *expected_number,
                                       struct sync_reply *out, char *why, size_t whylen)
{
    if (expected_nonce == NULL || expected_number == NULL || ring == NULL) {
        memset(out, 0, sizeof *out);
        lic_whyf(why, whylen, "no nonce, license number or keys to check the reply against");
        return LIC_BAD_PAYLOAD;
    }
    return verify_doc(compact, NULL, ring, LIC_TYP_SYNC, expected_nonce, expected_number, out,
                      why, whylen);
}

enum lic_result definition_doc_verify(const char *compact, EVP_PKEY *pub,
                                      struct sync_reply *out, char *why, size_t whylen)
{
    if (pub == NULL) {
        memset(out, 0, sizeof *out);
        lic_whyf(why, whylen, "no Ed25519 public key to verify with");
        return LIC_BAD_SIGNATURE;
    }
    return verify_doc(compact, pub, NULL, LIC_TYP_DEFINITION, NULL, NULL, out, why, whylen);
}

enum lic_result definition_doc_verify_ring(const char *compact, const struct lic_keyring *ring,
                                           struct sync_reply *out, char *why, size_t whylen)
{
    if (ring == NULL) {
        memset(out, 0, sizeof *out);
        lic_whyf(why, whylen, "no Ed25519 public key to verify with");
        return LIC_BAD_SIGNATURE;
    }
    return verify_doc(compact, NULL, ring, LIC_TYP_DEFINITION, NULL, NULL, out, why, whylen);
}

/* sync_protocol: the documents allotd and allot-authority exchange.
 *
 * A site (allotd) re-verifies its license with the authority:
 *
 *   POST {base}/v1/licenses/{licenseNumber}/sync
 *   Authorization: Bearer <the site's license key>      (typ allot-license+jwt)
 *   Content-Type: application/json
 *   {"nonce": "<43 base64url chars = 32 random bytes>", "licenseNumber": "...",
 *    "site": "<id of the allotd instance, at most 200 bytes>",
 *    "assignments": {"professional": N, "analyzer": N, "userPasses": N,
 *                    "loginTokens": N, "capacityMinutesThisMonth": N,
 *                    "quarantined": N},
 *    "definitionIssuedAt": <iat of the site's license key>}
 *
 * Every member is required, every count is an integer >= 0, unknown members are
 * refused, the body is at most SYNC_BODY_MAX bytes of JSON without duplicate keys.
 *
 * The authority answers 200, Content-Type application/jose, with a compact JWS of
 * typ allot-sync+jwt (LIC_TYP_SYNC) signed by its Ed25519 key:
 *
 *   {"nonce": <echo>, "licenseNumber": "...", "verifiedAt": <unix seconds>,
 *    "revoked": bool, "definition": "<the current license key of that number>"}
 *
 * Errors are 4xx/5xx with {"error": "..."}: 400 bad body or nonce, 401 a bearer
 * key that does not verify or names another license, 404, 405, 413, 415, 500.
 *
 * An air-gapped site applies instead a definition document exported by the
 * authority: typ allot-definition+jwt (LIC_TYP_DEFINITION), payload
 * {"licenseNumber", "verifiedAt", "revoked", "definition"}; the site counts
 * verifiedAt as the time of its last verification.
 *
 * Everything here is pure and reentrant except sync_nonce_new (randomness).
 */
#ifndef ALLOT_SYNC_PROTOCOL_H
#define ALLOT_SYNC_PROTOCOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "allot/license.h"

#define SYNC_NONCE_BYTES 32
#define SYNC_NONCE_LEN 43              /* base64url of 32 bytes, no padding */
#define SYNC_SITE_MAX 200              /* bytes of "site" */
#define SYNC_BODY_MAX (64 * 1024)      /* bytes of a request body */
#define SYNC_CONTENT_TYPE_REPLY "application/jose"

/* ---- nonce ------------------------------------------------------------------ */

/* A fresh nonce: 32 bytes from RAND_bytes, base64url, NUL-terminated.
 * 0, or -1 (out[0] = '\0') when the random generator fails. */
int sync_nonce_new(char out[SYNC_NONCE_LEN + 1]);

/* Exactly 43 characters of canonical base64url (the unused low bits of the last
 * character zero), i.e. what sync_nonce_new makes.  NULL is not ok. */
bool sync_nonce_ok(const char *nonce);

/* ---- request ------------------------------------------------------------------ */

struct sync_assignments {
    int64_t professional;              /* users holding a professional pass */
    int64_t analyzer;                  /* users holding an analyzer pass */
    int64_t user_passes;               /* userPasses: user (token) passes */
    int64_t login_tokens;              /* loginTokens: login passes in force */
    int64_t capacity_minutes_this_month; /* capacityMinutesThisMonth */
    int64_t quarantined;               /* allocations in quarantine */
};

/* The "assignments" object: exactly the six members, integers in 0..2^53.
 * to_json: a new reference or NULL.  parse: false with `why` naming the member. */
json_t *sync_assignments_to_json(const struct sync_assignments *a);
bool sync_assignments_parse(const json_t *obj, struct sync_assignments *out, char *why,
                            size_t whylen);

struct sync_request {
    char nonce[SYNC_NONCE_LEN + 1];
    char license_number[LIC_NUMBER_MAX + 1];
    char site[SYNC_SITE_MAX + 1];      /* 0..200 bytes of UTF-8 */
    struct sync_assignments assignments;
    int64_t definition_issued_at;      /* unix seconds, >= 0 */
};

/* The JSON body of `req`: a new reference, or NULL when `req` itself would be
 * refused by sync_request_parse (so a site never sends what is refused). */
json_t *sync_request_build(const struct sync_request *req);

/* Checks a request body strictly and fills *out: every member present, no other
 * member, a well-formed nonce, licenseNumber 1..32 digits, site a string of at
 * most 200 bytes, counts integers in 0..2^53, definitionIssuedAt an integer in
 * 0..253402300799.  false with `why` naming the member otherwise. */
bool sync_request_parse(const json_t *body, struct sync_request *out, char *why,
                        size_t whylen);

/* ---- reply ------------------------------------------------------------------- */

/* Key rotation: a sync reply may announce the authority's keys (JWKs
 * {"kty":"OKP","crv":"Ed25519","kid","x"} in "keys") and the kids it retired
 * ("retiredKids").  Both are inside the signed payload, so only a key the site
 * already trusts can announce another; each announced kid must be the
 * thumbprint of its x (a reply naming a key wrongly is refused).  Sites older
 * than rotation ignore both members. */
#define SYNC_KEYS_MAX 8

struct sync_key {
    char kid[LIC_KID_LEN + 1];
    char x[LIC_KID_LEN + 1];           /* base64url of the raw 32-byte key */
};

struct sync_reply {
    char license_number[LIC_NUMBER_MAX + 1];
    char nonce[SYNC_NONCE_LEN + 1];    /* "" in a definition document */
    int64_t verified_at;               /* unix seconds */
    bool revoked;
    char *definition;                  /* compact license key; malloc'd, owned */
    size_t nkeys;                      /* announced keys (sync replies only) */
    struct sync_key keys[SYNC_KEYS_MAX];
    size_t nretired;                   /* announced retired kids */
    char retired[SYNC_KEYS_MAX][LIC_KID_LEN + 1];
    char signed_by[LIC_KID_LEN + 1];   /* kid that verified it (ring variants), or "" */
};

/* Frees r->definition and sets it to NULL (r may be NULL). */
void sync_reply_free(struct sync_reply *r);

/* Signs `r` as a sync reply (typ allot-sync+jwt).  *out receives the compact JWS;
 * free() it.  -1 when r is not a valid reply (nonce, number, definition NULL or
 * empty, verifiedAt out of range) or signing fails. */
int sync_reply_sign(EVP_PKEY *priv, const struct sync_reply *r, char **out);

/* Verifies a sync reply and fills *out (call sync_reply_free after LIC_OK; on any
 * other result out->definition is NULL).  Accepted only when: the JWS verifies
 * with `pub` with typ allot-sync+jwt (LIC_MALFORMED, LIC_BAD_ALG, LIC_BAD_TYP,
 * LIC_BAD_SIGNATURE otherwise), and the payload holds nonce == expected_nonce
 * (a replayed reply is refused), licenseNumber == expected_number, verifiedAt an
 * integer in 0..253402300799, revoked a boolean, and a definition that is a
 * license key signed by `pub` (typ allot-license+jwt, a license payload that
 * parses) for the same license number (LIC_BAD_PAYLOAD otherwise).  The
 * definition's validity in time is NOT checked: that is the site's decision
 * (lic_verify_key).  Members the payload may gain later are ignored. */
enum lic_result sync_reply_verify(const char *compact, EVP_PKEY *pub,
                                  const char *expected_nonce, const char *expected_number,
                                  struct sync_reply *out, char *why, size_t whylen);

/* The same against a key ring (rotation): the reply's kid must be trusted and
 * not retired, and so must the definition's. */
enum lic_result sync_reply_verify_ring(const char *compact, const struct lic_keyring *ring,
                                       const char *expected_nonce, const char *expected_number,
                                       struct sync_reply *out, char *why, size_t whylen);

/* ---- air-gapped definition document -------------------------------------------- */

/* Signs {"licenseNumber", "verifiedAt", "revoked", "definition"} with typ
 * allot-definition+jwt.  *out receives the compact JWS; free() it.  0, or -1 on
 * bad arguments or a signing failure. */
int definition_doc_sign(EVP_PKEY *priv, const char *license_number, const char *license_key,
                        int64_t verified_at, bool revoked, char **out);

/* Verifies a definition document like sync_reply_verify (typ
 * allot-definition+jwt, no nonce; the definition must carry the document's
 * licenseNumber).  out->nonce is "".  Call sync_reply_free after LIC_OK. */
enum lic_result definition_doc_verify(const char *compact, EVP_PKEY *pub,
                                      struct sync_reply *out, char *why, size_t whylen);
enum lic_result definition_doc_verify_ring(const char *compact, const struct lic_keyring *ring,
                                           struct sync_reply *out, char *why, size_t whylen);

#endif

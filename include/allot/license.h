/* license: Ed25519 keys, compact JWS, signed documents and the license payload.
 *
 * A license key is a compact JWS (RFC 7515) signed with Ed25519 by the license
 * authority: base64url(header) "." base64url(payload) "." base64url(signature),
 * no padding.  The header is exactly {"alg":"EdDSA","typ":TYP} with an optional
 * "kid"; TYP tells what the document is (LIC_TYP_*), so a license key cannot be
 * passed off as a sync reply or an air-gapped definition, and the other way round.
 *
 * Every function here is reentrant.  An EVP_PKEY may be shared by threads for
 * signing and verifying.  Functions that can fail write a one-line,
 * human-readable reason into `why` (when not NULL), suitable for an API reply
 * or a log line; it never contains key material.
 */
#ifndef ALLOT_LICENSE_H
#define ALLOT_LICENSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "allot/core.h"

/* ---- results -------------------------------------------------------------- */

enum lic_result {
    LIC_OK = 0,
    LIC_MALFORMED,        /* not a compact JWS: parts, base64url, header JSON, size */
    LIC_BAD_SIGNATURE,    /* well formed, but the signature does not verify */
    LIC_BAD_ALG,          /* header alg is not "EdDSA" (e.g. "none", "HS256") */
    LIC_BAD_TYP,          /* header typ is not the expected document type */
    LIC_BAD_PAYLOAD,      /* signed, but the payload is not a valid license/document */
    LIC_NOT_YET_VALID,    /* now < validFrom */
    LIC_EXPIRED,          /* now > validTo */
    LIC_UNKNOWN_KEY,      /* the header's kid is not trusted, or retired (key rings) */
};

/* Stable lower-case name of a result ("ok", "malformed", "bad_signature", ...). */
const char *lic_result_name(enum lic_result r);

/* ---- Ed25519 keys (OpenSSL 3 EVP) ----------------------------------------- */

/* A new Ed25519 key pair, or NULL.  Free with EVP_PKEY_free. */
EVP_PKEY *lic_key_generate(void);

/* Writes the private key as PKCS#8 PEM ("BEGIN PRIVATE KEY") with mode 0600, or
 * the public key as SubjectPublicKeyInfo PEM ("BEGIN PUBLIC KEY") with mode 0644.
 * The file is written to a temporary name and then moved into place, so a reader
 * never sees half a key.  Without `overwrite`, an existing file is left alone and
 * the call fails.  0 on success, -1 with `why` on failure. */
int lic_key_write_private(EVP_PKEY *key, const char *path, bool overwrite,
                          char *why, size_t whylen);
int lic_key_write_public(EVP_PKEY *key, const char *path, bool overwrite,
                         char *why, size_t whylen);

/* PEM text of the public key (SubjectPublicKeyInfo), NUL-terminated; free() it.
 * NULL on failure. */
char *lic_key_public_pem(EVP_PKEY *key);

/* Loads an Ed25519 key from a PEM file or from PEM text (len bytes; len may be
 * 0 for a NUL-terminated string).  A key of another type, an encrypted private
 * key, or a file over 16 KiB is refused.  NULL with `why` on failure. */
EVP_PKEY *lic_key_load_private_file(const char *path, char *why, size_t whylen);
EVP_PKEY *lic_key_load_public_file(const char *path, char *why, size_t whylen);
EVP_PKEY *lic_key_load_private_pem(const char *pem, size_t len, char *why, size_t whylen);
EVP_PKEY *lic_key_load_public_pem(const char *pem, size_t len, char *why, size_t whylen);

/* ---- compact JWS and signed documents ------------------------------------- */

#define LIC_TYP_LICENSE    "allot-license+jwt"     /* license keys */
#define LIC_TYP_SYNC       "allot-sync+jwt"        /* sync replies of the authority */
#define LIC_TYP_DEFINITION "allot-definition+jwt"  /* air-gapped license definitions */
#define LIC_TYP_JWT        "JWT"                   /* plain lic_jws_sign/verify */

/* Longest compact JWS accepted or produced, in bytes. */
#define LIC_JWS_MAX (64 * 1024)

/* Signs the JSON object `payload` (not consumed) with header
 * {"alg":"EdDSA","typ":typ[,"kid":kid]}; kid may be NULL.  *out receives the
 * compact JWS (NUL-terminated, no newline); free() it.  0 or -1. */
int lic_doc_sign(EVP_PKEY *priv, const char *typ, const char *kid,
                 const json_t *payload, char **out);

/* Verifies a compact JWS strictly: exactly three parts, canonical base64url
 * without padding, header a JSON object holding only alg, typ and optional kid,
 * alg "EdDSA", typ equal to `expected_typ` (exact match), a 64-byte Ed25519
 * signature over the ASCII "header.payload", a payload that is a JSON object
 * without duplicate keys, total length <= LIC_JWS_MAX.  The signature is checked
 * before the payload is parsed.  On LIC_OK *payload_out (if not NULL) receives
 * the payload (caller json_decref's it); otherwise it is set to NULL. */
enum lic_result lic_doc_verify(const char *compact, EVP_PKEY *pub, const char *expected_typ,
                               json_t **payload_out, char *why, size_t whylen);

/* lic_doc_sign / lic_doc_verify with typ "JWT". */
int lic_jws_sign(EVP_PKEY *priv, const json_t *payload, char **out);
enum lic_result lic_jws_verify(const char *compact, EVP_PKEY *pub, json_t **payload_out,
                               char *why, size_t whylen);

/* ---- key sets (rotation) -------------------------------------------------- *
 *
 * A key is named by its kid: the RFC 7638 JWK thumbprint of its public key
 * (base64url of SHA-256 of {"crv":"Ed25519","kty":"OKP","x":"..."}), so a site
 * computes the kid of a PEM file itself and no name can be given to the wrong
 * key.  Everything the authority signs carries its kid in the JWS header.  A
 * key ring is the set of keys a verifier trusts, plus tombstones of retired
 * kids (so that a refusal can say why).  Verifying against a ring: a header
 * with a kid needs that kid in the ring, not retired (LIC_UNKNOWN_KEY
 * otherwise); a header without one (a document of an authority older than
 * rotation) is tried against each trusted key. */

#define LIC_KID_LEN 43           /* base64url of 32 bytes */
#define LIC_KEYRING_MAX 16

struct lic_keyring_entry {
    char kid[LIC_KID_LEN + 1];
    EVP_PKEY *pub;               /* owned (a reference); NULL for a tombstone */
    bool retired;
};

struct lic_keyring {
    size_t n;
    struct lic_keyring_entry e[LIC_KEYRING_MAX];
};

/* The kid of a key (private or public), and the base64url of its raw public
 * key (the JWK "x"; malloc'd).  0 / non-NULL on success. */
int lic_key_kid(EVP_PKEY *key, char out[LIC_KID_LEN + 1]);
char *lic_key_x(EVP_PKEY *key);
/* The public key whose JWK "x" is `x`, or NULL with why. */
EVP_PKEY *lic_key_from_x(const char *x, char *why, size_t whylen);

void lic_keyring_init(struct lic_keyring *r);
void lic_keyring_free(struct lic_keyring *r);   /* frees the keys, leaves it empty */
/* Adds the public part of `key` (a reference is taken).  A kid already there
 * is kept as it is (a retired kid stays retired).  0, or -1 when full. */
int lic_keyring_add(struct lic_keyring *r, EVP_PKEY *key);
/* Marks kid retired (adding a tombstone when it is not there).  0 or -1. */
int lic_keyring_retire(struct lic_keyring *r, const char *kid);
/* The entry of kid, or NULL. */
const struct lic_keyring_entry *lic_keyring_find(const struct lic_keyring *r, const char *kid);
/* Copies every entry of src into dst (references taken).  0 or -1 (full). */
int lic_keyring_merge(struct lic_keyring *dst, const struct lic_keyring *src);
/* Loads public keys from `spec`: one or several PEM files separated by ','
 * (each may be a bundle of several "BEGIN PUBLIC KEY" blocks).  0, or -1 with
 * why naming the file. */
int lic_keyring_load(struct lic_keyring *r, const char *spec, char *why, size_t whylen);

/* lic_doc_verify against a ring (see above).  kid_out (may be NULL) receives
 * the kid of the key that verified. */
enum lic_result lic_doc_verify_ring(const char *compact, const struct lic_keyring *ring,
                                    const char *expected_typ, json_t **payload_out,
                                    char kid_out[LIC_KID_LEN + 1], char *why, size_t whylen);
/* The kid named in a compact JWS's header ("" when none or unreadable). */
void lic_doc_kid(const char *compact, char out[LIC_KID_LEN + 1]);

/* ---- the license payload -------------------------------------------------- */

#define LIC_NUMBER_MAX 32      /* licenseNumber: 1..32 decimal digits */
#define LIC_TEXT_MAX 255       /* organization, product: 1..255 bytes of UTF-8 */
#define LIC_UNITS_MAX 1000000000LL  /* units, overage and tokens are at most this */

enum lic_allotment_kind {
    LIC_PROFESSIONAL = 0,      /* "professional": units = users */
    LIC_ANALYZER,              /* "analyzer": units = users */
    LIC_ANALYZER_TIME,         /* "analyzer_time": units = minutes per calendar month */
    LIC_ALLOTMENT_COUNT
};

struct lic_allotment {
    bool present;              /* named in the license */
    int64_t units;             /* >= 0 */
    int64_t overage;           /* -1 = unbounded, or >= 0; default 0 */
};

/* The license parameters (allot/params.def), indexed by enum core_param;
 * each falls back to its default when the license does not name it. */
struct lic_params {
    int64_t v[CORE_PARAM_COUNT];
};

struct lic_license {
    char license_number[LIC_NUMBER_MAX + 1];
    char organization[LIC_TEXT_MAX + 1];
    char product[LIC_TEXT_MAX + 1];
    int64_t valid_from;        /* unix seconds; validFrom < validTo */
    int64_t valid_to;
    int64_t iat;               /* when the authority signed it, unix seconds */
    struct lic_allotment allotments[LIC_ALLOTMENT_COUNT];
    bool has_tokens;
    int64_t tokens;            /* legacy tokens, >= 0 (0 when !has_tokens) */
    bool has_conversion_date;
    int64_t conversion_date;   /* unix seconds (0 when !has_conversion_date) */
    struct lic_params params;
};

/* "professional", "analyzer", "analyzer_time"; NULL for an invalid kind. */
const char *lic_allotment_name(enum lic_allotment_kind k);
/* The kind named `name`, or -1. */
int lic_allotment_find(const char *name);

/* The defaults of every parameter. */
void lic_params_default(struct lic_params *p);
/* Sets the parameter called `name` (its JSON name, e.g. "offlineGraceSeconds")
 * after checking its range.  -1 with `why` for an unknown name or a bad value. */
int lic_params_set(struct lic_params *p, const char *name, int64_t value,
                   char *why, size_t whylen);

/* A license with every field empty/zero and the default parameters. */
void lic_license_init(struct lic_license *lic);

/* Checks the structure and types of a license payload and fills *out.
 * Strict: unknown members, unknown allotment names, unknown parameter names,
 * duplicate allotments and out-of-range numbers are refused.  `allotments` may
 * be an array of {"name","units","overage"} or an object {name: {"units",
 * "overage"}}.  Time validity is NOT checked (see lic_check_validity).
 * LIC_OK or LIC_BAD_PAYLOAD with `why` naming the field. */
enum lic_result lic_parse(const json_t *payload, struct lic_license *out,
                          char *why, size_t whylen);

/* LIC_NOT_YET_VALID when now < valid_from, LIC_EXPIRED when now > valid_to,
 * else LIC_OK (validTo itself is the last valid second). */
enum lic_result lic_check_validity(const struct lic_license *lic, int64_t now,
                                   char *why, size_t whylen);

/* The canonical payload of `lic`: licenseNumber, organization, product,
 * validFrom, validTo, iat, allotments (array of {name, units, overage}, present
 * ones only), tokens and conversionDate (when set), parameters (all of them).
 * lic_parse(lic_to_json(x)) gives x back.  New reference, or NULL. */
json_t *lic_to_json(const struct lic_license *lic);

/* Signs `lic` as a license key (typ LIC_TYP_LICENSE).  0 or -1 (also when the
 * license itself would not parse back). */
int lic_issue(EVP_PKEY *priv, const struct lic_license *lic, char **out,
              char *why, size_t whylen);

/* lic_doc_verify (typ LIC_TYP_LICENSE) + lic_parse + lic_check_validity.
 * *out is filled whenever the payload parsed (LIC_OK, LIC_NOT_YET_VALID,
 * LIC_EXPIRED); *payload_out (may be NULL) is set on LIC_OK only, else NULL. */
enum lic_result lic_verify_key(const char *compact, EVP_PKEY *pub, int64_t now,
                               struct lic_license *out, json_t **payload_out,
                               char *why, size_t whylen);
enum lic_result lic_verify_key_ring(const char *compact, const struct lic_keyring *ring,
                                    int64_t now, struct lic_license *out, json_t **payload_out,
                                    char *why, size_t whylen);

/* The same license key signed again by priv (same payload, so the same iat),
 * when it was signed by another key of `ring`; a key already signed by priv
 * is copied.  *out malloc'd.  0, or -1 with why. */
int lic_resign_key(EVP_PKEY *priv, const struct lic_keyring *ring, const char *compact,
                   char **out, char *why, size_t whylen);

#endif

/* Key rings: the set of authority keys a verifier trusts, each named by its
 * kid (the RFC 7638 JWK thumbprint), and the retired kids it refuses. */
#include "allot/license.h"
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/sha.h>

#define BUNDLE_MAX (64 * 1024)
#define ED25519_RAW 32

char *lic_key_x(EVP_PKEY *key)
{
    unsigned char raw[ED25519_RAW];
    size_t len = sizeof raw;
    if (key == NULL || !EVP_PKEY_is_a(key, "ED25519") ||
        EVP_PKEY_get_raw_public_key(key, raw, &len) != 1 || len != ED25519_RAW) {
        ERR_clear_error();
        return NULL;
    }
    return core_b64url_encode(raw, len);
}

int lic_key_kid(EVP_PKEY *key, char out[LIC_KID_LEN + 1])
{
    out[0] = '\0';
    char *x = lic_key_x(key);
    if (x == NULL)
        return -1;
    /* RFC 7638: the required members in lexicographic order, no blanks. */
    char jwk[128];
    int n = snprintf(jwk, sizeof jwk, "{\"crv\":\"Ed25519\",\"kty\":\"OKP\",\"x\":\"%s\"}", x);
    free(x);
    if (n <= 0 || (size_t)n >= sizeof jwk)
        return -1;
    unsigned char digest[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)jwk, (size_t)n, digest);
    char *b64 = core_b64url_encode(digest, sizeof digest);
    if (b64 == NULL || strlen(b64) != LIC_KID_LEN) {
        free(b64);
        return -1;
    }
    memcpy(out, b64, LIC_KID_LEN + 1);
    free(b64);
    return 0;
}

EVP_PKEY *lic_key_from_x(const char *x, char *why, size_t whylen)
{
    size_t len = 0;
    unsigned char *raw = x != NULL ? core_b64url_decode(x, strlen(x), &len) : NULL;
    EVP_PKEY *key = NULL;
    if (raw != NULL && len == ED25519_RAW)
        key = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, raw, len);
    free(raw);
    ERR_clear_error();
    if (key == NULL)
        lic_whyf(why, whylen, "x: expected the base64url of a 32-byte Ed25519 public key");
    return key;
}

void lic_keyring_init(struct lic_keyring *r)
{
    memset(r, 0, sizeof *r);
}

void lic_keyring_free(struct lic_keyring *r)
{
    if (r == NULL)
        return;
    for (size_t i = 0; i < r->n; i++)
        EVP_PKEY_free(r->e[i].pub);
    memset(r, 0, sizeof *r);
}

const struct lic_keyring_entry *lic_keyring_find(const struct lic_keyring *r, const char *kid)
{
    for (size_t i = 0; r != NULL && kid != NULL && i < r->n; i++)
        if (strcmp(r->e[i].kid, kid) == 0)
            return &r->e[i];
    return NULL;
}

/* Adds an entry (kid, pub: a reference is taken, may be NULL). */
static int add_entry(struct lic_keyring *r, const char *kid, EVP_PKEY *pub, bool retired)
{
    struct lic_keyring_entry *e = (struct lic_keyring_entry *)lic_keyring_find(r, kid);
    if (e != NULL) {
        if (e->pub == NULL && pub != NULL && EVP_PKEY_up_ref(pub) == 1)
            e->pub = pub;
        e->retired = e->retired || retired;
        return 0;
    }
    if (r->n >= LIC_KEYRING_MAX || strlen(kid) != LIC_KID_LEN)
        return -1;
    if (pub != NULL && EVP_PKEY_up_ref(pub) != 1)
        return -1;
    e = &r->e[r->n++];
    memcpy(e->kid, kid, LIC_KID_LEN + 1);
    e->pub = pub;
    e->retired = retired;
    return 0;
}

int lic_keyring_add(struct lic_keyring *r, EVP_PKEY *key)
{
    char kid[LIC_KID_LEN + 1];
    if (lic_key_kid(key, kid) != 0)
        return -1;
    /* Only the public part: a ring never holds a private key. */
    char *x = lic_key_x(key);
    EVP_PKEY *pub = lic_key_from_x(x, NULL, 0);
    free(x);
    if (pub == NULL)
        return -1;
    int rc = add_entry(r, kid, pub, false);
    EVP_PKEY_free(pub);
    return rc;
}

int lic_keyring_retire(struct lic_keyring *r, const char *kid)
{
    return kid != NULL ? add_entry(r, kid, NULL, true) : -1;
}

int lic_keyring_merge(struct lic_keyring *dst, const struct lic_keyring *src)
{
    for (size_t i = 0; i < src->n; i++)
        if (add_entry(dst, src->e[i].kid, src->e[i].pub, src->e[i].retired) != 0)
            return -1;
    return 0;
}

/* Reads a whole small file; malloc'd text, or NULL with why. */
static char *read_small(const char *path, size_t *len, char *why, size_t whylen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        lic_whyf(why, whylen, "%s: %s", path, strerror(errno));
        return NULL;
    }
    char *buf = malloc(BUNDLE_MAX + 1);
    size_t n = 0;
    while (buf != NULL && n <= BUNDLE_MAX) {
        ssize_t got = read(fd, buf + n, BUNDLE_MAX + 1 - n);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            break;
        n += (size_t)got;
    }
    close(fd);
    if (buf == NULL || n > BUNDLE_MAX || n == 0) {
        lic_whyf(why, whylen, "%s: %s", path, buf == NULL ? "out of memory"
                 : n == 0 ? "empty file" : "too large for a key bundle");
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

/* Every "PUBLIC KEY" block of one file. */
static int load_bundle(struct lic_keyring *r, const char *path, char *why, size_t whylen)
{
    size_t len = 0;
    char *text = read_small(path, &len, why, whylen);
    if (text == NULL)
        return -1;
    BIO *bio = BIO_new_mem_buf(text, (int)len);
    int found = 0, rc = 0;
    EVP_PKEY *key;
    while (bio != NULL && (key = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL)) != NULL) {
        if (!EVP_PKEY_is_a(key, "ED25519")) {
            lic_whyf(why, whylen, "%s: key %d is not an Ed25519 key", path, found + 1);
            rc = -1;
        } else if (lic_keyring_add(r, key) != 0) {
            lic_whyf(why, whylen, "%s: more than %d keys", path, LIC_KEYRING_MAX);
            rc = -1;
        }
        EVP_PKEY_free(key);
        found++;
        if (rc != 0)
            break;
    }
    ERR_clear_error();
    BIO_free(bio);
    free(text);
    if (rc == 0 && found == 0) {
        lic_whyf(why, whylen, "%s: not a public key in PEM", path);
        rc = -1;
    }
    return rc;
}

int lic_keyring_load(struct lic_keyring *r, const char *spec, char *why, size_t whylen)
{
    if (spec == NULL || spec[0] == '\0') {
        lic_whyf(why, whylen, "no file named");
        return -1;
    }
    char *copy = strdup(spec);
    if (copy == NULL)
        return -1;
    int rc = 0;
    char *save = NULL;
    for (char *p = strtok_r(copy, ",", &save); p != NULL && rc == 0;
         p = strtok_r(NULL, ",", &save)) {
        while (*p == ' ')
            p++;
        if (*p != '\0')
            rc = load_bundle(r, p, why, whylen);
    }
    free(copy);
    if (rc == 0 && r->n == 0) {
        lic_whyf(why, whylen, "no file named");
        rc = -1;
    }
    return rc;
}

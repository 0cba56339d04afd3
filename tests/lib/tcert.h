/* tcert: X.509 certificates made at test time with OpenSSL, for the TLS tests.
 *
 *   struct tc_ca ca;
 *   tc_ca_make(&ca, "allot test CA");
 *   tc_ca_write(&ca, "/tmp/x/ca.pem");
 *   tc_leaf_write(&ca, "allotd", "IP:127.0.0.1,DNS:localhost", 0, 86400,
 *                 "/tmp/x/cert.pem", "/tmp/x/key.pem");
 *   tc_ca_free(&ca);
 *
 * Keys are ECDSA P-256; the leaf is a TLS server certificate (serverAuth).
 * Every function that fails prints a TAP diagnostic ("# ...") saying why. */
#ifndef ALLOT_TCERT_H
#define ALLOT_TCERT_H

#include <stdbool.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

struct tc_ca {
    EVP_PKEY *key;
    X509 *cert;
};

/* A self-signed CA valid from a day ago for a year. */
bool tc_ca_make(struct tc_ca *ca, const char *cn);
/* Its certificate as PEM. */
bool tc_ca_write(const struct tc_ca *ca, const char *path);
void tc_ca_free(struct tc_ca *ca);

/* A server certificate of common name cn and subjectAltName san ("IP:...,
 * DNS:..."), valid from now + from_s to now + to_s (negative: the past),
 * signed by ca; written as PEM to cert_path (the leaf, then the CA) and its
 * fresh key to key_path (mode 0600).  Files are replaced atomically (written
 * beside, then renamed), so a server reloading them never reads half. */
bool tc_leaf_write(const struct tc_ca *ca, const char *cn, const char *san, long from_s,
                   long to_s, const char *cert_path, const char *key_path);

#endif

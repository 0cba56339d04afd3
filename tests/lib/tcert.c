#include "tcert.h"

#include <stdio.h>
#include <sys/stat.h>

#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

static bool add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    bool ok = ext != NULL && X509_add_ext(cert, ext, -1) == 1;
    X509_EXTENSION_free(ext);
    return ok;
}

/* A certificate of cn and key, valid from now + from_s to now + to_s, issued
 * by issuer (NULL: itself); not signed yet. */
static X509 *new_cert(const char *cn, EVP_PKEY *key, long from_s, long to_s)
{
    X509 *c = X509_new();
    unsigned char serial[16];
    BIGNUM *bn = NULL;
    bool ok = c != NULL && X509_set_version(c, 2) == 1 && RAND_bytes(serial, sizeof serial) == 1;
    if (ok) {
        serial[0] &= 0x7f; /* positive */
        bn = BN_bin2bn(serial, sizeof serial, NULL);
        ok = bn != NULL && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(c)) != NULL;
    }
    ok = ok && X509_gmtime_adj(X509_getm_notBefore(c), from_s) != NULL &&
         X509_gmtime_adj(X509_getm_notAfter(c), to_s) != NULL &&
         X509_NAME_add_entry_by_txt(X509_get_subject_name(c), "CN", MBSTRING_UTF8,
                                    (const unsigned char *)cn, -1, -1, 0) == 1 &&
         X509_set_pubkey(c, key) == 1;
    BN_free(bn);
    if (!ok) {
        X509_free(c);
        return NULL;
    }
    return c;
}

bool tc_ca_make(struct tc_ca *ca, const char *cn)
{
    ca->key = EVP_EC_gen("P-256");
    ca->cert = ca->key ? new_cert(cn, ca->key, -86400, 365L * 86400) : NULL;
    bool ok = ca->cert != NULL &&
              X509_set_issuer_name(ca->cert, X509_get_subject_name(ca->cert)) == 1 &&
              add_ext(ca->cert, ca->cert, NID_basic_constraints, "critical,CA:TRUE") &&
              add_ext(ca->cert, ca->cert, NID_key_usage, "critical,keyCertSign,cRLSign") &&
              add_ext(ca->cert, ca->cert, NID_subject_key_identifier, "hash") &&
              X509_sign(ca->cert, ca->key, EVP_sha256()) > 0;
    if (!ok) {
        printf("# tcert: cannot make the CA \"%s\"\n", cn);
        tc_ca_free(ca);
    }
    return ok;
}

void tc_ca_free(struct tc_ca *ca)
{
    X509_free(ca->cert);
    EVP_PKEY_free(ca->key);
    ca->cert = NULL;
    ca->key = NULL;
}

/* Writes through a temporary file renamed over path. */
static bool write_pem(const char *path, mode_t mode, X509 *a, X509 *b, EVP_PKEY *key)
{
    char tmp[1024];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (f == NULL) {
        printf("# tcert: cannot write %s\n", tmp);
        return false;
    }
    chmod(tmp, mode);
    bool ok = (a == NULL || PEM_write_X509(f, a) == 1) && (b == NULL || PEM_write_X509(f, b) == 1) &&
              (key == NULL || PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL) == 1);
    ok = fclose(f) == 0 && ok && rename(tmp, path) == 0;
    if (!ok)
        printf("# tcert: cannot write %s\n", path);
    return ok;
}

bool tc_ca_write(const struct tc_ca *ca, const char *path)
{
    return write_pem(path, 0644, ca->cert, NULL, NULL);
}

bool tc_leaf_write(const struct tc_ca *ca, const char *cn, const char *san, long from_s,
                   long to_s, const char *cert_path, const char *key_path)
{
    EVP_PKEY *key = EVP_EC_gen("P-256");
    X509 *c = key ? new_cert(cn, key, from_s, to_s) : NULL;
    bool ok = c != NULL && X509_set_issuer_name(c, X509_get_subject_name(ca->cert)) == 1 &&
              add_ext(c, ca->cert, NID_basic_constraints, "critical,CA:FALSE") &&
              add_ext(c, ca->cert, NID_key_usage, "critical,digitalSignature") &&
              add_ext(c, ca->cert, NID_ext_key_usage, "serverAuth") &&
              add_ext(c, ca->cert, NID_subject_alt_name, san) &&
              add_ext(c, ca->cert, NID_authority_key_identifier, "keyid:always") &&
              X509_sign(c, ca->key, EVP_sha256()) > 0;
    if (!ok)
        printf("# tcert: cannot make the certificate \"%s\"\n", cn);
    /* The key first: a reload that sees the new certificate finds its key. */
    ok = ok && write_pem(key_path, 0600, NULL, NULL, key) &&
         write_pem(cert_path, 0644, c, ca->cert, NULL);
    X509_free(c);
    EVP_PKEY_free(key);
    return ok;
}

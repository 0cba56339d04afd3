/* Unit tests of key rings (key rotation, include/allot/license.h): kids are
 * RFC 7638 thumbprints, rings load several files and bundles, verification
 * refuses unknown and retired kids, sync replies carry announced keys that
 * must be named by their own thumbprint, and a key signed again keeps its
 * payload. */
#include "allot/sync_protocol.h"
#include "ttest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static EVP_PKEY *k1, *k2, *k3;

#define NOW 1735689600

static char *issue(EVP_PKEY *key, int64_t iat)
{
    struct lic_license l;
    lic_license_init(&l);
    snprintf(l.license_number, sizeof l.license_number, "42");
    snprintf(l.organization, sizeof l.organization, "ACME");
    snprintf(l.product, sizeof l.product, "Hub");
    l.valid_from = NOW - 86400;
    l.valid_to = NOW + 86400;
    l.iat = iat;
    char *out = NULL, why[256];
    return lic_issue(key, &l, &out, why, sizeof why) == 0 ? out : NULL;
}

/* RFC 8037 appendix A.3: the thumbprint of its example Ed25519 key. */
static void test_kid_is_rfc7638_thumbprint(void)
{
    char why[128], kid[LIC_KID_LEN + 1];
    EVP_PKEY *k = lic_key_from_x("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo", why, sizeof why);
    T_REQUIRE(k != NULL);
    T_EQ_INT(lic_key_kid(k, kid), 0);
    T_EQ_STR(kid, "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k");
    char *x = lic_key_x(k);
    T_EQ_STR(x, "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo");
    free(x);
    EVP_PKEY_free(k);
    T_CHECK(lic_key_from_x("short", why, sizeof why) == NULL);
    T_CHECK(lic_key_from_x(NULL, why, sizeof why) == NULL);
}

static void write_pems(const char *path, EVP_PKEY *a, EVP_PKEY *b)
{
    FILE *f = fopen(path, "w");
    char *pa = lic_key_public_pem(a), *pb = b != NULL ? lic_key_public_pem(b) : NULL;
    fprintf(f, "%s%s", pa, pb != NULL ? pb : "");
    fclose(f);
    free(pa);
    free(pb);
}

static void test_load_files_and_bundles(void)
{
    char dir[] = "/tmp/allot-test-keyring-XXXXXX", one[96], bundle[96], bad[96], spec[300];
    T_REQUIRE(mkdtemp(dir) != NULL);
    snprintf(one, sizeof one, "%s/one.pub", dir);
    snprintf(bundle, sizeof bundle, "%s/bundle.pub", dir);
    snprintf(bad, sizeof bad, "%s/bad.pub", dir);
    write_pems(one, k1, NULL);
    write_pems(bundle, k2, k3);
    FILE *f = fopen(bad, "w");
    fputs("not a key\n", f);
    fclose(f);
    char why[256];
    struct lic_keyring r;
    lic_keyring_init(&r);
    T_EQ_INT(lic_keyring_load(&r, one, why, sizeof why), 0); /* the single-file form */
    T_EQ_INT((long)r.n, 1);
    lic_keyring_free(&r);
    snprintf(spec, sizeof spec, "%s,%s", one, bundle);
    T_EQ_INT(lic_keyring_load(&r, spec, why, sizeof why), 0);
    T_EQ_INT((long)r.n, 3);
    char kid[LIC_KID_LEN + 1];
    lic_key_kid(k3, kid);
    T_CHECK(lic_keyring_find(&r, kid) != NULL);
    lic_keyring_free(&r);
    snprintf(spec, sizeof spec, "%s,%s", one, bad);
    T_EQ_INT(lic_keyring_load(&r, spec, why, sizeof why), -1);
    T_CHECK(strstr(why, "bad.pub") != NULL);
    lic_keyring_free(&r);
    T_EQ_INT(lic_keyring_load(&r, "/nonexistent/x.pub", why, sizeof why), -1);
    lic_keyring_free(&r);
    unlink(one);
    unlink(bundle);
    unlink(bad);
    rmdir(dir);
}

static void test_verify_with_a_ring(void)
{
    char *by1 = issue(k1, NOW), *by2 = issue(k2, NOW), *by3 = issue(k3, NOW);
    struct lic_keyring r;
    lic_keyring_init(&r);
    lic_keyring_add(&r, k1);
    lic_keyring_add(&r, k2);
    struct lic_license l;
    char why[256];
    T_EQ_INT(lic_verify_key_ring(by1, &r, NOW, &l, NULL, why, sizeof why), LIC_OK);
    T_EQ_INT(lic_verify_key_ring(by2, &r, NOW, &l, NULL, why, sizeof why), LIC_OK);
    T_EQ_INT(lic_verify_key_ring(by3, &r, NOW, &l, NULL, why, sizeof why), LIC_UNKNOWN_KEY);
    T_CHECK(strstr(why, "unknown") != NULL);
    char kid1[LIC_KID_LEN + 1];
    lic_key_kid(k1, kid1);
    T_EQ_INT(lic_keyring_retire(&r, kid1), 0);
    T_EQ_INT(lic_verify_key_ring(by1, &r, NOW, &l, NULL, why, sizeof why), LIC_UNKNOWN_KEY);
    T_CHECK(strstr(why, "retired") != NULL);
    /* A retired kid stays retired when the key is added again. */
    lic_keyring_add(&r, k1);
    T_EQ_INT(lic_verify_key_ring(by1, &r, NOW, &l, NULL, why, sizeof why), LIC_UNKNOWN_KEY);
    /* A key signed again by k2 keeps its payload (and iat); one already by
     * k2 is the same text. */
    char *again = NULL;
    struct lic_keyring old;
    lic_keyring_init(&old);
    lic_keyring_add(&old, k1);
    lic_keyring_add(&old, k2);
    T_EQ_INT(lic_resign_key(k2, &old, by1, &again, why, sizeof why), 0);
    char kid[LIC_KID_LEN + 1], kid2[LIC_KID_LEN + 1];
    lic_doc_kid(again, kid);
    lic_key_kid(k2, kid2);
    T_EQ_STR(kid, kid2);
    T_CHECK(strncmp(strchr(again, '.'), strchr(by1, '.'),
                    (size_t)(strrchr(by1, '.') - strchr(by1, '.'))) == 0);
    free(again);
    T_EQ_INT(lic_resign_key(k2, &old, by2, &again, why, sizeof why), 0);
    T_EQ_STR(again, by2);
    free(again);
    T_EQ_INT(lic_resign_key(k2, &old, by3, &again, why, sizeof why), -1);
    lic_keyring_free(&old);
    lic_keyring_free(&r);
    free(by1);
    free(by2);
    free(by3);
}

static void test_reply_announces_keys(void)
{
    char *def = issue(k1, NOW);
    struct sync_reply rep = {.verified_at = NOW, .definition = def};
    snprintf(rep.license_number, sizeof rep.license_number, "42");
    T_REQUIRE(sync_nonce_new(rep.nonce) == 0);
    char *x2 = lic_key_x(k2);
    lic_key_kid(k2, rep.keys[0].kid);
    snprintf(rep.keys[0].x, sizeof rep.keys[0].x, "%s", x2);
    rep.nkeys = 1;
    lic_key_kid(k3, rep.retired[0]);
    rep.nretired = 1;
    char *jws = NULL;
    T_EQ_INT(sync_reply_sign(k1, &rep, &jws), 0);
    struct lic_keyring r;
    lic_keyring_init(&r);
    lic_keyring_add(&r, k1);
    struct sync_reply got;
    char why[256];
    T_EQ_INT(sync_reply_verify_ring(jws, &r, rep.nonce, "42", &got, why, sizeof why), LIC_OK);
    T_EQ_INT((long)got.nkeys, 1);
    T_EQ_STR(got.keys[0].kid, rep.keys[0].kid);
    T_EQ_STR(got.keys[0].x, x2);
    T_EQ_INT((long)got.nretired, 1);
    T_EQ_STR(got.retired[0], rep.retired[0]);
    char kid1[LIC_KID_LEN + 1];
    lic_key_kid(k1, kid1);
    T_EQ_STR(got.signed_by, kid1);
    sync_reply_free(&got);
    /* A site that trusts only k1's single key (older sites) still accepts it. */
    T_EQ_INT(sync_reply_verify(jws, k1, rep.nonce, "42", &got, why, sizeof why), LIC_OK);
    sync_reply_free(&got);
    free(jws);
    /* A key named by another key's kid is refused. */
    lic_key_kid(k3, rep.keys[0].kid);
    T_EQ_INT(sync_reply_sign(k1, &rep, &jws), 0);
    T_EQ_INT(sync_reply_verify_ring(jws, &r, rep.nonce, "42", &got, why, sizeof why),
             LIC_BAD_PAYLOAD);
    T_CHECK(strstr(why, "thumbprint") != NULL);
    free(jws);
    /* The same reply signed by a key the ring does not hold: refused. */
    lic_key_kid(k2, rep.keys[0].kid);
    T_EQ_INT(sync_reply_sign(k3, &rep, &jws), 0);
    T_EQ_INT(sync_reply_verify_ring(jws, &r, rep.nonce, "42", &got, why, sizeof why),
             LIC_UNKNOWN_KEY);
    free(jws);
    lic_keyring_free(&r);
    free(x2);
    free(def);
}

int main(void)
{
    k1 = lic_key_generate();
    k2 = lic_key_generate();
    k3 = lic_key_generate();
    T_RUN(test_kid_is_rfc7638_thumbprint);
    T_RUN(test_load_files_and_bundles);
    T_RUN(test_verify_with_a_ring);
    T_RUN(test_reply_announces_keys);
    EVP_PKEY_free(k1);
    EVP_PKEY_free(k2);
    EVP_PKEY_free(k3);
    return t_done();
}

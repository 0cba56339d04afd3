/* TLS of a listener: the certificate loaded last is handed to each handshake
 * by GnuTLS's retrieve callback (see allot/tls.h).  Each handshake gets its own
 * copy, which GnuTLS frees with the session (GNUTLS_CERT_RETR_DEINIT_ALL), so
 * a reload can free the certificate it replaces at once, whatever handshake
 * is under way. */
#include "allot/tls.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "allot/log.h"

#define PEM_MAX (1u << 20) /* a certificate chain or key file larger than this is refused */

/* TLS 1.2 and 1.3 only, GnuTLS's NORMAL ciphers otherwise. */
static const char PRIORITIES[] = "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2";

/* The certificate chain and key of one pair of files. */
struct creds {
    gnutls_x509_crt_t *chain; /* leaf first; an array of GnuTLS's */
    unsigned nchain;
    gnutls_x509_privkey_t key;
};

struct http_tls {
    char *cert_path, *key_path;
    char *cert_name, *key_name;
    struct creds current; /* under lock */
};

/* The listener being served, read by the callback (which has no argument of
 * its own), and its certificate: both under lock. */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct http_tls *active;

static void creds_free(struct creds *c)
{
    for (unsigned i = 0; i < c->nchain; i++)
        gnutls_x509_crt_deinit(c->chain[i]);
    gnutls_free(c->chain);
    if (c->key != NULL)
        gnutls_x509_privkey_deinit(c->key);
    memset(c, 0, sizeof *c);
}

/* The whole file into out (malloc'd); false with why. */
static bool read_pem(const char *name, const char *path, gnutls_datum_t *out, char *why,
                     size_t whylen)
{
    out->data = NULL;
    out->size = 0;
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        snprintf(why, whylen, "%s: cannot read \"%.200s\": %s", name, path, strerror(errno));
        return false;
    }
    unsigned char *data = malloc(PEM_MAX + 1);
    size_t n = data != NULL ? fread(data, 1, PEM_MAX + 1, f) : 0;
    bool failed = data == NULL || ferror(f);
    fclose(f);
    if (failed || n == 0 || n > PEM_MAX) {
        snprintf(why, whylen, "%s: \"%.200s\" is %s", name, path,
                 failed ? "unreadable" : n == 0 ? "empty" : "larger than 1 MiB");
        free(data);
        return false;
    }
    out->data = data;
    out->size = (unsigned)n;
    return true;
}

static void wipe_free(gnutls_datum_t *d)
{
    if (d->data != NULL)
        gnutls_memset(d->data, 0, d->size);
    free(d->data);
    d->data = NULL;
}

static void format_time(time_t t, char out[32])
{
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Parses both files of t into c; false with why (naming the variable or flag). */
static bool creds_load(const struct http_tls *t, struct creds *c, char *why, size_t whylen)
{
    memset(c, 0, sizeof *c);
    gnutls_datum_t pem;
    if (!read_pem(t->cert_name, t->cert_path, &pem, why, whylen))
        return false;
    int rc = gnutls_x509_crt_list_import2(&c->chain, &c->nchain, &pem, GNUTLS_X509_FMT_PEM, 0);
    free(pem.data);
    if (rc < 0 || c->nchain == 0) {
        snprintf(why, whylen, "%s: no PEM certificate in \"%.200s\" (%s)", t->cert_name,
                 t->cert_path, gnutls_strerror(rc));
        c->nchain = 0;
        creds_free(c);
        return false;
    }
    if (!read_pem(t->key_name, t->key_path, &pem, why, whylen)) {
        creds_free(c);
        return false;
    }
    rc = gnutls_x509_privkey_init(&c->key);
    if (rc == 0)
        rc = gnutls_x509_privkey_import2(c->key, &pem, GNUTLS_X509_FMT_PEM, NULL, 0);
    wipe_free(&pem);
    if (rc < 0) {
        snprintf(why, whylen, "%s: no unencrypted PEM private key in \"%.200s\" (%s)",
                 t->key_name, t->key_path, gnutls_strerror(rc));
        creds_free(c);
        return false;
    }
    unsigned char cert_id[64], key_id[64];
    size_t cert_len = sizeof cert_id, key_len = sizeof key_id;
    if (gnutls_x509_crt_get_key_id(c->chain[0], GNUTLS_KEYID_USE_SHA256, cert_id, &cert_len) < 0 ||
        gnutls_x509_privkey_get_key_id(c->key, GNUTLS_KEYID_USE_SHA256, key_id, &key_len) < 0 ||
        cert_len != key_len || memcmp(cert_id, key_id, key_len) != 0) {
        snprintf(why, whylen, "%s: the key in \"%.200s\" is not the key of the certificate in "
                 "\"%.200s\"", t->key_name, t->key_path, t->cert_path);
        creds_free(c);
        return false;
    }
    return true;
}

/* One line about the certificate now served; a warning when clients will
 * refuse it for its dates. */
static void log_served(const struct http_tls *t, const struct creds *c, const char *what)
{
    gnutls_datum_t dn = {NULL, 0};
    gnutls_x509_crt_get_dn3(c->chain[0], &dn, 0);
    time_t from = gnutls_x509_crt_get_activation_time(c->chain[0]);
    time_t to = gnutls_x509_crt_get_expiration_time(c->chain[0]);
    char from_s[32], to_s[32];
    format_time(from, from_s);
    format_time(to, to_s);
    const char *subject = dn.data != NULL ? (const char *)dn.data : "?";
    time_t now = time(NULL);
    if (now > to)
        log_warn(NULL, "%s: the certificate in \"%s\" (%s) expired at %s: clients will refuse it",
                 t->cert_name, t->cert_path, subject, to_s);
    else if (now < from)
        log_warn(NULL, "%s: the certificate in \"%s\" (%s) is not valid before %s: clients will "
                 "refuse it until then", t->cert_name, t->cert_path, subject, from_s);
    log_info(NULL, "TLS: %s the certificate of \"%s\" (%s, valid until %s)", what, t->cert_path,
             subject, to_s);
    gnutls_free(dn.data);
}

struct http_tls *http_tls_load(const char *cert_path, const char *key_path,
                               const char *cert_name, const char *key_name,
                               char *why, size_t whylen)
{
    if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES ||
        MHD_is_feature_supported(MHD_FEATURE_HTTPS_CERT_CALLBACK2) != MHD_YES) {
        snprintf(why, whylen, "%s: this libmicrohttpd was built without TLS (or without "
                 "certificate callbacks, GnuTLS 3.6.3 or later)", cert_name);
        return NULL;
    }
    struct http_tls *t = calloc(1, sizeof *t);
    if (t == NULL || (t->cert_path = strdup(cert_path)) == NULL ||
        (t->key_path = strdup(key_path)) == NULL || (t->cert_name = strdup(cert_name)) == NULL ||
        (t->key_name = strdup(key_name)) == NULL) {
        snprintf(why, whylen, "%s: out of memory", cert_name);
        http_tls_free(t);
        return NULL;
    }
    if (!creds_load(t, &t->current, why, whylen)) {
        http_tls_free(t);
        return NULL;
    }
    log_served(t, &t->current, "serving");
    return t;
}

bool http_tls_reload(struct http_tls *t, char *why, size_t whylen)
{
    struct creds fresh;
    if (!creds_load(t, &fresh, why, whylen))
        return false;
    pthread_mutex_lock(&lock);
    struct creds old = t->current;
    t->current = fresh;
    pthread_mutex_unlock(&lock);
    /* Handshakes hold copies, never these. */
    creds_free(&old);
    log_served(t, &t->current, "reloaded: new connections get");
    return true;
}

void http_tls_free(struct http_tls *t)
{
    if (t == NULL)
        return;
    pthread_mutex_lock(&lock);
    if (active == t)
        active = NULL;
    pthread_mutex_unlock(&lock);
    creds_free(&t->current);
    free(t->cert_path);
    free(t->key_path);
    free(t->cert_name);
    free(t->key_name);
    free(t);
}

/* GnuTLS asks for the certificate of one handshake: a copy of the current
 * one, freed by GnuTLS with the session. */
static int retrieve(gnutls_session_t session, const struct gnutls_cert_retr_st *info,
                    gnutls_pcert_st **certs, unsigned *ncerts, gnutls_ocsp_data_st **ocsp,
                    unsigned *nocsp, gnutls_privkey_t *pkey, unsigned *flags)
{
    (void)session;
    (void)info;
    *ocsp = NULL;
    *nocsp = 0;
    gnutls_pcert_st *list = NULL;
    gnutls_privkey_t key = NULL;
    unsigned done = 0, want = 0;
    bool ok = false;
    pthread_mutex_lock(&lock);
    bool listening = active != NULL;
    if (listening) {
        const struct creds *c = &active->current;
        want = c->nchain;
        list = gnutls_malloc(want * sizeof *list);
        if (list != NULL && gnutls_privkey_init(&key) == 0 &&
            gnutls_privkey_import_x509(key, c->key, GNUTLS_PRIVKEY_IMPORT_COPY) == 0) {
            while (done < want && gnutls_pcert_import_x509(&list[done], c->chain[done], 0) == 0)
                done++;
            ok = done == want;
        }
    }
    pthread_mutex_unlock(&lock);
    if (!ok) {
        for (unsigned i = 0; i < done; i++)
            gnutls_pcert_deinit(&list[i]);
        gnutls_free(list);
        if (key != NULL)
            gnutls_privkey_deinit(key);
        log_error(NULL, "TLS: no certificate for a handshake (%s)",
                  listening ? "out of memory" : "no TLS listener is set up");
        return -1;
    }
    *certs = list;
    *ncerts = done;
    *pkey = key;
    *flags = GNUTLS_CERT_RETR_DEINIT_ALL;
    return 0;
}

unsigned http_tls_mhd_options(struct http_tls *t, struct MHD_OptionItem opts[HTTP_TLS_MHD_OPTIONS])
{
    size_t n = 0;
    if (t != NULL) {
        pthread_mutex_lock(&lock);
        active = t;
        pthread_mutex_unlock(&lock);
        /* ISO C has no cast from a function pointer to void *; MHD reads the
         * pointer back as the callback's type. */
        gnutls_certificate_retrieve_function3 *fn = retrieve;
        void *ptr;
        _Static_assert(sizeof ptr == sizeof fn, "function and object pointers differ in size");
        memcpy(&ptr, &fn, sizeof ptr);
        opts[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_CERT_CALLBACK2, 0, ptr};
        opts[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_PRIORITIES, 0, (void *)PRIORITIES};
    }
    opts[n] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
    return t != NULL ? MHD_USE_TLS : 0;
}

/* Ed25519 key pairs: generate, write and load PEM (OpenSSL 3 EVP). */
#include "allot/license.h"
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#define KEY_FILE_MAX (16 * 1024)

/* Never prompt on a terminal for the passphrase of an encrypted key. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
    (void)buf;
    (void)size;
    (void)rwflag;
    (void)u;
    return -1;
}

static void openssl_why(char *why, size_t whylen, const char *what)
{
    unsigned long e = ERR_peek_last_error();
    const char *reason = e != 0 ? ERR_reason_error_string(e) : NULL;
    if (reason != NULL)
        lic_whyf(why, whylen, "%s: %s", what, reason);
    else
        lic_whyf(why, whylen, "%s", what);
    ERR_clear_error();
}

EVP_PKEY *lic_key_generate(void)
{
    EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    if (key == NULL)
        ERR_clear_error();
    return key;
}

/* Writes len bytes to a new file beside `path` and moves it into place. */
static int write_file_atomic(const char *path, const char *data, size_t len, mode_t mode,
                             bool overwrite, char *why, size_t whylen)
{
    size_t plen = strlen(path);
    char *tmp = malloc(plen + sizeof(".tmp.XXXXXX"));
    if (tmp == NULL) {
        lic_whyf(why, whylen, "%s: out of memory", path);
        return -1;
    }
    memcpy(tmp, path, plen);
    memcpy(tmp + plen, ".tmp.XXXXXX", sizeof(".tmp.XXXXXX"));
    int fd = mkstemp(tmp); /* mode 0600 */
    if (fd < 0) {
        lic_whyf(why, whylen, "%s: cannot create: %s", path, strerror(errno));
        free(tmp);
        return -1;
    }
    int rc = -1;
    if (fchmod(fd, mode) != 0) {
        lic_whyf(why, whylen, "%s: chmod: %s", path, strerror(errno));
        goto out;
    }
    for (size_t off = 0; off < len;) {
        ssize_t n = write(fd, data + off, len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            lic_whyf(why, whylen, "%s: write: %s", path, strerror(errno));
            goto out;
        }
        off += (size_t)n;
    }
    if (fsync(fd) != 0) {
        lic_whyf(why, whylen, "%s: fsync: %s", path, strerror(errno));
        goto out;
    }
    if (close(fd) != 0) {
        fd = -1;
        lic_whyf(why, whylen, "%s: close: %s", path, strerror(errno));
        goto out;
    }
    fd = -1;
    if (overwrite) {
        if (rename(tmp, path) != 0) {
            lic_whyf(why, whylen, "%s: rename: %s", path, strerror(errno));
            goto out;
        }
    } else {
        /* link() fails when path exists: never replaces a key by accident. */
        if (link(tmp, path) != 0) {
            lic_whyf(why, whylen, "%s: %s", path,
                     errno == EEXIST ? "already exists" : strerror(errno));
            goto out;
        }
    }
    rc = 0;
out:
    if (fd >= 0)
        close(fd);
    unlink(tmp); /* after rename it is gone already; harmless */
    free(tmp);
    return rc;
}

static int write_pem(EVP_PKEY *key, const char *path, bool priv, bool overwrite,
                     char *why, size_t whylen)
{
    if (key == NULL || !EVP_PKEY_is_a(key, "ED25519")) {
        lic_whyf(why, whylen, "%s: not an Ed25519 key", path);
        return -1;
    }
    /* secmem: the buffer holding the private key is cleansed when freed. */
    BIO *bio = BIO_new(priv ? BIO_s_secmem() : BIO_s_mem());
    if (bio == NULL) {
        openssl_why(why, whylen, "cannot allocate");
        return -1;
    }
    int ok = priv ? PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL)
                  : PEM_write_bio_PUBKEY(bio, key);
    if (ok != 1) {
        openssl_why(why, whylen, "cannot encode the key as PEM");
        BIO_free(bio);
        return -1;
    }
    char *data = NULL;
    long len = BIO_get_mem_data(bio, &data);
    int rc = len > 0 ? write_file_atomic(path, data, (size_t)len, priv ? 0600 : 0644,
                                         overwrite, why, whylen)
                     : -1;
    if (len <= 0)
        lic_whyf(why, whylen, "%s: empty PEM", path);
    BIO_free(bio);
    return rc;
}

int lic_key_write_private(EVP_PKEY *key, const char *path, bool overwrite,
                          char *why, size_t whylen)
{
    return write_pem(key, path, true, overwrite, why, whylen);
}

int lic_key_write_public(EVP_PKEY *key, const char *path, bool overwrite,
                         char *why, size_t whylen)
{
    return write_pem(key, path, false, overwrite, why, whylen);
}

char *lic_key_public_pem(EVP_PKEY *key)
{
    if (key == NULL)
        return NULL;
    BIO *bio = BIO_new(BIO_s_mem());
    if (bio == NULL)
        return NULL;
    char *out = NULL;
    if (PEM_write_bio_PUBKEY(bio, key) == 1) {
        char *data = NULL;
        long len = BIO_get_mem_data(bio, &data);
        if (len > 0 && (out = malloc((size_t)len + 1)) != NULL) {
            memcpy(out, data, (size_t)len);
            out[len] = '\0';
        }
    }
    ERR_clear_error();
    BIO_free(bio);
    return out;
}

static EVP_PKEY *load_pem(const char *pem, size_t len, bool priv, const char *src,
                          char *why, size_t whylen)
{
    if (pem == NULL) {
        lic_whyf(why, whylen, "%s: no PEM text", src);
        return NULL;
    }
    if (len == 0)
        len = strlen(pem);
    if (len == 0 || len > KEY_FILE_MAX) {
        lic_whyf(why, whylen, "%s: %s", src, len == 0 ? "empty" : "too large for a key");
        return NULL;
    }
    BIO *bio = BIO_new_mem_buf(pem, (int)len);
    if (bio == NULL) {
        openssl_why(why, whylen, "cannot allocate");
        return NULL;
    }
    EVP_PKEY *key = priv ? PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL)
                         : PEM_read_bio_PUBKEY(bio, NULL, no_passphrase, NULL);
    BIO_free(bio);
    if (key == NULL) {
        /* OpenSSL's own reason ("unsupported", "no start line") says less. */
        lic_whyf(why, whylen, "%s: not %s key in PEM", src,
                 priv ? "an unencrypted private" : "a public");
        ERR_clear_error();
        return NULL;
    }
    ERR_clear_error();
    if (!EVP_PKEY_is_a(key, "ED25519")) {
        lic_whyf(why, whylen, "%s: not an Ed25519 key", src);
        EVP_PKEY_free(key);
        return NULL;
    }
    return key;
}

EVP_PKEY *lic_key_load_private_pem(const char *pem, size_t len, char *why, size_t whylen)
{
    return load_pem(pem, len, true, "private key", why, whylen);
}

EVP_PKEY *lic_key_load_public_pem(const char *pem, size_t len, char *why, size_t whylen)
{
    return load_pem(pem, len, false, "public key", why, whylen);
}

static EVP_PKEY *load_file(const char *path, bool priv, char *why, size_t whylen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        lic_whyf(why, whylen, "%s: %s", path, strerror(errno));
        return NULL;
    }
    char *buf = malloc(KEY_FILE_MAX + 1);
    if (buf == NULL) {
        close(fd);
        lic_whyf(why, whylen, "%s: out of memory", path);
        return NULL;
    }
    size_t len = 0;
    for (;;) {
        ssize_t n = read(fd, buf + len, KEY_FILE_MAX + 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            lic_whyf(why, whylen, "%s: %s", path, strerror(errno));
            close(fd);
            OPENSSL_clear_free(buf, KEY_FILE_MAX + 1);
            return NULL;
        }
        if (n == 0 || (len += (size_t)n) > KEY_FILE_MAX)
            break;
    }
    close(fd);
    EVP_PKEY *key = NULL;
    if (len > KEY_FILE_MAX) {
        lic_whyf(why, whylen, "%s: too large for a key", path);
    } else if (len == 0) {
        lic_whyf(why, whylen, "%s: empty file", path);
    } else {
        key = load_pem(buf, len, priv, path, why, whylen);
    }
    OPENSSL_clear_free(buf, KEY_FILE_MAX + 1);
    return key;
}

EVP_PKEY *lic_key_load_private_file(const char *path, char *why, size_t whylen)
{
    return load_file(path, true, why, whylen);
}

EVP_PKEY *lic_key_load_public_file(const char *path, char *why, size_t whylen)
{
    return load_file(path, false, why, whylen);
}

void lic_whyf(char *why, size_t whylen, const char *fmt, ...)
{
    if (why == NULL || whylen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, whylen, fmt, ap);
    va_end(ap);
}

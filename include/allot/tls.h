/* TLS of a listener (allotd, allot-authority serve): libmicrohttpd's GnuTLS
 * support, with a certificate that can be replaced while the daemon serves.
 *
 * libmicrohttpd has no hot reload of a certificate given as memory.  Instead,
 * every handshake asks a callback for the certificate (GnuTLS's retrieve
 * function), and the callback hands out a copy of the one loaded last; so
 * http_tls_reload (on SIGHUP) changes what new connections see, and the
 * connections already open go on untouched.  A reload that fails (a missing
 * file, a key that does not match) keeps the certificate in use.
 *
 * One TLS listener per process: the callback has no argument of its own. */
#ifndef ALLOT_TLS_H
#define ALLOT_TLS_H

#include <stdbool.h>
#include <stddef.h>

#include <microhttpd.h>

struct http_tls;

/* Loads the PEM certificate (chain, leaf first) and its PEM private key.
 * cert_name and key_name name them in errors ("ALLOT_TLS_CERT", "--tls-cert").
 * NULL with one line in why: unreadable, not PEM, key not matching, or a
 * libmicrohttpd without TLS.  An expired certificate loads, with a warning. */
struct http_tls *http_tls_load(const char *cert_path, const char *key_path,
                               const char *cert_name, const char *key_name,
                               char *why, size_t whylen);
/* Reads both files again; on success new handshakes get the new certificate.
 * On failure nothing changes and why says what is wrong. */
bool http_tls_reload(struct http_tls *t, char *why, size_t whylen);
/* Frees t; the daemon that served it must be stopped first. */
void http_tls_free(struct http_tls *t);

/* The flags and options (ending in MHD_OPTION_END) that make a daemon serve
 * t, given with MHD_OPTION_ARRAY; for t NULL, no flag and no option (plain
 * HTTP). */
#define HTTP_TLS_MHD_OPTIONS 3
unsigned http_tls_mhd_options(struct http_tls *t,
                              struct MHD_OptionItem opts[HTTP_TLS_MHD_OPTIONS]);

#endif

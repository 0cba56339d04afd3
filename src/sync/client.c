/* The HTTP client of the sync: one POST through libcurl with timeouts and a
 * capped reply.  The bearer key never reaches a log. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <openssl/crypto.h>

#include "allot/buf.h"
#include "sync/internal.h"

#define REPLY_MAX (1u << 20)

static size_t on_body(char *p, size_t size, size_t n, void *ctx)
{
    struct buf *b = ctx;
    return buf_append(b, p, size * n) ? size * n : 0; /* 0 aborts the transfer */
}

bool sync_post(const char *base, const char *number, const char *bearer, const char *body,
               long timeout_s, const char *ca_file, char **reply, int64_t *retry_after,
               char *why, size_t whylen)
{
    *reply = NULL;
    if (retry_after != NULL)
        *retry_after = 0;
    CURL *c = curl_easy_init();
    if (c == NULL) {
        snprintf(why, whylen, "cannot start an HTTP client");
        return false;
    }
    size_t blen = strlen(base);
    while (blen > 0 && base[blen - 1] == '/')
        blen--;
    char url[2400];
    snprintf(url, sizeof url, "%.*s/v1/licenses/%s/sync", (int)blen, base, number);
    struct buf auth, out;
    buf_init(&auth, 80 * 1024);
    buf_init(&out, REPLY_MAX);
    buf_printf(&auth, "Authorization: Bearer %s", bearer);
    struct curl_slist *h = NULL;
    h = curl_slist_append(h, auth.data);
    h = curl_slist_append(h, "Content-Type: application/json");
    h = curl_slist_append(h, "Accept: application/jose");
    h = curl_slist_append(h, "Expect:");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &out);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, timeout_s);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, timeout_s < 10 ? timeout_s : 10L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    /* The backend proves its name: a private CA replaces the system's. */
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
    if (ca_file != NULL) {
        curl_easy_setopt(c, CURLOPT_CAINFO, ca_file);
        curl_easy_setopt(c, CURLOPT_CAPATH, NULL);
    }
    char detail[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, detail);
    CURLcode rc = curl_easy_perform(c);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_off_t wait = 0;
    if (status == 429 && curl_easy_getinfo(c, CURLINFO_RETRY_AFTER, &wait) != CURLE_OK)
        wait = 0;
    if (status == 429 && wait < 1)
        wait = 60; /* a 429 without a usable Retry-After: a minute */
    if (status == 429 && wait > 86400)
        wait = 86400;
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    if (auth.data != NULL)
        OPENSSL_cleanse(auth.data, auth.len);
    buf_free(&auth);
    bool ok = false;
    if (rc != CURLE_OK)
        snprintf(why, whylen, "cannot reach the license backend: %s%s%s%s",
                 curl_easy_strerror(rc), detail[0] ? " (" : "", detail, detail[0] ? ")" : "");
    else if (status == 429)
        snprintf(why, whylen, "the license backend answered HTTP 429 (too many syncs of this "
                 "license): retry after %lld s", (long long)wait);
    else if (status != 200)
        snprintf(why, whylen, "the license backend answered HTTP %ld", status);
    else if (out.len == 0)
        snprintf(why, whylen, "the license backend answered an empty body");
    else
        ok = true;
    if (ok) {
        *reply = buf_steal(&out, NULL);
        /* A compact JWS has no whitespace: trim a trailing newline. */
        size_t n = strlen(*reply);
        while (n > 0 && ((*reply)[n - 1] == '\n' || (*reply)[n - 1] == '\r' || (*reply)[n - 1] == ' '))
            (*reply)[--n] = '\0';
    }
    buf_free(&out);
    if (status == 429 && retry_after != NULL)
        *retry_after = (int64_t)wait;
    return ok;
}

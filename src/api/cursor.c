/* Opaque list cursors: base64url(ts_us[8] | uuid[16] | hmac[8]).  The HMAC key
 * is shared by every allotd through the database (server_secrets). */
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "allot/api.h"

#define RAW_LEN 32

static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static bool uuid_to_bytes(const char *uuid, unsigned char out[16])
{
    if (!api_is_uuid(uuid))
        return false;
    size_t j = 0;
    for (size_t i = 0; i < 36; i++) {
        if (uuid[i] == '-')
            continue;
        int hi = hexval(uuid[i]), lo = hexval(uuid[i + 1]);
        out[j++] = (unsigned char)(hi << 4 | lo);
        i++;
    }
    return true;
}

static void bytes_to_uuid(const unsigned char in[16], char out[37])
{
    static const char hex[] = "0123456789abcdef";
    size_t j = 0;
    for (size_t i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[j++] = '-';
        out[j++] = hex[in[i] >> 4];
        out[j++] = hex[in[i] & 15];
    }
    out[36] = '\0';
}

static void mac(const unsigned char key[32], const unsigned char *data, size_t len,
                unsigned char out[8])
{
    unsigned char full[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    HMAC(EVP_sha256(), key, 32, data, len, full, &n);
    memcpy(out, full, 8);
}

void api_cursor_encode(const unsigned char key[32], int64_t ts_us, const char *uuid,
                       char out[API_CURSOR_LEN + 1])
{
    unsigned char raw[RAW_LEN] = {0};
    uint64_t t = (uint64_t)ts_us;
    for (int i = 0; i < 8; i++)
        raw[i] = (unsigned char)(t >> (56 - 8 * i));
    uuid_to_bytes(uuid, raw + 8);
    mac(key, raw, 24, raw + 24);
    /* 32 bytes = 10 groups of 3 + 2 bytes: 43 characters without padding. */
    size_t o = 0;
    for (size_t i = 0; i < RAW_LEN; i += 3) {
        uint32_t v = (uint32_t)raw[i] << 16;
        if (i + 1 < RAW_LEN) v |= (uint32_t)raw[i + 1] << 8;
        if (i + 2 < RAW_LEN) v |= raw[i + 2];
        out[o++] = b64url[(v >> 18) & 63];
        out[o++] = b64url[(v >> 12) & 63];
        if (i + 1 < RAW_LEN) out[o++] = b64url[(v >> 6) & 63];
        if (i + 2 < RAW_LEN) out[o++] = b64url[v & 63];
    }
    out[o] = '\0';
}

static int b64val(char c)
{
    const char *p = c ? strchr(b64url, c) : NULL;
    return p ? (int)(p - b64url) : -1;
}

bool api_cursor_decode(const unsigned char key[32], const char *text, int64_t *ts_us,
                       char uuid[37])
{
    if (strlen(text) != API_CURSOR_LEN)
        return false;
    unsigned char raw[RAW_LEN + 2];
    size_t o = 0;
    for (size_t i = 0; i < API_CURSOR_LEN; i += 4) {
        uint32_t v = 0;
        size_t n = API_CURSOR_LEN - i < 4 ? API_CURSOR_LEN - i : 4;
        for (size_t k = 0; k < 4; k++) {
            int d = k < n ? b64val(text[i + k]) : 0;
            if (d < 0)
                return false;
            v = v << 6 | (uint32_t)d;
        }
        raw[o++] = (unsigned char)(v >> 16);
        if (n > 2) raw[o++] = (unsigned char)(v >> 8);
        if (n > 3) raw[o++] = (unsigned char)v;
    }
    if (o != RAW_LEN)
        return false;
    unsigned char expect[8];
    mac(key, raw, 24, expect);
    if (CRYPTO_memcmp(expect, raw + 24, 8) != 0)
        return false;
    /* Re-encoding must give the same text: refuses non-canonical trailing bits. */
    uint64_t t = 0;
    for (int i = 0; i < 8; i++)
        t = t << 8 | raw[i];
    *ts_us = (int64_t)t;
    bytes_to_uuid(raw + 8, uuid);
    char again[API_CURSOR_LEN + 1];
    api_cursor_encode(key, *ts_us, uuid, again);
    return strcmp(again, text) == 0;
}

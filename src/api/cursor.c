/* Opaque list cursors: base64url(ts_us[8] | uuid[16] | hmac[8]).  The HMAC key
 * is shared by every allotd through the database (server_secrets). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "allot/api.h"
#include "allot/core.h"

#define RAW_LEN 32

/* A UUID's text, 8-4-4-4-12 hex digits, and its 16 bytes. */
static const size_t uuid_groups[] = {4, 2, 2, 2, 6};

static bool uuid_to_bytes(const char *uuid, unsigned char out[16])
{
    if (!api_is_uuid(uuid))
        return false;
    for (size_t g = 0; g < 5; g++) {
        if (!core_unhex(uuid, uuid_groups[g], out))
            return false;
        uuid += 2 * uuid_groups[g] + 1;
        out += uuid_groups[g];
    }
    return true;
}

static void bytes_to_uuid(const unsigned char *in, char out[37])
{
    for (size_t g = 0; g < 5; g++) {
        core_hex(in, uuid_groups[g], out);
        out[2 * uuid_groups[g]] = '-';
        out += 2 * uuid_groups[g] + 1;
        in += uuid_groups[g];
    }
    out[-1] = '\0';
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
    /* 32 bytes: 43 characters without padding. */
    char *text = core_b64url_encode(raw, RAW_LEN);
    snprintf(out, API_CURSOR_LEN + 1, "%s", text ? text : "");
    free(text);
}

bool api_cursor_decode(const unsigned char key[32], const char *text, int64_t *ts_us,
                       char uuid[37])
{
    size_t len = 0;
    unsigned char *raw = strlen(text) == API_CURSOR_LEN
                             ? core_b64url_decode(text, API_CURSOR_LEN, &len) : NULL;
    unsigned char expect[8];
    bool good = raw != NULL && len == RAW_LEN;
    if (good) {
        mac(key, raw, 24, expect);
        good = CRYPTO_memcmp(expect, raw + 24, 8) == 0;
    }
    if (good) {
        uint64_t t = 0;
        for (int i = 0; i < 8; i++)
            t = t << 8 | raw[i];
        *ts_us = (int64_t)t;
        bytes_to_uuid(raw + 8, uuid);
    }
    free(raw);
    return good; /* the decoder refuses a second spelling (trailing bits) */
}

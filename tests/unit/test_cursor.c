/* Unit tests of src/api/cursor.c: opaque list cursors, base64url of
 * (timestamp, uuid, hmac).  A forged, altered or re-keyed cursor is refused
 * (API.md: a forged cursor is 400). */
#include "allot/api.h"

#include <stdio.h>
#include <string.h>

#include "ttest.h"

static const char alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static void key_of(unsigned char key[32], unsigned char seed)
{
    for (int i = 0; i < 32; i++)
        key[i] = (unsigned char)(seed + 7 * i);
}

#define UUID1 "0f8fad5b-d9cb-469f-a165-70867728950e"

static void test_round_trip(void)
{
    static const struct {
        int64_t ts;
        const char *uuid;
    } cases[] = {
        {1718452800123456, UUID1},
        {0, "00000000-0000-0000-0000-000000000000"},
        {1, "ffffffff-ffff-ffff-ffff-ffffffffffff"},
        {INT64_MAX, "7c9e6679-7425-40de-944b-e07fc1f90ae7"},
        {-1, UUID1},
    };
    unsigned char key[32];
    key_of(key, 1);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char text[API_CURSOR_LEN + 1];
        api_cursor_encode(key, cases[i].ts, cases[i].uuid, text);
        T_EQ_INT(strlen(text), API_CURSOR_LEN);
        T_EQ_INT(strspn(text, alphabet), API_CURSOR_LEN); /* URL-safe, no padding */
        int64_t ts = 0;
        char uuid[37] = "";
        T_CHECK(api_cursor_decode(key, text, &ts, uuid));
        T_EQ_INT(ts, cases[i].ts);
        T_EQ_STR(uuid, cases[i].uuid);
    }
    /* Upper-case input decodes to the canonical lower-case id. */
    char text[API_CURSOR_LEN + 1];
    api_cursor_encode(key, 5, "0F8FAD5B-D9CB-469F-A165-70867728950E", text);
    int64_t ts;
    char uuid[37];
    T_CHECK(api_cursor_decode(key, text, &ts, uuid));
    T_EQ_STR(uuid, UUID1);
}

static void test_deterministic_and_distinct(void)
{
    unsigned char key[32];
    key_of(key, 1);
    char a[API_CURSOR_LEN + 1], b[API_CURSOR_LEN + 1], c[API_CURSOR_LEN + 1];
    api_cursor_encode(key, 42, UUID1, a);
    api_cursor_encode(key, 42, UUID1, b);
    api_cursor_encode(key, 43, UUID1, c);
    T_EQ_STR(a, b);
    T_CHECK(strcmp(a, c) != 0);
}

/* Any single changed character makes the cursor invalid. */
static void test_altered_char_refused(void)
{
    unsigned char key[32];
    key_of(key, 1);
    char good[API_CURSOR_LEN + 1];
    api_cursor_encode(key, 1718452800123456, UUID1, good);
    int accepted = 0;
    for (size_t pos = 0; pos < API_CURSOR_LEN; pos++)
        for (size_t k = 0; k < 64; k++) {
            if (alphabet[k] == good[pos])
                continue;
            char bad[API_CURSOR_LEN + 1];
            memcpy(bad, good, sizeof bad);
            bad[pos] = alphabet[k];
            int64_t ts;
            char uuid[37];
            if (api_cursor_decode(key, bad, &ts, uuid)) {
                if (accepted++ < 5)
                    printf("#   altered at %zu to '%c' accepted\n", pos, alphabet[k]);
            }
        }
    T_EQ_INT(accepted, 0);
}

static void test_other_key_refused(void)
{
    unsigned char key[32], other[32];
    key_of(key, 1);
    key_of(other, 2);
    char text[API_CURSOR_LEN + 1];
    api_cursor_encode(key, 99, UUID1, text);
    int64_t ts;
    char uuid[37];
    T_CHECK(!api_cursor_decode(other, text, &ts, uuid));
    other[31] ^= 1; /* one bit of difference is enough */
    key_of(other, 1);
    other[31] ^= 1;
    T_CHECK(!api_cursor_decode(other, text, &ts, uuid));
    T_CHECK(api_cursor_decode(key, text, &ts, uuid));
}

static void test_wrong_length(void)
{
    unsigned char key[32];
    key_of(key, 1);
    char text[API_CURSOR_LEN + 2];
    api_cursor_encode(key, 99, UUID1, text);
    int64_t ts;
    char uuid[37];
    char shorter[API_CURSOR_LEN + 1];
    memcpy(shorter, text, API_CURSOR_LEN - 1);
    shorter[API_CURSOR_LEN - 1] = '\0';
    T_CHECK(!api_cursor_decode(key, shorter, &ts, uuid));
    char longer[API_CURSOR_LEN + 2];
    memcpy(longer, text, API_CURSOR_LEN);
    longer[API_CURSOR_LEN] = 'A';
    longer[API_CURSOR_LEN + 1] = '\0';
    T_CHECK(!api_cursor_decode(key, longer, &ts, uuid));
    char padded[API_CURSOR_LEN + 2];
    memcpy(padded, text, API_CURSOR_LEN);
    padded[API_CURSOR_LEN] = '=';
    padded[API_CURSOR_LEN + 1] = '\0';
    T_CHECK(!api_cursor_decode(key, padded, &ts, uuid));
    T_CHECK(!api_cursor_decode(key, "", &ts, uuid));
    T_CHECK(!api_cursor_decode(key, "abc", &ts, uuid));
}

static void test_non_base64url_refused(void)
{
    static const char bad_chars[] = "+/=. %\"\\\x01\x7f\xc3";
    unsigned char key[32];
    key_of(key, 1);
    char good[API_CURSOR_LEN + 1];
    api_cursor_encode(key, 7, UUID1, good);
    static const size_t positions[] = {0, 1, 20, API_CURSOR_LEN - 2, API_CURSOR_LEN - 1};
    for (size_t p = 0; p < sizeof positions / sizeof positions[0]; p++)
        for (const char *c = bad_chars; *c != '\0'; c++) {
            char bad[API_CURSOR_LEN + 1];
            memcpy(bad, good, sizeof bad);
            bad[positions[p]] = *c;
            int64_t ts;
            char uuid[37];
            bool ok = api_cursor_decode(key, bad, &ts, uuid);
            if (ok)
                printf("#   0x%02x at %zu accepted\n", (unsigned char)*c, positions[p]);
            T_CHECK(!ok);
        }
}

/* The last character carries 4 bits of data and 2 unused bits: a cursor that
 * differs only there decodes to the same bytes and MAC, and must still be
 * refused so that each position has exactly one spelling. */
static void test_non_canonical_last_char(void)
{
    unsigned char key[32];
    key_of(key, 1);
    char good[API_CURSOR_LEN + 1];
    api_cursor_encode(key, 1718452800123456, UUID1, good);
    const char *at = strchr(alphabet, good[API_CURSOR_LEN - 1]);
    T_REQUIRE(at != NULL);
    int v = (int)(at - alphabet);
    T_EQ_INT(v & 3, 0); /* canonical: unused bits are zero */
    for (int low = 1; low < 4; low++) {
        char bad[API_CURSOR_LEN + 1];
        memcpy(bad, good, sizeof bad);
        bad[API_CURSOR_LEN - 1] = alphabet[v | low];
        int64_t ts;
        char uuid[37];
        T_CHECK(!api_cursor_decode(key, bad, &ts, uuid));
    }
}

int main(void)
{
    T_RUN(test_round_trip);
    T_RUN(test_deterministic_and_distinct);
    T_RUN(test_altered_char_refused);
    T_RUN(test_other_key_refused);
    T_RUN(test_wrong_length);
    T_RUN(test_non_base64url_refused);
    T_RUN(test_non_canonical_last_char);
    return t_done();
}

/* Fuzz target: list cursors (src/api/cursor.c), which come back from clients.
 * A cursor is only good as given: whatever decodes must encode to the very
 * same text (an altered cursor is refused), and every position encodes to a
 * cursor that decodes to it.  The key is fixed, so the seed corpus can hold
 * real cursors (tests/fuzz/corpus/cursor/). */
#include "fuzz.h"

#include "allot/api.h"

static const unsigned char key[32] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
                                      17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30,
                                      31, 32};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_text(data, size);
    if (text == NULL)
        return 0;
    int64_t ts;
    char uuid[37];
    if (api_cursor_decode(key, text, &ts, uuid)) {
        FUZZ_ASSERT(api_is_uuid(uuid));
        char again[API_CURSOR_LEN + 1];
        api_cursor_encode(key, ts, uuid, again);
        FUZZ_ASSERT(strcmp(again, text) == 0);
    }
    free(text);
    /* The first 24 bytes as a position: it must come back whole. */
    if (size >= 24) {
        int64_t t = 0;
        for (int i = 0; i < 8; i++)
            t = (int64_t)((uint64_t)t << 8 | data[i]);
        static const char hex[] = "0123456789abcdef";
        char id[37];
        size_t j = 0;
        for (size_t i = 8; i < 24; i++) {
            if (i == 12 || i == 14 || i == 16 || i == 18)
                id[j++] = '-';
            id[j++] = hex[data[i] >> 4];
            id[j++] = hex[data[i] & 15];
        }
        id[36] = '\0';
        char cursor[API_CURSOR_LEN + 1];
        api_cursor_encode(key, t, id, cursor);
        FUZZ_ASSERT(api_cursor_decode(key, cursor, &ts, uuid));
        FUZZ_ASSERT(ts == t && strcmp(uuid, id) == 0);
    }
    return 0;
}

/* Fuzz target: SCIM filters (src/core/scim_filter.c), which come from the
 * query of GET /scim/v2/Users and /Groups.  Properties: what parses has
 * canonical text that parses back to the very same filter; an attribute a
 * route does not allow is never taken; a refused filter leaves nothing. */
#include "fuzz.h"

#include "allot/scim_filter.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_text(data, size);
    if (text == NULL)
        return 0;
    unsigned all = (1u << SCIM_ATTR_COUNT) - 1;
    struct scim_filter f, g;
    if (scim_filter_parse(text, all, &f) == NULL) {
        for (size_t a = 0; a < SCIM_ATTR_COUNT; a++)
            FUZZ_ASSERT(f.value[a] == NULL || strlen(f.value[a]) <= SCIM_VALUE_MAX);
        if (!f.none) {
            char canon[4 * SCIM_FILTER_MAX + 64];
            FUZZ_ASSERT(scim_filter_format(&f, canon, sizeof canon));
            const char *why = scim_filter_parse(canon, all, &g);
            if (why == NULL) {
                for (size_t a = 0; a < SCIM_ATTR_COUNT; a++)
                    FUZZ_ASSERT((f.value[a] == NULL) == (g.value[a] == NULL) &&
                                (f.value[a] == NULL || strcmp(f.value[a], g.value[a]) == 0));
                FUZZ_ASSERT(!g.none);
                scim_filter_free(&g);
            } else {
                /* only a canonical text over the length cap may be refused */
                FUZZ_ASSERT(strlen(canon) > SCIM_FILTER_MAX);
            }
        }
        scim_filter_free(&f);
    } else {
        for (size_t a = 0; a < SCIM_ATTR_COUNT; a++)
            FUZZ_ASSERT(f.value[a] == NULL);
    }
    /* a route that takes userName only takes nothing else */
    if (scim_filter_parse(text, SCIM_ATTR_BIT(SCIM_ATTR_USER_NAME), &f) == NULL) {
        FUZZ_ASSERT(f.value[SCIM_ATTR_ID] == NULL && f.value[SCIM_ATTR_EXTERNAL_ID] == NULL &&
                    f.value[SCIM_ATTR_DISPLAY_NAME] == NULL);
        scim_filter_free(&f);
    }
    free(text);
    return 0;
}

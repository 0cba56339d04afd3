/* Unit tests of the error registry (include/allot/errors.def, src/http/errors.c): every
 * entry is well formed and unique, and API.md's table of statuses and error
 * types is in it. */
#include "allot/errors.h"

#include <stdio.h>
#include <string.h>

#include "ttest.h"

/* The entries as errors.def spells them, for names and a cross-check. */
static const struct {
    const char *name;
    unsigned status;
    const char *type;
    const char *message;
} def[] = {
#define ERR(name, status, type, message) {#name, status, type, message},
#include "allot/errors.def"
#undef ERR
};
#define NDEF (sizeof def / sizeof def[0])

static void test_count(void)
{
    T_EQ_INT(NDEF, HTTP_ERR_COUNT_);
    T_CHECK(NDEF >= 16);
}

static void test_each_entry(void)
{
    for (size_t i = 0; i < NDEF; i++) {
        const struct http_error_info *e = http_error_get((enum http_error)i);
        T_REQUIRE(e != NULL);
        T_EQ_INT(e->status, def[i].status);
        T_EQ_STR(e->type, def[i].type);
        T_EQ_STR(e->message, def[i].message);
        if (e->status < 400 || e->status > 599)
            printf("#   %s has status %u\n", def[i].name, e->status);
        T_CHECK(e->status >= 400 && e->status <= 599);
        T_CHECK(strncmp(e->type, "LICENSES-", 9) == 0);
        T_CHECK(strlen(e->type) > 9);
        T_CHECK(e->message != NULL && e->message[0] != '\0');
        /* A message is text for people: no SQL, no newline. */
        T_CHECK(strchr(e->message, '\n') == NULL);
    }
}

static void test_unique(void)
{
    for (size_t i = 0; i < NDEF; i++)
        for (size_t k = i + 1; k < NDEF; k++) {
            if (strcmp(def[i].name, def[k].name) == 0 || strcmp(def[i].type, def[k].type) == 0)
                printf("#   entries %zu and %zu repeat %s / %s\n", i, k, def[i].name,
                       def[i].type);
            T_CHECK(strcmp(def[i].name, def[k].name) != 0);
            T_CHECK(strcmp(def[i].type, def[k].type) != 0);
        }
}

static void test_out_of_range_is_internal(void)
{
    const struct http_error_info *e = http_error_get(HTTP_ERR_COUNT_);
    T_REQUIRE(e != NULL);
    T_EQ_INT(e->status, 500);
    T_EQ_STR(e->type, http_error_get(HTTP_ERR_INTERNAL)->type);
}

/* API.md, "Conventions": the table of statuses and error types. */
static void test_api_md_table(void)
{
    static const struct {
        unsigned status;
        const char *type;
    } api[] = {
        {400, "LICENSES-BadRequest"},
        {400, "LICENSES-InvalidLicense"},
        {401, "LICENSES-Unauthorized"},
        {403, "LICENSES-Forbidden"},
        {403, "LICENSES-OutdatedLicense"},
        {403, "LICENSES-NoLicense"},
        {403, "LICENSES-NoAccessPass"},
        {403, "LICENSES-TooManySessions"},
        {404, "LICENSES-NotFound"},
        {405, "LICENSES-MethodNotAllowed"},
        {409, "LICENSES-Conflict"},
        {409, "LICENSES-NoAvailableAllotment"},
        {413, "LICENSES-PayloadTooLarge"},
        {415, "LICENSES-UnsupportedMediaType"},
        {502, "LICENSES-BackendUnavailable"},
        {503, "LICENSES-Unavailable"},
    };
    T_EQ_INT(sizeof api / sizeof api[0], 16);
    for (size_t i = 0; i < sizeof api / sizeof api[0]; i++) {
        bool found = false;
        for (size_t k = 0; k < NDEF; k++) {
            const struct http_error_info *e = http_error_get((enum http_error)k);
            if (strcmp(e->type, api[i].type) == 0) {
                found = true;
                if (e->status != api[i].status)
                    printf("#   %s: status %u, API.md says %u\n", api[i].type, e->status,
                           api[i].status);
                T_EQ_INT(e->status, api[i].status);
            }
        }
        if (!found)
            printf("#   %s (%u) is not in errors.def\n", api[i].type, api[i].status);
        T_CHECK(found);
    }
}

/* The messages API.md quotes are the registry's defaults. */
static void test_api_md_messages(void)
{
    T_EQ_STR(http_error_get(HTTP_ERR_OUTDATED_LICENSE)->message,
             "Too much time has passed since the last license update");
    T_EQ_STR(http_error_get(HTTP_ERR_NO_ACCESS_PASS)->message,
             "You cannot access the site because you have no access pass");
    T_EQ_STR(http_error_get(HTTP_ERR_TOO_MANY_SESSIONS)->message,
             "Too many sessions active in parallel");
    T_EQ_INT(http_error_get(HTTP_ERR_UNAVAILABLE)->status, 503);
    T_EQ_INT(http_error_get(HTTP_ERR_INTERNAL)->status, 500);
}

int main(void)
{
    T_RUN(test_count);
    T_RUN(test_each_entry);
    T_RUN(test_unique);
    T_RUN(test_out_of_range_is_internal);
    T_RUN(test_api_md_table);
    T_RUN(test_api_md_messages);
    return t_done();
}

/* SCIM's pure parts: filters (src/core/scim_filter.c), PATCH of a user and
 * of a group (src/api/scim_patch.c) with Entra's and Okta's quirks, and the
 * error shape (src/api/scim_meta.c). */
#include <stdlib.h>
#include <string.h>

#include "allot/scim.h"
#include "allot/scim_filter.h"
#include "ttest.h"

static void test_filter_accepts(void)
{
    unsigned users = SCIM_ATTR_BIT(SCIM_ATTR_ID) | SCIM_ATTR_BIT(SCIM_ATTR_USER_NAME) |
                     SCIM_ATTR_BIT(SCIM_ATTR_EXTERNAL_ID);
    struct scim_filter f;
    T_REQUIRE(scim_filter_parse("userName eq \"ann@example.com\"", users, &f) == NULL);
    T_EQ_STR(f.value[SCIM_ATTR_USER_NAME], "ann@example.com");
    T_CHECK(f.value[SCIM_ATTR_EXTERNAL_ID] == NULL && !f.none);
    scim_filter_free(&f);
    /* case-insensitive names and words, a schema URN, escapes, and */
    T_REQUIRE(scim_filter_parse("  USERNAME Eq \"a\\\"b\\u00e9\"  AND "
                                "urn:ietf:params:scim:schemas:core:2.0:User:externalId eq \"x\" ",
                                users, &f) == NULL);
    T_EQ_STR(f.value[SCIM_ATTR_USER_NAME], "a\"b\xc3\xa9");
    T_EQ_STR(f.value[SCIM_ATTR_EXTERNAL_ID], "x");
    char canon[256];
    T_CHECK(scim_filter_format(&f, canon, sizeof canon));
    T_EQ_STR(canon, "userName eq \"a\\\"b\xc3\xa9\" and externalId eq \"x\"");
    scim_filter_free(&f);
    /* one attribute twice with two values matches nothing */
    T_REQUIRE(scim_filter_parse("userName eq \"a\" and userName eq \"b\"", users, &f) == NULL);
    T_CHECK(f.none);
    scim_filter_free(&f);
}

static void test_filter_refuses(void)
{
    unsigned users = SCIM_ATTR_BIT(SCIM_ATTR_USER_NAME) | SCIM_ATTR_BIT(SCIM_ATTR_EXTERNAL_ID);
    static const char *const bad[] = {
        "", "userName", "userName eq", "userName eq ann", "userName ne \"a\"",
        "userName eq \"a\" or userName eq \"b\"", "(userName eq \"a\")", "emails eq \"a\"",
        "displayName eq \"Sales\"", "userName eq \"a", "userName eq \"\\u0000\"",
        "userName eq \"\\ud800\"", "userName eq \"a\"and", "userName eq \"a\" and",
        "userName eq \"\x01\"", "userName eq \"\xff\"", "userName eq true",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct scim_filter f;
        const char *why = scim_filter_parse(bad[i], users, &f);
        if (why == NULL)
            printf("#   accepted: %s\n", bad[i]);
        T_CHECK(why != NULL);
        for (size_t a = 0; a < SCIM_ATTR_COUNT; a++)
            T_CHECK(f.value[a] == NULL);
    }
}

static json_t *user(void)
{
    return json_pack("{s:s, s:s, s:b, s:{s:s, s:s}, s:[{s:s, s:s}]}", "id", "u-1", "userName",
                     "ann", "active", 1, "name", "givenName", "Ann", "familyName", "Lee",
                     "emails", "type", "work", "value", "ann@old.example");
}

static bool patch(json_t *u, const char *body, struct scim_fault *f)
{
    json_t *b = json_loads(body, 0, NULL);
    bool ok = b != NULL && scim_patch_user(u, b, f);
    json_decref(b);
    return ok;
}

static void test_patch_entra(void)
{
    json_t *u = user();
    struct scim_fault f = {0};
    T_CHECK(patch(u, "{\"schemas\":[\"urn:ietf:params:scim:api:messages:2.0:PatchOp\"],"
                     "\"Operations\":[{\"op\":\"Replace\",\"path\":\"active\",\"value\":\"False\"},"
                     "{\"op\":\"Replace\",\"path\":\"emails[type eq \\\"work\\\"].value\","
                     "\"value\":\"ann@new.example\"},"
                     "{\"op\":\"Add\",\"path\":\"urn:ietf:params:scim:schemas:extension:enterprise:"
                     "2.0:User:department\",\"value\":\"Sales\"},"
                     "{\"op\":\"replace\",\"value\":{\"name.familyName\":\"Leigh\"}}]}", &f));
    bool active = true;
    T_CHECK(scim_bool(json_object_get(u, "active"), &active) && !active);
    T_EQ_STR(json_string_value(json_object_get(json_array_get(json_object_get(u, "emails"), 0),
                                               "value")), "ann@new.example");
    T_EQ_INT((long)json_array_size(json_object_get(u, "emails")), 1);
    T_EQ_STR(json_string_value(json_object_get(
                 json_object_get(u, "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"),
                 "department")), "Sales");
    T_EQ_STR(json_string_value(json_object_get(json_object_get(u, "name"), "familyName")), "Leigh");
    T_EQ_STR(json_string_value(json_object_get(json_object_get(u, "name"), "givenName")), "Ann");
    /* a replace of an email type there is not: the element is made */
    T_CHECK(patch(u, "{\"Operations\":[{\"op\":\"replace\",\"path\":\"emails[type eq \\\"home\\\"].value\","
                     "\"value\":\"ann@home.example\"}]}", &f));
    T_EQ_INT((long)json_array_size(json_object_get(u, "emails")), 2);
    json_decref(u);
}

static void test_patch_okta_and_refusals(void)
{
    json_t *u = user();
    struct scim_fault f = {0};
    /* Okta: replace without a path, the id sent along */
    T_CHECK(patch(u, "{\"Operations\":[{\"op\":\"replace\",\"value\":{\"id\":\"u-1\",\"active\":false}}]}", &f));
    T_CHECK(json_is_false(json_object_get(u, "active")));
    T_CHECK(!patch(u, "{\"Operations\":[{\"op\":\"replace\",\"path\":\"id\",\"value\":\"u-2\"}]}", &f));
    T_EQ_STR(f.scim_type, "mutability");
    T_CHECK(!patch(u, "{\"Operations\":[{\"op\":\"add\",\"path\":\"groups\",\"value\":[]}]}", &f));
    T_EQ_STR(f.scim_type, "mutability");
    T_CHECK(!patch(u, "{\"Operations\":[{\"op\":\"remove\"}]}", &f));
    T_EQ_STR(f.scim_type, "noTarget");
    T_CHECK(!patch(u, "{\"Operations\":[{\"op\":\"move\",\"path\":\"active\"}]}", &f));
    T_EQ_STR(f.scim_type, "invalidSyntax");
    T_CHECK(!patch(u, "{\"Operations\":[]}", &f));
    T_CHECK(!patch(u, "{\"Operations\":[{\"op\":\"add\",\"path\":\"emails[type zz \\\"a\\\"]\",\"value\":1}]}", &f));
    T_EQ_STR(f.scim_type, "invalidFilter");
    T_CHECK(patch(u, "{\"Operations\":[{\"op\":\"remove\",\"path\":\"emails[type eq \\\"work\\\"]\"},"
                     "{\"op\":\"remove\",\"path\":\"name.givenName\"}]}", &f));
    T_EQ_INT((long)json_array_size(json_object_get(u, "emails")), 0);
    T_CHECK(json_object_get(json_object_get(u, "name"), "givenName") == NULL);
    T_EQ_STR(json_string_value(json_object_get(u, "id")), "u-1");
    json_decref(u);
}

static void test_patch_group(void)
{
    json_t *b = json_loads(
        "{\"Operations\":[{\"op\":\"Add\",\"path\":\"members\",\"value\":[{\"value\":\"a\"},{\"value\":\"b\"}]},"
        "{\"op\":\"Remove\",\"path\":\"members[value eq \\\"a\\\"]\"},"
        "{\"op\":\"remove\",\"path\":\"members\",\"value\":[{\"value\":\"c\"}]},"
        "{\"op\":\"replace\",\"value\":{\"id\":\"g\",\"displayName\":\"Field\"}}]}", 0, NULL);
    struct scim_group_patch g;
    struct scim_fault f = {0};
    T_REQUIRE(scim_patch_group(b, &g, &f));
    T_CHECK(g.replace == NULL);
    T_EQ_INT((long)json_array_size(g.add), 1);
    T_EQ_STR(json_string_value(json_array_get(g.add, 0)), "b");
    T_EQ_INT((long)json_array_size(g.remove), 2);
    T_EQ_STR(g.display, "Field");
    scim_group_patch_free(&g);
    json_decref(b);
    /* a replace, then an add: one whole list */
    b = json_loads("{\"Operations\":[{\"op\":\"replace\",\"path\":\"members\",\"value\":[{\"value\":\"a\"}]},"
                   "{\"op\":\"add\",\"path\":\"members\",\"value\":[{\"value\":\"b\"}]}]}", 0, NULL);
    T_REQUIRE(scim_patch_group(b, &g, &f));
    T_EQ_INT((long)json_array_size(g.replace), 2);
    scim_group_patch_free(&g);
    json_decref(b);
    b = json_loads("{\"Operations\":[{\"op\":\"add\",\"path\":\"owner\",\"value\":\"x\"}]}", 0, NULL);
    T_CHECK(!scim_patch_group(b, &g, &f));
    T_EQ_STR(f.scim_type, "invalidPath");
    scim_group_patch_free(&g);
    json_decref(b);
}

static void test_error_shape(void)
{
    json_t *e = scim_error_shape(json_pack("{s:s, s:s, s:i, s:s, s:s}", "errorType",
                                           "LICENSES-Conflict", "message", "taken", "statusCode",
                                           409, "corrId", "c1", "field", "userName"));
    T_EQ_STR(json_string_value(json_array_get(json_object_get(e, "schemas"), 0)),
             "urn:ietf:params:scim:api:messages:2.0:Error");
    T_EQ_STR(json_string_value(json_object_get(e, "status")), "409");
    T_EQ_STR(json_string_value(json_object_get(e, "scimType")), "uniqueness");
    T_EQ_STR(json_string_value(json_object_get(e, "detail")), "taken");
    T_EQ_STR(json_string_value(json_object_get(e, "errorType")), "LICENSES-Conflict");
    json_decref(e);
}

int main(void)
{
    T_RUN(test_filter_accepts);
    T_RUN(test_filter_refuses);
    T_RUN(test_patch_entra);
    T_RUN(test_patch_okta_and_refusals);
    T_RUN(test_patch_group);
    T_RUN(test_error_shape);
    return t_done();
}

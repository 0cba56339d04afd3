/* Fuzz target: SCIM PATCH bodies (src/api/scim_patch.c) as Entra, Okta and
 * anyone else send them, applied to a user and read as a group's changes.
 * Properties: whatever the operations, the user stays a JSON object and its
 * id is never changed; a group's member lists hold only strings. */
#include "fuzz.h"

#include "allot/scim.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *body = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
    if (body == NULL)
        return 0;
    json_t *user = json_pack("{s:s, s:s, s:b, s:{s:s}, s:[{s:s, s:s}]}", "id",
                             "6b1f0c2e-8d7a-4f43-9a55-2e1c0d9b7a10", "userName", "ann", "active", 1,
                             "name", "givenName", "Ann", "emails", "type", "work", "value",
                             "ann@example.com");
    struct scim_fault f = {0};
    bool ok = scim_patch_user(user, body, &f);
    FUZZ_ASSERT(json_is_object(user));
    FUZZ_ASSERT(strcmp(json_string_value(json_object_get(user, "id")),
                       "6b1f0c2e-8d7a-4f43-9a55-2e1c0d9b7a10") == 0);
    if (!ok)
        FUZZ_ASSERT(f.detail[0] != '\0');
    json_decref(user);

    struct scim_group_patch g;
    memset(&f, 0, sizeof f);
    if (scim_patch_group(body, &g, &f)) {
        const json_t *lists[] = {g.replace, g.add, g.remove};
        for (size_t i = 0; i < 3; i++) {
            size_t j;
            const json_t *v;
            json_array_foreach(lists[i], j, v) FUZZ_ASSERT(json_is_string(v));
        }
    } else {
        FUZZ_ASSERT(f.detail[0] != '\0');
    }
    scim_group_patch_free(&g);
    json_decref(body);
    return 0;
}

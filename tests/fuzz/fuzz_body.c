/* Fuzz target: a request body as allotd reads it (json_loadb with duplicate
 * keys refused, as src/http/daemon.c does) checked against field specs of
 * every kind (src/http/json_spec.c).  The first byte picks the spec. */
#include "fuzz.h"

#include <jansson.h>

#include "allot/json_spec.h"

static const struct jspec user_spec[] = {
    {"userDirectory", JS_STRING, true, 1, 255, 0},
    {"userId", JS_STRING, true, 1, 255, 0},
    {"name", JS_STRING, false, 0, 255, 0},
    {"groups", JS_STRING_ARRAY, false, 1, 255, 100},
};
static const struct jspec rule_spec[] = {
    {"name", JS_STRING, true, 1, 200, 0},
    {"accessType", JS_STRING, true, 1, 32, 0},
    {"match", JS_OBJECT, true, 0, 0, 0},
    {"tokens", JS_INT, false, 0, 1000000, 0},
    {"enabled", JS_BOOL, false, 0, 0, 0},
};
static const struct jspec match_spec[] = {
    {"groups", JS_STRING_ARRAY, false, 1, 255, 100},
    {"userDirectories", JS_STRING_ARRAY, false, 1, 255, 100},
};

static void check(const json_t *body, const struct jspec *spec, size_t n)
{
    json_t *out[8];
    const char *field = NULL;
    const char *why = jspec_check(body, spec, n, out, &field);
    if (why != NULL) {
        /* A refusal names a member of the spec or of the body, or none. */
        FUZZ_ASSERT(strlen(why) > 0);
        return;
    }
    /* Accepted: every required member is there, every value is of its kind. */
    for (size_t i = 0; i < n; i++) {
        if (spec[i].required)
            FUZZ_ASSERT(out[i] != NULL);
        if (out[i] == NULL)
            continue;
        switch (spec[i].type) {
        case JS_STRING:
            FUZZ_ASSERT(json_is_string(out[i]));
            FUZZ_ASSERT(jspec_text_ok(json_string_value(out[i]), spec[i].min, spec[i].max) == NULL);
            break;
        case JS_STRING_ARRAY:
            FUZZ_ASSERT(json_is_array(out[i]) && json_array_size(out[i]) <= spec[i].max_items);
            break;
        case JS_INT:
            FUZZ_ASSERT(json_is_integer(out[i]));
            FUZZ_ASSERT(json_integer_value(out[i]) >= spec[i].min &&
                        json_integer_value(out[i]) <= spec[i].max);
            break;
        case JS_BOOL:
            FUZZ_ASSERT(json_is_boolean(out[i]));
            break;
        case JS_OBJECT:
            FUZZ_ASSERT(json_is_object(out[i]));
            break;
        case JS_ARRAY:
            FUZZ_ASSERT(json_is_array(out[i]) && json_array_size(out[i]) >= (size_t)spec[i].min &&
                        json_array_size(out[i]) <= spec[i].max_items);
            break;
        }
    }
    if (spec == rule_spec && out[2] != NULL)
        check(out[2], match_spec, sizeof match_spec / sizeof match_spec[0]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    uint8_t pick = data[0];
    json_error_t err;
    json_t *body = json_loadb((const char *)data + 1, size - 1, JSON_REJECT_DUPLICATES, &err);
    if (body == NULL)
        return 0;
    switch (pick % 3) {
    case 0: check(body, user_spec, sizeof user_spec / sizeof user_spec[0]); break;
    case 1: check(body, rule_spec, sizeof rule_spec / sizeof rule_spec[0]); break;
    default: check(body, match_spec, sizeof match_spec / sizeof match_spec[0]); break;
    }
    json_decref(body);
    /* Query parameters reach jspec_text_ok unchecked by jansson. */
    char *text = fuzz_text(data + 1, size - 1);
    if (text != NULL)
        jspec_text_ok(text, 0, 255);
    free(text);
    return 0;
}

/* Unit tests of src/http/json_spec.c: the declarative body validation that
 * names the field it refuses (API.md: 400 LICENSES-BadRequest with "field"). */
#include "allot/json_spec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ttest.h"

static const struct jspec spec[] = {
    {"name", JS_STRING, true, 1, 255, 0},
    {"note", JS_STRING, false, 0, 10, 0},
    {"groups", JS_STRING_ARRAY, false, 1, 5, 3},
    {"count", JS_INT, false, 0, 100, 0},
    {"flag", JS_BOOL, false, 0, 0, 0},
    {"match", JS_OBJECT, false, 0, 0, 0},
};
#define NSPEC (sizeof spec / sizeof spec[0])

struct outcome {
    const char *why;
    const char *field;
    json_t *out[NSPEC];
    json_t *body;
};

/* Parses text and checks it; the caller frees o->body. */
static void check(const char *text, struct outcome *o)
{
    json_error_t err;
    memset(o, 0, sizeof *o);
    o->body = json_loads(text, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &err);
    if (o->body == NULL) {
        printf("#   bad test JSON %s: %s\n", text, err.text);
        o->why = "unparsable";
        return;
    }
    o->why = jspec_check(o->body, spec, NSPEC, o->out, &o->field);
}

/* One body that must be refused, naming field (NULL: none). */
static bool refused(const char *text, const char *field)
{
    struct outcome o;
    check(text, &o);
    bool ok = o.why != NULL && o.body != NULL &&
              (field == NULL ? o.field == NULL : o.field != NULL && strcmp(o.field, field) == 0);
    if (!ok)
        printf("#   %s: why=%s field=%s (expected %s)\n", text, o.why ? o.why : "(accepted)",
               o.field ? o.field : "(none)", field ? field : "(none)");
    json_decref(o.body);
    return ok;
}

static bool accepted(const char *text)
{
    struct outcome o;
    check(text, &o);
    if (o.why != NULL)
        printf("#   %s refused: %s %s\n", text, o.field ? o.field : "", o.why);
    json_decref(o.body);
    return o.why == NULL;
}

static void test_valid_body(void)
{
    struct outcome o;
    check("{\"name\":\"alice\",\"note\":\"hi\",\"groups\":[\"a\",\"b\"],\"count\":7,"
          "\"flag\":true,\"match\":{\"x\":1}}", &o);
    T_REQUIRE(o.body != NULL);
    T_CHECK(o.why == NULL);
    T_CHECK(o.field == NULL);
    T_EQ_STR(json_string_value(o.out[0]), "alice");
    T_EQ_STR(json_string_value(o.out[1]), "hi");
    T_EQ_INT(json_array_size(o.out[2]), 2);
    T_EQ_INT(json_integer_value(o.out[3]), 7);
    T_CHECK(json_is_true(o.out[4]));
    T_CHECK(json_is_object(o.out[5]));
    json_decref(o.body);

    check("{\"name\":\"bob\"}", &o);
    T_CHECK(o.why == NULL);
    for (size_t i = 1; i < NSPEC; i++)
        T_CHECK(o.out[i] == NULL); /* absent optional members */
    json_decref(o.body);
}

static void test_unknown_member_named(void)
{
    T_CHECK(refused("{\"name\":\"a\",\"bogus\":1}", "bogus"));
    T_CHECK(refused("{\"Name\":\"a\"}", "Name")); /* member names are case-sensitive */
    T_CHECK(refused("{\"name\":\"a\",\"\":1}", ""));
}

static void test_required_missing(void)
{
    T_CHECK(refused("{}", "name"));
    T_CHECK(refused("{\"note\":\"x\"}", "name"));
    /* null for a required member is not "absent": still refused, named. */
    T_CHECK(refused("{\"name\":null}", "name"));
}

static void test_body_not_object(void)
{
    T_CHECK(refused("[]", NULL));
    T_CHECK(refused("\"name\"", NULL));
    T_CHECK(refused("42", NULL));
    T_CHECK(refused("null", NULL));
    const char *field = "x";
    json_t *out[NSPEC];
    T_CHECK(jspec_check(NULL, spec, NSPEC, out, &field) != NULL);
    T_CHECK(field == NULL);
}

static void test_wrong_types(void)
{
    T_CHECK(refused("{\"name\":5}", "name"));
    T_CHECK(refused("{\"name\":[\"a\"]}", "name"));
    T_CHECK(refused("{\"name\":true}", "name"));
    T_CHECK(refused("{\"name\":\"a\",\"groups\":\"a\"}", "groups"));
    T_CHECK(refused("{\"name\":\"a\",\"groups\":{}}", "groups"));
    T_CHECK(refused("{\"name\":\"a\",\"count\":\"7\"}", "count"));
    T_CHECK(refused("{\"name\":\"a\",\"count\":7.5}", "count"));
    T_CHECK(refused("{\"name\":\"a\",\"count\":true}", "count"));
    T_CHECK(refused("{\"name\":\"a\",\"flag\":1}", "flag"));
    T_CHECK(refused("{\"name\":\"a\",\"flag\":\"true\"}", "flag"));
    T_CHECK(refused("{\"name\":\"a\",\"match\":[]}", "match"));
    T_CHECK(refused("{\"name\":\"a\",\"match\":\"x\"}", "match"));
}

static void test_int_range(void)
{
    T_CHECK(accepted("{\"name\":\"a\",\"count\":0}"));
    T_CHECK(accepted("{\"name\":\"a\",\"count\":100}"));
    T_CHECK(refused("{\"name\":\"a\",\"count\":-1}", "count"));
    T_CHECK(refused("{\"name\":\"a\",\"count\":101}", "count"));
    T_CHECK(refused("{\"name\":\"a\",\"count\":9223372036854775807}", "count"));
}

static void test_null_optional_is_absent(void)
{
    struct outcome o;
    check("{\"name\":\"a\",\"note\":null,\"groups\":null,\"count\":null,\"flag\":null,"
          "\"match\":null}", &o);
    T_CHECK(o.why == NULL);
    for (size_t i = 1; i < NSPEC; i++)
        T_CHECK(o.out[i] == NULL);
    json_decref(o.body);
}

/* Builds {"name": "<n times utf8>"}. */
static char *name_of(const char *utf8, size_t n)
{
    size_t len = strlen(utf8);
    char *s = malloc(n * len + 32);
    if (s == NULL)
        return NULL;
    static const char head[] = "{\"name\":\"";
    memcpy(s, head, sizeof head - 1);
    size_t o = sizeof head - 1;
    for (size_t i = 0; i < n; i++, o += len)
        memcpy(s + o, utf8, len);
    memcpy(s + o, "\"}", 3);
    return s;
}

static void test_length_in_code_points(void)
{
    char *s = name_of("\xc3\xa9", 255); /* 'é': 510 bytes, 255 code points */
    T_CHECK(s && accepted(s));
    free(s);
    s = name_of("\xc3\xa9", 256);
    T_CHECK(s && refused(s, "name"));
    free(s);
    s = name_of("\xf0\x9f\x98\x80", 255); /* 4-byte emoji */
    T_CHECK(s && accepted(s));
    free(s);
    s = name_of("\xe2\x82\xac", 256); /* euro sign, 3 bytes */
    T_CHECK(s && refused(s, "name"));
    free(s);
    s = name_of("a", 255);
    T_CHECK(s && accepted(s));
    free(s);
    s = name_of("a", 256);
    T_CHECK(s && refused(s, "name"));
    free(s);
    T_CHECK(refused("{\"name\":\"\"}", "name")); /* min 1 */
    T_CHECK(accepted("{\"name\":\"a\",\"note\":\"\"}")); /* min 0 */
    T_CHECK(accepted("{\"name\":\"a\",\"note\":\"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
                     "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\"}")); /* 10 points, 20 bytes */
    T_CHECK(refused("{\"name\":\"a\",\"note\":\"12345678901\"}", "note"));
}

static void test_control_characters(void)
{
    T_CHECK(refused("{\"name\":\"a\\tb\"}", "name"));
    T_CHECK(refused("{\"name\":\"a\\nb\"}", "name"));
    T_CHECK(refused("{\"name\":\"a\\u001fb\"}", "name"));
    T_CHECK(refused("{\"name\":\"a\\u007fb\"}", "name"));  /* DEL */
    T_CHECK(refused("{\"name\":\"a\\u0085b\"}", "name"));  /* NEL, C1 */
    T_CHECK(refused("{\"name\":\"a\\u0080b\"}", "name"));  /* C1 start */
    T_CHECK(refused("{\"name\":\"a\\u009fb\"}", "name"));  /* C1 end */
    T_CHECK(accepted("{\"name\":\"a\\u00a0b\"}"));         /* NBSP: not a control */
    T_CHECK(accepted("{\"name\":\"a b~\\u00ffz\\u0100\"}"));
    T_CHECK(refused("{\"name\":\"a\",\"groups\":[\"ok\",\"b\\u0085\"]}", "groups"));
}

static void test_arrays(void)
{
    T_CHECK(accepted("{\"name\":\"a\",\"groups\":[]}"));
    T_CHECK(accepted("{\"name\":\"a\",\"groups\":[\"x\",\"y\",\"z\"]}"));
    T_CHECK(refused("{\"name\":\"a\",\"groups\":[\"x\",\"y\",\"z\",\"w\"]}", "groups"));
    T_CHECK(refused("{\"name\":\"a\",\"groups\":[\"x\",2]}", "groups"));
    T_CHECK(refused("{\"name\":\"a\",\"groups\":[null]}", "groups"));
    T_CHECK(refused("{\"name\":\"a\",\"groups\":[[\"x\"]]}", "groups"));
    T_CHECK(refused("{\"name\":\"a\",\"groups\":[\"\"]}", "groups"));        /* item min 1 */
    T_CHECK(accepted("{\"name\":\"a\",\"groups\":[\"12345\"]}"));             /* item max 5 */
    T_CHECK(refused("{\"name\":\"a\",\"groups\":[\"123456\"]}", "groups"));
    T_CHECK(accepted("{\"name\":\"a\",\"groups\":[\"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\"]}"));
}

/* Query parameters reach jspec_text_ok without jansson's UTF-8 check. */
static void test_text_utf8(void)
{
    T_CHECK(jspec_text_ok("plain", 1, 255) == NULL);
    T_CHECK(jspec_text_ok("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 3, 3) == NULL); /* é € 😀 */
    static const char *const bad[] = {
        "\xff", "a\xc3", "\xc0\xaf",         /* stray byte, truncated, overlong '/' */
        "\xe0\x80\xaf", "\xed\xa0\x80",     /* overlong, UTF-16 surrogate */
        "\xf4\x90\x80\x80", "\x80", "\xf8\x88\x80\x80\x80", /* > U+10FFFF, lone, 5-byte */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *why = jspec_text_ok(bad[i], 0, 255);
        T_CHECK(why != NULL && strcmp(why, "must be valid UTF-8") == 0);
    }
}

static void test_text_ok(void)
{
    T_CHECK(jspec_text_ok("", 0, 10) == NULL);
    T_CHECK(jspec_text_ok("", 1, 10) != NULL);
    T_CHECK(jspec_text_ok("abc", 4, 10) != NULL);
    T_CHECK(jspec_text_ok("abc", 3, 3) == NULL);
    T_CHECK(jspec_text_ok("abcd", 0, 3) != NULL);
    T_CHECK(jspec_text_ok("\xc3\xa9\xc3\xa9\xc3\xa9", 0, 3) == NULL);
    T_CHECK(jspec_text_ok("\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9", 0, 3) != NULL);
    T_CHECK(jspec_text_ok("a\x01", 0, 10) != NULL);
    T_CHECK(jspec_text_ok("a\r", 0, 10) != NULL);
    T_CHECK(jspec_text_ok("\x7f", 0, 10) != NULL);
    T_CHECK(jspec_text_ok("\xc2\x85", 0, 10) != NULL);
    T_CHECK(jspec_text_ok("\xc2\x80", 0, 10) != NULL);
    T_CHECK(jspec_text_ok("\xc2\x9f", 0, 10) != NULL);
    T_CHECK(jspec_text_ok("\xc2\xa0", 0, 10) == NULL);
    T_CHECK(jspec_text_ok("\xe2\x80\xa8", 0, 10) == NULL); /* U+2028 is not C0/C1 */
    T_CHECK(jspec_text_ok("CORP\\alice", 1, 255) == NULL);
}

int main(void)
{
    T_RUN(test_valid_body);
    T_RUN(test_unknown_member_named);
    T_RUN(test_required_missing);
    T_RUN(test_body_not_object);
    T_RUN(test_wrong_types);
    T_RUN(test_int_range);
    T_RUN(test_null_optional_is_absent);
    T_RUN(test_length_in_code_points);
    T_RUN(test_control_characters);
    T_RUN(test_arrays);
    T_RUN(test_text_ok);
    T_RUN(test_text_utf8);
    return t_done();
}

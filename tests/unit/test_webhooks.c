/* The Standard Webhooks signature allotd sends (src/jobs/webhooks.c),
 * checked against the specification's own example, and the secrets it
 * makes. */
#include <string.h>

#include "allot/webhooks.h"
#include "ttest.h"

/* The example of the Standard Webhooks specification (and its reference
 * libraries' tests). */
static void test_reference_signature(void)
{
    const char *body = "{\"test\": 2432232314}";
    char sig[WEBHOOK_SIGNATURE_LEN];
    T_REQUIRE(webhook_sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek",
                           1614265330, body, strlen(body), sig));
    T_EQ_STR(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    /* another body, timestamp or id: another signature */
    char other[WEBHOOK_SIGNATURE_LEN];
    T_REQUIRE(webhook_sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek",
                           1614265331, body, strlen(body), other));
    T_CHECK(strcmp(sig, other) != 0);
}

static void test_bad_secrets_refused(void)
{
    char sig[WEBHOOK_SIGNATURE_LEN];
    T_CHECK(!webhook_sign("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "id", 1, "{}", 2, sig));
    T_CHECK(!webhook_sign("whsec_", "id", 1, "{}", 2, sig));
    T_CHECK(!webhook_sign("whsec_abc", "id", 1, "{}", 2, sig));
    T_CHECK(!webhook_sign("whsec_!!!!", "id", 1, "{}", 2, sig));
}

static void test_new_secrets(void)
{
    char a[WEBHOOK_SECRET_LEN], b[WEBHOOK_SECRET_LEN];
    T_REQUIRE(webhook_new_secret(a) && webhook_new_secret(b));
    T_EQ_INT(strlen(a), 50);
    T_CHECK(strncmp(a, "whsec_", 6) == 0 && a[49] == '=');
    T_CHECK(strcmp(a, b) != 0);
    char sig[WEBHOOK_SIGNATURE_LEN];
    T_CHECK(webhook_sign(a, "id", 1, "{}", 2, sig));
    T_EQ_INT(strlen(sig), 47);
}

int main(void)
{
    T_RUN(test_reference_signature);
    T_RUN(test_bad_secrets_refused);
    T_RUN(test_new_secrets);
    return t_done();
}

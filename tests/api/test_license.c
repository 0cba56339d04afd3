/* /license as a console and a deployment see it: no license yet, keys that
 * are refused (and change nothing), a good key and every field GET shows, the
 * verification time taken from the key's signing time, a license signed too
 * long ago (stale), unbounded overage, and who may read or apply it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "allot/params.h"
#include "tlicense.h"

T_DEFINE_STATE;

static struct tl_site site;
static struct tl_authority other; /* an authority the site does not trust */
static char auditor_key[128];
static char proxy_key[128];

static const char B64URL[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static int b64_value(char c)
{
    const char *p = strchr(B64URL, c);
    return c != '\0' && p != NULL ? (int)(p - B64URL) : -1;
}

/* Unpadded base64url of len chars into out (NUL-terminated); its length. */
static size_t b64url_decode(const char *in, size_t len, char *out)
{
    size_t n = 0;
    unsigned bits = 0, nbits = 0;
    for (size_t i = 0; i < len; i++) {
        int v = b64_value(in[i]);
        if (v < 0)
            break;
        bits = (bits << 6) | (unsigned)v;
        nbits += 6;
        if (nbits >= 8) {
            nbits -= 8;
            out[n++] = (char)((bits >> nbits) & 0xff);
        }
    }
    out[n] = '\0';
    return n;
}

static void b64url_encode(const char *in, size_t len, char *out)
{
    size_t n = 0;
    unsigned bits = 0, nbits = 0;
    for (size_t i = 0; i < len; i++) {
        bits = (bits << 8) | (unsigned char)in[i];
        nbits += 8;
        while (nbits >= 6) {
            nbits -= 6;
            out[n++] = B64URL[(bits >> nbits) & 0x3f];
        }
    }
    if (nbits > 0)
        out[n++] = B64URL[(bits << (6 - nbits)) & 0x3f];
    out[n] = '\0';
}

/* The key with its payload edited: professional units set to 500. */
static char *altered_key(const char *key)
{
    const char *dot1 = strchr(key, '.');
    const char *dot2 = dot1 ? strchr(dot1 + 1, '.') : NULL;
    if (dot2 == NULL)
        return NULL;
    size_t plen = (size_t)(dot2 - dot1 - 1);
    char *payload = malloc(plen + 1);
    b64url_decode(dot1 + 1, plen, payload);
    json_t *pl = json_loads(payload, 0, NULL);
    free(payload);
    size_t i;
    json_t *a;
    json_array_foreach(json_object_get(pl, "allotments"), i, a) {
        if (strcmp(tl_text(a, "name"), "professional") == 0)
            json_object_set_new(a, "units", json_integer(500));
    }
    char *text = json_dumps(pl, JSON_COMPACT);
    json_decref(pl);
    size_t tlen = strlen(text);
    char *enc = malloc(tlen * 2 + 8);
    b64url_encode(text, tlen, enc);
    free(text);
    size_t hlen = (size_t)(dot1 - key);
    size_t total = hlen + 1 + strlen(enc) + strlen(dot2) + 1;
    char *out = malloc(total);
    snprintf(out, total, "%.*s.%s%s", (int)hlen, key, enc, dot2);
    free(enc);
    return out;
}

static char *license_fingerprint(void)
{
    return th_sql(site.db.url, "SELECT coalesce(string_agg(md5(d.license_key) || ' ' ||"
                               " l.last_verified_at::text || ' ' || l.applied_at::text, ','), 'none')"
                               " FROM license l, license_document d");
}

/* A refused key: 400 InvalidLicense on field key, the reason in the message,
 * and the license table exactly as before. */
static void check_refused(const char *key, const char *reason)
{
    char *before = license_fingerprint();
    struct th_resp r;
    T_REQUIRE(key != NULL);
    T_CHECK(tl_put_license(&site.srv, key, &r));
    T_ERROR(r, 400, "LICENSES-InvalidLicense");
    T_EQ_STR(th_str(&r, "field"), "key");
    if (strstr(th_str(&r, "message"), reason) == NULL)
        printf("#   message \"%s\" does not give the reason \"%s\"\n", th_str(&r, "message"), reason);
    T_CHECK(strstr(th_str(&r, "message"), reason) != NULL);
    th_resp_free(&r);
    char *after = license_fingerprint();
    T_EQ_STR(after, before);
    free(before);
    free(after);
}

/* Every kind of bad key: malformed, another authority's, altered, truncated,
 * expired, not yet valid. */
static void check_all_refusals(void)
{
    char past_from[40], past_to[40], future[40];
    tl_rfc3339(tl_now() - 400 * 86400, past_from, sizeof past_from);
    tl_rfc3339(tl_now() - 30 * 86400, past_to, sizeof past_to);
    tl_rfc3339(tl_now() + 86400, future, sizeof future);

    check_refused("not-a-license-key", "malformed");
    char *foreign = tl_issue(&other, "--professional", "5", NULL);
    check_refused(foreign, "signature does not verify");
    free(foreign);

    char *good = tl_issue(&site.auth, "--license-number", "4444", "--professional", "5", NULL);
    T_REQUIRE(good != NULL);
    char *altered = altered_key(good);
    check_refused(altered, "signature does not verify");
    free(altered);
    size_t len = strlen(good);
    good[len - 20] = '\0'; /* cut into the signature */
    check_refused(good, "malformed");
    *strrchr(good, '.') = '\0'; /* only header.payload */
    check_refused(good, "malformed");
    free(good);

    char *expired = tl_issue(&site.auth, "--license-number", "4445", "--professional", "5",
                             "--valid-from", past_from, "--valid-to", past_to, NULL);
    check_refused(expired, "expired");
    free(expired);
    char *early = tl_issue(&site.auth, "--license-number", "4446", "--professional", "5",
                           "--valid-from", future, NULL);
    check_refused(early, "not valid before");
    free(early);
}

static void test_missing_before_any(void)
{
    struct th_resp r;
    T_CHECK(th_req(&site.srv, "GET", "/license", TH_ADMIN_KEY, NULL, &r));
    T_STATUS(r, 200);
    T_EQ_STR(th_str(&r, "status"), "missing");
    T_CHECK(json_is_null(json_object_get(r.json, "licenseNumber")));
    T_CHECK(json_is_null(json_object_get(r.json, "lastVerifiedAt")));
    T_CHECK(json_is_null(json_object_get(r.json, "disabledAt")));
    T_EQ_INT(json_array_size(json_object_get(r.json, "allotments")), 0);
    th_resp_free(&r);
    T_EQ_INT(th_sql_long(site.db.url, "SELECT count(*) FROM license"), 0);
}

static void test_refused_keys_store_nothing(void)
{
    check_all_refusals();
    struct th_resp r;
    T_CHECK(th_req(&site.srv, "GET", "/license", TH_ADMIN_KEY, NULL, &r));
    T_EQ_STR(th_str(&r, "status"), "missing");
    th_resp_free(&r);
    T_EQ_INT(th_sql_long(site.db.url, "SELECT count(*) FROM license"), 0);
    /* not a key at all: a bad request naming the field */
    T_CHECK(th_req(&site.srv, "PUT", "/license", TH_ADMIN_KEY, "{\"key\": 42}", &r));
    T_ERROR(r, 400, "LICENSES-BadRequest");
    T_EQ_STR(th_str(&r, "field"), "key");
    th_resp_free(&r);
}

static int64_t good_iat;

static void test_apply_good_key(void)
{
    good_iat = tl_now() - 100;
    char iat[24];
    snprintf(iat, sizeof iat, "%lld", (long long)good_iat);
    char *key = tl_issue(&site.auth, "--license-number", "1000", "--organization", "Acme Corp",
                         "--product", "Qlik Sense Enterprise", "--professional", "5",
                         "--overage", "professional=2", "--analyzer", "3",
                         "--analyzer-time-minutes", "600", "--tokens", "4", "--iat", iat,
                         "--param", "offlineGraceSeconds=86400", "--param", "capacityUnitSeconds=120",
                         "--param", "loginPassSeconds=1800", "--param", "maxParallelSessions=3",
                         "--param", "passReturnSeconds=7200", "--param", "sessionLingerSeconds=60",
                         "--param", "quarantineSeconds=3600",
                         "--param", "definitionRefreshSeconds=43200", NULL);
    T_REQUIRE(key != NULL);
    struct th_resp r;
    T_CHECK(tl_put_license(&site.srv, key, &r));
    T_STATUS(r, 200);
    T_EQ_STR(th_str(&r, "status"), "ok");
    th_resp_free(&r);
    T_EQ_INT(th_sql_long(site.db.url, "SELECT count(*) FROM license"), 1);
    char *stored = th_sql(site.db.url, "SELECT license_key FROM license_document");
    T_EQ_STR(stored, key);
    free(stored);
    free(key);

    T_CHECK(th_req(&site.srv, "GET", "/license", TH_ADMIN_KEY, NULL, &r));
    T_STATUS(r, 200);
    T_EQ_STR(th_str(&r, "status"), "ok");
    T_EQ_STR(th_str(&r, "licenseNumber"), "1000");
    T_EQ_STR(th_str(&r, "organization"), "Acme Corp");
    T_EQ_STR(th_str(&r, "product"), "Qlik Sense Enterprise");
    /* verified when signed (iat), not when applied */
    T_EQ_INT(tl_time(r.json, "issuedAt"), good_iat);
    T_EQ_INT(tl_time(r.json, "lastVerifiedAt"), good_iat);
    T_EQ_INT(tl_time(r.json, "disabledAt"), good_iat + 86400);
    T_CHECK(tl_time(r.json, "validFrom") > 0);
    T_CHECK(tl_time(r.json, "validTo") > tl_time(r.json, "validFrom"));

    T_EQ_INT(json_array_size(json_object_get(r.json, "allotments")), 3);
    json_t *pro = tl_allotment(&r, "professional");
    T_EQ_INT(tl_int(pro, "units"), 5);
    T_EQ_INT(tl_int(pro, "overage"), 2);
    T_EQ_INT(tl_int(pro, "used"), 0);
    T_EQ_INT(tl_int(pro, "quarantined"), 0);
    T_EQ_INT(tl_int(pro, "available"), 7);
    json_t *an = tl_allotment(&r, "analyzer");
    T_EQ_INT(tl_int(an, "units"), 3);
    T_EQ_INT(tl_int(an, "overage"), 0);
    T_EQ_INT(tl_int(an, "available"), 3);
    json_t *cap = tl_allotment(&r, "analyzer_time");
    T_EQ_INT(tl_int(cap, "units"), 600);
    T_EQ_INT(tl_int(cap, "used"), 0);
    T_EQ_INT(tl_int(cap, "available"), 600);

    json_t *tokens = json_object_get(r.json, "tokens");
    T_EQ_INT(tl_int(tokens, "total"), 4);
    T_EQ_INT(tl_int(tokens, "allocated"), 0);
    T_EQ_INT(tl_int(tokens, "used"), 0);
    T_EQ_INT(tl_int(tokens, "quarantined"), 0);
    T_EQ_INT(tl_int(tokens, "available"), 4);

    json_t *p = json_object_get(r.json, "parameters");
    T_EQ_INT(tl_int(p, "offlineGraceSeconds"), 86400);
    T_EQ_INT(tl_int(p, "capacityUnitSeconds"), 120);
    T_EQ_INT(tl_int(p, "loginPassSeconds"), 1800);
    T_EQ_INT(tl_int(p, "maxParallelSessions"), 3);
    T_EQ_INT(tl_int(p, "passReturnSeconds"), 7200);
    T_EQ_INT(tl_int(p, "sessionLingerSeconds"), 60);
    T_EQ_INT(tl_int(p, "quarantineSeconds"), 3600);
    T_EQ_INT(tl_int(p, "definitionRefreshSeconds"), 43200);
    th_resp_free(&r);
}

/* With a license in place, a bad key leaves it exactly as it was. */
static void test_refused_keys_keep_previous(void)
{
    check_all_refusals();
    struct th_resp r;
    T_CHECK(th_req(&site.srv, "GET", "/license", TH_ADMIN_KEY, NULL, &r));
    T_EQ_STR(th_str(&r, "status"), "ok");
    T_EQ_STR(th_str(&r, "licenseNumber"), "1000");
    T_EQ_INT(tl_int(tl_allotment(&r, "professional"), "units"), 5);
    T_EQ_INT(tl_time(r.json, "lastVerifiedAt"), good_iat);
    th_resp_free(&r);
}

static void apply_iat(const char *number, int64_t iat, const char *grace)
{
    char iat_text[24], grace_param[64];
    snprintf(iat_text, sizeof iat_text, "%lld", (long long)iat);
    snprintf(grace_param, sizeof grace_param, "offlineGraceSeconds=%s", grace);
    T_CHECK(tl_apply(&site.srv, &site.auth, "--license-number", number, "--professional", "5",
                     "--iat", iat_text, "--param", grace_param, NULL));
}

/* An older key of the applied license is refused (400) and changes nothing:
 * it can neither roll the license back nor move its verification; a newer key
 * is a verification at its signing time. */
static void test_verification_follows_signing_time(void)
{
    char iat_text[24];
    snprintf(iat_text, sizeof iat_text, "%lld", (long long)(good_iat - 900));
    char *old = tl_issue(&site.auth, "--license-number", "1000", "--professional", "9", "--iat",
                         iat_text, "--param", "offlineGraceSeconds=86400", NULL);
    struct th_resp r;
    T_REQUIRE(old != NULL);
    T_CHECK(tl_put_license(&site.srv, old, &r));
    free(old);
    T_ERROR(r, 400, "LICENSES-InvalidLicense");
    T_EQ_STR(th_str(&r, "field"), "key");
    th_resp_free(&r);
    T_CHECK(th_req(&site.srv, "GET", "/license", TH_ADMIN_KEY, NULL, &r));
    T_EQ_INT(tl_int(tl_allotment(&r, "professional"), "units"), 5);
    T_EQ_STR(th_str(&r, "status"), "ok");
    T_EQ_INT(tl_time(r.json, "lastVerifiedAt"), good_iat);
    th_resp_free(&r);

    apply_iat("1000", good_iat + 50, "86400");
    T_CHECK(th_req(&site.srv, "GET", "/license", TH_ADMIN_KEY, NULL, &r));
    T_EQ_INT(tl_time(r.json, "lastVerifiedAt"), good_iat + 50);
    T_EQ_INT(tl_time(r.json, "disabledAt"), good_iat + 50 + 86400);
    th_resp_free(&r);
}

/* A key signed longer ago than offlineGraceSeconds is stale at once: GET
 * still answers 200 and says when it was disabled; taking passes is refused. */
static void test_signed_long_ago_is_stale(void)
{
    int64_t iat = tl_now() - 200;
    apply_iat("2000", iat, "100");
    struct th_resp r;
    T_CHECK(th_req(&site.srv, "GET", "/license", TH_ADMIN_KEY, NULL, &r));
    T_STATUS(r, 200);
    T_EQ_STR(th_str(&r, "status"), "stale");
    T_EQ_STR(th_str(&r, "licenseNumber"), "2000");
    T_EQ_INT(tl_time(r.json, "lastVerifiedAt"), iat);
    T_EQ_INT(tl_time(r.json, "disabledAt"), iat + 100);
    th_resp_free(&r);

    char user[TL_ID_LEN];
    T_REQUIRE(tl_user(&site.srv, "CORP", "stale-user", NULL, user));
    char err[64];
    T_EQ_INT(tl_alloc(&site.srv, user, "professional", NULL, err, sizeof err), 403);
    T_EQ_STR(err, "LICENSES-OutdatedLicense");
    T_EQ_INT(th_sql_long(site.db.url, "SELECT count(*) FROM allocations"), 0);

    /* a fresh key of the same license makes it ok again */
    apply_iat("2000", tl_now(), "100");
    T_CHECK(th_req(&site.srv, "GET", "/license", TH_ADMIN_KEY, NULL, &r));
    T_EQ_STR(th_str(&r, "status"), "ok");
    th_resp_free(&r);
    T_EQ_INT(tl_alloc(&site.srv, user, "professional", NULL, NULL, 0), 201);
}

static void test_unbounded_overage_has_no_available(void)
{
    T_CHECK(tl_apply(&site.srv, &site.auth, "--license-number", "3000", "--professional", "2",
                     "--overage", "professional=-1", "--analyzer", "1", NULL));
    struct th_resp r;
    T_CHECK(th_req(&site.srv, "GET", "/license", TH_ADMIN_KEY, NULL, &r));
    T_EQ_INT(json_array_size(json_object_get(r.json, "allotments")), 2); /* no analyzer_time */
    json_t *pro = tl_allotment(&r, "professional");
    T_EQ_INT(tl_int(pro, "overage"), -1);
    T_CHECK(json_object_get(pro, "available") != NULL);
    T_CHECK(json_is_null(json_object_get(pro, "available")));
    T_EQ_INT(tl_int(tl_allotment(&r, "analyzer"), "available"), 1);
    T_CHECK(tl_allotment(&r, "analyzer_time") == NULL);
    T_EQ_INT(tl_int(json_object_get(r.json, "tokens"), "total"), 0);
    th_resp_free(&r);
}

/* A grace at its bound (100 years): disabledAt is that moment, exactly, in
 * GET /license and the metrics, not a buffer left unformatted (issue 11). */
static void test_longest_grace_disabled_at(void)
{
    char grace[48];
    snprintf(grace, sizeof grace, "offlineGraceSeconds=%lld", (long long)CORE_PARAM_SECONDS_MAX);
    T_CHECK(tl_apply(&site.srv, &site.auth, "--license-number", "3100", "--professional", "1",
                     "--param", grace, NULL));
    struct th_resp r;
    T_CHECK(th_req(&site.srv, "GET", "/license", TH_ADMIN_KEY, NULL, &r));
    T_STATUS(r, 200);
    T_EQ_STR(th_str(&r, "status"), "ok");
    T_EQ_INT(tl_time(r.json, "disabledAt"),
             tl_time(r.json, "lastVerifiedAt") + CORE_PARAM_SECONDS_MAX);
    th_resp_free(&r);
    T_CHECK(th_req(&site.srv, "GET", "/metrics", TH_ADMIN_KEY, NULL, &r));
    T_STATUS(r, 200);
    const char *until = r.body ? strstr(r.body, "\nallot_license_seconds_until_disabled ") : NULL;
    T_CHECK(until != NULL && strtoll(until + 38, NULL, 10) > CORE_PARAM_SECONDS_MAX - 3600);
    th_resp_free(&r);
}

static void test_roles(void)
{
    struct th_resp r;
    T_CHECK(th_req(&site.srv, "GET", "/license", auditor_key, NULL, &r));
    T_STATUS(r, 200);
    T_EQ_STR(th_str(&r, "licenseNumber"), "3000");
    th_resp_free(&r);

    char *key = tl_issue(&site.auth, "--license-number", "5000", "--professional", "9", NULL);
    T_REQUIRE(key != NULL);
    char body[4096];
    snprintf(body, sizeof body, "{\"key\":\"%s\"}", key);
    free(key);
    T_CHECK(th_req(&site.srv, "PUT", "/license", auditor_key, body, &r));
    T_ERROR(r, 403, "LICENSES-Forbidden");
    th_resp_free(&r);
    T_CHECK(th_req(&site.srv, "PUT", "/license", proxy_key, body, &r));
    T_ERROR(r, 403, "LICENSES-Forbidden");
    th_resp_free(&r);
    T_CHECK(th_req(&site.srv, "GET", "/license", proxy_key, NULL, &r));
    T_ERROR(r, 403, "LICENSES-Forbidden");
    th_resp_free(&r);
    T_CHECK(th_req(&site.srv, "GET", "/license", NULL, NULL, &r));
    T_ERROR(r, 401, "LICENSES-Unauthorized");
    th_resp_free(&r);
    char *number = th_sql(site.db.url, "SELECT license_number FROM license");
    T_EQ_STR(number, "3000");
    free(number);
}

static void test_server_stops_cleanly(void)
{
    T_CHECK(!th_log_contains(&site.srv, "\"level\":\"error\"")); /* no unknown outcome, no failure */
    T_EQ_INT(th_server_stop(&site.srv), 0);
}

int main(void)
{
    tl_site_start(&site, NULL);
    if (!tl_authority_make(&other) || !tl_api_key(&site.srv, "auditor", auditor_key, sizeof auditor_key) ||
        !tl_api_key(&site.srv, "proxy", proxy_key, sizeof proxy_key)) {
        printf("Bail out! setup failed\n");
        tl_authority_remove(&other);
        tl_site_stop(&site);
        return 1;
    }

    T_RUN(test_missing_before_any);
    T_RUN(test_refused_keys_store_nothing);
    T_RUN(test_apply_good_key);
    T_RUN(test_refused_keys_keep_previous);
    T_RUN(test_verification_follows_signing_time);
    T_RUN(test_signed_long_ago_is_stale);
    T_RUN(test_unbounded_overage_has_no_available);
    T_RUN(test_roles);
    T_RUN(test_longest_grace_disabled_at);
    T_RUN(test_server_stops_cleanly);

    tl_authority_remove(&other);
    tl_site_stop(&site);
    return t_done();
}

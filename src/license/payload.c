/* The license payload: parameters, strict parsing, validity, canonical JSON. */
#include "allot/license.h"
#include "internal.h"

#include <stdlib.h>
#include <string.h>

static const char *const allotment_names[LIC_ALLOTMENT_COUNT] = {
    [LIC_PROFESSIONAL] = "professional",
    [LIC_ANALYZER] = "analyzer",
    [LIC_ANALYZER_TIME] = "analyzer_time",
};

const char *lic_allotment_name(enum lic_allotment_kind k)
{
    return (unsigned)k < LIC_ALLOTMENT_COUNT ? allotment_names[k] : NULL;
}

int lic_allotment_find(const char *name)
{
    for (int k = 0; name != NULL && k < LIC_ALLOTMENT_COUNT; k++)
        if (strcmp(name, allotment_names[k]) == 0)
            return k;
    return -1;
}

void lic_params_default(struct lic_params *p)
{
    for (size_t i = 0; i < CORE_PARAM_COUNT; i++)
        p->v[i] = core_params[i].def;
}

int lic_params_set(struct lic_params *p, const char *name, int64_t value,
                   char *why, size_t whylen)
{
    int i = core_param_find(name);
    if (i < 0) {
        lic_whyf(why, whylen, "parameters.%.60s: unknown parameter", name != NULL ? name : "");
        return -1;
    }
    if (value < core_params[i].min || value > core_params[i].max) {
        lic_whyf(why, whylen, "parameters.%s: must be between %lld and %lld", name,
                 (long long)core_params[i].min, (long long)core_params[i].max);
        return -1;
    }
    p->v[i] = value;
    return 0;
}

void lic_license_init(struct lic_license *lic)
{
    memset(lic, 0, sizeof *lic);
    lic_params_default(&lic->params);
}

/* ---- parsing ------------------------------------------------------------- */

static bool text_ok(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f)
            return false;
    }
    return true;
}

static bool get_text(const json_t *v, const char *field, char *dst, size_t dstsize,
                     char *why, size_t whylen)
{
    if (!json_is_string(v)) {
        lic_whyf(why, whylen, "%s: %s", field, v == NULL ? "missing" : "must be a string");
        return false;
    }
    size_t len = json_string_length(v);
    const char *s = json_string_value(v);
    if (len == 0 || len >= dstsize || !text_ok(s, len)) {
        lic_whyf(why, whylen, "%s: must be 1 to %zu characters without control characters",
                 field, dstsize - 1);
        return false;
    }
    memcpy(dst, s, len + 1);
    return true;
}

static bool get_time(const json_t *v, const char *field, int64_t *out, char *why,
                     size_t whylen)
{
    if (!json_is_string(v) || !core_time_parse(json_string_value(v), out)) {
        lic_whyf(why, whylen, "%s: %s", field,
                 v == NULL ? "missing" : "must be an RFC 3339 time (2025-01-31T00:00:00Z)");
        return false;
    }
    return true;
}

static bool get_int(const json_t *v, const char *field, int64_t min, int64_t max,
                    int64_t *out, char *why, size_t whylen)
{
    if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max) {
        if (v == NULL)
            lic_whyf(why, whylen, "%s: missing", field);
        else
            lic_whyf(why, whylen, "%s: must be an integer from %lld to %lld", field,
                     (long long)min, (long long)max);
        return false;
    }
    *out = json_integer_value(v);
    return true;
}

/* One allotment's {units, overage[, name]} object. */
static bool parse_allotment_body(const json_t *obj, bool with_name, struct lic_allotment *a,
                                 const char *name, char *why, size_t whylen)
{
    char field[80];
    const char *key;
    json_t *value;
    json_object_foreach((json_t *)obj, key, value) {
        if (strcmp(key, "units") != 0 && strcmp(key, "overage") != 0 &&
            !(with_name && strcmp(key, "name") == 0)) {
            lic_whyf(why, whylen, "allotments.%s.%.40s: unknown field", name, key);
            return false;
        }
    }
    snprintf(field, sizeof field, "allotments.%s.units", name);
    if (!get_int(json_object_get(obj, "units"), field, 0, LIC_UNITS_MAX, &a->units, why,
                 whylen))
        return false;
    a->overage = 0;
    const json_t *ov = json_object_get(obj, "overage");
    snprintf(field, sizeof field, "allotments.%s.overage", name);
    if (ov != NULL && !get_int(ov, field, -1, LIC_UNITS_MAX, &a->overage, why, whylen))
        return false;
    a->present = true;
    return true;
}

static bool take_allotment(struct lic_license *out, const char *name, const json_t *body,
                           bool with_name, char *why, size_t whylen)
{
    int k = lic_allotment_find(name);
    if (k < 0) {
        lic_whyf(why, whylen,
                 "allotments: unknown allotment \"%.40s\" (professional, analyzer, "
                 "analyzer_time)", name);
        return false;
    }
    if (out->allotments[k].present) {
        lic_whyf(why, whylen, "allotments.%s: named twice", name);
        return false;
    }
    if (!json_is_object(body)) {
        lic_whyf(why, whylen, "allotments.%s: must be an object", name);
        return false;
    }
    return parse_allotment_body(body, with_name, &out->allotments[k], name, why, whylen);
}

static bool parse_allotments(const json_t *v, struct lic_license *out, char *why,
                             size_t whylen)
{
    if (json_is_object(v)) {
        const char *key;
        json_t *body;
        json_object_foreach((json_t *)v, key, body) {
            if (!take_allotment(out, key, body, false, why, whylen))
                return false;
        }
        return true;
    }
    if (json_is_array(v)) {
        size_t i;
        json_t *body;
        json_array_foreach(v, i, body) {
            const char *name = json_string_value(json_object_get(body, "name"));
            if (!json_is_object(body) || name == NULL) {
                lic_whyf(why, whylen, "allotments[%zu]: must be an object with a \"name\"", i);
                return false;
            }
            if (!take_allotment(out, name, body, true, why, whylen))
                return false;
        }
        return true;
    }
    lic_whyf(why, whylen, "allotments: %s", v == NULL ? "missing" : "must be an array or object");
    return false;
}

static bool parse_params(const json_t *v, struct lic_params *p, char *why, size_t whylen)
{
    lic_params_default(p);
    if (v == NULL)
        return true;
    if (!json_is_object(v)) {
        lic_whyf(why, whylen, "parameters: must be an object");
        return false;
    }
    const char *key;
    json_t *value;
    json_object_foreach((json_t *)v, key, value) {
        if (!json_is_integer(value)) {
            lic_whyf(why, whylen, "parameters.%.60s: must be an integer", key);
            return false;
        }
        if (lic_params_set(p, key, json_integer_value(value), why, whylen) != 0)
            return false;
    }
    return true;
}

static const char *const top_fields[] = {
    "licenseNumber", "organization", "product", "validFrom", "validTo", "iat",
    "allotments", "tokens", "conversionDate", "parameters",
};

static bool parse_all(const json_t *pl, struct lic_license *out, char *why, size_t whylen)
{
    if (!json_is_object(pl)) {
        lic_whyf(why, whylen, "the payload must be a JSON object");
        return false;
    }
    const char *key;
    json_t *value;
    json_object_foreach((json_t *)pl, key, value) {
        bool known = false;
        for (size_t i = 0; i < sizeof top_fields / sizeof top_fields[0]; i++)
            known = known || strcmp(key, top_fields[i]) == 0;
        if (!known) {
            lic_whyf(why, whylen, "%.60s: unknown field", key);
            return false;
        }
    }
    const json_t *num = json_object_get(pl, "licenseNumber");
    const char *digits = json_string_value(num);
    size_t ndigits = json_string_length(num);
    if (digits == NULL || ndigits == 0 || ndigits > LIC_NUMBER_MAX ||
        strspn(digits, "0123456789") != ndigits) {
        lic_whyf(why, whylen, "licenseNumber: %s", num == NULL ? "missing"
                 : "must be a string of 1 to 32 decimal digits");
        return false;
    }
    memcpy(out->license_number, digits, ndigits + 1);
    if (!get_text(json_object_get(pl, "organization"), "organization", out->organization,
                  sizeof out->organization, why, whylen) ||
        !get_text(json_object_get(pl, "product"), "product", out->product,
                  sizeof out->product, why, whylen) ||
        !get_time(json_object_get(pl, "validFrom"), "validFrom", &out->valid_from, why,
                  whylen) ||
        !get_time(json_object_get(pl, "validTo"), "validTo", &out->valid_to, why, whylen))
        return false;
    if (out->valid_to <= out->valid_from) {
        lic_whyf(why, whylen, "validTo: must be after validFrom");
        return false;
    }
    if (!get_int(json_object_get(pl, "iat"), "iat", 0, 253402300799LL, &out->iat, why,
                 whylen) ||
        !parse_allotments(json_object_get(pl, "allotments"), out, why, whylen))
        return false;
    const json_t *tokens = json_object_get(pl, "tokens");
    if (tokens != NULL) {
        if (!get_int(tokens, "tokens", 0, LIC_UNITS_MAX, &out->tokens, why, whylen))
            return false;
        out->has_tokens = true;
    }
    const json_t *conv = json_object_get(pl, "conversionDate");
    if (conv != NULL) {
        if (!get_time(conv, "conversionDate", &out->conversion_date, why, whylen))
            return false;
        out->has_conversion_date = true;
    }
    return parse_params(json_object_get(pl, "parameters"), &out->params, why, whylen);
}

enum lic_result lic_parse(const json_t *payload, struct lic_license *out,
                          char *why, size_t whylen)
{
    lic_license_init(out);
    char reason[256] = "";
    if (parse_all(payload, out, reason, sizeof reason))
        return LIC_OK;
    lic_whyf(why, whylen, "bad license payload: %s", reason);
    lic_license_init(out);
    return LIC_BAD_PAYLOAD;
}

enum lic_result lic_check_validity(const struct lic_license *lic, int64_t now,
                                   char *why, size_t whylen)
{
    char at[CORE_TIME_BUFSZ] = "?";
    if (now < lic->valid_from) {
        core_time_format(lic->valid_from, at, sizeof at);
        lic_whyf(why, whylen, "license %s is not valid before %s", lic->license_number, at);
        return LIC_NOT_YET_VALID;
    }
    if (now > lic->valid_to) {
        core_time_format(lic->valid_to, at, sizeof at);
        lic_whyf(why, whylen, "license %s expired at %s", lic->license_number, at);
        return LIC_EXPIRED;
    }
    return LIC_OK;
}

/* ---- canonical JSON -------------------------------------------------------- */

static int set_time(json_t *obj, const char *key, int64_t t)
{
    char buf[CORE_TIME_BUFSZ];
    if (!core_time_format(t, buf, sizeof buf))
        return -1;
    return json_object_set_new(obj, key, json_string(buf));
}

json_t *lic_to_json(const struct lic_license *lic)
{
    json_t *o = json_object(), *al = json_array(), *pa = json_object();
    if (o == NULL || al == NULL || pa == NULL)
        goto fail;
    int err = json_object_set_new(o, "licenseNumber", json_string(lic->license_number));
    err |= json_object_set_new(o, "organization", json_string(lic->organization));
    err |= json_object_set_new(o, "product", json_string(lic->product));
    err |= set_time(o, "validFrom", lic->valid_from);
    err |= set_time(o, "validTo", lic->valid_to);
    err |= json_object_set_new(o, "iat", json_integer(lic->iat));
    for (int k = 0; k < LIC_ALLOTMENT_COUNT; k++) {
        const struct lic_allotment *a = &lic->allotments[k];
        if (a->present)
            err |= json_array_append_new(al, json_pack("{s:s, s:I, s:I}", "name",
                                                        allotment_names[k], "units",
                                                        (json_int_t)a->units, "overage",
                                                        (json_int_t)a->overage));
    }
    err |= json_object_set_new(o, "allotments", al);
    al = NULL;
    if (lic->has_tokens)
        err |= json_object_set_new(o, "tokens", json_integer(lic->tokens));
    if (lic->has_conversion_date)
        err |= set_time(o, "conversionDate", lic->conversion_date);
    for (size_t i = 0; i < CORE_PARAM_COUNT; i++)
        err |= json_object_set_new(pa, core_params[i].name, json_integer(lic->params.v[i]));
    err |= json_object_set_new(o, "parameters", pa);
    pa = NULL;
    if (err == 0)
        return o;
fail:
    json_decref(o);
    json_decref(al);
    json_decref(pa);
    return NULL;
}

/* ---- license keys ---------------------------------------------------------- */

int lic_issue(EVP_PKEY *priv, const struct lic_license *lic, char **out,
              char *why, size_t whylen)
{
    *out = NULL;
    json_t *payload = lic_to_json(lic);
    if (payload == NULL) {
        lic_whyf(why, whylen, "cannot build the license payload (a time out of range?)");
        return -1;
    }
    /* Never sign what a site would refuse to parse. */
    struct lic_license check;
    if (lic_parse(payload, &check, why, whylen) != LIC_OK) {
        json_decref(payload);
        return -1;
    }
    char kid[LIC_KID_LEN + 1];
    int rc = lic_key_kid(priv, kid) == 0 ? lic_doc_sign(priv, LIC_TYP_LICENSE, kid, payload, out)
                                          : -1;
    json_decref(payload);
    if (rc != 0)
        lic_whyf(why, whylen, "cannot sign the license (not an Ed25519 private key?)");
    return rc;
}

/* lic_verify_key with pub, or with the ring when pub is NULL. */
static enum lic_result verify_key(const char *compact, EVP_PKEY *pub,
                                  const struct lic_keyring *ring, int64_t now,
                                  struct lic_license *out, json_t **payload_out,
                                  char *why, size_t whylen)
{
    if (payload_out != NULL)
        *payload_out = NULL;
    lic_license_init(out);
    json_t *payload = NULL;
    enum lic_result rc =
        pub != NULL ? lic_doc_verify(compact, pub, LIC_TYP_LICENSE, &payload, why, whylen)
                    : lic_doc_verify_ring(compact, ring, LIC_TYP_LICENSE, &payload, NULL, why,
                                          whylen);
    if (rc == LIC_OK)
        rc = lic_parse(payload, out, why, whylen);
    if (rc == LIC_OK)
        rc = lic_check_validity(out, now, why, whylen);
    if (rc == LIC_OK && payload_out != NULL) {
        *payload_out = payload;
        payload = NULL;
    }
    json_decref(payload);
    return rc;
}

enum lic_result lic_verify_key(const char *compact, EVP_PKEY *pub, int64_t now,
                               struct lic_license *out, json_t **payload_out,
                               char *why, size_t whylen)
{
    if (pub == NULL) {
        if (payload_out != NULL)
            *payload_out = NULL;
        lic_license_init(out);
        lic_whyf(why, whylen, "no Ed25519 public key to verify with");
        return LIC_BAD_SIGNATURE;
    }
    return verify_key(compact, pub, NULL, now, out, payload_out, why, whylen);
}

enum lic_result lic_verify_key_ring(const char *compact, const struct lic_keyring *ring,
                                    int64_t now, struct lic_license *out, json_t **payload_out,
                                    char *why, size_t whylen)
{
    if (ring == NULL) {
        if (payload_out != NULL)
            *payload_out = NULL;
        lic_license_init(out);
        lic_whyf(why, whylen, "no Ed25519 public key to verify with");
        return LIC_BAD_SIGNATURE;
    }
    return verify_key(compact, NULL, ring, now, out, payload_out, why, whylen);
}

int lic_resign_key(EVP_PKEY *priv, const struct lic_keyring *ring, const char *compact,
                   char **out, char *why, size_t whylen)
{
    *out = NULL;
    char signer[LIC_KID_LEN + 1], was[LIC_KID_LEN + 1];
    if (lic_key_kid(priv, signer) != 0) {
        lic_whyf(why, whylen, "not an Ed25519 private key");
        return -1;
    }
    json_t *payload = NULL;
    enum lic_result rc = lic_doc_verify_ring(compact, ring, LIC_TYP_LICENSE, &payload, was, why,
                                             whylen);
    if (rc != LIC_OK)
        return -1;
    int ok;
    char hdr_kid[LIC_KID_LEN + 1];
    lic_doc_kid(compact, hdr_kid);
    if (strcmp(was, signer) == 0 && strcmp(hdr_kid, signer) == 0) {
        *out = strdup(compact);
        ok = *out != NULL ? 0 : -1;
    } else {
        ok = lic_doc_sign(priv, LIC_TYP_LICENSE, signer, payload, out);
    }
    json_decref(payload);
    if (ok != 0)
        lic_whyf(why, whylen, "cannot sign the license key again");
    return ok;
}

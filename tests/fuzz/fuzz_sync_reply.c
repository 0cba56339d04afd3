/* Fuzz target: what a site accepts from the license backend and what the
 * backend accepts from a site (src/license/sync_doc.c).
 *   - the input as a compact sync reply or definition document: verified as
 *     it is (refused: nothing here was signed by the run's key);
 *   - the input as a reply's payload (JSON): a "definition" member that is an
 *     object is first signed as a license key, then the whole is signed as a
 *     sync reply and as a definition document and verified, with the nonce and
 *     number it names as the expected ones; an accepted reply must say what
 *     the payload said;
 *   - the input as a sync request body: parsed; an accepted one builds again. */
#include "fuzz.h"

#include <jansson.h>

#include "allot/sync_protocol.h"

static void as_compact(const char *text)
{
    struct sync_reply reply = {0};
    char why[256];
    FUZZ_ASSERT(sync_reply_verify(text, fuzz_key(), "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "1",
                                  &reply, why, sizeof why) != LIC_OK);
    FUZZ_ASSERT(reply.definition == NULL);
    FUZZ_ASSERT(definition_doc_verify(text, fuzz_key(), &reply, why, sizeof why) != LIC_OK);
    FUZZ_ASSERT(reply.definition == NULL);
}

static void as_reply_payload(json_t *payload)
{
    json_t *def = json_object_get(payload, "definition");
    if (json_is_object(def)) {
        char *key = NULL;
        if (lic_doc_sign(fuzz_key(), LIC_TYP_LICENSE, NULL, def, &key) != 0)
            return;
        json_object_set_new(payload, "definition", json_string(key));
        free(key);
    }
    const char *nonce = json_string_value(json_object_get(payload, "nonce"));
    const char *number = json_string_value(json_object_get(payload, "licenseNumber"));
    char *doc = NULL, why[256];
    if (lic_doc_sign(fuzz_key(), LIC_TYP_SYNC, NULL, payload, &doc) == 0) {
        struct sync_reply reply = {0};
        if (sync_reply_verify(doc, fuzz_key(), nonce ? nonce : "", number ? number : "", &reply,
                              why, sizeof why) == LIC_OK) {
            FUZZ_ASSERT(nonce != NULL && strcmp(reply.nonce, nonce) == 0);
            FUZZ_ASSERT(number != NULL && strcmp(reply.license_number, number) == 0);
            FUZZ_ASSERT(reply.definition != NULL);
            FUZZ_ASSERT(reply.revoked == json_is_true(json_object_get(payload, "revoked")));
            sync_reply_free(&reply);
        }
        FUZZ_ASSERT(reply.definition == NULL);
    }
    free(doc);
    doc = NULL;
    if (lic_doc_sign(fuzz_key(), LIC_TYP_DEFINITION, NULL, payload, &doc) == 0) {
        struct sync_reply reply = {0};
        if (definition_doc_verify(doc, fuzz_key(), &reply, why, sizeof why) == LIC_OK) {
            FUZZ_ASSERT(reply.definition != NULL && reply.nonce[0] == '\0');
            sync_reply_free(&reply);
        }
    }
    free(doc);
}

static void as_request(const json_t *body)
{
    struct sync_request req;
    char why[256];
    if (!sync_request_parse(body, &req, why, sizeof why))
        return;
    /* What the backend accepts, a site can build, and it reads back the same. */
    json_t *again = sync_request_build(&req);
    FUZZ_ASSERT(again != NULL);
    struct sync_request req2;
    FUZZ_ASSERT(sync_request_parse(again, &req2, why, sizeof why));
    FUZZ_ASSERT(strcmp(req.nonce, req2.nonce) == 0 && strcmp(req.site, req2.site) == 0);
    FUZZ_ASSERT(req.definition_issued_at == req2.definition_issued_at);
    json_decref(again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_text(data, size);
    if (text == NULL)
        return 0;
    as_compact(text);
    free(text);
    json_error_t err;
    json_t *body = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &err);
    if (json_is_object(body)) {
        as_request(body);
        as_reply_payload(body);
    }
    json_decref(body);
    return 0;
}

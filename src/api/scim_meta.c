/* /scim/v2's discovery documents (RFC 7644 section 4: ServiceProviderConfig,
 * ResourceTypes, Schemas) and the shape of its errors (section 3.12). */
#include <stdio.h>
#include <string.h>

#include "allot/api.h"
#include "allot/scim.h"

/* Every error under /scim/v2, from allot's body: SCIM's members (schemas,
 * status as a string, scimType, detail) and allot's errorType and corrId, so
 * that a log line and a support ticket still meet; statusCode too). */
json_t *scim_error_shape(json_t *body)
{
    json_int_t status = json_integer_value(json_object_get(body, "statusCode"));
    const char *scim_type = json_string_value(json_object_get(body, "scimType"));
    const char *message = json_string_value(json_object_get(body, "message"));
    if (scim_type == NULL && status == 409)
        scim_type = "uniqueness";
    if (scim_type == NULL && status == 400)
        scim_type = message != NULL && strncmp(message, "Malformed JSON", 14) == 0
                        ? "invalidSyntax"
                        : "invalidValue";
    char code[8];
    snprintf(code, sizeof code, "%d", (int)status);
    json_t *out = json_pack("{s:[s], s:s}", "schemas", SCIM_MSG_ERROR, "status", code);
    if (out == NULL) {
        json_decref(body);
        return NULL;
    }
    if (scim_type != NULL)
        json_object_set_new(out, "scimType", json_string(scim_type));
    json_object_set(out, "detail", json_object_get(body, "message"));
    static const char *const kept[] = {"errorType", "statusCode", "corrId", "field"};
    for (size_t i = 0; i < sizeof kept / sizeof kept[0]; i++) {
        json_t *v = json_object_get(body, kept[i]);
        if (v != NULL)
            json_object_set(out, kept[i], v);
    }
    json_decref(body);
    return out;
}

const struct http_error_dialect api_error_dialects[] = {
    {"/scim/v2", SCIM_CONTENT_TYPE, scim_error_shape},
};
const size_t api_error_dialects_count = sizeof api_error_dialects / sizeof api_error_dialects[0];

static const char service_provider_config[] =
    "{\"schemas\":[\"urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig\"],"
    "\"documentationUri\":\"https://github.com/allot/allot#scim-provisioning\","
    "\"patch\":{\"supported\":true},"
    "\"bulk\":{\"supported\":false,\"maxOperations\":0,\"maxPayloadSize\":0},"
    "\"filter\":{\"supported\":true,\"maxResults\":1000},"
    "\"changePassword\":{\"supported\":false},"
    "\"sort\":{\"supported\":false},"
    "\"etag\":{\"supported\":false},"
    "\"authenticationSchemes\":[{\"type\":\"oauthbearertoken\",\"name\":\"OAuth Bearer Token\","
    "\"description\":\"An allot API key of the scim role, as Authorization: Bearer\","
    "\"primary\":true}],"
    "\"meta\":{\"resourceType\":\"ServiceProviderConfig\","
    "\"location\":\"/scim/v2/ServiceProviderConfig\"}}";

#define RT_USER                                                                             \
    "{\"schemas\":[\"urn:ietf:params:scim:schemas:core:2.0:ResourceType\"],\"id\":\"User\"," \
    "\"name\":\"User\",\"endpoint\":\"/Users\",\"description\":\"A user of the SCIM "       \
    "directory (ALLOT_SCIM_DIRECTORY); userName is the userId the hub names\","            \
    "\"schema\":\"" SCIM_SCHEMA_USER "\",\"schemaExtensions\":[{\"schema\":\""              \
    SCIM_SCHEMA_ENTERPRISE "\",\"required\":false}],"                                      \
    "\"meta\":{\"resourceType\":\"ResourceType\",\"location\":\"/scim/v2/ResourceTypes/User\"}}"
#define RT_GROUP                                                                              \
    "{\"schemas\":[\"urn:ietf:params:scim:schemas:core:2.0:ResourceType\"],\"id\":\"Group\","  \
    "\"name\":\"Group\",\"endpoint\":\"/Groups\",\"description\":\"A group: the access rules " \
    "match its members\",\"schema\":\"" SCIM_SCHEMA_GROUP "\","                               \
    "\"meta\":{\"resourceType\":\"ResourceType\",\"location\":\"/scim/v2/ResourceTypes/Group\"}}"

/* An attribute of a schema: name, type, multi-valued, required, mutability,
 * uniqueness. */
#define ATTR(name, type, multi, required, mutability, uniqueness)                                  \
    "{\"name\":\"" name "\",\"type\":\"" type "\",\"multiValued\":" multi ",\"required\":"        \
    required ",\"caseExact\":false,\"mutability\":\"" mutability "\",\"returned\":\"default\"," \
    "\"uniqueness\":\"" uniqueness "\"}"
#define SCHEMA_USER                                                                               \
    "{\"schemas\":[\"urn:ietf:params:scim:schemas:core:2.0:Schema\"],\"id\":\"" SCIM_SCHEMA_USER \
    "\",\"name\":\"User\",\"description\":\"User Account\",\"attributes\":["                      \
    ATTR("userName", "string", "false", "true", "readWrite", "server") ","                        \
    ATTR("displayName", "string", "false", "false", "readWrite", "none") ","                      \
    ATTR("active", "boolean", "false", "false", "readWrite", "none") ","                          \
    ATTR("externalId", "string", "false", "false", "readWrite", "server") ","                     \
    ATTR("name", "complex", "false", "false", "readWrite", "none") ","                            \
    ATTR("emails", "complex", "true", "false", "readWrite", "none") ","                           \
    ATTR("groups", "complex", "true", "false", "readOnly", "none") "],"                           \
    "\"meta\":{\"resourceType\":\"Schema\",\"location\":\"/scim/v2/Schemas/" SCIM_SCHEMA_USER "\"}}"
#define SCHEMA_GROUP                                                                               \
    "{\"schemas\":[\"urn:ietf:params:scim:schemas:core:2.0:Schema\"],\"id\":\"" SCIM_SCHEMA_GROUP \
    "\",\"name\":\"Group\",\"description\":\"Group\",\"attributes\":["                             \
    ATTR("displayName", "string", "false", "true", "readWrite", "server") ","                      \
    ATTR("externalId", "string", "false", "false", "readWrite", "server") ","                      \
    ATTR("members", "complex", "true", "false", "readWrite", "none") "],"                          \
    "\"meta\":{\"resourceType\":\"Schema\",\"location\":\"/scim/v2/Schemas/" SCIM_SCHEMA_GROUP "\"}}"

#define LIST2(a, b)                                                                          \
    "{\"schemas\":[\"" SCIM_MSG_LIST "\"],\"totalResults\":2,\"startIndex\":1,"             \
    "\"itemsPerPage\":2,\"Resources\":[" a "," b "]}"

static void reply_doc(struct http_request *r, const char *text)
{
    http_reply_text(r, 200, SCIM_CONTENT_TYPE, text, strlen(text));
}

void api_scim_service_provider_config(struct http_request *r)
{
    reply_doc(r, service_provider_config);
}

void api_scim_resource_types(struct http_request *r)
{
    reply_doc(r, LIST2(RT_USER, RT_GROUP));
}

void api_scim_resource_type(struct http_request *r)
{
    const char *id = http_param(r, 0);
    if (strcmp(id, "User") == 0)
        reply_doc(r, RT_USER);
    else if (strcmp(id, "Group") == 0)
        reply_doc(r, RT_GROUP);
    else
        http_reply_error(r, HTTP_ERR_NOT_FOUND, NULL, "No such resource type: %.64s", id);
}

void api_scim_schemas(struct http_request *r)
{
    reply_doc(r, LIST2(SCHEMA_USER, SCHEMA_GROUP));
}

void api_scim_schema(struct http_request *r)
{
    const char *id = http_param(r, 0);
    if (strcmp(id, SCIM_SCHEMA_USER) == 0)
        reply_doc(r, SCHEMA_USER);
    else if (strcmp(id, SCIM_SCHEMA_GROUP) == 0)
        reply_doc(r, SCHEMA_GROUP);
    else
        http_reply_error(r, HTTP_ERR_NOT_FOUND, NULL, "No such schema: %.120s", id);
}

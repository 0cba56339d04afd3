/* SCIM 2.0 provisioning at /scim/v2 (RFC 7643, RFC 7644): what the handlers
 * of src/api/scim.c share with the pure parts that are tested alone. */
#ifndef ALLOT_SCIM_H
#define ALLOT_SCIM_H

#include <stdbool.h>

#include <jansson.h>

#include "allot/http.h"

#define SCIM_CONTENT_TYPE "application/scim+json"
#define SCIM_SCHEMA_USER "urn:ietf:params:scim:schemas:core:2.0:User"
#define SCIM_SCHEMA_GROUP "urn:ietf:params:scim:schemas:core:2.0:Group"
#define SCIM_SCHEMA_ENTERPRISE "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
#define SCIM_MSG_ERROR "urn:ietf:params:scim:api:messages:2.0:Error"
#define SCIM_MSG_LIST "urn:ietf:params:scim:api:messages:2.0:ListResponse"
#define SCIM_MSG_PATCH "urn:ietf:params:scim:api:messages:2.0:PatchOp"
/* The most resources one list answers (ServiceProviderConfig says so). */
#define SCIM_MAX_RESULTS 1000

/* A refusal of a SCIM request: why, and SCIM's scimType for it (RFC 7644
 * section 3.12; NULL: none). */
struct scim_fault {
    const char *scim_type;
    char detail[256];
};

/* Applies the operations of a PATCH request body ({"schemas": [PatchOp],
 * "Operations": [...]}) to a user as it was read (resource, changed in
 * place): add, replace and remove, op names in any case (Entra's
 * "Replace"), with a path ("name.givenName", "emails[type eq \"work\"].value",
 * an extension's URN and attribute) or without one (the value's members,
 * dotted names too).  False with the fault when an operation cannot be
 * applied. */
bool scim_patch_user(json_t *resource, const json_t *body, struct scim_fault *fault);

/* The member changes of a group's PATCH, applied in their order: `replace`
 * the whole new list (NULL: unchanged), `add` and `remove` (arrays of user
 * ids, as given); displayName and externalId when the operations set them. */
struct scim_group_patch {
    json_t *replace, *add, *remove; /* owned */
    const char *display;            /* borrowed from the body; NULL: unchanged */
    bool set_external;
    const char *external_id;        /* NULL: none */
};
bool scim_patch_group(const json_t *body, struct scim_group_patch *out, struct scim_fault *fault);
void scim_group_patch_free(struct scim_group_patch *p);

/* A boolean as SCIM clients send one: true, false, or Entra's strings
 * "True" and "False" (any case).  False when it is neither. */
bool scim_bool(const json_t *v, bool *out);
/* A member of an object by name, case-insensitively (SCIM attribute names
 * are); *key (may be NULL) gets the name as the object spells it. */
json_t *scim_get(const json_t *obj, const char *name, const char **key);

/* The shape of every error under /scim/v2 (src/api/scim_meta.c). */
json_t *scim_error_shape(json_t *body);

#endif

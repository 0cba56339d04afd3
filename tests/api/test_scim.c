/* /scim/v2: SCIM 2.0 provisioning through the real allotd, as the clients
 * that use it send it (issue 10).
 *   - Okta's sequence: the connection test GET /Users?startIndex=1&count=2,
 *     a filter=userName eq before the create, POST, PUT and PATCH updates;
 *   - Entra's: PATCH replace, with a capitalised "Replace" and a string
 *     "active": "False", which ends the user's sessions and puts the
 *     allocation in quarantine (a soft delete), and "True" again;
 *   - groups: membership feeding a rule at the next session start, PATCH
 *     add/remove/replace, a rename, a delete;
 *   - DELETE of a user; paging; the role `scim` reaches /scim/v2 only;
 *     every error under /scim/v2 in SCIM's error schema;
 *   - a bulk load of 10,000 users in 20 groups, checked for correctness
 *     (bench/scim measures its speed).
 * Each reply is checked for what a client sees (status, content type,
 * SCIM members) and the state it left in the database. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "allot/buf.h"
#include "tlicense.h"

T_DEFINE_STATE;

#define DIR "CORP"
static struct tl_site site;
static char scim_key[128];

/* A request to /scim/v2 with a key (NULL: the scim key), the body as
 * application/scim+json. */
static void scim_as(const char *key, const char *method, const char *path, const char *body,
                    struct th_resp *r)
{
    char auth[256], url[1024];
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", key ? key : scim_key);
    snprintf(url, sizeof url, "/scim/v2%s", path);
    const char *headers[] = {auth, "Content-Type: application/scim+json",
                             "Accept: application/scim+json", NULL};
    T_CHECK(th_req_full(&site.srv, method, url, headers, body, body ? strlen(body) : 0, r));
}

static void scim(const char *method, const char *path, const char *body, struct th_resp *r)
{
    scim_as(NULL, method, path, body, r);
}

/* A SCIM error: status, scimType (NULL: none), SCIM's schema, status as a
 * string, allot's errorType, and the SCIM media type. */
static void expect_scim_error(const struct th_resp *r, long status, const char *scim_type,
                              const char *error_type)
{
    char code[8];
    snprintf(code, sizeof code, "%ld", status);
    T_EQ_INT(r->status, status);
    T_EQ_STR(json_string_value(json_array_get(json_object_get(r->json, "schemas"), 0)),
             "urn:ietf:params:scim:api:messages:2.0:Error");
    T_EQ_STR(th_str(r, "status"), code);
    T_EQ_STR(th_str(r, "scimType"), scim_type ? scim_type : "");
    T_EQ_STR(th_error_type(r), error_type);
    T_CHECK(th_str(r, "detail")[0] != '\0');
    T_CHECK(strncmp(r->content_type, "application/scim+json", 21) == 0);
}

#define sql_n(fmt, arg) th_sql_longf(site.db.url, fmt, arg)

static void reset(void)
{
    T_CHECK(tl_reset(site.db.url));
    char *ok = th_sql(site.db.url, "TRUNCATE scim_groups");
    T_CHECK(ok != NULL);
    free(ok);
}

/* ---- Okta ------------------------------------------------------------------ */

static void test_okta_sequence(void)
{
    reset();
    struct th_resp r;
    /* the connection test */
    scim("GET", "/Users?startIndex=1&count=2", NULL, &r);
    T_STATUS(r, 200);
    T_CHECK(strncmp(r.content_type, "application/scim+json", 21) == 0);
    T_EQ_STR(json_string_value(json_array_get(json_object_get(r.json, "schemas"), 0)),
             "urn:ietf:params:scim:api:messages:2.0:ListResponse");
    T_EQ_INT(tl_int(r.json, "totalResults"), 0);
    T_EQ_INT(tl_int(r.json, "startIndex"), 1);
    T_EQ_INT((long)json_array_size(json_object_get(r.json, "Resources")), 0);
    th_resp_free(&r);
    /* is the user there?  no: create */
    scim("GET", "/Users?filter=userName%20eq%20%22ann%40example.com%22&startIndex=1&count=100",
         NULL, &r);
    T_STATUS(r, 200);
    T_EQ_INT(tl_int(r.json, "totalResults"), 0);
    th_resp_free(&r);
    scim("POST", "/Users",
         "{\"schemas\":[\"urn:ietf:params:scim:schemas:core:2.0:User\"],"
         "\"userName\":\"ann@example.com\",\"name\":{\"givenName\":\"Ann\",\"familyName\":\"Lee\"},"
         "\"emails\":[{\"primary\":true,\"value\":\"ann@example.com\",\"type\":\"work\"}],"
         "\"displayName\":\"Ann Lee\",\"locale\":\"en-US\",\"externalId\":\"00u1okta\","
         "\"groups\":[],\"password\":\"Sup3r-secret!\",\"active\":true}", &r);
    T_STATUS(r, 201);
    T_CHECK(strncmp(r.content_type, "application/scim+json", 21) == 0);
    char id[TL_ID_LEN], path[96];
    snprintf(id, sizeof id, "%s", th_str(&r, "id"));
    snprintf(path, sizeof path, "/Users/%s", id);
    T_CHECK(strstr(r.location, path) != NULL);
    T_EQ_STR(th_str(&r, "userName"), "ann@example.com");
    T_EQ_STR(th_str(&r, "externalId"), "00u1okta");
    T_CHECK(json_is_true(json_object_get(r.json, "active")));
    T_EQ_STR(tl_text(json_object_get(r.json, "meta"), "resourceType"), "User");
    T_CHECK(strstr(tl_text(json_object_get(r.json, "meta"), "location"), path) != NULL);
    T_CHECK(json_object_get(r.json, "password") == NULL);
    th_resp_free(&r);
    /* in the database: a user of the SCIM directory, the password nowhere */
    T_EQ_INT(sql_n("SELECT count(*) FROM users WHERE user_directory = 'CORP' AND user_id = "
                   "'ann@example.com' AND external_id = '00u1okta' AND active AND name = 'Ann Lee'"
                   " AND id = '%s'", id), 1);
    T_EQ_INT(sql_n("SELECT count(*) FROM users WHERE scim::text LIKE '%%%s%%'", "Sup3r"), 0);
    T_CHECK(!th_log_contains(&site.srv, "Sup3r-secret"));
    /* the filter finds it now */
    scim("GET", "/Users?filter=userName%20eq%20%22ann%40example.com%22", NULL, &r);
    T_EQ_INT(tl_int(r.json, "totalResults"), 1);
    T_EQ_STR(tl_text(json_array_get(json_object_get(r.json, "Resources"), 0), "id"), id);
    th_resp_free(&r);
    /* PUT: Okta sends the whole user */
    scim("PUT", path,
         "{\"schemas\":[\"urn:ietf:params:scim:schemas:core:2.0:User\"],\"id\":\"ignored\","
         "\"userName\":\"ann@example.com\",\"name\":{\"givenName\":\"Ann\",\"familyName\":\"Leigh\"},"
         "\"emails\":[{\"primary\":true,\"value\":\"ann@example.com\",\"type\":\"work\"}],"
         "\"externalId\":\"00u1okta\",\"active\":true}", &r);
    T_STATUS(r, 200);
    T_EQ_STR(th_str(&r, "id"), id);
    T_EQ_STR(tl_text(json_object_get(r.json, "name"), "familyName"), "Leigh");
    T_EQ_STR(th_str(&r, "displayName"), "Ann Leigh"); /* from the name, displayName gone */
    th_resp_free(&r);
    /* PATCH: Okta's deactivation, replace without a path */
    scim("PATCH", path,
         "{\"schemas\":[\"urn:ietf:params:scim:api:messages:2.0:PatchOp\"],"
         "\"Operations\":[{\"op\":\"replace\",\"value\":{\"active\":false}}]}", &r);
    T_STATUS(r, 200);
    T_CHECK(json_is_false(json_object_get(r.json, "active")));
    T_EQ_STR(tl_text(json_object_get(r.json, "name"), "familyName"), "Leigh");
    th_resp_free(&r);
    T_EQ_INT(sql_n("SELECT count(*) FROM users WHERE id = '%s' AND NOT active", id), 1);
    /* paging: three users, two per page */
    scim("POST", "/Users", "{\"userName\":\"bob@example.com\"}", &r);
    th_resp_free(&r);
    scim("POST", "/Users", "{\"userName\":\"cy@example.com\"}", &r);
    th_resp_free(&r);
    scim("GET", "/Users?startIndex=1&count=2", NULL, &r);
    T_EQ_INT(tl_int(r.json, "totalResults"), 3);
    T_EQ_INT(tl_int(r.json, "itemsPerPage"), 2);
    T_EQ_STR(tl_text(json_array_get(json_object_get(r.json, "Resources"), 0), "userName"),
             "ann@example.com");
    th_resp_free(&r);
    scim("GET", "/Users?startIndex=3&count=2", NULL, &r);
    T_EQ_INT(tl_int(r.json, "totalResults"), 3);
    T_EQ_INT(tl_int(r.json, "startIndex"), 3);
    T_EQ_INT((long)json_array_size(json_object_get(r.json, "Resources")), 1);
    T_EQ_STR(tl_text(json_array_get(json_object_get(r.json, "Resources"), 0), "userName"),
             "cy@example.com");
    th_resp_free(&r);
    scim("GET", "/Users?startIndex=0&count=0", NULL, &r); /* below 1 is 1; count 0: the total */
    T_EQ_INT(tl_int(r.json, "totalResults"), 3);
    T_EQ_INT((long)json_array_size(json_object_get(r.json, "Resources")), 0);
    th_resp_free(&r);
    /* externalId eq and userName eq joined by and */
    scim("GET", "/Users?filter=externalId%20eq%20%2200u1okta%22%20and%20userName%20eq%20%22ann%40example.com%22",
         NULL, &r);
    T_EQ_INT(tl_int(r.json, "totalResults"), 1);
    th_resp_free(&r);
    scim("GET", "/Users?filter=externalId%20eq%20%2200u1okta%22%20and%20userName%20eq%20%22bob%40example.com%22",
         NULL, &r);
    T_EQ_INT(tl_int(r.json, "totalResults"), 0);
    th_resp_free(&r);
    /* a user of another directory is not a SCIM user */
    char other[TL_ID_LEN];
    T_CHECK(tl_user(&site.srv, "OTHER", "ann@example.com", NULL, other));
    scim("GET", "/Users?filter=userName%20eq%20%22ann%40example.com%22", NULL, &r);
    T_EQ_INT(tl_int(r.json, "totalResults"), 1);
    th_resp_free(&r);
    char opath[96];
    snprintf(opath, sizeof opath, "/Users/%s", other);
    scim("GET", opath, NULL, &r);
    expect_scim_error(&r, 404, NULL, "LICENSES-NotFound");
    th_resp_free(&r);
}

/* ---- Entra ----------------------------------------------------------------- */

static void test_entra_sequence(void)
{
    reset();
    T_CHECK(tl_apply(&site.srv, &site.auth, "--professional", "1", "--param",
                     "sessionLingerSeconds=0", NULL));
    struct th_resp r;
    /* Entra looks the user up by userName first, then creates */
    scim("GET", "/Users?filter=userName+eq+%22dan%22", NULL, &r);
    T_EQ_INT(tl_int(r.json, "totalResults"), 0);
    th_resp_free(&r);
    scim("POST", "/Users",
         "{\"schemas\":[\"urn:ietf:params:scim:schemas:core:2.0:User\","
         "\"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User\"],"
         "\"externalId\":\"dan-aad-object-id\",\"userName\":\"dan\",\"active\":true,"
         "\"displayName\":\"Dan\",\"emails\":[{\"primary\":true,\"type\":\"work\",\"value\":\"dan@corp.example\"}],"
         "\"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User\":{\"department\":\"Ops\"}}", &r);
    T_STATUS(r, 201);
    char id[TL_ID_LEN], path[96];
    snprintf(id, sizeof id, "%s", th_str(&r, "id"));
    snprintf(path, sizeof path, "/Users/%s", id);
    th_resp_free(&r);
    /* a professional allocation, and a session on it */
    T_EQ_INT(tl_alloc(&site.srv, id, "professional", NULL, NULL, 0), 201);
    char sid[TL_ID_LEN];
    tl_expect_access(&site.srv, id, "professional", sid);
    /* Entra's PATCH: capitalised ops, a filtered path, an extension attribute */
    scim("PATCH", path,
         "{\"schemas\":[\"urn:ietf:params:scim:api:messages:2.0:PatchOp\"],\"Operations\":["
         "{\"op\":\"Replace\",\"path\":\"displayName\",\"value\":\"Dan Dare\"},"
         "{\"op\":\"Replace\",\"path\":\"emails[type eq \\\"work\\\"].value\",\"value\":\"dan.dare@corp.example\"},"
         "{\"op\":\"Add\",\"path\":\"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department\","
         "\"value\":\"Space\"}]}", &r);
    T_STATUS(r, 200);
    T_EQ_STR(th_str(&r, "displayName"), "Dan Dare");
    T_EQ_STR(tl_text(json_array_get(json_object_get(r.json, "emails"), 0), "value"),
             "dan.dare@corp.example");
    T_EQ_STR(tl_text(json_object_get(r.json, "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"),
                     "department"), "Space");
    th_resp_free(&r);
    /* the session still runs: only attributes changed */
    T_EQ_INT(sql_n("SELECT count(*) FROM sessions WHERE id = '%s' AND ended_at IS NULL", sid), 1);
    /* Entra's deactivation: "Replace", and "False" as a string */
    scim("PATCH", path,
         "{\"schemas\":[\"urn:ietf:params:scim:api:messages:2.0:PatchOp\"],\"Operations\":["
         "{\"op\":\"Replace\",\"path\":\"active\",\"value\":\"False\"}]}", &r);
    T_STATUS(r, 200);
    T_CHECK(json_is_false(json_object_get(r.json, "active")));
    th_resp_free(&r);
    /* a soft delete: the session ended, the allocation (used just now) in
     * quarantine and still counted, the user kept */
    T_EQ_INT(sql_n("SELECT count(*) FROM sessions WHERE id = '%s' AND end_reason = 'user_deactivated'", sid), 1);
    T_EQ_INT(sql_n("SELECT count(*) FROM allocations WHERE user_ref = '%s' AND quarantine_end IS NOT NULL", id), 1);
    T_EQ_INT(sql_n("SELECT count(*) FROM users WHERE id = '%s' AND NOT active", id), 1);
    T_CHECK(th_req(&site.srv, "GET", "/license", TH_ADMIN_KEY, NULL, &r));
    T_EQ_INT(tl_int(tl_allotment(&r, "professional"), "quarantined"), 1);
    T_EQ_INT(tl_int(tl_allotment(&r, "professional"), "available"), 0);
    th_resp_free(&r);
    char hb[128];
    snprintf(hb, sizeof hb, "/sessions/%s/heartbeat", sid);
    T_CHECK(th_req(&site.srv, "POST", hb, TH_ADMIN_KEY, NULL, &r));
    T_EQ_INT(r.status, 409);
    th_resp_free(&r);
    /* no session starts while inactive */
    tl_expect_refused(&site.srv, id, 403, "LICENSES-NoAccessPass", "NoAvailableAccessType");
    T_EQ_INT(sql_n("SELECT count(*) FROM session_events WHERE user_ref = '%s' AND kind = 'refusal'"
                   " AND detail = 'user_inactive'", id), 1);
    /* "True" again (Entra sends a string here too), the allocation reinstated */
    scim("PATCH", path,
         "{\"schemas\":[\"urn:ietf:params:scim:api:messages:2.0:PatchOp\"],\"Operations\":["
         "{\"op\":\"Replace\",\"path\":\"active\",\"value\":\"True\"}]}", &r);
    T_STATUS(r, 200);
    T_CHECK(json_is_true(json_object_get(r.json, "active")));
    th_resp_free(&r);
    char aid[128];
    char *v = th_sql(site.db.url, "SELECT id FROM allocations");
    snprintf(aid, sizeof aid, "/allocations/%s/actions/reinstate", v ? v : "");
    free(v);
    T_CHECK(th_req(&site.srv, "POST", aid, TH_ADMIN_KEY, NULL, &r));
    T_STATUS(r, 200);
    th_resp_free(&r);
    tl_expect_access(&site.srv, id, "professional", NULL);
    /* Entra's replace without a path, a boolean this time */
    scim("PATCH", path,
         "{\"schemas\":[\"urn:ietf:params:scim:api:messages:2.0:PatchOp\"],\"Operations\":["
         "{\"op\":\"replace\",\"value\":{\"active\":false,\"externalId\":\"dan-2\"}}]}", &r);
    T_STATUS(r, 200);
    T_EQ_STR(th_str(&r, "externalId"), "dan-2");
    th_resp_free(&r);
    T_EQ_INT(sql_n("SELECT count(*) FROM sessions WHERE user_ref = '%s' AND ended_at IS NULL", id), 0);
}

/* ---- groups ------------------------------------------------------------------ */

static void test_groups_feed_rules(void)
{
    reset();
    T_CHECK(tl_apply(&site.srv, &site.auth, "--professional", "2", "--param",
                     "sessionLingerSeconds=0", NULL));
    T_EQ_INT(tl_rule(&site.srv, "Sales pros", "professional", "{\"groups\":[\"Sales\"]}", -1, NULL), 201);
    struct th_resp r;
    char ids[3][TL_ID_LEN];
    const char *names[] = {"eve", "fay", "gus"};
    for (int i = 0; i < 3; i++) {
        char body[128];
        snprintf(body, sizeof body, "{\"userName\":\"%s\"}", names[i]);
        scim("POST", "/Users", body, &r);
        T_STATUS(r, 201);
        snprintf(ids[i], TL_ID_LEN, "%s", th_str(&r, "id"));
        th_resp_free(&r);
    }
    tl_expect_refused(&site.srv, ids[0], 403, "LICENSES-NoAccessPass", "NoAvailableAccessType");
    /* a group with eve: the rule assigns at her next session start */
    char body[512];
    snprintf(body, sizeof body, "{\"schemas\":[\"urn:ietf:params:scim:schemas:core:2.0:Group\"],"
             "\"displayName\":\"Sales\",\"externalId\":\"g-1\",\"members\":[{\"value\":\"%s\"}]}", ids[0]);
    scim("POST", "/Groups", body, &r);
    T_STATUS(r, 201);
    char gid[TL_ID_LEN], gpath[96];
    snprintf(gid, sizeof gid, "%s", th_str(&r, "id"));
    snprintf(gpath, sizeof gpath, "/Groups/%s", gid);
    T_CHECK(strstr(r.location, gpath) != NULL);
    T_EQ_INT((long)json_array_size(json_object_get(r.json, "members")), 1);
    th_resp_free(&r);
    tl_expect_access(&site.srv, ids[0], "professional", NULL);
    /* the user shows the group */
    char upath[96];
    snprintf(upath, sizeof upath, "/Users/%s", ids[0]);
    scim("GET", upath, NULL, &r);
    T_EQ_STR(tl_text(json_array_get(json_object_get(r.json, "groups"), 0), "display"), "Sales");
    T_EQ_STR(tl_text(json_array_get(json_object_get(r.json, "groups"), 0), "value"), gid);
    th_resp_free(&r);
    /* PATCH: add fay and gus, remove eve (Entra's members[value eq ...]) */
    snprintf(body, sizeof body, "{\"schemas\":[\"urn:ietf:params:scim:api:messages:2.0:PatchOp\"],"
             "\"Operations\":[{\"op\":\"Add\",\"path\":\"members\",\"value\":[{\"value\":\"%s\"},"
             "{\"value\":\"%s\"}]},{\"op\":\"Remove\",\"path\":\"members[value eq \\\"%s\\\"]\"}]}",
             ids[1], ids[2], ids[0]);
    scim("PATCH", gpath, body, &r);
    T_STATUS(r, 200);
    T_EQ_INT((long)json_array_size(json_object_get(r.json, "members")), 2);
    th_resp_free(&r);
    T_EQ_INT(sql_n("SELECT count(*) FROM users WHERE groups @> ARRAY['%s']", "Sales"), 2);
    tl_expect_access(&site.srv, ids[1], "professional", NULL);
    tl_expect_refused(&site.srv, ids[2], 403, "LICENSES-NoAccessPass",
                      "NoAvailableAccessTypePendingUserSync"); /* two units, both taken */
    /* a member that is no user of the directory: 400, nothing changed */
    snprintf(body, sizeof body, "{\"Operations\":[{\"op\":\"add\",\"path\":\"members\","
             "\"value\":[{\"value\":\"%s\"},{\"value\":\"not-a-user\"}]}]}", ids[0]);
    scim("PATCH", gpath, body, &r);
    expect_scim_error(&r, 400, "invalidValue", "LICENSES-BadRequest");
    th_resp_free(&r);
    T_EQ_INT(sql_n("SELECT count(*) FROM users WHERE groups @> ARRAY['%s']", "Sales"), 2);
    /* Okta's rename: replace without a path, the id along */
    snprintf(body, sizeof body, "{\"schemas\":[\"urn:ietf:params:scim:api:messages:2.0:PatchOp\"],"
             "\"Operations\":[{\"op\":\"replace\",\"value\":{\"id\":\"%s\",\"displayName\":\"Field\"}}]}", gid);
    scim("PATCH", gpath, body, &r);
    T_STATUS(r, 200);
    T_EQ_STR(th_str(&r, "displayName"), "Field");
    th_resp_free(&r);
    T_EQ_INT(sql_n("SELECT count(*) FROM users WHERE groups @> ARRAY['%s']", "Field"), 2);
    T_EQ_INT(sql_n("SELECT count(*) FROM users WHERE groups @> ARRAY['%s']", "Sales"), 0);
    /* lists: displayName eq, members left out when asked */
    scim("GET", "/Groups?filter=displayName%20eq%20%22Field%22&excludedAttributes=members", NULL, &r);
    T_EQ_INT(tl_int(r.json, "totalResults"), 1);
    T_CHECK(json_object_get(json_array_get(json_object_get(r.json, "Resources"), 0), "members") == NULL);
    th_resp_free(&r);
    /* PUT: the whole member list */
    snprintf(body, sizeof body, "{\"displayName\":\"Field\",\"members\":[{\"value\":\"%s\"}]}", ids[0]);
    scim("PUT", gpath, body, &r);
    T_STATUS(r, 200);
    T_EQ_INT((long)json_array_size(json_object_get(r.json, "members")), 1);
    th_resp_free(&r);
    T_EQ_INT(sql_n("SELECT count(*) FROM users WHERE groups @> ARRAY['%s']", "Field"), 1);
    /* a second group of that name */
    scim("POST", "/Groups", "{\"displayName\":\"Field\"}", &r);
    expect_scim_error(&r, 409, "uniqueness", "LICENSES-Conflict");
    th_resp_free(&r);
    /* DELETE: the name leaves its members */
    scim("DELETE", gpath, NULL, &r);
    T_STATUS(r, 204);
    th_resp_free(&r);
    scim("GET", gpath, NULL, &r);
    expect_scim_error(&r, 404, NULL, "LICENSES-NotFound");
    th_resp_free(&r);
    T_EQ_INT(sql_n("SELECT count(*) FROM users WHERE cardinality(groups) > 0 AND user_directory = '%s'", DIR), 0);
}

/* ---- delete ------------------------------------------------------------------ */

static void test_delete(void)
{
    reset();
    T_CHECK(tl_apply(&site.srv, &site.auth, "--professional", "1", NULL));
    struct th_resp r;
    scim("POST", "/Users", "{\"userName\":\"hal\"}", &r);
    char id[TL_ID_LEN], path[96];
    snprintf(id, sizeof id, "%s", th_str(&r, "id"));
    snprintf(path, sizeof path, "/Users/%s", id);
    th_resp_free(&r);
    T_EQ_INT(tl_alloc(&site.srv, id, "professional", NULL, NULL, 0), 201);
    char sid[TL_ID_LEN];
    tl_expect_access(&site.srv, id, "professional", sid);
    scim("DELETE", path, NULL, &r);
    T_STATUS(r, 204);
    T_EQ_INT((long)r.body_len, 0);
    th_resp_free(&r);
    scim("GET", path, NULL, &r);
    expect_scim_error(&r, 404, NULL, "LICENSES-NotFound");
    th_resp_free(&r);
    scim("DELETE", path, NULL, &r);
    expect_scim_error(&r, 404, NULL, "LICENSES-NotFound");
    th_resp_free(&r);
    T_EQ_INT(sql_n("SELECT count(*) FROM users WHERE id = '%s'", id), 0);
    T_EQ_INT(sql_n("SELECT count(*) FROM sessions WHERE id = '%s' AND end_reason = 'user_deleted'", sid), 1);
    T_EQ_INT(sql_n("SELECT count(*) FROM allocations WHERE user_ref IS NULL AND user_id = '%s'"
                   " AND quarantine_end IS NOT NULL", "hal"), 1);
}

/* ---- roles -------------------------------------------------------------------- */

static void test_role_isolation(void)
{
    reset();
    char auditor[128], proxy[128];
    T_CHECK(tl_api_key(&site.srv, "auditor", auditor, sizeof auditor));
    T_CHECK(tl_api_key(&site.srv, "proxy", proxy, sizeof proxy));
    struct th_resp r;
    /* the scim key reaches nothing outside /scim/v2 (allot's own error shape there) */
    static const char *const outside[][2] = {
        {"GET", "/users"}, {"POST", "/sessions"}, {"GET", "/license"}, {"GET", "/metrics"},
        {"GET", "/allocations"}, {"GET", "/allocations/idle-release"}, {"GET", "/apikeys"},
        {"GET", "/sessions/events"}, {"GET", "/reports/usage"}};
    for (size_t i = 0; i < sizeof outside / sizeof outside[0]; i++) {
        T_CHECK(th_req(&site.srv, outside[i][0], outside[i][1], scim_key,
                       strcmp(outside[i][0], "POST") == 0 ? "{}" : NULL, &r));
        if (r.status != 403)
            printf("#   %s %s answered %ld to the scim key\n", outside[i][0], outside[i][1], r.status);
        T_ERROR(r, 403, "LICENSES-Forbidden");
        T_EQ_INT(tl_int(r.json, "statusCode"), 403);
        th_resp_free(&r);
    }
    /* nothing under /scim/v2 takes an auditor or a proxy key */
    scim_as(auditor, "GET", "/Users", NULL, &r);
    expect_scim_error(&r, 403, NULL, "LICENSES-Forbidden");
    th_resp_free(&r);
    scim_as(proxy, "POST", "/Users", "{\"userName\":\"x\"}", &r);
    expect_scim_error(&r, 403, NULL, "LICENSES-Forbidden");
    th_resp_free(&r);
    scim_as(auditor, "GET", "/ServiceProviderConfig", NULL, &r);
    expect_scim_error(&r, 403, NULL, "LICENSES-Forbidden");
    th_resp_free(&r);
    T_EQ_INT(sql_n("SELECT count(*) FROM users WHERE user_id = '%s'", "x"), 0);
    /* an admin key may */
    scim_as(TH_ADMIN_KEY, "GET", "/Users", NULL, &r);
    T_STATUS(r, 200);
    th_resp_free(&r);
    /* no key, an unknown key: 401 in SCIM's shape */
    const char *headers[] = {"Accept: application/scim+json", NULL};
    T_CHECK(th_req_full(&site.srv, "GET", "/scim/v2/Users", headers, NULL, 0, &r));
    expect_scim_error(&r, 401, NULL, "LICENSES-Unauthorized");
    T_CHECK(strstr(r.headers, "WWW-Authenticate: Bearer") != NULL);
    th_resp_free(&r);
    scim_as("allot_not_a_key_0123456789abcdef", "GET", "/Users", NULL, &r);
    expect_scim_error(&r, 401, NULL, "LICENSES-Unauthorized");
    th_resp_free(&r);
    /* a scim key can be made and listed as such */
    T_CHECK(th_req(&site.srv, "GET", "/apikeys", TH_ADMIN_KEY, NULL, &r));
    T_CHECK(strstr(r.body, "\"role\":\"scim\"") != NULL);
    th_resp_free(&r);
}

/* ---- errors -------------------------------------------------------------------- */

static void test_error_schema(void)
{
    reset();
    struct th_resp r;
    scim("GET", "/Nowhere", NULL, &r);
    expect_scim_error(&r, 404, NULL, "LICENSES-NotFound");
    th_resp_free(&r);
    scim("GET", "/Users/not-a-uuid", NULL, &r);
    expect_scim_error(&r, 404, NULL, "LICENSES-NotFound");
    th_resp_free(&r);
    scim("GET", "/Users/6b1f0c2e-8d7a-4f43-9a55-2e1c0d9b7a10", NULL, &r);
    expect_scim_error(&r, 404, NULL, "LICENSES-NotFound");
    th_resp_free(&r);
    scim("DELETE", "/Users", NULL, &r);
    expect_scim_error(&r, 405, NULL, "LICENSES-MethodNotAllowed");
    T_CHECK(strstr(r.allow, "POST") != NULL);
    th_resp_free(&r);
    static const char *const bad_filters[] = {
        "userName%20ne%20%22a%22", "userName%20eq%20a", "emails%20eq%20%22a%22",
        "userName%20eq%20%22a%22%20or%20userName%20eq%20%22b%22", "displayName%20eq%20%22a%22"};
    for (size_t i = 0; i < sizeof bad_filters / sizeof bad_filters[0]; i++) {
        char path[256];
        snprintf(path, sizeof path, "/Users?filter=%s", bad_filters[i]);
        scim("GET", path, NULL, &r);
        expect_scim_error(&r, 400, "invalidFilter", "LICENSES-BadRequest");
        th_resp_free(&r);
    }
    scim("GET", "/Users?startIndex=abc", NULL, &r);
    expect_scim_error(&r, 400, "invalidValue", "LICENSES-BadRequest");
    th_resp_free(&r);
    scim("POST", "/Users", "{\"userName\":", &r);
    expect_scim_error(&r, 400, "invalidSyntax", "LICENSES-BadRequest");
    th_resp_free(&r);
    scim("POST", "/Users", "{\"displayName\":\"no userName\"}", &r);
    expect_scim_error(&r, 400, "invalidValue", "LICENSES-BadRequest");
    th_resp_free(&r);
    scim("POST", "/Users", "{\"userName\":\"ivy\",\"active\":\"maybe\"}", &r);
    expect_scim_error(&r, 400, "invalidValue", "LICENSES-BadRequest");
    th_resp_free(&r);
    scim("POST", "/Users", "{\"userName\":\"ivy\",\"externalId\":\"e-ivy\"}", &r);
    T_STATUS(r, 201);
    char path[96];
    snprintf(path, sizeof path, "/Users/%s", th_str(&r, "id"));
    th_resp_free(&r);
    scim("POST", "/Users", "{\"userName\":\"ivy\"}", &r);
    expect_scim_error(&r, 409, "uniqueness", "LICENSES-Conflict");
    th_resp_free(&r);
    scim("POST", "/Users", "{\"userName\":\"ivy2\",\"externalId\":\"e-ivy\"}", &r);
    expect_scim_error(&r, 409, "uniqueness", "LICENSES-Conflict");
    T_EQ_STR(th_str(&r, "field"), "externalId");
    th_resp_free(&r);
    scim("PATCH", path, "{\"Operations\":[{\"op\":\"replace\",\"path\":\"id\",\"value\":\"x\"}]}", &r);
    expect_scim_error(&r, 400, "mutability", "LICENSES-BadRequest");
    th_resp_free(&r);
    scim("PATCH", path, "{\"Operations\":[{\"op\":\"remove\"}]}", &r);
    expect_scim_error(&r, 400, "noTarget", "LICENSES-BadRequest");
    th_resp_free(&r);
    scim("PATCH", path, "{\"Operations\":[{\"op\":\"replace\",\"path\":\"userName\",\"value\":\"\"}]}", &r);
    expect_scim_error(&r, 400, "invalidValue", "LICENSES-BadRequest");
    th_resp_free(&r);
    T_EQ_INT(sql_n("SELECT count(*) FROM users WHERE user_id = '%s'", "ivy"), 1);
    /* a body that is not JSON */
    char auth[256];
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", scim_key);
    const char *headers[] = {auth, "Content-Type: text/plain", NULL};
    T_CHECK(th_req_full(&site.srv, "POST", "/scim/v2/Users", headers, "{}", 2, &r));
    expect_scim_error(&r, 415, NULL, "LICENSES-UnsupportedMediaType");
    th_resp_free(&r);
    /* plain application/json is taken too */
    T_CHECK(th_req(&site.srv, "POST", "/scim/v2/Users", scim_key, "{\"userName\":\"jo\"}", &r));
    T_STATUS(r, 201);
    th_resp_free(&r);
    /* the discovery documents */
    scim("GET", "/ServiceProviderConfig", NULL, &r);
    T_STATUS(r, 200);
    T_CHECK(json_is_true(json_object_get(json_object_get(r.json, "patch"), "supported")));
    T_EQ_INT(tl_int(json_object_get(r.json, "filter"), "maxResults"), 1000);
    th_resp_free(&r);
    scim("GET", "/ResourceTypes", NULL, &r);
    T_EQ_INT(tl_int(r.json, "totalResults"), 2);
    th_resp_free(&r);
    scim("GET", "/Schemas/urn:ietf:params:scim:schemas:core:2.0:User", NULL, &r);
    T_STATUS(r, 200);
    T_EQ_STR(th_str(&r, "name"), "User");
    th_resp_free(&r);
    /* outside /scim/v2 errors keep allot's shape */
    T_CHECK(th_req(&site.srv, "GET", "/nowhere", TH_ADMIN_KEY, NULL, &r));
    T_ERROR(r, 404, "LICENSES-NotFound");
    T_CHECK(json_object_get(r.json, "schemas") == NULL);
    th_resp_free(&r);
    T_CHECK(th_req(&site.srv, "GET", "/scim/v2x", TH_ADMIN_KEY, NULL, &r));
    T_CHECK(json_object_get(r.json, "schemas") == NULL);
    th_resp_free(&r);
}

/* ---- bulk ------------------------------------------------------------------------- */

#define BULK_USERS 10000
#define BULK_GROUPS 20

static void test_bulk_load(void)
{
    reset();
    struct th_resp r;
    /* 10,000 users, as a first provisioning cycle makes them */
    static char ids[BULK_USERS][TL_ID_LEN];
    for (int i = 0; i < BULK_USERS; i++) {
        char body[256];
        snprintf(body, sizeof body, "{\"userName\":\"user%05d@corp.example\",\"externalId\":\"x%05d\","
                 "\"name\":{\"givenName\":\"U\",\"familyName\":\"%05d\"},\"active\":true}", i, i, i);
        scim("POST", "/Users", body, &r);
        if (r.status != 201) {
            printf("#   user %d answered %ld: %s\n", i, r.status, r.body ? r.body : "");
            T_STATUS(r, 201);
            th_resp_free(&r);
            return;
        }
        snprintf(ids[i], TL_ID_LEN, "%s", th_str(&r, "id"));
        th_resp_free(&r);
    }
    /* 20 groups of 500 members each (user i in group i % 20) */
    for (int g = 0; g < BULK_GROUPS; g++) {
        struct buf b;
        buf_init(&b, 1u << 20);
        buf_printf(&b, "{\"displayName\":\"Team %02d\",\"members\":[", g);
        for (int i = g, n = 0; i < BULK_USERS; i += BULK_GROUPS, n++)
            buf_printf(&b, "%s{\"value\":\"%s\"}", n ? "," : "", ids[i]);
        buf_lit(&b, "]}");
        scim("POST", "/Groups", b.data, &r);
        T_STATUS(r, 201);
        T_EQ_INT((long)json_array_size(json_object_get(r.json, "members")), BULK_USERS / BULK_GROUPS);
        th_resp_free(&r);
        buf_free(&b);
    }
    /* what a client sees */
    scim("GET", "/Users?count=0", NULL, &r);
    T_EQ_INT(tl_int(r.json, "totalResults"), BULK_USERS);
    th_resp_free(&r);
    scim("GET", "/Users?startIndex=9999&count=5", NULL, &r);
    T_EQ_INT((long)json_array_size(json_object_get(r.json, "Resources")), 2);
    T_EQ_STR(tl_text(json_array_get(json_object_get(r.json, "Resources"), 1), "userName"),
             "user09999@corp.example");
    th_resp_free(&r);
    scim("GET", "/Users?filter=externalId%20eq%20%22x04321%22", NULL, &r);
    json_t *u = json_array_get(json_object_get(r.json, "Resources"), 0);
    T_EQ_STR(tl_text(u, "userName"), "user04321@corp.example");
    T_EQ_STR(tl_text(json_array_get(json_object_get(u, "groups"), 0), "display"), "Team 01");
    th_resp_free(&r);
    scim("GET", "/Groups?count=100&excludedAttributes=members", NULL, &r);
    T_EQ_INT(tl_int(r.json, "totalResults"), BULK_GROUPS);
    th_resp_free(&r);
    /* and in the database: every user, each in exactly its group */
    T_EQ_INT(sql_n("SELECT count(*) FROM users WHERE user_directory = '%s' AND active", DIR), BULK_USERS);
    T_EQ_INT(sql_n("SELECT count(*) FROM users WHERE user_directory = '%s' AND groups = "
                   "ARRAY['Team ' || lpad(((substr(user_id, 5, 5))::int %% 20)::text, 2, '0')]", DIR),
             BULK_USERS);
    T_EQ_INT(sql_n("SELECT count(DISTINCT external_id) FROM users WHERE user_directory = '%s'", DIR),
             BULK_USERS);
}

static void test_server_stops_cleanly(void)
{
    T_CHECK(!th_log_contains(&site.srv, "\"level\":\"error\""));
    T_EQ_INT(th_server_stop(&site.srv), 0);
}

int main(void)
{
    static const char *const env[] = {"ALLOT_SCIM_DIRECTORY=" DIR, NULL};
    tl_site_start(&site, env);
    if (!tl_api_key(&site.srv, "scim", scim_key, sizeof scim_key)) {
        printf("Bail out! cannot make a scim key\n");
        tl_site_stop(&site);
        return 1;
    }
    T_RUN(test_okta_sequence);
    T_RUN(test_entra_sequence);
    T_RUN(test_groups_feed_rules);
    T_RUN(test_delete);
    T_RUN(test_role_isolation);
    T_RUN(test_error_schema);
    T_RUN(test_bulk_load);
    T_RUN(test_server_stops_cleanly);
    tl_site_stop(&site);
    return t_done();
}

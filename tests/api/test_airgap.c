/* An air-gapped site (no ALLOT_AUTHORITY_URL): a license key counts as
 * verified when it was signed and stays ok for offlineGraceSeconds after; the
 * vendor's `allot-authority export` gives a signed definition that counts as a
 * verification at the time of the export (PUT /license/definition); what does
 * not verify is refused and changes nothing; a sync on demand has no backend. */
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tlicense.h"

T_DEFINE_STATE;

static struct tl_site site;
static struct tl_authority other; /* an authority the site does not trust */
static char state_dir[128];       /* the vendor's allot-authority state */
static char other_dir[128];       /* the other authority's */

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

/* Runs `allot-authority ARGS...`; its stdout (first line, malloc'd) into *out
 * when out is given.  Returns the exit status. */
static int authority(const char *const *args, char **out)
{
    int fds[2];
    if (pipe(fds) != 0)
        return -1;
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        const char *bin = getenv("ALLOT_AUTHORITY");
        execv(bin ? bin : "build/allot-authority", (char *const *)(void *)args);
        _exit(127);
    }
    close(fds[1]);
    size_t cap = 128 * 1024, len = 0;
    char *text = malloc(cap + 1);
    ssize_t n;
    while (text != NULL && len < cap && (n = read(fds[0], text + len, cap - len)) != 0) {
        if (n < 0 && errno != EINTR)
            break;
        len += n > 0 ? (size_t)n : 0;
    }
    close(fds[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    if (text != NULL) {
        text[len] = '\0';
        text[strcspn(text, "\r\n")] = '\0';
    }
    if (out != NULL)
        *out = text;
    else
        free(text);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* `allot-authority export --key KEY --state-dir DIR NUMBER`, or NULL. */
static char *export_definition(const char *key, const char *dir, const char *number)
{
    const char *args[] = {"allot-authority", "export", "--key", key, "--state-dir", dir, number,
                          NULL};
    char *doc = NULL;
    int rc = authority(args, &doc);
    if (rc != 0 || doc == NULL || doc[0] == '\0') {
        printf("# allot-authority export exited %d\n", rc);
        free(doc);
        return NULL;
    }
    return doc;
}

static void set_revoked(const char *number, bool undo)
{
    const char *args[] = {"allot-authority", "revoke", "--state-dir", state_dir,
                          undo ? "--undo" : number, undo ? number : NULL, NULL};
    T_EQ_INT(authority(args, NULL), 0);
}

/* PUT /license/definition {"definition": doc}. */
static void put_definition(const char *doc, struct th_resp *r)
{
    json_t *body = json_pack("{s:s}", "definition", doc);
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    th_req(&site.srv, "PUT", "/license/definition", TH_ADMIN_KEY, text, r);
    free(text);
}

static void get_license(struct th_resp *r)
{
    th_req(&site.srv, "GET", "/license", TH_ADMIN_KEY, NULL, r);
}

static char user_id[TL_ID_LEN];

/* POST /sessions for the user; its status, the errorType into err. */
static long session(char *err, size_t errlen)
{
    struct th_resp r;
    long status = tl_session(&site.srv, user_id, &r);
    snprintf(err, errlen, "%s", th_error_type(&r));
    th_resp_free(&r);
    return status;
}

static void expect_no_backend(void)
{
    struct th_resp r;
    T_CHECK(th_req(&site.srv, "POST", "/license/actions/sync", TH_ADMIN_KEY, NULL, &r));
    T_ERROR(r, 502, "LICENSES-BackendUnavailable");
    T_CHECK(strstr(th_str(&r, "message"), "no license backend is configured") != NULL);
    th_resp_free(&r);
}

/* ---- license keys alone ------------------------------------------------------ */

static void test_sync_has_no_backend(void)
{
    expect_no_backend();
    T_REQUIRE(tl_user(&site.srv, "CORP", "alice", NULL, user_id));
}

static void test_signed_before_the_grace_is_stale_at_once(void)
{
    char iat[24], err[64];
    int64_t signed_at = tl_now() - 10;
    snprintf(iat, sizeof iat, "%lld", (long long)signed_at);
    T_REQUIRE(tl_apply(&site.srv, &site.auth, "--license-number", "4000", "--professional", "2",
                       "--iat", iat, "--param", "offlineGraceSeconds=5", NULL));
    struct th_resp r;
    get_license(&r);
    T_EQ_STR(th_str(&r, "status"), "stale");
    T_EQ_INT(tl_time(r.json, "lastVerifiedAt"), signed_at);
    T_EQ_INT(tl_time(r.json, "disabledAt"), signed_at + 5);
    T_CHECK(json_is_null(json_object_get(r.json, "lastSyncAttemptAt"))); /* never tried */
    th_resp_free(&r);
    T_EQ_INT(session(err, sizeof err), 403);
    T_EQ_STR(err, "LICENSES-OutdatedLicense");
}

static void test_within_the_grace_is_ok(void)
{
    char iat[24], err[64];
    int64_t signed_at = tl_now() - 10;
    snprintf(iat, sizeof iat, "%lld", (long long)signed_at);
    T_REQUIRE(tl_apply(&site.srv, &site.auth, "--license-number", "4001", "--professional", "2",
                       "--iat", iat, "--param", "offlineGraceSeconds=60", NULL));
    struct th_resp r;
    get_license(&r);
    T_EQ_STR(th_str(&r, "status"), "ok");
    T_EQ_INT(tl_time(r.json, "lastVerifiedAt"), signed_at);
    T_EQ_INT(tl_time(r.json, "disabledAt"), signed_at + 60);
    th_resp_free(&r);
    T_EQ_INT(tl_alloc(&site.srv, user_id, "professional", NULL, NULL, 0), 201);
    T_EQ_INT(session(err, sizeof err), 201);
}

/* ---- exported definitions -------------------------------------------------------- */

static void test_exported_definition_verifies_now(void)
{
    char iat[24], err[64];
    snprintf(iat, sizeof iat, "%lld", (long long)(tl_now() - 100));
    /* The vendor issues and records the key; the site applied it long ago. */
    char *key = tl_issue(&site.auth, "--license-number", "4002", "--professional", "2", "--iat",
                         iat, "--param", "offlineGraceSeconds=60", "--state-dir", state_dir, NULL);
    T_REQUIRE(key != NULL);
    struct th_resp r;
    T_CHECK(tl_put_license(&site.srv, key, &r));
    T_STATUS(r, 200);
    T_EQ_STR(th_str(&r, "status"), "stale");
    th_resp_free(&r);
    free(key);
    T_EQ_INT(session(err, sizeof err), 403);

    char *doc = export_definition(site.auth.key_path, state_dir, "4002");
    int64_t exported = tl_now();
    T_REQUIRE(doc != NULL);
    put_definition(doc, &r);
    T_STATUS(r, 200);
    T_EQ_STR(th_str(&r, "status"), "ok");
    T_EQ_STR(th_str(&r, "licenseNumber"), "4002");
    int64_t v = tl_time(r.json, "lastVerifiedAt");
    T_CHECK(v >= exported - 1 && v <= exported);
    T_EQ_INT(tl_time(r.json, "disabledAt"), v + 60);
    T_CHECK(json_is_null(json_object_get(r.json, "lastSyncError")));
    th_resp_free(&r);
    T_EQ_INT(session(err, sizeof err), 201);

    /* A newer export moves lastVerifiedAt; the older one, applied after, does not
     * move it back. */
    tl_sleep_ms(1100);
    char *newer = export_definition(site.auth.key_path, state_dir, "4002");
    T_REQUIRE(newer != NULL);
    put_definition(newer, &r);
    T_STATUS(r, 200);
    int64_t v2 = tl_time(r.json, "lastVerifiedAt");
    T_CHECK(v2 > v);
    th_resp_free(&r);
    put_definition(doc, &r);
    T_STATUS(r, 200);
    T_EQ_INT(tl_time(r.json, "lastVerifiedAt"), v2);
    th_resp_free(&r);
    free(newer);
    free(doc);
}

static void test_definition_applies_the_license(void)
{
    /* A site that never saw the key: the definition carries it. */
    char *doc = export_definition(site.auth.key_path, state_dir, "4002");
    T_REQUIRE(doc != NULL);
    T_REQUIRE(tl_reset(site.db.url));
    T_REQUIRE(tl_user(&site.srv, "CORP", "alice", NULL, user_id));
    struct th_resp r;
    put_definition(doc, &r);
    T_STATUS(r, 200);
    T_EQ_STR(th_str(&r, "status"), "ok");
    T_EQ_STR(th_str(&r, "licenseNumber"), "4002");
    T_CHECK(tl_time(r.json, "lastVerifiedAt") >= tl_now() - 1);
    th_resp_free(&r);
    free(doc);
    T_EQ_INT(tl_alloc(&site.srv, user_id, "professional", NULL, NULL, 0), 201);
}

/* A refused definition: 400, and GET /license and the stored key unchanged. */
static void expect_refused(const char *body, long status, const char *type)
{
    struct th_resp before, r, after;
    get_license(&before);
    char *key = th_sql(site.db.url, "SELECT license_key FROM license_document");
    T_CHECK(th_req(&site.srv, "PUT", "/license/definition", TH_ADMIN_KEY, body, &r));
    T_ERROR(r, status, type);
    T_EQ_STR(th_str(&r, "field"), "definition");
    th_resp_free(&r);
    get_license(&after);
    char *key_after = th_sql(site.db.url, "SELECT license_key FROM license_document");
    T_EQ_STR(key_after, key);
    const char *same[] = {"status", "licenseNumber", "issuedAt", "lastVerifiedAt", "disabledAt"};
    for (size_t i = 0; i < sizeof same / sizeof same[0]; i++)
        T_EQ_STR(th_str(&after, same[i]), th_str(&before, same[i]));
    free(key);
    free(key_after);
    th_resp_free(&before);
    th_resp_free(&after);
}

static void expect_refused_doc(const char *doc, const char *why)
{
    json_t *body = json_pack("{s:s}", "definition", doc ? doc : "");
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    printf("# %s\n", why);
    expect_refused(text, 400, "LICENSES-InvalidLicense");
    free(text);
}

static void test_refused_definitions(void)
{
    tl_sleep_ms(1100); /* a definition applied by mistake would move lastVerifiedAt */
    /* Another authority's definition of another authority's key. */
    char *k = tl_issue(&other, "--license-number", "4002", "--professional", "9", "--state-dir",
                       other_dir, NULL);
    free(k);
    char *doc = export_definition(other.key_path, other_dir, "4002");
    T_CHECK(doc != NULL);
    expect_refused_doc(doc, "signed by another key");
    free(doc);
    /* Our key, wrapped by another authority. */
    doc = export_definition(other.key_path, state_dir, "4002");
    T_CHECK(doc != NULL);
    expect_refused_doc(doc, "our key in a document signed by another key");
    free(doc);
    /* Our definition with one character of its payload changed. */
    doc = export_definition(site.auth.key_path, state_dir, "4002");
    T_REQUIRE(doc != NULL);
    char *p = strchr(doc, '.') + 10;
    *p = *p == 'A' ? 'B' : 'A';
    expect_refused_doc(doc, "altered");
    free(doc);
    expect_refused_doc("this is not a definition", "garbage");
    k = tl_issue(&site.auth, "--license-number", "4002", "--professional", "5", NULL);
    expect_refused_doc(k, "a license key is not a definition");
    free(k);
    expect_refused("{\"definition\": 42}", 400, "LICENSES-BadRequest");
    expect_refused("{\"definition\": \"\"}", 400, "LICENSES-BadRequest");
    struct th_resp r;
    T_CHECK(th_req(&site.srv, "PUT", "/license/definition", TH_ADMIN_KEY, "{}", &r));
    T_ERROR(r, 400, "LICENSES-BadRequest");
    th_resp_free(&r);
}

static void test_revoked_definition(void)
{
    char err[64];
    char *before = export_definition(site.auth.key_path, state_dir, "4002");
    tl_sleep_ms(1100);
    set_revoked("4002", false);
    char *doc = export_definition(site.auth.key_path, state_dir, "4002");
    T_REQUIRE(doc != NULL && before != NULL);
    struct th_resp r;
    put_definition(doc, &r);
    T_STATUS(r, 200);
    T_EQ_STR(th_str(&r, "status"), "revoked");
    th_resp_free(&r);
    T_EQ_INT(session(err, sizeof err), 403);
    T_EQ_STR(err, "LICENSES-NoLicense");

    /* The site cannot lift the revocation itself: neither with the definition
     * exported before it, nor by applying the same license key again. */
    put_definition(before, &r);
    th_resp_free(&r);
    get_license(&r);
    T_EQ_STR(th_str(&r, "status"), "revoked"); /* regression: an older export lifted it */
    th_resp_free(&r);
    free(before);
    put_definition(doc, &r); /* revoked again, whatever happened above */
    th_resp_free(&r);
    free(doc);
    char *key = th_sql(site.db.url, "SELECT license_key FROM license_document");
    T_REQUIRE(key != NULL);
    T_CHECK(tl_put_license(&site.srv, key, &r));
    th_resp_free(&r);
    free(key);
    get_license(&r);
    T_EQ_STR(th_str(&r, "status"), "revoked"); /* regression: PUT /license lifted it */
    th_resp_free(&r);

    set_revoked("4002", true);
    doc = export_definition(site.auth.key_path, state_dir, "4002");
    T_REQUIRE(doc != NULL);
    put_definition(doc, &r);
    T_STATUS(r, 200);
    T_EQ_STR(th_str(&r, "status"), "ok");
    th_resp_free(&r);
    free(doc);
    T_EQ_INT(session(err, sizeof err), 201);
}

/* The vendor reduces the license; the export made before the reduction,
 * applied after it, must not bring the old definition back. */
static void test_older_definition_does_not_replace_newer(void)
{
    char *k = tl_issue(&site.auth, "--license-number", "4003", "--professional", "5",
                       "--state-dir", state_dir, NULL);
    char *old_doc = export_definition(site.auth.key_path, state_dir, "4003");
    T_REQUIRE(k != NULL && old_doc != NULL);
    free(k);
    tl_sleep_ms(1100);
    k = tl_issue(&site.auth, "--license-number", "4003", "--professional", "2", "--state-dir",
                 state_dir, NULL);
    char *new_doc = export_definition(site.auth.key_path, state_dir, "4003");
    T_REQUIRE(k != NULL && new_doc != NULL);
    free(k);
    struct th_resp r;
    put_definition(new_doc, &r);
    T_STATUS(r, 200);
    T_EQ_INT(tl_int(tl_allotment(&r, "professional"), "units"), 2);
    int64_t verified = tl_time(r.json, "lastVerifiedAt");
    th_resp_free(&r);
    put_definition(old_doc, &r);
    printf("# the older export applied after the newer one: %ld\n", r.status);
    th_resp_free(&r);
    get_license(&r);
    /* Regression: an older export once brought back its older key (5 units);
     * it verifies, but never rolls the license back. */
    T_EQ_INT(tl_int(tl_allotment(&r, "professional"), "units"), 2);
    T_EQ_INT(tl_time(r.json, "lastVerifiedAt"), verified);
    th_resp_free(&r);
    free(old_doc);
    free(new_doc);
}

static void test_still_no_backend_and_clean_stop(void)
{
    expect_no_backend();
    T_EQ_INT(th_server_stop(&site.srv), 0);
}

int main(void)
{
    tl_site_start(&site, (const char *[]){"ALLOT_SYNC_INTERVAL=2s", NULL});
    snprintf(state_dir, sizeof state_dir, "/tmp/allot-airgap-XXXXXX");
    snprintf(other_dir, sizeof other_dir, "/tmp/allot-airgap-other-XXXXXX");
    if (mkdtemp(state_dir) == NULL || mkdtemp(other_dir) == NULL || !tl_authority_make(&other)) {
        printf("Bail out! cannot make the authorities' directories: %s\n", strerror(errno));
        tl_authority_remove(&other);
        tl_site_stop(&site);
        nftw(state_dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
        nftw(other_dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
        return 1;
    }

    T_RUN(test_sync_has_no_backend);
    T_RUN(test_signed_before_the_grace_is_stale_at_once);
    T_RUN(test_within_the_grace_is_ok);
    T_RUN(test_exported_definition_verifies_now);
    T_RUN(test_definition_applies_the_license);
    T_RUN(test_refused_definitions);
    T_RUN(test_revoked_definition);
    T_RUN(test_older_definition_does_not_replace_newer);
    T_RUN(test_still_no_backend_and_clean_stop);

    tl_authority_remove(&other);
    tl_site_stop(&site);
    nftw(state_dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
    nftw(other_dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
    return t_done();
}

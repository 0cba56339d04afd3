/* tlicense: what the licensing programs of the api suite share.
 *
 * An authority key pair made by the real `allot-authority keygen` in a fresh
 * temporary directory, license keys issued by running `allot-authority issue`
 * (ALLOT_AUTHORITY, set by meson), and the users, rules, allocations and
 * sessions of a test made over HTTP, returning their ids.
 *
 *   struct tl_site site;
 *   tl_site_start(&site, (const char *[]){"ALLOT_REAPER_INTERVAL=1s", NULL});
 *   tl_apply(&site.srv, &site.auth, "--professional", "3", NULL);
 *   char u[TL_ID_LEN];
 *   tl_user(&site.srv, "CORP", "alice", "[\"Sales\"]", u);
 *   ...
 *   tl_site_stop(&site);
 *
 * Every helper that fails prints a TAP diagnostic ("# ...") saying why. */
#ifndef ALLOT_TLICENSE_H
#define ALLOT_TLICENSE_H

#include <stdbool.h>
#include <stdint.h>

#include "tharness.h"

#define TL_ID_LEN 40 /* a uuid (36) and its NUL, rounded */

struct tl_authority {
    char dir[128];      /* the temporary directory holding the pair */
    char key_path[192]; /* DIR/authority.key */
    char pub_path[192]; /* DIR/authority.pub */
    char env_pub[256];  /* "ALLOT_AUTHORITY_PUBLIC_KEY=DIR/authority.pub" */
};

/* mkdtemp + `allot-authority keygen --out DIR`; false on failure. */
bool tl_authority_make(struct tl_authority *a);
/* Removes the key pair and its directory. */
void tl_authority_remove(struct tl_authority *a);

/* A refused session start: status, errorType and resultCode. */
void tl_expect_refused(const struct th_server *s, const char *user, long status, const char *type,
                       const char *result);
/* A granted session start of that access type; sid receives its id. */
void tl_expect_access(const struct th_server *s, const char *user, const char *access, char *sid);

/* `allot-authority serve`, started and stopped by a test.  tl_backend_init
 * picks a free port and a fresh state directory; tl_backend_start can run
 * again after a stop, on the same port and state (a backend that comes back). */
struct tl_backend {
    pid_t pid;
    struct th_server http; /* its base URL, for th_req */
    char dir[128];         /* its state directory */
    char log_path[192];    /* its stderr */
    char tls_cert[192];    /* "": plain HTTP */
    char tls_key[192];
    char database[512];    /* set: --database URL instead of --state-dir */
};
bool tl_backend_init(struct tl_backend *b, const char *name);
/* Makes the next tl_backend_start serve HTTPS with this certificate and key
 * (--tls-cert, --tls-key); th_req to b->http then trusts ca_path. */
void tl_backend_use_tls(struct tl_backend *b, const char *cert_path, const char *key_path,
                        const char *ca_path);
/* Starts it with the authority key at key_path; waits until it answers. */
bool tl_backend_start(struct tl_backend *b, const char *key_path);
/* The same with more arguments of `serve` (NULL-terminated, may be NULL). */
bool tl_backend_start_with(struct tl_backend *b, const char *key_path, const char *const *extra);
/* SIGTERM and wait; its exit status (0 expected), -1 when it had to be killed. */
int tl_backend_stop(struct tl_backend *b);
/* GET /v1/licenses/NUMBER of the backend, with the license key that the site
 * on site_db_url holds as the Bearer (the authority shows a state only to it). */
bool tl_backend_state(const struct tl_backend *b, const char *number, const char *site_db_url,
                      struct th_resp *out);
/* Stops it if it runs, removes its state, and its log unless a test failed
 * (then the log's path is printed). */
void tl_backend_remove(struct tl_backend *b);

/* Runs `allot-authority issue --key DIR/authority.key ARGS...` and returns the
 * key it printed (malloc'd, without the newline), or NULL.  --license-number,
 * --organization and --product default to 1000, "Test Org" and "Analytics"
 * unless args give them.  args is NULL-terminated. */
char *tl_issue_args(const struct tl_authority *a, const char *const *args);
char *tl_issue(const struct tl_authority *a, ...) __attribute__((sentinel));

/* PUT /license {"key": key} with the admin key. */
bool tl_put_license(const struct th_server *s, const char *key, struct th_resp *out);
/* Issues a key with the given options and applies it; true when PUT answered 200. */
bool tl_apply(const struct th_server *s, const struct tl_authority *a, ...)
    __attribute__((sentinel));

/* A test program's site: a fresh database (migrated), an authority key pair
 * and one allotd trusting it. */
struct tl_site {
    struct th_db db;
    struct tl_authority auth;
    struct th_server srv;
};
/* Starts it; extra_env ("NAME=VALUE", NULL-terminated, may be NULL) goes to
 * allotd after ALLOT_AUTHORITY_PUBLIC_KEY.  Bails out (exit 1) on failure. */
void tl_site_start(struct tl_site *site, const char *const *extra_env);
/* Starts another allotd on the same database and key; false on failure. */
bool tl_site_add_server(const struct tl_site *site, struct th_server *srv,
                        const char *const *extra_env);
/* Stops the server, drops the database, removes the key pair; returns the
 * server's exit status. */
int tl_site_stop(struct tl_site *site);
/* Empties every table of the licensing state (license, users, allocations,
 * rules, passes, capacity, sessions, events, usage aggregates); API keys stay. */
bool tl_reset(const char *url);

/* POST /users; groups_json is a JSON array text or NULL.  True on 201; id
 * (TL_ID_LEN bytes) receives the new user's id. */
bool tl_user(const struct th_server *s, const char *dir, const char *uid, const char *groups_json,
             char *id);
/* POST /allocations/rules; match_json is the "match" object text; tokens < 0:
 * no tokens member.  Returns the status; id receives the rule's id on 201. */
long tl_rule(const struct th_server *s, const char *name, const char *access_type,
             const char *match_json, long tokens, char *id);
/* POST /allocations; returns the status (201 expected), id on 201 (may be NULL).
 * err (may be NULL) receives the errorType. */
long tl_alloc(const struct th_server *s, const char *user, const char *type, char *id,
              char *err, size_t errlen);
/* POST /sessions {"user": user} with the admin key; returns the status.  When
 * out is given, it keeps the reply (free with th_resp_free). */
long tl_session(const struct th_server *s, const char *user, struct th_resp *out);
/* POST /sessions; the granted accessType into access ("" when refused) and
 * the session id into id (may be NULL).  Returns the status. */
long tl_session_access(const struct th_server *s, const char *user, char *id, char *access,
                       size_t len);
/* POST /apikeys {"name", "role"}; the secret into out. */
bool tl_api_key(const struct th_server *s, const char *role, char *out, size_t len);

/* GET /license; the allotment named name of the reply (borrowed), or NULL. */
json_t *tl_allotment(const struct th_resp *license, const char *name);
/* An integer member of a JSON object (-999 when missing or not an integer). */
long long tl_int(const json_t *obj, const char *member);
/* The text of a member (a string), or "". */
const char *tl_text(const json_t *obj, const char *member);
/* An RFC 3339 member as unix seconds (-1 when missing or malformed). */
int64_t tl_time(const json_t *obj, const char *member);
/* RFC 3339 (UTC, seconds) of t into out (at least 32 bytes). */
void tl_rfc3339(int64_t t, char *out, size_t len);
/* Unix seconds now, and now with fractions. */
int64_t tl_now(void);
double tl_now_f(void);
void tl_sleep_ms(int ms);
/* Sleeps until the wall clock passes t (unix seconds, fractional) plus margin_ms. */
void tl_sleep_until(double t, int margin_ms);

#endif

/* API keys: random secrets shown once, stored as SHA-256 digests, compared in
 * constant time.  Lookups are cached for a few seconds per process. */
#ifndef ALLOT_AUTH_H
#define ALLOT_AUTH_H

#include <stdbool.h>
#include <stddef.h>

#include "allot/db.h"
#include "allot/http.h"

struct app;

#define AUTH_CACHE_SECONDS 5

struct auth_cache *auth_cache_new(void);
void auth_cache_free(struct auth_cache *c);
/* Forgets every cached key (after a key is deleted on this process). */
void auth_cache_clear(struct auth_cache *c);

/* The http_authenticate_fn of allotd's service (http.h). */
enum http_auth auth_check(struct app *a, const char *secret, unsigned *role,
                          char key_id[HTTP_KEY_ID_LEN]);

/* A new random secret: "allot_" + 43 base64url characters (256 bits). */
void auth_new_secret(char out[64]);
/* SHA-256 of the secret: lookup (16 hex digits) and the raw digest. */
void auth_digest(const char *secret, char lookup[17], unsigned char digest[32]);

/* At start-up: makes sure an admin key with this secret exists. */
enum db_status auth_ensure_admin_key(struct app *a, const char *secret);

#endif

/* Authentication of API keys, with a short per-process cache so that most
 * requests cost no database round trip for it.  A deleted key stops working
 * at once on the instance that deleted it, and on the others when the
 * database's NOTIFY allot_apikeys reaches them (main.c clears the cache, as
 * it does when its listening connection comes back); AUTH_CACHE_SECONDS
 * bounds what a cache keeps in any case. */
#include "allot/auth.h"
#include "allot/core.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "allot/app.h"
#include "allot/http.h"
#include "allot/log.h"
#include "allot/store.h"

#define CACHE_SLOTS 256

struct cached_key {
    unsigned char digest[32];
    unsigned role;
    char id[HTTP_KEY_ID_LEN];
    int64_t expires_ms; /* 0 = empty slot */
};

struct auth_cache {
    pthread_mutex_t lock;
    struct cached_key slots[CACHE_SLOTS];
    /* Bumped by every clear: a lookup that started before a key was deleted
     * must not put it back into the cache. */
    unsigned long generation;
};

struct auth_cache *auth_cache_new(void)
{
    struct auth_cache *c = calloc(1, sizeof *c);
    if (c != NULL)
        pthread_mutex_init(&c->lock, NULL);
    return c;
}

void auth_cache_free(struct auth_cache *c)
{
    if (c == NULL)
        return;
    pthread_mutex_destroy(&c->lock);
    OPENSSL_cleanse(c->slots, sizeof c->slots);
    free(c);
}

void auth_cache_clear(struct auth_cache *c)
{
    pthread_mutex_lock(&c->lock);
    memset(c->slots, 0, sizeof c->slots);
    c->generation++;
    pthread_mutex_unlock(&c->lock);
}

void auth_new_secret(char out[64])
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    unsigned char raw[43];
    if (RAND_bytes(raw, sizeof raw) != 1)
        abort(); /* no randomness: never hand out a guessable key */
    memcpy(out, "allot_", 6);
    for (size_t i = 0; i < sizeof raw; i++)
        out[6 + i] = alphabet[raw[i] & 63]; /* 43 x 6 bits = 258 bits */
    out[6 + sizeof raw] = '\0';
    OPENSSL_cleanse(raw, sizeof raw);
}

void auth_digest(const char *secret, char lookup[17], unsigned char digest[32])
{
    unsigned int n = 0;
    EVP_Digest(secret, strlen(secret), digest, &n, EVP_sha256(), NULL);
    core_hex(digest, 8, lookup);
}

static bool from_hex(const char *in, unsigned char *out, size_t n)
{
    return strlen(in) == 2 * n && core_unhex(in, n, out);
}

enum http_auth auth_check(struct app *a, const char *secret, unsigned *role,
                            char key_id[HTTP_KEY_ID_LEN])
{
    if (strlen(secret) > 256)
        return HTTP_AUTH_UNKNOWN;
    char lookup[17];
    unsigned char digest[32];
    auth_digest(secret, lookup, digest);
    struct auth_cache *c = a->auth;
    struct cached_key *slot = &c->slots[digest[31] % CACHE_SLOTS];
    int64_t now = app_now_ms();

    pthread_mutex_lock(&c->lock);
    bool hit = slot->expires_ms > now && CRYPTO_memcmp(slot->digest, digest, 32) == 0;
    if (hit) {
        *role = slot->role;
        memcpy(key_id, slot->id, HTTP_KEY_ID_LEN);
    }
    unsigned long generation = c->generation;
    pthread_mutex_unlock(&c->lock);
    if (hit)
        return HTTP_AUTH_OK;

    char id[40], role_name[16], hash_hex[65];
    enum db_status s = db_apikey_find(a->pool, lookup, id, role_name, hash_hex);
    if (s == DB_NOT_FOUND)
        return HTTP_AUTH_UNKNOWN;
    if (s != DB_OK)
        return HTTP_AUTH_UNAVAILABLE;
    unsigned char stored[32];
    if (!from_hex(hash_hex, stored, sizeof stored) || CRYPTO_memcmp(stored, digest, 32) != 0)
        return HTTP_AUTH_UNKNOWN;
    *role = http_role_parse(role_name);
    snprintf(key_id, HTTP_KEY_ID_LEN, "%s", id);

    pthread_mutex_lock(&c->lock);
    if (c->generation == generation) {
        memcpy(slot->digest, digest, 32);
        slot->role = *role;
        memcpy(slot->id, key_id, HTTP_KEY_ID_LEN);
        slot->expires_ms = now + AUTH_CACHE_SECONDS * 1000;
    }
    pthread_mutex_unlock(&c->lock);
    return HTTP_AUTH_OK;
}

enum db_status auth_ensure_admin_key(struct app *a, const char *secret)
{
    char lookup[17], hash_hex[65];
    unsigned char digest[32];
    auth_digest(secret, lookup, digest);
    core_hex(digest, sizeof digest, hash_hex);
    return db_apikey_ensure_admin(a->pool, lookup, hash_hex);
}

/* For the /apikeys handler: the stored forms of a new secret. */
void auth_stored_forms(const char *secret, char lookup[17], char hash_hex[65]);
void auth_stored_forms(const char *secret, char lookup[17], char hash_hex[65])
{
    unsigned char digest[32];
    auth_digest(secret, lookup, digest);
    core_hex(digest, sizeof digest, hash_hex);
}

/* The authority keys a site learnt from verified sync replies
 * (migrations/0010_authority_keys.sql) and the key ring it verifies with:
 * ALLOT_AUTHORITY_PUBLIC_KEY's keys, the learnt ones, minus the retired kids. */
#include <stdlib.h>
#include <string.h>

#include "allot/log.h"
#include "allot/store.h"

static const struct db_stmt q_keys = {
    .name = "authority_keys", .sql = "SELECT kid, x, retired_at IS NOT NULL FROM authority_keys"};
static const struct db_stmt q_learn = {
    .name = "authority_key_learn",
    .sql = "INSERT INTO authority_keys (kid, x, learned_at, announced_by) VALUES ($1, $2, $3, $4)"
           " ON CONFLICT (kid) DO UPDATE SET x = coalesce(authority_keys.x, EXCLUDED.x)"};
static const struct db_stmt q_retire = {
    .name = "authority_key_retire",
    .sql = "INSERT INTO authority_keys (kid, learned_at, announced_by, retired_at)"
           " VALUES ($1, $2, $3, $2) ON CONFLICT (kid) DO UPDATE"
           " SET retired_at = coalesce(authority_keys.retired_at, EXCLUDED.retired_at)"};

/* The ring of `configured` and the rows of q_keys (r: taken; NULL on an error). */
static enum db_status make_ring(enum db_status s, PGresult *r,
                                const struct lic_keyring *configured, struct lic_keyring *out)
{
    lic_keyring_init(out);
    if (configured != NULL)
        lic_keyring_merge(out, configured);
    for (int i = 0; s == DB_OK && i < PQntuples(r); i++) {
        const char *kid = PQgetvalue(r, i, 0);
        if (!PQgetisnull(r, i, 1)) {
            EVP_PKEY *k = lic_key_from_x(PQgetvalue(r, i, 1), NULL, 0);
            char actual[LIC_KID_LEN + 1] = "";
            if (k != NULL && lic_key_kid(k, actual) == 0 && strcmp(actual, kid) == 0)
                lic_keyring_add(out, k);
            EVP_PKEY_free(k);
        }
        if (strcmp(PQgetvalue(r, i, 2), "t") == 0)
            lic_keyring_retire(out, kid);
    }
    if (s == DB_OK)
        PQclear(r);
    return s;
}

enum db_status db_trusted_keys_on(struct db_conn *c, const struct lic_keyring *configured,
                                  struct lic_keyring *out)
{
    PGresult *r = NULL;
    enum db_status s = db_exec(c, &q_keys, 0, NULL, &r);
    return make_ring(s, r, configured, out);
}

enum db_status db_trusted_keys(struct db_pool *p, const struct lic_keyring *configured,
                               struct lic_keyring *out)
{
    PGresult *r = NULL;
    enum db_status s = db_query(p, &q_keys, 0, NULL, &r);
    return make_ring(s, r, configured, out);
}

enum db_status db_authority_keys_learn(struct db_conn *c, const struct sync_reply *reply,
                                       const struct lic_keyring *ring, const char *now,
                                       const char *corr)
{
    enum db_status s = DB_OK;
    for (size_t i = 0; i < reply->nkeys && s == DB_OK; i++) {
        const struct lic_keyring_entry *e = lic_keyring_find(ring, reply->keys[i].kid);
        if (e != NULL && (e->pub != NULL || e->retired))
            continue; /* trusted already, or retired for good */
        const char *p[] = {reply->keys[i].kid, reply->keys[i].x, now, reply->signed_by};
        s = db_run(c, &q_learn, 4, p);
        if (s == DB_OK)
            log_with(LOG_WARN, corr, json_pack("{s:s, s:s}", "kid", reply->keys[i].kid,
                                               "announcedBy", reply->signed_by),
                     "the license backend announced a new signing key; it is trusted from now");
    }
    for (size_t i = 0; i < reply->nretired && s == DB_OK; i++) {
        const struct lic_keyring_entry *e = lic_keyring_find(ring, reply->retired[i]);
        if (e != NULL && e->retired)
            continue;
        if (strcmp(reply->retired[i], reply->signed_by) == 0)
            continue; /* a reply cannot retire its own signer */
        const char *p[] = {reply->retired[i], now, reply->signed_by};
        s = db_run(c, &q_retire, 3, p);
        if (s == DB_OK)
            log_with(LOG_WARN, corr, json_pack("{s:s, s:s}", "kid", reply->retired[i],
                                               "announcedBy", reply->signed_by),
                     "the license backend retired a signing key; it is no longer trusted");
    }
    return s;
}

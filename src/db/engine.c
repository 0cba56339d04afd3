/* The licensing engine: the SQL functions of sql/, applied by `allotd
 * migrate` after the numbered migrations.
 *
 * They live in the schema "engine", which belongs to the engine alone: an
 * apply drops it and runs every file again (CREATE OR REPLACE would keep a
 * function that a new version no longer has, and cannot change a signature),
 * in one transaction under the migration lock, so other instances see the
 * old engine or the new one, never half of each.  Tables never depend on the
 * schema (tests/db checks it), so dropping it loses nothing but functions,
 * types and the engine's triggers, which the files make again.
 *
 * The database records the digest of the engine it runs; allotd serves only
 * when it is its own (db_engine_current), as it serves only on a current
 * schema.  An apply also writes the table of license parameters, counts the
 * allocations and each user's active sessions again (the counters cannot
 * drift), and notifies
 * allot_engine, so running instances check their engine at once. */
#include "db/internal.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "allot/log.h"
#include "allot/params.h"

static void digest_update(EVP_MD_CTX *md, const char *text)
{
    EVP_DigestUpdate(md, text, strlen(text) + 1); /* the NUL separates the parts */
}

static void compute_digest(char out[65])
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned char raw[32];
    unsigned int n = 0;
    if (md == NULL || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1)
        abort();
    for (size_t i = 0; i < db_engine_files_count; i++) {
        digest_update(md, db_engine_files[i].name);
        digest_update(md, db_engine_files[i].sql);
    }
    for (size_t i = 0; i < CORE_PARAM_COUNT; i++) {
        char line[128];
        snprintf(line, sizeof line, "%s %lld %lld %lld", core_params[i].name,
                 (long long)core_params[i].def, (long long)core_params[i].min,
                 (long long)core_params[i].max);
        digest_update(md, line);
        digest_update(md, core_params[i].description);
    }
    EVP_DigestFinal_ex(md, raw, &n);
    EVP_MD_CTX_free(md);
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < sizeof raw; i++) {
        out[2 * i] = hex[raw[i] >> 4];
        out[2 * i + 1] = hex[raw[i] & 15];
    }
    out[64] = '\0';
}

static char engine_digest[65];

static void init_digest(void)
{
    compute_digest(engine_digest);
}

const char *db_engine_digest(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, init_digest);
    return engine_digest;
}

/* The digest the database records, into out ("" when none); false on failure. */
static bool recorded_digest(PGconn *pg, char out[65])
{
    PGresult *r = PQexec(pg, "SELECT digest FROM engine_version");
    bool ok = PQresultStatus(r) == PGRES_TUPLES_OK;
    out[0] = '\0';
    if (ok && PQntuples(r) == 1)
        snprintf(out, 65, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    return ok;
}

static bool write_parameters(PGconn *pg)
{
    if (!db_migrate_exec(pg, "DELETE FROM license_parameters", 0, NULL,
                         "clearing license_parameters"))
        return false;
    for (size_t i = 0; i < CORE_PARAM_COUNT; i++) {
        char def[24], min[24], max[24];
        snprintf(def, sizeof def, "%lld", (long long)core_params[i].def);
        snprintf(min, sizeof min, "%lld", (long long)core_params[i].min);
        snprintf(max, sizeof max, "%lld", (long long)core_params[i].max);
        const char *params[] = {core_params[i].name, def, min, max, core_params[i].description};
        if (!db_migrate_exec(pg,
                            "INSERT INTO license_parameters"
                            " (name, default_value, min_value, max_value, description)"
                            " VALUES ($1, $2, $3, $4, $5)",
                            5, params, "writing license_parameters"))
            return false;
    }
    return true;
}

static bool apply_all(PGconn *pg)
{
    if (!db_migrate_exec(pg, "DROP SCHEMA IF EXISTS engine CASCADE", 0, NULL,
                         "dropping the old engine") ||
        !db_migrate_exec(pg, "CREATE SCHEMA engine", 0, NULL, "creating the schema engine"))
        return false;
    for (size_t i = 0; i < db_engine_files_count; i++) {
        char what[96];
        snprintf(what, sizeof what, "sql/%s.sql", db_engine_files[i].name);
        if (!db_migrate_exec(pg, db_engine_files[i].sql, 0, NULL, what))
            return false;
    }
    const char *digest[] = {db_engine_digest()};
    /* A license applied by an allotd that knew fewer parameters gets the
     * defaults of the new ones: the engine reads every parameter from the row. */
    return write_parameters(pg) &&
           db_migrate_exec(pg, "UPDATE license SET parameters = engine.with_defaults(parameters)"
                           " WHERE NOT parameters ?& ARRAY(SELECT name FROM license_parameters)",
                           0, NULL, "completing the license's parameters") &&
           db_migrate_exec(pg,
                   "UPDATE allocation_counts c SET n ="
                   " (SELECT count(*) FROM allocations a WHERE a.type = c.type)", 0, NULL,
                   "counting allocations") &&
           db_migrate_exec(pg,
                   "UPDATE users u SET sessions_active = coalesce(c.n, 0)"
                   " FROM users v LEFT JOIN (SELECT user_ref, count(*) AS n FROM sessions"
                   "   WHERE ended_at IS NULL GROUP BY user_ref) c ON c.user_ref = v.id"
                   " WHERE u.id = v.id AND u.sessions_active <> coalesce(c.n, 0)", 0, NULL,
                   "counting active sessions") &&
           db_migrate_exec(pg,
                          "INSERT INTO engine_version (singleton, digest, applied_at)"
                          " VALUES (true, $1, now())"
                          " ON CONFLICT (singleton) DO UPDATE SET digest = EXCLUDED.digest,"
                          " applied_at = EXCLUDED.applied_at",
                          1, digest, "recording the engine") &&
           db_migrate_exec(pg, "NOTIFY allot_engine", 0, NULL, "notifying allot_engine");
}

int db_engine_apply(PGconn *pg)
{
    char current[65];
    if (!recorded_digest(pg, current))
        return -1;
    if (strcmp(current, db_engine_digest()) == 0)
        return 0;
    if (!db_migrate_exec(pg, "BEGIN", 0, NULL, "BEGIN"))
        return -1;
    if (!apply_all(pg) || !db_migrate_exec(pg, "COMMIT", 0, NULL, "COMMIT")) {
        db_migrate_exec(pg, "ROLLBACK", 0, NULL, "ROLLBACK");
        return -1;
    }
    log_info(NULL, "migrate: engine %.12s applied (%zu files of sql/)", db_engine_digest(),
             db_engine_files_count);
    return 1;
}

static const struct db_stmt q_engine = {.name = "engine_digest", .sql = "SELECT digest FROM engine_version"};

int db_engine_current(struct db_conn *c)
{
    PGresult *r;
    if (db_exec(c, &q_engine, 0, NULL, &r) != DB_OK)
        return strcmp(db_last_sqlstate(c), "42P01") == 0 ? 0 : -1;
    int current = PQntuples(r) == 1 && strcmp(PQgetvalue(r, 0, 0), db_engine_digest()) == 0;
    PQclear(r);
    return current;
}

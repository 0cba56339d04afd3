/* The sync thread.  It owns one database connection, on which it holds a
 * session advisory lock for the whole of a sync, so that of several allotd
 * instances on one database exactly one syncs at a time; the claim in the
 * database (allot_sync_claim) makes each interval see one sync.  A reply is
 * accepted only if it is signed by the authority and echoes this sync's nonce;
 * anything else is a failed sync and lastVerifiedAt does not move. */
#include "allot/sync.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "allot/app.h"
#include "allot/jobs.h"
#include "allot/license.h"
#include "allot/log.h"
#include "allot/metrics.h"
#include "allot/store.h"
#include "allot/sync_protocol.h"
#include "sync/internal.h"

#define RETRY_MIN_S 5

struct sync {
    struct app *app;
    struct db_pool *pool; /* this thread's own connection */
    struct job *job;
    pthread_mutex_t lock;
    pthread_cond_t done;
    bool force;
    unsigned long requested, finished;
    bool waiting; /* a request waits for a sync: the others do not */
    bool stalled; /* a wait ran out: no request waits again until a sync ends */
    char corr[40]; /* the corrId of the first request the next sync serves */
    enum sync_outcome last;
    char last_why[256];
    int failures;
    int64_t backoff_until_ms; /* the backend's Retry-After (monotonic), or 0 */
};

const char *sync_outcome_name(enum sync_outcome o)
{
    switch (o) {
    case SYNC_OK: return "ok";
    case SYNC_FAILED: return "failed";
    case SYNC_OFFLINE: return "offline";
    case SYNC_NO_LICENSE: return "no_license";
    case SYNC_SKIPPED: return "skipped";
    case SYNC_DB: return "database_unavailable";
    case SYNC_PENDING: return "pending";
    }
    return "failed";
}

/* The claim as the exchange reads it. */
static json_t *claim_of(PGresult *r)
{
    json_error_t err;
    json_t *assignments = json_loads(PQgetvalue(r, 0, 6), 0, &err);
    if (assignments == NULL)
        return NULL;
    return json_pack("{s:s, s:s, s:I, s:I, s:I, s:s, s:o}", "key", PQgetvalue(r, 0, 0),
                     "licenseNumber", PQgetvalue(r, 0, 1),
                     "issuedAt", (json_int_t)strtoll(PQgetvalue(r, 0, 2), NULL, 10),
                     "lastVerifiedAt", (json_int_t)strtoll(PQgetvalue(r, 0, 3), NULL, 10),
                     "offlineGrace", (json_int_t)strtoll(PQgetvalue(r, 0, 4), NULL, 10),
                     "site", PQgetvalue(r, 0, 5), "assignments", assignments);
}

/* Jittered exponential backoff after failures, never longer than the interval. */
static int64_t retry_seconds(const struct sync *s)
{
    int64_t interval = s->app->cfg->sync_interval;
    int shift = s->failures < 10 ? s->failures : 10;
    int64_t base = (int64_t)RETRY_MIN_S << shift;
    if (base > interval)
        base = interval;
    return base / 2 + (int64_t)(random() % (base / 2 + 1));
}

static bool take_lock(struct db_conn *c, bool force)
{
    /* A forced sync waits a little for another instance's sync to finish. */
    for (int i = 0; i < (force ? 100 : 1); i++) {
        bool got = false;
        if (db_sync_try_lock(c, &got) != DB_OK)
            return false;
        if (got)
            return true;
        usleep(100 * 1000);
    }
    return false;
}

static void log_failure(const char *corr, const char *why, const json_t *claim, int64_t now)
{
    int64_t verified = json_integer_value(json_object_get(claim, "lastVerifiedAt"));
    int64_t grace = json_integer_value(json_object_get(claim, "offlineGrace"));
    int64_t left = verified + grace - now;
    char at[CORE_TIME_BUFSZ] = "";
    core_time_format(verified + grace, at, sizeof at);
    json_t *extra = json_pack("{s:s, s:s, s:I}", "licenseNumber",
                              json_string_value(json_object_get(claim, "licenseNumber")),
                              "disabledAt", at, "secondsUntilDisabled", (json_int_t)left);
    if (left > 0)
        log_with(LOG_WARN, corr, extra,
                 "license sync failed: %s; licenses are disabled in %lldd %lldh %lldm %llds (at %s) "
                 "unless a sync succeeds", why, (long long)(left / 86400),
                 (long long)(left % 86400 / 3600), (long long)(left % 3600 / 60),
                 (long long)(left % 60), at);
    else
        log_with(LOG_ERROR, corr, extra,
                 "license sync failed: %s; licenses are disabled since %s: too much time has "
                 "passed since the last license update", why, at);
}

/* Talks to the backend and checks the reply against the keys the site
 * trusts (ring); fills the record parameters.  A 429 sets the backoff. */
static bool exchange(struct sync *s, const json_t *claim, const struct lic_keyring *ring,
                     char **key, char **def, struct sync_reply *reply, char *why,
                     size_t whylen)
{
    struct app *a = s->app;
    struct sync_request req = {0};
    if (sync_nonce_new(req.nonce) != 0) {
        snprintf(why, whylen, "no randomness for a nonce");
        return false;
    }
    snprintf(req.license_number, sizeof req.license_number, "%s",
             json_string_value(json_object_get(claim, "licenseNumber")));
    snprintf(req.site, sizeof req.site, "%s", json_string_value(json_object_get(claim, "site")));
    req.definition_issued_at = json_integer_value(json_object_get(claim, "issuedAt"));
    char awhy[128];
    if (!sync_assignments_parse(json_object_get(claim, "assignments"), &req.assignments, awhy,
                                sizeof awhy)) {
        snprintf(why, whylen, "cannot describe the assignments: %s", awhy);
        return false;
    }
    json_t *body = sync_request_build(&req);
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    char *answer = NULL;
    int64_t retry_after = 0;
    bool ok = text != NULL &&
              sync_post(a->cfg->authority_url, req.license_number,
                        json_string_value(json_object_get(claim, "key")), text,
                        (long)a->cfg->sync_timeout, a->cfg->authority_ca, &answer,
                        &retry_after, why, whylen);
    free(text);
    if (retry_after > 0)
        s->backoff_until_ms = app_now_ms() + retry_after * 1000;
    if (!ok)
        return false;
    char vwhy[200] = "";
    enum lic_result res = sync_reply_verify_ring(answer, ring, req.nonce, req.license_number,
                                                 reply, vwhy, sizeof vwhy);
    free(answer);
    if (res != LIC_OK) {
        snprintf(why, whylen, "the backend's reply was refused: %s", vwhy);
        return false;
    }
    if (strcmp(reply->definition, json_string_value(json_object_get(claim, "key"))) != 0) {
        struct lic_license lic;
        res = lic_verify_key_ring(reply->definition, ring, app_wall_s(), &lic, NULL, vwhy,
                                  sizeof vwhy);
        if (res != LIC_OK && res != LIC_EXPIRED) {
            snprintf(why, whylen, "the backend's definition was refused: %s", vwhy);
            sync_reply_free(reply);
            return false;
        }
        json_t *canonical = lic_to_json(&lic);
        *def = canonical ? json_dumps(canonical, JSON_COMPACT) : NULL;
        json_decref(canonical);
        *key = strdup(reply->definition);
    }
    return true;
}

static enum sync_outcome run_once(struct sync *s, bool force, const char *corr, char *why,
                                  size_t whylen)
{
    struct app *a = s->app;
    if (a->cfg->authority_url == NULL || a->authority_key == NULL) {
        snprintf(why, whylen, "no license backend is configured (ALLOT_AUTHORITY_URL and "
                 "ALLOT_AUTHORITY_PUBLIC_KEY)");
        return SYNC_OFFLINE;
    }
    int64_t wait_ms = s->backoff_until_ms - app_now_ms();
    if (wait_ms > 0) {
        /* The backend said when to come back (429 Retry-After): not before. */
        snprintf(why, whylen, "the license backend asked this site to wait (HTTP 429): next "
                 "sync in %lld s", (long long)((wait_ms + 999) / 1000));
        return SYNC_FAILED;
    }
    struct db_conn *c;
    if (db_acquire(s->pool, &c) != DB_OK) {
        snprintf(why, whylen, "the database is unreachable");
        return SYNC_DB;
    }
    if (!take_lock(c, force)) {
        db_release(s->pool, c);
        snprintf(why, whylen, "another allotd instance is syncing");
        return SYNC_SKIPPED;
    }
    char now[40], interval[24], retry[24];
    app_wall_pg(now);
    snprintf(interval, sizeof interval, "%lld", (long long)a->cfg->sync_interval);
    snprintf(retry, sizeof retry, "%lld", (long long)retry_seconds(s));
    PGresult *r;
    enum sync_outcome out = SYNC_DB;
    json_t *claim = NULL;
    if (db_sync_claim(c, now, interval, retry, force, &r) == DB_OK) {
        if (PQntuples(r) == 1)
            claim = claim_of(r);
        out = claim ? SYNC_OK : SYNC_SKIPPED;
        PQclear(r);
    }
    struct lic_keyring ring;
    lic_keyring_init(&ring);
    if (claim != NULL && db_trusted_keys_on(c, a->authority_keys, &ring) != DB_OK) {
        snprintf(why, whylen, "the database is unreachable");
        json_decref(claim);
        claim = NULL;
        out = SYNC_DB;
    }
    if (claim != NULL) {
        struct sync_reply reply = {0};
        char *key = NULL, *def = NULL;
        bool ok = exchange(s, claim, &ring, &key, &def, &reply, why, whylen);
        char verified[24];
        snprintf(verified, sizeof verified, "%lld", (long long)reply.verified_at);
        app_wall_pg(now);
        const char *rp[] = {now, json_string_value(json_object_get(claim, "licenseNumber")),
                            ok ? "true" : "false", ok ? NULL : why, ok ? verified : NULL,
                            ok ? (reply.revoked ? "true" : "false") : NULL, key, def};
        /* Only what the database recorded counts: a reply that could not be
         * recorded is a failed sync, whatever the backend said. */
        const char *recorded = "unreachable";
        char outcome[40] = "";
        if (db_sync_record(c, rp, &r) == DB_OK) {
            snprintf(outcome, sizeof outcome, "%s", PQgetvalue(r, 0, 0));
            recorded = outcome;
            PQclear(r);
        }
        if (ok && strcmp(recorded, "ok") != 0) {
            ok = false;
            snprintf(why, whylen, "the verified reply could not be recorded (%s)", recorded);
        }
        /* Keys the backend announced in a reply signed by a trusted key: the
         * next rotation needs no step at the site.  One not stored now is
         * announced again at the next sync. */
        if (ok && db_authority_keys_learn(c, &reply, &ring, now, corr) != DB_OK)
            log_warn(corr, "the keys the license backend announced could not be stored; the "
                     "next sync tries again");
        if (ok && reply.revoked) {
            s->failures = 0;
            log_warn(corr, "license %s verified with the backend: it is REVOKED; every access "
                     "is refused", rp[1]);
        } else if (ok) {
            s->failures = 0;
            log_info(corr, "license %s verified with the backend", rp[1]);
        } else {
            s->failures++;
            log_failure(corr, why, claim, app_wall_s());
            out = SYNC_FAILED;
        }
        sync_reply_free(&reply);
        free(key);
        free(def);
        json_decref(claim);
    } else if (out == SYNC_SKIPPED && force) {
        snprintf(why, whylen, "no license is applied");
        out = SYNC_NO_LICENSE;
    }
    lic_keyring_free(&ring);
    db_sync_unlock(c);
    db_release(s->pool, c);
    return out;
}

static int64_t tick(struct app *a, void *arg)
{
    (void)a;
    struct sync *s = arg;
    pthread_mutex_lock(&s->lock);
    bool force = s->force;
    unsigned long generation = s->requested;
    s->force = false;
    char corr[sizeof s->corr];
    memcpy(corr, s->corr, sizeof corr);
    s->corr[0] = '\0';
    pthread_mutex_unlock(&s->lock);

    char why[256] = "";
    enum sync_outcome o = run_once(s, force, corr[0] ? corr : NULL, why, sizeof why);
    if (o != SYNC_SKIPPED && o != SYNC_OFFLINE)
        metrics_sync(s->app->metrics, sync_outcome_name(o));

    pthread_mutex_lock(&s->lock);
    s->last = o;
    snprintf(s->last_why, sizeof s->last_why, "%s", why);
    if (force)
        s->finished = generation;
    s->stalled = false;
    pthread_cond_broadcast(&s->done);
    pthread_mutex_unlock(&s->lock);
    /* After a failure, try again sooner; a claim in the database keeps several
     * instances from all retrying at once.  A backend that answered 429 is
     * not asked again before its Retry-After. */
    int64_t wait_ms = s->backoff_until_ms - app_now_ms();
    if (wait_ms > 0)
        return wait_ms;
    return o == SYNC_FAILED ? retry_seconds(s) * 1000 : 0;
}

struct sync *sync_start(struct app *a)
{
    struct sync *s = calloc(1, sizeof *s);
    if (s == NULL)
        return NULL;
    s->app = a;
    srandom((unsigned)(app_now_ms() ^ getpid()));
    struct db_pool_options opt = db_pool_options_of(a->cfg, 1, "allotd-sync");
    opt.batch_max = 0; /* one connection, one sync: nothing to batch */
    s->pool = db_pool_new(&opt);
    pthread_mutex_init(&s->lock, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&s->done, &attr);
    pthread_condattr_destroy(&attr);
    /* The thread wakes at least every 10 s so that a due sync (also one another
     * instance failed to make) is never late by more than that. */
    int64_t period = a->cfg->sync_interval < 10 ? a->cfg->sync_interval : 10;
    s->job = job_start(a, "sync", period * 1000, tick, s);
    if (s->pool == NULL || s->job == NULL) {
        sync_stop(s);
        return NULL;
    }
    job_wake(s->job); /* a first sync at start-up */
    return s;
}

void sync_stop(struct sync *s)
{
    if (s == NULL)
        return;
    job_stop(s->job);
    db_pool_free(s->pool);
    pthread_mutex_destroy(&s->lock);
    pthread_cond_destroy(&s->done);
    free(s);
}

enum sync_outcome sync_now(struct sync *s, const char *corr, int64_t wait_s, char *why,
                           size_t whylen)
{
    pthread_mutex_lock(&s->lock);
    if (s->corr[0] == '\0' && corr != NULL)
        snprintf(s->corr, sizeof s->corr, "%s", corr);
    unsigned long mine = ++s->requested;
    s->force = true;
    bool wait = !s->waiting && !s->stalled && wait_s > 0;
    s->waiting = s->waiting || wait;
    pthread_mutex_unlock(&s->lock);
    job_wake(s->job);
    snprintf(why, whylen, "a sync is under way");
    if (!wait)
        return SYNC_PENDING;
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += (time_t)wait_s;
    pthread_mutex_lock(&s->lock);
    int rc = 0;
    while (s->finished < mine && rc != ETIMEDOUT)
        rc = pthread_cond_timedwait(&s->done, &s->lock, &deadline);
    s->waiting = false;
    enum sync_outcome o = SYNC_PENDING;
    if (s->finished >= mine) {
        o = s->last;
        snprintf(why, whylen, "%s", s->last_why);
    } else {
        s->stalled = true; /* the backend is slow: the next requests do not wait */
    }
    pthread_mutex_unlock(&s->lock);
    return o;
}

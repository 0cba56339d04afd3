/* The webhook thread: checks the alerts that time alone brings about and
 * delivers the outbox (sql/webhook_check.sql, sql/webhook_deliver.sql).
 *
 * Every instance runs one.  An event is claimed in a transaction with FOR
 * UPDATE SKIP LOCKED, sent, and its attempt recorded in that transaction, so
 * of several instances exactly one sends it; if this process dies before it
 * committed, the transaction rolls back and the event is due again (at least
 * once: receivers deduplicate by webhook-id, as Standard Webhooks asks).
 * The thread owns one database connection, which holds the claim while a
 * delivery is under way (at most ALLOT_WEBHOOK_TIMEOUT).
 *
 * Requests go only to the URL an administrator set: http or https, no
 * redirect followed, bounded in time, the answer read and dropped (capped).
 * Neither the secret nor the URL (which may carry a token) is ever logged. */
#include "allot/webhooks.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include "allot/app.h"
#include "allot/jobs.h"
#include "allot/log.h"
#include "allot/store.h"

#define SECRET_PREFIX "whsec_"
#define SECRET_BYTES 32
/* A tick delivers at most this many events, then lets the checks run. */
#define TICK_EVENTS 200
#define ANSWER_MAX 65536

bool webhook_new_secret(char out[WEBHOOK_SECRET_LEN])
{
    unsigned char raw[SECRET_BYTES];
    if (RAND_bytes(raw, sizeof raw) != 1)
        return false;
    memcpy(out, SECRET_PREFIX, sizeof SECRET_PREFIX - 1);
    EVP_EncodeBlock((unsigned char *)out + sizeof SECRET_PREFIX - 1, raw, sizeof raw);
    OPENSSL_cleanse(raw, sizeof raw);
    return true;
}

bool webhook_sign(const char *secret, const char *id, long long timestamp, const char *body,
                  size_t body_len, char out[WEBHOOK_SIGNATURE_LEN])
{
    size_t plen = sizeof SECRET_PREFIX - 1;
    if (strncmp(secret, SECRET_PREFIX, plen) != 0)
        return false;
    const char *b64 = secret + plen;
    size_t n = strlen(b64);
    if (n == 0 || n % 4 != 0 || n > 128)
        return false;
    unsigned char key[96];
    int klen = EVP_DecodeBlock(key, (const unsigned char *)b64, (int)n);
    if (klen < 0)
        return false;
    klen -= (b64[n - 1] == '=') + (b64[n - 2] == '='); /* EVP_DecodeBlock counts the padding */
    char head[128];
    int hlen = snprintf(head, sizeof head, "%s.%lld.", id, timestamp);
    if (hlen < 0 || (size_t)hlen >= sizeof head) {
        OPENSSL_cleanse(key, sizeof key);
        return false;
    }
    unsigned char mac[EVP_MAX_MD_SIZE];
    bool ok = false;
    EVP_MAC *hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    EVP_MAC_CTX *ctx = hmac ? EVP_MAC_CTX_new(hmac) : NULL;
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string("digest", (char *)"SHA256", 0),
                           OSSL_PARAM_construct_end()};
    size_t outl = 0;
    if (ctx != NULL && EVP_MAC_init(ctx, key, (size_t)klen, params) == 1 &&
        EVP_MAC_update(ctx, (const unsigned char *)head, (size_t)hlen) == 1 &&
        EVP_MAC_update(ctx, (const unsigned char *)body, body_len) == 1 &&
        EVP_MAC_final(ctx, mac, &outl, sizeof mac) == 1 && outl == 32) {
        memcpy(out, "v1,", 3);
        EVP_EncodeBlock((unsigned char *)out + 3, mac, (int)outl);
        ok = true;
    }
    EVP_MAC_CTX_free(ctx);
    EVP_MAC_free(hmac);
    OPENSSL_cleanse(key, sizeof key);
    return ok;
}

struct webhooks {
    struct app *app;
    struct db_pool *pool; /* this thread's own connection */
    struct job *job;
    int64_t next_check_ms;
    char deliverer[96]; /* host:pid, in the delivery log */
};

static const struct db_stmt q_claim = {
    .name = "webhook_claim", .sql =
    "SELECT c.id, c.url, c.secret, c.payload, c.attempt, o.type"
    " FROM engine.webhook_claim($1) c JOIN webhook_outbox o ON o.id = c.id"};
static const struct db_stmt q_record = {
    .name = "webhook_record", .sql =
    "SELECT engine.webhook_record($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"};
/* Milliseconds until the next pending event is due (NULL: none). */
static const struct db_stmt q_next = {
    .name = "webhook_next", .sql =
    "SELECT ceil(extract(epoch FROM min(o.next_attempt_at) - $1::timestamptz) * 1000)::bigint"
    " FROM webhook_outbox o WHERE o.state = 'pending'"};

static size_t drop_answer(char *p, size_t size, size_t n, void *ctx)
{
    (void)p;
    size_t *seen = ctx;
    *seen += size * n;
    return *seen > ANSWER_MAX ? 0 : size * n; /* enough: the status is what counts */
}

/* POSTs the body, signed; the HTTP status (0: no answer) and why it failed. */
static long post(const struct webhooks *w, const char *url, const char *id, const char *secret,
                 const char *body, char *why, size_t whylen)
{
    char sig[WEBHOOK_SIGNATURE_LEN];
    long long ts = (long long)app_wall_s();
    if (!webhook_sign(secret, id, ts, body, strlen(body), sig)) {
        snprintf(why, whylen, "the subscription's secret is not in the whsec_ form");
        return 0;
    }
    CURL *c = curl_easy_init();
    if (c == NULL) {
        snprintf(why, whylen, "cannot start an HTTP client");
        return 0;
    }
    char h_id[96], h_ts[64], h_sig[96];
    snprintf(h_id, sizeof h_id, "webhook-id: %s", id);
    snprintf(h_ts, sizeof h_ts, "webhook-timestamp: %lld", ts);
    snprintf(h_sig, sizeof h_sig, "webhook-signature: %s", sig);
    struct curl_slist *h = NULL;
    h = curl_slist_append(h, "Content-Type: application/json");
    h = curl_slist_append(h, h_id);
    h = curl_slist_append(h, h_ts);
    h = curl_slist_append(h, h_sig);
    h = curl_slist_append(h, "User-Agent: allotd/" ALLOT_VERSION);
    h = curl_slist_append(h, "Expect:");
    long timeout = (long)w->app->cfg->webhook_timeout;
    size_t seen = 0;
    char detail[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, drop_answer);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &seen);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, timeout);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, timeout < 10 ? timeout : 10L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, detail);
    CURLcode rc = curl_easy_perform(c);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    if (rc == CURLE_WRITE_ERROR && status > 0)
        rc = CURLE_OK; /* the answer's body was longer than we care to read */
    if (rc != CURLE_OK) {
        snprintf(why, whylen, "%s%s%s%s", curl_easy_strerror(rc), detail[0] ? " (" : "", detail,
                 detail[0] ? ")" : "");
        return 0;
    }
    if (status < 200 || status > 299)
        snprintf(why, whylen, "the receiver answered HTTP %ld", status);
    return status;
}

/* Claims, sends and records one due event; false when none was due (or the
 * database failed). */
static bool deliver_one(struct webhooks *w)
{
    const struct config *cfg = w->app->cfg;
    struct db_conn *c;
    if (db_acquire(w->pool, &c) != DB_OK)
        return false;
    char now[40];
    app_wall_pg(now);
    PGresult *r = NULL;
    const char *cp[] = {now};
    if (db_simple(c, "BEGIN") != DB_OK || db_exec(c, &q_claim, 1, cp, &r) != DB_OK ||
        PQntuples(r) == 0) {
        PQclear(r);
        db_simple(c, "ROLLBACK");
        db_release(w->pool, c);
        return false;
    }
    char id[40], type[64], attempt[16];
    snprintf(id, sizeof id, "%s", PQgetvalue(r, 0, 0));
    snprintf(attempt, sizeof attempt, "%s", PQgetvalue(r, 0, 4));
    snprintf(type, sizeof type, "%s", PQgetvalue(r, 0, 5));
    char why[512] = "";
    int64_t t0 = app_now_ms();
    long status = post(w, PQgetvalue(r, 0, 1), id, PQgetvalue(r, 0, 2), PQgetvalue(r, 0, 3), why,
                       sizeof why);
    int64_t ms = app_now_ms() - t0;
    OPENSSL_cleanse(PQgetvalue(r, 0, 2), strlen(PQgetvalue(r, 0, 2)));
    PQclear(r);
    bool ok = status >= 200 && status <= 299;
    char status_text[16], ms_text[24], min[24], max[24], attempts[16], jitter[32];
    snprintf(status_text, sizeof status_text, "%ld", status);
    snprintf(ms_text, sizeof ms_text, "%lld", (long long)ms);
    snprintf(min, sizeof min, "%lld", (long long)cfg->webhook_retry_min);
    snprintf(max, sizeof max, "%lld", (long long)cfg->webhook_retry_max);
    snprintf(attempts, sizeof attempts, "%lld", (long long)cfg->webhook_max_attempts);
    unsigned int draw = 0;
    RAND_bytes((unsigned char *)&draw, sizeof draw);
    snprintf(jitter, sizeof jitter, "%.6f", (double)draw / 4294967295.0);
    app_wall_pg(now);
    const char *rp[] = {id, now, ok ? "true" : "false", status > 0 ? status_text : NULL,
                        ok ? NULL : why, ms_text, w->deliverer, min, max, attempts, jitter};
    char outcome[32] = "";
    bool recorded = db_exec(c, &q_record, 11, rp, &r) == DB_OK;
    if (recorded) {
        snprintf(outcome, sizeof outcome, "%s", PQgetvalue(r, 0, 0));
        PQclear(r);
        recorded = db_simple(c, "COMMIT") == DB_OK;
    }
    if (!recorded) {
        db_simple(c, "ROLLBACK");
        log_warn(NULL, "webhook event %s (%s): the attempt could not be recorded; it will be "
                 "sent again", id, type);
    } else if (ok) {
        log_info(NULL, "webhook event %s (%s) delivered (attempt %s, HTTP %ld, %lld ms)", id, type,
                 attempt, status, (long long)ms);
    } else {
        log_warn(NULL, "webhook event %s (%s): attempt %s failed: %s; %s", id, type, attempt, why,
                 strcmp(outcome, "failed") == 0 ? "given up (ALLOT_WEBHOOK_MAX_ATTEMPTS)"
                                                : "it will be retried");
    }
    db_release(w->pool, c);
    return recorded;
}

/* Milliseconds until the next pending event is due, at most cap. */
static int64_t next_due_ms(struct webhooks *w, int64_t cap)
{
    char now[40];
    app_wall_pg(now);
    const char *p[] = {now};
    PGresult *r = NULL;
    int64_t due = cap;
    if (db_query(w->pool, &q_next, 1, p, &r) == DB_OK && !PQgetisnull(r, 0, 0)) {
        long long ms = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
        due = ms < 1 ? 1 : (ms < cap ? ms : cap);
    }
    PQclear(r);
    return due;
}

static int64_t tick(struct app *a, void *arg)
{
    struct webhooks *w = arg;
    int64_t interval = a->cfg->webhook_interval * 1000;
    if (!db_schema_ready(a))
        return interval; /* `allotd migrate` has to run first (logged where requests are) */
    if (app_now_ms() >= w->next_check_ms) {
        w->next_check_ms = app_now_ms() + interval;
        char now[40], retention[24];
        app_wall_pg(now);
        snprintf(retention, sizeof retention, "%lld", (long long)a->cfg->webhook_retention);
        int fired = 0;
        enum db_status s = db_webhook_check(w->pool, now, retention, &fired);
        if (s == DB_OK && fired > 0)
            log_info(NULL, "webhook alerts: %d event%s written", fired, fired == 1 ? "" : "s");
        else if (s != DB_OK && s != DB_UNAVAILABLE)
            log_warn(NULL, "the webhook check failed (status %d)", (int)s);
    }
    int sent = 0;
    while (sent < TICK_EVENTS && deliver_one(w))
        sent++;
    if (sent == TICK_EVENTS)
        return 1; /* more may be due: go on at once */
    int64_t until_check = w->next_check_ms - app_now_ms();
    return next_due_ms(w, until_check < 1 ? 1 : until_check);
}

struct webhooks *webhooks_start(struct app *a)
{
    struct webhooks *w = calloc(1, sizeof *w);
    if (w == NULL)
        return NULL;
    w->app = a;
    char host[64] = "";
    if (gethostname(host, sizeof host - 1) != 0)
        snprintf(host, sizeof host, "allotd");
    snprintf(w->deliverer, sizeof w->deliverer, "%s:%ld", host, (long)getpid());
    struct db_pool_options opt = db_pool_options_of(a->cfg, 1, "allotd-webhooks");
    opt.batch_max = 0;
    w->pool = db_pool_new(&opt);
    if (w->pool == NULL) {
        free(w);
        return NULL;
    }
    w->job = job_start(a, "webhooks", a->cfg->webhook_interval * 1000, tick, w);
    if (w->job == NULL) {
        db_pool_free(w->pool);
        free(w);
        return NULL;
    }
    job_wake(w->job); /* what is due from before a restart goes out at once */
    return w;
}

void webhooks_wake(struct webhooks *w)
{
    if (w != NULL)
        job_wake(w->job);
}

void webhooks_stop(struct webhooks *w)
{
    if (w == NULL)
        return;
    job_stop(w->job);
    db_pool_free(w->pool);
    free(w);
}

/* db suite: the alerts by webhook (issue 10), where they are decided: the
 * engine's functions called with p_now.  Events are written to the outbox by
 * the transaction of the fact they report (a sync recorded, an allocation, a
 * refusal) or, for what time alone brings about, by engine.webhook_check,
 * which marks a condition fired so that it fires once per crossing and is
 * re-armed when the condition no longer holds.  Then the delivery's own
 * decisions: the claim, the attempts, the backoff and its cap.  How a case
 * reads: trules.h. */
#include "trules.h"

#define HOOK(events)                                                                   \
    "SELECT engine.webhook_create('http://127.0.0.1:9/hook', '', 'whsec_dGVzdA==', '" \
    events "', t.at(0));"
/* The events in the outbox, oldest first. */
#define OUTBOX "(SELECT coalesce(string_agg(o.type, ' ' ORDER BY o.created_at, o.id), '') " \
               "FROM webhook_outbox o)"
/* A member of the data of the events of a type, oldest first. */
#define DATA(type, member)                                                                  \
    "(SELECT string_agg(o.payload::jsonb #>> '{data," member "}', ' ' ORDER BY o.created_at)" \
    " FROM webhook_outbox o WHERE o.type = '" type "')"
#define CHECK(at) "engine.webhook_check(t.at(" #at "), 86400)"
#define EPOCH(at) "extract(epoch FROM t.at(" #at "))::bigint"
#define SYNC_OK(at, verified, revoked) \
    "engine.sync_record(t.at(" #at "), 'L-1', true, NULL, " EPOCH(verified) ", " #revoked ", NULL, NULL)"
#define SYNC_FAILED(at, why) \
    "engine.sync_record(t.at(" #at "), 'L-1', false, '" why "', NULL, NULL, NULL, NULL)"
#define GRACE(s) "iat => t.at(-100), params => '{\"offlineGraceSeconds\": " #s "}'"
#define UNKNOWN(at) "(engine.session_start(NULL, 'CORP', 'nobody', t.at(" #at "))).outcome"
/* The delivery: claim the next due event (its attempt number, or none), and
 * record an attempt (10 s first wait, 80 s cap, 4 attempts, jitter 1: the
 * whole wait). */
#define CLAIM(at) "(SELECT coalesce(string_agg(c.attempt::text, ' '), 'none') " \
                  "FROM engine.webhook_claim(t.at(" #at ")) c)"
#define RECORD(at, ok, status)                                                               \
    "engine.webhook_record((SELECT o.id FROM webhook_outbox o), t.at(" #at "), " #ok ", "   \
    #status ", CASE WHEN " #ok " THEN NULL ELSE 'HTTP " #status "' END, 5, 'test:1', 10, 80, " \
    "4, 1)"
#define NEXT "(SELECT t.rel(o.next_attempt_at) || ' ' || o.state || ' ' || o.attempts " \
             "FROM webhook_outbox o)"
#define LOG "(SELECT string_agg(a.attempt || ':' || a.outcome || ':' || coalesce(a.status_code::text, '-'), ' ' " \
            "ORDER BY a.attempt) FROM webhook_attempts a)"

static const struct tr_case cases[] = {
    {"license.stale fires once when the grace runs out, and again only after a sync",
     GRACE(1000), HOOK("[{\"type\": \"license.stale\"}]"),
     .steps = {{CHECK(899), "0"},
               {OUTBOX, ""},
               {CHECK(900), "1"},
               {OUTBOX, "license.stale"},
               {DATA("license.stale", "status"), "stale"},
               {DATA("license.stale", "disabledAt"), "2031-03-10T00:15:00.000000Z"},
               {CHECK(901), "0"},
               {CHECK(5000), "0"},
               /* a sync succeeds: re-armed; stale again a grace later */
               {SYNC_OK(6000, 6000, false), "ok"},
               {CHECK(6001), "0"},
               {CHECK(6999), "0"},
               {CHECK(7000), "1"},
               {OUTBOX, "license.stale license.stale"}}},

    {"license.disabling fires when disabledAt comes within the hours, once, re-armed by a sync",
     GRACE(10000), HOOK("[{\"type\": \"license.disabling\", \"hours\": 1}]"),
     .steps = {{CHECK(6299), "0"},
               {CHECK(6300), "1"},
               {DATA("license.disabling", "secondsLeft"), "3600"},
               {DATA("license.disabling", "hours"), "1"},
               {CHECK(7000), "0"},
               {SYNC_OK(7100, 7100, false), "ok"},
               {CHECK(7200), "0"},
               {CHECK(13499), "0"},
               {CHECK(13500), "1"},
               /* once stale it is stale, not about to be disabled */
               {CHECK(17100), "0"},
               {OUTBOX, "license.disabling license.disabling"}}},

    {"license.expiring fires when validTo is within the days, once; an expired one is not expiring",
     "valid_to => t.at(10 * 86400)", HOOK("[{\"type\": \"license.expiring\", \"days\": 3}]"),
     .steps = {{CHECK(604799), "0"},
               {CHECK(604800), "1"},
               {DATA("license.expiring", "validTo"), "2031-03-20T00:00:00.000000Z"},
               {CHECK(700000), "0"},
               {CHECK(864001), "0"},
               {OUTBOX, "license.expiring"}}},

    {"sync.failed after the failures in a row, once per run; sync.recovered after them",
     "", HOOK("[{\"type\": \"sync.failed\", \"failures\": 2}, {\"type\": \"sync.recovered\"}]"),
     .steps = {               {SYNC_FAILED(10, "cannot reach the license backend"), "ok"},
               {OUTBOX, ""},
               {SYNC_FAILED(20, "cannot reach the license backend"), "ok"},
               {OUTBOX, "sync.failed"},
               {DATA("sync.failed", "error"), "cannot reach the license backend"},
               {DATA("sync.failed", "failures"), "2"},
               {SYNC_FAILED(30, "timeout"), "ok"},
               {OUTBOX, "sync.failed"},
               {SYNC_OK(40, 40, false), "ok"},
               {OUTBOX, "sync.failed sync.recovered"},
               {DATA("sync.recovered", "failures"), "3"},
               {"(SELECT o.payload::jsonb #> '{data,lastSyncError}' = 'null' FROM webhook_outbox o"
                " WHERE o.type = 'sync.recovered')", "true"},
               {SYNC_OK(50, 50, false), "ok"},
               {SYNC_FAILED(60, "x"), "ok"},
               {OUTBOX, "sync.failed sync.recovered"}}},

    {"license.revoked fires in the transaction of the sync that revoked it, once",
     "", HOOK("[{\"type\": \"license.revoked\"}]"),
     .steps = {{SYNC_OK(100, 100, false), "ok"},
               {OUTBOX, ""},
               {SYNC_OK(200, 200, true), "ok"},
               {OUTBOX, "license.revoked"},
               {DATA("license.revoked", "status"), "revoked"},
               {SYNC_OK(300, 300, true), "ok"},
               {OUTBOX, "license.revoked"}}},

    {"allotment.low fires with the allocation that takes available below the threshold, once "
     "per crossing",
     "professional => 3",
     HOOK("[{\"type\": \"allotment.low\", \"allotment\": \"professional\", \"below\": 2}, "
          "{\"type\": \"allotment.low\", \"allotment\": \"analyzer\", \"below\": 5}]")
     USERS(3, "{}"),
     .steps = {{ALLOCATE("u1", "professional", 10), "ok professional"},
               {OUTBOX, ""},
               {ALLOCATE("u2", "professional", 20), "ok professional"},
               {OUTBOX, "allotment.low"},
               {DATA("allotment.low", "available"), "1"},
               {DATA("allotment.low", "below"), "2"},
               {ALLOCATE("u3", "professional", 30), "ok professional"},
               {OUTBOX, "allotment.low"},
               /* never used: released at once; still below */
               {REMOVE("u3", "professional", 40), "released"},
               {CHECK(41), "0"},
               {REMOVE("u2", "professional", 50), "released"},
               {CHECK(51), "0"}, /* re-armed: 2 available */
               {ALLOCATE("u2", "professional", 60), "ok professional"},
               {OUTBOX, "allotment.low allotment.low"},
               /* the license has no analyzer allotment: nothing to watch */
               {CHECK(70), "0"}}},

    {"allotment.low also fires on a dynamic assignment at session start",
     "professional => 1",
     HOOK("[{\"type\": \"allotment.low\", \"allotment\": \"professional\", \"below\": 1}]")
     "SELECT t.user('u1', '{Sales}'); SELECT t.rule('sales', 'professional', '{Sales}');",
     .steps = {{START("u1", 0), OK_AS("professional")},
               {OUTBOX, "allotment.low"},
               {DATA("allotment.low", "available"), "0"}}},

    {"allotment.low fires when a smaller license is applied",
     "professional => 5",
     HOOK("[{\"type\": \"allotment.low\", \"allotment\": \"professional\", \"below\": 3}]"),
     .steps = {{CHECK(0), "0"},
               {"t.license(professional => 2, iat => t.at(-10))", "ok"},
               {OUTBOX, "allotment.low"}}},

    {"refusals.high: more than count refusals within the window fires once per window",
     NULL, HOOK("[{\"type\": \"refusals.high\", \"count\": 2, \"seconds\": 60}]"),
     .steps = {{UNKNOWN(0), "unknown_user"},
               {UNKNOWN(1), "unknown_user"},
               {OUTBOX, ""},
               {UNKNOWN(2), "unknown_user"},
               {OUTBOX, "refusals.high"},
               {DATA("refusals.high", "refusals"), "3"},
               {DATA("refusals.high", "lastResultCode"), "UnknownUser"},
               {UNKNOWN(59), "unknown_user"},
               {OUTBOX, "refusals.high"},
               /* the next window opens at the first refusal after +60 */
               {UNKNOWN(61), "unknown_user"},
               {UNKNOWN(62), "unknown_user"},
               {OUTBOX, "refusals.high"},
               {UNKNOWN(100), "unknown_user"},
               {OUTBOX, "refusals.high refusals.high"},
               {DATA("refusals.high", "windowStart"),
                "2031-03-10T00:00:00.000000Z 2031-03-10T00:01:01.000000Z"}}},

    {"no subscription: facts write no event",
     "professional => 1, " GRACE(1000), USERS(1, "{}"),
     .steps = {{ALLOCATE("u1", "professional", 10), "ok professional"},
               {UNKNOWN(11), "unknown_user"},
               {SYNC_FAILED(12, "x"), "ok"},
               {CHECK(500), "0"},
               {OUTBOX, ""}}},

    {"delivery: claimed when due, retried with a doubling wait up to its cap, failed after the "
     "last attempt",
     NULL, HOOK("[{\"type\": \"license.revoked\"}]") "SELECT engine.webhook_test(w.id, t.at(0)) FROM webhooks w;",
     .steps = {{OUTBOX, "webhook.test"},
               {CLAIM(0), "1"},
               {RECORD(1, false, 503), "retrying"},
               {NEXT, "+11 pending 1"},
               {CLAIM(10), "none"},
               {CLAIM(11), "2"},
               {RECORD(11, false, 500), "retrying"},
               {NEXT, "+31 pending 2"},
               {RECORD(31, false, 500), "retrying"},
               {NEXT, "+71 pending 3"},
               {RECORD(71, false, 500), "failed"},
               {CLAIM(10000), "none"},
               {LOG, "1:retrying:503 2:retrying:500 3:retrying:500 4:failed:500"},
               /* a failed event is forgotten after the retention */
               {"engine.webhook_check(t.at(71 + 86400), 86400)", "0"},
               {OUTBOX, "webhook.test"},
               {"engine.webhook_check(t.at(72 + 86400), 86400)", "0"},
               {OUTBOX, ""}}},

    {"delivery: a 2xx delivers it, once",
     NULL, HOOK("[{\"type\": \"license.revoked\"}]") "SELECT engine.webhook_test(w.id, t.at(0)) FROM webhooks w;",
     .steps = {{CLAIM(0), "1"},
               {RECORD(1, true, 204), "delivered"},
               {"(SELECT o.state || ' ' || t.rel(o.finished_at) FROM webhook_outbox o)", "delivered +1"},
               {CLAIM(100), "none"},
               {"SELECT " RECORD(2, true, 204), NULL},
               {LOG, "1:delivered:204"}}},

    {"the backoff: doubling from the first wait, capped, spread by the jitter",
     NULL, NULL,
     .steps = {{"engine.webhook_backoff(1, 10, 3600, 1)", "00:00:10"},
               {"engine.webhook_backoff(2, 10, 3600, 1)", "00:00:20"},
               {"engine.webhook_backoff(9, 10, 3600, 1)", "00:42:40"},
               {"engine.webhook_backoff(10, 10, 3600, 1)", "01:00:00"},
               {"engine.webhook_backoff(1000, 10, 3600, 1)", "01:00:00"},
               {"engine.webhook_backoff(1, 10, 3600, 0)", "00:00:08"},
               {"engine.webhook_backoff(10, 10, 3600, 0)", "00:48:00"}}},
};

int main(void)
{
    return TR_RUN(cases);
}

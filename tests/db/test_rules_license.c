/* db suite: the site license and keeping it verified (DOMAIN.md "The site
 * license", "Keeping the license verified"), called where it lives:
 * engine.license_apply, sync_claim, sync_record, definition_apply and
 * license_view with p_now passed in.  (What a license that is not in order
 * does to sessions and allocations: test_rules_sessions.c.)  How a case
 * reads: trules.h. */
#include "trules.h"

#define VIEW(at) "(engine.license_view(t.at(" #at ")))"
#define EPOCH(at) "extract(epoch FROM t.at(" #at "))::bigint"
#define SYNC_OK(at, verified, revoked) \
    "engine.sync_record(t.at(" #at "), 'L-1', true, NULL, " EPOCH(verified) ", " #revoked ", NULL, NULL)"
#define SYNC_FAILED(at, why) \
    "engine.sync_record(t.at(" #at "), 'L-1', false, '" why "', NULL, NULL, NULL, NULL)"
/* Whether a sync is due: sync_claim answers a row (1) or none (0). */
#define CLAIM(at, interval, retry, force) \
    "(SELECT count(*) FROM engine.sync_claim(t.at(" #at "), " #interval ", " #retry ", " #force "))"
#define GRACE_1000 "iat => t.at(-100), params => '{\"offlineGraceSeconds\": 1000}'"

static const struct tr_case cases[] = {
    {"status: missing, then ok until lastVerifiedAt + offlineGraceSeconds, then stale",
     NULL, NULL,
     .steps = {{VIEW(0) ".status", "missing"},
               {"t.license(professional => 1, " GRACE_1000 ")", "ok"},
               {VIEW(0) ".status", "ok"},
               {"t.rel(" VIEW(0) ".last_verified_at)", "-100"},
               {"t.rel(" VIEW(0) ".disabled_at)", "+900"},
               {VIEW(899) ".status", "ok"},
               {VIEW(900) ".status", "stale"},
               {VIEW(-101) ".status", "stale"}, /* a clock set back */
               /* the view says until when it holds: it changes at +900 */
               {"t.rel(" VIEW(0) ".changes_at)", "+900"}}},

    {"status: expired after validTo, revoked by the backend (revoked wins)",
     "valid_to => t.at(1000)", NULL,
     .steps = {{VIEW(1000) ".status", "ok"},
               {VIEW(1001) ".status", "expired"},
               {SYNC_OK(100, 100, true), "ok"},
               {VIEW(200) ".status", "revoked"},
               {VIEW(2000) ".status", "revoked"}}},

    {"a license's own parameters over the defaults",
     "params => '{\"maxParallelSessions\": 2}'", NULL,
     .steps = {{VIEW(0) ".parameters ->> 'maxParallelSessions'", "2"},
               {VIEW(0) ".parameters ->> 'sessionLingerSeconds'", "300"},
               {VIEW(0) ".parameters ->> 'capacityUnitSeconds'", "360"},
               {VIEW(0) ".parameters ->> 'loginPassSeconds'", "3600"},
               {VIEW(0) ".parameters ->> 'passReturnSeconds'", "2419200"},
               {VIEW(0) ".parameters ->> 'quarantineSeconds'", "604800"},
               {VIEW(0) ".parameters ->> 'definitionRefreshSeconds'", "86400"}}},

    {"a license that names no parameter: every one falls back to DOMAIN.md's default",
     NULL, NULL,
     .steps = {{"engine.license_apply('k', t.def() - 'parameters', t.at(0))", "ok"},
               {VIEW(0) ".parameters",
                "{\"loginPassSeconds\": 3600, \"passReturnSeconds\": 2419200, "
                "\"quarantineSeconds\": 604800, \"capacityUnitSeconds\": 360, "
                "\"maxParallelSessions\": 5, \"offlineGraceSeconds\": 432000, "
                "\"sessionLingerSeconds\": 300, \"definitionRefreshSeconds\": 86400}"},
               /* signed an hour before the origin: disabled five days after */
               {"t.rel(" VIEW(0) ".disabled_at)", "+428400"},
               {VIEW(428399) ".status", "ok"},
               {VIEW(428400) ".status", "stale"}}},

    {"an older key of the license in force never rolls it back; another license replaces it",
     "professional => 2", NULL,
     .steps = {{"t.license(professional => 5, iat => t.at(-7200))", "license_older"},
               {VIEW(0) ".allotments -> 0 ->> 'units'", "2"},
               {"t.license(professional => 3, iat => t.at(-3600))", "ok"},
               {VIEW(0) ".allotments -> 0 ->> 'units'", "3"},
               {"t.license(professional => 1, number => 'L-2', iat => t.at(-7200))", "ok"},
               {VIEW(0) ".license_number", "L-2"},
               /* L-1's newest key again, then an older one of it */
               {"t.license(professional => 3, iat => t.at(-3600))", "ok"},
               {"t.license(professional => 4, iat => t.at(-3601))", "license_older"},
               {VIEW(0) ".allotments -> 0 ->> 'units'", "3"}}},

    {"applying a license counts as a verification at its signing time, never moving it back",
     GRACE_1000, NULL,
     .steps = {{SYNC_OK(500, 500, false), "ok"},
               {"t.rel(" VIEW(500) ".last_verified_at)", "+500"},
               {"t.license(params => '{\"offlineGraceSeconds\": 1000}', iat => t.at(200), at => t.at(600))",
                "ok"},
               {"t.rel(" VIEW(600) ".last_verified_at)", "+500"},
               {"t.license(params => '{\"offlineGraceSeconds\": 1000}', iat => t.at(700), at => t.at(700))",
                "ok"},
               {"t.rel(" VIEW(700) ".last_verified_at)", "+700"}}},

    {"a sync: success verifies at the backend's verifiedAt (never past the site's clock); "
     "failure keeps lastVerifiedAt and its reason",
     GRACE_1000, NULL,
     .steps = {{SYNC_FAILED(10, "timeout"), "ok"},
               {VIEW(10) ".last_sync_error", "timeout"},
               {"t.rel(" VIEW(10) ".last_verified_at)", "-100"},
               {VIEW(900) ".status", "stale"},
               {SYNC_OK(920, 900, false), "ok"},
               {"t.rel(" VIEW(920) ".last_verified_at)", "+900"},
               {VIEW(920) ".last_sync_error IS NULL", "true"},
               {VIEW(920) ".status", "ok"},
               /* a backend clock ahead of the site's */
               {SYNC_OK(950, 5000, false), "ok"},
               {"t.rel(" VIEW(950) ".last_verified_at)", "+950"},
               {"engine.sync_record(t.at(960), 'L-2', true, NULL, " EPOCH(960) ", false, NULL, NULL)",
                "license_replaced"}}},

    {"a sync carries the current definition: a newer one replaces the license, an older one "
     "is refused",
     "professional => 1", NULL,
     .steps = {{"engine.sync_record(t.at(10), 'L-1', true, NULL, " EPOCH(10) ", false, "
                "t.key(t.def(professional => 5, iat => t.at(5))), t.def(professional => 5, iat => t.at(5)))",
                "ok"},
               {VIEW(10) ".allotments -> 0 ->> 'units'", "5"},
               {"engine.sync_record(t.at(20), 'L-1', true, NULL, " EPOCH(20) ", false, "
                "t.key(t.def(professional => 2, iat => t.at(-7200))), "
                "t.def(professional => 2, iat => t.at(-7200)))", "license_older"},
               {VIEW(20) ".allotments -> 0 ->> 'units'", "5"},
               {VIEW(20) ".last_sync_error", "the backend sent an older license key"}}},

    {"the backend's newest word on revocation holds; an older document cannot lift it",
     NULL, NULL,
     .steps = {{"t.license(iat => t.at(0), at => t.at(0))", "ok"},
               {SYNC_OK(100, 100, true), "ok"},
               {VIEW(100) ".status", "revoked"},
               {"engine.definition_apply(t.at(200), t.key(t.def(iat => t.at(0))), t.def(iat => t.at(0)), "
                EPOCH(50) ", false)", "ok"},
               {VIEW(200) ".status", "revoked"},
               {SYNC_OK(300, 300, false), "ok"},
               {VIEW(300) ".status", "ok"}}},

    {"air-gapped: a signed definition counts as a verification at the time it was signed",
     GRACE_1000, NULL,
     .steps = {{VIEW(950) ".status", "stale"},
               {"engine.definition_apply(t.at(950), t.key(t.def(professional => 2, iat => t.at(940), "
                "params => '{\"offlineGraceSeconds\": 1000}')), t.def(professional => 2, iat => t.at(940), "
                "params => '{\"offlineGraceSeconds\": 1000}'), " EPOCH(940) ", false)", "ok"},
               {"t.rel(" VIEW(950) ".last_verified_at)", "+940"},
               {VIEW(950) ".allotments -> 0 ->> 'units'", "2"},
               {VIEW(1939) ".status", "ok"},
               {VIEW(1940) ".status", "stale"},
               /* an export older than the license in force: its verification still counts */
               {"engine.definition_apply(t.at(1950), t.key(t.def(professional => 7, iat => t.at(-100))), "
                "t.def(professional => 7, iat => t.at(-100)), " EPOCH(1945) ", false)", "ok"},
               {"t.rel(" VIEW(1950) ".last_verified_at)", "+1945"},
               {VIEW(1950) ".allotments -> 0 ->> 'units'", "2"}}},

    {"sync_claim: due every interval (at most definitionRefreshSeconds), sooner after a failure, "
     "at once when forced",
     "params => '{\"definitionRefreshSeconds\": 1000}'", NULL,
     .steps = {{CLAIM(0, 600, 60, false), "1"},
               {CLAIM(599, 600, 60, false), "0"},
               {CLAIM(599, 600, 60, true), "1"},
               {CLAIM(1198, 600, 60, false), "0"},
               {CLAIM(1199, 600, 60, false), "1"},
               {SYNC_FAILED(1199, "unreachable"), "ok"},
               {CLAIM(1258, 600, 60, false), "0"},
               {CLAIM(1259, 600, 60, false), "1"},
               {SYNC_OK(1259, 1259, false), "ok"},
               /* an interval longer than definitionRefreshSeconds is shortened to it */
               {CLAIM(2258, 3600, 60, false), "0"},
               {CLAIM(2259, 3600, 60, false), "1"}}},

    {"sync_claim: no license, nothing to sync; what a sync reports",
     NULL, "SELECT t.user('ann', '{Sales}'); SELECT t.user('bob');",
     .steps = {{CLAIM(0, 600, 60, true), "0"},
               {"t.license(professional => 2, capacity => 60, tokens => 2)", "ok"},
               {"t.alloc('ann', 'professional') IS NOT NULL", "true"},
               {"t.alloc('bob', 'user') IS NOT NULL", "true"},
               {"engine.rule_save(NULL, 'logins', 'login', '{Sales}', NULL, 1, t.at(0))",
                "ok login tokens 1"},
               {"engine.rule_save(NULL, 'capacity', 'analyzer_time', '{}', NULL, NULL, t.at(0))",
                "ok analyzer_time"},
               {"(SELECT assignments FROM engine.sync_claim(t.at(0), 600, 60, false))",
                "{\"professional\" : 1, \"analyzer\" : 0, \"userPasses\" : 1, \"loginTokens\" : 1, "
                "\"capacityMinutesThisMonth\" : 0, \"quarantined\" : 0}"}}},
};

int main(void)
{
    return TR_RUN(cases);
}

/* db suite: the license check at the hub (DOMAIN.md "Sessions: the license
 * check at the hub"), called where it lives: engine.session_start,
 * session_heartbeat, session_end and reap with p_now passed in.  The
 * resolution order, every result code, the parallel limit, linger, the
 * idle end, and the audit trail.  How a case reads: trules.h. */
#include "trules.h"

/* A user holding every kind of pass, every kind of rule matching them. */
#define ALL_RULES                                                \
    "SELECT t.rule('pro', 'professional', '{Sales}');"           \
    "SELECT t.rule('ana', 'analyzer', '{Sales}');"               \
    "SELECT t.rule('logins', 'login', '{Sales}', 1);"            \
    "SELECT t.rule('capacity', 'analyzer_time', '{Sales}');"

static const struct tr_case cases[] = {
    /* ---- the resolution order ------------------------------------------- */
    {"order 1: an existing professional allocation comes first",
     "professional => 1, analyzer => 1, capacity => 60, tokens => 2",
     "SELECT t.user('ann', '{Sales}');"
     "SELECT t.alloc('ann', 'user'); SELECT t.alloc('ann', 'analyzer');"
     "SELECT t.alloc('ann', 'professional');" ALL_RULES,
     .steps = {{START("ann", 0), OK_AS("professional")}},
     .after = {{"t.events()", "+0 grant ann professional Ok 1 existing_allocation"},
      {"t.allocs()", "ann analyzer, ann professional, ann user"},
      {"t.passes() || t.capacity()", ""}}},

    {"order 2: then an existing analyzer allocation",
     "professional => 1, analyzer => 1, capacity => 60, tokens => 2",
     "SELECT t.user('ann', '{Sales}');"
     "SELECT t.alloc('ann', 'user'); SELECT t.alloc('ann', 'analyzer');" ALL_RULES,
     .steps = {{START("ann", 0), OK_AS("analyzer")}},
     .after = {{"t.events()", "+0 grant ann analyzer Ok 1 existing_allocation"},
      {"t.allocs()", "ann analyzer, ann user"}}},

    {"order 3: then a user access pass",
     "professional => 1, analyzer => 1, capacity => 60, tokens => 2",
     "SELECT t.user('ann', '{Sales}'); SELECT t.alloc('ann', 'user');" ALL_RULES,
     .steps = {{START("ann", 0), OK_AS("user")}},
     .after = {{"t.events()", "+0 grant ann user Ok 1 existing_allocation"},
      {"t.allocs()", "ann user"}}},

    {"order 2 before 4: an allocation held wins over a professional rule with a unit free",
     "professional => 1, analyzer => 1", "SELECT t.user('ann', '{Sales}');"
     "SELECT t.alloc('ann', 'analyzer'); SELECT t.rule('pro', 'professional', '{Sales}');",
     .steps = {{START("ann", 0), OK_AS("analyzer")}},
     .after = {{"t.allocs()", "ann analyzer"}}},

    {"order 4: a professional rule assigns a free unit, then an analyzer rule",
     "professional => 1, analyzer => 1, capacity => 60, tokens => 1",
     "SELECT t.user('ann', '{Sales}'); SELECT t.user('bob', '{Sales}');" ALL_RULES,
     .steps = {{START("ann", 0), OK_AS("professional")},
      {START("bob", 10), OK_AS("analyzer")}, /* no professional unit left */
      {START("ann", 20), OK_AS("professional")}},
     .after = {{"t.events('grant')", "+0 grant ann professional Ok 1 dynamic_assignment, "
                            "+10 grant bob analyzer Ok 1 dynamic_assignment, "
                            "+20 grant ann professional Ok 2 existing_allocation"},
      {"t.allocs()", "ann professional, bob analyzer"},
      /* the allocation names the rule that made it */
      {"(SELECT string_agg(r.name, ',' ORDER BY r.name) FROM allocations a "
       "JOIN rules r ON r.id = a.rule_id)", "ana,pro"},
      {"t.passes() || t.capacity()", ""}}},

    {"order 5: a login pass, when no rule has a unit left, before capacity",
     "professional => 0, analyzer => 0, capacity => 60, tokens => 1",
     "SELECT t.user('ann', '{Sales}');" ALL_RULES,
     .steps = {{START("ann", 0), OK_AS("login")}},
     .after = {{"t.events()", "+0 grant ann login Ok 1 new_pass"},
      {"t.passes()", "ann +0..+3600 returns +2419200"},
      {"t.allocs() || t.capacity()", ""}}},

    {"order 6: analyzer capacity, when no login pass is left",
     "professional => 0, analyzer => 0, capacity => 60, tokens => 1",
     "SELECT t.user('ann', '{Sales}');"
     "SELECT t.rule('pro', 'professional', '{Sales}');"
     "SELECT t.rule('ana', 'analyzer', '{Sales}');"
     "SELECT t.rule('logins', 'login', '{Sales}', 0);"
     "SELECT t.rule('capacity', 'analyzer_time', '{Sales}');",
     .steps = {{START("ann", 0), OK_AS("analyzer_time")}},
     .after = {{"t.events()", "+0 grant ann analyzer_time Ok 1 capacity"},
      {"t.capacity()", "2031-03 6"},
      {"t.allocs() || t.passes()", ""}}},

    {"nothing left: refused, NoAvailableAccessType (rules of other groups do not match)",
     "professional => 1, analyzer => 1, capacity => 60, tokens => 1",
     "SELECT t.user('ann', '{Sales}');"
     "SELECT t.rule('pro', 'professional', '{Marketing}');"
     "SELECT t.rule('logins', 'login', '{Marketing}', 1);"
     "SELECT t.rule('capacity', 'analyzer_time', '{Marketing}', NULL, '{EXT}');",
     .steps = {{START("ann", 0), REFUSED_NONE}},
     .after = {{"t.events()", "+0 refusal ann - NoAvailableAccessType 0"},
      {"t.sessions() || t.allocs() || t.passes() || t.capacity()", ""}}},

    {"a rule matches by user directory as well as by group",
     "capacity => 60",
     "SELECT t.user('ann', '{Sales}', 'CORP'); SELECT t.user('bob', '{}', 'EXT');"
     "SELECT t.rule('capacity', 'analyzer_time', '{}', NULL, '{EXT}');",
     .steps = {{START("bob", 0), OK_AS("analyzer_time")}, {START("ann", 0), REFUSED_NONE}}},

    {"a pass given now works for the next session (no log out and in again)",
     "professional => 1", "SELECT t.user('ann');",
     .steps = {{START("ann", 0), REFUSED_NONE},
      {ALLOCATE("ann", "professional", 10), "ok professional"},
      {START("ann", 20), OK_AS("professional")}}},

    /* ---- the result codes ------------------------------------------------ */
    {"UnknownUser, named by id or by directory and userId; a known one by name",
     "professional => 1", "SELECT t.user('ann'); SELECT t.alloc('ann', 'professional');",
     .steps = {{"engine.session_start(gen_random_uuid(), NULL, NULL, t.at(0))", "unknown_user UnknownUser"},
      {"engine.session_start(NULL, 'CORP', 'nobody', t.at(10))", "unknown_user UnknownUser"},
      {"engine.session_start(NULL, 'EXT', 'ann', t.at(20))", "unknown_user UnknownUser"},
      {"engine.session_start(NULL, 'CORP', 'ann', t.at(30))", OK_AS("professional")}},
     .after = {{"t.events()", "+0 refusal - - UnknownUser 0, +10 refusal nobody - UnknownUser 0, "
                     "+20 refusal ann - UnknownUser 0, +30 grant ann professional Ok 1 existing_allocation"},
      {"(SELECT user_directory FROM session_events WHERE at = t.at(10))", "CORP"}}},

    {"LicenseNotAvailable: no license applied",
     NULL, "SELECT t.user('ann');",
     .steps = {{START("ann", 0), "license_missing LicenseNotAvailable"},
      {ALLOCATE("ann", "professional", 0), "license_missing"}},
     .after = {{"t.events()", "+0 refusal ann - LicenseNotAvailable 0 missing"}}},

    {"LicenseNotAvailable: expired after validTo; a running session ends at its next activity",
     "professional => 1, valid_to => t.at(1000)",
     "SELECT t.user('ann'); SELECT t.alloc('ann', 'professional');",
     .steps = {{START_AS("s1", "ann", 1000), OK_AS("professional")},
      {START("ann", 1001), "license_expired LicenseNotAvailable"},
      {BEAT("s1", 1001), "license_expired LicenseNotAvailable professional ended license_expired +1001"},
      {ALLOCATE("ann", "analyzer", 1001), "license_expired"},
      /* what needs no license keeps working: logout, removal */
      {START_AS("s2", "ann", 1000), OK_AS("professional")},
      {LOGOUT("s2", 1002), "ok Ok professional ended logout +1002"},
      {REMOVE("ann", "professional", 1003), "ok professional quarantined until +605800"}},
     .after = {{"t.events('refusal')", "+1001 refusal ann - LicenseNotAvailable 0 expired"},
      {"t.events('end')", "+1001 end ann professional LicenseNotAvailable 0 license_expired, "
                          "+1002 end ann professional Ok 0 logout"}}},

    {"LicenseNotAvailable: revoked by the backend, and only the backend lifts it",
     "professional => 1", "SELECT t.user('ann'); SELECT t.alloc('ann', 'professional');",
     .steps = {{START_AS("s1", "ann", 0), OK_AS("professional")},
      {"engine.sync_record(t.at(100), 'L-1', true, NULL, extract(epoch FROM t.at(100))::bigint, "
       "true, NULL, NULL)", "ok"},
      {START("ann", 200), "license_revoked LicenseNotAvailable"},
      {BEAT("s1", 200), "license_revoked LicenseNotAvailable professional ended license_revoked +200"},
      /* a newer key of the same license does not lift it */
      {"t.license(professional => 1, iat => t.at(250), at => t.at(250))", "ok"},
      {START("ann", 300), "license_revoked LicenseNotAvailable"},
      {"engine.sync_record(t.at(400), 'L-1', true, NULL, extract(epoch FROM t.at(400))::bigint, "
       "false, NULL, NULL)", "ok"},
      {START("ann", 500), OK_AS("professional")}},
     .after = {{"t.events('refusal')", "+200 refusal ann - LicenseNotAvailable 0 revoked, "
                              "+300 refusal ann - LicenseNotAvailable 0 revoked"}}},

    {"LicenseNotAvailable: stale offlineGraceSeconds after the last verification; a sync "
     "brings everything back",
     "professional => 1, iat => t.at(-100), params => '{\"offlineGraceSeconds\": 1000}'",
     "SELECT t.user('ann'); SELECT t.user('bob');"
     "SELECT t.alloc('ann', 'professional', -100);",
     .steps = {{START_AS("s1", "ann", 899), OK_AS("professional")},
      {START("ann", 900), "license_stale LicenseNotAvailable"},
      {BEAT("s1", 900), "license_stale LicenseNotAvailable professional ended license_stale +900"},
      {"engine.allocation_create(t.uid('bob'), 'analyzer', t.at(900))", "license_stale"},
      /* a failed sync does not move lastVerifiedAt */
      {"engine.sync_record(t.at(910), 'L-1', false, 'unreachable', NULL, NULL, NULL, NULL)", "ok"},
      {START("ann", 920), "license_stale LicenseNotAvailable"},
      {"engine.sync_record(t.at(950), 'L-1', true, NULL, extract(epoch FROM t.at(950))::bigint, "
       "false, NULL, NULL)", "ok"},
      {START("ann", 960), OK_AS("professional")},
      {START("ann", 1949), OK_AS("professional")},
      {START("ann", 1950), "license_stale LicenseNotAvailable"}},
     .after = {{"t.allocs()", "ann professional"},
      {"(engine.license_view(t.at(1950))).status", "stale"},
      {"t.rel((engine.license_view(t.at(1950))).disabled_at)", "+1950"}}},

    {"LicenseNotAvailable: a clock set back before lastVerifiedAt is stale",
     "professional => 1, iat => t.at(0)",
     "SELECT t.user('ann'); SELECT t.alloc('ann', 'professional', 0);",
     .steps = {{START("ann", -1), "license_stale LicenseNotAvailable"},
      {START("ann", 0), OK_AS("professional")}}},

    {"NoAvailableAccessTypePendingUserSync: a rule matches but no unit is free",
     "professional => 1, analyzer => 0, capacity => 6",
     "SELECT t.user('ann', '{Sales}'); SELECT t.user('bob', '{Sales}');"
     "SELECT t.alloc('bob', 'professional');"
     "SELECT t.rule('pro', 'professional', '{Sales}');"
     "SELECT t.rule('ana', 'analyzer', '{Sales}');",
     .steps = {{START("ann", 0), REFUSED_PENDING},
      /* with somewhere else to go, the pending unit does not matter */
      {"engine.rule_save(NULL, 'capacity', 'analyzer_time', '{Sales}', NULL, NULL, t.at(10))",
       "ok analyzer_time"},
      {START("ann", 20), OK_AS("analyzer_time")}},
     .after = {{"t.events('refusal')", "+0 refusal ann - NoAvailableAccessTypePendingUserSync 0"}}},

    {"MaxParallelSessionsExceeded: maxParallelSessions (5) at once, per user",
     "professional => 2", "SELECT t.user('ann'); SELECT t.user('bob');"
     "SELECT t.alloc('ann', 'professional'); SELECT t.alloc('bob', 'professional');",
     .steps = {{"(SELECT string_agg(DISTINCT t.show(t.keep('s' || i, engine.session_start(t.uid('ann'), "
       "NULL, NULL, t.at(i)))), ', ') FROM generate_series(1, 5) i)", OK_AS("professional")},
      {START("ann", 10), REFUSED_PARALLEL},
      {START("bob", 10), OK_AS("professional")},
      {"engine.session_end(t.s('s3'), t.at(20))", "ok Ok professional ended logout +20"},
      {START("ann", 21), REFUSED_PARALLEL}, /* the ended one lingers */
      {START("ann", 320), OK_AS("professional")}},
     .after = {{"t.events('refusal')", "+10 refusal ann - MaxParallelSessionsExceeded 5, "
                              "+21 refusal ann - MaxParallelSessionsExceeded 5"},
      {"(SELECT sessions_active FROM users WHERE user_id = 'ann')", "5"}}},

    {"ExcessAssignment: an allocation beyond a shrunk allotment",
     "professional => 2", "SELECT t.user('ann'); SELECT t.user('bob');"
     "SELECT t.alloc('ann', 'professional'); SELECT t.alloc('bob', 'professional');",
     .steps = {{"t.license(professional => 1, iat => t.at(10), at => t.at(10))", "ok"},
      {START("ann", 20), OK_AS("professional")},
      {START("bob", 20), REFUSED_EXCESS}},
     .after = {{"t.events('refusal')", "+20 refusal bob - ExcessAssignment 0"}}},

    /* ---- linger, the idle end, the reaper ---------------------------------- */
    {"linger: a session that ended keeps its slot for sessionLingerSeconds",
     "professional => 1, params => '{\"maxParallelSessions\": 1, \"sessionLingerSeconds\": 300}'",
     "SELECT t.user('ann'); SELECT t.alloc('ann', 'professional');",
     .steps = {{START_AS("s1", "ann", 0), OK_AS("professional")},
      {START("ann", 50), REFUSED_PARALLEL},
      {LOGOUT("s1", 100), "ok Ok professional ended logout +100"},
      {START("ann", 399), REFUSED_PARALLEL},
      {REAP(399), "0"},
      {"(SELECT live FROM sessions WHERE id = t.s('s1'))", "true"},
      {REAP(400), "0"}, /* the reaper frees the slot after the linger */
      {"(SELECT live FROM sessions WHERE id = t.s('s1'))", "false"},
      {START("ann", 400), OK_AS("professional")}},
     .after = {{"t.sessions()", "ann professional ended logout +100, ann professional active"}}},

    {"linger 0: the slot is free at once; logging out twice changes nothing",
     "professional => 1, params => '{\"maxParallelSessions\": 1, \"sessionLingerSeconds\": 0}'",
     "SELECT t.user('ann'); SELECT t.alloc('ann', 'professional');",
     .steps = {{START_AS("s1", "ann", 0), OK_AS("professional")},
      {LOGOUT("s1", 100), "ok Ok professional ended logout +100"},
      {LOGOUT("s1", 150), "ok Ok professional ended logout +100"},
      {START("ann", 100), OK_AS("professional")}}},

    {"idle: the reaper ends a session idle for the site's timeout, at the idle moment",
     "professional => 1", "SELECT t.user('ann'); SELECT t.alloc('ann', 'professional');",
     .steps = {{START_AS("s1", "ann", 0), OK_AS("professional")},
      {BEAT("s1", 100), OK_AS("professional")},
      {REAP(1899), "0"},
      {REAP(1900), "1"},
      {REAP(1950), "0"},
      {BEAT("s1", 1950), "session_ended professional ended idle +1900"}},
     .after = {{"t.sessions()", "ann professional ended idle +1900"},
      {"t.events('end')", "+1900 end ann professional Ok 0 idle"},
      /* the allocation's last use is the session's last activity */
      {"(SELECT t.rel(last_used) FROM allocations)", "+100"}}},

    {"idle: the linger of an idle session starts at the idle moment (reaper)",
     "professional => 1, params => '{\"maxParallelSessions\": 1, \"sessionLingerSeconds\": 300}'",
     "SELECT t.user('ann'); SELECT t.alloc('ann', 'professional');",
     .steps = {{START_AS("s1", "ann", 0), OK_AS("professional")},
      {REAP(2000), "1"},
      {START("ann", 2099), REFUSED_PARALLEL},
      {START("ann", 2100), OK_AS("professional")}},
     .after = {{"t.sessions()", "ann professional ended idle +1800, ann professional active"}}},

    {"idle: a heartbeat after the timeout finds the session ended at the idle moment",
     "professional => 1, params => '{\"maxParallelSessions\": 1, \"sessionLingerSeconds\": 300}'",
     "SELECT t.user('ann'); SELECT t.alloc('ann', 'professional');",
     .steps = {{START_AS("s1", "ann", 0), OK_AS("professional")},
      {BEAT("s1", 1799), OK_AS("professional")},
      {BEAT("s1", 3598), OK_AS("professional")},
      {BEAT("s1", 5400), "session_ended professional ended idle +5398"},
      {START("ann", 5697), REFUSED_PARALLEL},
      {START("ann", 5698), OK_AS("professional")}}},

    {"heartbeat and logout of sessions that are unknown or over",
     "professional => 1", "SELECT t.user('ann'); SELECT t.alloc('ann', 'professional');",
     .steps = {{"engine.session_heartbeat(gen_random_uuid(), t.at(0), " IDLE ")", "session_not_found"},
      {"engine.session_end(gen_random_uuid(), t.at(0))", "session_not_found"},
      {START_AS("s1", "ann", 0), OK_AS("professional")},
      {LOGOUT("s1", 10), "ok Ok professional ended logout +10"},
      {BEAT("s1", 20), "session_ended professional ended logout +10"}}},

    /* ---- the audit trail --------------------------------------------------- */
    {"audit: every grant, refusal and end, with kind, result code and session count",
     "professional => 1, params => '{\"maxParallelSessions\": 2, \"sessionLingerSeconds\": 0}'",
     "SELECT t.user('ann'); SELECT t.user('bob'); SELECT t.alloc('ann', 'professional');",
     .steps = {{START_AS("s1", "ann", 0), OK_AS("professional")},
      {START_AS("s2", "ann", 10), OK_AS("professional")},
      {START("ann", 20), REFUSED_PARALLEL},
      {LOGOUT("s1", 30), "ok Ok professional ended logout +30"},
      {START("bob", 40), REFUSED_NONE},
      {"engine.session_start(NULL, 'CORP', 'carol', t.at(50))", "unknown_user UnknownUser"},
      {START("ann", 60), OK_AS("professional")}},
     .after = {{"t.events()", "+0 grant ann professional Ok 1 existing_allocation, "
                     "+10 grant ann professional Ok 2 existing_allocation, "
                     "+20 refusal ann - MaxParallelSessionsExceeded 2, "
                     "+30 end ann professional Ok 0 logout, "
                     "+40 refusal bob - NoAvailableAccessType 0, "
                     "+50 refusal carol - UnknownUser 0, "
                     "+60 grant ann professional Ok 2 existing_allocation"},
      /* a grant names its session, a refusal none */
      {"(SELECT count(*) FROM session_events e JOIN sessions s ON s.id = e.session_id "
       "WHERE e.kind = 'grant')", "3"},
      {"(SELECT count(*) FROM session_events WHERE kind = 'refusal' AND session_id IS NULL)", "3"}}},

    /* ---- batches: the usual starts and beats of several calls at once ---- */
    {"batch: the usual starts of several users in one statement, the others left",
     "professional => 3, params => '{\"maxParallelSessions\": 1}'",
     "SELECT t.user('ann'); SELECT t.user('bob'); SELECT t.user('cid'); SELECT t.user('dan');"
     "SELECT t.alloc('ann', 'professional'); SELECT t.alloc('bob', 'professional');"
     "SELECT t.alloc('dan', 'professional');",
     .steps = {{START_AS("dan", "dan", 0), OK_AS("professional")},
      /* ann and bob are usual; cid holds nothing; ann's second call in the
       * batch, and dan at his limit, are left to session_start */
      {"(SELECT string_agg((b.reply).user_id || ' ' || b.n, ', ' ORDER BY b.n) FROM "
       "engine.session_starts(ARRAY[t.uid('ann'), t.uid('bob'), t.uid('cid'), t.uid('ann'), "
       "t.uid('dan')], t.at(10)) b)", "ann 1, bob 2"},
      {START("cid", 20), REFUSED_NONE},
      {START("dan", 20), REFUSED_PARALLEL}},
     .after = {{"t.events('grant')", "+0 grant dan professional Ok 1 existing_allocation, "
                                     "+10 grant ann professional Ok 1 existing_allocation, "
                                     "+10 grant bob professional Ok 1 existing_allocation"},
      {"(SELECT string_agg(user_id || ' ' || sessions_active, ', ' ORDER BY user_id) FROM users)",
       "ann 1, bob 1, cid 0, dan 1"}}},

    {"batch: a stale license leaves every start of the batch to session_start",
     "professional => 1, params => '{\"offlineGraceSeconds\": 3700}'",
     "SELECT t.user('ann'); SELECT t.alloc('ann', 'professional');",
     .steps = {{"(SELECT count(*) FROM engine.session_starts(ARRAY[t.uid('ann')], t.at(200)))", "0"},
      {START("ann", 200), "license_stale LicenseNotAvailable"}},
     .after = {{"(SELECT sessions_active FROM users)", "0"}}},

    {"batch: the usual beats of several sessions in one statement, the others left",
     "professional => 2", "SELECT t.user('ann'); SELECT t.user('bob');"
     "SELECT t.alloc('ann', 'professional'); SELECT t.alloc('bob', 'professional');",
     .steps = {{START_AS("a", "ann", 0), OK_AS("professional")},
      {START_AS("b", "bob", 0), OK_AS("professional")},
      {LOGOUT("b", 5), "ok Ok professional ended logout +5"},
      {"(SELECT string_agg((b.reply).user_id || ' ' || b.n, ', ' ORDER BY b.n) FROM "
       "engine.session_beats(ARRAY[t.s('a'), t.s('b'), t.s('a')], t.at(60), " IDLE ") b)",
       "ann 1"},
      {BEAT("b", 60), "session_ended professional ended logout +5"}},
     .after = {{"(SELECT string_agg(user_id || ' ' || extract(epoch FROM last_activity - t.at(0))::int, "
                "', ' ORDER BY user_id) FROM sessions)", "ann 60, bob 0"}}},
};

int main(void)
{
    return TR_RUN(cases);
}

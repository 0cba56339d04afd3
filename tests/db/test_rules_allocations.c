/* db suite: allocations and quarantine (DOMAIN.md "Allocations and
 * quarantine"), called where they live: engine.allocation_create, _delete,
 * _reinstate, user_delete, and session start on allocations beyond a shrunk
 * license (ExcessAssignment).  How a case reads: trules.h. */
#include "trules.h"

#define Q1000 "params => '{\"quarantineSeconds\": 1000}'"
#define PRO(at) "(engine.license_view(t.at(" #at "))).allotments -> 0"

static const struct tr_case cases[] = {
    /* ---- limits ------------------------------------------------------------- */
    {"allocation limits: units + overage of each type",
     "professional => 1, professional_overage => 1, analyzer => 1",
     "SELECT t.user('ann'); SELECT t.user('bob'); SELECT t.user('carol');",
     .steps = {{ALLOCATE("ann", "professional", 0), "ok professional"},
               {ALLOCATE("bob", "professional", 0), "ok professional"},
               {ALLOCATE("carol", "professional", 0), "no_allotment"},
               {ALLOCATE("carol", "analyzer", 0), "ok analyzer"},
               {ALLOCATE("ann", "analyzer", 0), "no_allotment"},
               {ALLOCATE("ann", "professional", 0), "allocation_held professional"},
               {"engine.allocation_create(gen_random_uuid(), 'analyzer', t.at(0))", "unknown_user"}},
     .after = {{"t.allocs()", "ann professional, bob professional, carol analyzer"},
               {PRO(0), "{\"name\" : \"professional\", \"units\" : 1, \"overage\" : 1, \"used\" : 2, "
                        "\"quarantined\" : 0, \"available\" : 0}"}}},

    {"allocation limits: a type the license does not name allows none",
     "analyzer => 5", "SELECT t.user('ann');",
     .steps = {{ALLOCATE("ann", "professional", 0), "no_allotment"},
               {ALLOCATE("ann", "user", 0), "no_allotment"}}},

    {"allocation limits: unbounded overage (-1)",
     "professional => 1, professional_overage => -1", USERS(8, "{}"),
     .steps = {{"(SELECT string_agg(DISTINCT t.show(engine.allocation_create(t.uid('u' || i), "
                "'professional', t.at(0))), ', ') FROM generate_series(1, 8) i)", "ok professional"}},
     .after = {{PRO(0), "{\"name\" : \"professional\", \"units\" : 1, \"overage\" : -1, \"used\" : 8, "
                        "\"quarantined\" : 0, \"available\" : null}"}}},

    {"allocation limits: quarantined allocations count",
     "professional => 1, professional_overage => 1, " Q1000,
     "SELECT t.user('ann'); SELECT t.user('bob'); SELECT t.user('carol');"
     "SELECT t.alloc('ann', 'professional'); SELECT t.alloc('bob', 'professional');",
     .steps = {{START_AS("s1", "bob", 0), OK_AS("professional")},
               /* the session ends; its last activity (its start) is the last use */
               {REMOVE("bob", "professional", 10), "ok professional quarantined until +1000"},
               {ALLOCATE("carol", "professional", 20), "no_allotment"},
               {ALLOCATE("carol", "professional", 999), "no_allotment"},
               {ALLOCATE("carol", "professional", 1000), "ok professional"}},
     .after = {{PRO(1000), "{\"name\" : \"professional\", \"units\" : 1, \"overage\" : 1, \"used\" : 2, "
                           "\"quarantined\" : 0, \"available\" : 0}"}}},

    /* ---- quarantine --------------------------------------------------------- */
    {"quarantine: an allocation used within quarantineSeconds stays taken until its last use "
     "+ quarantineSeconds",
     "professional => 1, " Q1000,
     "SELECT t.user('ann'); SELECT t.user('bob'); SELECT t.alloc('ann', 'professional');",
     .steps = {{START_AS("s1", "ann", 0), OK_AS("professional")},
               {BEAT("s1", 50), OK_AS("professional")},
               {LOGOUT("s1", 100), "ok Ok professional ended logout +100"},
               {REMOVE("ann", "professional", 200), "ok professional quarantined until +1050"},
               {START("ann", 210), REFUSED_NONE},
               {PRO(300), "{\"name\" : \"professional\", \"units\" : 1, \"overage\" : 0, \"used\" : 0, "
                          "\"quarantined\" : 1, \"available\" : 0}"},
               {ALLOCATE("bob", "professional", 1049), "no_allotment"},
               {ALLOCATE("bob", "professional", 1050), "ok professional"},
               {"t.allocs()", "ann professional quarantined until +1050, bob professional"},
               {REAP(1050), "0"}},
     .after = {{"t.allocs()", "bob professional"}}},

    {"quarantine: removing an allocation ends its sessions; their last activity is its last use",
     "professional => 1, " Q1000,
     "SELECT t.user('ann'); SELECT t.alloc('ann', 'professional');",
     .steps = {{START_AS("s1", "ann", 0), OK_AS("professional")},
               {BEAT("s1", 500), OK_AS("professional")},
               {REMOVE("ann", "professional", 600), "ok professional quarantined until +1500"},
               {BEAT("s1", 610), "session_ended professional ended allocation_removed +600"}},
     .after = {{"t.sessions()", "ann professional ended allocation_removed +600"},
               {"t.events('end')", "+600 end ann professional Ok 0 allocation_removed"}}},

    {"quarantine: not used within quarantineSeconds, or never used: released at once",
     "professional => 2, " Q1000,
     "SELECT t.user('ann'); SELECT t.user('bob'); SELECT t.user('carol'); SELECT t.user('dan');"
     "SELECT t.alloc('ann', 'professional'); SELECT t.alloc('bob', 'professional');",
     .steps = {{START_AS("s1", "ann", 0), OK_AS("professional")},
               {BEAT("s1", 50), OK_AS("professional")},
               {LOGOUT("s1", 60), "ok Ok professional ended logout +60"},
               {REMOVE("ann", "professional", 1050), "released"},
               {REMOVE("bob", "professional", 1050), "released"},
               {ALLOCATE("carol", "professional", 1050), "ok professional"},
               {ALLOCATE("dan", "professional", 1050), "ok professional"}},
     .after = {{"t.allocs()", "carol professional, dan professional"}}},

    {"quarantine: reinstated to the same user before it ends",
     "professional => 1, " Q1000,
     "SELECT t.user('ann'); SELECT t.user('bob'); SELECT t.alloc('ann', 'professional');",
     .steps = {{START_AS("s1", "ann", 0), OK_AS("professional")},
               {REMOVE("ann", "professional", 100), "ok professional quarantined until +1000"},
               {REMOVE("ann", "professional", 110), "ok professional quarantined until +1000"},
               {ALLOCATE("ann", "professional", 120), "allocation_quarantined professional quarantined until +1000"},
               {REINSTATE("ann", "professional", 500), "ok professional"},
               {REINSTATE("ann", "professional", 510), "allocation_live professional"},
               {START("ann", 600), OK_AS("professional")},
               {"engine.allocation_reinstate(gen_random_uuid(), t.at(600))", "allocation_not_found"},
               {"engine.allocation_delete(gen_random_uuid(), t.at(600))", "allocation_not_found"}},
     .after = {{"t.allocs()", "ann professional"},
               {"t.events('grant')", "+0 grant ann professional Ok 1 existing_allocation, "
                                     "+600 grant ann professional Ok 1 existing_allocation"}}},

    {"quarantine: once over, the allocation is gone: no reinstatement, no removal",
     "professional => 1, " Q1000,
     "SELECT t.user('ann'); SELECT t.alloc('ann', 'professional');",
     .steps = {{START_AS("s1", "ann", 0), OK_AS("professional")},
               {REMOVE("ann", "professional", 100), "ok professional quarantined until +1000"},
               {REINSTATE("ann", "professional", 1000), "allocation_not_found"},
               {REMOVE("ann", "professional", 1000), "allocation_not_found"},
               {ALLOCATE("ann", "professional", 1000), "ok professional"}},
     .after = {{"t.allocs()", "ann professional"}}}, /* the old row went for the new one */

    {"quarantine: reinstatement needs a license in order",
     "professional => 1, iat => t.at(-100), params => '{\"offlineGraceSeconds\": 1000}'",
     "SELECT t.user('ann'); SELECT t.alloc('ann', 'professional', -100);",
     .steps = {{START_AS("s1", "ann", 0), OK_AS("professional")},
               {REMOVE("ann", "professional", 100), "ok professional quarantined until +604800"},
               {REINSTATE("ann", "professional", 900), "license_stale"},
               /* removals keep working while stale */
               {"engine.user_delete(t.uid('ann'), t.at(900))", "ok"}},
     .after = {{"t.allocs()", "ann professional quarantined until +604800 (user deleted)"}}},

    {"quarantine: the user's dynamic rule takes back their own quarantined allocation",
     "professional => 1, " Q1000,
     "SELECT t.user('ann', '{Sales}'); SELECT t.user('bob', '{Sales}');"
     "SELECT t.rule('pro', 'professional', '{Sales}');",
     .steps = {{START_AS("s1", "ann", 0), OK_AS("professional")},
               {"t.allocs()", "ann professional"},
               {LOGOUT("s1", 100), "ok Ok professional ended logout +100"},
               {REMOVE("ann", "professional", 200), "ok professional quarantined until +1000"},
               {START("bob", 300), REFUSED_PENDING},
               {START("ann", 400), OK_AS("professional")}},
     .after = {{"t.allocs()", "ann professional"},
               {"t.events('grant')", "+0 grant ann professional Ok 1 dynamic_assignment, "
                                     "+400 grant ann professional Ok 1 dynamic_assignment"},
               {"(SELECT count(*) FROM allocations WHERE user_id = 'ann')", "1"}}},

    {"quarantine: a user access pass in quarantine keeps its token",
     "tokens => 1, " Q1000, "SELECT t.user('ann'); SELECT t.user('bob');"
     "SELECT t.alloc('ann', 'user');",
     .steps = {{START_AS("s1", "ann", 0), OK_AS("user")},
               {REMOVE("ann", "user", 100), "ok user quarantined until +1000"},
               {ALLOCATE("bob", "user", 200), "no_allotment"},
               {"engine.rule_save(NULL, 'logins', 'login', '{Sales}', NULL, 1, t.at(200))", "no_tokens"},
               {"(engine.license_view(t.at(200))).tokens",
                "{\"total\" : 1, \"allocated\" : 0, \"used\" : 0, \"quarantined\" : 1, \"available\" : 0}"},
               {ALLOCATE("bob", "user", 1000), "ok user"}}},

    /* ---- deleting a user ---------------------------------------------------- */
    {"deleting a user: their allocations follow the quarantine rule and keep the directory account",
     "professional => 1, analyzer => 1, " Q1000,
     "SELECT t.user('ann'); SELECT t.user('bob');"
     "SELECT t.alloc('ann', 'professional'); SELECT t.alloc('ann', 'analyzer');",
     .steps = {{START_AS("s1", "ann", 0), OK_AS("professional")},
               {START_AS("s2", "ann", 10), OK_AS("professional")},
               {BEAT("s1", 150), OK_AS("professional")},
               {DELETE_USER("ann", 200), "ok"},
               {"t.allocs()", "ann professional quarantined until +1150 (user deleted)"},
               {REINSTATE("ann", "professional", 300),
                "allocation_user_deleted professional quarantined until +1150 user deleted"},
               {ALLOCATE("bob", "professional", 300), "no_allotment"},
               {ALLOCATE("bob", "analyzer", 300), "ok analyzer"},
               /* the same directory account again is a new user */
               {"t.user('ann') IS NOT NULL", "true"},
               {START("ann", 400), REFUSED_NONE},
               {"engine.user_delete(gen_random_uuid(), t.at(400))", "user_not_found"}},
     .after = {{"t.sessions()", "ann professional ended user_deleted +200, "
                                "ann professional ended user_deleted +200"},
               {"(SELECT user_directory || '/' || user_id FROM allocations "
                "WHERE user_ref IS NULL)", "CORP/ann"},
               {"(SELECT count(*) FROM users WHERE user_id = 'ann')", "1"}}},

    /* ---- excess after the license shrinks ----------------------------------- */
    {"excess: after the license shrinks, the oldest allocations keep working",
     "professional => 3",
     "SELECT t.user('ann'); SELECT t.user('bob'); SELECT t.user('carol');"
     "SELECT t.alloc('ann', 'professional'); SELECT t.alloc('bob', 'professional');"
     "SELECT t.alloc('carol', 'professional');",
     .steps = {{"t.license(professional => 1, professional_overage => 1, iat => t.at(10), at => t.at(10))",
                "ok"},
               {START("carol", 20), REFUSED_EXCESS},
               {START("bob", 20), OK_AS("professional")},
               {START("ann", 20), OK_AS("professional")},
               {"t.license(professional => 1, iat => t.at(30), at => t.at(30))", "ok"},
               {START("bob", 40), REFUSED_EXCESS},
               {START("ann", 40), OK_AS("professional")},
               /* carol's (never used) goes: bob is still beyond the one unit */
               {REMOVE("carol", "professional", 50), "released"},
               {START("bob", 60), REFUSED_EXCESS},
               /* ann's, used, goes to quarantine: still taken, still older than bob's */
               {REMOVE("ann", "professional", 70), "ok professional quarantined until +604840"},
               {START("bob", 80), REFUSED_EXCESS},
               {REINSTATE("ann", "professional", 90), "ok professional"},
               {"t.license(professional => 2, iat => t.at(100), at => t.at(100))", "ok"},
               {START("bob", 110), OK_AS("professional")}},
     /* bob's session of +20 still runs: his refusals count it */
     .after = {{"t.events('refusal')", "+20 refusal carol - ExcessAssignment 0, "
                                       "+40 refusal bob - ExcessAssignment 1, "
                                       "+60 refusal bob - ExcessAssignment 1, "
                                       "+80 refusal bob - ExcessAssignment 1"}}},

    {"excess: a user whose allocation is in excess gets no second unit of the type, but may "
     "get another pass",
     "professional => 2, analyzer => 1, tokens => 1",
     "SELECT t.user('ann', '{Sales}'); SELECT t.user('bob', '{Sales}');"
     "SELECT t.alloc('ann', 'professional'); SELECT t.alloc('bob', 'professional');"
     "SELECT t.rule('pro', 'professional', '{Sales}');",
     .steps = {{"t.license(professional => 1, analyzer => 1, tokens => 1, iat => t.at(10), "
                "at => t.at(10))", "ok"},
               {START("bob", 20), REFUSED_EXCESS},
               {"engine.rule_save(NULL, 'logins', 'login', '{Sales}', NULL, 1, t.at(30))",
                "ok login tokens 1"},
               {START("bob", 40), OK_AS("login")},
               {"engine.rule_save(NULL, 'ana', 'analyzer', '{Sales}', NULL, NULL, t.at(50))",
                "ok analyzer"},
               {START("bob", 60), OK_AS("analyzer")}},
     .after = {{"t.allocs()", "ann professional, bob analyzer, bob professional"}}},

    {"excess: a dynamic rule does not take back a quarantined allocation beyond a shrunk license",
     "professional => 2, " Q1000,
     "SELECT t.user('ann', '{Sales}'); SELECT t.user('bob');"
     "SELECT t.alloc('bob', 'professional'); SELECT t.rule('pro', 'professional', '{Sales}');",
     .steps = {{START_AS("s1", "ann", 0), OK_AS("professional")}, /* assigned after bob's */
               {REMOVE("ann", "professional", 100), "ok professional quarantined until +1000"},
               {"t.license(professional => 1, iat => t.at(200), at => t.at(200))", "ok"},
               {START("bob", 300), OK_AS("professional")},
               {START("ann", 300), REFUSED_PENDING},
               /* reinstated, it is live again, and in excess */
               {REINSTATE("ann", "professional", 400), "ok professional"},
               {START("ann", 500), REFUSED_EXCESS}},
     .after = {{"(SELECT count(*) FROM sessions WHERE access_type = 'professional' "
                "AND ended_at IS NULL)", "1"}}},

    {"excess: user access passes beyond shrunk tokens, the oldest keep working",
     "tokens => 2",
     "SELECT t.user('ann'); SELECT t.user('bob');"
     "SELECT t.alloc('ann', 'user'); SELECT t.alloc('bob', 'user');",
     .steps = {{"t.license(tokens => 1, iat => t.at(10), at => t.at(10))", "ok"},
               {START("bob", 20), REFUSED_EXCESS},
               {START("ann", 20), OK_AS("user")}}},

    {"excess: login groups holding more tokens than a shrunk license hand out no pass",
     "tokens => 2, professional => 1",
     "SELECT t.user('ann', '{Sales}'); SELECT t.rule('logins', 'login', '{Sales}', 2);",
     .steps = {{"t.license(tokens => 1, professional => 1, iat => t.at(10), at => t.at(10))", "ok"},
               {START("ann", 20), REFUSED_NONE},
               {"engine.rule_save(t.r('logins'), NULL, NULL, NULL, NULL, 1, t.at(30))",
                "ok login tokens 1"},
               {START("ann", 40), OK_AS("login")}}},
};

int main(void)
{
    return TR_RUN(cases);
}

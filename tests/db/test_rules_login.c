/* db suite: tokens and login access passes (DOMAIN.md "Login access
 * passes", "Access types and what each costs"), called where they live.
 * One token buys one user access pass or ten login passes; a login group
 * takes its tokens when it is saved; a pass opens a window of
 * loginPassSeconds shared by the user's sessions and returns to its group
 * passReturnSeconds after its first use; the conversion date ends the token
 * passes.  How a case reads: trules.h. */
#include "trules.h"

#define LOGIN_GROUP(tokens) "SELECT t.rule('logins', 'login', '{Sales}', " #tokens ");"
#define PASSES_OUT(at) "engine.passes_out(t.r('logins'), t.at(" #at "))"
#define TOKENS(at) "(engine.license_view(t.at(" #at "))).tokens"
#define RULE_SAVE(id, name, type, groups, tokens) \
    "engine.rule_save(" id ", " name ", " type ", " groups ", NULL, " tokens ", t.at(0))"

static const struct tr_case cases[] = {
    /* ---- what a token buys ------------------------------------------------- */
    {"one token buys ten login passes",
     "tokens => 1", USERS(11, "{Sales}") LOGIN_GROUP(1),
     .steps = {{START_EACH(1, 10, 0), OK_AS("login")},
               {START("u11", 0), REFUSED_NONE},
               {PASSES_OUT(0), "10"}},
     .after = {{TOKENS(0), "{\"total\" : 1, \"allocated\" : 1, \"used\" : 0, \"quarantined\" : 0, "
                           "\"available\" : 0}"},
               {"t.events('refusal')", "+0 refusal u11 - NoAvailableAccessType 0"}}},

    {"one user access pass costs one token",
     "tokens => 2", "SELECT t.user('ann'); SELECT t.user('bob'); SELECT t.user('carol');",
     .steps = {{ALLOCATE("ann", "user", 0), "ok user"},
               {ALLOCATE("bob", "user", 0), "ok user"},
               {ALLOCATE("carol", "user", 0), "no_allotment"},
               {ALLOCATE("ann", "user", 0), "allocation_held user"}},
     .after = {{TOKENS(0), "{\"total\" : 2, \"allocated\" : 0, \"used\" : 2, \"quarantined\" : 0, "
                           "\"available\" : 0}"}}},

    {"login groups take their tokens when saved; user passes share the same tokens",
     "tokens => 3", "SELECT t.user('ann');",
     .steps = {{RULE_SAVE("NULL", "'g1'", "'login'", "'{Sales}'", "2"), "ok login tokens 2"},
               {RULE_SAVE("NULL", "'g2'", "'login'", "'{Ops}'", "2"), "no_tokens"},
               {RULE_SAVE("NULL", "'g2'", "'login'", "'{Ops}'", "1"), "ok login tokens 1"},
               {ALLOCATE("ann", "user", 0), "no_allotment"},
               /* raising takes only the difference; lowering gives it back */
               {RULE_SAVE("t.r('g1')", "NULL", "NULL", "NULL", "3"), "no_tokens"},
               {RULE_SAVE("t.r('g1')", "NULL", "NULL", "NULL", "1"), "ok login tokens 1"},
               {ALLOCATE("ann", "user", 0), "ok user"},
               {RULE_SAVE("t.r('g2')", "'g2 renamed'", "NULL", "NULL", "NULL"), "ok login tokens 1"},
               {RULE_SAVE("NULL", "'pro'", "'professional'", "'{Sales}'", "1"), "tokens_login_only"},
               {RULE_SAVE("NULL", "'g1'", "'login'", "'{Ops}'", "0"), "rule_name_taken"},
               {RULE_SAVE("gen_random_uuid()", "'x'", "NULL", "NULL", "NULL"), "rule_not_found"}},
     .after = {{TOKENS(0), "{\"total\" : 3, \"allocated\" : 2, \"used\" : 1, \"quarantined\" : 0, "
                           "\"available\" : 0}"},
               {"(SELECT string_agg(name || ' ' || tokens, ', ' ORDER BY name) FROM rules)",
                "g1 1, g2 renamed 1"}}},

    {"no license: a login group may be saved without tokens, not with any",
     NULL, NULL,
     .steps = {{RULE_SAVE("NULL", "'g1'", "'login'", "'{Sales}'", "1"), "no_tokens"},
               {RULE_SAVE("NULL", "'g1'", "'login'", "'{Sales}'", "NULL"), "ok login tokens 0"}}},

    {"removing a login group frees one token per ten passes unused or returned",
     "tokens => 2, params => '{\"passReturnSeconds\": 1000}'",
     USERS(3, "{Sales}") "SELECT t.user('ann'); SELECT t.user('bob');" LOGIN_GROUP(2),
     .steps = {{START_EACH(1, 3, 0), OK_AS("login")},
               {"engine.login_tokens_held(t.at(0))", "2"},
               /* DELETE /allocations/rules/{id} (src/db/allocations.c) */
               {"DELETE FROM rules WHERE id = t.r('logins') RETURNING id", NULL},
               {"engine.login_tokens_held(t.at(10))", "1"}, /* 3 passes still out */
               {ALLOCATE("ann", "user", 10), "ok user"},
               {ALLOCATE("bob", "user", 10), "no_allotment"},
               {"engine.login_tokens_held(t.at(1000))", "0"},
               {ALLOCATE("bob", "user", 1000), "ok user"}},
     .after = {{TOKENS(1000), "{\"total\" : 2, \"allocated\" : 0, \"used\" : 2, \"quarantined\" : 0, "
                              "\"available\" : 0}"}}},

    /* ---- the window of a pass ---------------------------------------------- */
    {"a pass opens a window of loginPassSeconds from its first use, shared by the user's sessions",
     "tokens => 1, params => '{\"loginPassSeconds\": 600}'",
     "SELECT t.user('ann', '{Sales}');" LOGIN_GROUP(1),
     .steps = {{START_AS("s1", "ann", 0), OK_AS("login")},
               {START_AS("s2", "ann", 100), OK_AS("login")},
               {START_AS("s3", "ann", 599), OK_AS("login")},
               {BEAT("s1", 599), OK_AS("login")}},
     .after = {{"t.passes()", "ann +0..+600 returns +2419200"},
               {"t.events('grant')", "+0 grant ann login Ok 1 new_pass, +100 grant ann login Ok 2 open_window, "
                                     "+599 grant ann login Ok 3 open_window"}}},

    {"up to maxParallelSessions sessions share the window",
     "tokens => 1, params => '{\"maxParallelSessions\": 2}'",
     "SELECT t.user('ann', '{Sales}');" LOGIN_GROUP(1),
     .steps = {{START("ann", 0), OK_AS("login")},
               {START("ann", 10), OK_AS("login")},
               {START("ann", 20), REFUSED_PARALLEL}},
     .after = {{PASSES_OUT(20), "1"}}},

    {"activity after the window closed uses another pass, which the user's other sessions share",
     "tokens => 1, params => '{\"loginPassSeconds\": 600}'",
     "SELECT t.user('ann', '{Sales}');" LOGIN_GROUP(1),
     .steps = {{START_AS("s1", "ann", 0), OK_AS("login")},
               {START_AS("s2", "ann", 0), OK_AS("login")},
               {BEAT("s1", 599), OK_AS("login")},
               {PASSES_OUT(599), "1"},
               {BEAT("s1", 600), OK_AS("login")},
               {BEAT("s2", 650), OK_AS("login")}},
     .after = {{"t.passes()", "ann +0..+600 returns +2419200, ann +600..+1200 returns +2419800"}}},

    {"a new session within the window uses none; after it closed, another pass",
     "tokens => 1, params => '{\"loginPassSeconds\": 600, \"sessionLingerSeconds\": 0}'",
     "SELECT t.user('ann', '{Sales}');" LOGIN_GROUP(1),
     .steps = {{START_AS("s1", "ann", 0), OK_AS("login")},
               {LOGOUT("s1", 100), "ok Ok login ended logout +100"},
               {START_AS("s2", "ann", 500), OK_AS("login")},
               {LOGOUT("s2", 550), "ok Ok login ended logout +550"},
               {START("ann", 700), OK_AS("login")}},
     .after = {{"t.passes()", "ann +0..+600 returns +2419200, ann +700..+1300 returns +2419900"},
               {"t.events('grant')", "+0 grant ann login Ok 1 new_pass, +500 grant ann login Ok 1 open_window, "
                                     "+700 grant ann login Ok 1 new_pass"}}},

    {"no pass left: a login session ends at its first activity after its window",
     "tokens => 1, params => '{\"loginPassSeconds\": 600}'",
     USERS(10, "{Sales}") LOGIN_GROUP(1),
     .steps = {{START_EACH(1, 10, 0), OK_AS("login")},
               {BEAT("u1", 599), OK_AS("login")},
               {BEAT("u1", 600), REFUSED_NONE " login ended no_access_pass +600"}},
     .after = {{"t.events('end')", "+600 end u1 login NoAvailableAccessType 0 no_access_pass"}}},

    {"a used pass returns to its group passReturnSeconds after its first use",
     "tokens => 1, params => '{\"loginPassSeconds\": 60, \"passReturnSeconds\": 1000}'",
     USERS(11, "{Sales}") LOGIN_GROUP(1),
     .steps = {{START_EACH(1, 10, 0), OK_AS("login")},
               {START("u11", 999), REFUSED_NONE},
               {PASSES_OUT(999), "10"},
               {PASSES_OUT(1000), "0"},
               {START("u11", 1000), OK_AS("login")}},
     .after = {{PASSES_OUT(1000), "1"},
               {TOKENS(1000), "{\"total\" : 1, \"allocated\" : 1, \"used\" : 0, \"quarantined\" : 0, "
                              "\"available\" : 0}"}}},

    {"a group's passes are its own: a user in two groups draws from the first with one left",
     "tokens => 2, params => '{\"loginPassSeconds\": 60}'",
     USERS(11, "{Sales}") "SELECT t.user('ann', '{Sales,Ops}'); SELECT t.user('bob', '{Ops}');"
     LOGIN_GROUP(1) "SELECT t.rule('ops', 'login', '{Ops}', 1);",
     .steps = {{START_EACH(1, 10, 0), OK_AS("login")},
               {START("u11", 0), REFUSED_NONE},
               {START("ann", 0), OK_AS("login")},
               {START("bob", 0), OK_AS("login")}},
     .after = {{PASSES_OUT(0), "10"},
               {"engine.passes_out(t.r('ops'), t.at(0))", "2"}}},

    /* ---- the conversion date ----------------------------------------------- */
    {"after the conversion date token passes work no more; the reaper removes them",
     "tokens => 2, conversion => t.at(1000)",
     "SELECT t.user('ann'); SELECT t.user('bob', '{Sales}'); SELECT t.user('carol', '{Sales}');"
     "SELECT t.alloc('ann', 'user');" LOGIN_GROUP(1),
     .steps = {{START_AS("s1", "ann", 0), OK_AS("user")},
               {START_AS("s2", "bob", 0), OK_AS("login")},
               {BEAT("s1", 999), OK_AS("user")},
               {BEAT("s2", 999), OK_AS("login")},
               {BEAT("s1", 1000), REFUSED_NONE " user ended no_access_pass +1000"},
               {BEAT("s2", 1000), REFUSED_NONE " login ended no_access_pass +1000"},
               {START("carol", 1000), REFUSED_NONE},
               {REAP(1000), "0"},
               {START("ann", 1001), REFUSED_NONE},
               {ALLOCATE("carol", "user", 1001), "no_allotment"},
               {"engine.rule_save(t.r('logins'), NULL, NULL, NULL, NULL, 1, t.at(1001))", "no_tokens"}},
     .after = {{"t.allocs() || t.passes()", ""},
               {"(SELECT tokens FROM rules WHERE name = 'logins')", "0"}}},

    {"the reaper ends the sessions on token passes at the conversion date",
     "tokens => 2, conversion => t.at(1000)",
     "SELECT t.user('ann'); SELECT t.user('bob', '{Sales}'); SELECT t.alloc('ann', 'user');"
     LOGIN_GROUP(1),
     .steps = {{START_AS("s1", "ann", 0), OK_AS("user")},
               {START_AS("s2", "bob", 0), OK_AS("login")},
               {REAP(999), "0"},
               {"t.allocs()", "ann user"},
               /* before the clean-up the pass is there but beyond what the license allows */
               {START("ann", 1000), REFUSED_EXCESS},
               {REAP(1000), "0"},
               {START("ann", 1000), REFUSED_NONE}},
     .after = {{"t.sessions()", "ann user ended license_converted +1000, "
                                "bob login ended license_converted +1000"},
               {"t.allocs() || t.passes()", ""}}},

    {"a conversion date the backend postponed: sessions on token passes run past the old one",
     "tokens => 2, conversion => t.at(1000)",
     "SELECT t.user('ann'); SELECT t.user('bob', '{Sales}'); SELECT t.alloc('ann', 'user');"
     LOGIN_GROUP(1),
     .steps = {{START_AS("s1", "ann", 0), OK_AS("user")},
               {START_AS("s2", "bob", 0), OK_AS("login")},
               {"t.license(tokens => 2, conversion => t.at(5000), iat => t.at(100), at => t.at(100))",
                "ok"},
               {BEAT("s1", 1000), OK_AS("user")},
               {BEAT("s2", 1000), OK_AS("login")},
               {BEAT("s1", 2500), OK_AS("user")},
               {BEAT("s1", 4000), OK_AS("user")},
               {BEAT("s1", 4999), OK_AS("user")},
               {BEAT("s1", 5000), REFUSED_NONE " user ended no_access_pass +5000"}}},

    {"a license applied after its conversion date removes the token passes at once",
     "tokens => 2", "SELECT t.user('ann'); SELECT t.alloc('ann', 'user');",
     .steps = {{START_AS("s1", "ann", 0), OK_AS("user")},
               {"t.license(tokens => 2, conversion => t.at(100), iat => t.at(200), at => t.at(200))",
                "ok"},
               {"t.allocs()", ""},
               {START("ann", 300), REFUSED_NONE}},
     .after = {{"t.sessions()", "ann user ended license_converted +200"}}},
};

int main(void)
{
    return TR_RUN(cases);
}

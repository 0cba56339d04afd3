/* db suite: SCIM provisioning and the release of idle allocations (issue 10),
 * called where they live: engine.scim_user_save (create, replace, soft
 * delete with active = false), engine.scim_user_delete, engine.scim_group_save
 * and _delete (membership feeding the rules), engine.idle_release_preview
 * (the dry run) and engine.idle_release (the reaper).  How a case reads:
 * trules.h. */
#include "trules.h"

#define Q1000 "params => '{\"quarantineSeconds\": 1000}'"
#define DAY "86400"
/* engine.scim_user_save of user NAME (by id) with the given active and
 * externalId, version not checked (PUT). */
#define SCIM_PUT(name, newname, ext, active, at)                                               \
    "engine.scim_user_save(t.uid('" name "'), 'CORP', '" newname "', " ext ", " active         \
    ", NULL, '{}', NULL, t.at(" #at "))"
#define DEACTIVATE(name, at) SCIM_PUT(name, name, "NULL", "false", at)
#define ACTIVATE(name, at) SCIM_PUT(name, name, "NULL", "true", at)
#define GROUP_NEW(name, members) \
    "engine.scim_group_save(NULL, 'CORP', '" name "', false, NULL, " members ", NULL, NULL, t.at(0))"
#define GROUP_ADD(name, add, at) \
    "engine.scim_group_save(t.g('" name "'), 'CORP', NULL, false, NULL, NULL, " add ", NULL, t.at(" #at "))"
#define GROUP_REMOVE(name, rm, at) \
    "engine.scim_group_save(t.g('" name "'), 'CORP', NULL, false, NULL, NULL, NULL, " rm ", t.at(" #at "))"
#define IDLE_RELEASE(type, at) "engine.idle_release('" type "', t.at(" at "), 100)"

static const struct tr_case cases[] = {
    /* ---- users ---------------------------------------------------------------- */
    {"scim users: userName and externalId are unique within the directory",
     "professional => 1", "SELECT t.user('ann', '{}', 'OTHER');",
     .steps = {{"t.scim_user('ann', 'ext-1')", "ok ann"},
               {"t.scim_user('ann', 'ext-2')", "user_name_taken"},
               {"t.scim_user('bob', 'ext-1')", "external_id_taken"},
               {"t.scim_user('bob', 'ext-2')", "ok bob"},
               /* a rename onto a taken name, and onto a free one */
               {"engine.scim_user_save((SELECT id FROM users WHERE user_id = 'bob'), 'CORP', 'ann', "
                "'ext-2', true, NULL, '{}', NULL, t.at(0))", "user_name_taken"},
               {"engine.scim_user_save((SELECT id FROM users WHERE user_id = 'bob'), 'CORP', 'bobby', "
                "'ext-2', true, NULL, '{}', NULL, t.at(0))", "ok bobby"},
               /* a user of another directory is no SCIM user */
               {"engine.scim_user_save((SELECT id FROM users WHERE user_directory = 'OTHER'), 'CORP', "
                "'x', NULL, true, NULL, '{}', NULL, t.at(0))", "user_not_found"},
               {"engine.scim_user_delete((SELECT id FROM users WHERE user_directory = 'OTHER'), "
                "'CORP', t.at(0))", "user_not_found"}},
     .after = {{"(SELECT string_agg(user_directory || '/' || user_id || '/' || coalesce(external_id, '-'), "
                "', ' ORDER BY user_directory, user_id) FROM users)",
                "CORP/ann/ext-1, CORP/bobby/ext-2, OTHER/ann/-"}}},

    {"scim users: a write over a version read before another change is refused",
     NULL, "SELECT t.scim_user('ann');",
     .steps = {{"engine.scim_user_save(t.uid('ann'), 'CORP', 'ann', NULL, true, 'Ann', '{}', "
                "'1', t.at(0))", "user_changed"},
               {"engine.scim_user_save(t.uid('ann'), 'CORP', 'ann', NULL, true, 'Ann', '{}', "
                "(SELECT engine.scim_version(modified_at) FROM users WHERE user_id = 'ann'), t.at(0))",
                "ok ann"}},
     .after = {{"(SELECT name FROM users)", "Ann"}}},

    {"scim users: the name comes from displayName, else name.formatted, else given and family name",
     NULL, "SELECT t.scim_user('ann'); SELECT t.scim_user('bob');",
     .steps = {{"engine.scim_user_save(t.uid('ann'), 'CORP', 'ann', NULL, true, NULL, "
                "'{\"name\": {\"givenName\": \"Ann\", \"familyName\": \"Lee\"}}', NULL, t.at(0))", "ok ann"},
               {"engine.scim_user_save(t.uid('bob'), 'CORP', 'bob', NULL, true, NULL, "
                "'{\"name\": {\"formatted\": \"Bob B\", \"givenName\": \"x\"}}', NULL, t.at(0))", "ok bob"}},
     .after = {{"(SELECT string_agg(name, ', ' ORDER BY user_id) FROM users)", "Ann Lee, Bob B"},
               {"(SELECT engine.scim_user_json(u) #>> '{name,givenName}' FROM users u WHERE user_id = 'ann')",
                "Ann"}}},

    /* ---- soft delete ------------------------------------------------------------ */
    {"scim soft delete: active false ends the sessions; an allocation used recently goes to "
     "quarantine, and no session starts until active again",
     "professional => 1, " Q1000,
     "SELECT t.scim_user('ann'); SELECT t.user('bob'); SELECT t.alloc('ann', 'professional');",
     .steps = {{START_AS("s1", "ann", 0), OK_AS("professional")},
               {BEAT("s1", 50), OK_AS("professional")},
               {DEACTIVATE("ann", 100), "ok ann inactive"},
               {BEAT("s1", 110), "session_ended professional ended user_deactivated +100"},
               {START("ann", 120), "user_inactive NoAvailableAccessType"},
               {ALLOCATE("bob", "professional", 120), "no_allotment"},
               {"t.allocs()", "ann professional quarantined until +1050"},
               /* deactivating again changes nothing more */
               {DEACTIVATE("ann", 130), "ok ann inactive"},
               {REINSTATE("ann", "professional", 140), "ok professional"},
               {START("ann", 150), "user_inactive NoAvailableAccessType"},
               {ACTIVATE("ann", 200), "ok ann"},
               {START("ann", 210), OK_AS("professional")}},
     .after = {{"t.events('end')", "+100 end ann professional Ok 0 user_deactivated"},
               {"t.events('refusal')", "+120 refusal ann - NoAvailableAccessType 0 user_inactive, "
                                       "+150 refusal ann - NoAvailableAccessType 0 user_inactive"},
               {"t.groups()", "ann {}, bob {}"}}},

    {"scim soft delete: an allocation not used within quarantineSeconds is released at once",
     "professional => 1, " Q1000,
     "SELECT t.scim_user('ann'); SELECT t.user('bob'); SELECT t.alloc('ann', 'professional');",
     .steps = {{DEACTIVATE("ann", 5000), "ok ann inactive"},
               {ALLOCATE("bob", "professional", 5000), "ok professional"}},
     .after = {{"t.allocs()", "bob professional"}}},

    {"scim delete: sessions end, allocations follow the quarantine rule, the user is gone",
     "professional => 1, " Q1000,
     "SELECT t.scim_user('ann'); SELECT t.alloc('ann', 'professional');",
     .steps = {{START_AS("s1", "ann", 0), OK_AS("professional")},
               {"engine.scim_user_delete(t.uid('ann'), 'CORP', t.at(100))", "ok"},
               {"engine.scim_user_delete(gen_random_uuid(), 'CORP', t.at(100))", "user_not_found"}},
     .after = {{"t.allocs()", "ann professional quarantined until +1000 (user deleted)"},
               {"t.sessions()", "ann professional ended user_deleted +100"}}},

    /* ---- groups -------------------------------------------------------------------- */
    {"scim groups: membership feeds a rule at the next session start",
     "professional => 1",
     "SELECT t.scim_user('ann'); SELECT t.scim_user('bob'); SELECT t.rule('pro', 'professional', '{Sales}');",
     .steps = {{START("ann", 0), REFUSED_NONE},
               {GROUP_NEW("Sales", "NULL"), "ok Sales members -"},
               {GROUP_ADD("Sales", "t.uids('ann')", 10), "ok Sales members ann"},
               {START("ann", 20), OK_AS("professional")},
               {GROUP_ADD("Sales", "t.uids('bob')", 30), "ok Sales members ann,bob"},
               {START("bob", 40), REFUSED_PENDING},
               {GROUP_REMOVE("Sales", "t.uids('ann', 'bob')", 50), "ok Sales members -"}},
     .after = {{"t.groups()", "ann {}, bob {}"},
               {"t.allocs()", "ann professional"}}},

    {"scim groups: names unique; a member must be a user of the directory; nothing half done",
     NULL, "SELECT t.scim_user('ann'); SELECT t.user('zed', '{}', 'OTHER');",
     .steps = {{GROUP_NEW("Sales", "t.uids('ann')"), "ok Sales members ann"},
               {GROUP_NEW("Sales", "NULL"), "group_name_taken"},
               {GROUP_NEW("Ops", "t.uids('zed')"), "member_not_found"},
               {GROUP_NEW("Ops", "ARRAY[gen_random_uuid()]"), "member_not_found"},
               {"engine.scim_group_save(t.g('Sales'), 'CORP', 'Ops', false, NULL, NULL, t.uids('zed'), "
                "NULL, t.at(0))", "member_not_found"},
               {"engine.scim_group_save(gen_random_uuid(), 'CORP', NULL, false, NULL, NULL, NULL, "
                "NULL, t.at(0))", "group_not_found"}},
     .after = {{"t.groups()", "ann {Sales}, zed {}"},
               {"(SELECT string_agg(display_name, ',') FROM scim_groups)", "Sales"}}},

    {"scim groups: a rename renames the membership; a replace sets the members; a delete "
     "takes the name away",
     "professional => 2",
     "SELECT t.scim_user('ann'); SELECT t.scim_user('bob'); SELECT t.scim_user('cy');"
     "SELECT t.user('zed', '{Sales}', 'OTHER'); SELECT t.rule('pro', 'professional', '{Sales}');",
     .steps = {{GROUP_NEW("Sales", "t.uids('ann', 'bob')"), "ok Sales members ann,bob"},
               {"engine.scim_group_save(t.g('Sales'), 'CORP', 'Field', false, NULL, NULL, NULL, "
                "NULL, t.at(0))", "ok Field members ann,bob"},
               {START("ann", 10), REFUSED_NONE},
               {"engine.scim_group_save(t.g('Field'), 'CORP', NULL, false, NULL, t.uids('bob', 'cy'), "
                "NULL, NULL, t.at(0))", "ok Field members bob,cy"},
               {"t.groups()", "ann {}, bob {Field}, cy {Field}, zed {Sales}"},
               {"engine.scim_group_delete(t.g('Field'), 'CORP', t.at(0))", "ok"},
               {"engine.scim_group_delete(gen_random_uuid(), 'CORP', t.at(0))", "group_not_found"}},
     /* the other directory's user keeps the group of that name */
     .after = {{"t.groups()", "ann {}, bob {}, cy {}, zed {Sales}"}}},

    /* ---- idle release ------------------------------------------------------------- */
    {"idle release: the dry run lists what the policy releases; the reaper releases it only "
     "when enabled, each release in the audit trail with its reason",
     "professional => 10, analyzer => 5, " Q1000,
     "SELECT t.user('ann'); SELECT t.user('bob'); SELECT t.user('cy', '{Board}');"
     "SELECT t.user('dan', '{}', 'SVC'); SELECT t.user('eve'); SELECT t.user('fay');"
     "SELECT t.user('gus');"
     "SELECT t.alloc('ann', 'professional'); SELECT t.alloc('bob', 'professional', 100);"
     "SELECT t.alloc('cy', 'professional'); SELECT t.alloc('dan', 'professional');"
     "SELECT t.alloc('eve', 'professional'); SELECT t.alloc('fay', 'professional');"
     "SELECT t.alloc('gus', 'analyzer');"
     /* allocations are made at the database's clock: set when, for the never used ones */
     "UPDATE allocations SET created_at = t.at(CASE user_id WHEN 'bob' THEN 100 ELSE 0 END);"
     "SELECT t.policy('professional', false, 10, '{Board}', '{SVC}', "
     "'[{\"userDirectory\": \"CORP\", \"userId\": \"eve\"}]');",
     .steps = {{START_AS("s1", "ann", 0), OK_AS("professional")},
               {LOGOUT("s1", 60), "ok Ok professional ended logout +60"},
               {START_AS("s2", "fay", 432000), OK_AS("professional")},
               {LOGOUT("s2", 432060), "ok Ok professional ended logout +432060"},
               {"t.preview('professional', 10 * " DAY " - 1)", ""},
               {"t.preview('professional', 10 * " DAY ")", "ann +0 (1)"},
               {"t.preview('professional', 10 * " DAY " + 100)", "ann +0, bob +100 (2)"},
               /* the analyzer policy: disabled, 30 days (the defaults); a dry run all the same */
               {"t.preview('analyzer', 30 * " DAY " - 1)", ""},
               {"t.preview('analyzer', 30 * " DAY ")", "gus +0 (1)"},
               {IDLE_RELEASE("professional", "20 * " DAY), "0"},
               {"t.policy('professional', true, 10, '{Board}', '{SVC}', "
                "'[{\"userDirectory\": \"CORP\", \"userId\": \"eve\"}]')", "ok"},
               {"t.preview('professional', 12 * " DAY ")", "ann +0, bob +100 (2)"},
               {IDLE_RELEASE("professional", "12 * " DAY), "2"},
               {IDLE_RELEASE("professional", "12 * " DAY), "0"},
               {IDLE_RELEASE("analyzer", "12 * " DAY), "0"},
               /* a session's start is its last activity here: the last use */
               {"t.preview('professional', 16 * " DAY ")", "fay +432000 (1)"}},
     .after = {{"t.allocs()", "cy professional, dan professional, eve professional, "
                              "fay professional, gus analyzer"},
               {"t.events('release')",
                "+1036800 release ann professional Ok 0 idle_release: not used since "
                "2031-03-10T00:00:00.000000Z (policy: 10 days idle), "
                "+1036800 release bob professional Ok 0 idle_release: not used since "
                "2031-03-10T00:01:40.000000Z (policy: 10 days idle)"}}},

    {"idle release: never an allocation used within quarantineSeconds, nor one a session runs on",
     "professional => 5, params => '{\"quarantineSeconds\": 259200}'",
     "SELECT t.user('ann'); SELECT t.user('bob');"
     "SELECT t.alloc('ann', 'professional'); SELECT t.alloc('bob', 'professional');"
     "UPDATE allocations SET created_at = t.at(0);"
     "SELECT t.policy('professional', true, 1);",
     .steps = {{START_AS("s1", "ann", 0), OK_AS("professional")},
               {LOGOUT("s1", 0), "ok Ok professional ended logout +0"},
               {START_AS("s2", "bob", 0), OK_AS("professional")},
               /* a day idle, but used within the 3-day quarantine window */
               {"t.preview('professional', 2 * " DAY ")", ""},
               {IDLE_RELEASE("professional", "2 * " DAY), "0"},
               /* bob's session still runs (no reaper here): never his */
               {"t.preview('professional', 3 * " DAY ")", "ann +0 (1)"},
               {IDLE_RELEASE("professional", "3 * " DAY), "1"},
               {"t.allocs()", "bob professional"},
               /* released, not quarantined: the unit is free at once */
               {ALLOCATE("ann", "professional", 3 * 86400), "ok professional"}}},
};

int main(void)
{
    return TR_RUN(cases);
}

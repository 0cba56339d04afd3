/* db suite: analyzer capacity (DOMAIN.md "Analyzer capacity"), called where
 * it lives: a pool of minutes per calendar month, reset at 00:00 UTC on the
 * 1st, charged in blocks of capacityUnitSeconds when activity starts a new
 * block.  How a case reads: trules.h. */
#include "trules.h"

#define CAPACITY_RULE "SELECT t.rule('capacity', 'analyzer_time', '{Viewers}');"
#define VIEWERS(n) USERS(n, "{Viewers}")

static const struct tr_case cases[] = {
    {"26 active minutes, a heartbeat a minute, cost 5 blocks: 30 minutes (capacityUnitSeconds 360)",
     "capacity => 60", "SELECT t.user('ann', '{Viewers}');" CAPACITY_RULE,
     .steps = {{START_AS("s1", "ann", 0), OK_AS("analyzer_time")},
               {"t.capacity()", "2031-03 6"},
               {"(SELECT string_agg(DISTINCT t.show(engine.session_heartbeat(t.s('s1'), t.at(m), "
                IDLE ")), ', ') FROM generate_series(60, 1560, 60) m)", OK_AS("analyzer_time")}},
     .after = {{"t.capacity()", "2031-03 30"},
               {"(engine.license_view(t.at(1560))).allotments -> 0",
                "{\"name\" : \"analyzer_time\", \"units\" : 60, \"overage\" : 0, \"used\" : 30, "
                "\"quarantined\" : 0, \"available\" : 30}"},
               {"t.events()", "+0 grant ann analyzer_time Ok 1 capacity"}}},

    {"a block is charged when activity starts a new one: at its end, not before",
     "capacity => 60", "SELECT t.user('ann', '{Viewers}');" CAPACITY_RULE,
     .steps = {{START_AS("s1", "ann", 0), OK_AS("analyzer_time")},
               {BEAT("s1", 359), OK_AS("analyzer_time")},
               {"t.capacity()", "2031-03 6"},
               {BEAT("s1", 360), OK_AS("analyzer_time")},
               {"t.capacity()", "2031-03 12"},
               {BEAT("s1", 719), OK_AS("analyzer_time")}},
     .after = {{"t.capacity()", "2031-03 12"}}},

    {"idle time is not charged: the next activity starts a new block",
     "capacity => 60", "SELECT t.user('ann', '{Viewers}');" CAPACITY_RULE,
     .steps = {{START_AS("s1", "ann", 0), OK_AS("analyzer_time")},
               {BEAT("s1", 60), OK_AS("analyzer_time")},
               /* 49 minutes without activity (a site idle timeout of an hour) */
               {"engine.session_heartbeat(t.s('s1'), t.at(3000), 3600)", OK_AS("analyzer_time")},
               {"engine.session_heartbeat(t.s('s1'), t.at(3300), 3600)", OK_AS("analyzer_time")}},
     .after = {{"t.capacity()", "2031-03 12"}}},

    {"a block is the user's: their second capacity session within it costs nothing",
     "capacity => 60", "SELECT t.user('ann', '{Viewers}'); SELECT t.user('bob', '{Viewers}');"
     CAPACITY_RULE,
     .steps = {{START_AS("s1", "ann", 0), OK_AS("analyzer_time")},
               {START_AS("s2", "ann", 100), OK_AS("analyzer_time")},
               {BEAT("s2", 200), OK_AS("analyzer_time")},
               {"t.capacity()", "2031-03 6"},
               {START("bob", 100), OK_AS("analyzer_time")},
               {"t.capacity()", "2031-03 12"},
               /* s1 starts ann's next block, s2 shares it */
               {BEAT("s1", 360), OK_AS("analyzer_time")},
               {BEAT("s2", 400), OK_AS("analyzer_time")}},
     .after = {{"t.capacity()", "2031-03 18"}}},

    {"a block is the user's: logging out and in again within it costs nothing",
     "capacity => 60, params => '{\"sessionLingerSeconds\": 0}'",
     "SELECT t.user('ann', '{Viewers}');" CAPACITY_RULE,
     .steps = {{START_AS("s1", "ann", 0), OK_AS("analyzer_time")},
               {LOGOUT("s1", 60), "ok Ok analyzer_time ended logout +60"},
               {REAP(60), "0"},
               {START_AS("s2", "ann", 120), OK_AS("analyzer_time")},
               {"t.capacity()", "2031-03 6"},
               {BEAT("s2", 359), OK_AS("analyzer_time")},
               {"t.capacity()", "2031-03 6"},
               {BEAT("s2", 360), OK_AS("analyzer_time")},
               {REAP(359), "0"},
               {"(SELECT live FROM sessions WHERE id = t.s('s1'))", "true"},
               {REAP(360), "0"}, /* its block is over: its slot goes */
               {"(SELECT live FROM sessions WHERE id = t.s('s1'))", "false"}},
     .after = {{"t.capacity()", "2031-03 12"}}},

    {"a spent pool refuses new capacity sessions and ends running ones at their next activity",
     "capacity => 12, professional => 1",
     VIEWERS(3) "SELECT t.user('pat', '{Viewers}'); SELECT t.alloc('pat', 'professional');"
     CAPACITY_RULE,
     .steps = {{START_AS("s1", "u1", 0), OK_AS("analyzer_time")},
               {START_AS("s2", "u2", 0), OK_AS("analyzer_time")},
               {START("u3", 10), REFUSED_NONE},
               {BEAT("s2", 300), OK_AS("analyzer_time")}, /* within its block */
               {BEAT("s1", 360), REFUSED_NONE " analyzer_time ended no_access_pass +360"},
               {START("pat", 400), OK_AS("professional")}}, /* other passes are not touched */
     .after = {{"t.capacity()", "2031-03 12"},
               {"t.sessions()", "u1 analyzer_time ended no_access_pass +360, u2 analyzer_time active, "
                                "pat professional active"},
               {"t.events('end')", "+360 end u1 analyzer_time NoAvailableAccessType 0 no_access_pass"},
               {"(engine.license_view(t.at(400))).allotments -> 1 ->> 'available'", "0"}}},

    {"overage: minutes beyond the units, until units + overage are spent",
     "capacity => 6, capacity_overage => 6", VIEWERS(3) CAPACITY_RULE,
     .steps = {{START_EACH(1, 2, 0), OK_AS("analyzer_time")}, {START("u3", 0), REFUSED_NONE}},
     .after = {{"t.capacity()", "2031-03 12"}}},

    {"unbounded overage (-1): the pool never runs out",
     "capacity => 6, capacity_overage => -1", VIEWERS(20) CAPACITY_RULE,
     .steps = {{START_EACH(1, 20, 0), OK_AS("analyzer_time")}},
     .after = {{"t.capacity()", "2031-03 120"},
               {"(engine.license_view(t.at(0))).allotments -> 0 ->> 'available'", ""}}},

    {"no capacity in the license: a capacity rule grants nothing",
     "professional => 1", "SELECT t.user('ann', '{Viewers}');" CAPACITY_RULE,
     .steps = {{START("ann", 0), REFUSED_NONE}},
     .after = {{"t.capacity()", ""}}},

    {"the month boundary at 00:00 UTC: a block started at 23:59 on the 31st is that month's, "
     "the new month's pool is fresh",
     "capacity => 6", VIEWERS(2) CAPACITY_RULE,
     .steps = {{"t.keep('s1', engine.session_start(t.uid('u1'), NULL, NULL, '2031-03-31 23:59:00Z'))",
                OK_AS("analyzer_time")},
               {"t.capacity()", "2031-03 6"},
               {"engine.session_start(t.uid('u2'), NULL, NULL, '2031-03-31 23:59:59.999999Z')",
                REFUSED_NONE},
               {"engine.session_start(t.uid('u2'), NULL, NULL, '2031-04-01 00:00:00Z')",
                OK_AS("analyzer_time")},
               {"t.capacity()", "2031-03 6, 2031-04 6"},
               /* u1's block paid until 00:05; its next one finds April spent */
               {"engine.session_heartbeat(t.s('s1'), '2031-04-01 00:04:59Z', " IDLE ")",
                OK_AS("analyzer_time")},
               {"engine.session_heartbeat(t.s('s1'), '2031-04-01 00:05:00Z', " IDLE ")",
                REFUSED_NONE " analyzer_time ended no_access_pass +1901100"}},
     .after = {{"t.capacity()", "2031-03 6, 2031-04 6"},
               {"(engine.license_view('2031-03-31 23:59:59Z')).allotments -> 0 ->> 'used'", "6"},
               {"(engine.license_view('2031-04-01 00:00:00Z')).allotments -> 0 ->> 'used'", "6"},
               {"t.rel((engine.license_view('2031-03-31 23:00:00Z')).changes_at)", "+1900800"}}},

    {"the month boundary is UTC's in any session time zone (west: still March 31 locally)",
     "capacity => 6", "SET LOCAL TIME ZONE 'America/Los_Angeles';" VIEWERS(2) CAPACITY_RULE,
     .steps = {{"engine.session_start(t.uid('u1'), NULL, NULL, '2031-03-31 23:59:00Z')",
                OK_AS("analyzer_time")},
               {"engine.session_start(t.uid('u2'), NULL, NULL, '2031-03-31 17:00:00-07')",
                OK_AS("analyzer_time")}},
     .after = {{"t.capacity()", "2031-03 6, 2031-04 6"}}},

    {"the month boundary is UTC's in any session time zone (east: already April 1 locally)",
     "capacity => 6", "SET LOCAL TIME ZONE 'Pacific/Kiritimati';" VIEWERS(2) CAPACITY_RULE,
     .steps = {{"engine.session_start(t.uid('u1'), NULL, NULL, '2031-04-01 13:59:00+14')",
                OK_AS("analyzer_time")},
               {"engine.session_start(t.uid('u2'), NULL, NULL, '2031-04-01 13:59:30+14')",
                REFUSED_NONE},
               {"engine.session_start(t.uid('u2'), NULL, NULL, '2031-04-01 14:00:00+14')",
                OK_AS("analyzer_time")}},
     .after = {{"t.capacity()", "2031-03 6, 2031-04 6"}}},

    {"capacity sessions share the parallel limit and end idle like any other",
     "capacity => 60, params => '{\"maxParallelSessions\": 1}'",
     "SELECT t.user('ann', '{Viewers}');" CAPACITY_RULE,
     .steps = {{START_AS("s1", "ann", 0), OK_AS("analyzer_time")},
               {START("ann", 10), REFUSED_PARALLEL},
               {REAP(1800), "1"},
               {BEAT("s1", 1900), "session_ended analyzer_time ended idle +1800"}},
     .after = {{"t.capacity()", "2031-03 6"}}},
};

int main(void)
{
    return TR_RUN(cases);
}

/* Session slots and idleness (DOMAIN.md "Sessions"). */
#include "allot/rules.h"

bool core_session_counts_toward_limit(int64_t ended_at, int64_t now,
                                      const struct core_params *p)
{
    if (ended_at == 0)
        return true;
    return now < core_time_add(ended_at, p->session_linger);
}

bool core_session_idle(int64_t last_activity, int64_t now, int64_t idle_timeout)
{
    return now >= core_time_add(last_activity, idle_timeout);
}

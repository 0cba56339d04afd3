/* Analyzer capacity: blocks of capacity_unit seconds charged to a monthly pool
 * of minutes (DOMAIN.md "Analyzer capacity"). */
#include "allot/rules.h"

#include <stddef.h>

int core_capacity_activity(int64_t block_end, int64_t now, int64_t unit,
                           int64_t *new_block_end)
{
    if (unit < 1)
        unit = 1;
    if (now < block_end) {
        /* Inside the block already paid for: free. */
        if (new_block_end != NULL)
            *new_block_end = block_end;
        return 0;
    }
    /* A new block [now, now + unit), charged to the month it starts in. */
    if (new_block_end != NULL)
        *new_block_end = core_time_add(now, unit);
    return 1;
}

int64_t core_capacity_pool_month(int64_t block_start)
{
    /* Deliberately the month the block STARTS in: a block crossing midnight
     * of the 1st is not split between two pools. */
    return core_month_start(block_start);
}

int64_t core_capacity_block_minutes(int64_t unit)
{
    if (unit < 1)
        return 1;
    return unit / 60 + (unit % 60 != 0);
}

int64_t core_capacity_available(int64_t units_minutes, int64_t overage_minutes,
                                int64_t used_minutes_this_month)
{
    /* The pool has the same arithmetic as any allotment; nothing quarantined. */
    return core_allotment_available(units_minutes, overage_minutes,
                                    used_minutes_this_month, 0);
}

bool core_capacity_can_charge(int64_t units_minutes, int64_t overage_minutes,
                              int64_t used_minutes_this_month, int64_t unit)
{
    return core_capacity_available(units_minutes, overage_minutes, used_minutes_this_month)
           >= core_capacity_block_minutes(unit);
}

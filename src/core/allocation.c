/* Allocations: quarantine on removal and the allotment arithmetic
 * (DOMAIN.md "Allocations and quarantine"). */
#include "allot/rules.h"

#include <stddef.h>

enum core_removal_outcome core_removal(int64_t last_used, int64_t now,
                                       const struct core_params *p,
                                       int64_t *quarantine_end)
{
    if (last_used != 0) {
        int64_t end = core_time_add(last_used, p->quarantine < 0 ? 0 : p->quarantine);
        if (now < end) {
            if (quarantine_end != NULL)
                *quarantine_end = end;
            return CORE_QUARANTINE;
        }
    }
    if (quarantine_end != NULL)
        *quarantine_end = 0;
    return CORE_RELEASE;
}

bool core_quarantine_over(int64_t end, int64_t now)
{
    return now >= end;
}

int64_t core_allotment_available(int64_t units, int64_t overage, int64_t used,
                                 int64_t quarantined)
{
    if (overage == -1)
        return INT64_MAX;
    if (units < 0)
        units = 0;
    if (overage < 0)
        overage = 0;
    if (used < 0)
        used = 0;
    if (quarantined < 0)
        quarantined = 0;

    /* All four are >= 0 now: the allowance saturates, the taken count too. */
    int64_t allowed, taken;
    if (__builtin_add_overflow(units, overage, &allowed))
        allowed = INT64_MAX;
    if (__builtin_add_overflow(used, quarantined, &taken))
        taken = INT64_MAX;
    return taken >= allowed ? 0 : allowed - taken;
}

bool core_allotment_has_room(int64_t units, int64_t overage, int64_t used,
                             int64_t quarantined)
{
    return core_allotment_available(units, overage, used, quarantined) >= 1;
}

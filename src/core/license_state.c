/* The state of the site license at a given time (DOMAIN.md "Keeping the
 * license verified"). */
#include "allot/rules.h"

#include <stddef.h>

int64_t core_license_disabled_at(int64_t last_verified_at, const struct core_params *p)
{
    return core_time_add(last_verified_at, p->offline_grace);
}

enum core_license_state core_license_state_at(bool present, bool revoked, int64_t valid_to,
                                              int64_t last_verified_at, int64_t now,
                                              const struct core_params *p)
{
    if (!present)
        return CORE_LICENSE_MISSING;
    if (revoked)
        return CORE_LICENSE_REVOKED;
    if (now > valid_to)
        return CORE_LICENSE_EXPIRED;
    /* A clock set back before the last verification proves nothing: stale. */
    if (now < last_verified_at || now >= core_license_disabled_at(last_verified_at, p))
        return CORE_LICENSE_STALE;
    return CORE_LICENSE_OK;
}

const char *core_license_state_name(enum core_license_state s)
{
    switch (s) {
    case CORE_LICENSE_OK: return "ok";
    case CORE_LICENSE_STALE: return "stale";
    case CORE_LICENSE_MISSING: return "missing";
    case CORE_LICENSE_EXPIRED: return "expired";
    case CORE_LICENSE_REVOKED: return "revoked";
    }
    return "missing";
}

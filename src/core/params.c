/* License parameters and saturating time arithmetic. */
#include "allot/rules.h"

struct core_params core_params_default(void)
{
    return (struct core_params){
        .offline_grace = 432000,        /* 5 days */
        .capacity_unit = 360,           /* 6 minutes */
        .login_pass = 3600,             /* 1 hour */
        .max_parallel_sessions = 5,
        .pass_return = 2419200,         /* 28 days */
        .session_linger = 300,          /* 5 minutes */
        .quarantine = 604800,           /* 7 days */
    };
}

int64_t core_time_add(int64_t t, int64_t d)
{
    int64_t r;
    if (__builtin_add_overflow(t, d, &r))
        return d > 0 ? INT64_MAX : INT64_MIN;
    return r;
}

/* Login access passes (DOMAIN.md "Login access passes"). */
#include "allot/rules.h"

bool core_login_window_open(int64_t window_start, int64_t now, const struct core_params *p)
{
    if (window_start == 0)
        return false;
    return now < core_time_add(window_start, p->login_pass);
}

bool core_pass_returned(int64_t used_at, int64_t now, const struct core_params *p)
{
    return now >= core_time_add(used_at, p->pass_return);
}

int64_t core_login_passes_total(int64_t tokens)
{
    if (tokens <= 0)
        return 0;
    if (tokens > INT64_MAX / CORE_PASSES_PER_TOKEN)
        return INT64_MAX;
    return tokens * CORE_PASSES_PER_TOKEN;
}

int64_t core_login_passes_available(int64_t total, int64_t outstanding_used)
{
    if (total <= 0)
        return 0;
    if (outstanding_used <= 0)
        return total;
    return outstanding_used >= total ? 0 : total - outstanding_used;
}

int64_t core_login_group_tokens_freed(int64_t tokens, int64_t passes_outstanding)
{
    if (tokens <= 0)
        return 0;
    if (passes_outstanding <= 0)
        return tokens;
    /* ceil(outstanding / 10) without overflowing outstanding + 9. */
    int64_t kept = passes_outstanding / CORE_PASSES_PER_TOKEN
                   + (passes_outstanding % CORE_PASSES_PER_TOKEN != 0);
    return kept >= tokens ? 0 : tokens - kept;
}

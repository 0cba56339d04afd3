/* The license check at session start (DOMAIN.md "Sessions: the license check
 * at the hub"): which access a user gets, or why not. */
#include "allot/rules.h"

#include <stddef.h>
#include <string.h>

static struct core_access_decision grant(enum core_access_type access, enum core_grant_via via)
{
    return (struct core_access_decision){
        .access = access, .via = via, .result = CORE_RESULT_OK, .error = CORE_ERROR_NONE,
    };
}

static struct core_access_decision refuse(enum core_result_code result,
                                          enum core_access_error error)
{
    return (struct core_access_decision){
        .access = CORE_ACCESS_NONE, .via = CORE_VIA_NONE, .result = result, .error = error,
    };
}

struct core_access_decision core_resolve_access(const struct core_access_snapshot *s,
                                                const struct core_params *p)
{
    if (!s->user_known)
        return refuse(CORE_RESULT_UNKNOWN_USER, CORE_ERROR_NOT_FOUND);

    switch (s->license_state) {
    case CORE_LICENSE_OK:
        break;
    case CORE_LICENSE_STALE:
        return refuse(CORE_RESULT_LICENSE_NOT_AVAILABLE, CORE_ERROR_OUTDATED_LICENSE);
    case CORE_LICENSE_MISSING:
    case CORE_LICENSE_EXPIRED:
    case CORE_LICENSE_REVOKED:
    default:
        return refuse(CORE_RESULT_LICENSE_NOT_AVAILABLE, CORE_ERROR_NO_LICENSE);
    }

    if (s->sessions_in_use >= p->max_parallel_sessions)
        return refuse(CORE_RESULT_MAX_PARALLEL_SESSIONS_EXCEEDED, CORE_ERROR_TOO_MANY_SESSIONS);

    /* 1-3: the user's own allocations; one beyond the allotment is skipped. */
    bool excess = false;
    if (s->has_professional) {
        if (!s->professional_excess)
            return grant(CORE_ACCESS_PROFESSIONAL, CORE_VIA_EXISTING_ALLOCATION);
        excess = true;
    }
    if (s->has_analyzer) {
        if (!s->analyzer_excess)
            return grant(CORE_ACCESS_ANALYZER, CORE_VIA_EXISTING_ALLOCATION);
        excess = true;
    }
    if (s->has_user_pass) {
        if (!s->user_pass_excess)
            return grant(CORE_ACCESS_USER_PASS, CORE_VIA_EXISTING_ALLOCATION);
        excess = true;
    }

    /* 4: dynamic assignment by a rule, only while a unit is free. */
    bool pending = false;
    if (s->matches_professional_rule) {
        if (s->professional_unit_free)
            return grant(CORE_ACCESS_PROFESSIONAL, CORE_VIA_DYNAMIC_ASSIGNMENT);
        pending = true;
    }
    if (s->matches_analyzer_rule) {
        if (s->analyzer_unit_free)
            return grant(CORE_ACCESS_ANALYZER, CORE_VIA_DYNAMIC_ASSIGNMENT);
        pending = true;
    }

    /* 5: login passes: the open window costs nothing, a new one costs a pass. */
    if (s->matches_login_group) {
        if (s->login_window_open)
            return grant(CORE_ACCESS_LOGIN, CORE_VIA_OPEN_WINDOW);
        if (s->login_pass_available)
            return grant(CORE_ACCESS_LOGIN, CORE_VIA_NEW_PASS);
    }

    /* 6: analyzer capacity. */
    if (s->matches_capacity_rule && s->capacity_block_available)
        return grant(CORE_ACCESS_ANALYZER_TIME, CORE_VIA_CAPACITY);

    if (excess)
        return refuse(CORE_RESULT_EXCESS_ASSIGNMENT, CORE_ERROR_NO_ACCESS_PASS);
    if (pending)
        return refuse(CORE_RESULT_NO_AVAILABLE_ACCESS_TYPE_PENDING_USER_SYNC,
                      CORE_ERROR_NO_ACCESS_PASS);
    return refuse(CORE_RESULT_NO_AVAILABLE_ACCESS_TYPE, CORE_ERROR_NO_ACCESS_PASS);
}

const char *core_result_code_name(enum core_result_code c)
{
    switch (c) {
    case CORE_RESULT_OK: return "Ok";
    case CORE_RESULT_UNKNOWN_USER: return "UnknownUser";
    case CORE_RESULT_LICENSE_NOT_AVAILABLE: return "LicenseNotAvailable";
    case CORE_RESULT_NO_AVAILABLE_ACCESS_TYPE: return "NoAvailableAccessType";
    case CORE_RESULT_NO_AVAILABLE_ACCESS_TYPE_PENDING_USER_SYNC:
        return "NoAvailableAccessTypePendingUserSync";
    case CORE_RESULT_MAX_PARALLEL_SESSIONS_EXCEEDED: return "MaxParallelSessionsExceeded";
    case CORE_RESULT_EXCESS_ASSIGNMENT: return "ExcessAssignment";
    }
    return "Unknown";
}

static const struct {
    enum core_access_type type;
    const char *name;
} access_names[] = {
    {CORE_ACCESS_PROFESSIONAL, "professional"},
    {CORE_ACCESS_ANALYZER, "analyzer"},
    {CORE_ACCESS_USER_PASS, "user"},
    {CORE_ACCESS_LOGIN, "login"},
    {CORE_ACCESS_ANALYZER_TIME, "analyzer_time"},
};

const char *core_access_type_name(enum core_access_type t)
{
    for (size_t i = 0; i < sizeof access_names / sizeof access_names[0]; i++)
        if (access_names[i].type == t)
            return access_names[i].name;
    return "none";
}

bool core_access_type_parse(const char *text, enum core_access_type *out)
{
    if (text == NULL)
        return false;
    for (size_t i = 0; i < sizeof access_names / sizeof access_names[0]; i++) {
        if (strcmp(access_names[i].name, text) == 0) {
            if (out != NULL)
                *out = access_names[i].type;
            return true;
        }
    }
    return false;
}

const char *core_grant_via_name(enum core_grant_via v)
{
    switch (v) {
    case CORE_VIA_NONE: return "none";
    case CORE_VIA_EXISTING_ALLOCATION: return "existing_allocation";
    case CORE_VIA_DYNAMIC_ASSIGNMENT: return "dynamic_assignment";
    case CORE_VIA_OPEN_WINDOW: return "open_window";
    case CORE_VIA_NEW_PASS: return "new_pass";
    case CORE_VIA_CAPACITY: return "capacity";
    }
    return "none";
}

/* rules: the licensing rules of DOMAIN.md as pure functions (src/core).
 *
 * Nothing here does I/O, allocates, reads the clock or keeps state: `now` is
 * always passed in (int64_t unix seconds, UTC) and the policy durations come in
 * a struct core_params taken from the license.  Every function is reentrant.
 *
 * Numbers that come from a license (units, overage, tokens, durations) may be
 * anything an int64_t holds: sums saturate at INT64_MAX / INT64_MIN instead of
 * overflowing, counts never go below 0, and a duration below its minimum is
 * treated as that minimum (documented per function).
 *
 * Conventions for "nothing yet" timestamps: 0 means never (no block charged,
 * never used, still active), as in the database columns the callers read.
 */
#ifndef ALLOT_RULES_H
#define ALLOT_RULES_H

#include <stdbool.h>
#include <stdint.h>

/* ---- license parameters --------------------------------------------------- */

/* The license parameters (DOMAIN.md), durations in seconds.  The license module
 * parses and range-checks them (struct lic_params); the caller copies them in. */
struct core_params {
    int64_t offline_grace;          /* offlineGraceSeconds       432000 (5 days) */
    int64_t capacity_unit;          /* capacityUnitSeconds          360 (6 min)  */
    int64_t login_pass;             /* loginPassSeconds            3600 (1 hour) */
    int64_t max_parallel_sessions;  /* maxParallelSessions (count)    5          */
    int64_t pass_return;            /* passReturnSeconds        2419200 (28 days) */
    int64_t session_linger;         /* sessionLingerSeconds         300 (5 min)  */
    int64_t quarantine;             /* quarantineSeconds         604800 (7 days) */
};

/* The defaults of the model product, as listed above. */
struct core_params core_params_default(void);

/* t + d, saturated to [INT64_MIN, INT64_MAX]: the end of a window that starts at
 * t and lasts d seconds, safe for any license value. */
int64_t core_time_add(int64_t t, int64_t d);

/* ---- calendar (proleptic Gregorian, UTC, no libc time zone calls) --------- */

/* The range of times the calendar works on: 1970-01-01T00:00:00Z ..
 * 9999-12-31T23:59:59Z.  Calendar functions clamp `now` into it. */
#define CORE_TIME_MIN INT64_C(0)
#define CORE_TIME_MAX INT64_C(253402300799)

/* Days since 1970-01-01 of the date y-m-d (m 1..12, d 1..31, not checked), and
 * back.  Valid far beyond years 1970..9999 (Howard Hinnant's algorithms). */
int64_t core_days_from_civil(int64_t y, unsigned m, unsigned d);
void core_civil_from_days(int64_t days, int64_t *y, unsigned *m, unsigned *d);

/* 00:00:00 UTC of the 1st of now's month, and of the month after it
 * (December 9999 gives 10000-01-01 = CORE_TIME_MAX + 1). */
int64_t core_month_start(int64_t now);
int64_t core_next_month_start(int64_t now);

/* ---- analyzer capacity ---------------------------------------------------- */

/* One activity of a capacity session at `now`.  The session's state is the end
 * of its current block (0 = nothing charged yet).  Activity at now >= block_end
 * starts the block [now, now + unit) and charges it: returns 1 and sets
 * *new_block_end = now + unit.  Activity inside the current block is free:
 * returns 0 and *new_block_end = block_end.  So activity each minute for 26
 * minutes costs 5 blocks (30 minutes) and idle time is never charged.  A unit
 * below 1 s is treated as 1 s.
 *
 * A charged block's minutes go to the pool of the month in which the block
 * STARTS: core_capacity_pool_month(now).  A block that starts at 23:59 on
 * 31 January and runs into February is charged wholly to January. */
int core_capacity_activity(int64_t block_end, int64_t now, int64_t unit,
                           int64_t *new_block_end);

/* The pool month (core_month_start) a block starting at block_start is charged to. */
int64_t core_capacity_pool_month(int64_t block_start);

/* Minutes one block costs: unit seconds / 60, rounded up (at least 1). */
int64_t core_capacity_block_minutes(int64_t unit);

/* Minutes left in this month's pool: units + overage - used, never below 0;
 * INT64_MAX when overage is -1 (unbounded).  A negative units or an overage
 * below -1 counts as 0. */
int64_t core_capacity_available(int64_t units_minutes, int64_t overage_minutes,
                                int64_t used_minutes_this_month);

/* Whether one more whole block (core_capacity_block_minutes(unit)) fits into
 * what core_capacity_available leaves. */
bool core_capacity_can_charge(int64_t units_minutes, int64_t overage_minutes,
                              int64_t used_minutes_this_month, int64_t unit);

/* ---- login access passes -------------------------------------------------- */

#define CORE_PASSES_PER_TOKEN 10

/* Whether the window opened by a pass at window_start (0 = none) is open at now:
 * now < window_start + login_pass.  The window closes at exactly
 * window_start + login_pass; activity or a new session from then on uses
 * another pass.  A window whose start lies slightly in the future (another
 * server's clock) counts as open, so clock skew never costs a pass. */
bool core_login_window_open(int64_t window_start, int64_t now, const struct core_params *p);

/* Whether a pass used at used_at is back in its group at now:
 * now >= used_at + pass_return. */
bool core_pass_returned(int64_t used_at, int64_t now, const struct core_params *p);

/* Passes bought by `tokens` tokens: 10 per token (saturating; negative = 0). */
int64_t core_login_passes_total(int64_t tokens);

/* Passes a group can still hand out: total - outstanding_used (passes used and
 * not yet returned), never below 0. */
int64_t core_login_passes_available(int64_t total, int64_t outstanding_used);

/* Tokens given back when a login group holding `tokens` tokens is removed while
 * `passes_outstanding` of its passes are used and not yet returned: one token per
 * ten passes unused or returned = tokens - ceil(outstanding / 10), never below 0. */
int64_t core_login_group_tokens_freed(int64_t tokens, int64_t passes_outstanding);

/* ---- allocations: quarantine and allotment arithmetic --------------------- */

enum core_removal_outcome {
    CORE_RELEASE = 0,   /* the unit/token is free at once */
    CORE_QUARANTINE,    /* it keeps counting as taken until *quarantine_end */
};

/* Removing an allocation last used at last_used (0 = never).  Used within the
 * last `quarantine` seconds (now < last_used + quarantine): CORE_QUARANTINE and
 * *quarantine_end = last_used + quarantine.  Otherwise (never used, or used
 * `quarantine` seconds ago or longer): CORE_RELEASE and *quarantine_end = 0.
 * quarantine_end may be NULL. */
enum core_removal_outcome core_removal(int64_t last_used, int64_t now,
                                       const struct core_params *p,
                                       int64_t *quarantine_end);

/* Whether a quarantine ending at `end` is over at now (now >= end). */
bool core_quarantine_over(int64_t end, int64_t now);

/* Units (or tokens) left: units + overage - used - quarantined, never below 0;
 * INT64_MAX when overage is -1 (unbounded).  A negative units or an overage
 * below -1 counts as 0; negative used/quarantined count as 0. */
int64_t core_allotment_available(int64_t units, int64_t overage, int64_t used,
                                 int64_t quarantined);

/* Whether one more allocation fits: core_allotment_available(...) >= 1. */
bool core_allotment_has_room(int64_t units, int64_t overage, int64_t used,
                             int64_t quarantined);

/* ---- sessions ------------------------------------------------------------- */

/* Whether a session holds one of the user's maxParallelSessions slots at now: an
 * active session (ended_at 0) does; an ended one keeps its slot while
 * now < ended_at + session_linger. */
bool core_session_counts_toward_limit(int64_t ended_at, int64_t now,
                                      const struct core_params *p);

/* Whether a session whose last activity was at last_activity has been idle for
 * the site's idle timeout at now: now >= last_activity + idle_timeout. */
bool core_session_idle(int64_t last_activity, int64_t now, int64_t idle_timeout);

/* ---- the license state ---------------------------------------------------- */

enum core_license_state {
    CORE_LICENSE_OK = 0,
    CORE_LICENSE_STALE,     /* not verified for offline_grace: OutdatedLicense */
    CORE_LICENSE_MISSING,   /* none applied */
    CORE_LICENSE_EXPIRED,   /* validTo has passed */
    CORE_LICENSE_REVOKED,   /* the backend said so at the last sync */
};

/* When a license last verified at last_verified_at is disabled:
 * last_verified_at + offline_grace (the "disabledAt" of GET /license). */
int64_t core_license_disabled_at(int64_t last_verified_at, const struct core_params *p);

/* The state of the site license at now.  Definitive states win over staleness:
 * missing, then revoked, then expired (now > valid_to; validTo is the last valid
 * second), then stale (now >= core_license_disabled_at, or now before
 * last_verified_at: a clock set back), else ok.  p may be NULL
 * when !present. */
enum core_license_state core_license_state_at(bool present, bool revoked, int64_t valid_to,
                                              int64_t last_verified_at, int64_t now,
                                              const struct core_params *p);

/* "ok", "stale", "missing", "expired", "revoked" (GET /license status);
 * "missing" for a value out of range. */
const char *core_license_state_name(enum core_license_state s);

/* ---- the license check at session start ----------------------------------- */

enum core_access_type {
    CORE_ACCESS_NONE = 0,
    CORE_ACCESS_PROFESSIONAL,   /* "professional" */
    CORE_ACCESS_ANALYZER,       /* "analyzer" */
    CORE_ACCESS_USER_PASS,      /* "user" */
    CORE_ACCESS_LOGIN,          /* "login" */
    CORE_ACCESS_ANALYZER_TIME,  /* "analyzer_time" */
};

enum core_grant_via {
    CORE_VIA_NONE = 0,              /* refused */
    CORE_VIA_EXISTING_ALLOCATION,   /* the user's own allocation */
    CORE_VIA_DYNAMIC_ASSIGNMENT,    /* a professional/analyzer rule: allocate a unit now */
    CORE_VIA_OPEN_WINDOW,           /* a login window of this user still open */
    CORE_VIA_NEW_PASS,              /* draw a new login pass */
    CORE_VIA_CAPACITY,              /* charge a capacity block */
};

/* The result codes of the model product. */
enum core_result_code {
    CORE_RESULT_OK = 0,
    CORE_RESULT_UNKNOWN_USER,
    CORE_RESULT_LICENSE_NOT_AVAILABLE,
    CORE_RESULT_NO_AVAILABLE_ACCESS_TYPE,
    CORE_RESULT_NO_AVAILABLE_ACCESS_TYPE_PENDING_USER_SYNC,
    CORE_RESULT_MAX_PARALLEL_SESSIONS_EXCEEDED,
    CORE_RESULT_EXCESS_ASSIGNMENT,
};

/* Which error of API.md a decision answers with (the HTTP layer maps these to
 * its registry, src/http/errors.def). */
enum core_access_error {
    CORE_ERROR_NONE = 0,            /* granted */
    CORE_ERROR_NOT_FOUND,           /* 404 LICENSES-NotFound (UnknownUser) */
    CORE_ERROR_NO_LICENSE,          /* 403 LICENSES-NoLicense (missing/expired/revoked) */
    CORE_ERROR_OUTDATED_LICENSE,    /* 403 LICENSES-OutdatedLicense (stale) */
    CORE_ERROR_TOO_MANY_SESSIONS,   /* 403 LICENSES-TooManySessions */
    CORE_ERROR_NO_ACCESS_PASS,      /* 403 LICENSES-NoAccessPass */
};

/* What the caller knows about one user at `now`, read in the same transaction
 * that will record the grant. */
struct core_access_snapshot {
    bool user_known;
    enum core_license_state license_state;
    int64_t sessions_in_use;            /* active + lingering (core_session_counts_toward_limit) */

    /* Each: the user holds a live, non-quarantined allocation of that type, and
     * whether it lies beyond the allotment (the license shrank). */
    bool has_professional, professional_excess;
    bool has_analyzer, analyzer_excess;
    bool has_user_pass, user_pass_excess;

    bool matches_professional_rule, professional_unit_free;
    bool matches_analyzer_rule, analyzer_unit_free;

    bool matches_login_group;
    bool login_window_open;             /* a window of this user is still open */
    bool login_pass_available;          /* a matching group can hand out a pass */

    bool matches_capacity_rule;
    bool capacity_block_available;      /* core_capacity_can_charge for this month */
};

struct core_access_decision {
    enum core_access_type access;       /* CORE_ACCESS_NONE when refused */
    enum core_grant_via via;            /* CORE_VIA_NONE when refused */
    enum core_result_code result;
    enum core_access_error error;
};

/* Resolves a session start (DOMAIN.md "Sessions: the license check at the hub"):
 *   unknown user                          -> UnknownUser (NotFound)
 *   license missing / expired / revoked   -> LicenseNotAvailable (NoLicense)
 *   license stale                         -> LicenseNotAvailable (OutdatedLicense)
 *   sessions_in_use >= max_parallel       -> MaxParallelSessionsExceeded (TooManySessions)
 *   1 professional allocation, 2 analyzer allocation, 3 user pass (each unless excess)
 *   4 professional rule, then analyzer rule, only while a unit is free
 *   5 login group: an open window first, else a new pass if one is available
 *   6 capacity rule while a block fits                               -> Ok
 * Refused after that, in this order of precedence:
 *   an excess allocation was skipped      -> ExcessAssignment (NoAccessPass)
 *   a professional/analyzer rule matched but no unit was free
 *                                         -> NoAvailableAccessTypePendingUserSync (NoAccessPass)
 *   otherwise                             -> NoAvailableAccessType (NoAccessPass)
 * The login steps require matches_login_group, the capacity step
 * matches_capacity_rule. */
struct core_access_decision core_resolve_access(const struct core_access_snapshot *s,
                                                const struct core_params *p);

/* "Ok", "UnknownUser", "LicenseNotAvailable", "NoAvailableAccessType",
 * "NoAvailableAccessTypePendingUserSync", "MaxParallelSessionsExceeded",
 * "ExcessAssignment"; "Unknown" for a value out of range. */
const char *core_result_code_name(enum core_result_code c);

/* "professional", "analyzer", "user", "login", "analyzer_time"; "none" for
 * CORE_ACCESS_NONE and for a value out of range. */
const char *core_access_type_name(enum core_access_type t);

/* The reverse of core_access_type_name for the five access types (exact,
 * case-sensitive; "none" is refused).  false and *out untouched on failure. */
bool core_access_type_parse(const char *text, enum core_access_type *out);

/* "existing_allocation", "dynamic_assignment", "open_window", "new_pass",
 * "capacity"; "none" for CORE_VIA_NONE and out of range (audit trail). */
const char *core_grant_via_name(enum core_grant_via v);

/* ---- durations in configuration ------------------------------------------- */

/* Parses a positive duration: digits followed by one optional unit, "s", "m",
 * "h" or "d" ("90s", "10m", "1h", "5d"); bare digits are seconds.  Refuses
 * NULL, "", "0", signs, spaces, fractions ("1.5m"), upper-case or unknown units,
 * trailing junk and values over INT64_MAX seconds.  true with *seconds set, or
 * false with *seconds untouched. */
bool core_duration_parse(const char *text, int64_t *seconds);

#endif

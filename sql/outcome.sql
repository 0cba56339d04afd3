-- The words the engine's decisions answer with.  allotd maps each one to its
-- HTTP reply through one table (include/allot/outcomes.def); tests/db checks that
-- the two lists are the same.  The model product's result code of a license
-- check (the audit trail's resultCode) follows from the outcome: result_code.
CREATE TYPE engine.outcome AS ENUM (
    'ok',                      -- done
    'released',                -- an allocation removed, its unit free at once
    'unknown_user',            -- no such user
    'license_missing',         -- no license applied
    'license_expired',         -- validTo has passed
    'license_revoked',         -- the backend revoked it
    'license_stale',           -- not verified for offlineGraceSeconds
    'too_many_sessions',       -- maxParallelSessions in use
    'no_access_type',          -- nothing left for the user
    'pending_user_sync',       -- a rule matches but no unit is free
    'excess_assignment',       -- the user's allocation is beyond the allotment
    'session_not_found',
    'session_ended',
    'allocation_not_found',
    'allocation_held',         -- the user already holds one of that type
    'allocation_quarantined',  -- the user's one of that type is in quarantine
    'allocation_live',         -- reinstating one that is not in quarantine
    'allocation_user_deleted', -- reinstating one whose user is gone
    'no_allotment',            -- no unit or token left
    'rule_not_found',
    'rule_name_taken',
    'no_tokens',               -- too few tokens for a login access group
    'tokens_login_only',       -- tokens given for a rule that is not a login group
    'user_not_found',
    'license_older',           -- a key older than the one in force
    'license_replaced',        -- a sync of a license replaced meanwhile
    'apikey_not_found',
    'last_admin_key',          -- deleting it would leave no administrator
    'usage_rolling_up',        -- the usage roll-up is over a day behind
    'user_inactive',           -- deactivated in the directory (SCIM active: false)
    'user_name_taken',         -- a user of the directory has this userName
    'external_id_taken',       -- a user or group has this externalId
    'user_changed',            -- changed since it was read (a PATCH reads again)
    'group_not_found',
    'group_name_taken',        -- a group has this displayName
    'member_not_found',        -- a member is no user of the SCIM directory
    'policy_not_found'         -- no idle-release policy for this type
);

-- The model product's result code of a license check.
CREATE FUNCTION engine.result_code(o engine.outcome) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN CASE o
        WHEN 'ok' THEN 'Ok'
        WHEN 'unknown_user' THEN 'UnknownUser'
        WHEN 'license_missing' THEN 'LicenseNotAvailable'
        WHEN 'license_expired' THEN 'LicenseNotAvailable'
        WHEN 'license_revoked' THEN 'LicenseNotAvailable'
        WHEN 'license_stale' THEN 'LicenseNotAvailable'
        WHEN 'too_many_sessions' THEN 'MaxParallelSessionsExceeded'
        WHEN 'no_access_type' THEN 'NoAvailableAccessType'
        WHEN 'pending_user_sync' THEN 'NoAvailableAccessTypePendingUserSync'
        WHEN 'excess_assignment' THEN 'ExcessAssignment'
        WHEN 'user_inactive' THEN 'NoAvailableAccessType'
        END;

-- When licenses are disabled if no verification succeeds before: the last
-- verification plus offlineGraceSeconds (GET /license's disabledAt).
CREATE FUNCTION engine.disabled_at(l license) RETURNS timestamptz
    LANGUAGE sql STABLE PARALLEL SAFE
    RETURN l.last_verified_at + engine.seconds(l, 'offlineGraceSeconds');

-- The status of the license at p_now (DOMAIN.md "Keeping the license
-- verified"): missing, revoked, expired, stale or ok.  Definitive states win
-- over staleness.  A clock set back before the last verification proves
-- nothing: stale.  Session start, heartbeat, allocation, GET /license and
-- /metrics all ask this one function.
CREATE FUNCTION engine.license_status(l license, p_now timestamptz) RETURNS text
    LANGUAGE sql STABLE PARALLEL SAFE
    RETURN CASE
        WHEN l.singleton IS NULL THEN 'missing'
        WHEN l.revoked THEN 'revoked'
        WHEN p_now > l.valid_to THEN 'expired'
        WHEN p_now < l.last_verified_at OR p_now >= engine.disabled_at(l) THEN 'stale'
        ELSE 'ok' END;

-- The refusal a license that is not ok gives.
CREATE FUNCTION engine.license_outcome(p_status text) RETURNS engine.outcome
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN ('license_' || p_status)::engine.outcome;

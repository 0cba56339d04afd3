-- Keeping the license verified with the license backend (allot-authority).

-- Claims the next sync for this site: NULL when none is applied, or when the
-- last attempt is younger than the interval (p_retry after a failure) and the
-- sync is not forced.  Every reply carries the current definition, so the
-- definition is refreshed at every sync; a sync interval longer than the
-- license's definitionRefreshSeconds (24 hours) is shortened to it.  allotd runs this under a session advisory lock held for
-- the whole sync, so one instance syncs at a time and each interval sees one
-- sync, whatever the number of instances.
CREATE FUNCTION allot_sync_claim(p_now timestamptz, p_interval bigint, p_retry bigint,
                                 p_force boolean)
RETURNS json LANGUAGE plpgsql AS $$
DECLARE
    l license;
    m date := date_trunc('month', p_now AT TIME ZONE 'UTC')::date;
BEGIN
    SELECT * INTO l FROM license FOR UPDATE;
    IF NOT FOUND THEN RETURN NULL; END IF;
    IF NOT p_force AND l.last_sync_attempt_at IS NOT NULL
       AND l.last_sync_attempt_at <= p_now
       AND p_now < l.last_sync_attempt_at
                   + (CASE WHEN l.last_sync_error IS NULL
                           THEN least(p_interval, l.definition_refresh) ELSE p_retry END)
                     * interval '1 second' THEN
        RETURN NULL;
    END IF;
    UPDATE license SET last_sync_attempt_at = p_now;
    RETURN json_build_object(
        'key', l.license_key, 'licenseNumber', l.license_number,
        'issuedAt', extract(epoch FROM l.issued_at)::bigint,
        'lastVerifiedAt', extract(epoch FROM l.last_verified_at)::bigint,
        'offlineGrace', l.offline_grace,
        'assignments', json_build_object(
            'professional', allot_type_live('professional'),
            'analyzer', allot_type_live('analyzer'),
            'userPasses', allot_type_live('user'),
            'loginTokens', coalesce((SELECT sum(tokens) FROM rules WHERE access_type = 'login'), 0),
            'capacityMinutesThisMonth', coalesce((SELECT minutes FROM capacity_usage WHERE month = m), 0),
            'quarantined', (SELECT count(*) FROM allocations WHERE quarantine_end > p_now)));
END $$;

-- Records a sync.  On success the license counts as verified at the
-- authority's verifiedAt (never later than this site's clock, so a backend
-- clock ahead of ours cannot make the license look set back), a newer
-- definition replaces the stored one, revocation is taken over, and after the
-- conversion date the token-based passes are removed.  On failure only the
-- error is kept: lastVerifiedAt does not move.
CREATE FUNCTION allot_sync_record(p_now timestamptz, p_number text, p_ok boolean, p_error text,
                                  p_verified_at bigint, p_revoked boolean, p_key text,
                                  p_def jsonb)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    l license;
BEGIN
    SELECT * INTO l FROM license FOR UPDATE;
    IF NOT FOUND OR l.license_number <> p_number THEN RETURN; END IF;  -- replaced meanwhile
    IF NOT p_ok THEN
        UPDATE license SET last_sync_error = p_error;
        RETURN;
    END IF;
    IF p_key IS NOT NULL AND p_key <> l.license_key THEN
        PERFORM allot_license_apply(p_key, p_def, p_now);
    END IF;
    -- Revocation follows the newest word of the backend: an older document
    -- (an air-gapped export made before the revocation) cannot lift it.
    UPDATE license SET
        revoked = CASE WHEN to_timestamp(p_verified_at) >= last_verified_at THEN p_revoked
                       ELSE revoked OR p_revoked END,
        last_verified_at = greatest(last_verified_at, least(to_timestamp(p_verified_at), p_now)),
        last_sync_error = NULL;
    PERFORM allot_convert(p_now);
END $$;

-- PUT /license/definition (air-gapped sites): a definition exported and signed
-- by the authority counts as a verification at the time it was signed.  An
-- export older than the license in force does not roll the license back
-- (allot_license_apply answers 'older'); its verification still counts.
CREATE FUNCTION allot_definition_apply(p_now timestamptz, p_key text, p_def jsonb,
                                       p_verified_at bigint, p_revoked boolean)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF (SELECT license_key FROM license) IS DISTINCT FROM p_key THEN
        PERFORM allot_license_apply(p_key, p_def, p_now);
    END IF;
    PERFORM allot_sync_record(p_now, p_def ->> 'licenseNumber', true, NULL, p_verified_at,
                              p_revoked, NULL, NULL);
END $$;

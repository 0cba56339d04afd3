-- Keeping the license verified with the license backend (DOMAIN.md).

-- What a sync sends: the site's assignments and consumption (the same
-- numbers GET /license shows).
CREATE FUNCTION engine.sync_assignments(p_now timestamptz) RETURNS json
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN json_build_object(
        'professional', engine.type_live('professional'),
        'analyzer', engine.type_live('analyzer'),
        'userPasses', engine.type_live('user'),
        'loginTokens', engine.login_tokens_held(p_now),
        'capacityMinutesThisMonth',
            coalesce((SELECT c.minutes FROM capacity_usage c WHERE c.month = engine.month_of(p_now)), 0),
        'quarantined', (SELECT count(*) FROM allocations a
                         WHERE a.quarantine_end IS NOT NULL AND a.quarantine_end > p_now));
END $$;

-- Claims the next sync for this site, or no row: none is applied, or the
-- last attempt is younger than the interval (p_retry seconds after a
-- failure) and the sync is not forced.  Every reply carries the current
-- definition, so a sync interval longer than the license's
-- definitionRefreshSeconds is shortened to it.  allotd holds a session
-- advisory lock for the whole sync, so one instance syncs at a time.
CREATE FUNCTION engine.sync_claim(p_now timestamptz, p_interval bigint, p_retry bigint,
                                 p_force boolean)
RETURNS TABLE (license_key text, license_number text, issued_at bigint,
               last_verified_at bigint, offline_grace bigint, site uuid, assignments json)
LANGUAGE plpgsql AS $$
DECLARE
    l license;
BEGIN
    SELECT * INTO l FROM license FOR UPDATE;
    IF l.singleton IS NULL THEN
        RETURN;
    END IF;
    IF NOT p_force AND l.last_sync_attempt_at IS NOT NULL
       AND l.last_sync_attempt_at <= p_now
       AND p_now < l.last_sync_attempt_at
                   + (CASE WHEN l.last_sync_error IS NULL
                           THEN least(p_interval, engine.param(l, 'definitionRefreshSeconds'))
                           ELSE p_retry END) * interval '1 second' THEN
        RETURN;
    END IF;
    UPDATE license SET last_sync_attempt_at = p_now;
    RETURN QUERY SELECT d.license_key, l.license_number,
                        extract(epoch FROM l.issued_at)::bigint,
                        extract(epoch FROM l.last_verified_at)::bigint,
                        engine.param(l, 'offlineGraceSeconds'),
                        (SELECT s.id FROM site s), engine.sync_assignments(p_now)
                   FROM license_document d;
END $$;

-- Records a sync.  On success the license counts as verified at the
-- authority's verifiedAt (never later than this site's clock, so a backend
-- clock ahead of ours cannot make the license look set back), a newer
-- definition (p_key, p_def) replaces the stored one, revocation follows the
-- newest word of the backend, and after the conversion date the token passes
-- go.  On failure only the error is kept: lastVerifiedAt does not move.
-- Outcomes: ok, license_replaced (another license was applied meanwhile:
-- nothing recorded), or what applying the new definition answered.
CREATE FUNCTION engine.sync_record(p_now timestamptz, p_number text, p_ok boolean, p_error text,
                                  p_verified_at bigint, p_revoked boolean, p_key text,
                                  p_def jsonb)
RETURNS engine.outcome LANGUAGE plpgsql AS $$
DECLARE
    l license;
    o engine.outcome;
BEGIN
    SELECT * INTO l FROM license FOR UPDATE;
    IF l.singleton IS NULL OR l.license_number <> p_number THEN
        RETURN 'license_replaced';
    END IF;
    IF NOT p_ok THEN
        UPDATE license SET last_sync_error = p_error;
        PERFORM engine.webhook_sync(p_now, l, false, p_error);  -- alerts (webhook_sync.sql)
        RETURN 'ok';
    END IF;
    IF p_key IS NOT NULL AND p_key IS DISTINCT FROM (SELECT d.license_key FROM license_document d) THEN
        o := engine.license_apply(p_key, p_def, p_now);
        IF o <> 'ok' THEN
            UPDATE license SET last_sync_error = 'the backend sent an older license key';
            RETURN o;
        END IF;
    END IF;
    -- An older document (an air-gapped export made before a revocation)
    -- cannot lift the revocation.
    UPDATE license SET
        revoked = CASE WHEN to_timestamp(p_verified_at) >= last_verified_at THEN p_revoked
                       ELSE revoked OR p_revoked END,
        last_verified_at = greatest(last_verified_at, least(to_timestamp(p_verified_at), p_now)),
        last_sync_error = NULL;
    PERFORM engine.convert(p_now);
    PERFORM engine.webhook_sync(p_now, l, true, NULL);  -- alerts (webhook_sync.sql)
    RETURN 'ok';
END $$;

-- PUT /license/definition (air-gapped sites): a definition exported and
-- signed by the authority counts as a verification at the time it was
-- signed.  An export older than the license in force does not roll the
-- license back (its verification still counts).
CREATE FUNCTION engine.definition_apply(p_now timestamptz, p_key text, p_def jsonb,
                                       p_verified_at bigint, p_revoked boolean)
RETURNS engine.outcome LANGUAGE plpgsql AS $$
BEGIN
    IF (SELECT d.license_key FROM license_document d, license l
         WHERE l.license_number = p_def ->> 'licenseNumber') IS DISTINCT FROM p_key THEN
        PERFORM engine.license_apply(p_key, p_def, p_now);
    END IF;
    RETURN engine.sync_record(p_now, p_def ->> 'licenseNumber', true, NULL, p_verified_at,
                             p_revoked, NULL, NULL);
END $$;

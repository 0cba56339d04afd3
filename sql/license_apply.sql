-- PUT /license: stores a verified key (allotd checked its signature and
-- turned its payload into p_def, the canonical definition).  Outcomes: ok,
-- or license_older (nothing changes) for a key of a license number signed
-- before the newest key of it this site applied: an old key never rolls a
-- license back.  The key counts as a verification at its signing time (iat);
-- applying a license again never moves lastVerifiedAt back, and only the
-- backend lifts a revocation.
CREATE FUNCTION engine.license_apply(p_key text, p_def jsonb, p_now timestamptz)
RETURNS engine.outcome LANGUAGE plpgsql AS $$
DECLARE
    h license_history;
    iat timestamptz := to_timestamp((p_def ->> 'iat')::bigint);
    al jsonb;
    units jsonb := '{}';
BEGIN
    PERFORM 1 FROM license FOR UPDATE;
    SELECT * INTO h FROM license_history WHERE license_number = p_def ->> 'licenseNumber';
    IF h.newest_issued_at IS NOT NULL AND iat < h.newest_issued_at THEN
        RETURN 'license_older';
    END IF;
    FOR al IN SELECT * FROM jsonb_array_elements(p_def -> 'allotments') LOOP
        units := units || jsonb_build_object(al ->> 'name', al);
    END LOOP;
    -- Upserts, never a delete: requests waiting on the row see the new one.
    INSERT INTO license AS l (singleton, license_number, organization, product, valid_from,
        valid_to, issued_at, professional_units, professional_overage, analyzer_units,
        analyzer_overage, capacity_units, capacity_overage, tokens, conversion_date, parameters,
        last_verified_at, revoked, applied_at)
    VALUES (true, p_def ->> 'licenseNumber', p_def ->> 'organization', p_def ->> 'product',
        (p_def ->> 'validFrom')::timestamptz, (p_def ->> 'validTo')::timestamptz, iat,
        (units #>> '{professional,units}')::bigint,
        coalesce((units #>> '{professional,overage}')::bigint, 0),
        (units #>> '{analyzer,units}')::bigint,
        coalesce((units #>> '{analyzer,overage}')::bigint, 0),
        (units #>> '{analyzer_time,units}')::bigint,
        coalesce((units #>> '{analyzer_time,overage}')::bigint, 0),
        coalesce((p_def ->> 'tokens')::bigint, 0), (p_def ->> 'conversionDate')::timestamptz,
        engine.with_defaults(p_def -> 'parameters'), greatest(h.last_verified_at, iat), coalesce(h.revoked, false), p_now)
    ON CONFLICT (singleton) DO UPDATE SET
        license_number = EXCLUDED.license_number, organization = EXCLUDED.organization,
        product = EXCLUDED.product, valid_from = EXCLUDED.valid_from,
        valid_to = EXCLUDED.valid_to, issued_at = EXCLUDED.issued_at,
        professional_units = EXCLUDED.professional_units,
        professional_overage = EXCLUDED.professional_overage,
        analyzer_units = EXCLUDED.analyzer_units, analyzer_overage = EXCLUDED.analyzer_overage,
        capacity_units = EXCLUDED.capacity_units, capacity_overage = EXCLUDED.capacity_overage,
        tokens = EXCLUDED.tokens, conversion_date = EXCLUDED.conversion_date,
        parameters = EXCLUDED.parameters, last_verified_at = EXCLUDED.last_verified_at,
        revoked = EXCLUDED.revoked, applied_at = EXCLUDED.applied_at;
    INSERT INTO license_document (singleton, license_key, definition)
    VALUES (true, p_key, p_def)
    ON CONFLICT (singleton) DO UPDATE SET
        license_key = EXCLUDED.license_key, definition = EXCLUDED.definition;
    PERFORM engine.convert(p_now);
    PERFORM engine.webhook_allotment(p_now, 'professional');  -- alerts (webhook_allotment.sql)
    PERFORM engine.webhook_allotment(p_now, 'analyzer');
    RETURN 'ok';
END $$;

-- What the site has known of each license number it ever applied survives a
-- replacement of the license in force (license_history): the newest key's
-- signing time, the backend's word on revocation, the last verification.
CREATE FUNCTION engine.license_remember() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO license_history AS h (license_number, newest_issued_at, revoked, last_verified_at)
    VALUES (NEW.license_number, NEW.issued_at, NEW.revoked, NEW.last_verified_at)
    ON CONFLICT (license_number) DO UPDATE SET
        newest_issued_at = greatest(h.newest_issued_at, EXCLUDED.newest_issued_at),
        revoked = EXCLUDED.revoked,
        last_verified_at = greatest(h.last_verified_at, EXCLUDED.last_verified_at);
    RETURN NULL;
END $$;

CREATE TRIGGER license_remember AFTER INSERT OR UPDATE ON license
    FOR EACH ROW EXECUTE FUNCTION engine.license_remember();

-- allot-authority's state in PostgreSQL (`allot-authority migrate`), in a
-- schema of its own so that it can share a database with anything else.
-- One row per license number: what the state directory keeps in
-- licenses/NUMBER.json.  Times are unix seconds, as in the state files.
CREATE SCHEMA IF NOT EXISTS authority;

CREATE TABLE authority.licenses (
    license_number text PRIMARY KEY CHECK (license_number ~ '^[0-9]{1,32}$'),
    revoked boolean NOT NULL DEFAULT false,
    definition text,                 -- the current license key handed to the site
    definition_iat bigint,
    sync_count bigint NOT NULL DEFAULT 0,
    last_sync_at bigint,
    site text,
    assignments jsonb,
    site_definition_iat bigint,
    rate_window_start bigint,        -- the per-license sync rate limit's window
    rate_count integer NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL DEFAULT now(),
    CHECK ((definition IS NULL) = (definition_iat IS NULL))
);

-- Records one sync of a license under its row lock, so that any number of
-- authority instances on this database count it once and never lose one:
-- the rate limit (at most p_limit syncs per p_window seconds; p_limit 0: no
-- limit), then the sync itself.  A bearer key signed after the recorded
-- definition becomes the definition (the recorded one is kept otherwise: a
-- vendor's newer key).  Outcomes: ok, or rate_limited with retry_after (in
-- seconds; nothing is recorded).
CREATE FUNCTION authority.record_sync(p_number text, p_now bigint, p_site text,
                                      p_assignments jsonb, p_site_def_iat bigint,
                                      p_bearer text, p_bearer_iat bigint,
                                      p_limit integer, p_window bigint)
RETURNS TABLE (outcome text, retry_after bigint, revoked boolean, definition text,
               definition_iat bigint, sync_count bigint)
LANGUAGE plpgsql AS $$
DECLARE
    l authority.licenses;
    ws bigint := p_now;
    cnt integer := 0;
BEGIN
    INSERT INTO authority.licenses (license_number) VALUES (p_number)
    ON CONFLICT (license_number) DO NOTHING;
    SELECT * INTO l FROM authority.licenses WHERE license_number = p_number FOR UPDATE;
    IF p_limit > 0 THEN
        IF l.rate_window_start IS NOT NULL AND p_now >= l.rate_window_start
           AND p_now < l.rate_window_start + p_window THEN
            ws := l.rate_window_start;
            cnt := l.rate_count;
        END IF;
        IF cnt >= p_limit THEN
            RETURN QUERY SELECT 'rate_limited'::text, greatest(1, ws + p_window - p_now),
                                l.revoked, l.definition, l.definition_iat, l.sync_count;
            RETURN;
        END IF;
        cnt := cnt + 1;
    END IF;
    RETURN QUERY
    UPDATE authority.licenses a SET
        definition = CASE WHEN l.definition IS NULL OR p_bearer_iat > l.definition_iat
                          THEN p_bearer ELSE l.definition END,
        definition_iat = CASE WHEN l.definition IS NULL OR p_bearer_iat > l.definition_iat
                              THEN p_bearer_iat ELSE l.definition_iat END,
        sync_count = l.sync_count + 1, last_sync_at = p_now, site = p_site,
        assignments = p_assignments, site_definition_iat = p_site_def_iat,
        rate_window_start = ws, rate_count = cnt, updated_at = now()
    WHERE a.license_number = p_number
    RETURNING 'ok'::text, 0::bigint, a.revoked, a.definition, a.definition_iat, a.sync_count;
END $$;

-- revoke (p_revoked) or revoke --undo, under the row lock.
CREATE FUNCTION authority.set_revoked(p_number text, p_revoked boolean) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO authority.licenses AS a (license_number, revoked) VALUES (p_number, p_revoked)
    ON CONFLICT (license_number) DO UPDATE SET revoked = p_revoked, updated_at = now();
$$;

-- issue --database: the key becomes the current definition of its number.
CREATE FUNCTION authority.set_definition(p_number text, p_key text, p_iat bigint) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO authority.licenses AS a (license_number, definition, definition_iat)
    VALUES (p_number, p_key, p_iat)
    ON CONFLICT (license_number) DO UPDATE
        SET definition = p_key, definition_iat = p_iat, updated_at = now();
$$;

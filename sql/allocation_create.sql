-- POST /allocations: ties a user to professional, analyzer or a user access
-- pass.  The number of allocations of a type that count (live and
-- quarantined) never exceeds what the license allows: they are counted
-- under the license row's lock.  Outcomes: ok, license_*, unknown_user,
-- allocation_held, allocation_quarantined (reinstate it instead),
-- no_allotment.
CREATE FUNCTION engine.allocation_create(p_user uuid, p_type text, p_now timestamptz)
RETURNS engine.allocation_reply LANGUAGE plpgsql AS $$
DECLARE
    l license;
    u users;
    a allocations;
    st text;
BEGIN
    SELECT * INTO u FROM users WHERE id = p_user FOR UPDATE;
    SELECT * INTO l FROM license FOR UPDATE;
    st := engine.license_status(l, p_now);
    IF st <> 'ok' THEN
        RETURN engine.allocation_reply(engine.license_outcome(st), NULL);
    END IF;
    IF u.id IS NULL THEN
        RETURN engine.allocation_reply('unknown_user', NULL);
    END IF;
    SELECT * INTO a FROM allocations x
     WHERE x.user_ref = p_user AND x.type = p_type AND engine.alloc_counts(x, p_now)
     ORDER BY x.quarantine_end NULLS FIRST LIMIT 1;
    IF a.id IS NOT NULL THEN
        RETURN engine.allocation_reply(CASE WHEN a.quarantine_end IS NULL THEN 'allocation_held'
                                           ELSE 'allocation_quarantined' END::engine.outcome, a);
    END IF;
    IF NOT engine.has_room(l, p_type, p_now) THEN
        RETURN engine.allocation_reply('no_allotment', NULL);
    END IF;
    DELETE FROM allocations x WHERE x.user_ref = p_user AND x.type = p_type
       AND NOT engine.alloc_counts(x, p_now);
    INSERT INTO allocations (type, user_ref, user_directory, user_id)
    VALUES (p_type, u.id, u.user_directory, u.user_id) RETURNING * INTO a;
    PERFORM engine.webhook_allotment(p_now, p_type);  -- alerts (webhook_allotment.sql)
    RETURN engine.allocation_reply('ok', a);
END $$;

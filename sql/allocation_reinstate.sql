-- POST /allocations/{id}/actions/reinstate: an allocation in quarantine goes
-- back to its user (it never stopped counting).  Outcomes: ok, license_*,
-- allocation_not_found, allocation_live (not in quarantine),
-- allocation_user_deleted, allocation_held (the user has a live one).
CREATE FUNCTION engine.allocation_reinstate(p_id uuid, p_now timestamptz)
RETURNS engine.allocation_reply LANGUAGE plpgsql AS $$
DECLARE
    l license;
    a allocations;
    st text;
BEGIN
    PERFORM 1 FROM users WHERE id = (SELECT x.user_ref FROM allocations x WHERE x.id = p_id)
        FOR UPDATE;
    SELECT * INTO l FROM license FOR UPDATE;
    st := engine.license_status(l, p_now);
    IF st <> 'ok' THEN
        RETURN engine.allocation_reply(engine.license_outcome(st), NULL);
    END IF;
    SELECT * INTO a FROM allocations WHERE id = p_id FOR UPDATE;
    IF a.id IS NULL OR NOT engine.alloc_counts(a, p_now) THEN
        RETURN engine.allocation_reply('allocation_not_found', NULL);
    END IF;
    IF a.quarantine_end IS NULL THEN
        RETURN engine.allocation_reply('allocation_live', a);
    END IF;
    IF a.user_ref IS NULL THEN
        RETURN engine.allocation_reply('allocation_user_deleted', a);
    END IF;
    IF EXISTS (SELECT 1 FROM allocations x WHERE x.user_ref = a.user_ref AND x.type = a.type
                AND x.quarantine_end IS NULL) THEN
        RETURN engine.allocation_reply('allocation_held', a);
    END IF;
    UPDATE allocations SET quarantine_end = NULL WHERE id = a.id RETURNING * INTO a;
    RETURN engine.allocation_reply('ok', a);
END $$;

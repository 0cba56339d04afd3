-- DELETE /allocations/{id}.  Outcomes: released (gone at once), ok (the
-- allocation is in quarantine, now or already), allocation_not_found.
CREATE FUNCTION engine.allocation_delete(p_id uuid, p_now timestamptz)
RETURNS engine.allocation_reply LANGUAGE plpgsql AS $$
DECLARE
    a allocations;
BEGIN
    PERFORM 1 FROM users WHERE id = (SELECT x.user_ref FROM allocations x WHERE x.id = p_id)
        FOR UPDATE;
    SELECT * INTO a FROM allocations WHERE id = p_id FOR UPDATE;
    IF a.id IS NULL OR NOT engine.alloc_counts(a, p_now) THEN
        RETURN engine.allocation_reply('allocation_not_found', NULL);
    END IF;
    IF a.quarantine_end IS NOT NULL THEN  -- removed already: still in quarantine
        RETURN engine.allocation_reply('ok', a);
    END IF;
    a := engine.allocation_remove(a, p_now, 'allocation_removed');
    RETURN engine.allocation_reply(CASE WHEN a.id IS NULL THEN 'released' ELSE 'ok' END::engine.outcome, a);
END $$;

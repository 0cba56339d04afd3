-- Removing an allocation (DOMAIN.md "Allocations and quarantine"): one used
-- within the last quarantineSeconds goes to quarantine until its last use
-- plus quarantineSeconds and keeps counting as taken; one not used in that
-- window is released at once.  The sessions running on it end first (their
-- last activity is its last use).  Returns the allocation as it is now: in
-- quarantine, or released (NULL).  Callers hold the user's row lock.
CREATE FUNCTION engine.allocation_remove(a allocations, p_now timestamptz, p_reason text)
RETURNS allocations LANGUAGE plpgsql AS $$
DECLARE
    l license;
    s sessions;
    q allocations;
    last timestamptz;
    quarantine interval;
BEGIN
    SELECT * INTO l FROM license;
    quarantine := (engine.with_defaults(l.parameters) ->> 'quarantineSeconds')::bigint
                  * interval '1 second';
    FOR s IN SELECT * FROM sessions x
              WHERE x.user_ref = a.user_ref AND x.ended_at IS NULL
                AND x.allocation_id = a.id
              FOR UPDATE LOOP
        PERFORM engine.session_close(s, p_now, p_reason, 'Ok');
    END LOOP;
    SELECT * INTO a FROM allocations WHERE id = a.id;
    last := engine.allocation_last_used(a);
    IF last IS NOT NULL AND last + quarantine > p_now THEN
        UPDATE allocations SET quarantine_end = last + quarantine
         WHERE id = a.id RETURNING * INTO q;
        RETURN q;
    END IF;
    DELETE FROM allocations WHERE id = a.id;
    RETURN NULL;
END $$;

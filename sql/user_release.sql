-- What a user leaves when the directory deactivates or deletes them
-- (DOMAIN.md "Allocations and quarantine"): their allocations follow the
-- quarantine rule (one used within quarantineSeconds stays taken until its
-- last use plus quarantineSeconds, and can be reinstated; one not used in
-- that window is released at once), then their other sessions end.  The
-- reason goes with each end to the audit trail.  Callers hold the user's row
-- lock.
CREATE FUNCTION engine.user_release(p_user uuid, p_now timestamptz, p_reason text)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    a allocations;
    s sessions;
BEGIN
    FOR a IN SELECT * FROM allocations WHERE user_ref = p_user AND quarantine_end IS NULL
              FOR UPDATE LOOP
        PERFORM engine.allocation_remove(a, p_now, p_reason);
    END LOOP;
    FOR s IN SELECT * FROM sessions x WHERE x.user_ref = p_user AND x.ended_at IS NULL
              FOR UPDATE LOOP
        PERFORM engine.session_close(s, p_now, p_reason, 'Ok');
    END LOOP;
END $$;

-- DELETE /users/{id}: ends the user's sessions; their allocations follow the
-- quarantine rule and keep the directory account, so a quarantined one still
-- shows whom it belonged to.  Outcomes: ok, user_not_found.
CREATE FUNCTION engine.user_delete(p_user uuid, p_now timestamptz)
RETURNS engine.outcome LANGUAGE plpgsql AS $$
DECLARE
    a allocations;
    s sessions;
BEGIN
    PERFORM 1 FROM users WHERE id = p_user FOR UPDATE;
    IF NOT FOUND THEN
        RETURN 'user_not_found';
    END IF;
    FOR a IN SELECT * FROM allocations WHERE user_ref = p_user AND quarantine_end IS NULL
              FOR UPDATE LOOP
        PERFORM engine.allocation_remove(a, p_now, 'user_deleted');
    END LOOP;
    FOR s IN SELECT * FROM sessions x WHERE x.user_ref = p_user AND x.ended_at IS NULL
              FOR UPDATE LOOP
        PERFORM engine.session_close(s, p_now, 'user_deleted', 'Ok');
    END LOOP;
    DELETE FROM users WHERE id = p_user;
    RETURN 'ok';
END $$;

-- DELETE /users/{id} (and DELETE /scim/v2/Users/{id}): ends the user's
-- sessions; their allocations follow the quarantine rule and keep the
-- directory account, so a quarantined one still shows whom it belonged to.
-- Outcomes: ok, user_not_found.
CREATE FUNCTION engine.user_delete(p_user uuid, p_now timestamptz)
RETURNS engine.outcome LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM users WHERE id = p_user FOR UPDATE;
    IF NOT FOUND THEN
        RETURN 'user_not_found';
    END IF;
    PERFORM engine.user_release(p_user, p_now, 'user_deleted');
    DELETE FROM users WHERE id = p_user;
    RETURN 'ok';
END $$;

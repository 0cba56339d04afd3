-- DELETE /sessions/{id} (logout).  Outcomes: ok (also for a session that had
-- ended already), session_not_found.  The session keeps its user's slot for
-- sessionLingerSeconds (DOMAIN.md: the model's five minutes).
CREATE FUNCTION engine.session_end(p_session uuid, p_now timestamptz)
RETURNS engine.session_reply LANGUAGE plpgsql AS $$
DECLARE
    s sessions;
BEGIN
    PERFORM 1 FROM users WHERE id = (SELECT x.user_ref FROM sessions x WHERE x.id = p_session)
        FOR UPDATE;
    SELECT * INTO s FROM sessions WHERE id = p_session FOR UPDATE;
    IF s.id IS NULL THEN
        RETURN engine.session_reply('session_not_found', NULL);
    END IF;
    IF s.ended_at IS NULL THEN
        s := engine.session_close(s, p_now, 'logout', 'Ok');
    END IF;
    RETURN engine.session_reply('ok', s);
END $$;

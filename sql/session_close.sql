-- Ends an active session and records why: the user's row counts one active
-- session less, and the session stays live (it keeps its user's slot) for
-- sessionLingerSeconds after ended_at; the reaper frees the slot.  An allocation the session ran on records the last use.  Callers
-- hold the user's row lock (the lock order: the user, then the license,
-- rules and capacity months, then sessions and allocations).
CREATE FUNCTION engine.session_close(s sessions, p_now timestamptz, p_reason text, p_result text)
RETURNS sessions LANGUAGE plpgsql AS $$
DECLARE
    ended sessions;
BEGIN
    UPDATE sessions SET ended_at = p_now, end_reason = p_reason
     WHERE id = s.id RETURNING * INTO ended;
    UPDATE users SET sessions_active = sessions_active - 1 WHERE id = s.user_ref;
    IF s.allocation_id IS NOT NULL THEN
        UPDATE allocations SET last_used = greatest(last_used, s.last_activity)
         WHERE id = s.allocation_id;
    END IF;
    PERFORM engine.event(p_now, 'end', s.id, s.user_ref, s.user_directory, s.user_id,
                        s.access_type, p_result, 0, p_reason);
    RETURN ended;
END $$;

-- A session with no activity for the site's idle timeout ends by itself, at
-- the moment it became idle (so its linger starts there).
CREATE FUNCTION engine.session_idle_end(s sessions, p_idle bigint) RETURNS timestamptz
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN s.last_activity + p_idle * interval '1 second';

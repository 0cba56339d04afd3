-- The reaper, on every allotd instance at once (rows taken by another are
-- skipped): ends sessions idle for p_idle seconds, frees the slots of
-- sessions whose linger is over, forgets allocations whose quarantine is
-- over, and converts the license after its conversion date.  Returns the
-- number of sessions it ended.  Active sessions are few whatever the
-- history: it reads them through the partial index sessions_active, never an
-- index on last_activity (which would make every heartbeat rewrite it).
CREATE FUNCTION engine.reap(p_now timestamptz, p_idle bigint)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    l license;
    c record;
    s sessions;
    n integer := 0;
BEGIN
    SELECT * INTO l FROM license;
    FOR c IN SELECT x.id, x.user_ref FROM sessions x
              WHERE x.ended_at IS NULL
                AND x.last_activity <= p_now - p_idle * interval '1 second' LOOP
        -- The lock order of every other path: the user, then the session.
        IF c.user_ref IS NOT NULL THEN
            PERFORM 1 FROM users WHERE id = c.user_ref FOR UPDATE SKIP LOCKED;
            CONTINUE WHEN NOT FOUND;
        END IF;
        SELECT * INTO s FROM sessions x WHERE x.id = c.id AND x.ended_at IS NULL
           FOR UPDATE SKIP LOCKED;
        CONTINUE WHEN s.id IS NULL OR engine.session_idle_end(s, p_idle) > p_now;
        PERFORM engine.session_close(s, engine.session_idle_end(s, p_idle), 'idle', 'Ok');
        n := n + 1;
    END LOOP;
    -- (an ended capacity session stays live while its block runs: the
    -- user's next session within the block shares it, engine.user_block_end)
    UPDATE sessions SET live = false
     WHERE live AND ended_at IS NOT NULL
       AND ended_at <= p_now - coalesce(engine.seconds(l, 'sessionLingerSeconds'), interval '0')
       AND NOT (access_type = 'analyzer_time' AND paid_until > p_now);
    DELETE FROM allocations WHERE quarantine_end IS NOT NULL AND quarantine_end <= p_now;
    PERFORM engine.convert(p_now);
    RETURN n;
END $$;

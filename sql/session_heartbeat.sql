-- POST /sessions/{id}/heartbeat: records activity.  Outcomes: ok;
-- session_not_found; session_ended (already over, or idle for p_idle
-- seconds: it ends at the moment it became idle); or a refusal that ends the
-- session: license_* (the license is no longer in order), no_access_type
-- (a login window or capacity block ran out and none is left, or the
-- conversion date ended the token passes).
--
-- The usual beat only records activity: the session is active, not idle,
-- has paid for now (its login window or capacity block runs, or it is on an
-- allocation), and the license is in order.  That beat touches the
-- session's row alone (a HOT update: no index covers last_activity), and
-- allotd sends the usual beats of many sessions in one statement
-- (engine.session_beats).
CREATE FUNCTION engine.beat_only_records(x sessions, g license, p_now timestamptz, p_idle bigint)
RETURNS boolean LANGUAGE sql STABLE PARALLEL SAFE
    RETURN x.ended_at IS NULL AND x.paid_until > p_now
       AND x.last_activity > p_now - p_idle * interval '1 second'
       AND engine.license_status(g, p_now) = 'ok';

-- The usual beats of several sessions (allotd batches concurrent heartbeats):
-- a row for each session whose beat only records activity, with its place n
-- in p_sessions; the others are left for engine.session_heartbeat.  Planned
-- once per connection: a plan for each call's array would cost five times the
-- beat itself (tests/db/test_engine.c).
CREATE FUNCTION engine.session_beats(p_sessions uuid[], p_now timestamptz, p_idle bigint)
RETURNS TABLE (reply engine.session_reply, n bigint)
LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    WITH beat AS (
        UPDATE sessions x SET last_activity = p_now
          FROM license g, unnest(p_sessions) WITH ORDINALITY AS b(sid, n)
         WHERE x.id = b.sid AND engine.beat_only_records(x, g, p_now, p_idle)
        RETURNING x, b.n)
    SELECT engine.session_reply('ok', beat.x), beat.n FROM beat;
END $$;

CREATE FUNCTION engine.session_heartbeat(p_session uuid, p_now timestamptz, p_idle bigint)
RETURNS engine.session_reply LANGUAGE plpgsql AS $$
DECLARE
    l license;
    s sessions;
    u users;
    p login_passes;
    st text;
    v_paid timestamptz;
BEGIN
    -- The usual beat, in one statement that touches only the session's row.
    UPDATE sessions x SET last_activity = p_now
      FROM license g
     WHERE x.id = p_session AND engine.beat_only_records(x, g, p_now, p_idle)
    RETURNING x.* INTO s;
    IF s.id IS NOT NULL THEN
        RETURN engine.session_reply('ok', s);
    END IF;

    -- Everything else, under the user's lock as at session start: a user's
    -- beats and starts take login passes and capacity blocks one at a time.
    SELECT * INTO u FROM users WHERE id = (SELECT x.user_ref FROM sessions x WHERE x.id = p_session)
       FOR UPDATE;
    SELECT * INTO s FROM sessions WHERE id = p_session FOR UPDATE;
    IF s.id IS NULL THEN
        RETURN engine.session_reply('session_not_found', NULL);
    END IF;
    IF s.ended_at IS NULL AND engine.session_idle_end(s, p_idle) <= p_now THEN
        s := engine.session_close(s, engine.session_idle_end(s, p_idle), 'idle', 'Ok');
    END IF;
    IF s.ended_at IS NOT NULL THEN
        RETURN engine.session_reply('session_ended', s);
    END IF;
    SELECT * INTO l FROM license;
    st := engine.license_status(l, p_now);
    IF st <> 'ok' THEN
        s := engine.session_close(s, p_now, 'license_' || st, 'LicenseNotAvailable');
        RETURN engine.session_reply(engine.license_outcome(st), s);
    END IF;

    v_paid := s.paid_until;
    IF v_paid <= p_now THEN
        -- What the session paid for ran out: pay again, if anything is left.
        v_paid := NULL;
        IF s.access_type = 'login' AND u.id IS NOT NULL THEN
            p := engine.login_pay(l, u, p_now);
            IF p.id IS NOT NULL THEN
                v_paid := least(p.window_end, coalesce(l.conversion_date, 'infinity'));
                s.login_pass_id := p.id;
                s.rule_id := p.rule_id;
            END IF;
        ELSIF s.access_type = 'analyzer_time' AND u.id IS NOT NULL THEN
            v_paid := engine.capacity_pay(l, u.id, p_now);
        ELSIF s.access_type = 'user' AND engine.tokens_usable(l, p_now) THEN
            -- A user access pass runs until the conversion date in force: a
            -- license applied since the session started may have moved it
            -- (tests/db/test_rules_login.c; the session ended at the old one).
            v_paid := coalesce(l.conversion_date, 'infinity');
        END IF;
        IF v_paid IS NULL THEN
            s := engine.session_close(s, p_now, 'no_access_pass', 'NoAvailableAccessType');
            RETURN engine.session_reply('no_access_type', s);
        END IF;
    END IF;
    UPDATE sessions SET last_activity = p_now, paid_until = v_paid,
                        login_pass_id = s.login_pass_id, rule_id = s.rule_id
     WHERE id = s.id RETURNING * INTO s;
    RETURN engine.session_reply('ok', s);
END $$;

-- POST /sessions: starting a session is the license check (DOMAIN.md
-- "Sessions: the license check at the hub").  The user is named by id, or by
-- directory and user id.  The order in which access is resolved:
--   1. an existing professional allocation, 2. analyzer, 3. user access pass
--      (an allocation beyond a shrunk allotment is skipped: excess),
--   4. a dynamic assignment by a professional rule, then an analyzer rule,
--      while a unit is free (the user's own quarantined one first),
--   5. a login pass from a matching login access group (the user's open
--      window first),
--   6. analyzer capacity from a matching capacity rule.
-- Nothing left: refused.  Every grant and refusal goes to the audit trail.
-- Locks: the user's row first, so that a user's starts, heartbeats and
-- removals are serialised and the parallel-session limit is exact (the row
-- counts the user's active sessions); the license row only when a unit is
-- taken, under which units are counted.
-- Its statements are planned once per connection (plan_cache_mode): a plan
-- chosen for each call's values would be planned again at every call, for
-- key lookups whose plan never changes.
CREATE FUNCTION engine.session_start(p_user uuid, p_dir text, p_uid text, p_now timestamptz)
RETURNS engine.session_reply LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan AS $$
DECLARE
    l license;
    u users;
    a record;
    p login_passes;
    s sessions;
    st text;
    in_use bigint;
    held text[] := '{}';
    kind text;
    excess boolean := false;
    pending boolean := false;
    v_outcome engine.outcome;
    v_access text;
    v_via text;
    v_alloc uuid;
    v_rule uuid;
    v_pass uuid;
    v_paid timestamptz := 'infinity';
    usual engine.session_reply;
BEGIN
    -- The usual start (engine.session_starts) first; the rest below.
    IF p_user IS NOT NULL THEN
        SELECT (b.reply).* INTO usual FROM engine.session_starts(ARRAY[p_user], p_now) b;
        IF usual.id IS NOT NULL THEN
            RETURN usual;
        END IF;
    END IF;

    -- The user's row, locked, with the start counted at once: most starts
    -- are granted (a refusal takes it back below).
    IF p_user IS NOT NULL THEN
        UPDATE users SET sessions_active = sessions_active + 1 WHERE id = p_user RETURNING * INTO u;
    ELSE
        UPDATE users SET sessions_active = sessions_active + 1
         WHERE user_directory = p_dir AND user_id = p_uid RETURNING * INTO u;
    END IF;
    IF u.id IS NULL THEN
        PERFORM engine.event(p_now, 'refusal', NULL, NULL, p_dir, p_uid, NULL, 'UnknownUser', 0, NULL);
        RETURN engine.session_reply('unknown_user', NULL);
    END IF;

    <<decide>>
    BEGIN
        -- Deactivated in the directory (SCIM active: false): no access.
        IF NOT u.active THEN
            v_outcome := 'user_inactive';
            EXIT decide;
        END IF;
        SELECT * INTO l FROM license;
        st := engine.license_status(l, p_now);
        IF st <> 'ok' THEN
            v_outcome := engine.license_outcome(st);
            EXIT decide;
        END IF;

        -- The user's slots: active sessions (counted on the user's row) and
        -- those ended within the linger.
        in_use := u.sessions_active - 1
                  + (SELECT count(*) FROM sessions x
                      WHERE x.user_ref = u.id AND x.live AND x.ended_at IS NOT NULL
                        AND x.ended_at > p_now - engine.seconds(l, 'sessionLingerSeconds'));
        IF in_use >= engine.param(l, 'maxParallelSessions') THEN
            v_outcome := 'too_many_sessions';
            EXIT decide;
        END IF;

        -- 1-3: an allocation the user holds, in that order.  Usually the first
        -- one is in order: no more of its type are assigned than the license
        -- allows (allocation_counts, kept by a trigger, counts them all).
        SELECT x.id, x.type, x.created_at, c.n INTO a
          FROM allocations x JOIN allocation_counts c ON c.type = x.type
         WHERE x.user_ref = u.id AND x.quarantine_end IS NULL
         ORDER BY array_position(ARRAY['professional', 'analyzer', 'user'], x.type) LIMIT 1;
        IF a.id IS NOT NULL AND a.type <> 'user' AND a.n <= engine.type_allowed(l, a.type) THEN
            v_access := a.type; v_alloc := a.id; v_via := 'existing_allocation';
            EXIT decide;
        END IF;
        IF a.id IS NOT NULL THEN
            FOR a IN SELECT x.id, x.type, x.created_at FROM allocations x
                      WHERE x.user_ref = u.id AND x.quarantine_end IS NULL
                      ORDER BY array_position(ARRAY['professional', 'analyzer', 'user'], x.type) LOOP
                held := held || a.type;
                IF engine.alloc_excess(l, a.type, a.created_at, a.id, p_now) THEN
                    excess := true;
                ELSE
                    v_access := a.type; v_alloc := a.id; v_via := 'existing_allocation';
                    IF a.type = 'user' THEN
                        v_paid := coalesce(l.conversion_date, 'infinity');
                    END IF;
                    EXIT decide;
                END IF;
            END LOOP;
        END IF;

        -- 4: dynamic assignment by a professional rule, then an analyzer rule.
        FOREACH kind IN ARRAY ARRAY['professional', 'analyzer'] LOOP
            CONTINUE WHEN kind = ANY (held);  -- holds one (in excess): no second
            SELECT x.id INTO v_rule FROM rules x
             WHERE x.access_type = kind AND engine.rule_matches(x, u)
             ORDER BY x.created_at, x.id LIMIT 1;
            CONTINUE WHEN v_rule IS NULL;
            SELECT * INTO l FROM license FOR UPDATE;  -- units are counted under this lock
            -- The user's own allocation in quarantine still holds a unit: take it back
            -- (unless a shrunk license left it beyond the allotment: taken back, it
            -- granted a unit the license does not have; tests/db/test_rules_allocations.c).
            UPDATE allocations x SET quarantine_end = NULL
             WHERE x.id = (SELECT y.id FROM allocations y
                            WHERE y.user_ref = u.id AND y.type = kind AND y.quarantine_end > p_now
                            ORDER BY y.quarantine_end DESC LIMIT 1)
               AND NOT engine.alloc_excess(l, kind, x.created_at, x.id, p_now)
            RETURNING x.id INTO v_alloc;
            IF v_alloc IS NULL AND engine.has_room(l, kind, p_now) THEN
                DELETE FROM allocations x WHERE x.user_ref = u.id AND x.type = kind
                   AND NOT engine.alloc_counts(x, p_now);
                INSERT INTO allocations (type, user_ref, user_directory, user_id, rule_id)
                VALUES (kind, u.id, u.user_directory, u.user_id, v_rule) RETURNING id INTO v_alloc;
                PERFORM engine.webhook_allotment(p_now, kind);  -- alerts (webhook_allotment.sql)
            END IF;
            IF v_alloc IS NOT NULL THEN
                v_access := kind; v_via := 'dynamic_assignment';
                EXIT decide;
            END IF;
            pending := true;
            v_rule := NULL;
        END LOOP;

        -- 5: a login pass: the user's open window first, else a new pass.
        IF EXISTS (SELECT 1 FROM rules x WHERE x.access_type = 'login'
                    AND engine.rule_matches(x, u)) THEN
            p := engine.login_window(u.id, p_now);
            v_via := 'open_window';
            IF p.id IS NULL THEN
                p := engine.login_take(l, u, p_now);
                v_via := 'new_pass';
            END IF;
            IF p.id IS NOT NULL AND engine.tokens_usable(l, p_now) THEN
                v_access := 'login'; v_pass := p.id; v_rule := p.rule_id;
                v_paid := least(p.window_end, coalesce(l.conversion_date, 'infinity'));
                EXIT decide;
            END IF;
            v_via := NULL;
        END IF;

        -- 6: analyzer capacity from a capacity rule.
        IF EXISTS (SELECT 1 FROM rules x WHERE x.access_type = 'analyzer_time'
                    AND engine.rule_matches(x, u)) THEN
            v_paid := engine.capacity_pay(l, u.id, p_now);
            IF v_paid IS NOT NULL THEN
                v_access := 'analyzer_time'; v_via := 'capacity';
                EXIT decide;
            END IF;
        END IF;

        v_outcome := CASE WHEN excess THEN 'excess_assignment'
                          WHEN pending THEN 'pending_user_sync'
                          ELSE 'no_access_type' END;
    END decide;

    IF v_outcome IS NOT NULL THEN
        UPDATE users SET sessions_active = sessions_active - 1 WHERE id = u.id;
        PERFORM engine.event(p_now, 'refusal', NULL, u.id, u.user_directory, u.user_id, NULL,
                            engine.result_code(v_outcome), coalesce(in_use, 0),
                            CASE WHEN v_outcome::text LIKE 'license\_%' THEN st
                                 WHEN v_outcome = 'user_inactive' THEN 'user_inactive' END);
        RETURN engine.session_reply(v_outcome, NULL);
    END IF;

    INSERT INTO sessions (id, user_ref, user_directory, user_id, access_type, allocation_id,
                          rule_id, login_pass_id, paid_until, started_at, last_activity, live)
    VALUES (engine.new_id(p_now), u.id, u.user_directory, u.user_id, v_access, v_alloc, v_rule,
            v_pass, v_paid, p_now, p_now, true)
    RETURNING * INTO s;
    PERFORM engine.event(p_now, 'grant', s.id, u.id, u.user_directory, u.user_id, v_access, 'Ok',
                        in_use + 1, v_via);
    RETURN engine.session_reply('ok', s);
END $$;

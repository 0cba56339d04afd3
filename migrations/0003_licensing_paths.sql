-- The transactional paths of the licensing core, one SQL function each so that
-- each is one round trip.  `p_now` always comes from allotd (its clock), so
-- the rules see the same time as the code that checks them.

-- Removing an allocation: quarantined until last_used + quarantine when it was
-- used within that window (it keeps counting), else released at once.
-- Returns the allocation (quarantined) or NULL (released).
CREATE FUNCTION allot_allocation_remove(a allocations, p_now timestamptz, p_quarantine bigint)
RETURNS json LANGUAGE plpgsql AS $$
DECLARE
    q allocations;
BEGIN
    IF a.last_used IS NOT NULL AND a.last_used + p_quarantine * interval '1 second' > p_now THEN
        UPDATE allocations SET quarantine_end = a.last_used + p_quarantine * interval '1 second'
         WHERE id = a.id RETURNING * INTO q;
        RETURN allot_allocation_json(q);
    END IF;
    DELETE FROM allocations WHERE id = a.id;
    RETURN NULL;
END $$;

CREATE FUNCTION allot_quarantine_seconds() RETURNS bigint
    LANGUAGE sql STABLE
    RETURN coalesce((SELECT quarantine FROM license), 604800);

-- POST /allocations.  status: ok, outdated, no_license, unknown_user,
-- conflict, quarantined (reinstate it instead), no_allotment.
CREATE FUNCTION allot_allocation_create(p_user uuid, p_type text, p_now timestamptz)
RETURNS TABLE (status text, body json) LANGUAGE plpgsql AS $$
DECLARE
    l license;
    u users;
    a allocations;
    st text;
BEGIN
    -- Lock order everywhere: the user, then the license, then rules and months.
    SELECT * INTO u FROM users WHERE id = p_user FOR UPDATE;
    SELECT * INTO l FROM license FOR UPDATE;
    st := allot_license_status(l, p_now);
    IF st = 'stale' THEN RETURN QUERY SELECT 'outdated', NULL::json; RETURN; END IF;
    IF st <> 'ok' THEN RETURN QUERY SELECT 'no_license', NULL::json; RETURN; END IF;
    IF u.id IS NULL THEN RETURN QUERY SELECT 'unknown_user', NULL::json; RETURN; END IF;
    SELECT * INTO a FROM allocations x
     WHERE x.user_ref = p_user AND x.type = p_type AND allot_alloc_counts(x, p_now)
     ORDER BY x.quarantine_end NULLS FIRST LIMIT 1;
    IF FOUND THEN
        RETURN QUERY SELECT CASE WHEN a.quarantine_end IS NULL THEN 'conflict' ELSE 'quarantined' END,
                            allot_allocation_json(a);
        RETURN;
    END IF;
    IF NOT allot_has_room(l, p_type, p_now) THEN
        RETURN QUERY SELECT 'no_allotment', NULL::json; RETURN;
    END IF;
    DELETE FROM allocations x WHERE x.user_ref = p_user AND x.type = p_type
       AND NOT allot_alloc_counts(x, p_now);
    INSERT INTO allocations (type, user_ref, user_directory, user_id)
    VALUES (p_type, u.id, u.user_directory, u.user_id) RETURNING * INTO a;
    RETURN QUERY SELECT 'ok', allot_allocation_json(a);
END $$;

-- DELETE /allocations/{id}.  status: released (gone at once), ok (the body
-- is the allocation, in quarantine now or already), not_found.
CREATE FUNCTION allot_allocation_delete(p_id uuid, p_now timestamptz)
RETURNS TABLE (status text, body json) LANGUAGE plpgsql AS $$
DECLARE
    a allocations;
    j json;
BEGIN
    -- The user first (the lock order of heartbeats, which touch the allocation).
    PERFORM 1 FROM users WHERE id = (SELECT user_ref FROM allocations WHERE id = p_id) FOR UPDATE;
    SELECT * INTO a FROM allocations WHERE id = p_id FOR UPDATE;
    IF NOT FOUND OR NOT allot_alloc_counts(a, p_now) THEN
        RETURN QUERY SELECT 'not_found', NULL::json; RETURN;
    END IF;
    IF a.quarantine_end IS NOT NULL THEN  -- removed already: still in quarantine
        RETURN QUERY SELECT 'ok', allot_allocation_json(a); RETURN;
    END IF;
    UPDATE sessions SET ended_at = p_now, end_reason = 'allocation_removed'
     WHERE allocation_id = a.id AND ended_at IS NULL;
    j := allot_allocation_remove(a, p_now, allot_quarantine_seconds());
    RETURN QUERY SELECT CASE WHEN j IS NULL THEN 'released' ELSE 'ok' END, j;
END $$;

-- POST /allocations/{id}/actions/reinstate.  status: ok, outdated,
-- no_license, not_found, not_quarantined, conflict (the user has a live one),
-- user_deleted.
CREATE FUNCTION allot_allocation_reinstate(p_id uuid, p_now timestamptz)
RETURNS TABLE (status text, body json) LANGUAGE plpgsql AS $$
DECLARE
    l license;
    a allocations;
    st text;
BEGIN
    PERFORM 1 FROM users WHERE id = (SELECT user_ref FROM allocations WHERE id = p_id) FOR UPDATE;
    SELECT * INTO l FROM license FOR UPDATE;
    st := allot_license_status(l, p_now);
    IF st = 'stale' THEN RETURN QUERY SELECT 'outdated', NULL::json; RETURN; END IF;
    IF st <> 'ok' THEN RETURN QUERY SELECT 'no_license', NULL::json; RETURN; END IF;
    SELECT * INTO a FROM allocations WHERE id = p_id FOR UPDATE;
    IF NOT FOUND OR NOT allot_alloc_counts(a, p_now) THEN
        RETURN QUERY SELECT 'not_found', NULL::json; RETURN;
    END IF;
    IF a.quarantine_end IS NULL THEN
        RETURN QUERY SELECT 'not_quarantined', allot_allocation_json(a); RETURN;
    END IF;
    IF a.user_ref IS NULL THEN
        RETURN QUERY SELECT 'user_deleted', allot_allocation_json(a); RETURN;
    END IF;
    IF EXISTS (SELECT 1 FROM allocations x WHERE x.user_ref = a.user_ref AND x.type = a.type
                AND x.quarantine_end IS NULL) THEN
        RETURN QUERY SELECT 'conflict', allot_allocation_json(a); RETURN;
    END IF;
    UPDATE allocations SET quarantine_end = NULL WHERE id = a.id RETURNING * INTO a;
    RETURN QUERY SELECT 'ok', allot_allocation_json(a);
END $$;

-- DELETE /users/{id}: ends the user's sessions; allocations follow the
-- quarantine rule and keep the directory account for display.
CREATE FUNCTION allot_user_delete(p_user uuid, p_now timestamptz)
RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
    a allocations;
    q bigint := allot_quarantine_seconds();
BEGIN
    PERFORM 1 FROM users WHERE id = p_user FOR UPDATE;
    IF NOT FOUND THEN RETURN false; END IF;
    PERFORM 1 FROM license FOR UPDATE;
    UPDATE sessions SET ended_at = p_now, end_reason = 'user_deleted'
     WHERE user_ref = p_user AND ended_at IS NULL;
    FOR a IN SELECT * FROM allocations WHERE user_ref = p_user AND quarantine_end IS NULL LOOP
        PERFORM allot_allocation_remove(a, p_now, q);
    END LOOP;
    DELETE FROM users WHERE id = p_user;
    RETURN true;
END $$;

-- Appends to the audit trail.
CREATE FUNCTION allot_event(p_now timestamptz, p_kind text, p_session uuid, u users,
                            p_access text, p_result text, p_count bigint, p_detail text)
RETURNS void LANGUAGE sql AS $$
    INSERT INTO session_events (at, kind, session_id, user_ref, user_directory, user_id,
                                access_type, result_code, session_count, detail)
    VALUES (p_now, p_kind, p_session, u.id, u.user_directory, u.user_id, p_access, p_result,
            p_count, p_detail);
$$;

-- Charges one capacity block for the month of p_now if the pool allows.
CREATE FUNCTION allot_capacity_charge(l license, p_now timestamptz) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    m date := date_trunc('month', p_now AT TIME ZONE 'UTC')::date;
    block bigint := (l.capacity_unit + 59) / 60;
    lim bigint := allot_limit(l.capacity_units, l.capacity_overage);
    used bigint;
BEGIN
    IF l.capacity_units IS NULL THEN RETURN false; END IF;
    INSERT INTO capacity_usage (month) VALUES (m) ON CONFLICT DO NOTHING;
    SELECT minutes INTO used FROM capacity_usage WHERE month = m FOR UPDATE;
    IF lim IS NOT NULL AND used + block > lim THEN RETURN false; END IF;
    UPDATE capacity_usage SET minutes = minutes + block WHERE month = m;
    RETURN true;
END $$;

-- Takes a login pass for user u from the first matching group with one left.
CREATE FUNCTION allot_login_take(u users, p_now timestamptz, l license) RETURNS login_passes
LANGUAGE plpgsql AS $$
DECLARE
    r rules;
    p login_passes;
BEGIN
    -- no pass after the conversion date, nor while the groups hold more tokens
    -- than a shrunk license has
    IF NOT allot_tokens_usable(l, p_now) OR allot_tokens_used(p_now) > l.tokens THEN
        RETURN NULL;
    END IF;
    FOR r IN SELECT * FROM rules x WHERE x.access_type = 'login' AND allot_rule_matches(x, u)
              ORDER BY x.created_at, x.id FOR UPDATE LOOP
        IF allot_passes_out(r.id, p_now) < r.tokens * 10 THEN
            INSERT INTO login_passes (rule_id, user_ref, used_at, window_end, returns_at)
            VALUES (r.id, u.id, p_now, p_now + l.login_pass * interval '1 second',
                    p_now + l.pass_return * interval '1 second')
            RETURNING * INTO p;
            RETURN p;
        END IF;
    END LOOP;
    RETURN NULL;
END $$;

-- The end of the capacity block a user is in (another of their analyzer
-- capacity sessions started it), or NULL.
CREATE FUNCTION allot_user_block_end(p_user uuid, p_now timestamptz) RETURNS timestamptz
    LANGUAGE sql STABLE
    RETURN (SELECT max(x.capacity_block_end) FROM sessions x
             WHERE x.user_ref = p_user AND x.ended_at IS NULL AND x.access_type = 'analyzer_time'
               AND x.capacity_block_end > p_now);

-- After the license's conversion date the token-based passes go: user access
-- passes are removed, login groups lose their tokens and passes, and the
-- sessions on them end.  Run by the sync, the reaper and when a license is
-- applied; harmless to run again.
CREATE FUNCTION allot_convert(p_now timestamptz) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    l license;
BEGIN
    SELECT * INTO l FROM license;
    IF l.conversion_date IS NULL OR l.conversion_date > p_now THEN RETURN; END IF;
    UPDATE sessions SET ended_at = p_now, end_reason = 'license_converted'
     WHERE ended_at IS NULL AND access_type IN ('user', 'login');
    DELETE FROM allocations WHERE type = 'user';
    DELETE FROM login_passes;
    UPDATE rules SET tokens = 0, modified_at = clock_timestamp()
     WHERE access_type = 'login' AND tokens <> 0;
END $$;

-- POST /sessions: the license check, in DOMAIN.md's order.  Returns
-- {result, accessType, via, session, snapshot}; the snapshot carries what the
-- decision rested on so allotd can re-derive it with core_resolve_access.
CREATE FUNCTION allot_session_start(p_user uuid, p_dir text, p_uid text, p_now timestamptz)
RETURNS json LANGUAGE plpgsql AS $$
DECLARE
    l license;
    u users;
    a allocations;
    p login_passes;
    s sessions;
    st text;
    in_use bigint;
    snap jsonb;
    v_access text;
    v_via text;
    v_alloc uuid;
    v_rule uuid;
    v_pass uuid;
    v_block timestamptz;
    v_result text;
    kind text;
    excess boolean;
BEGIN
    SELECT * INTO l FROM license;
    IF p_user IS NOT NULL THEN
        SELECT * INTO u FROM users WHERE id = p_user FOR UPDATE;
    ELSE
        SELECT * INTO u FROM users WHERE user_directory = p_dir AND user_id = p_uid FOR UPDATE;
    END IF;
    IF NOT FOUND THEN
        INSERT INTO session_events (at, kind, user_ref, user_directory, user_id, result_code)
        VALUES (p_now, 'refusal', NULL, p_dir, p_uid, 'UnknownUser');
        RETURN json_build_object('result', 'UnknownUser',
                                 'snapshot', json_build_object('userKnown', false));
    END IF;
    st := allot_license_status(l, p_now);
    snap := jsonb_build_object('userKnown', true, 'license', st);
    IF st <> 'ok' THEN
        PERFORM allot_event(p_now, 'refusal', NULL, u, NULL, 'LicenseNotAvailable', 0, st);
        RETURN json_build_object('result', 'LicenseNotAvailable', 'license', st, 'snapshot', snap);
    END IF;

    in_use := allot_sessions_in_use(u.id, p_now, l.session_linger);
    snap := snap || jsonb_build_object('sessionsInUse', in_use, 'maxParallel', l.max_parallel);
    IF in_use >= l.max_parallel THEN
        PERFORM allot_event(p_now, 'refusal', NULL, u, NULL, 'MaxParallelSessionsExceeded', in_use, NULL);
        RETURN json_build_object('result', 'MaxParallelSessionsExceeded', 'snapshot', snap);
    END IF;

    -- 1-3: an allocation the user holds: professional, analyzer, user pass.
    FOR a IN SELECT * FROM allocations x WHERE x.user_ref = u.id AND x.quarantine_end IS NULL
              ORDER BY array_position(ARRAY['professional', 'analyzer', 'user'], x.type) LOOP
        excess := allot_alloc_excess(a, l, p_now);
        snap := snap || jsonb_build_object(a.type, true, a.type || 'Excess', excess);
        IF NOT excess AND v_access IS NULL THEN
            v_access := a.type; v_alloc := a.id; v_via := 'existing_allocation';
        END IF;
    END LOOP;

    -- 4: dynamic assignment by a professional rule, then an analyzer rule.
    IF v_access IS NULL THEN
        FOR kind IN SELECT unnest(ARRAY['professional', 'analyzer']) LOOP
            CONTINUE WHEN snap ? kind;  -- holds one (an excess one): no second
            SELECT x.id INTO v_rule FROM rules x WHERE x.access_type = kind AND allot_rule_matches(x, u)
             ORDER BY x.created_at, x.id LIMIT 1;
            CONTINUE WHEN v_rule IS NULL;
            snap := snap || jsonb_build_object(kind || 'Rule', true);
            SELECT * INTO l FROM license FOR UPDATE;  -- units are counted under this lock
            -- The user's own allocation in quarantine still holds a unit: take it back.
            UPDATE allocations x SET quarantine_end = NULL
             WHERE x.id = (SELECT y.id FROM allocations y WHERE y.user_ref = u.id AND y.type = kind
                             AND y.quarantine_end > p_now ORDER BY y.quarantine_end DESC LIMIT 1)
            RETURNING x.id INTO v_alloc;
            IF v_alloc IS NOT NULL THEN
                snap := snap || jsonb_build_object(kind || 'UnitFree', true);
                v_access := kind; v_via := 'dynamic_assignment';
                EXIT;
            END IF;
            IF allot_has_room(l, kind, p_now) THEN
                snap := snap || jsonb_build_object(kind || 'UnitFree', true);
                DELETE FROM allocations x WHERE x.user_ref = u.id AND x.type = kind
                   AND NOT allot_alloc_counts(x, p_now);
                INSERT INTO allocations (type, user_ref, user_directory, user_id, rule_id)
                VALUES (kind, u.id, u.user_directory, u.user_id, v_rule) RETURNING id INTO v_alloc;
                v_access := kind; v_via := 'dynamic_assignment';
                EXIT;
            END IF;
            v_rule := NULL;
        END LOOP;
    END IF;

    -- 5: a login pass: the user's open window first, else a new pass.
    IF v_access IS NULL AND EXISTS (SELECT 1 FROM rules x WHERE x.access_type = 'login'
                                      AND allot_rule_matches(x, u)) THEN
        snap := snap || jsonb_build_object('loginGroup', true);
        SELECT * INTO p FROM login_passes x
         WHERE x.user_ref = u.id AND x.window_end > p_now AND x.rule_id IS NOT NULL
           AND allot_tokens_usable(l, p_now)
         ORDER BY x.window_end DESC LIMIT 1;
        IF FOUND THEN
            snap := snap || jsonb_build_object('loginWindowOpen', true);
            v_access := 'login'; v_pass := p.id; v_rule := p.rule_id; v_via := 'open_window';
        ELSE
            p := allot_login_take(u, p_now, l);
            IF p.id IS NOT NULL THEN
                snap := snap || jsonb_build_object('loginPassAvailable', true);
                v_access := 'login'; v_pass := p.id; v_rule := p.rule_id; v_via := 'new_pass';
            END IF;
        END IF;
    END IF;

    -- 6: analyzer capacity from a capacity rule.
    IF v_access IS NULL AND EXISTS (SELECT 1 FROM rules x WHERE x.access_type = 'analyzer_time'
                                      AND allot_rule_matches(x, u)) THEN
        snap := snap || jsonb_build_object('capacityRule', true);
        -- Blocks are the user's: a block another session of the user is in covers this one.
        v_block := allot_user_block_end(u.id, p_now);
        IF v_block IS NULL AND allot_capacity_charge(l, p_now) THEN
            v_block := p_now + l.capacity_unit * interval '1 second';
        END IF;
        IF v_block IS NOT NULL THEN
            snap := snap || jsonb_build_object('capacityAvailable', true);
            v_access := 'analyzer_time'; v_via := 'capacity';
        END IF;
    END IF;

    IF v_access IS NULL THEN
        v_result := CASE
            WHEN snap @> '{"professionalExcess": true}' OR snap @> '{"analyzerExcess": true}'
              OR snap @> '{"userExcess": true}' THEN 'ExcessAssignment'
            WHEN snap ? 'professionalRule' OR snap ? 'analyzerRule' THEN 'NoAvailableAccessTypePendingUserSync'
            ELSE 'NoAvailableAccessType' END;
        PERFORM allot_event(p_now, 'refusal', NULL, u, NULL, v_result, in_use, NULL);
        RETURN json_build_object('result', v_result, 'snapshot', snap);
    END IF;

    INSERT INTO sessions (user_ref, user_directory, user_id, access_type, allocation_id, rule_id,
                          login_pass_id, capacity_block_end, started_at, last_activity)
    VALUES (u.id, u.user_directory, u.user_id, v_access, v_alloc, v_rule, v_pass, v_block,
            p_now, p_now)
    RETURNING * INTO s;
    IF v_alloc IS NOT NULL THEN
        UPDATE allocations SET last_used = p_now WHERE id = v_alloc;
    END IF;
    PERFORM allot_event(p_now, 'grant', s.id, u, v_access, 'Ok', in_use + 1, v_via);
    RETURN json_build_object('result', 'Ok', 'accessType', v_access, 'via', v_via,
                             'session', allot_session_json(s), 'snapshot', snap);
END $$;

-- Ends a session and records why.
-- An idle session ends at its idle deadline, so its linger starts there.
CREATE FUNCTION allot_session_close(s sessions, p_now timestamptz, p_reason text, p_result text)
RETURNS sessions LANGUAGE plpgsql AS $$
DECLARE
    u users;
    ended sessions;
BEGIN
    UPDATE sessions SET ended_at = p_now, end_reason = p_reason WHERE id = s.id RETURNING * INTO ended;
    SELECT * INTO u FROM users WHERE id = s.user_ref;
    IF u.id IS NULL THEN
        u.user_directory := s.user_directory; u.user_id := s.user_id;
    END IF;
    PERFORM allot_event(p_now, 'end', s.id, u, s.access_type, p_result, 0, p_reason);
    RETURN ended;
END $$;

-- POST /sessions/{id}/heartbeat.  Returns {result, license?, session}:
-- result Ok; NotFound; Ended (already over, or idle too long); or a refusal
-- that ends the session: LicenseNotAvailable, NoAvailableAccessType.
CREATE FUNCTION allot_session_heartbeat(p_session uuid, p_now timestamptz, p_idle bigint)
RETURNS json LANGUAGE plpgsql AS $$
DECLARE
    l license;
    s sessions;
    u users;
    p login_passes;
    st text;
    ok boolean := true;
    v_block timestamptz;
BEGIN
    -- The user first, as at session start: a user's heartbeats and session
    -- starts take login passes and capacity blocks one at a time.
    PERFORM 1 FROM users WHERE id = (SELECT user_ref FROM sessions WHERE id = p_session) FOR UPDATE;
    SELECT * INTO s FROM sessions WHERE id = p_session FOR UPDATE;
    IF NOT FOUND THEN RETURN json_build_object('result', 'NotFound'); END IF;
    IF s.ended_at IS NULL AND s.last_activity + p_idle * interval '1 second' <= p_now THEN
        s := allot_session_close(s, s.last_activity + p_idle * interval '1 second', 'idle', 'Ok');
    END IF;
    IF s.ended_at IS NOT NULL THEN
        RETURN json_build_object('result', 'Ended', 'session', allot_session_json(s));
    END IF;
    SELECT * INTO l FROM license;
    st := allot_license_status(l, p_now);
    IF st <> 'ok' THEN
        s := allot_session_close(s, p_now, 'license_' || st, 'LicenseNotAvailable');
        RETURN json_build_object('result', 'LicenseNotAvailable', 'license', st,
                                 'session', allot_session_json(s));
    END IF;
    SELECT * INTO u FROM users WHERE id = s.user_ref;
    IF s.access_type IN ('user', 'login') AND NOT allot_tokens_usable(l, p_now) THEN
        ok := false;  -- the license was converted: token passes are over
    ELSIF s.access_type IN ('professional', 'analyzer', 'user') THEN
        UPDATE allocations SET last_used = p_now
         WHERE id = s.allocation_id AND quarantine_end IS NULL;
        ok := FOUND;
    ELSIF s.access_type = 'login' THEN
        SELECT * INTO p FROM login_passes WHERE id = s.login_pass_id;
        IF p.id IS NULL OR p.window_end <= p_now THEN
            -- the window closed: share a window another session of the user
            -- opened since, else activity uses another pass, if one is left
            SELECT * INTO p FROM login_passes x
             WHERE x.user_ref = s.user_ref AND x.window_end > p_now AND x.rule_id IS NOT NULL
             ORDER BY x.window_end DESC LIMIT 1;
            IF p.id IS NULL AND u.id IS NOT NULL THEN
                p := allot_login_take(u, p_now, l);
            END IF;
            ok := p.id IS NOT NULL;
            IF ok THEN
                UPDATE sessions SET login_pass_id = p.id, rule_id = p.rule_id WHERE id = s.id;
            END IF;
        END IF;
    ELSIF s.access_type = 'analyzer_time' THEN
        IF s.capacity_block_end IS NULL OR p_now >= s.capacity_block_end THEN
            v_block := allot_user_block_end(s.user_ref, p_now);
            IF v_block IS NULL AND allot_capacity_charge(l, p_now) THEN
                v_block := p_now + l.capacity_unit * interval '1 second';
            END IF;
            ok := v_block IS NOT NULL;
            IF ok THEN
                UPDATE sessions SET capacity_block_end = v_block WHERE id = s.id;
            END IF;
        END IF;
    END IF;
    IF NOT ok THEN
        s := allot_session_close(s, p_now, 'no_access_pass', 'NoAvailableAccessType');
        RETURN json_build_object('result', 'NoAvailableAccessType', 'session', allot_session_json(s));
    END IF;
    UPDATE sessions SET last_activity = p_now WHERE id = s.id RETURNING * INTO s;
    RETURN json_build_object('result', 'Ok', 'session', allot_session_json(s));
END $$;

-- DELETE /sessions/{id} (logout).  Returns the session, or NULL if unknown.
CREATE FUNCTION allot_session_end(p_session uuid, p_now timestamptz)
RETURNS json LANGUAGE plpgsql AS $$
DECLARE
    s sessions;
BEGIN
    SELECT * INTO s FROM sessions WHERE id = p_session FOR UPDATE;
    IF NOT FOUND THEN RETURN NULL; END IF;
    IF s.ended_at IS NULL THEN
        s := allot_session_close(s, p_now, 'logout', 'Ok');
    END IF;
    RETURN allot_session_json(s);
END $$;

-- The reaper: ends sessions idle for p_idle seconds and forgets allocations
-- whose quarantine is over.  Safe to run on every instance at once.
CREATE FUNCTION allot_reap(p_now timestamptz, p_idle bigint)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    s sessions;
    n integer := 0;
BEGIN
    FOR s IN SELECT * FROM sessions
              WHERE ended_at IS NULL AND last_activity + p_idle * interval '1 second' <= p_now
              FOR UPDATE SKIP LOCKED LOOP
        PERFORM allot_session_close(s, s.last_activity + p_idle * interval '1 second', 'idle', 'Ok');
        n := n + 1;
    END LOOP;
    DELETE FROM allocations WHERE quarantine_end IS NOT NULL AND quarantine_end <= p_now;
    PERFORM allot_convert(p_now);
    RETURN n;
END $$;

-- GET /license, raw: allotd derives status, disabledAt and availability with
-- the rules of src/core.  NULL when no license was ever applied.
CREATE FUNCTION allot_license_raw(p_now timestamptz) RETURNS json
LANGUAGE plpgsql STABLE AS $$
DECLARE
    l license;
    m date := date_trunc('month', p_now AT TIME ZONE 'UTC')::date;
BEGIN
    SELECT * INTO l FROM license;
    IF NOT FOUND THEN RETURN NULL; END IF;
    RETURN json_build_object(
        'licenseNumber', l.license_number, 'organization', l.organization,
        'product', l.product, 'validFrom', allot_ts(l.valid_from), 'validTo', allot_ts(l.valid_to),
        'issuedAt', allot_ts(l.issued_at), 'lastVerifiedAt', allot_ts(l.last_verified_at),
        'lastSyncAttemptAt', allot_ts(l.last_sync_attempt_at), 'lastSyncError', l.last_sync_error,
        'conversionDate', allot_ts(l.conversion_date), 'revoked', l.revoked,
        'allotments', json_build_array(
            json_build_object('name', 'professional', 'units', l.professional_units,
                'overage', l.professional_overage, 'used', allot_type_live('professional'),
                'quarantined', allot_type_quarantined('professional', p_now)),
            json_build_object('name', 'analyzer', 'units', l.analyzer_units,
                'overage', l.analyzer_overage, 'used', allot_type_live('analyzer'),
                'quarantined', allot_type_quarantined('analyzer', p_now)),
            json_build_object('name', 'analyzer_time', 'units', l.capacity_units,
                'overage', l.capacity_overage,
                'used', coalesce((SELECT minutes FROM capacity_usage WHERE month = m), 0),
                'quarantined', 0)),
        'tokens', json_build_object('total', l.tokens,
            'allocated', allot_login_tokens_held(p_now),
            'used', allot_type_live('user'),
            'quarantined', allot_type_quarantined('user', p_now)),
        'parameters', json_build_object(
            'offlineGraceSeconds', l.offline_grace, 'capacityUnitSeconds', l.capacity_unit,
            'loginPassSeconds', l.login_pass, 'maxParallelSessions', l.max_parallel,
            'passReturnSeconds', l.pass_return, 'sessionLingerSeconds', l.session_linger,
            'quarantineSeconds', l.quarantine, 'definitionRefreshSeconds', l.definition_refresh));
END $$;

-- PUT /license: stores a verified key and answers 'applied', or 'older' (and
-- changes nothing) for a key of the applied license signed before the one in
-- force: an old key never rolls a license back.  The verification time is the key's
-- signing time (iat), and applying the same license again never moves it
-- back nor forward past what was verified already.
CREATE FUNCTION allot_license_apply(p_key text, p_def jsonb, p_now timestamptz)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    prev license;
    h license_history;
    iat timestamptz := to_timestamp((p_def ->> 'iat')::bigint);
    params jsonb := p_def -> 'parameters';
    verified timestamptz;
    al jsonb;
    units jsonb := '{}';
BEGIN
    SELECT * INTO prev FROM license FOR UPDATE;
    SELECT * INTO h FROM license_history WHERE license_number = p_def ->> 'licenseNumber';
    IF h.newest_issued_at IS NOT NULL AND iat < h.newest_issued_at THEN
        RETURN 'older';
    END IF;
    verified := greatest(h.last_verified_at, iat);
    FOR al IN SELECT * FROM jsonb_array_elements(p_def -> 'allotments') LOOP
        units := units || jsonb_build_object(al ->> 'name', al);
    END LOOP;
    -- An upsert, never a delete: requests waiting on the row see the new one.
    INSERT INTO license AS l (singleton, license_key, definition, license_number, organization,
        product, valid_from, valid_to, issued_at,
        professional_units, professional_overage, analyzer_units, analyzer_overage,
        capacity_units, capacity_overage, tokens, conversion_date,
        offline_grace, capacity_unit, login_pass, max_parallel, pass_return, session_linger,
        quarantine, definition_refresh, last_verified_at, revoked, applied_at)
    VALUES (true, p_key, p_def, p_def ->> 'licenseNumber', p_def ->> 'organization',
        p_def ->> 'product', (p_def ->> 'validFrom')::timestamptz,
        (p_def ->> 'validTo')::timestamptz, iat,
        (units #>> '{professional,units}')::bigint,
        coalesce((units #>> '{professional,overage}')::bigint, 0),
        (units #>> '{analyzer,units}')::bigint,
        coalesce((units #>> '{analyzer,overage}')::bigint, 0),
        (units #>> '{analyzer_time,units}')::bigint,
        coalesce((units #>> '{analyzer_time,overage}')::bigint, 0),
        coalesce((p_def ->> 'tokens')::bigint, 0), (p_def ->> 'conversionDate')::timestamptz,
        (params ->> 'offlineGraceSeconds')::bigint, (params ->> 'capacityUnitSeconds')::bigint,
        (params ->> 'loginPassSeconds')::bigint, (params ->> 'maxParallelSessions')::bigint,
        (params ->> 'passReturnSeconds')::bigint, (params ->> 'sessionLingerSeconds')::bigint,
        (params ->> 'quarantineSeconds')::bigint, (params ->> 'definitionRefreshSeconds')::bigint,
        -- only the backend lifts a revocation: applying a key again does not
        verified, coalesce(h.revoked, false), p_now)
    ON CONFLICT (singleton) DO UPDATE SET
        license_key = EXCLUDED.license_key, definition = EXCLUDED.definition,
        license_number = EXCLUDED.license_number, organization = EXCLUDED.organization,
        product = EXCLUDED.product, valid_from = EXCLUDED.valid_from,
        valid_to = EXCLUDED.valid_to, issued_at = EXCLUDED.issued_at,
        professional_units = EXCLUDED.professional_units,
        professional_overage = EXCLUDED.professional_overage,
        analyzer_units = EXCLUDED.analyzer_units, analyzer_overage = EXCLUDED.analyzer_overage,
        capacity_units = EXCLUDED.capacity_units, capacity_overage = EXCLUDED.capacity_overage,
        tokens = EXCLUDED.tokens, conversion_date = EXCLUDED.conversion_date,
        offline_grace = EXCLUDED.offline_grace, capacity_unit = EXCLUDED.capacity_unit,
        login_pass = EXCLUDED.login_pass, max_parallel = EXCLUDED.max_parallel,
        pass_return = EXCLUDED.pass_return, session_linger = EXCLUDED.session_linger,
        quarantine = EXCLUDED.quarantine, definition_refresh = EXCLUDED.definition_refresh,
        last_verified_at = EXCLUDED.last_verified_at,
        revoked = EXCLUDED.revoked,
        applied_at = EXCLUDED.applied_at;
    PERFORM allot_convert(p_now);
    RETURN 'applied';
END $$;

-- POST and PATCH /allocations/rules (p_id NULL: create).  A login group takes
-- its tokens when it is saved.  status: ok, not_found, conflict, no_allotment.
CREATE FUNCTION allot_rule_save(p_id uuid, p_name text, p_type text, p_groups jsonb,
                                p_dirs jsonb, p_tokens bigint, p_now timestamptz)
RETURNS TABLE (status text, body json) LANGUAGE plpgsql AS $$
DECLARE
    l license;
    r rules;
    old_tokens bigint := 0;
BEGIN
    SELECT * INTO l FROM license FOR UPDATE;
    IF p_id IS NOT NULL THEN
        SELECT * INTO r FROM rules WHERE id = p_id FOR UPDATE;
        IF NOT FOUND THEN RETURN QUERY SELECT 'not_found', NULL::json; RETURN; END IF;
        p_type := r.access_type;
        old_tokens := r.tokens;
    END IF;
    IF p_type = 'login' AND coalesce(p_tokens, old_tokens) > old_tokens
       AND (l.singleton IS NULL OR NOT allot_tokens_usable(l, p_now)
            OR allot_tokens_used(p_now) + coalesce(p_tokens, old_tokens) - old_tokens > l.tokens) THEN
        RETURN QUERY SELECT 'no_allotment', NULL::json; RETURN;
    END IF;
    BEGIN
        IF p_id IS NULL THEN
            INSERT INTO rules (name, access_type, match_groups, match_directories, tokens)
            VALUES (p_name, p_type,
                    ARRAY(SELECT jsonb_array_elements_text(coalesce(p_groups, '[]'))),
                    ARRAY(SELECT jsonb_array_elements_text(coalesce(p_dirs, '[]'))),
                    coalesce(p_tokens, 0))
            RETURNING * INTO r;
        ELSE
            UPDATE rules SET
                name = coalesce(p_name, name),
                match_groups = CASE WHEN p_groups IS NULL THEN match_groups
                               ELSE ARRAY(SELECT jsonb_array_elements_text(p_groups)) END,
                match_directories = CASE WHEN p_dirs IS NULL THEN match_directories
                                    ELSE ARRAY(SELECT jsonb_array_elements_text(p_dirs)) END,
                tokens = coalesce(p_tokens, tokens),
                modified_at = clock_timestamp()
            WHERE id = p_id RETURNING * INTO r;
        END IF;
    EXCEPTION WHEN unique_violation THEN
        RETURN QUERY SELECT 'conflict', NULL::json; RETURN;
    END;
    RETURN QUERY SELECT 'ok', allot_rule_json(r);
END $$;

-- The usual session start, for several users at once (allotd batches
-- concurrent starts; engine.session_start tries it first for one user).
-- Usual means: the license is in order, the user is active and holds a professional
-- or analyzer allocation (step 1 or 2 of the resolution order) of which no
-- more are assigned than the license allows, and has a slot free.  Such a
-- start is granted on that allocation.  Anything else (no allocation, a user
-- pass, excess, the limit reached, a second start of the same user in one
-- batch) is left, without a row, to engine.session_start, which knows every
-- rule.
--
-- The users' rows are locked first, in the order allotd sorts the ids (two
-- batches never lock them in opposite orders), then read again with the
-- allocations and lingering sessions by the next statement, which sees what
-- was committed while it waited for the locks.  One statement then inserts
-- the sessions, counts them on the users' rows and writes the audit trail.
CREATE FUNCTION engine.session_starts(p_users uuid[], p_now timestamptz)
RETURNS TABLE (reply engine.session_reply, n bigint)
LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan AS $$
#variable_conflict use_column
DECLARE
    l license;
    max_parallel bigint;
    linger interval;
BEGIN
    SELECT * INTO l FROM license;
    IF engine.license_status(l, p_now) <> 'ok' THEN
        RETURN;
    END IF;
    max_parallel := engine.param(l, 'maxParallelSessions');
    linger := engine.seconds(l, 'sessionLingerSeconds');
    PERFORM 1 FROM users u WHERE u.id = ANY (p_users) ORDER BY u.id FOR UPDATE;
    RETURN QUERY
    WITH req AS (
        SELECT DISTINCT ON (r.uid) r.uid, r.n
          FROM unnest(p_users) WITH ORDINALITY AS r(uid, n) ORDER BY r.uid, r.n),
    cand AS (
        SELECT req.n, u.id AS uid, u.user_directory AS dir, u.user_id AS uname,
               a.id AS alloc, a.type,
               u.sessions_active
               + (SELECT count(*) FROM sessions s
                   WHERE s.user_ref = u.id AND s.live AND s.ended_at IS NOT NULL
                     AND s.ended_at > p_now - linger) AS in_use
          FROM req JOIN users u ON u.id = req.uid
         CROSS JOIN LATERAL (
               SELECT x.id, x.type, c.n AS counted FROM allocations x
                 JOIN allocation_counts c ON c.type = x.type
                WHERE x.user_ref = u.id AND x.quarantine_end IS NULL
                ORDER BY array_position(ARRAY['professional', 'analyzer', 'user'], x.type)
                LIMIT 1) a
         WHERE a.type <> 'user' AND a.counted <= engine.type_allowed(l, a.type) AND u.active),
    granted AS (
        SELECT * FROM cand WHERE cand.in_use < max_parallel),
    ins AS (
        INSERT INTO sessions (id, user_ref, user_directory, user_id, access_type, allocation_id,
                              paid_until, started_at, last_activity, live)
        SELECT engine.new_id(p_now), g.uid, g.dir, g.uname, g.type, g.alloc, 'infinity', p_now,
               p_now, true
          FROM granted g
        RETURNING *),
    counted AS (
        UPDATE users u SET sessions_active = u.sessions_active + 1
          FROM granted g WHERE u.id = g.uid),
    audit AS (
        INSERT INTO session_events (id, at, kind, session_id, user_ref, user_directory, user_id,
                                    access_type, result_code, session_count, detail)
        SELECT engine.new_id(p_now), p_now, 'grant', s.id, s.user_ref, s.user_directory,
               s.user_id, s.access_type, 'Ok', g.in_use + 1, 'existing_allocation'
          FROM ins s JOIN granted g ON g.uid = s.user_ref)
    SELECT engine.session_reply('ok', s::sessions), g.n
      FROM ins s JOIN granted g ON g.uid = s.user_ref;
END $$;

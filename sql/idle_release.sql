-- The release of idle allocations (issue 10): for professional and analyzer
-- allocations, a policy (idle_release_policies) releases an allocation that
-- was not used for idle_days.  The dry run (GET .../preview) and the reaper
-- ask the same question, engine.idle_candidate, and the reaper asks it again
-- under the row locks, so it releases exactly what the dry run would list at
-- that moment.

-- The policy as the API shows it.
CREATE TYPE engine.idle_policy_reply AS (
    outcome            engine.outcome,
    type               text,
    enabled            boolean,
    idle_days          integer,
    exempt_groups      json,
    exempt_directories json,
    exempt_users       json,
    modified_at        timestamptz
);

CREATE FUNCTION engine.idle_policy_reply(o engine.outcome, p idle_release_policies)
RETURNS engine.idle_policy_reply
    LANGUAGE sql STABLE PARALLEL SAFE
    RETURN ROW(o, p.type, p.enabled, p.idle_days, to_json(p.exempt_groups),
               to_json(p.exempt_directories), p.exempt_users::json,
               p.modified_at)::engine.idle_policy_reply;

-- PUT /allocations/idle-release/{type}: the whole policy.  Outcomes: ok,
-- policy_not_found.
CREATE FUNCTION engine.idle_policy_save(p_type text, p_enabled boolean, p_days integer,
                                        p_groups text[], p_dirs text[], p_users jsonb,
                                        p_now timestamptz)
RETURNS engine.idle_policy_reply LANGUAGE plpgsql AS $$
DECLARE
    p idle_release_policies;
BEGIN
    UPDATE idle_release_policies
       SET enabled = p_enabled, idle_days = p_days, exempt_groups = coalesce(p_groups, '{}'),
           exempt_directories = coalesce(p_dirs, '{}'), exempt_users = coalesce(p_users, '[]'),
           modified_at = p_now
     WHERE type = p_type RETURNING * INTO p;
    IF NOT FOUND THEN
        RETURN engine.idle_policy_reply('policy_not_found', NULL);
    END IF;
    RETURN engine.idle_policy_reply('ok', p);
END $$;

-- When an allocation was last used, for the policy: its last use (a
-- session's end, or a session still running on it), else when it was made.
CREATE FUNCTION engine.idle_since(a allocations) RETURNS timestamptz
    LANGUAGE sql STABLE PARALLEL SAFE
    RETURN coalesce(engine.allocation_last_used(a), a.created_at);

-- Whether policy p releases allocation a of user u at p_now: a live
-- allocation of the policy's type, with no session running on it, not used
-- for idle_days nor within the license's quarantineSeconds (so it is
-- released at once, never put in quarantine: an allocation used recently is
-- never taken), of a user not exempt by group, directory or name.
CREATE FUNCTION engine.idle_candidate(a allocations, u users, p idle_release_policies,
                                      l license, p_now timestamptz)
RETURNS boolean LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN a.quarantine_end IS NULL AND a.type = p.type
       AND engine.idle_since(a)
           <= p_now - greatest(p.idle_days * interval '1 day',
                               (engine.with_defaults(l.parameters) ->> 'quarantineSeconds')::bigint
                               * interval '1 second')
       AND NOT EXISTS (SELECT 1 FROM sessions s WHERE s.user_ref = a.user_ref
                        AND s.ended_at IS NULL AND s.allocation_id = a.id)
       AND NOT (u.groups && p.exempt_groups)
       AND NOT (u.user_directory = ANY (p.exempt_directories))
       AND NOT (p.exempt_users @> jsonb_build_array(jsonb_build_object(
                    'userDirectory', u.user_directory, 'userId', u.user_id)));
END $$;

-- The dry run: the allocations of p_type the policy would release at p_now
-- (whether it is enabled or not), oldest use first, at most p_limit of
-- them, each with when it was last used, and how many there are in all.
CREATE FUNCTION engine.idle_release_preview(p_type text, p_now timestamptz, p_limit integer)
RETURNS TABLE (reply engine.allocation_reply, idle_since timestamptz, total bigint)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    p idle_release_policies;
    l license;
BEGIN
    SELECT * INTO p FROM idle_release_policies x WHERE x.type = p_type;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    SELECT * INTO l FROM license;
    RETURN QUERY
    SELECT engine.allocation_reply('ok', c.a), c.since, count(*) OVER ()
      FROM (SELECT a AS a, engine.idle_since(a) AS since
              FROM allocations a JOIN users u ON u.id = a.user_ref
             WHERE a.type = p_type AND a.quarantine_end IS NULL
               AND engine.idle_candidate(a, u, p, l, p_now)) c
     ORDER BY c.since, (c.a).id
     LIMIT p_limit;
END $$;

-- The reaper: releases what the policy of p_type releases at p_now, at
-- most p_limit allocations a call, if the policy is enabled.  Each one is
-- decided again under the locks of its user and itself (taken in the order
-- of every other path, and skipped when another instance holds them), goes
-- through engine.allocation_remove (its sessions are none; it is released
-- at once), and is written to the audit trail as a release with its reason.
-- Returns the number released.
CREATE FUNCTION engine.idle_release(p_type text, p_now timestamptz, p_limit integer)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    p idle_release_policies;
    l license;
    c record;
    a allocations;
    u users;
    since timestamptz;
    n integer := 0;
BEGIN
    -- FOR SHARE: a change of the policy waits for the releases under the old one.
    SELECT * INTO p FROM idle_release_policies x WHERE x.type = p_type FOR SHARE;
    IF NOT FOUND OR NOT p.enabled THEN
        RETURN 0;
    END IF;
    SELECT * INTO l FROM license;
    FOR c IN SELECT x.id, x.user_ref FROM allocations x JOIN users y ON y.id = x.user_ref
              WHERE x.type = p_type AND x.quarantine_end IS NULL
                AND engine.idle_candidate(x, y, p, l, p_now)
              ORDER BY engine.idle_since(x), x.id LIMIT p_limit LOOP
        SELECT * INTO u FROM users WHERE id = c.user_ref FOR UPDATE SKIP LOCKED;
        CONTINUE WHEN u.id IS NULL;
        SELECT * INTO a FROM allocations WHERE id = c.id AND quarantine_end IS NULL
           FOR UPDATE SKIP LOCKED;
        CONTINUE WHEN a.id IS NULL OR NOT engine.idle_candidate(a, u, p, l, p_now);
        since := engine.idle_since(a);
        PERFORM engine.allocation_remove(a, p_now, 'idle_release');
        PERFORM engine.event(p_now, 'release', NULL, u.id, u.user_directory, u.user_id, a.type,
                             'Ok', 0,
                             format('idle_release: not used since %s (policy: %s days idle)',
                                    engine.rfc3339(since), p.idle_days));
        n := n + 1;
    END LOOP;
    RETURN n;
END $$;

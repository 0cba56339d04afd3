-- When an allocation was last used: the last use recorded when a session on
-- it ended, or the last activity of a session still running on it.
-- Heartbeats only touch their session (a HOT update), so the live sessions
-- are asked here rather than the allocation being written at every beat.
CREATE FUNCTION engine.allocation_last_used(a allocations) RETURNS timestamptz
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN greatest(a.last_used,
                    (SELECT max(s.last_activity) FROM sessions s
                      WHERE s.user_ref = a.user_ref AND s.ended_at IS NULL
                        AND s.allocation_id = a.id));
END $$;

-- What the allocation functions answer: the outcome and the allocation.
CREATE TYPE engine.allocation_reply AS (
    outcome        engine.outcome,
    id             uuid,
    type           text,
    user_ref       uuid,
    user_directory text,
    user_id        text,
    user_deleted   boolean,
    created_at     timestamptz,
    last_used      timestamptz,
    quarantined    boolean,
    quarantine_end timestamptz,
    rule_id        uuid
);

CREATE FUNCTION engine.allocation_reply(o engine.outcome, a allocations) RETURNS engine.allocation_reply
    LANGUAGE sql STABLE PARALLEL SAFE
    RETURN ROW(o, a.id, a.type, a.user_ref, a.user_directory, a.user_id,
               CASE WHEN a.id IS NOT NULL THEN a.user_ref IS NULL END, a.created_at,
               CASE WHEN a.id IS NOT NULL THEN engine.allocation_last_used(a) END,
               CASE WHEN a.id IS NOT NULL THEN a.quarantine_end IS NOT NULL END,
               a.quarantine_end, a.rule_id)::engine.allocation_reply;

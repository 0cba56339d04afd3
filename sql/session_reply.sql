-- What the session functions answer: the outcome, the session, and the
-- model's result code of the license check (NULLs when none was started).  allotd shows the session
-- from these columns (src/api/present.c).
CREATE TYPE engine.session_reply AS (
    outcome        engine.outcome,
    id             uuid,
    user_ref       uuid,
    user_directory text,
    user_id        text,
    access_type    text,
    allocation_id  uuid,
    started_at     timestamptz,
    last_activity  timestamptz,
    ended_at       timestamptz,
    end_reason     text,
    result_code    text,
    license_changed boolean  -- the decision changed what GET /license shows
);

CREATE FUNCTION engine.session_reply(o engine.outcome, s sessions) RETURNS engine.session_reply
    LANGUAGE sql STABLE PARALLEL SAFE
    RETURN ROW(o, s.id, s.user_ref, s.user_directory, s.user_id, s.access_type,
               s.allocation_id, s.started_at, s.last_activity, s.ended_at, s.end_reason,
               engine.result_code(o),
               current_setting('allot.license_changed', true) IS NOT DISTINCT FROM 'on')::engine.session_reply;

-- Usage from the raw audit trail: what an hour's aggregates hold (the rows of
-- usage_hours, migration 0006), computed from session_events.  The roll-up
-- (usage_rollup.sql) stores it; a report (usage_report.sql) computes it for
-- the recent hours not yet rolled up.  One definition for both, so that a
-- rolled hour and a raw one always agree.

-- Counts by name ({"professional": 3}) added together: the sessions started
-- or refusals of several hours.
CREATE FUNCTION engine.counts_add(a jsonb, b jsonb) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
BEGIN
    IF a IS NULL OR a = '{}' THEN
        RETURN coalesce(b, '{}');
    ELSIF b IS NULL OR b = '{}' THEN
        RETURN a;
    END IF;
    RETURN (SELECT jsonb_object_agg(k, n ORDER BY k)
              FROM (SELECT x.key AS k, sum(x.value::bigint) AS n
                      FROM (SELECT * FROM jsonb_each_text(a)
                            UNION ALL SELECT * FROM jsonb_each_text(b)) x
                     GROUP BY x.key) y);
END $$;

CREATE AGGREGATE engine.counts_sum(jsonb) (
    SFUNC = engine.counts_add, STYPE = jsonb, INITCOND = '{}', PARALLEL = SAFE);

-- The UTC hour, day and month of a moment (never the session's time zone).
CREATE FUNCTION engine.hour_of(t timestamptz) RETURNS timestamptz
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN date_trunc('hour', t AT TIME ZONE 'UTC') AT TIME ZONE 'UTC';

CREATE FUNCTION engine.day_of(t timestamptz) RETURNS timestamptz
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN date_trunc('day', t AT TIME ZONE 'UTC') AT TIME ZONE 'UTC';

CREATE FUNCTION engine.month_start(t timestamptz) RETURNS timestamptz
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN date_trunc('month', t AT TIME ZONE 'UTC') AT TIME ZONE 'UTC';

-- The hour from which the trail can be rolled up: that of the first event or
-- capacity charge recorded; NULL when there is none yet.
CREATE FUNCTION engine.usage_origin() RETURNS timestamptz
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN engine.hour_of(least((SELECT min(e.at) FROM session_events e),
                                (SELECT min(c.hour) FROM capacity_hours c)));
END $$;

-- The usage of the trail in [p_from, p_to), one row per UTC hour that the
-- range touches (the first and last may be partial: the roll-up goes in
-- steps of at most so many events), oldest first, given the number of
-- sessions active at p_from (p_open):
--   sessions_started  grants by access type
--   refusals          refusals by result code
--   peak_sessions     the most sessions active at once in the hour's part of
--                     the range: the sessions active at its start, then +1 at
--                     each grant and -1 at each end, in the order of the trail
--                     (an end before a grant of the same microsecond: they did
--                     not overlap)
--   open_sessions     the sessions active at the end of the hour's part
--   capacity_minutes  capacity minutes charged in the hour, on the row of the
--                     range in which the hour ends (so counted once, and only
--                     once the hour is over when the range is the roll-up's)
-- Reads the trail's rows of the range through its (at, id) index: the cost is
-- that of the range, never of the whole trail.
CREATE FUNCTION engine.usage_from_trail(p_from timestamptz, p_to timestamptz, p_open bigint)
RETURNS TABLE (hour timestamptz, sessions_started jsonb, refusals jsonb, peak_sessions integer,
               open_sessions bigint, capacity_minutes bigint)
LANGUAGE plpgsql STABLE AS $$
BEGIN
    IF p_to <= p_from THEN
        RETURN;
    END IF;
    RETURN QUERY
    WITH ev AS (
        SELECT engine.hour_of(e.at) AS h, e.at, e.id, e.kind,
               CASE e.kind WHEN 'grant' THEN coalesce(e.access_type, 'unknown')
                           ELSE e.result_code END AS k,
               CASE e.kind WHEN 'grant' THEN 1 WHEN 'end' THEN -1 ELSE 0 END AS d
          FROM session_events e
         WHERE e.at >= p_from AND e.at < p_to
    ), counts AS (
        SELECT c.h,
               jsonb_object_agg(c.k, c.n ORDER BY c.k) FILTER (WHERE c.kind = 'grant') AS started,
               jsonb_object_agg(c.k, c.n ORDER BY c.k) FILTER (WHERE c.kind = 'refusal') AS refused
          FROM (SELECT ev.h, ev.kind, ev.k, count(*) AS n FROM ev
                 WHERE ev.kind IN ('grant', 'refusal') GROUP BY ev.h, ev.kind, ev.k) c
         GROUP BY c.h
    ), moves AS (
        -- Within each hour: the highest running change, and the change in all.
        SELECT m.h, max(m.run) AS top, sum(m.d)::bigint AS delta
          FROM (SELECT ev.h, ev.d, sum(ev.d) OVER (PARTITION BY ev.h ORDER BY ev.at, ev.d, ev.id) AS run
                  FROM ev WHERE ev.d <> 0) m
         GROUP BY m.h
    ), hours AS (
        SELECT g.h, mv.top, coalesce(mv.delta, 0) AS delta,
               p_open + coalesce(sum(mv.delta) OVER (ORDER BY g.h ROWS BETWEEN UNBOUNDED PRECEDING
                                                                      AND 1 PRECEDING), 0)::bigint AS open_at
          FROM generate_series(engine.hour_of(p_from), p_to - interval '1 microsecond',
                               interval '1 hour') AS g (h)
          LEFT JOIN moves mv ON mv.h = g.h
    )
    SELECT x.h, coalesce(c.started, '{}'), coalesce(c.refused, '{}'),
           greatest(x.open_at, x.open_at + coalesce(x.top, 0), 0)::integer,
           x.open_at + x.delta,
           coalesce(k.minutes, 0)
      FROM hours x
      LEFT JOIN counts c ON c.h = x.h
      LEFT JOIN capacity_hours k ON k.hour = x.h AND x.h + interval '1 hour' <= p_to
     ORDER BY x.h;
END $$;

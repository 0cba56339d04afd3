-- GET /reports/usage: one row per step ('hour' or 'day', UTC) of [p_from,
-- p_to), oldest first, every step present.  allotd passes p_from and p_to on
-- whole steps.
--
-- The rolled-up hours (usage_hours) or days (usage_days) up to the watermark,
-- then the raw trail from the watermark to p_to (usage_from_trail), which the
-- roll-up keeps to its lag and a tick: a report costs its steps and that
-- last stretch of trail, never the whole trail.  An hour or a day that the
-- watermark cuts in two is its row (what was rolled) plus its raw part.
-- Steps that start after p_now have no peak (nothing happened in them yet).
-- While the roll-up is more than a day behind (after an upgrade of a site
-- with a long trail, or when allotd was stopped for days: the reaper catches
-- up within minutes), the outcome is usage_rolling_up and there are no rows:
-- a report never reads more than a day of raw trail.
--
-- Columns: the outcome, the step's start, sessions started by access type, refusals by
-- result code, peak concurrent sessions, capacity minutes charged in the step
-- and in its calendar month up to the step's end, and the capacity pool of a
-- month of the license in force (units + overage; NULL when the license has
-- no analyzer_time allotment or its overage is unbounded).
CREATE FUNCTION engine.usage_report(p_from timestamptz, p_to timestamptz, p_step text,
                                    p_now timestamptz)
RETURNS TABLE (outcome engine.outcome, start timestamptz, sessions_started jsonb, refusals jsonb, peak_sessions integer,
               capacity_minutes bigint, capacity_month_to_date bigint, capacity_pool bigint)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    st usage_rollup;
    l license;
    width interval := CASE p_step WHEN 'hour' THEN interval '1 hour' ELSE interval '24 hours' END;
    -- From the start of p_from's month: the capacity minutes of the month so far.
    ext timestamptz := engine.month_start(p_from);
    w timestamptz;
    raw_end timestamptz := least(p_to, engine.hour_of(p_now) + interval '1 hour');
BEGIN
    SELECT * INTO st FROM usage_rollup;
    SELECT * INTO l FROM license;
    w := coalesce(st.rolled_until, engine.usage_origin(), p_to);
    IF raw_end - w > interval '1 day' THEN
        RETURN QUERY SELECT 'usage_rolling_up'::engine.outcome, NULL::timestamptz, NULL::jsonb,
                            NULL::jsonb, NULL::integer, NULL::bigint, NULL::bigint, NULL::bigint;
        RETURN;
    END IF;
    RETURN QUERY
    WITH parts AS (
        SELECT h.hour AS b, h.sessions_started, h.refusals, h.peak_sessions, h.capacity_minutes
          FROM usage_hours h
         WHERE p_step = 'hour' AND h.hour >= ext AND h.hour < least(p_to, w)
        UNION ALL
        SELECT d.day::timestamp AT TIME ZONE 'UTC', d.sessions_started, d.refusals,
               d.peak_sessions, d.capacity_minutes
          FROM usage_days d
         WHERE p_step = 'day' AND d.day >= (ext AT TIME ZONE 'UTC')::date
           AND d.day < (p_to AT TIME ZONE 'UTC')::date
        UNION ALL
        SELECT CASE p_step WHEN 'hour' THEN r.hour ELSE engine.day_of(r.hour) END,
               r.sessions_started, r.refusals, r.peak_sessions, r.capacity_minutes
          FROM engine.usage_from_trail(w, greatest(w, raw_end), st.open_sessions) r
         WHERE r.hour >= ext AND r.hour <= p_now
    ), steps AS (
        SELECT p.b, engine.counts_sum(p.sessions_started) AS started,
               engine.counts_sum(p.refusals) AS refused, max(p.peak_sessions) AS peak,
               sum(p.capacity_minutes)::bigint AS minutes
          FROM parts p GROUP BY p.b
    ), series AS (
        SELECT g.b, s.started, s.refused, s.peak, coalesce(s.minutes, 0) AS minutes,
               sum(coalesce(s.minutes, 0)) OVER (PARTITION BY engine.month_start(g.b) ORDER BY g.b)::bigint
                   AS month_minutes
          FROM generate_series(ext, p_to - width, width) AS g (b)
          LEFT JOIN steps s ON s.b = g.b
    )
    SELECT 'ok'::engine.outcome, x.b, coalesce(x.started, '{}'), coalesce(x.refused, '{}'),
           CASE WHEN x.b > p_now THEN 0 ELSE coalesce(x.peak, 0) END,
           x.minutes, x.month_minutes,
           CASE WHEN l.capacity_units IS NOT NULL
                THEN engine.type_limit(l.capacity_units, l.capacity_overage) END
      FROM series x
     WHERE x.b >= p_from
     ORDER BY x.b;
END $$;

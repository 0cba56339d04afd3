-- Rolls the audit trail up into usage_hours and usage_days (migration 0006),
-- in the background: the reaper's job calls it on every tick, on every allotd
-- instance (one at a time: the others skip the locked watermark).
--
-- Which hours: whole UTC hours from the watermark (usage_rollup.rolled_until,
-- at first the hour of the first event) up to the hour of p_now - p_lag, at
-- most p_max_hours of them per call (the caller calls again while it rolls
-- that many, so a site with years of trail catches up in short transactions).
-- The lag is what makes it safe against events committed out of order: an
-- event carries the clock of the instance that wrote it, and commits after it
-- was timed (a statement waiting on a lock), and the reaper ends an idle
-- session at the moment it became idle, up to a tick earlier.  allotd passes
-- a lag longer than all of these (src/jobs/reaper.c), so no event lands in an
-- hour already rolled.
--
-- Sessions active at the watermark carry from hour to hour (usage_from_trail
-- counts from them).  Once caught up, they are counted afresh from the
-- sessions themselves: those active now, less those that started after the
-- watermark, plus those that ended after it.  So an event that did arrive
-- late (a clock set back by hours) skews at most the hours rolled meanwhile,
-- never every hour after it.
--
-- Returns the number of hours rolled up (0: nothing to do, or another
-- instance is at it).
CREATE FUNCTION engine.usage_rollup(p_now timestamptz, p_lag bigint, p_max_hours integer)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    st usage_rollup;
    w timestamptz;
    e timestamptz;
    target timestamptz := engine.hour_of(p_now - p_lag * interval '1 second');
    open_at_e bigint;
BEGIN
    SELECT * INTO st FROM usage_rollup FOR UPDATE SKIP LOCKED;
    IF st.singleton IS NULL THEN
        -- Locked by another instance, or removed: put it back if it is gone.
        INSERT INTO usage_rollup DEFAULT VALUES ON CONFLICT DO NOTHING;
        RETURN 0;
    END IF;
    w := coalesce(st.rolled_until, engine.usage_origin());
    e := least(target, w + p_max_hours * interval '1 hour');
    IF w IS NULL OR e <= w THEN
        RETURN 0;
    END IF;

    WITH r AS (
        SELECT * FROM engine.usage_from_trail(w, e, st.open_sessions)
    ), hours AS (
        INSERT INTO usage_hours (hour, sessions_started, refusals, peak_sessions, capacity_minutes)
        SELECT r.hour, r.sessions_started, r.refusals, r.peak_sessions, r.capacity_minutes FROM r
    ), days AS (
        INSERT INTO usage_days AS d (day, sessions_started, refusals, peak_sessions, capacity_minutes)
        SELECT (engine.day_of(r.hour) AT TIME ZONE 'UTC')::date, engine.counts_sum(r.sessions_started),
               engine.counts_sum(r.refusals), max(r.peak_sessions), sum(r.capacity_minutes)
          FROM r GROUP BY engine.day_of(r.hour)
        ON CONFLICT (day) DO UPDATE
           SET sessions_started = engine.counts_add(d.sessions_started, EXCLUDED.sessions_started),
               refusals = engine.counts_add(d.refusals, EXCLUDED.refusals),
               peak_sessions = greatest(d.peak_sessions, EXCLUDED.peak_sessions),
               capacity_minutes = d.capacity_minutes + EXCLUDED.capacity_minutes
    )
    SELECT r.open_sessions INTO open_at_e FROM r ORDER BY r.hour DESC LIMIT 1;

    IF e = target THEN
        -- One statement, so one snapshot: the sessions and their events agree.
        SELECT (SELECT count(*) FROM sessions s WHERE s.live AND s.ended_at IS NULL)
               - (SELECT count(*) FILTER (WHERE x.kind = 'grant') - count(*) FILTER (WHERE x.kind = 'end')
                    FROM session_events x WHERE x.at >= e)
          INTO open_at_e;
    END IF;
    UPDATE usage_rollup SET rolled_until = e, open_sessions = greatest(open_at_e, 0);
    RETURN (extract(epoch FROM e - w) / 3600)::integer;
END $$;

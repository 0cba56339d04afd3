-- Rolls the audit trail up into usage_hours and usage_days (migration 0006),
-- in the background: the reaper's job calls it on every tick, on every allotd
-- instance (one at a time: the others skip the locked watermark).
--
-- What: the trail from the watermark (usage_rollup.rolled_until, at first
-- the hour of the first event) up to p_now - p_lag, in steps of at most
-- p_max_hours hours and p_max_events events (the caller calls again while it
-- rolls something, so a site with years of trail, or an hour of millions of
-- events, is rolled up in short transactions).  A step may end within an
-- hour: its hour's row and day's row are added to (counts summed, the peak
-- the greater).
--
-- The lag is what makes it safe against events committed out of order: an
-- event carries the clock of the instance that wrote it, and commits after it
-- was timed (a statement waiting on a lock), and the reaper ends an idle
-- session at the moment it became idle, up to a tick earlier.  allotd passes
-- a lag longer than all of these (src/jobs/reaper.c), so no event lands
-- before the watermark.
--
-- Sessions active at the watermark carry from step to step (usage_from_trail
-- counts from them).  Once caught up, they are counted afresh from the
-- sessions themselves: those active now, less those that started after the
-- watermark, plus those that ended after it.  So an event that did arrive
-- late (a clock set back by hours) skews at most the hours rolled meanwhile,
-- never every hour after it.
--
-- Returns the number of hours whose rows it wrote (0: nothing to do, or
-- another instance is at it).
CREATE FUNCTION engine.usage_rollup(p_now timestamptz, p_lag bigint, p_max_hours integer,
                                    p_max_events integer)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    st usage_rollup;
    w timestamptz;
    e timestamptz;
    cut timestamptz;
    target timestamptz := p_now - p_lag * interval '1 second';
    open_at_e bigint;
    hours integer;
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
    -- At most p_max_events: end the step at the next event's time.
    SELECT x.at INTO cut FROM session_events x WHERE x.at >= w AND x.at < e
     ORDER BY x.at OFFSET p_max_events LIMIT 1;
    IF cut > w THEN
        e := cut;
    END IF;

    WITH r AS (
        SELECT * FROM engine.usage_from_trail(w, e, st.open_sessions)
    ), hours AS (
        INSERT INTO usage_hours AS h (hour, sessions_started, refusals, peak_sessions, capacity_minutes)
        SELECT r.hour, r.sessions_started, r.refusals, r.peak_sessions, r.capacity_minutes FROM r
        ON CONFLICT (hour) DO UPDATE
           SET sessions_started = engine.counts_add(h.sessions_started, EXCLUDED.sessions_started),
               refusals = engine.counts_add(h.refusals, EXCLUDED.refusals),
               peak_sessions = greatest(h.peak_sessions, EXCLUDED.peak_sessions),
               capacity_minutes = h.capacity_minutes + EXCLUDED.capacity_minutes
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
    SELECT (SELECT r.open_sessions FROM r ORDER BY r.hour DESC LIMIT 1), (SELECT count(*) FROM r)
      INTO open_at_e, hours;

    IF e = target THEN
        -- One statement, so one snapshot: the sessions and their events agree.
        SELECT (SELECT count(*) FROM sessions s WHERE s.live AND s.ended_at IS NULL)
               - (SELECT count(*) FILTER (WHERE x.kind = 'grant') - count(*) FILTER (WHERE x.kind = 'end')
                    FROM session_events x WHERE x.at >= e)
          INTO open_at_e;
    END IF;
    UPDATE usage_rollup SET rolled_until = e, open_sessions = greatest(open_at_e, 0);
    RETURN hours;
END $$;

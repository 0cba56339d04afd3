-- Retention (ALLOT_RETENTION): what the site keeps of its history, and for
-- how long.  The reaper calls engine.retention_purge on every tick, on every
-- allotd instance (rows another instance is removing are skipped, never
-- waited for), until a call removes nothing or the tick's budget is spent
-- (src/jobs/reaper.c).
--
-- Removed, in batches of at most p_batch rows of each table per call (so no
-- call is one huge DELETE: each is a short transaction that holds few locks
-- and writes little WAL; bench/retention measures it against dropping
-- monthly partitions):
--   * the audit trail (session_events) older than p_retention seconds, and
--     only what the usage roll-up has counted (before usage_rollup's
--     watermark): a row never goes before the daily aggregates hold it;
--   * ended sessions older than that, once they hold no slot (not live: past
--     sessionLingerSeconds, and past the capacity block they paid for);
--   * login passes that returned to their group longer ago than that.
-- Kept whatever their age, because a rule reads them:
--   * active and lingering sessions (the parallel-session limit, the
--     capacity block a user's next session shares), allocations (live or in
--     quarantine: an allocation's lastUsed is its own column, not its
--     sessions'), login passes still out (window and return date), the
--     capacity used this month (capacity_usage).
-- Kept for ten years: the hourly and daily aggregates (usage_hours,
-- usage_days) and the capacity minutes by hour (capacity_hours) that the
-- reports read; older ones go in the same batches.
--
-- Each batch is picked through an index and removed by its rows' ctids (a TID
-- scan): however big the table, a call never plans a scan of all of it.
--
-- Returns the number of rows removed by this call.
CREATE FUNCTION engine.retention_purge(p_now timestamptz, p_retention bigint, p_batch integer)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    cut timestamptz := p_now - p_retention * interval '1 second';
    old timestamptz := p_now - interval '10 years';
    rolled timestamptz;
    n integer;
    total integer := 0;
BEGIN
    IF p_retention IS NULL OR p_retention < 1 OR p_batch IS NULL OR p_batch < 1 THEN
        RETURN 0;
    END IF;

    -- The audit trail, oldest first down its (at, id) index, up to the
    -- watermark of the roll-up (nothing until the first roll-up).
    SELECT r.rolled_until INTO rolled FROM usage_rollup r;
    IF rolled IS NOT NULL THEN
        DELETE FROM session_events e
         WHERE e.ctid = ANY (ARRAY(SELECT x.ctid FROM session_events x
                                   WHERE x.at < least(cut, rolled)
                                   ORDER BY x.at, x.id LIMIT p_batch FOR UPDATE SKIP LOCKED));
        GET DIAGNOSTICS n = ROW_COUNT;
        total := total + n;
    END IF;

    -- Ended sessions that hold no slot, oldest first down (started_at, id):
    -- one that ended before the cut started before it.  The few old sessions
    -- still active or live are passed over.
    DELETE FROM sessions s
     WHERE s.ctid = ANY (ARRAY(SELECT x.ctid FROM sessions x
                               WHERE x.started_at < cut AND x.ended_at < cut AND NOT x.live
                               ORDER BY x.started_at, x.id LIMIT p_batch FOR UPDATE SKIP LOCKED));
    GET DIAGNOSTICS n = ROW_COUNT;
    total := total + n;

    -- Login passes back in their group for longer than the retention (a pass
    -- returns after its window has closed: returns_at >= window_end).
    DELETE FROM login_passes p
     WHERE p.ctid = ANY (ARRAY(SELECT x.ctid FROM login_passes x
                               WHERE x.returns_at < least(cut, p_now) AND x.window_end < least(cut, p_now)
                               ORDER BY x.returns_at LIMIT p_batch FOR UPDATE SKIP LOCKED));
    GET DIAGNOSTICS n = ROW_COUNT;
    total := total + n;

    -- Aggregates older than ten years (a few rows a day).
    DELETE FROM usage_hours h
     WHERE h.ctid = ANY (ARRAY(SELECT x.ctid FROM usage_hours x WHERE x.hour < old
                               ORDER BY x.hour LIMIT p_batch FOR UPDATE SKIP LOCKED));
    GET DIAGNOSTICS n = ROW_COUNT;
    total := total + n;
    DELETE FROM capacity_hours h
     WHERE h.ctid = ANY (ARRAY(SELECT x.ctid FROM capacity_hours x WHERE x.hour < old
                               ORDER BY x.hour LIMIT p_batch FOR UPDATE SKIP LOCKED));
    GET DIAGNOSTICS n = ROW_COUNT;
    total := total + n;
    DELETE FROM usage_days d
     WHERE d.ctid = ANY (ARRAY(SELECT x.ctid FROM usage_days x WHERE x.day < (old AT TIME ZONE 'UTC')::date
                               ORDER BY x.day LIMIT p_batch FOR UPDATE SKIP LOCKED));
    GET DIAGNOSTICS n = ROW_COUNT;
    total := total + n;
    RETURN total;
END $$;

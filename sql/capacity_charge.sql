-- The calendar month (UTC) of p_now, and the start of the next one: the
-- capacity pool is reset at 00:00 UTC on the 1st.
CREATE FUNCTION engine.month_of(p_now timestamptz) RETURNS date
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN date_trunc('month', p_now AT TIME ZONE 'UTC')::date;

CREATE FUNCTION engine.next_month(p_now timestamptz) RETURNS timestamptz
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN (date_trunc('month', p_now AT TIME ZONE 'UTC') + interval '1 month') AT TIME ZONE 'UTC';

-- Analyzer capacity (DOMAIN.md): the pool is the allotment's minutes per
-- calendar month, reset at 00:00 UTC on the 1st; time is charged in blocks of
-- capacityUnitSeconds, one block when activity starts a new one.  Charges one
-- block to the month of p_now if the pool (plus overage) allows; the month's
-- row is locked, so concurrent charges never overspend.  The hour of p_now
-- counts the block too (capacity_hours, read by the usage report).
CREATE FUNCTION engine.capacity_charge(l license, p_now timestamptz) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    m date := engine.month_of(p_now);
    block bigint := (engine.param(l, 'capacityUnitSeconds') + 59) / 60;
    lim bigint := engine.type_limit(l.capacity_units, l.capacity_overage);
    used bigint;
BEGIN
    IF l.capacity_units IS NULL THEN
        RETURN false;
    END IF;
    INSERT INTO capacity_usage (month) VALUES (m) ON CONFLICT DO NOTHING;
    SELECT minutes INTO used FROM capacity_usage WHERE month = m FOR UPDATE;
    IF lim IS NOT NULL AND used + block > lim THEN
        RETURN false;
    END IF;
    UPDATE capacity_usage SET minutes = minutes + block WHERE month = m;
    -- The hour it was charged in, for the usage report (usage_rollup.sql).
    INSERT INTO capacity_hours AS c (hour, minutes)
    VALUES (date_trunc('hour', p_now AT TIME ZONE 'UTC') AT TIME ZONE 'UTC', block)
        ON CONFLICT (hour) DO UPDATE SET minutes = c.minutes + EXCLUDED.minutes;
    RETURN true;
END $$;

-- The end of the capacity block a user is in (blocks are the user's: one
-- another of their capacity sessions started covers this one), or NULL.
-- A session that ended keeps its block: logging out and in again within it
-- costs nothing (tests/db/test_rules_capacity.c; it cost a second block).
-- The reaper keeps such a session live until its block is over, so the
-- lingering sessions' index finds it.
CREATE FUNCTION engine.user_block_end(p_user uuid, p_now timestamptz) RETURNS timestamptz
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN greatest(
        (SELECT max(s.paid_until) FROM sessions s
          WHERE s.user_ref = p_user AND s.ended_at IS NULL
            AND s.access_type = 'analyzer_time' AND s.paid_until > p_now),
        (SELECT max(s.paid_until) FROM sessions s
          WHERE s.user_ref = p_user AND s.live AND s.ended_at IS NOT NULL
            AND s.access_type = 'analyzer_time' AND s.paid_until > p_now));
END $$;

-- Pays for capacity at p_now: the user's running block, else a new one.
-- Returns the end of the block paid for, or NULL when the pool is spent.
CREATE FUNCTION engine.capacity_pay(l license, p_user uuid, p_now timestamptz) RETURNS timestamptz
LANGUAGE plpgsql AS $$
DECLARE
    block_end timestamptz := engine.user_block_end(p_user, p_now);
BEGIN
    IF block_end IS NULL AND engine.capacity_charge(l, p_now) THEN
        block_end := p_now + engine.seconds(l, 'capacityUnitSeconds');
    END IF;
    RETURN block_end;
END $$;

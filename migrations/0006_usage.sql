-- Usage history (GET /reports/usage and the console's Usage page), kept as
-- aggregates so that a report never reads the whole audit trail.  The reaper
-- rolls the trail up in the background, up to a safety lag ago, into its UTC
-- hours and days (sql/usage_rollup.sql); a report reads these rows up to the
-- watermark and the raw trail after it (sql/usage_report.sql).
-- The aggregates are what outlives the raw rows: a retention that removes old
-- events and sessions keeps them.

-- 1. One row per hour rolled (or begun), every hour from the first event on
--    (zeros included), so that the open sessions carry from hour to hour.
--      sessions_started  grants by access type: {"professional": 41, ...}
--      refusals          refusals by result code: {"NoAvailableAccessType": 3}
--      peak_sessions     the most sessions active at once during the hour
--                        (from grants and ends in the order they happened)
--      capacity_minutes  analyzer capacity minutes charged in the hour
CREATE TABLE usage_hours (
    hour             timestamptz PRIMARY KEY,
    sessions_started jsonb NOT NULL DEFAULT '{}',
    refusals         jsonb NOT NULL DEFAULT '{}',
    peak_sessions    integer NOT NULL DEFAULT 0 CHECK (peak_sessions >= 0),
    capacity_minutes bigint NOT NULL DEFAULT 0 CHECK (capacity_minutes >= 0)
);

-- 2. The same per UTC day, added to as its hours are rolled up: the sums of
--    its hours, and the greatest of their peaks.  A day's row holds exactly
--    the day's trail before the watermark, as an hour's row does.
CREATE TABLE usage_days (
    day              date PRIMARY KEY,
    sessions_started jsonb NOT NULL DEFAULT '{}',
    refusals         jsonb NOT NULL DEFAULT '{}',
    peak_sessions    integer NOT NULL DEFAULT 0 CHECK (peak_sessions >= 0),
    capacity_minutes bigint NOT NULL DEFAULT 0 CHECK (capacity_minutes >= 0)
);

-- 3. The watermark: the trail before rolled_until is in usage_hours and
--    usage_days (an hour's capacity minutes once the hour is over);
--    open_sessions were active at rolled_until.  NULL until the first roll-up.
CREATE TABLE usage_rollup (
    singleton     boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    rolled_until  timestamptz,
    open_sessions integer NOT NULL DEFAULT 0
);
INSERT INTO usage_rollup DEFAULT VALUES;

-- 4. Capacity minutes by the hour they were charged in (capacity_usage holds
--    the month's total, which the pool is checked against).  The charges made
--    before this migration are counted at the start of their month.
CREATE TABLE capacity_hours (
    hour    timestamptz PRIMARY KEY,
    minutes bigint NOT NULL DEFAULT 0
);
INSERT INTO capacity_hours (hour, minutes)
SELECT month::timestamp AT TIME ZONE 'UTC', minutes FROM capacity_usage WHERE minutes > 0;

-- The conditions that time alone brings about, checked by every allotd
-- instance every ALLOT_WEBHOOK_INTERVAL (src/jobs/webhooks.c):
--   license.disabling  the license is in order and will be disabled (go
--                      stale) within "hours" unless a sync succeeds
--   license.stale      the license is stale: requests that need it are refused
--   license.expiring   its validTo is within "days"
-- Each fires once per crossing: the condition row is marked fired in the
-- transaction that writes the event, and is re-armed when the condition no
-- longer holds (a sync succeeded, a new license was applied).  Rows another
-- instance is checking are skipped (it fires them).  Also re-checks the
-- allotment thresholds (engine.webhook_allotment), and forgets deliveries
-- finished more than p_retention seconds ago.  Answers the events written.
CREATE FUNCTION engine.webhook_check(p_now timestamptz, p_retention bigint)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    l license;
    st text;
    c webhook_conditions;
    holds boolean;
    data jsonb;
    fired integer := 0;
BEGIN
    SELECT * INTO l FROM license;
    st := engine.license_status(l, p_now);
    FOR c IN SELECT * FROM webhook_conditions x
              WHERE x.type IN ('license.disabling', 'license.stale', 'license.expiring')
              ORDER BY x.webhook_id, x.n FOR UPDATE SKIP LOCKED LOOP
        holds := CASE c.type
            WHEN 'license.disabling' THEN
                st = 'ok' AND engine.disabled_at(l) - p_now <= c.threshold * interval '1 hour'
            WHEN 'license.stale' THEN st = 'stale'
            WHEN 'license.expiring' THEN
                st IN ('ok', 'stale') AND l.valid_to - p_now <= c.threshold * interval '1 day'
            END;
        IF holds AND NOT c.fired THEN
            data := engine.webhook_license_data(l, p_now);
            IF c.type = 'license.disabling' THEN
                data := data || jsonb_build_object(
                    'secondsLeft', floor(extract(epoch FROM engine.disabled_at(l) - p_now))::bigint,
                    'hours', c.threshold);
            ELSIF c.type = 'license.expiring' THEN
                data := data || jsonb_build_object(
                    'secondsLeft', floor(extract(epoch FROM l.valid_to - p_now))::bigint,
                    'days', c.threshold);
            END IF;
            UPDATE webhook_conditions x SET fired = true
             WHERE x.webhook_id = c.webhook_id AND x.n = c.n;
            PERFORM engine.webhook_emit(p_now, c.webhook_id, c.type, data);
            fired := fired + 1;
        ELSIF NOT holds AND c.fired THEN
            UPDATE webhook_conditions x SET fired = false
             WHERE x.webhook_id = c.webhook_id AND x.n = c.n;
        END IF;
    END LOOP;
    fired := fired + engine.webhook_allotment(p_now, 'professional')
                   + engine.webhook_allotment(p_now, 'analyzer');
    DELETE FROM webhook_outbox o
     WHERE o.state <> 'pending' AND o.finished_at < p_now - p_retention * interval '1 second';
    RETURN fired;
END $$;

-- The events of a sync, in the transaction that records it
-- (engine.sync_record calls this after its change):
--   sync.failed      the failures in a row reached the subscription's
--                    "failures" (1: the first one); once per run of failures
--   sync.recovered   a sync succeeded after one or more failed
--   license.revoked  the backend's answer revoked the license
-- p_old is the license row before the sync was recorded.
CREATE FUNCTION engine.webhook_sync(p_now timestamptz, p_old license, p_ok boolean,
                                    p_error text)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    l license;
    c record;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM webhook_conditions x
                    WHERE x.type IN ('sync.failed', 'sync.recovered', 'license.revoked')) THEN
        RETURN;
    END IF;
    SELECT * INTO l FROM license;
    IF NOT p_ok THEN
        FOR c IN UPDATE webhook_conditions x SET counter = x.counter + 1
                  WHERE x.type IN ('sync.failed', 'sync.recovered')
              RETURNING x.webhook_id, x.type, x.counter, x.threshold LOOP
            IF c.type = 'sync.failed' AND c.counter = c.threshold THEN
                PERFORM engine.webhook_emit(p_now, c.webhook_id, 'sync.failed',
                    engine.webhook_license_data(l, p_now)
                    || jsonb_build_object('error', p_error, 'failures', c.counter));
            END IF;
        END LOOP;
        RETURN;
    END IF;
    FOR c IN UPDATE webhook_conditions x SET counter = 0
               FROM (SELECT y.webhook_id, y.n, y.counter FROM webhook_conditions y
                      WHERE y.type IN ('sync.failed', 'sync.recovered') AND y.counter > 0
                      FOR UPDATE) o
              WHERE x.webhook_id = o.webhook_id AND x.n = o.n
          RETURNING x.webhook_id, x.type, o.counter AS failures LOOP
        IF c.type = 'sync.recovered' THEN
            PERFORM engine.webhook_emit(p_now, c.webhook_id, 'sync.recovered',
                engine.webhook_license_data(l, p_now) || jsonb_build_object('failures', c.failures));
        END IF;
    END LOOP;
    IF l.revoked AND NOT coalesce(p_old.revoked, false) THEN
        FOR c IN SELECT x.webhook_id FROM webhook_conditions x WHERE x.type = 'license.revoked' LOOP
            PERFORM engine.webhook_emit(p_now, c.webhook_id, 'license.revoked',
                                        engine.webhook_license_data(l, p_now));
        END LOOP;
    END IF;
END $$;

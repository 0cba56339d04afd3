-- refusals.high: more than "count" refusals of session starts within a
-- window of "seconds", counted where each refusal is written to the audit
-- trail (engine.event), in its transaction.  Windows follow one another: a
-- window opens at the first refusal after the previous one closed, and fires
-- at most once, at the refusal that goes over the count.  With no such
-- subscription this is one look at an index.
CREATE FUNCTION engine.webhook_refusal(p_now timestamptz, p_result text)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    c webhook_conditions;
    fresh boolean;
BEGIN
    FOR c IN SELECT * FROM webhook_conditions x WHERE x.type = 'refusals.high'
              ORDER BY x.webhook_id, x.n FOR UPDATE LOOP
        fresh := c.window_start IS NULL OR p_now < c.window_start
                 OR p_now >= c.window_start + c.window_seconds * interval '1 second';
        IF fresh THEN
            c.window_start := p_now;
            c.counter := 1;
            c.fired := false;
        ELSE
            c.counter := c.counter + 1;
        END IF;
        IF c.counter > c.threshold AND NOT c.fired THEN
            c.fired := true;
            PERFORM engine.webhook_emit(p_now, c.webhook_id, 'refusals.high',
                jsonb_build_object('refusals', c.counter, 'above', c.threshold,
                                   'windowSeconds', c.window_seconds,
                                   'windowStart', engine.webhook_time(c.window_start),
                                   'lastResultCode', p_result));
        END IF;
        UPDATE webhook_conditions x SET window_start = c.window_start, counter = c.counter,
                                        fired = c.fired
         WHERE x.webhook_id = c.webhook_id AND x.n = c.n;
    END LOOP;
END $$;

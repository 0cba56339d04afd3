-- Delivering the outbox (src/jobs/webhooks.c).  A delivery thread of any
-- allotd instance claims the next due event in a transaction, sends it, and
-- records the attempt in the same transaction.  The row lock (FOR UPDATE
-- SKIP LOCKED) keeps every other instance off the event while it is being
-- sent, so each event goes out once; if the sender dies before it
-- committed, its transaction rolls back and the event is due again (at least
-- once: a receiver deduplicates by webhook-id).

-- The next due event: its id, the subscription's URL and secret, the body,
-- and the number of this attempt.  No row: nothing is due.
CREATE FUNCTION engine.webhook_claim(p_now timestamptz)
RETURNS TABLE (id uuid, url text, secret text, payload text, attempt integer)
LANGUAGE plpgsql AS $$
BEGIN
    RETURN QUERY
    SELECT o.id, w.url, w.secret, o.payload, o.attempts + 1
      FROM webhook_outbox o JOIN webhooks w ON w.id = o.webhook_id
     WHERE o.state = 'pending' AND o.next_attempt_at <= p_now
     ORDER BY o.next_attempt_at, o.id
     LIMIT 1
       FOR UPDATE OF o SKIP LOCKED;
END $$;

-- The wait before attempt n + 1 after n failed: p_min doubled n - 1 times,
-- at most p_max, then spread by p_jitter (0 to 1, drawn by the caller) over
-- 80% to 100% of it, so receivers that come back are not hit by every
-- sender at once.
CREATE FUNCTION engine.webhook_backoff(p_failed integer, p_min bigint, p_max bigint,
                                       p_jitter double precision) RETURNS interval
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN least(p_max::numeric, p_min * power(2::numeric, least(p_failed - 1, 62)))
           * (0.8 + 0.2 * greatest(0, least(p_jitter, 1))) * interval '1 second';

-- Records an attempt at an event claimed by engine.webhook_claim: delivered
-- on a 2xx (p_ok), else retrying at the backoff, or failed once
-- p_max_attempts were made.  Answers the outcome written to the log.
CREATE FUNCTION engine.webhook_record(p_id uuid, p_now timestamptz, p_ok boolean,
                                      p_status integer, p_error text, p_ms integer,
                                      p_deliverer text, p_min bigint, p_max bigint,
                                      p_max_attempts integer, p_jitter double precision)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    o webhook_outbox;
    v_outcome text;
BEGIN
    SELECT * INTO o FROM webhook_outbox x WHERE x.id = p_id FOR UPDATE;
    IF o.id IS NULL OR o.state <> 'pending' THEN
        RETURN NULL;  -- deleted with its subscription meanwhile, or already done
    END IF;
    o.attempts := o.attempts + 1;
    v_outcome := CASE WHEN p_ok THEN 'delivered'
                      WHEN o.attempts >= p_max_attempts THEN 'failed'
                      ELSE 'retrying' END;
    UPDATE webhook_outbox x SET
        attempts = o.attempts,
        state = CASE v_outcome WHEN 'retrying' THEN 'pending' ELSE v_outcome END,
        next_attempt_at = CASE v_outcome WHEN 'retrying'
                               THEN p_now + engine.webhook_backoff(o.attempts, p_min, p_max, p_jitter)
                               ELSE x.next_attempt_at END,
        finished_at = CASE v_outcome WHEN 'retrying' THEN NULL ELSE p_now END
     WHERE x.id = p_id;
    INSERT INTO webhook_attempts (id, outbox_id, webhook_id, attempt, at, outcome, status_code,
                                  error, duration_ms, deliverer)
    VALUES (engine.new_id(p_now), p_id, o.webhook_id, o.attempts, p_now, v_outcome, p_status,
            left(p_error, 500), greatest(p_ms, 0), p_deliverer);
    RETURN v_outcome;
END $$;

-- Alerts by webhook: writing an event to the outbox.  Every fact that an
-- event reports calls this in the transaction that records the fact (a sync,
-- an allocation, a refusal), or in the transaction that records a time-based
-- condition as fired (engine.webhook_check): an event is committed with its
-- fact or not at all, so a crash or a restart loses none.

-- RFC 3339 UTC with microseconds, as the API shows times.
CREATE FUNCTION engine.webhook_time(p timestamptz) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN to_char(p AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"');

-- One event for one subscription: the body is {"type", "timestamp", "data"}
-- (the Standard Webhooks payload), kept as the exact text that is signed and
-- sent.  Due at once; the delivery threads are woken (NOTIFY allot_webhooks,
-- sent at commit).
CREATE FUNCTION engine.webhook_emit(p_now timestamptz, p_webhook uuid, p_type text, p_data jsonb)
RETURNS uuid LANGUAGE plpgsql AS $$
DECLARE
    v_id uuid := engine.new_id(p_now);
BEGIN
    INSERT INTO webhook_outbox (id, webhook_id, type, payload, created_at, next_attempt_at)
    VALUES (v_id, p_webhook, p_type,
            json_build_object('type', p_type, 'timestamp', engine.webhook_time(p_now),
                              'data', p_data)::text,
            p_now, p_now);
    PERFORM pg_notify('allot_webhooks', '');
    RETURN v_id;
END $$;

-- The license facts every license event carries.
CREATE FUNCTION engine.webhook_license_data(l license, p_now timestamptz) RETURNS jsonb
    LANGUAGE sql STABLE
    RETURN CASE WHEN l.singleton IS NULL THEN jsonb_build_object('status', 'missing') ELSE
        jsonb_build_object(
            'licenseNumber', l.license_number,
            'status', engine.license_status(l, p_now),
            'lastVerifiedAt', engine.webhook_time(l.last_verified_at),
            'lastSyncAttemptAt', engine.webhook_time(l.last_sync_attempt_at),
            'lastSyncError', l.last_sync_error,
            'disabledAt', engine.webhook_time(engine.disabled_at(l)),
            'validTo', engine.webhook_time(l.valid_to)) END;

-- POST /webhooks/{id}/actions/test: a webhook.test event, to try a receiver.
-- Outcomes: ok (with the event's id), or NULL when there is no such
-- subscription.
CREATE FUNCTION engine.webhook_test(p_webhook uuid, p_now timestamptz) RETURNS uuid
LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM webhooks w WHERE w.id = p_webhook) THEN
        RETURN NULL;
    END IF;
    RETURN engine.webhook_emit(p_now, p_webhook, 'webhook.test',
                               jsonb_build_object('webhookId', p_webhook));
END $$;

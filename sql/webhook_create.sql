-- POST /webhooks: a subscription and the conditions it watches.  allotd
-- validated the request (src/api/webhooks.c: the event types and their
-- parameters) and filled in the defaults: p_events is an array of objects
-- {"type", and its parameter: "hours" | "days" | "allotment" and "below" |
-- "count" and "seconds" | "failures"}.  A condition starts unfired: one
-- that already holds fires at the next check (a license already stale
-- alerts its new subscriber once).
CREATE FUNCTION engine.webhook_create(p_url text, p_description text, p_secret text,
                                      p_events jsonb, p_now timestamptz)
RETURNS SETOF webhooks LANGUAGE plpgsql AS $$
DECLARE
    w webhooks;
BEGIN
    INSERT INTO webhooks (url, description, secret, events, created_at)
    VALUES (p_url, p_description, p_secret, p_events, p_now) RETURNING * INTO w;
    INSERT INTO webhook_conditions (webhook_id, n, type, allotment, threshold, window_seconds)
    SELECT w.id, e.n, e.v ->> 'type', e.v ->> 'allotment',
           coalesce(e.v ->> 'hours', e.v ->> 'days', e.v ->> 'below', e.v ->> 'count',
                    e.v ->> 'failures')::bigint,
           (e.v ->> 'seconds')::bigint
      FROM jsonb_array_elements(p_events) WITH ORDINALITY AS e(v, n);
    RETURN NEXT w;
END $$;

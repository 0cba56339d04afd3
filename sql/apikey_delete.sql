-- DELETE /apikeys/{id}: an API key goes, unless it is the last admin key
-- (the API would have no administrator left until a restart with
-- ALLOT_ADMIN_KEY).  The admin keys are locked in id order first, so two
-- deletes of the last two admin keys queue on the lock, and the second one
-- then counts one admin key left.  Outcomes: ok, apikey_not_found,
-- last_admin_key.
CREATE FUNCTION engine.apikey_delete(p_id uuid) RETURNS engine.outcome
LANGUAGE plpgsql AS $$
DECLARE
    admins bigint;
    is_admin boolean;
BEGIN
    SELECT count(*), coalesce(bool_or(a.id = p_id), false) INTO admins, is_admin
      FROM (SELECT k.id FROM api_keys k WHERE k.role = 'admin' ORDER BY k.id FOR UPDATE) a;
    IF is_admin AND admins <= 1 THEN
        RETURN 'last_admin_key';
    END IF;
    DELETE FROM api_keys WHERE id = p_id;
    RETURN CASE WHEN FOUND THEN 'ok' ELSE 'apikey_not_found' END::engine.outcome;
END $$;

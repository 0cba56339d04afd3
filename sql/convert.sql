-- After the license's conversion date (tokens converted to professional and
-- analyzer units) the token-based passes go: user access passes are removed,
-- login groups lose their tokens and passes, and the sessions on them end.
-- Run by the sync, the reaper and when a license is applied; harmless to
-- run again.
CREATE FUNCTION engine.convert(p_now timestamptz) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    l license;
    s sessions;
BEGIN
    SELECT * INTO l FROM license;
    IF engine.tokens_usable(l, p_now) THEN
        RETURN;
    END IF;
    FOR s IN SELECT * FROM sessions x
              WHERE x.ended_at IS NULL AND x.access_type IN ('user', 'login')
              FOR UPDATE LOOP
        PERFORM engine.session_close(s, p_now, 'license_converted', 'Ok');
    END LOOP;
    DELETE FROM allocations WHERE type = 'user';
    DELETE FROM login_passes;
    UPDATE rules SET tokens = 0, modified_at = clock_timestamp()
     WHERE access_type = 'login' AND tokens <> 0;
END $$;

-- Appends to the audit trail (DOMAIN.md: every grant and every refusal, who,
-- when, which access type, result code, session count), and the ends.
CREATE FUNCTION engine.event(p_now timestamptz, p_kind text, p_session uuid, p_user uuid,
                            p_dir text, p_uid text, p_access text, p_result text,
                            p_count bigint, p_detail text)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO session_events (id, at, kind, session_id, user_ref, user_directory, user_id,
                                access_type, result_code, session_count, detail)
    VALUES (engine.new_id(p_now), p_now, p_kind, p_session, p_user, p_dir, p_uid, p_access,
            p_result, p_count, p_detail);
    IF p_kind = 'refusal' THEN
        PERFORM engine.webhook_refusal(p_now, p_result);  -- alerts (webhook_refusal.sql)
    END IF;
END $$;

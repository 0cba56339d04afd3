-- A session start without allot: count it on the user's row (the lock that
-- serialises a user's starts), write the session and its audit row.
-- Variables: nusers.
\set uid random(1, :nusers)
BEGIN;
UPDATE users SET sessions_active = sessions_active + 1 WHERE id = :uid;
WITH s AS (INSERT INTO sessions (user_id, started_at, last_activity)
           VALUES (:uid, now(), now()) RETURNING id)
INSERT INTO events (at, kind, user_id, session_id) SELECT now(), 'grant', :uid, id FROM s;
END;

-- A heartbeat without allot: record activity on an active session.
-- Variables: nusers (sessions 1..nusers are active).
\set sid random(1, :nusers)
UPDATE sessions SET last_activity = now() WHERE id = :sid;

-- The bare work of allot's hot paths, without allot: the tables a session
-- start and a heartbeat touch, reduced to the columns they write, in a
-- database of their own.  bench/engine runs pgbench on the transactions
-- beside it against these tables, and wrk on allotd doing the same work.
-- Variables: nusers.
SET client_min_messages = warning;
DROP TABLE IF EXISTS events, sessions, users;
CREATE TABLE users (
    id bigint PRIMARY KEY,
    sessions_active integer NOT NULL DEFAULT 0
) WITH (fillfactor = 90);
CREATE TABLE sessions (
    id bigserial PRIMARY KEY,
    user_id bigint NOT NULL REFERENCES users,
    started_at timestamptz NOT NULL,
    last_activity timestamptz NOT NULL,
    ended_at timestamptz
) WITH (fillfactor = 80);
CREATE INDEX ON sessions (user_id) WHERE ended_at IS NULL;
CREATE TABLE events (
    id bigserial PRIMARY KEY,
    at timestamptz NOT NULL,
    kind text NOT NULL,
    user_id bigint NOT NULL,
    session_id bigint
);
CREATE INDEX ON events (at, id);
INSERT INTO users (id) SELECT g FROM generate_series(1, :nusers) g;
-- one active session per user, for the heartbeats
INSERT INTO sessions (user_id, started_at, last_activity) SELECT id, now(), now() FROM users;
UPDATE users SET sessions_active = 1;
VACUUM ANALYZE;

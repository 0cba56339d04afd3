-- Foundation: API keys, users, and the server's shared secrets.

CREATE TABLE api_keys (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name         text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    role         text NOT NULL CHECK (role IN ('admin', 'auditor', 'proxy')),
    -- The secret is never stored: lookup is the first 16 hex digits of its
    -- SHA-256 (to find the row), hash the whole digest (compared in constant time).
    lookup       text NOT NULL UNIQUE,
    hash         bytea NOT NULL CHECK (length(hash) = 32),
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz
);

CREATE TABLE users (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_directory text NOT NULL,
    user_id        text NOT NULL,
    name           text NOT NULL DEFAULT '',
    groups         text[] NOT NULL DEFAULT '{}',
    created_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
    modified_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
    UNIQUE (user_directory, user_id)
);
-- Keyset pagination walks (created_at, id); filters use the unique index and GIN.
CREATE INDEX users_page ON users (created_at, id);
CREATE INDEX users_groups ON users USING gin (groups);

-- Secrets every allotd instance shares, made once by the database itself
-- (gen_random_uuid draws from PostgreSQL's strong random source).
CREATE TABLE server_secrets (
    name   text PRIMARY KEY,
    secret text NOT NULL
);
INSERT INTO server_secrets (name, secret)
VALUES ('cursor', replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', ''));

-- RFC 3339 UTC text for every timestamp the API shows.
CREATE FUNCTION allot_ts(t timestamptz) RETURNS text
    LANGUAGE sql STABLE PARALLEL SAFE
    RETURN to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"');

-- Keyset position of a row for list cursors: microseconds since the epoch.
CREATE FUNCTION allot_us(t timestamptz) RETURNS bigint
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN (extract(epoch FROM t) * 1000000)::bigint;

CREATE FUNCTION allot_from_us(us bigint) RETURNS timestamptz
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN to_timestamp(0) + us * interval '1 microsecond';

-- The API's representation of a user, built in one place.
CREATE FUNCTION allot_user_json(u users) RETURNS json
    LANGUAGE sql STABLE PARALLEL SAFE
    RETURN json_build_object(
        'id', u.id, 'userDirectory', u.user_directory, 'userId', u.user_id,
        'name', u.name, 'groups', to_json(u.groups),
        'createdAt', allot_ts(u.created_at), 'modifiedAt', allot_ts(u.modified_at));

CREATE FUNCTION allot_apikey_json(k api_keys) RETURNS json
    LANGUAGE sql STABLE PARALLEL SAFE
    RETURN json_build_object(
        'id', k.id, 'name', k.name, 'role', k.role, 'createdAt', allot_ts(k.created_at),
        'lastUsedAt', allot_ts(k.last_used_at));

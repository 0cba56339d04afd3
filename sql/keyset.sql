-- Keyset pagination of the lists: a position is (timestamp, id), the
-- timestamp carried in the cursor as microseconds since the epoch.
CREATE FUNCTION engine.us(t timestamptz) RETURNS bigint
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN (extract(epoch FROM t) * 1000000)::bigint;

CREATE FUNCTION engine.from_us(us bigint) RETURNS timestamptz
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN 'epoch'::timestamptz + us * interval '1 microsecond';

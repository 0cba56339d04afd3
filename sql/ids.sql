-- Ids of the rows that pile up (sessions, audit events): time-ordered UUIDs
-- (version 7, RFC 9562: 48 bits of milliseconds, then random bits), so that
-- their primary keys grow at the right edge instead of splitting pages at
-- random as the tables reach millions of rows.
CREATE FUNCTION engine.new_id(p_now timestamptz) RETURNS uuid
    LANGUAGE sql VOLATILE PARALLEL SAFE
    RETURN encode(set_bit(set_bit(
               overlay(uuid_send(gen_random_uuid())
                       PLACING substring(int8send(floor(extract(epoch FROM p_now) * 1000)::bigint) FROM 3)
                       FROM 1 FOR 6),
               52, 1), 53, 1), 'hex')::uuid;

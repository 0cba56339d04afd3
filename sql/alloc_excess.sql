-- An allocation is in excess (DOMAIN.md "ExcessAssignment") when more of its
-- type count than the license allows and it is among the newest: the license
-- shrank below what was assigned, and the oldest allocations keep working.
-- User passes share the tokens with login groups; after the conversion date
-- none is usable.  The exact rank is counted only when more are assigned
-- than allowed, which is rare: the usual answer costs two cheap counts.
CREATE FUNCTION engine.alloc_excess(l license, p_type text, p_created timestamptz, p_id uuid,
                                   p_now timestamptz)
RETURNS boolean LANGUAGE plpgsql STABLE AS $$
DECLARE
    allowed bigint;
    held bigint := 0;
BEGIN
    IF p_type = 'user' THEN
        IF NOT engine.tokens_usable(l, p_now) THEN
            RETURN true;
        END IF;
        held := engine.login_tokens_held(p_now);
        allowed := l.tokens - held;
    ELSE
        allowed := engine.type_allowed(l, p_type);
        IF allowed IS NULL THEN
            RETURN false;  -- unbounded
        END IF;
    END IF;
    IF engine.type_used(p_type, p_now) <= allowed THEN
        RETURN false;
    END IF;
    RETURN (SELECT count(*) FROM allocations b
             WHERE b.type = p_type AND engine.alloc_counts(b, p_now)
               AND (b.created_at, b.id) < (p_created, p_id)) >= allowed;
END $$;

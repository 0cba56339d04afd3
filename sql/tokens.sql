-- Tokens (DOMAIN.md "Access types"): one buys a user access pass, or ten
-- login access passes.

-- Login passes of a group still out (used and not yet returned).
CREATE FUNCTION engine.passes_out(p_rule uuid, p_now timestamptz) RETURNS bigint
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN (SELECT count(*) FROM login_passes p WHERE p.rule_id = p_rule AND p.returns_at > p_now);
END $$;

-- Tokens held by login access groups: each group its tokens, or more while
-- more of its passes are out (a group lowered below its passes in use keeps
-- holding them), plus the passes of deleted groups that have not returned;
-- ten passes to a token.
CREATE FUNCTION engine.login_tokens_held(p_now timestamptz) RETURNS bigint
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN coalesce((SELECT sum(greatest(r.tokens, (engine.passes_out(r.id, p_now) + 9) / 10))
                       FROM rules r WHERE r.access_type = 'login'), 0)
         + (SELECT (count(*) + 9) / 10 FROM login_passes p
             WHERE p.rule_id IS NULL AND p.returns_at > p_now);
END $$;

-- Tokens taken: user access passes (live and quarantined) and login groups.
CREATE FUNCTION engine.tokens_used(p_now timestamptz) RETURNS bigint
    LANGUAGE sql STABLE PARALLEL SAFE
    RETURN engine.type_used('user', p_now) + engine.login_tokens_held(p_now);

-- Tokens buy passes until the license's conversion date; after it the
-- token-based passes are removed (engine.convert) and none are handed out.
CREATE FUNCTION engine.tokens_usable(l license, p_now timestamptz) RETURNS boolean
    LANGUAGE sql STABLE PARALLEL SAFE
    RETURN l.conversion_date IS NULL OR l.conversion_date > p_now;

-- Room for one more allocation of a type: professional and analyzer take a
-- unit of their allotment, a user access pass takes a token.
CREATE FUNCTION engine.has_room(l license, p_type text, p_now timestamptz) RETURNS boolean
    LANGUAGE sql STABLE
    RETURN CASE p_type
        WHEN 'user' THEN engine.tokens_usable(l, p_now) AND engine.tokens_used(p_now) < l.tokens
        ELSE coalesce(engine.type_used(p_type, p_now) < engine.type_allowed(l, p_type), true)
        END;

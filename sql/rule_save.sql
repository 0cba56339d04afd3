-- What the rule functions answer: the outcome and the rule.
CREATE TYPE engine.rule_reply AS (
    outcome           engine.outcome,
    id                uuid,
    name              text,
    access_type       text,
    match_groups      json,
    match_directories json,
    tokens            bigint,
    created_at        timestamptz,
    modified_at       timestamptz
);

CREATE FUNCTION engine.rule_reply(o engine.outcome, r rules) RETURNS engine.rule_reply
    LANGUAGE sql STABLE PARALLEL SAFE
    RETURN ROW(o, r.id, r.name, r.access_type, to_json(r.match_groups), to_json(r.match_directories),
               CASE WHEN r.access_type = 'login' THEN r.tokens END, r.created_at,
               r.modified_at)::engine.rule_reply;

-- POST and PATCH /allocations/rules (p_id NULL: create; NULL fields of an
-- update are left as they are).  A login access group takes its tokens when
-- it is saved, counted under the license row's lock.  Outcomes: ok,
-- rule_not_found, rule_name_taken, no_tokens, tokens_login_only.
CREATE FUNCTION engine.rule_save(p_id uuid, p_name text, p_type text, p_groups text[],
                                p_dirs text[], p_tokens bigint, p_now timestamptz)
RETURNS engine.rule_reply LANGUAGE plpgsql AS $$
DECLARE
    l license;
    r rules;
    old_tokens bigint := 0;
BEGIN
    SELECT * INTO l FROM license FOR UPDATE;
    IF p_id IS NOT NULL THEN
        SELECT * INTO r FROM rules WHERE id = p_id FOR UPDATE;
        IF r.id IS NULL THEN
            RETURN engine.rule_reply('rule_not_found', NULL);
        END IF;
        p_type := r.access_type;
        old_tokens := r.tokens;
    END IF;
    IF p_tokens IS NOT NULL AND p_type <> 'login' THEN
        RETURN engine.rule_reply('tokens_login_only', NULL);
    END IF;
    IF p_type = 'login' AND coalesce(p_tokens, old_tokens) > old_tokens
       AND (l.singleton IS NULL OR NOT engine.tokens_usable(l, p_now)
            OR engine.tokens_used(p_now) + coalesce(p_tokens, old_tokens) - old_tokens > l.tokens) THEN
        RETURN engine.rule_reply('no_tokens', NULL);
    END IF;
    BEGIN
        IF p_id IS NULL THEN
            INSERT INTO rules (name, access_type, match_groups, match_directories, tokens)
            VALUES (p_name, p_type, coalesce(p_groups, '{}'), coalesce(p_dirs, '{}'),
                    coalesce(p_tokens, 0))
            RETURNING * INTO r;
        ELSE
            UPDATE rules SET name = coalesce(p_name, name),
                             match_groups = coalesce(p_groups, match_groups),
                             match_directories = coalesce(p_dirs, match_directories),
                             tokens = coalesce(p_tokens, tokens),
                             modified_at = clock_timestamp()
             WHERE id = p_id RETURNING * INTO r;
        END IF;
    EXCEPTION WHEN unique_violation THEN
        RETURN engine.rule_reply('rule_name_taken', NULL);
    END;
    RETURN engine.rule_reply('ok', r);
END $$;

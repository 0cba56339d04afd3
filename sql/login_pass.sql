-- Login access passes (DOMAIN.md): a pass opens a window of loginPassSeconds
-- from its first use, shared by the user's sessions; activity or a new
-- session after the window closed uses another pass; a used pass returns to
-- its group passReturnSeconds after it was used.

-- The user's open window, if any.
CREATE FUNCTION engine.login_window(p_user uuid, p_now timestamptz) RETURNS login_passes
LANGUAGE plpgsql STABLE AS $$
DECLARE
    p login_passes;
BEGIN
    SELECT * INTO p FROM login_passes x
     WHERE x.user_ref = p_user AND x.window_end > p_now AND x.rule_id IS NOT NULL
     ORDER BY x.window_end DESC LIMIT 1;
    RETURN p;
END $$;

-- Takes a pass for user u from the first matching group (oldest first) with
-- one left; each group's row is locked while its passes are counted.
CREATE FUNCTION engine.login_take(l license, u users, p_now timestamptz) RETURNS login_passes
LANGUAGE plpgsql AS $$
DECLARE
    r rules;
    p login_passes;
BEGIN
    -- no pass after the conversion date, nor while the groups hold more
    -- tokens than a shrunk license has
    IF NOT engine.tokens_usable(l, p_now) OR engine.tokens_used(p_now) > l.tokens THEN
        RETURN NULL;
    END IF;
    FOR r IN SELECT * FROM rules x
              WHERE x.access_type = 'login' AND engine.rule_matches(x, u)
              ORDER BY x.created_at, x.id FOR UPDATE LOOP
        IF engine.passes_out(r.id, p_now) < r.tokens * 10 THEN
            INSERT INTO login_passes (rule_id, user_ref, used_at, window_end, returns_at)
            VALUES (r.id, u.id, p_now, p_now + engine.seconds(l, 'loginPassSeconds'),
                    p_now + engine.seconds(l, 'passReturnSeconds'))
            RETURNING * INTO p;
            RETURN p;
        END IF;
    END LOOP;
    RETURN NULL;
END $$;

-- Pays for a login session at p_now: the user's open window, else a new
-- pass.  NULL when none is left.
CREATE FUNCTION engine.login_pay(l license, u users, p_now timestamptz) RETURNS login_passes
LANGUAGE plpgsql AS $$
DECLARE
    p login_passes;
BEGIN
    IF NOT engine.tokens_usable(l, p_now) THEN
        RETURN NULL;
    END IF;
    p := engine.login_window(u.id, p_now);
    IF p.id IS NULL THEN
        p := engine.login_take(l, u, p_now);
    END IF;
    RETURN p;
END $$;

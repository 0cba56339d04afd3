-- Licensing core: the site license, allocations with quarantine, rules (access
-- groups), login passes, analyzer capacity, sessions and their audit trail.
--
-- The transactional paths (allocation, session start, heartbeat) are SQL
-- functions so that each is one round trip and every counting limit is
-- enforced inside the transaction, under row locks:
--   * the license row (FOR UPDATE) serialises everything that takes a unit or
--     a token: allocations, dynamic assignment, login rules;
--   * the user row (FOR UPDATE) serialises what one user's sessions do
--     (starts, heartbeats, removals of their allocations), so the
--     parallel-session limit is exact and a login window is shared;
--   * locks are always taken in one order: the user, the license, rules and
--     capacity months, then sessions and allocations;
--   * a login rule row and a capacity month row serialise pass and minute use.
-- The rules themselves are specified by the pure functions of src/core; allotd
-- re-derives every session decision from the snapshot these functions return
-- and logs any disagreement.

-- One license per site: a single row.
CREATE TABLE license (
    singleton           boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    license_key         text NOT NULL,           -- the signed key (a bearer for syncs)
    definition          jsonb NOT NULL,          -- its verified payload
    license_number      text NOT NULL,
    organization        text NOT NULL,
    product             text NOT NULL,
    valid_from          timestamptz NOT NULL,
    valid_to            timestamptz NOT NULL,
    issued_at           timestamptz NOT NULL,    -- iat: when the authority signed it
    professional_units  bigint,                  -- NULL: not in the license
    professional_overage bigint NOT NULL DEFAULT 0,  -- -1 = unbounded
    analyzer_units      bigint,
    analyzer_overage    bigint NOT NULL DEFAULT 0,
    capacity_units      bigint,                  -- minutes per calendar month
    capacity_overage    bigint NOT NULL DEFAULT 0,
    tokens              bigint NOT NULL DEFAULT 0,
    conversion_date     timestamptz,
    -- parameters in force (DOMAIN.md), seconds unless a count
    offline_grace       bigint NOT NULL,
    capacity_unit       bigint NOT NULL,
    login_pass          bigint NOT NULL,
    max_parallel        bigint NOT NULL,
    pass_return         bigint NOT NULL,
    session_linger      bigint NOT NULL,
    quarantine          bigint NOT NULL,
    definition_refresh  bigint NOT NULL,
    -- verification
    last_verified_at    timestamptz NOT NULL,
    last_sync_attempt_at timestamptz,
    last_sync_error     text,
    revoked             boolean NOT NULL DEFAULT false,
    applied_at          timestamptz NOT NULL DEFAULT now()
);

-- The status of the license at p_now: missing, revoked, expired, stale or ok.
-- A clock set back before last_verified_at counts as unverified (stale).
CREATE FUNCTION allot_license_status(l license, p_now timestamptz) RETURNS text
    LANGUAGE sql STABLE
    RETURN CASE
        WHEN l IS NULL OR l.singleton IS NULL THEN 'missing'
        WHEN l.revoked THEN 'revoked'
        WHEN p_now > l.valid_to THEN 'expired'
        WHEN p_now < l.last_verified_at
          OR p_now >= l.last_verified_at + l.offline_grace * interval '1 second' THEN 'stale'
        ELSE 'ok' END;

-- Units a type may hold (units + overage); NULL = unbounded.
CREATE FUNCTION allot_limit(units bigint, overage bigint) RETURNS bigint
    LANGUAGE sql IMMUTABLE
    RETURN CASE WHEN overage < 0 THEN NULL ELSE coalesce(units, 0) + overage END;

CREATE TABLE allocations (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    type           text NOT NULL CHECK (type IN ('professional', 'analyzer', 'user')),
    user_ref       uuid REFERENCES users (id) ON DELETE SET NULL,
    -- the directory account, kept so a quarantined allocation of a deleted
    -- user still shows whom it belonged to
    user_directory text NOT NULL,
    user_id        text NOT NULL,
    rule_id        uuid,                         -- set when a rule assigned it
    created_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
    last_used      timestamptz,
    quarantine_end timestamptz                   -- NOT NULL: removed, in quarantine
);
-- One live allocation of a type per user.
CREATE UNIQUE INDEX allocations_live ON allocations (user_ref, type) WHERE quarantine_end IS NULL;
CREATE INDEX allocations_type ON allocations (type, created_at, id);
CREATE INDEX allocations_page ON allocations (created_at, id);
CREATE INDEX allocations_user ON allocations (user_ref);

-- An allocation counts against the license while live or in quarantine.
CREATE FUNCTION allot_alloc_counts(a allocations, p_now timestamptz) RETURNS boolean
    LANGUAGE sql STABLE
    RETURN a.quarantine_end IS NULL OR a.quarantine_end > p_now;

CREATE TABLE rules (
    id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name              text NOT NULL UNIQUE,
    access_type       text NOT NULL CHECK (access_type IN ('professional', 'analyzer', 'login', 'analyzer_time')),
    match_groups      text[] NOT NULL DEFAULT '{}',
    match_directories text[] NOT NULL DEFAULT '{}',
    tokens            bigint NOT NULL DEFAULT 0 CHECK (tokens >= 0),
    created_at        timestamptz NOT NULL DEFAULT clock_timestamp(),
    modified_at       timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX rules_page ON rules (created_at, id);

-- A rule matches a user whose groups or user directory it names.
CREATE FUNCTION allot_rule_matches(r rules, u users) RETURNS boolean
    LANGUAGE sql IMMUTABLE
    RETURN r.match_groups && u.groups OR u.user_directory = ANY (r.match_directories);

-- Login access passes: each row is one pass used (0.1 token).  The window is
-- [used_at, window_end); the pass returns to its group at returns_at.  A pass
-- of a deleted group keeps rule_id NULL and holds its token until it returns.
CREATE TABLE login_passes (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    rule_id    uuid REFERENCES rules (id) ON DELETE SET NULL,
    user_ref   uuid REFERENCES users (id) ON DELETE SET NULL,
    used_at    timestamptz NOT NULL,
    window_end timestamptz NOT NULL,
    returns_at timestamptz NOT NULL
);
CREATE INDEX login_passes_rule ON login_passes (rule_id, returns_at);
CREATE INDEX login_passes_user ON login_passes (user_ref, window_end);
CREATE INDEX login_passes_returns ON login_passes (returns_at);

-- Analyzer capacity minutes charged per calendar month (UTC).
CREATE TABLE capacity_usage (
    month   date PRIMARY KEY,
    minutes bigint NOT NULL DEFAULT 0
);

CREATE TABLE sessions (
    id                 uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_ref           uuid REFERENCES users (id) ON DELETE SET NULL,
    user_directory     text NOT NULL,
    user_id            text NOT NULL,
    access_type        text NOT NULL,
    allocation_id      uuid,
    rule_id            uuid,
    login_pass_id      uuid,
    capacity_block_end timestamptz,
    started_at         timestamptz NOT NULL,
    last_activity      timestamptz NOT NULL,
    ended_at           timestamptz,
    end_reason         text
);
-- Active sessions are few whatever the history: partial indexes keep session
-- start, heartbeat and the reaper flat as ended sessions pile up.
CREATE INDEX sessions_active_user ON sessions (user_ref) WHERE ended_at IS NULL;
CREATE INDEX sessions_active_idle ON sessions (last_activity) WHERE ended_at IS NULL;
CREATE INDEX sessions_ended_user ON sessions (user_ref, ended_at) WHERE ended_at IS NOT NULL;
CREATE INDEX sessions_page ON sessions (started_at, id);

-- The audit trail: every grant, refusal and end.
CREATE TABLE session_events (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    at             timestamptz NOT NULL,
    kind           text NOT NULL CHECK (kind IN ('grant', 'refusal', 'end')),
    session_id     uuid,
    user_ref       uuid,
    user_directory text,
    user_id        text,
    access_type    text,
    result_code    text NOT NULL,
    session_count  integer NOT NULL DEFAULT 0,
    detail         text
);
CREATE INDEX session_events_page ON session_events (at, id);
CREATE INDEX session_events_user ON session_events (user_ref, at);

-- Representations --------------------------------------------------------

CREATE FUNCTION allot_allocation_json(a allocations) RETURNS json
    LANGUAGE sql STABLE
    RETURN json_build_object(
        'id', a.id, 'type', a.type,
        'user', json_build_object('id', a.user_ref, 'userDirectory', a.user_directory,
                                  'userId', a.user_id, 'deleted', a.user_ref IS NULL),
        'createdAt', allot_ts(a.created_at), 'lastUsed', allot_ts(a.last_used),
        'quarantined', a.quarantine_end IS NOT NULL,
        'quarantineEnd', allot_ts(a.quarantine_end),
        'ruleId', a.rule_id);

CREATE FUNCTION allot_rule_json(r rules) RETURNS json
    LANGUAGE sql STABLE
    RETURN json_build_object(
        'id', r.id, 'name', r.name, 'accessType', r.access_type,
        'match', json_build_object('groups', to_json(r.match_groups),
                                   'userDirectories', to_json(r.match_directories)),
        'tokens', CASE WHEN r.access_type = 'login' THEN r.tokens END,
        'createdAt', allot_ts(r.created_at), 'modifiedAt', allot_ts(r.modified_at));

CREATE FUNCTION allot_session_json(s sessions) RETURNS json
    LANGUAGE sql STABLE
    RETURN json_build_object(
        'id', s.id,
        'user', json_build_object('id', s.user_ref, 'userDirectory', s.user_directory,
                                  'userId', s.user_id),
        'accessType', s.access_type, 'allocationId', s.allocation_id,
        'startedAt', allot_ts(s.started_at), 'lastActivity', allot_ts(s.last_activity),
        'endedAt', allot_ts(s.ended_at), 'endReason', s.end_reason, 'resultCode', 'Ok');

CREATE FUNCTION allot_event_json(e session_events) RETURNS json
    LANGUAGE sql STABLE
    RETURN json_build_object(
        'id', e.id, 'at', allot_ts(e.at), 'kind', e.kind, 'sessionId', e.session_id,
        'user', json_build_object('id', e.user_ref, 'userDirectory', e.user_directory,
                                  'userId', e.user_id),
        'accessType', e.access_type, 'resultCode', e.result_code,
        'sessionCount', e.session_count, 'detail', e.detail);

-- Counting ---------------------------------------------------------------

-- Allocations of a type that count (live and quarantined).
-- Counting must stay flat as allocations grow to millions: a trigger keeps
-- the number of rows of each type, and only the quarantined rows (a week's
-- removals, through a partial index) are counted when asked.
CREATE TABLE allocation_counts (
    type text PRIMARY KEY,
    n    bigint NOT NULL DEFAULT 0 CHECK (n >= 0)
);
INSERT INTO allocation_counts (type) VALUES ('professional'), ('analyzer'), ('user');

CREATE FUNCTION allot_count_allocation() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        UPDATE allocation_counts SET n = n + 1 WHERE type = NEW.type;
    ELSE
        UPDATE allocation_counts SET n = n - 1 WHERE type = OLD.type;
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER allocations_count AFTER INSERT OR DELETE ON allocations
    FOR EACH ROW EXECUTE FUNCTION allot_count_allocation();

CREATE FUNCTION allot_count_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE allocation_counts SET n = 0;
    RETURN NULL;
END $$;

CREATE TRIGGER allocations_truncate AFTER TRUNCATE ON allocations
    FOR EACH STATEMENT EXECUTE FUNCTION allot_count_truncate();

CREATE INDEX allocations_quarantined ON allocations (type, quarantine_end)
    WHERE quarantine_end IS NOT NULL;

-- Quarantined allocations of a type: all, and those still counting at p_now.
CREATE FUNCTION allot_type_quarantined(p_type text, p_now timestamptz) RETURNS bigint
    LANGUAGE sql STABLE
    RETURN (SELECT count(*) FROM allocations a
             WHERE a.type = p_type AND a.quarantine_end IS NOT NULL AND a.quarantine_end > p_now);

-- Live allocations of a type (not removed).
CREATE FUNCTION allot_type_live(p_type text) RETURNS bigint
    LANGUAGE sql STABLE
    RETURN (SELECT n FROM allocation_counts WHERE type = p_type)
         - (SELECT count(*) FROM allocations a WHERE a.type = p_type AND a.quarantine_end IS NOT NULL);

-- Allocations of a type that count against the license: live and quarantined.
CREATE FUNCTION allot_type_used(p_type text, p_now timestamptz) RETURNS bigint
    LANGUAGE sql STABLE
    RETURN allot_type_live(p_type) + allot_type_quarantined(p_type, p_now);

-- Login passes still out (not yet returned) of a rule.
CREATE FUNCTION allot_passes_out(p_rule uuid, p_now timestamptz) RETURNS bigint
    LANGUAGE sql STABLE
    RETURN (SELECT count(*) FROM login_passes p WHERE p.rule_id = p_rule AND p.returns_at > p_now);

-- Tokens held by login access groups: each group its tokens, or more while
-- more of its passes are out (a group lowered below its passes in use keeps
-- holding them), plus the passes of deleted groups that have not returned;
-- ten passes to a token.
CREATE FUNCTION allot_login_tokens_held(p_now timestamptz) RETURNS bigint
    LANGUAGE sql STABLE
    RETURN coalesce((SELECT sum(greatest(r.tokens, (allot_passes_out(r.id, p_now) + 9) / 10))
                       FROM rules r WHERE r.access_type = 'login'), 0)
         + (SELECT (count(*) + 9) / 10 FROM login_passes WHERE rule_id IS NULL AND returns_at > p_now);

-- Tokens taken: user access passes (live and quarantined) and login groups.
CREATE FUNCTION allot_tokens_used(p_now timestamptz) RETURNS bigint
    LANGUAGE sql STABLE
    RETURN allot_type_used('user', p_now) + allot_login_tokens_held(p_now);

-- Tokens buy passes until the license's conversion date; after it the sync
-- removes the token-based passes and none are handed out.
CREATE FUNCTION allot_tokens_usable(l license, p_now timestamptz) RETURNS boolean
    LANGUAGE sql STABLE
    RETURN l.conversion_date IS NULL OR l.conversion_date > p_now;

-- Room for one more of a type (professional, analyzer: units; user: a token).
CREATE FUNCTION allot_has_room(l license, p_type text, p_now timestamptz) RETURNS boolean
    LANGUAGE sql STABLE
    RETURN CASE p_type
        WHEN 'professional' THEN l.professional_units IS NOT NULL AND
            coalesce(allot_type_used('professional', p_now) < allot_limit(l.professional_units, l.professional_overage), true)
        WHEN 'analyzer' THEN l.analyzer_units IS NOT NULL AND
            coalesce(allot_type_used('analyzer', p_now) < allot_limit(l.analyzer_units, l.analyzer_overage), true)
        WHEN 'user' THEN allot_tokens_usable(l, p_now) AND allot_tokens_used(p_now) < l.tokens
        ELSE false END;

-- Sessions of a user holding a slot: active, or ended within the linger.
CREATE FUNCTION allot_sessions_in_use(p_user uuid, p_now timestamptz, p_linger bigint) RETURNS bigint
    LANGUAGE sql STABLE
    RETURN (SELECT count(*) FROM sessions s WHERE s.user_ref = p_user AND s.ended_at IS NULL)
         + (SELECT count(*) FROM sessions s WHERE s.user_ref = p_user AND s.ended_at IS NOT NULL
              AND s.ended_at > p_now - p_linger * interval '1 second');

-- An allocation is excess when more of its type count than the license allows
-- and it is among the newest (the license shrank below what was assigned).
-- User passes share the tokens with login groups, and after the conversion
-- date none is usable.
CREATE FUNCTION allot_alloc_excess(a allocations, l license, p_now timestamptz) RETURNS boolean
    LANGUAGE sql STABLE
    -- The exact rank is counted only when more are assigned than allowed, which
    -- is rare: the usual answer costs two cheap counts.
    RETURN CASE
        WHEN a.type = 'user' AND NOT allot_tokens_usable(l, p_now) THEN true
        WHEN a.type = 'user' THEN
            CASE WHEN allot_type_used('user', p_now) + allot_login_tokens_held(p_now) <= l.tokens
                 THEN false
                 ELSE (SELECT count(*) FROM allocations b
                        WHERE b.type = 'user' AND allot_alloc_counts(b, p_now)
                          AND (b.created_at, b.id) < (a.created_at, a.id))
                      + allot_login_tokens_held(p_now) >= l.tokens END
        ELSE
            CASE WHEN allot_type_used(a.type, p_now)
                      <= coalesce(allot_limit(CASE a.type WHEN 'professional' THEN l.professional_units ELSE l.analyzer_units END,
                                              CASE a.type WHEN 'professional' THEN l.professional_overage ELSE l.analyzer_overage END),
                                  9223372036854775807)
                 THEN false
                 ELSE (SELECT count(*) FROM allocations b
                        WHERE b.type = a.type AND allot_alloc_counts(b, p_now)
                          AND (b.created_at, b.id) < (a.created_at, a.id))
                      >= coalesce(allot_limit(CASE a.type WHEN 'professional' THEN l.professional_units ELSE l.analyzer_units END,
                                              CASE a.type WHEN 'professional' THEN l.professional_overage ELSE l.analyzer_overage END),
                                  9223372036854775807) END
        END;

-- What the site has known of each license number it ever applied, kept when
-- the license in force is replaced by another: the newest key's signing
-- time (an older key never rolls a license back), the backend's word on
-- revocation (only the backend lifts it), and the last verification.
CREATE TABLE license_history (
    license_number   text PRIMARY KEY,
    newest_issued_at timestamptz NOT NULL,
    revoked          boolean NOT NULL,
    last_verified_at timestamptz NOT NULL
);

CREATE FUNCTION allot_license_remember() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO license_history AS h (license_number, newest_issued_at, revoked, last_verified_at)
    VALUES (NEW.license_number, NEW.issued_at, NEW.revoked, NEW.last_verified_at)
    ON CONFLICT (license_number) DO UPDATE SET
        newest_issued_at = greatest(h.newest_issued_at, EXCLUDED.newest_issued_at),
        revoked = EXCLUDED.revoked,
        last_verified_at = greatest(h.last_verified_at, EXCLUDED.last_verified_at);
    RETURN NULL;
END $$;

CREATE TRIGGER license_remember AFTER INSERT OR UPDATE ON license
    FOR EACH ROW EXECUTE FUNCTION allot_license_remember();

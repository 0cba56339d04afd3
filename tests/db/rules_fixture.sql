-- The fixture of the db rule tests (tests/db/trules.c loads it into each
-- test program's database, once, after `allotd migrate`).  Schema t holds
-- small helpers that make a case's table readable: a clock from a fixed
-- origin, a license from a few numbers, users and rules by name, and text
-- views of a reply or of the state left in the tables.  The calls under test
-- are never wrapped: a case calls the engine's functions itself, and t.show
-- only prints what they answered.
CREATE SCHEMA t;

-- ---- the clock ---------------------------------------------------------------
-- t.at(s): s seconds after the origin, 2031-03-10 00:00 UTC (the month ends
-- 22 days later: t.at(22 * 86400) is 2031-04-01 00:00 UTC).
CREATE FUNCTION t.at(p_seconds double precision) RETURNS timestamptz
    LANGUAGE sql IMMUTABLE
    RETURN timestamptz '2031-03-10 00:00:00+00' + p_seconds * interval '1 second';

-- A moment as seconds from the origin: "+90", "-3600", "inf".
CREATE FUNCTION t.rel(p timestamptz) RETURNS text LANGUAGE sql IMMUTABLE
    RETURN CASE WHEN p IS NULL THEN NULL
                WHEN NOT isfinite(p) THEN 'inf'
                WHEN p >= t.at(0) THEN '+' || trim_scale(extract(epoch FROM p - t.at(0)))
                ELSE trim_scale(extract(epoch FROM p - t.at(0)))::text
           END;

-- ---- the license -----------------------------------------------------------
CREATE FUNCTION t.rfc3339(p timestamptz) RETURNS text LANGUAGE sql IMMUTABLE
    RETURN to_char(p AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"');

-- The canonical definition allotd makes of a verified license key
-- (src/license/payload.c, lic_to_json), from a few numbers.  NULL units:
-- the allotment is not in the license.  It is signed (iat) an hour before
-- the origin, valid for ten years, and good for ten years without a
-- verification (offlineGraceSeconds), unless the case says otherwise: a case
-- about staleness names its grace.
CREATE FUNCTION t.def(professional bigint DEFAULT NULL, professional_overage bigint DEFAULT 0,
                      analyzer bigint DEFAULT NULL, analyzer_overage bigint DEFAULT 0,
                      capacity bigint DEFAULT NULL, capacity_overage bigint DEFAULT 0,
                      tokens bigint DEFAULT NULL, conversion timestamptz DEFAULT NULL,
                      params jsonb DEFAULT '{}', iat timestamptz DEFAULT t.at(-3600),
                      valid_to timestamptz DEFAULT t.at(10 * 365 * 86400),
                      number text DEFAULT 'L-1')
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    def jsonb;
    allotments jsonb := '[]';
BEGIN
    IF professional IS NOT NULL THEN
        allotments := allotments || jsonb_build_object('name', 'professional', 'units', professional,
                                                       'overage', professional_overage);
    END IF;
    IF analyzer IS NOT NULL THEN
        allotments := allotments || jsonb_build_object('name', 'analyzer', 'units', analyzer,
                                                       'overage', analyzer_overage);
    END IF;
    IF capacity IS NOT NULL THEN
        allotments := allotments || jsonb_build_object('name', 'analyzer_time', 'units', capacity,
                                                       'overage', capacity_overage);
    END IF;
    def := jsonb_build_object(
        'licenseNumber', number, 'organization', 'Test site', 'product', 'Sense',
        'validFrom', t.rfc3339(t.at(-86400)), 'validTo', t.rfc3339(valid_to),
        'iat', extract(epoch FROM iat)::bigint, 'allotments', allotments,
        'parameters', jsonb_build_object('offlineGraceSeconds', 10 * 365 * 86400) || params);
    IF tokens IS NOT NULL THEN
        def := def || jsonb_build_object('tokens', tokens);
    END IF;
    IF conversion IS NOT NULL THEN
        def := def || jsonb_build_object('conversionDate', t.rfc3339(conversion));
    END IF;
    RETURN def;
END $$;

-- A stand-in for the signed key of a definition (the engine only stores it).
CREATE FUNCTION t.key(def jsonb) RETURNS text LANGUAGE sql IMMUTABLE
    RETURN 'test-key.' || (def ->> 'licenseNumber') || '.' || md5(def::text);

-- Applies a license through engine.license_apply, as PUT /license does once
-- the key verified: t.def's arguments, and the moment it is applied (at).
CREATE FUNCTION t.license(professional bigint DEFAULT NULL, professional_overage bigint DEFAULT 0,
                          analyzer bigint DEFAULT NULL, analyzer_overage bigint DEFAULT 0,
                          capacity bigint DEFAULT NULL, capacity_overage bigint DEFAULT 0,
                          tokens bigint DEFAULT NULL, conversion timestamptz DEFAULT NULL,
                          params jsonb DEFAULT '{}', iat timestamptz DEFAULT t.at(-3600),
                          valid_to timestamptz DEFAULT t.at(10 * 365 * 86400),
                          number text DEFAULT 'L-1', at timestamptz DEFAULT t.at(-3600))
RETURNS engine.outcome LANGUAGE plpgsql AS $$
DECLARE
    def jsonb := t.def(professional, professional_overage, analyzer, analyzer_overage, capacity,
                       capacity_overage, tokens, conversion, params, iat, valid_to, number);
BEGIN
    RETURN engine.license_apply(t.key(def), def, at);
END $$;

-- ---- users, rules, allocations, sessions by name ----------------------------
-- A user as POST /users makes one (src/db/users.c); userId = the name.
CREATE FUNCTION t.user(p_name text, p_groups text[] DEFAULT '{}', p_dir text DEFAULT 'CORP')
RETURNS uuid LANGUAGE sql AS $$
    INSERT INTO users (user_directory, user_id, name, groups)
    VALUES (p_dir, p_name, p_name, p_groups) RETURNING id
$$;

CREATE FUNCTION t.uid(p_name text) RETURNS uuid LANGUAGE sql STABLE
    RETURN (SELECT id FROM users WHERE user_id = p_name);

-- A rule saved by engine.rule_save (its tokens are taken then); a setup
-- that cannot save it fails.
CREATE FUNCTION t.rule(p_name text, p_type text, p_groups text[] DEFAULT '{}',
                       p_tokens bigint DEFAULT NULL, p_dirs text[] DEFAULT NULL)
RETURNS uuid LANGUAGE plpgsql AS $$
DECLARE
    r engine.rule_reply := engine.rule_save(NULL, p_name, p_type, p_groups, p_dirs, p_tokens, t.at(0));
BEGIN
    IF r.outcome <> 'ok' THEN
        RAISE EXCEPTION 'setup: rule % answered %', p_name, r.outcome;
    END IF;
    RETURN r.id;
END $$;

CREATE FUNCTION t.r(p_name text) RETURNS uuid LANGUAGE sql STABLE
    RETURN (SELECT id FROM rules WHERE name = p_name);

-- An allocation made by engine.allocation_create; a setup that cannot make
-- it fails.
CREATE FUNCTION t.alloc(p_user text, p_type text, p_at double precision DEFAULT 0)
RETURNS uuid LANGUAGE plpgsql AS $$
DECLARE
    r engine.allocation_reply := engine.allocation_create(t.uid(p_user), p_type, t.at(p_at));
BEGIN
    IF r.outcome <> 'ok' THEN
        RAISE EXCEPTION 'setup: allocation % of % answered %', p_type, p_user, r.outcome;
    END IF;
    RETURN r.id;
END $$;

-- The newest allocation of a type that belonged to a user (also after the
-- user was deleted: the allocation keeps the directory account).
CREATE FUNCTION t.a(p_user text, p_type text) RETURNS uuid LANGUAGE sql STABLE
    RETURN (SELECT id FROM allocations WHERE user_id = p_user AND type = p_type
             ORDER BY created_at DESC LIMIT 1);

-- Sessions named by the case: t.keep('s1', engine.session_start(...)) keeps
-- the session's id under s1 and shows the reply; t.s('s1') is the id.
CREATE TABLE t.named (name text PRIMARY KEY, id uuid);

CREATE FUNCTION t.s(p_name text) RETURNS uuid LANGUAGE sql STABLE
    RETURN (SELECT id FROM t.named WHERE name = p_name);

-- ---- what a reply says, as a line of text ---------------------------------
-- A session reply: outcome, resultCode, accessType, and how it ended.
CREATE FUNCTION t.show(r engine.session_reply) RETURNS text LANGUAGE sql STABLE
    RETURN concat_ws(' ', r.outcome, r.result_code, r.access_type,
                     CASE WHEN r.ended_at IS NOT NULL
                          THEN 'ended ' || r.end_reason || ' ' || t.rel(r.ended_at) END);

-- An allocation reply: outcome, type, quarantine, a deleted user.
CREATE FUNCTION t.show(r engine.allocation_reply) RETURNS text LANGUAGE sql STABLE
    RETURN concat_ws(' ', r.outcome, r.type,
                     CASE WHEN r.quarantined THEN 'quarantined until ' || t.rel(r.quarantine_end) END,
                     CASE WHEN r.user_deleted THEN 'user deleted' END);

-- A rule reply: outcome, access type, tokens of a login group.
CREATE FUNCTION t.show(r engine.rule_reply) RETURNS text LANGUAGE sql STABLE
    RETURN concat_ws(' ', r.outcome, r.access_type, 'tokens ' || r.tokens);

CREATE FUNCTION t.show(o text) RETURNS text LANGUAGE sql IMMUTABLE RETURN o;

CREATE FUNCTION t.show(o anyelement) RETURNS text LANGUAGE sql STABLE AS 'SELECT o::text';

CREATE FUNCTION t.keep(p_name text, r engine.session_reply) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO t.named VALUES (p_name, r.id)
        ON CONFLICT (name) DO UPDATE SET id = EXCLUDED.id;
    RETURN t.show(r);
END $$;

-- ---- the state left in the tables, as text --------------------------------
-- Allocations: "ann professional", "bob analyzer quarantined until +700
-- (user deleted)", by user and type.
CREATE FUNCTION t.allocs() RETURNS text LANGUAGE sql STABLE
    RETURN (SELECT coalesce(string_agg(concat_ws(' ', a.user_id, a.type,
                                                 'quarantined until ' || t.rel(a.quarantine_end),
                                                 CASE WHEN a.user_ref IS NULL THEN '(user deleted)' END),
                                       ', ' ORDER BY a.user_id, a.type, a.created_at), '')
              FROM allocations a);

-- Sessions: "ann login active", "ann login ended logout +120", by start.
CREATE FUNCTION t.sessions() RETURNS text LANGUAGE sql STABLE
    RETURN (SELECT coalesce(string_agg(concat_ws(' ', s.user_id, s.access_type,
                                                 CASE WHEN s.ended_at IS NULL THEN 'active'
                                                      ELSE 'ended ' || s.end_reason || ' ' || t.rel(s.ended_at) END),
                                       ', ' ORDER BY s.started_at, s.user_id, s.access_type, s.ended_at), '')
              FROM sessions s);

-- The audit trail: "+0 grant ann professional Ok 1 existing_allocation", by
-- time (p_kind: only that kind).
CREATE FUNCTION t.events(p_kind text DEFAULT NULL) RETURNS text LANGUAGE sql STABLE
    RETURN (SELECT coalesce(string_agg(concat_ws(' ', t.rel(e.at), e.kind, coalesce(e.user_id, '-'),
                                                 coalesce(e.access_type, '-'), e.result_code,
                                                 e.session_count, e.detail),
                                       ', ' ORDER BY e.at, e.user_id, e.kind, e.result_code), '')
              FROM session_events e WHERE p_kind IS NULL OR e.kind = p_kind);

-- Capacity minutes charged per calendar month: "2031-03 30".
CREATE FUNCTION t.capacity() RETURNS text LANGUAGE sql STABLE
    RETURN (SELECT coalesce(string_agg(to_char(c.month, 'YYYY-MM') || ' ' || c.minutes, ', '
                                       ORDER BY c.month), '')
              FROM capacity_usage c);

-- Login passes: "ann +0..+600 returns +1000", by first use.
CREATE FUNCTION t.passes() RETURNS text LANGUAGE sql STABLE
    RETURN (SELECT coalesce(string_agg(concat_ws(' ', coalesce(u.user_id, '-'),
                                                 t.rel(p.used_at) || '..' || t.rel(p.window_end),
                                                 'returns ' || t.rel(p.returns_at)),
                                       ', ' ORDER BY p.used_at, u.user_id, p.window_end), '')
              FROM login_passes p LEFT JOIN users u ON u.id = p.user_ref);

-- ---- what every case checks ---------------------------------------------------
-- The tables a case starts from are empty: cases cannot see each other.
CREATE FUNCTION t.clean() RETURNS text LANGUAGE sql STABLE
    RETURN concat_ws(' ',
        CASE WHEN EXISTS (SELECT 1 FROM license) THEN 'license' END,
        CASE WHEN EXISTS (SELECT 1 FROM users) THEN 'users' END,
        CASE WHEN EXISTS (SELECT 1 FROM rules) THEN 'rules' END,
        CASE WHEN EXISTS (SELECT 1 FROM allocations) THEN 'allocations' END,
        CASE WHEN EXISTS (SELECT 1 FROM allocation_counts WHERE n <> 0) THEN 'allocation_counts' END,
        CASE WHEN EXISTS (SELECT 1 FROM sessions) THEN 'sessions' END,
        CASE WHEN EXISTS (SELECT 1 FROM session_events) THEN 'session_events' END,
        CASE WHEN EXISTS (SELECT 1 FROM login_passes) THEN 'login_passes' END,
        CASE WHEN EXISTS (SELECT 1 FROM capacity_usage) THEN 'capacity_usage' END,
        CASE WHEN EXISTS (SELECT 1 FROM t.named) THEN 't.named' END);

-- The engine's counters equal real counts: allocation_counts (kept by a
-- trigger) and users.sessions_active (kept by session start and close).
-- '' when they agree, else what differs.
CREATE FUNCTION t.counters() RETURNS text LANGUAGE sql STABLE
    RETURN (SELECT coalesce(string_agg(x, ', '), '') FROM (
        SELECT format('allocation_counts.%s = %s, real %s', c.type, c.n,
                      (SELECT count(*) FROM allocations a WHERE a.type = c.type)) AS x
          FROM allocation_counts c
         WHERE c.n <> (SELECT count(*) FROM allocations a WHERE a.type = c.type)
        UNION ALL
        SELECT format('%s.sessions_active = %s, real %s', u.user_id, u.sessions_active,
                      (SELECT count(*) FROM sessions s WHERE s.user_ref = u.id AND s.ended_at IS NULL))
          FROM users u
         WHERE u.sessions_active <> (SELECT count(*) FROM sessions s
                                      WHERE s.user_ref = u.id AND s.ended_at IS NULL)) d);

-- ---- SCIM provisioning and idle release (issue 10) ---------------------------
-- A SCIM reply: outcome, userName or displayName, "inactive", the members.
CREATE FUNCTION t.show(r engine.scim_reply) RETURNS text LANGUAGE sql STABLE
    RETURN concat_ws(' ', r.outcome, coalesce(r.resource ->> 'userName', r.resource ->> 'displayName'),
                     CASE WHEN (r.resource ->> 'active')::boolean IS FALSE THEN 'inactive' END,
                     CASE WHEN r.resource ? 'members'
                          THEN 'members ' || coalesce((SELECT string_agg(m ->> 'display', ',' ORDER BY m ->> 'display')
                                                         FROM jsonb_array_elements(r.resource -> 'members') m), '-') END);

-- A user of the SCIM directory CORP, as POST /scim/v2/Users makes one.
CREATE FUNCTION t.scim_user(p_name text, p_external text DEFAULT NULL, p_at double precision DEFAULT 0)
RETURNS engine.scim_reply LANGUAGE sql AS $$
    SELECT engine.scim_user_save(NULL, 'CORP', p_name, p_external, true, NULL, '{}', NULL, t.at(p_at))
$$;

CREATE FUNCTION t.g(p_name text) RETURNS uuid LANGUAGE sql STABLE
    RETURN (SELECT id FROM scim_groups WHERE display_name = p_name);

-- Ids of users by name, for member lists.
CREATE FUNCTION t.uids(VARIADIC p_names text[]) RETURNS uuid[] LANGUAGE sql STABLE
    RETURN ARRAY(SELECT id FROM users WHERE user_id = ANY (p_names) ORDER BY user_id);

-- Users and their groups: "ann {Sales}, bob {}", by name.
CREATE FUNCTION t.groups() RETURNS text LANGUAGE sql STABLE
    RETURN (SELECT coalesce(string_agg(u.user_id || ' ' || u.groups::text
                                       || CASE WHEN NOT u.active THEN ' inactive' ELSE '' END,
                                       ', ' ORDER BY u.user_id), '')
              FROM users u);

-- The dry run of an idle-release policy: "ann +0, bob +100 (2)".
CREATE FUNCTION t.preview(p_type text, p_at double precision) RETURNS text LANGUAGE sql STABLE
    RETURN (SELECT coalesce(string_agg((r.reply).user_id || ' ' || t.rel(r.idle_since), ', '
                                       ORDER BY r.idle_since, (r.reply).user_id)
                            || ' (' || max(r.total) || ')', '')
              FROM engine.idle_release_preview(p_type, t.at(p_at), 100) r);

-- An idle-release policy set as PUT /allocations/idle-release/{type} does.
CREATE FUNCTION t.policy(p_type text, p_enabled boolean, p_days integer,
                         p_groups text[] DEFAULT '{}', p_dirs text[] DEFAULT '{}',
                         p_users jsonb DEFAULT '[]')
RETURNS engine.outcome LANGUAGE sql AS $$
    SELECT (engine.idle_policy_save(p_type, p_enabled, p_days, p_groups, p_dirs, p_users, t.at(0))).outcome
$$;

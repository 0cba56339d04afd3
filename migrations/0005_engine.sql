-- The licensing engine moves to sql/: one function per decision, in the
-- schema "engine", applied by `allotd migrate` after the numbered migrations
-- (src/db/engine.c).  This migration reshapes the tables the engine works on;
-- tables, indexes and data stay the business of numbered migrations.

-- 1. The functions of migrations 0001 to 0004 go, with the triggers that
--    used them: sql/ defines them all again, in the schema engine.
-- (Their signatures are read first, as text: dropping one with CASCADE may
-- drop others that call it.)
DO $$
DECLARE
    f text;
BEGIN
    FOR f IN SELECT format('%I(%s)', p.proname, pg_get_function_identity_arguments(p.oid))
               FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
              WHERE n.nspname = 'public' AND p.proname LIKE 'allot\_%' LOOP
        EXECUTE format('DROP FUNCTION IF EXISTS %s CASCADE', f);
    END LOOP;
END $$;

-- 2. The license row is read by every session start: it keeps only what the
--    rules need (a narrow row, never TOASTed).  The signed key and its
--    definition move to license_document.  Parameters are one jsonb object,
--    complete (allotd writes every parameter of its table, src/core/params.def),
--    so adding a parameter needs no migration.
CREATE TABLE license_document (
    singleton   boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    license_key text NOT NULL,     -- the signed key (a bearer for syncs)
    definition  jsonb NOT NULL     -- its verified payload, canonical
);
INSERT INTO license_document (singleton, license_key, definition)
SELECT singleton, license_key, definition FROM license;

ALTER TABLE license ADD COLUMN parameters jsonb;

-- 3. Sessions.  A heartbeat changes last_activity (and, for login and
--    capacity sessions, paid_until): no index may cover them, so that it is a
--    HOT update, and pages keep room for the new versions (fillfactor).
--      live        the session holds one of its user's parallel slots: it is
--                  active, or ended less than sessionLingerSeconds ago.  The
--                  reaper clears it after the linger, so the index of the
--                  lingering sessions that session start reads stays small.
--      paid_until  what the session has paid for runs until then: the login
--                  window, the capacity block, 'infinity' for an allocation.
ALTER TABLE sessions ADD COLUMN live boolean NOT NULL DEFAULT false,
                     ADD COLUMN paid_until timestamptz NOT NULL DEFAULT 'infinity';
UPDATE sessions s SET live = true
 WHERE s.ended_at IS NULL
    OR s.ended_at > now() - coalesce((SELECT l.session_linger FROM license l), 300) * interval '1 second';
UPDATE sessions s SET paid_until = coalesce(s.capacity_block_end, '-infinity')
 WHERE s.ended_at IS NULL AND s.access_type = 'analyzer_time';
UPDATE sessions s SET paid_until = coalesce(p.window_end, '-infinity')
  FROM login_passes p
 WHERE s.ended_at IS NULL AND s.access_type = 'login' AND p.id = s.login_pass_id;
ALTER TABLE sessions DROP COLUMN capacity_block_end;
ALTER TABLE sessions SET (fillfactor = 80);

DROP INDEX sessions_active_user, sessions_active_idle, sessions_ended_user;
-- Active sessions are few whatever the history; the lingering ones (ended,
-- still holding a slot) fewer still.
CREATE INDEX sessions_active ON sessions (user_ref) WHERE ended_at IS NULL;
CREATE INDEX sessions_lingering ON sessions (user_ref, ended_at) WHERE live AND ended_at IS NOT NULL;
CREATE INDEX sessions_user ON sessions (user_ref, started_at, id);

-- A user's active sessions, counted as they start and end (under the user's
-- row lock), so that session start never counts them: a user with many
-- sessions costs no more than one with one.  allotd migrate counts them
-- again whenever it applies the engine.  The increment is a HOT update:
-- pages keep room for it.
ALTER TABLE users ADD COLUMN sessions_active integer NOT NULL DEFAULT 0;
ALTER TABLE users SET (fillfactor = 90);
UPDATE users u SET sessions_active = c.n
  FROM (SELECT user_ref, count(*) AS n FROM sessions WHERE ended_at IS NULL GROUP BY user_ref) c
 WHERE c.user_ref = u.id;

-- 4. The license row, narrowed (the parameters of the license in force are
--    copied from its definition first).
UPDATE license l SET parameters = d.definition -> 'parameters'
  FROM license_document d;
ALTER TABLE license
    ALTER COLUMN parameters SET NOT NULL,
    DROP COLUMN license_key,
    DROP COLUMN definition,
    DROP COLUMN offline_grace,
    DROP COLUMN capacity_unit,
    DROP COLUMN login_pass,
    DROP COLUMN max_parallel,
    DROP COLUMN pass_return,
    DROP COLUMN session_linger,
    DROP COLUMN quarantine,
    DROP COLUMN definition_refresh;

-- 5. The license parameters allotd knows: its table (src/core/params.def),
--    written by `allotd migrate` with the engine.  The engine reads a
--    parameter from the license in force and falls back to this default.
CREATE TABLE license_parameters (
    name          text PRIMARY KEY,   -- the JSON name, e.g. offlineGraceSeconds
    default_value bigint NOT NULL,
    min_value     bigint NOT NULL,
    max_value     bigint NOT NULL,
    description   text NOT NULL
);

-- 6. The engine in force: the digest of the function set of sql/ that
--    `allotd migrate` applied.  allotd serves only on the digest it carries.
CREATE TABLE engine_version (
    singleton  boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    digest     text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
);

-- 7. The site: one identity shared by every allotd instance of this
--    database, sent to the license backend at each sync.
CREATE TABLE site (
    singleton  boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    id         uuid NOT NULL DEFAULT gen_random_uuid(),
    created_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO site DEFAULT VALUES;

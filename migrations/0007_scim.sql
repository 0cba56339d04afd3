-- SCIM 2.0 provisioning (RFC 7643, 7644) and the release of idle allocations
-- (issue 10, parts 1 and 2).

-- 1. A SCIM token is an API key of its own role, which reaches only /scim/v2.
ALTER TABLE api_keys DROP CONSTRAINT api_keys_role_check;
ALTER TABLE api_keys ADD CONSTRAINT api_keys_role_check
    CHECK (role IN ('admin', 'auditor', 'proxy', 'scim'));

-- 2. Users as a directory provisions them:
--      external_id  the provisioning client's own id of the user (SCIM
--                   externalId), unique within a user directory
--      active       false: deactivated in the directory (a soft delete: the
--                   user's sessions ended, allocations removed, and no
--                   session starts until it is true again)
--      scim         the SCIM attributes allot keeps but does not use (name,
--                   emails, title, the enterprise extension, ...), so that a
--                   client reads back what it wrote
--    (New columns with constant defaults: no table rewrite.)
ALTER TABLE users ADD COLUMN external_id text,
                  ADD COLUMN active boolean NOT NULL DEFAULT true,
                  ADD COLUMN scim jsonb NOT NULL DEFAULT '{}';
CREATE UNIQUE INDEX users_external_id ON users (user_directory, external_id)
    WHERE external_id IS NOT NULL;

-- 3. SCIM groups.  Membership stays where the rules read it, in
--    users.groups (a group's members are the users of the SCIM directory
--    whose groups name it), so a group change feeds the rules at the next
--    session start with nothing to sync.  A group gives a name an id.
CREATE TABLE scim_groups (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    display_name text NOT NULL UNIQUE CHECK (length(display_name) BETWEEN 1 AND 255),
    external_id  text UNIQUE,
    created_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
    modified_at  timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX scim_groups_page ON scim_groups (created_at, id);

-- 4. The release of idle allocations: one policy per allocation type.  An
--    allocation not used for idle_days (and never within the license's
--    quarantineSeconds) is released by the reaper while enabled, unless its
--    user is exempt: by group, by user directory, or by name
--    (exempt_users: [{"userDirectory": "CORP", "userId": "ann"}, ...]).
CREATE TABLE idle_release_policies (
    type               text PRIMARY KEY CHECK (type IN ('professional', 'analyzer')),
    enabled            boolean NOT NULL DEFAULT false,
    idle_days          integer NOT NULL DEFAULT 30 CHECK (idle_days BETWEEN 1 AND 3650),
    exempt_groups      text[] NOT NULL DEFAULT '{}',
    exempt_directories text[] NOT NULL DEFAULT '{}',
    exempt_users       jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(exempt_users) = 'array'),
    modified_at        timestamptz NOT NULL DEFAULT clock_timestamp()
);
INSERT INTO idle_release_policies (type) VALUES ('professional'), ('analyzer');

-- 5. Each release goes to the audit trail as an event of its own kind.  The
--    new check only widens the old one, so the rows there need no scan
--    (NOT VALID: a trail of millions of events is not read under this lock).
ALTER TABLE session_events DROP CONSTRAINT session_events_kind_check;
ALTER TABLE session_events ADD CONSTRAINT session_events_kind_check
    CHECK (kind IN ('grant', 'refusal', 'end', 'release')) NOT VALID;

-- POST, PUT and PATCH /scim/v2/Users: a user of the SCIM directory p_dir
-- made (p_id NULL) or replaced by what the directory says (allotd has
-- applied a PATCH's operations to the user as it read it: p_version is the
-- version it read, and a user changed meanwhile answers user_changed, so no
-- concurrent change is lost).
--   userName is the user's userId in p_dir (what the hub names at session
--   start); externalId the client's id of the user; displayName, or else
--   name.formatted, or else name.givenName and name.familyName, is the name.
--   p_attrs: the other attributes, kept as given.
-- active: false is a soft delete (DOMAIN.md): the user's allocations follow
-- the quarantine rule and their sessions end (engine.user_release, reason
-- user_deactivated), and session start refuses the user until active is
-- true again; the user, their groups and the audit trail stay.
-- Group membership is not written here (User.groups is read-only in SCIM):
-- engine.scim_group_save.
-- Outcomes: ok, user_not_found, user_changed, user_name_taken,
-- external_id_taken.
CREATE FUNCTION engine.scim_user_save(p_id uuid, p_dir text, p_user_name text,
                                      p_external_id text, p_active boolean, p_display text,
                                      p_attrs jsonb, p_version text, p_now timestamptz)
RETURNS engine.scim_reply LANGUAGE plpgsql AS $$
DECLARE
    u users;
    was_active boolean;
    v_name text := coalesce(nullif(p_display, ''), nullif(p_attrs #>> '{name,formatted}', ''),
                            nullif(concat_ws(' ', p_attrs #>> '{name,givenName}',
                                             p_attrs #>> '{name,familyName}'), ''), '');
BEGIN
    IF p_id IS NOT NULL THEN
        SELECT * INTO u FROM users WHERE id = p_id AND user_directory = p_dir FOR UPDATE;
        IF NOT FOUND THEN
            RETURN ROW('user_not_found', NULL)::engine.scim_reply;
        END IF;
        IF p_version IS NOT NULL AND engine.scim_version(u.modified_at) <> p_version THEN
            RETURN ROW('user_changed', NULL)::engine.scim_reply;
        END IF;
    END IF;
    -- (a unique violation racing these checks is a 409 all the same)
    IF EXISTS (SELECT 1 FROM users x WHERE x.user_directory = p_dir AND x.user_id = p_user_name
                AND x.id IS DISTINCT FROM p_id) THEN
        RETURN ROW('user_name_taken', NULL)::engine.scim_reply;
    END IF;
    IF p_external_id IS NOT NULL
       AND EXISTS (SELECT 1 FROM users x WHERE x.user_directory = p_dir
                    AND x.external_id = p_external_id AND x.id IS DISTINCT FROM p_id) THEN
        RETURN ROW('external_id_taken', NULL)::engine.scim_reply;
    END IF;
    IF p_id IS NULL THEN
        INSERT INTO users (user_directory, user_id, name, external_id, active, scim)
        VALUES (p_dir, p_user_name, v_name, p_external_id, p_active, coalesce(p_attrs, '{}'))
        RETURNING * INTO u;
        RETURN ROW('ok', engine.scim_user_json(u))::engine.scim_reply;
    END IF;
    was_active := u.active;
    UPDATE users SET user_id = p_user_name, name = v_name, external_id = p_external_id,
                     active = p_active, scim = coalesce(p_attrs, '{}'),
                     modified_at = clock_timestamp()
     WHERE id = p_id RETURNING * INTO u;
    -- A renamed account: its allocations show the new userId.
    UPDATE allocations SET user_id = p_user_name
     WHERE user_ref = p_id AND user_id <> p_user_name;
    IF was_active AND NOT u.active THEN
        PERFORM engine.user_release(u.id, p_now, 'user_deactivated');
    END IF;
    RETURN ROW('ok', engine.scim_user_json(u))::engine.scim_reply;
END $$;

-- DELETE /scim/v2/Users/{id}: as DELETE /users/{id}, for a user of the SCIM
-- directory only.  Outcomes: ok, user_not_found.
CREATE FUNCTION engine.scim_user_delete(p_id uuid, p_dir text, p_now timestamptz)
RETURNS engine.outcome LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM users WHERE id = p_id AND user_directory = p_dir) THEN
        RETURN 'user_not_found';
    END IF;
    RETURN engine.user_delete(p_id, p_now);
END $$;

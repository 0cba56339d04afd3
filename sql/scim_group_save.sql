-- POST, PUT and PATCH /scim/v2/Groups: a group made (p_id NULL) or changed.
-- A group's members are the users of the SCIM directory p_dir whose groups
-- name it: the rules (engine.rule_matches) read users.groups, so a member
-- added here is matched by a rule of the group at their next session start.
--   p_display      the new displayName (NULL: unchanged); renaming renames
--                  it in its members' groups
--   p_set_external whether to write p_external_id (NULL: none)
--   p_members      the whole new member list (NULL: unchanged; PUT, or a
--                  PATCH replace of members)
--   p_add, p_remove  members to add and to remove (PATCH add and remove)
-- Every member named must be a user of p_dir; nothing is written otherwise.
-- Users are locked in id order (two changes of overlapping groups never
-- wait for each other in a circle), and each one changed shows it in its
-- meta.lastModified.
-- Outcomes: ok, group_not_found, group_name_taken, external_id_taken,
-- member_not_found.
CREATE FUNCTION engine.scim_group_save(p_id uuid, p_dir text, p_display text,
                                       p_set_external boolean, p_external_id text,
                                       p_members uuid[], p_add uuid[], p_remove uuid[],
                                       p_now timestamptz)
RETURNS engine.scim_reply LANGUAGE plpgsql AS $$
DECLARE
    g scim_groups;
    v_name text;
BEGIN
    IF EXISTS (SELECT 1 FROM unnest(coalesce(p_members, '{}') || coalesce(p_add, '{}')) m(id)
                WHERE NOT EXISTS (SELECT 1 FROM users u WHERE u.id = m.id
                                   AND u.user_directory = p_dir)) THEN
        RETURN ROW('member_not_found', NULL)::engine.scim_reply;
    END IF;
    IF p_id IS NULL THEN
        IF EXISTS (SELECT 1 FROM scim_groups x WHERE x.display_name = p_display) THEN
            RETURN ROW('group_name_taken', NULL)::engine.scim_reply;
        END IF;
        IF p_external_id IS NOT NULL
           AND EXISTS (SELECT 1 FROM scim_groups x WHERE x.external_id = p_external_id) THEN
            RETURN ROW('external_id_taken', NULL)::engine.scim_reply;
        END IF;
        INSERT INTO scim_groups (display_name, external_id) VALUES (p_display, p_external_id)
        RETURNING * INTO g;
    ELSE
        SELECT * INTO g FROM scim_groups WHERE id = p_id FOR UPDATE;
        IF NOT FOUND THEN
            RETURN ROW('group_not_found', NULL)::engine.scim_reply;
        END IF;
        IF p_display IS NOT NULL AND p_display <> g.display_name
           AND EXISTS (SELECT 1 FROM scim_groups x WHERE x.display_name = p_display) THEN
            RETURN ROW('group_name_taken', NULL)::engine.scim_reply;
        END IF;
        IF p_set_external AND p_external_id IS NOT NULL
           AND EXISTS (SELECT 1 FROM scim_groups x WHERE x.external_id = p_external_id
                        AND x.id <> g.id) THEN
            RETURN ROW('external_id_taken', NULL)::engine.scim_reply;
        END IF;
    END IF;
    v_name := coalesce(p_display, g.display_name);

    PERFORM 1 FROM users u
     WHERE u.user_directory = p_dir
       AND (u.groups @> ARRAY[g.display_name] OR u.id = ANY (p_members) OR u.id = ANY (p_add)
            OR u.id = ANY (p_remove))
     ORDER BY u.id FOR UPDATE;
    IF v_name <> g.display_name THEN
        UPDATE users u SET groups = array_replace(u.groups, g.display_name, v_name),
                           modified_at = clock_timestamp()
         WHERE u.user_directory = p_dir AND u.groups @> ARRAY[g.display_name];
    END IF;
    IF p_members IS NOT NULL THEN
        UPDATE users u SET groups = array_remove(u.groups, v_name), modified_at = clock_timestamp()
         WHERE u.user_directory = p_dir AND u.groups @> ARRAY[v_name] AND u.id <> ALL (p_members);
    END IF;
    UPDATE users u SET groups = u.groups || v_name, modified_at = clock_timestamp()
     WHERE (u.id = ANY (p_members) OR u.id = ANY (p_add)) AND NOT u.groups @> ARRAY[v_name];
    UPDATE users u SET groups = array_remove(u.groups, v_name), modified_at = clock_timestamp()
     WHERE u.id = ANY (p_remove) AND u.user_directory = p_dir AND u.groups @> ARRAY[v_name]
       AND NOT (u.id = ANY (coalesce(p_add, '{}')));
    UPDATE scim_groups SET display_name = v_name,
                           external_id = CASE WHEN p_set_external THEN p_external_id
                                              ELSE external_id END,
                           modified_at = clock_timestamp()
     WHERE id = g.id RETURNING * INTO g;
    RETURN ROW('ok', engine.scim_group_json(g, p_dir, true))::engine.scim_reply;
END $$;

-- DELETE /scim/v2/Groups/{id}: the group goes, and its name from its
-- members' groups (a rule of the group no longer matches them).
-- Outcomes: ok, group_not_found.
CREATE FUNCTION engine.scim_group_delete(p_id uuid, p_dir text, p_now timestamptz)
RETURNS engine.outcome LANGUAGE plpgsql AS $$
DECLARE
    g scim_groups;
BEGIN
    SELECT * INTO g FROM scim_groups WHERE id = p_id FOR UPDATE;
    IF NOT FOUND THEN
        RETURN 'group_not_found';
    END IF;
    PERFORM 1 FROM users u WHERE u.user_directory = p_dir AND u.groups @> ARRAY[g.display_name]
     ORDER BY u.id FOR UPDATE;
    UPDATE users u SET groups = array_remove(u.groups, g.display_name), modified_at = clock_timestamp()
     WHERE u.user_directory = p_dir AND u.groups @> ARRAY[g.display_name];
    DELETE FROM scim_groups WHERE id = g.id;
    RETURN 'ok';
END $$;

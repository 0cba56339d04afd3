-- The SCIM 2.0 representations (RFC 7643) of a user of the SCIM directory
-- and of a group, as allotd answers them (it adds meta.location, which
-- depends on the request).  What a client wrote and allot does not use
-- (users.scim: name, emails, the enterprise extension, ...) is given back
-- under the attributes allot owns.

-- An RFC 3339 UTC time with microseconds, as every reply shows one.
CREATE FUNCTION engine.rfc3339(t timestamptz) RETURNS text
    LANGUAGE sql STABLE PARALLEL SAFE
    RETURN to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"');

-- A resource's version (meta.version, a weak ETag): its last change in
-- microseconds.  PATCH reads a user with it and writes only over that version.
CREATE FUNCTION engine.scim_version(t timestamptz) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN engine.us(t)::text;

CREATE FUNCTION engine.scim_user_json(u users) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN (u.scim - 'groups' - 'meta' - 'schemas') || jsonb_build_object(
        'schemas', CASE WHEN u.scim ? 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User'
                        THEN '["urn:ietf:params:scim:schemas:core:2.0:User", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]'::jsonb
                        ELSE '["urn:ietf:params:scim:schemas:core:2.0:User"]'::jsonb END,
        'id', u.id,
        'userName', u.user_id,
        'active', u.active,
        'groups', coalesce((SELECT jsonb_agg(jsonb_build_object('value', g.id, 'display', g.display_name,
                                                                '$ref', '/scim/v2/Groups/' || g.id)
                                             ORDER BY g.display_name)
                              FROM scim_groups g WHERE g.display_name = ANY (u.groups)), '[]'),
        'meta', jsonb_build_object('resourceType', 'User', 'created', engine.rfc3339(u.created_at),
                                   'lastModified', engine.rfc3339(u.modified_at),
                                   'version', 'W/"' || engine.scim_version(u.modified_at) || '"'))
        || CASE WHEN u.name <> '' THEN jsonb_build_object('displayName', u.name) ELSE '{}' END
        || CASE WHEN u.external_id IS NOT NULL THEN jsonb_build_object('externalId', u.external_id)
                ELSE '{}' END;
END $$;

-- A group; its members are the users of the SCIM directory p_dir whose
-- groups name it (p_members false: without them, as a client asks with
-- excludedAttributes=members).
CREATE FUNCTION engine.scim_group_json(g scim_groups, p_dir text, p_members boolean) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN jsonb_build_object(
        'schemas', '["urn:ietf:params:scim:schemas:core:2.0:Group"]'::jsonb,
        'id', g.id,
        'displayName', g.display_name,
        'meta', jsonb_build_object('resourceType', 'Group', 'created', engine.rfc3339(g.created_at),
                                   'lastModified', engine.rfc3339(g.modified_at),
                                   'version', 'W/"' || engine.scim_version(g.modified_at) || '"'))
        || CASE WHEN p_members THEN jsonb_build_object('members', coalesce(
               (SELECT jsonb_agg(jsonb_build_object('value', u.id, 'display', u.user_id,
                                                    '$ref', '/scim/v2/Users/' || u.id)
                                 ORDER BY u.created_at, u.id)
                  FROM users u WHERE u.user_directory = p_dir AND u.groups @> ARRAY[g.display_name]),
               '[]')) ELSE '{}' END
        || CASE WHEN g.external_id IS NOT NULL THEN jsonb_build_object('externalId', g.external_id)
                ELSE '{}' END;
END $$;

-- What the SCIM functions answer: the outcome and the resource.
CREATE TYPE engine.scim_reply AS (
    outcome  engine.outcome,
    resource jsonb
);

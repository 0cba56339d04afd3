-- A rule (access group) matches a user whose groups or user directory it names.
CREATE FUNCTION engine.rule_matches(r rules, u users) RETURNS boolean
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN r.match_groups && u.groups OR u.user_directory = ANY (r.match_directories);

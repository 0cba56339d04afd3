-- A license parameter (DOMAIN.md: every number is one) in force: the
-- license's, or the default of allotd's table of parameters
-- (src/core/params.def, written into license_parameters by allotd migrate).
-- Nothing in the engine spells a default of its own.
CREATE FUNCTION engine.param(l license, p_name text) RETURNS bigint
    LANGUAGE sql STABLE PARALLEL SAFE
    RETURN coalesce((l.parameters ->> p_name)::bigint,
                    (SELECT d.default_value FROM license_parameters d WHERE d.name = p_name));

-- A parameter in seconds, as an interval.
CREATE FUNCTION engine.seconds(l license, p_name text) RETURNS interval
    LANGUAGE sql STABLE PARALLEL SAFE
    RETURN engine.param(l, p_name) * interval '1 second';

-- Every parameter in force, for GET /license: the license's over the defaults.
CREATE FUNCTION engine.params_in_force(l license) RETURNS jsonb
    LANGUAGE sql STABLE PARALLEL SAFE
    RETURN (SELECT coalesce(jsonb_object_agg(d.name, d.default_value), '{}') FROM license_parameters d)
           || coalesce(l.parameters, '{}');

-- A license parameter (DOMAIN.md: every number is one) in force.  The
-- license row holds every parameter of allotd's table (include/allot/params.def):
-- the license's own, over the defaults that allotd migrate writes into
-- license_parameters (engine.with_defaults, when a license is applied and
-- when the engine is).  Nothing in the engine spells a default of its own.
-- NULL when no license is applied.
CREATE FUNCTION engine.param(l license, p_name text) RETURNS bigint
    LANGUAGE sql STABLE PARALLEL SAFE
    RETURN (l.parameters ->> p_name)::bigint;

-- Every parameter: the given ones over the defaults.
CREATE FUNCTION engine.with_defaults(p_params jsonb) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN (SELECT coalesce(jsonb_object_agg(d.name, d.default_value), '{}') FROM license_parameters d)
           || coalesce(p_params, '{}');
END $$;

-- A parameter in seconds, as an interval.
CREATE FUNCTION engine.seconds(l license, p_name text) RETURNS interval
    LANGUAGE sql STABLE PARALLEL SAFE
    RETURN engine.param(l, p_name) * interval '1 second';

-- Every parameter in force, for GET /license (the defaults when no license
-- is applied).
CREATE FUNCTION engine.params_in_force(l license) RETURNS jsonb
    LANGUAGE sql STABLE PARALLEL SAFE
    RETURN engine.with_defaults(l.parameters);

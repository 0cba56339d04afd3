-- GET /license (and the licensing gauges of /metrics): the license as a
-- console shows it, at p_now.  The status comes from engine.license_status,
-- the function session start asks.  allotd keeps the view in memory until
-- changes_at (the next moment at which time alone changes it: the license
-- goes stale or expires, a quarantine ends, a login pass returns, a month
-- starts) or until a change is notified on the channel allot_license (the
-- triggers of license_notify.sql), so every instance shows a change at once.
CREATE TYPE engine.license_view AS (
    status               text,
    license_number       text,
    organization         text,
    product              text,
    valid_from           timestamptz,
    valid_to             timestamptz,
    issued_at            timestamptz,
    last_verified_at     timestamptz,
    last_sync_attempt_at timestamptz,
    last_sync_error      text,
    disabled_at          timestamptz,
    conversion_date      timestamptz,
    allotments           json,
    tokens               json,
    parameters           jsonb,
    changes_at           timestamptz
);

-- Units left: units + overage - used - quarantined, never below 0; NULL
-- when unbounded.
CREATE FUNCTION engine.available(p_units bigint, p_overage bigint, p_used bigint,
                                p_quarantined bigint) RETURNS bigint
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN CASE WHEN engine.type_limit(p_units, p_overage) IS NOT NULL
                THEN greatest(engine.type_limit(p_units, p_overage) - p_used - p_quarantined, 0) END;

CREATE FUNCTION engine.allotment_json(p_name text, p_units bigint, p_overage bigint,
                                     p_used bigint, p_quarantined bigint) RETURNS json
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN json_build_object('name', p_name, 'units', p_units, 'overage', p_overage,
                             'used', p_used, 'quarantined', p_quarantined,
                             'available', engine.available(p_units, p_overage, p_used, p_quarantined));

CREATE FUNCTION engine.license_view(p_now timestamptz) RETURNS engine.license_view
LANGUAGE plpgsql STABLE AS $$
DECLARE
    l license;
    v engine.license_view;
    minutes bigint;
    held bigint;
    user_live bigint;
    user_quarantined bigint;
BEGIN
    SELECT * INTO l FROM license;
    v.status := engine.license_status(l, p_now);
    v.parameters := engine.params_in_force(l);
    IF l.singleton IS NULL THEN
        v.allotments := '[]';
        v.changes_at := 'infinity';
        RETURN v;
    END IF;
    v.license_number := l.license_number;
    v.organization := l.organization;
    v.product := l.product;
    v.valid_from := l.valid_from;
    v.valid_to := l.valid_to;
    v.issued_at := l.issued_at;
    v.last_verified_at := l.last_verified_at;
    v.last_sync_attempt_at := l.last_sync_attempt_at;
    v.last_sync_error := l.last_sync_error;
    v.disabled_at := engine.disabled_at(l);
    v.conversion_date := l.conversion_date;
    minutes := coalesce((SELECT c.minutes FROM capacity_usage c WHERE c.month = engine.month_of(p_now)), 0);
    SELECT json_agg(x.j ORDER BY x.k) INTO v.allotments FROM (
        SELECT 1 AS k, engine.allotment_json('professional', l.professional_units, l.professional_overage,
                                            engine.type_live('professional'),
                                            engine.type_quarantined('professional', p_now)) AS j
         WHERE l.professional_units IS NOT NULL
        UNION ALL
        SELECT 2, engine.allotment_json('analyzer', l.analyzer_units, l.analyzer_overage,
                                       engine.type_live('analyzer'),
                                       engine.type_quarantined('analyzer', p_now))
         WHERE l.analyzer_units IS NOT NULL
        UNION ALL
        SELECT 3, engine.allotment_json('analyzer_time', l.capacity_units, l.capacity_overage,
                                       minutes, 0)
         WHERE l.capacity_units IS NOT NULL) x;
    v.allotments := coalesce(v.allotments, '[]');
    held := engine.login_tokens_held(p_now);
    user_live := engine.type_live('user');
    user_quarantined := engine.type_quarantined('user', p_now);
    v.tokens := json_build_object('total', l.tokens, 'allocated', held, 'used', user_live,
                                  'quarantined', user_quarantined,
                                  'available', engine.available(l.tokens, 0, held + user_live,
                                                               user_quarantined));
    SELECT min(t) INTO v.changes_at FROM (VALUES
        (v.disabled_at), (l.valid_to + interval '1 microsecond'), (l.last_verified_at),
        (l.conversion_date), (engine.next_month(p_now)),
        ((SELECT min(a.quarantine_end) FROM allocations a
           WHERE a.quarantine_end IS NOT NULL AND a.quarantine_end > p_now)),
        ((SELECT min(p.returns_at) FROM login_passes p WHERE p.returns_at > p_now))) AS c (t)
     WHERE t > p_now;
    v.changes_at := coalesce(v.changes_at, 'infinity');
    RETURN v;
END $$;

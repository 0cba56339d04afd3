-- allotment.low: the available count of an allotment (professional or
-- analyzer: units + overage - used - quarantined, GET /license's available)
-- fell below the subscription's "below".  Called where a unit is taken (an
-- allocation, a dynamic assignment, a license applied), in that transaction
-- and after the change, and by engine.webhook_check, which also re-arms a
-- condition once the count is back at or above its threshold (a quarantine
-- ended, an allocation was removed).  It fires once per crossing.  An
-- unbounded allotment (overage -1) or one the license lacks never fires.
CREATE FUNCTION engine.webhook_allotment(p_now timestamptz, p_type text)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    l license;
    c webhook_conditions;
    units bigint;
    overage bigint;
    used bigint;
    quarantined bigint;
    avail bigint;
    fired integer := 0;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM webhook_conditions x
                    WHERE x.type = 'allotment.low' AND x.allotment = p_type) THEN
        RETURN 0;
    END IF;
    SELECT * INTO l FROM license;
    IF l.singleton IS NULL THEN
        RETURN 0;
    END IF;
    units := CASE p_type WHEN 'professional' THEN l.professional_units ELSE l.analyzer_units END;
    overage := CASE p_type WHEN 'professional' THEN l.professional_overage ELSE l.analyzer_overage END;
    IF units IS NULL OR overage < 0 THEN
        RETURN 0;
    END IF;
    used := engine.type_live(p_type);
    quarantined := engine.type_quarantined(p_type, p_now);
    avail := engine.available(units, overage, used, quarantined);
    FOR c IN SELECT * FROM webhook_conditions x
              WHERE x.type = 'allotment.low' AND x.allotment = p_type
              ORDER BY x.webhook_id, x.n FOR UPDATE LOOP
        IF avail < c.threshold AND NOT c.fired THEN
            UPDATE webhook_conditions x SET fired = true
             WHERE x.webhook_id = c.webhook_id AND x.n = c.n;
            PERFORM engine.webhook_emit(p_now, c.webhook_id, 'allotment.low',
                jsonb_build_object('licenseNumber', l.license_number, 'allotment', p_type,
                                   'available', avail, 'below', c.threshold, 'units', units,
                                   'overage', overage, 'used', used,
                                   'quarantined', quarantined));
            fired := fired + 1;
        ELSIF avail >= c.threshold AND c.fired THEN
            UPDATE webhook_conditions x SET fired = false
             WHERE x.webhook_id = c.webhook_id AND x.n = c.n;
        END IF;
    END LOOP;
    RETURN fired;
END $$;

-- (A note for every file of sql/: a LANGUAGE sql function is inlined into
-- the statement that calls it only when its body is one expression without a
-- subquery; any other is parsed and planned again in every transaction.  So
-- a helper is LANGUAGE sql when it is a plain expression, and plpgsql, whose
-- plans live as long as the connection, when it reads a table.)

-- Counting allocations must stay flat as they grow to millions: a trigger
-- keeps the number of rows of each type in allocation_counts, and only the
-- quarantined rows (a week's removals, through the partial index
-- allocations_quarantined) are counted when asked.  allotd migrate counts
-- them again whenever it applies the engine, so the counter cannot drift.

CREATE FUNCTION engine.count_allocation() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        UPDATE allocation_counts SET n = n + 1 WHERE type = NEW.type;
    ELSE
        UPDATE allocation_counts SET n = n - 1 WHERE type = OLD.type;
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER allocations_count AFTER INSERT OR DELETE ON allocations
    FOR EACH ROW EXECUTE FUNCTION engine.count_allocation();

CREATE FUNCTION engine.count_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE allocation_counts SET n = 0;
    RETURN NULL;
END $$;

CREATE TRIGGER allocations_truncate AFTER TRUNCATE ON allocations
    FOR EACH STATEMENT EXECUTE FUNCTION engine.count_truncate();

-- Units (or tokens) a type may hold: units + overage; NULL = unbounded.
CREATE FUNCTION engine.type_limit(p_units bigint, p_overage bigint) RETURNS bigint
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN CASE WHEN p_overage < 0 THEN NULL ELSE coalesce(p_units, 0) + p_overage END;

-- An allocation counts against the license while live or in quarantine.
CREATE FUNCTION engine.alloc_counts(a allocations, p_now timestamptz) RETURNS boolean
    LANGUAGE sql STABLE PARALLEL SAFE
    RETURN a.quarantine_end IS NULL OR a.quarantine_end > p_now;

-- Quarantined allocations of a type still counting at p_now.
CREATE FUNCTION engine.type_quarantined(p_type text, p_now timestamptz) RETURNS bigint
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN (SELECT count(*) FROM allocations a
             WHERE a.type = p_type AND a.quarantine_end IS NOT NULL AND a.quarantine_end > p_now);
END $$;

-- Live allocations of a type (not removed).
CREATE FUNCTION engine.type_live(p_type text) RETURNS bigint
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN (SELECT c.n FROM allocation_counts c WHERE c.type = p_type)
         - (SELECT count(*) FROM allocations a WHERE a.type = p_type AND a.quarantine_end IS NOT NULL);
END $$;

-- Allocations of a type that count against the license: live and quarantined.
CREATE FUNCTION engine.type_used(p_type text, p_now timestamptz) RETURNS bigint
    LANGUAGE sql STABLE PARALLEL SAFE
    RETURN engine.type_live(p_type) + engine.type_quarantined(p_type, p_now);

-- What the license allows of an allocation type (professional, analyzer):
-- units + overage, NULL = unbounded, 0 when the license does not name it.
CREATE FUNCTION engine.type_allowed(l license, p_type text) RETURNS bigint
    LANGUAGE sql STABLE PARALLEL SAFE
    RETURN CASE p_type
        WHEN 'professional' THEN
            CASE WHEN l.professional_units IS NULL THEN 0
                 ELSE engine.type_limit(l.professional_units, l.professional_overage) END
        WHEN 'analyzer' THEN
            CASE WHEN l.analyzer_units IS NULL THEN 0
                 ELSE engine.type_limit(l.analyzer_units, l.analyzer_overage) END
        ELSE 0 END;

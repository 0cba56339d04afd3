-- Changes every allotd instance must see at once, sent with NOTIFY.  The
-- triggers are per row, so a statement that changes nothing sends nothing,
-- and PostgreSQL folds the duplicates of a transaction into one:
--   allot_license  what GET /license shows: the license, allocations
--                  (created, removed, reinstated), rules, login passes,
--                  capacity minutes.  Each instance drops its cached view.
--   allot_apikeys  an API key deleted or its role changed: each instance
--                  forgets its cached keys.
CREATE FUNCTION engine.notify_license() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('allot_license', '');
    -- The session functions tell the instance that made the change at once
    -- (their reply's license_changed), before its own notification arrives.
    PERFORM set_config('allot.license_changed', 'on', true);
    RETURN NULL;
END $$;

CREATE TRIGGER license_notify AFTER INSERT OR UPDATE OR DELETE ON license
    FOR EACH ROW EXECUTE FUNCTION engine.notify_license();
CREATE TRIGGER allocations_notify AFTER INSERT OR DELETE OR UPDATE OF quarantine_end ON allocations
    FOR EACH ROW EXECUTE FUNCTION engine.notify_license();
CREATE TRIGGER license_notify_truncate AFTER TRUNCATE ON license
    FOR EACH STATEMENT EXECUTE FUNCTION engine.notify_license();
CREATE TRIGGER allocations_notify_truncate AFTER TRUNCATE ON allocations
    FOR EACH STATEMENT EXECUTE FUNCTION engine.notify_license();
CREATE TRIGGER rules_notify_truncate AFTER TRUNCATE ON rules
    FOR EACH STATEMENT EXECUTE FUNCTION engine.notify_license();
CREATE TRIGGER login_passes_notify_truncate AFTER TRUNCATE ON login_passes
    FOR EACH STATEMENT EXECUTE FUNCTION engine.notify_license();
CREATE TRIGGER capacity_usage_notify_truncate AFTER TRUNCATE ON capacity_usage
    FOR EACH STATEMENT EXECUTE FUNCTION engine.notify_license();
CREATE TRIGGER rules_notify AFTER INSERT OR UPDATE OR DELETE ON rules
    FOR EACH ROW EXECUTE FUNCTION engine.notify_license();
CREATE TRIGGER login_passes_notify AFTER INSERT OR DELETE ON login_passes
    FOR EACH ROW EXECUTE FUNCTION engine.notify_license();
CREATE TRIGGER capacity_usage_notify AFTER INSERT OR UPDATE ON capacity_usage
    FOR EACH ROW EXECUTE FUNCTION engine.notify_license();

CREATE FUNCTION engine.notify_apikeys() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('allot_apikeys', '');
    RETURN NULL;
END $$;

CREATE TRIGGER api_keys_notify AFTER DELETE OR UPDATE OF role, hash ON api_keys
    FOR EACH ROW EXECUTE FUNCTION engine.notify_apikeys();

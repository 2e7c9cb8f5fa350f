-- The clearing house caches communities, their keys and the circle
-- (clearing/cache.go). Every statement that writes one of those tables
-- notifies clearing_changed; PostgreSQL delivers the notification when the
-- writing transaction commits, and every clearing process empties its
-- cache on it, whoever wrote (the server, `sxp admin`, plain SQL).
CREATE FUNCTION clearing_notify_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('clearing_changed', TG_TABLE_NAME);
    RETURN NULL;
END;
$$;

CREATE TRIGGER clearing_communities_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON clearing_communities
    FOR EACH STATEMENT EXECUTE FUNCTION clearing_notify_changed();
CREATE TRIGGER clearing_keys_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON clearing_keys
    FOR EACH STATEMENT EXECUTE FUNCTION clearing_notify_changed();
CREATE TRIGGER clearing_circle_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON clearing_circle
    FOR EACH STATEMENT EXECUTE FUNCTION clearing_notify_changed();

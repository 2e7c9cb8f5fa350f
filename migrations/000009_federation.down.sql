DELETE FROM announcements WHERE origin <> 'local';
DROP TRIGGER announcements_index ON announcements;
CREATE OR REPLACE FUNCTION announcements_index() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.search_vector := announcements_search_vector(
        NEW.search_config, NEW.title,
        (SELECT name FROM announcement_categories WHERE id = NEW.category_id),
        NEW.description, NEW.place);
    RETURN NEW;
END
$$;
CREATE TRIGGER announcements_index
    BEFORE INSERT OR UPDATE OF title, description, place, category_id, search_config
    ON announcements FOR EACH ROW EXECUTE FUNCTION announcements_index();
ALTER TABLE announcements
    DROP CONSTRAINT announcements_remote_check,
    DROP COLUMN remote_category,
    DROP COLUMN remote_price,
    DROP COLUMN remote_currency,
    DROP COLUMN author_name;
ALTER TABLE announcements ALTER COLUMN category_id SET NOT NULL;
DROP TABLE IF EXISTS federation_objects;
DROP TABLE IF EXISTS federation_events;
DROP SEQUENCE IF EXISTS federation_events_seq;
DROP TABLE IF EXISTS federation_nonces;
DROP TABLE IF EXISTS federation_peer_keys;
DROP TABLE IF EXISTS federation_peers;
DROP TABLE IF EXISTS federation_keys;

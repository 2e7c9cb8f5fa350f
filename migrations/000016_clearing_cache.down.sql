DROP TRIGGER IF EXISTS clearing_circle_changed ON clearing_circle;
DROP TRIGGER IF EXISTS clearing_keys_changed ON clearing_keys;
DROP TRIGGER IF EXISTS clearing_communities_changed ON clearing_communities;
DROP FUNCTION IF EXISTS clearing_notify_changed();

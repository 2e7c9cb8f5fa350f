ALTER TABLE intertrade_integrity_checks DROP COLUMN circle_data_at, DROP COLUMN stale;

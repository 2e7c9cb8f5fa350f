DROP TABLE IF EXISTS clearing_admin_sessions;

ALTER TABLE intertrades DROP COLUMN payee_ticks;
DROP TABLE member_audit;
DROP TABLE community_settings;
ALTER TABLE members DROP COLUMN newcomer;

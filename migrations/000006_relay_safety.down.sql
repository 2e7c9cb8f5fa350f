DROP TABLE IF EXISTS intertrade_nonces;
ALTER TABLE intertrade_integrity_checks DROP COLUMN IF EXISTS rounding;
ALTER TABLE intertrades DROP CONSTRAINT IF EXISTS intertrades_rounding_check, DROP COLUMN IF EXISTS rounding;
DROP INDEX IF EXISTS clearing_intertrades_pending;
ALTER TABLE clearing_intertrades DROP COLUMN IF EXISTS asks, DROP COLUMN IF EXISTS ask_after, DROP COLUMN IF EXISTS last_error;

ALTER TABLE remote_wantlists DROP CONSTRAINT remote_wantlists_key_check, DROP COLUMN key;
-- 000011 keeps every private key unsealed: own keys (none held) and sealed
-- ones cannot go back; the server makes them again on demand.
DELETE FROM member_deal_keys WHERE own OR sealed;
ALTER TABLE member_deal_keys
    DROP CONSTRAINT member_deal_keys_zero_check,
    DROP CONSTRAINT member_deal_keys_private_check,
    DROP COLUMN updated_at,
    DROP COLUMN own,
    DROP COLUMN sealed,
    ALTER COLUMN private_key SET NOT NULL;

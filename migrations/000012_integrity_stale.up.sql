-- An integrity check whose circle balance is older than our records (the
-- last handshake failed, or intertrades completed since) is "unknown", not
-- a mismatch: stale marks it, circle_data_at is when the circle reported.
ALTER TABLE intertrade_integrity_checks
    ADD COLUMN stale boolean NOT NULL DEFAULT false,
    ADD COLUMN circle_data_at timestamptz;

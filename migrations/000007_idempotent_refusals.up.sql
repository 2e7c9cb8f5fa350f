-- A refused request keeps its idempotency key, with what it was refused
-- for: every repeat of the key gets the first answer, a refusal included
-- (issue 10, hole 4). Before, a refusal released the key, so a concurrent
-- or later repeat could be paid after the first copy was told "refused".
ALTER TABLE ledger_idempotency
    ADD COLUMN content_hash    bytea,
    ADD COLUMN refusal_code    text,
    ADD COLUMN refusal_message text,
    ADD COLUMN refusal_account bigint,
    ADD CONSTRAINT ledger_idempotency_refusal_check CHECK (refusal_code IS NULL OR content_hash IS NOT NULL);

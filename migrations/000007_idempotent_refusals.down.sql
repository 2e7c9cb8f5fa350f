DELETE FROM ledger_idempotency WHERE refusal_code IS NOT NULL;
ALTER TABLE ledger_idempotency
    DROP CONSTRAINT ledger_idempotency_refusal_check,
    DROP COLUMN refusal_account,
    DROP COLUMN refusal_message,
    DROP COLUMN refusal_code,
    DROP COLUMN content_hash;

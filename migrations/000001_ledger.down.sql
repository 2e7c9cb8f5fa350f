DROP TABLE ledger_transfers, ledger_pending, ledger_idempotency, ledger_accounts CASCADE;
DROP FUNCTION ledger_transfers_append_only();
DROP FUNCTION ledger_pending_resolve_once();
DROP SEQUENCE ledger_seq;

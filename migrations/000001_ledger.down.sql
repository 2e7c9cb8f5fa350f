DROP TABLE ledger_placeholder;

-- placeholder, replaced by the ledger schema
CREATE TABLE ledger_placeholder (id int);

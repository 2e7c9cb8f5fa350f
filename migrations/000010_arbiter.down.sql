DROP TABLE IF EXISTS clearing_arbiter_contracts;
DROP TABLE IF EXISTS clearing_arbiter_keys;

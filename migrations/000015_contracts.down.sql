DROP TABLE IF EXISTS contract_legs;
DROP TABLE IF EXISTS contract_sends;
DROP TABLE IF EXISTS contract_promises;
DROP TABLE IF EXISTS contracts;

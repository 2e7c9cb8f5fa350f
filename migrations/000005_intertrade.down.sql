DROP TABLE IF EXISTS intertrade_integrity_checks;
DROP TABLE IF EXISTS intertrade_handshakes;
DROP TABLE IF EXISTS intertrades;

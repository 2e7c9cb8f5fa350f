-- Runs once, when the postgres container starts on an empty volume: one
-- database for the clearing house and one for each community.
CREATE DATABASE clearing;
CREATE DATABASE leaf;
CREATE DATABASE acorn;

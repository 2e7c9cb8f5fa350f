DROP TABLE IF EXISTS payment_requests;
DROP TABLE IF EXISTS member_login_failures;
DROP TABLE IF EXISTS member_sessions;
DROP TABLE IF EXISTS members;

DROP TABLE mail_outbox;
DROP TRIGGER mail_notice_bill ON payment_requests;
DROP FUNCTION mail_notice_bill();
DROP TRIGGER mail_notice_payment ON ledger_transfers;
DROP FUNCTION mail_notice_payment();
DROP TABLE mail_notices_due;
DROP TABLE member_notices_off;
DROP TABLE mail_tokens;
DROP TABLE member_emails;

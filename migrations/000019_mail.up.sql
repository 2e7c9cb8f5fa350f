-- E-mail (optional; SXP_SMTP_URL): members' addresses, single-use tokens
-- (address verification, password reset), the notices each member turned
-- off, the notices due (filled by triggers in the transaction of the
-- payment or bill itself, so a crash loses none), and the durable outbox
-- that a background job drains through SMTP with retries.

CREATE TABLE member_emails (
    member_id   bigint      NOT NULL,
    address     text        NOT NULL,
    verified_at timestamptz,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT member_emails_pkey PRIMARY KEY (member_id),
    CONSTRAINT member_emails_member_fkey FOREIGN KEY (member_id) REFERENCES members (id) ON DELETE CASCADE,
    CONSTRAINT member_emails_address_check CHECK (char_length(address) BETWEEN 3 AND 254 AND address LIKE '%_@_%')
);
CREATE INDEX member_emails_address_idx ON member_emails (lower(address)) WHERE verified_at IS NOT NULL;

-- A token is sent in a link and kept only as its SHA-256; it is used once
-- (used_at) and only before expires_at. address is the address it was sent
-- to: a verification token verifies only that address.
CREATE TABLE mail_tokens (
    id         bigserial   NOT NULL,
    token_hash bytea       NOT NULL,
    member_id  bigint      NOT NULL,
    purpose    text        NOT NULL,
    address    text        NOT NULL,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    used_at    timestamptz,
    CONSTRAINT mail_tokens_pkey PRIMARY KEY (id),
    CONSTRAINT mail_tokens_hash_key UNIQUE (token_hash),
    CONSTRAINT mail_tokens_member_fkey FOREIGN KEY (member_id) REFERENCES members (id) ON DELETE CASCADE,
    CONSTRAINT mail_tokens_hash_check CHECK (octet_length(token_hash) = 32),
    CONSTRAINT mail_tokens_purpose_check CHECK (purpose IN ('verify', 'reset'))
);
CREATE INDEX mail_tokens_member_idx ON mail_tokens (member_id, purpose, created_at);

-- A row here turns a kind of notice off for a member (every kind is on by default).
CREATE TABLE member_notices_off (
    member_id bigint NOT NULL,
    kind      text   NOT NULL,
    CONSTRAINT member_notices_off_pkey PRIMARY KEY (member_id, kind),
    CONSTRAINT member_notices_off_member_fkey FOREIGN KEY (member_id) REFERENCES members (id) ON DELETE CASCADE,
    CONSTRAINT member_notices_off_kind_check CHECK (kind IN ('payment', 'bill', 'proposal', 'expiry'))
);

-- Notices due: a payment received (ref = ledger transfer id) or a bill
-- received (ref = payment request id), written by the triggers below for
-- members with a verified address; the mail job turns them into outbox
-- messages and deletes them in one transaction.
CREATE TABLE mail_notices_due (
    id         bigserial   NOT NULL,
    member_id  bigint      NOT NULL,
    kind       text        NOT NULL,
    ref        bigint      NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT mail_notices_due_pkey PRIMARY KEY (id),
    CONSTRAINT mail_notices_due_member_fkey FOREIGN KEY (member_id) REFERENCES members (id) ON DELETE CASCADE,
    CONSTRAINT mail_notices_due_kind_check CHECK (kind IN ('payment', 'bill'))
);

CREATE FUNCTION mail_notice_payment() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO mail_notices_due (member_id, kind, ref)
    SELECT m.id, 'payment', NEW.id FROM members m JOIN member_emails e ON e.member_id = m.id
    WHERE m.account_id = NEW.credit_account_id AND e.verified_at IS NOT NULL;
    RETURN NULL;
END;
$$;
CREATE TRIGGER mail_notice_payment AFTER INSERT ON ledger_transfers
    FOR EACH ROW EXECUTE FUNCTION mail_notice_payment();

CREATE FUNCTION mail_notice_bill() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO mail_notices_due (member_id, kind, ref)
    SELECT e.member_id, 'bill', NEW.id FROM member_emails e
    WHERE e.member_id = NEW.payer_id AND e.verified_at IS NOT NULL;
    RETURN NULL;
END;
$$;
CREATE TRIGGER mail_notice_bill AFTER INSERT ON payment_requests
    FOR EACH ROW EXECUTE FUNCTION mail_notice_bill();

-- The outbox: one message per row, sent by the mail job. dedup_key makes
-- a notice found by a sweep (proposals, offers about to expire) written
-- once. state: pending (attempts so far, next_attempt_at), sent, failed
-- (gave up after the last attempt; last_error says why).
CREATE TABLE mail_outbox (
    id              bigserial   NOT NULL,
    member_id       bigint,
    kind            text        NOT NULL,
    recipient       text        NOT NULL,
    subject         text        NOT NULL,
    body            text        NOT NULL,
    dedup_key       text,
    state           text        NOT NULL DEFAULT 'pending',
    attempts        integer     NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL,
    last_error      text        NOT NULL DEFAULT '',
    created_at      timestamptz NOT NULL,
    sent_at         timestamptz,
    CONSTRAINT mail_outbox_pkey PRIMARY KEY (id),
    CONSTRAINT mail_outbox_member_fkey FOREIGN KEY (member_id) REFERENCES members (id) ON DELETE SET NULL,
    CONSTRAINT mail_outbox_dedup_key UNIQUE (dedup_key),
    CONSTRAINT mail_outbox_state_check CHECK (state IN ('pending', 'sent', 'failed')),
    CONSTRAINT mail_outbox_sent_check CHECK ((state = 'sent') = (sent_at IS NOT NULL)),
    CONSTRAINT mail_outbox_kind_check CHECK (kind IN ('verify', 'reset', 'payment', 'bill', 'proposal', 'expiry'))
);
CREATE INDEX mail_outbox_due_idx ON mail_outbox (next_attempt_at) WHERE state = 'pending';
CREATE INDEX mail_outbox_state_idx ON mail_outbox (state, created_at);

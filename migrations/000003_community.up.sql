-- Community core: members, their sessions, failed log-ins (brute-force
-- slowdown) and payment requests. Members' balances live in the ledger:
-- members.account_id is the member's ledger account.

CREATE TABLE members (
    id            bigserial PRIMARY KEY,
    username      text NOT NULL,
    password_hash text NOT NULL,
    display_name  text NOT NULL DEFAULT '',
    bio           text NOT NULL DEFAULT '',
    contact       text NOT NULL DEFAULT '',
    role          text NOT NULL DEFAULT 'member',
    status        text NOT NULL,
    account_id    bigint NOT NULL,
    public_key    bytea,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT members_username_key UNIQUE (username),
    CONSTRAINT members_account_key UNIQUE (account_id),
    CONSTRAINT members_username_check CHECK (username ~ '^[a-z0-9][a-z0-9_-]{1,31}$'),
    CONSTRAINT members_role_check CHECK (role IN ('member', 'admin')),
    CONSTRAINT members_status_check CHECK (status IN ('pending', 'active', 'blocked')),
    CONSTRAINT members_public_key_check CHECK (public_key IS NULL OR octet_length(public_key) = 32)
);

CREATE TABLE member_sessions (
    token_hash bytea PRIMARY KEY,           -- sha-256 of the bearer token / cookie
    member_id  bigint NOT NULL REFERENCES members (id) ON DELETE CASCADE,
    csrf_token text NOT NULL,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    CONSTRAINT member_sessions_token_hash_check CHECK (octet_length(token_hash) = 32)
);
CREATE INDEX member_sessions_member_idx ON member_sessions (member_id);
CREATE INDEX member_sessions_expires_idx ON member_sessions (expires_at);

CREATE TABLE member_login_failures (
    id       bigserial PRIMARY KEY,
    username text NOT NULL,
    ip       text NOT NULL,
    at       timestamptz NOT NULL
);
CREATE INDEX member_login_failures_username_idx ON member_login_failures (username, at);
CREATE INDEX member_login_failures_ip_idx ON member_login_failures (ip, at);

-- A payment request is a bill: the payee asks the payer for an amount;
-- the payer pays it (a ledger transfer) or rejects it; the payee may
-- cancel it while open.
CREATE TABLE payment_requests (
    id              bigserial PRIMARY KEY,
    payee_id        bigint NOT NULL REFERENCES members (id),
    payer_id        bigint NOT NULL REFERENCES members (id),
    amount          bigint NOT NULL,
    description     text NOT NULL DEFAULT '',
    status          text NOT NULL DEFAULT 'open',
    idempotency_key text,
    transfer_id     bigint,
    created_at      timestamptz NOT NULL,
    resolved_at     timestamptz,
    CONSTRAINT payment_requests_amount_check CHECK (amount > 0),
    CONSTRAINT payment_requests_parties_check CHECK (payee_id <> payer_id),
    CONSTRAINT payment_requests_status_check CHECK (status IN ('open', 'paid', 'rejected', 'cancelled')),
    CONSTRAINT payment_requests_paid_check CHECK ((status = 'paid') = (transfer_id IS NOT NULL)),
    CONSTRAINT payment_requests_resolved_check CHECK ((status = 'open') = (resolved_at IS NULL)),
    CONSTRAINT payment_requests_idempotency_key UNIQUE (payee_id, idempotency_key)
);
CREATE INDEX payment_requests_payer_idx ON payment_requests (payer_id, status);
CREATE INDEX payment_requests_payee_idx ON payment_requests (payee_id, status);

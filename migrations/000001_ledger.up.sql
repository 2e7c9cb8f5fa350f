-- The double-entry ledger (package ledger). See ledger/ledger.go.
--
-- Invariants the database enforces by itself, so that not even a bug in the
-- Go code can commit a violation:
--   * every account's limits contain zero: min_balance <= 0 <= max_balance;
--   * every balance, counting its holds, lies within its limits:
--       balance - pending_debits  >= min_balance  (the payer side)
--       balance + pending_credits <= max_balance  (the payee side);
--   * transfers move a positive amount between two different accounts and
--     are append-only (a trigger refuses UPDATE, DELETE and TRUNCATE);
--   * an idempotency key is used once across transfers and holds
--     (ledger_idempotency, a named primary key), and once per table;
--   * a hold is resolved at most once (a trigger refuses changing a resolved hold).
--
-- Transfers and holds draw their ids from one sequence, and a hold's
-- resolution (post, void, expiry) draws resolved_seq from it too, so the
-- whole history can be replayed in one order that agrees, account by
-- account, with the order in which the locks were taken.

CREATE SEQUENCE ledger_seq AS bigint;

CREATE TABLE ledger_accounts (
    id              bigint GENERATED ALWAYS AS IDENTITY,
    code            text        NOT NULL,
    currency        text        NOT NULL,
    min_balance     bigint      NOT NULL,
    max_balance     bigint      NOT NULL,
    status          text        NOT NULL DEFAULT 'active',
    metadata        jsonb       NOT NULL DEFAULT '{}',
    balance         bigint      NOT NULL DEFAULT 0,
    pending_debits  bigint      NOT NULL DEFAULT 0,
    pending_credits bigint      NOT NULL DEFAULT 0,
    created_at      timestamptz NOT NULL,
    CONSTRAINT ledger_accounts_pkey PRIMARY KEY (id),
    CONSTRAINT ledger_accounts_code_key UNIQUE (code),
    CONSTRAINT ledger_accounts_code_check CHECK (code <> ''),
    CONSTRAINT ledger_accounts_currency_check CHECK (currency <> ''),
    CONSTRAINT ledger_accounts_status_check CHECK (status IN ('active', 'frozen')),
    CONSTRAINT ledger_accounts_limits_check CHECK (min_balance <= 0 AND max_balance >= 0),
    CONSTRAINT ledger_accounts_pending_check CHECK (pending_debits >= 0 AND pending_credits >= 0),
    CONSTRAINT ledger_accounts_lower_limit_check CHECK (balance - pending_debits >= min_balance),
    CONSTRAINT ledger_accounts_upper_limit_check CHECK (balance + pending_credits <= max_balance)
);

CREATE INDEX ledger_accounts_currency_idx ON ledger_accounts (currency, id);

-- One row per idempotency key ever committed, whatever it keyed.
CREATE TABLE ledger_idempotency (
    key  text NOT NULL,
    kind text NOT NULL,
    CONSTRAINT ledger_idempotency_pkey PRIMARY KEY (key),
    CONSTRAINT ledger_idempotency_kind_check CHECK (kind IN ('transfer', 'hold'))
);

CREATE TABLE ledger_pending (
    id                bigint      NOT NULL DEFAULT nextval('ledger_seq'),
    debit_account_id  bigint      NOT NULL,
    credit_account_id bigint      NOT NULL,
    amount            bigint      NOT NULL,
    currency          text        NOT NULL,
    description       text        NOT NULL DEFAULT '',
    metadata          jsonb       NOT NULL DEFAULT '{}',
    idempotency_key   text,
    content_hash      bytea       NOT NULL,
    status            text        NOT NULL DEFAULT 'pending',
    expires_at        timestamptz NOT NULL,
    created_at        timestamptz NOT NULL,
    resolved_at       timestamptz,
    resolved_seq      bigint,
    transfer_id       bigint,
    CONSTRAINT ledger_pending_pkey PRIMARY KEY (id),
    CONSTRAINT ledger_pending_debit_fkey FOREIGN KEY (debit_account_id) REFERENCES ledger_accounts (id),
    CONSTRAINT ledger_pending_credit_fkey FOREIGN KEY (credit_account_id) REFERENCES ledger_accounts (id),
    CONSTRAINT ledger_pending_key_fkey FOREIGN KEY (idempotency_key) REFERENCES ledger_idempotency (key),
    CONSTRAINT ledger_pending_idempotency_key_key UNIQUE (idempotency_key),
    CONSTRAINT ledger_pending_amount_check CHECK (amount > 0),
    CONSTRAINT ledger_pending_accounts_check CHECK (debit_account_id <> credit_account_id),
    CONSTRAINT ledger_pending_status_check CHECK (status IN ('pending', 'posted', 'voided', 'expired')),
    CONSTRAINT ledger_pending_resolved_check CHECK (
        (status = 'pending') = (resolved_at IS NULL) AND
        (status = 'pending') = (resolved_seq IS NULL) AND
        (status = 'posted') = (transfer_id IS NOT NULL))
);

CREATE INDEX ledger_pending_due_idx ON ledger_pending (expires_at) WHERE status = 'pending';

CREATE TABLE ledger_transfers (
    id                bigint      NOT NULL DEFAULT nextval('ledger_seq'),
    debit_account_id  bigint      NOT NULL,
    credit_account_id bigint      NOT NULL,
    amount            bigint      NOT NULL,
    currency          text        NOT NULL,
    description       text        NOT NULL DEFAULT '',
    metadata          jsonb       NOT NULL DEFAULT '{}',
    idempotency_key   text,
    content_hash      bytea       NOT NULL,
    pending_id        bigint,
    debit_balance     bigint      NOT NULL,
    credit_balance    bigint      NOT NULL,
    created_at        timestamptz NOT NULL,
    CONSTRAINT ledger_transfers_pkey PRIMARY KEY (id),
    CONSTRAINT ledger_transfers_debit_fkey FOREIGN KEY (debit_account_id) REFERENCES ledger_accounts (id),
    CONSTRAINT ledger_transfers_credit_fkey FOREIGN KEY (credit_account_id) REFERENCES ledger_accounts (id),
    CONSTRAINT ledger_transfers_key_fkey FOREIGN KEY (idempotency_key) REFERENCES ledger_idempotency (key),
    CONSTRAINT ledger_transfers_pending_fkey FOREIGN KEY (pending_id) REFERENCES ledger_pending (id),
    CONSTRAINT ledger_transfers_idempotency_key_key UNIQUE (idempotency_key),
    CONSTRAINT ledger_transfers_pending_key UNIQUE (pending_id),
    CONSTRAINT ledger_transfers_amount_check CHECK (amount > 0),
    CONSTRAINT ledger_transfers_accounts_check CHECK (debit_account_id <> credit_account_id)
);

CREATE INDEX ledger_transfers_debit_idx ON ledger_transfers (debit_account_id, id);
CREATE INDEX ledger_transfers_credit_idx ON ledger_transfers (credit_account_id, id);

ALTER TABLE ledger_pending
    ADD CONSTRAINT ledger_pending_transfer_fkey FOREIGN KEY (transfer_id) REFERENCES ledger_transfers (id);

CREATE FUNCTION ledger_transfers_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ledger_transfers is append-only (% refused)', TG_OP
        USING ERRCODE = 'restrict_violation';
END;
$$;

CREATE TRIGGER ledger_transfers_append_only
    BEFORE UPDATE OR DELETE ON ledger_transfers
    FOR EACH ROW EXECUTE FUNCTION ledger_transfers_append_only();

CREATE TRIGGER ledger_transfers_no_truncate
    BEFORE TRUNCATE ON ledger_transfers
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_transfers_append_only();

CREATE FUNCTION ledger_pending_resolve_once() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' OR OLD.status <> 'pending' THEN
        RAISE EXCEPTION 'ledger_pending: hold % is resolved or may not be deleted (% refused)', OLD.id, TG_OP
            USING ERRCODE = 'restrict_violation';
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER ledger_pending_resolve_once
    BEFORE UPDATE OR DELETE ON ledger_pending
    FOR EACH ROW EXECUTE FUNCTION ledger_pending_resolve_once();

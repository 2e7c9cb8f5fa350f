-- The parties' side of contract signing (design.md, "Deals and contracts";
-- issue 14): one row per contract per local party, the promises this server
-- holds, the promises waiting to be sent, and the settlement of each leg.

-- A local party's run of the protocol. state: signing (rounds 1 … n+1 in
-- progress; round is the round whose M[round] it waits for), resolving (it
-- asked T at level; it sends nothing more, ever), signed (by M[n+1] or T's
-- resolved token), aborted (T's own answer to it), failed (this server never
-- started it: the contract does not parse, or its key is not the member's).
CREATE TABLE contracts (
    h             text        NOT NULL,
    party         integer     NOT NULL,
    username      text        NOT NULL,
    contract      text        NOT NULL, -- the RFC 8785 form, whose SHA-256 is h
    parties       integer     NOT NULL,
    round         integer     NOT NULL DEFAULT 1,
    state         text        NOT NULL DEFAULT 'signing',
    round_started timestamptz NOT NULL,
    deadline      timestamptz NOT NULL,
    round_timeout integer     NOT NULL,
    level         integer,              -- the level it resolved with
    decision      text,                 -- T's answer: aborted | resolved
    token         text,                 -- T's token for decision
    resolve_sig   text,                 -- the member's own signature of the resolve request (own key)
    note          text        NOT NULL DEFAULT '',
    cancelled     boolean     NOT NULL DEFAULT false,
    opened        boolean     NOT NULL DEFAULT false, -- signed, and its settlement opened (legs written, offers closed)
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL,
    CONSTRAINT contracts_pkey PRIMARY KEY (h, party),
    CONSTRAINT contracts_h_check CHECK (h ~ '^[0-9a-f]{64}$'),
    CONSTRAINT contracts_party_check CHECK (party >= 0 AND party < parties),
    CONSTRAINT contracts_round_check CHECK (round >= 1 AND round <= parties + 1),
    CONSTRAINT contracts_state_check CHECK (state IN ('signing', 'resolving', 'signed', 'aborted', 'failed')),
    CONSTRAINT contracts_level_check CHECK (level IS NULL OR (level >= 0 AND level <= parties + 1)),
    CONSTRAINT contracts_decision_check CHECK (decision IS NULL OR decision IN ('aborted', 'resolved'))
);
CREATE INDEX contracts_active_idx ON contracts (state) WHERE state IN ('signing', 'resolving');
CREATE INDEX contracts_username_idx ON contracts (username);

-- Every valid promise m[round, party] of a contract this server holds (its
-- own parties' and those received), stored once.
CREATE TABLE contract_promises (
    h          text        NOT NULL,
    party      integer     NOT NULL,
    round      integer     NOT NULL,
    sig        text        NOT NULL,
    created_at timestamptz NOT NULL,
    CONSTRAINT contract_promises_pkey PRIMARY KEY (h, party, round),
    CONSTRAINT contract_promises_round_check CHECK (round >= 1)
);

-- Promises of local parties waiting to be sent to another party's home
-- server; a row goes when the send succeeds, or when its party resolves
-- (after which it sends nothing more).
CREATE TABLE contract_sends (
    h          text        NOT NULL,
    party      integer     NOT NULL,
    round      integer     NOT NULL,
    target     text        NOT NULL,
    attempts   integer     NOT NULL DEFAULT 0,
    next_at    timestamptz NOT NULL,
    last_error text        NOT NULL DEFAULT '',
    CONSTRAINT contract_sends_pkey PRIMARY KEY (h, party, round, target),
    CONSTRAINT contract_sends_contract_fkey FOREIGN KEY (h, party) REFERENCES contracts (h, party) ON DELETE CASCADE
);

-- Settlement of a signed contract's legs that concern this server: money
-- legs paid by a local payer (idempotency key h:<leg>), item legs confirmed
-- by a local receiver. state: pending (to pay, or to confirm), paid,
-- refused (the payment was refused: recorded and shown, not retried),
-- confirmed (the receiver has the item).
CREATE TABLE contract_legs (
    h          text        NOT NULL,
    leg        integer     NOT NULL,
    kind       text        NOT NULL,
    state      text        NOT NULL DEFAULT 'pending',
    attempts   integer     NOT NULL DEFAULT 0,
    next_at    timestamptz NOT NULL,
    message    text        NOT NULL DEFAULT '',
    updated_at timestamptz NOT NULL,
    CONSTRAINT contract_legs_pkey PRIMARY KEY (h, leg),
    CONSTRAINT contract_legs_kind_check CHECK (kind IN ('money', 'item')),
    CONSTRAINT contract_legs_state_check CHECK (state IN ('pending', 'paid', 'refused', 'confirmed')),
    CONSTRAINT contract_legs_kind_state_check CHECK (
        (kind = 'money' AND state IN ('pending', 'paid', 'refused')) OR
        (kind = 'item' AND state IN ('pending', 'confirmed')))
);

-- Community intertrading through the circle (server/intertrade).
--
-- intertrades records every payment that crosses the circle, in either
-- direction, with the base-unit quantity the circle recorded, the local
-- amount it became, and the rate used, so the integrity check compares exact
-- numbers: the import/export account's balance equals the signed sum of the
-- local amounts of completed intertrades, and the signed sum of their base
-- quantities equals minus the circle's virtual customer balance.
CREATE TABLE intertrades (
    id               bigserial PRIMARY KEY,
    direction        text        NOT NULL,
    state            text        NOT NULL DEFAULT 'pending',
    temp_id          text        NOT NULL,
    -- the local member's account and username (payer when out, payee when in)
    local_account    bigint,               -- NULL for a refused relay to an unknown payee
    local_username   text        NOT NULL,
    -- the wire fields of the CXP transaction
    payer            text        NOT NULL,
    payer_url        text        NOT NULL,
    payee            text        NOT NULL,
    payee_url        text        NOT NULL,
    src_url          text        NOT NULL,
    dest_url         text        NOT NULL,
    remote_community text        NOT NULL DEFAULT '',
    description      text        NOT NULL DEFAULT '',
    quantity         numeric     NOT NULL, -- base units
    amount           bigint      NOT NULL, -- local minor units
    ticks            numeric     NOT NULL, -- our rate used for the conversion
    idempotency_key  text,                  -- the member's key (out only)
    hold_id          bigint,                -- ledger pending transfer (out)
    transfer_id      bigint,                -- ledger transfer once completed
    cxp_code         integer,               -- the circle's answer code, when known
    cxp_message      text        NOT NULL DEFAULT '',
    reason           text        NOT NULL DEFAULT '', -- plain words for the member
    circle_id        text        NOT NULL DEFAULT '', -- the circle's transaction id
    answer           jsonb,                 -- the answer sent for a relay (in)
    attempts         integer     NOT NULL DEFAULT 0,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT intertrades_direction_check CHECK (direction IN ('out', 'in')),
    CONSTRAINT intertrades_state_check CHECK (state IN ('pending', 'completed', 'failed')),
    CONSTRAINT intertrades_quantity_check CHECK (quantity > 0),
    CONSTRAINT intertrades_amount_check CHECK (amount > 0),
    CONSTRAINT intertrades_ticks_check CHECK (ticks > 0),
    CONSTRAINT intertrades_temp_id_key UNIQUE (direction, src_url, temp_id),
    CONSTRAINT intertrades_idempotency_check CHECK ((direction = 'out') = (idempotency_key IS NOT NULL))
);

CREATE UNIQUE INDEX intertrades_idempotency_key ON intertrades (local_account, idempotency_key)
    WHERE direction = 'out';
CREATE INDEX intertrades_state_idx ON intertrades (state, id);
CREATE INDEX intertrades_created_idx ON intertrades (created_at, id);

-- intertrade_handshakes keeps each handshake with the circle: what we
-- declared and what the circle answered (or why it could not be reached).
CREATE TABLE intertrade_handshakes (
    id         bigserial PRIMARY KEY,
    at         timestamptz NOT NULL DEFAULT now(),
    ok         boolean     NOT NULL,
    error      text        NOT NULL DEFAULT '',
    sent       jsonb       NOT NULL,
    status     integer,
    balance    numeric,
    min        numeric,
    max        numeric,
    count      bigint,
    keymatch   boolean,
    ticks      numeric,
    message    text        NOT NULL DEFAULT ''
);

-- intertrade_integrity_checks keeps each reconciliation of the import/export
-- account with the circle. A mismatch is shown to admins, never auto-fixed.
CREATE TABLE intertrade_integrity_checks (
    id              bigserial PRIMARY KEY,
    at              timestamptz NOT NULL DEFAULT now(),
    ok              boolean     NOT NULL,
    account_balance bigint      NOT NULL, -- import/export ledger balance, local minor units
    local_sum       bigint      NOT NULL, -- signed sum of completed intertrades' amounts
    base_sum        numeric     NOT NULL, -- signed sum of their base quantities
    circle_balance  numeric,              -- the virtual customer's balance, from the handshake
    problems        text        NOT NULL DEFAULT ''
);

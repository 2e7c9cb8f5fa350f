-- The arbiter T of the contract-signing protocol (design.md, "Deals and
-- contracts"), served by the clearing house: its Ed25519 key, sealed like the
-- communities' keys, and one row per contract it was asked about.

CREATE TABLE clearing_arbiter_keys (
    id          bigserial   PRIMARY KEY,
    one         boolean     NOT NULL DEFAULT true CONSTRAINT clearing_arbiter_keys_single UNIQUE CHECK (one),
    public_key  bytea       NOT NULL CHECK (length(public_key) = 32),
    -- the 32-byte seed, AES-256-GCM under SXP_CLEARING_SECRET, bound to the public key
    sealed      bytea       NOT NULL,
    created_at  timestamptz NOT NULL
);

CREATE TABLE clearing_arbiter_contracts (
    hash        text        PRIMARY KEY CHECK (hash ~ '^[0-9a-f]{64}$'),
    -- the contract's RFC 8785 form, whose SHA-256 is hash
    contract    text        NOT NULL,
    parties     integer     NOT NULL CHECK (parties >= 2),
    decision    text        NOT NULL CHECK (decision IN ('aborted', 'resolved')),
    asked       integer[]   NOT NULL CHECK (cardinality(asked) = parties),   -- -1: has not asked
    seen        integer[]   NOT NULL CHECK (cardinality(seen) = parties),
    in_s        boolean[]   NOT NULL CHECK (cardinality(in_s) = parties),
    requests    integer     NOT NULL CHECK (requests >= 1),
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL
);
CREATE INDEX clearing_arbiter_contracts_updated ON clearing_arbiter_contracts (updated_at DESC);

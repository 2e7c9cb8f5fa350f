-- Members' contract keys (issue 14): each member has an Ed25519 key for
-- signing sxp-contract/1 promises, held by this server and sealed at rest
-- (AES-256-GCM under SXP_FEDERATION_SECRET, bound to the member id), unless
-- the member registered their own public key (own: the server holds no
-- private key, the member signs). SQL cannot make Ed25519 keys nor seal:
-- the rows of 000011 are marked unsealed here, and the server, at start,
-- makes the missing keys and seals the unsealed ones in one idempotent step
-- (memberkeys.Store.Ensure).
ALTER TABLE member_deal_keys
    ALTER COLUMN private_key DROP NOT NULL,
    ADD COLUMN sealed boolean NOT NULL DEFAULT false,
    ADD COLUMN own boolean NOT NULL DEFAULT false,
    ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now(),
    ADD CONSTRAINT member_deal_keys_private_check CHECK (
        (own AND private_key IS NULL AND NOT sealed) OR (NOT own AND private_key IS NOT NULL)),
    ADD CONSTRAINT member_deal_keys_zero_check CHECK (public_key <> '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea);

-- A peer's want list carries its author's contract public key (an additive
-- "key" in the wantlist event object); NULL when the peer sent none.
ALTER TABLE remote_wantlists
    ADD COLUMN key bytea,
    ADD CONSTRAINT remote_wantlists_key_check CHECK (key IS NULL OR octet_length(key) = 32);

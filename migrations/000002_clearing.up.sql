-- The clearing house of an intertrading circle: the circle, its member
-- communities (each with a virtual customer account in the ledger), their
-- keys, replay-protection nonces, rate history, intertrades, the
-- append-only record, the audit log, monitoring events and admin tokens.

CREATE TABLE clearing_circle (
    id                 text        PRIMARY KEY CHECK (id ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$'),
    one                boolean     NOT NULL DEFAULT true CONSTRAINT clearing_circle_single UNIQUE CHECK (one),
    name               text        NOT NULL,
    unit               text        NOT NULL CHECK (unit ~ '^[A-Za-z0-9_-]{1,16}$'),
    divisions          integer     NOT NULL CHECK (divisions BETWEEN 0 AND 8),
    -- declared_on_approval | declared_on_schedule | fixed | floating
    rate_policy        text        NOT NULL DEFAULT 'declared_on_approval'
                       CHECK (rate_policy IN ('declared_on_approval', 'declared_on_schedule', 'fixed', 'floating')),
    -- explicit | per_member | volume_percent
    limit_policy       text        NOT NULL DEFAULT 'explicit'
                       CHECK (limit_policy IN ('explicit', 'per_member', 'volume_percent')),
    limit_per_member   bigint      NOT NULL DEFAULT 0 CHECK (limit_per_member >= 0),   -- base minor units
    limit_percent      numeric     NOT NULL DEFAULT 0 CHECK (limit_percent >= 0),
    limit_floor        bigint      NOT NULL DEFAULT 0 CHECK (limit_floor >= 0),         -- base minor units
    -- code 14: |balance| / trailing 365-day volume may not exceed this percentage; NULL = no check
    ratio_percent      numeric     CHECK (ratio_percent > 0),
    float_band_percent numeric     NOT NULL DEFAULT 50 CHECK (float_band_percent > 0 AND float_band_percent <= 100),
    float_step_percent numeric     NOT NULL DEFAULT 1 CHECK (float_step_percent > 0 AND float_step_percent < 100),
    signature_window   integer     NOT NULL DEFAULT 300 CHECK (signature_window BETWEEN 1 AND 3600),
    created_at         timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE clearing_communities (
    id                  text        PRIMARY KEY CHECK (id ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$'),
    name                text        NOT NULL CHECK (name <> ''),
    uri                 text        NOT NULL CONSTRAINT clearing_communities_uri_key UNIQUE CHECK (uri <> ''),
    mail                text        NOT NULL DEFAULT '',
    account_id          bigint      NOT NULL CONSTRAINT clearing_communities_account_key UNIQUE,
    ticks               numeric     NOT NULL CHECK (ticks > 0),
    declared_ticks      numeric     CHECK (declared_ticks > 0),
    declared_at         timestamptz,
    floating            boolean     NOT NULL DEFAULT false,
    status              text        NOT NULL DEFAULT 'trading' CHECK (status IN ('trading', 'blocked')),
    block_reason        text        NOT NULL DEFAULT '',
    limits_override     boolean     NOT NULL DEFAULT false,
    -- the statement data of the last handshake
    api                 text        NOT NULL DEFAULT '',
    traders             bigint      NOT NULL DEFAULT 0,
    transactions        bigint      NOT NULL DEFAULT 0,
    first_trade         timestamptz,
    divisions_text      text        NOT NULL DEFAULT '',
    visibility          boolean     NOT NULL DEFAULT false,
    logo                text        NOT NULL DEFAULT '',
    lat                 numeric,
    lon                 numeric,
    last_handshake_at   timestamptz,
    -- the last prepare: the community's own view of its import/export account (base minor units)
    reported_balance    bigint,
    reported_volume     bigint,
    reported_integrity  boolean,
    reported_at         timestamptz,
    integrity_ok        boolean,
    created_at          timestamptz NOT NULL DEFAULT now()
);

-- Keys are HMAC secrets: verifying and signing need the secret itself, so it
-- cannot be hashed; it is encrypted with AES-256-GCM under SXP_CLEARING_SECRET.
CREATE TABLE clearing_keys (
    id            bigserial   PRIMARY KEY,
    community_id  text        NOT NULL REFERENCES clearing_communities (id),
    sealed        bytea       NOT NULL,
    fingerprint   text        NOT NULL,  -- first 16 hex digits of sha256(key), to tell keys apart
    created_at    timestamptz NOT NULL,
    retires_at    timestamptz            -- NULL while current; verifies until then once replaced
);
CREATE INDEX clearing_keys_community ON clearing_keys (community_id, id DESC);

CREATE TABLE clearing_nonces (
    key_id  text        NOT NULL,
    nonce   text        NOT NULL,
    until   timestamptz NOT NULL,
    CONSTRAINT clearing_nonces_pkey PRIMARY KEY (key_id, nonce)
);
CREATE INDEX clearing_nonces_until ON clearing_nonces (until);

CREATE TABLE clearing_rates (
    id            bigserial   PRIMARY KEY,
    community_id  text        NOT NULL REFERENCES clearing_communities (id),
    ticks         numeric     NOT NULL CHECK (ticks > 0),
    previous      numeric,
    source        text        NOT NULL CHECK (source IN ('created', 'admin', 'approved', 'schedule', 'floating')),
    actor         text        NOT NULL,
    created_at    timestamptz NOT NULL
);
CREATE INDEX clearing_rates_community ON clearing_rates (community_id, id);

-- src/payer/payee_community name a member community, or "parent:ID" for
-- the parent circle of a nested circle (no foreign key for that reason).
CREATE TABLE clearing_intertrades (
    id              bigserial   PRIMARY KEY,
    src_community   text        NOT NULL,
    temp_id         text        NOT NULL,
    request_hash    text        NOT NULL,
    payer_community text        NOT NULL,
    payee_community text        NOT NULL,
    payer           text        NOT NULL,
    payee           text        NOT NULL,
    payer_url       text        NOT NULL,
    payee_url       text        NOT NULL,
    src_url         text        NOT NULL,
    dest_url        text        NOT NULL,
    quantity        bigint      NOT NULL CHECK (quantity > 0),
    description     text        NOT NULL,
    payer_ticks     numeric     NOT NULL,
    payee_ticks     numeric     NOT NULL,
    pending_id      bigint,
    transfer_id     bigint,
    status          text        NOT NULL CHECK (status IN ('pending', 'posted', 'voided', 'expired')),
    result_code     integer     NOT NULL DEFAULT 0,
    response        jsonb,
    created_at      timestamptz NOT NULL,
    resolved_at     timestamptz
);
-- One live (pending or posted) intertrade per temp_id of a community; a
-- refused attempt leaves the temp_id free for a retry.
CREATE UNIQUE INDEX clearing_intertrades_temp_id ON clearing_intertrades (src_community, temp_id)
    WHERE status IN ('pending', 'posted');
CREATE INDEX clearing_intertrades_created ON clearing_intertrades (created_at);
CREATE INDEX clearing_intertrades_payer ON clearing_intertrades (payer_community, created_at);
CREATE INDEX clearing_intertrades_payee ON clearing_intertrades (payee_community, created_at);

-- The definitive record of every written intertrade: append-only.
CREATE TABLE clearing_records (
    seq            bigserial   PRIMARY KEY,
    intertrade_id  bigint      NOT NULL CONSTRAINT clearing_records_intertrade_key UNIQUE REFERENCES clearing_intertrades (id),
    record         jsonb       NOT NULL,
    created_at     timestamptz NOT NULL
);
CREATE FUNCTION clearing_records_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'clearing_records is append-only';
END $$;
CREATE TRIGGER clearing_records_append_only BEFORE UPDATE OR DELETE ON clearing_records
    FOR EACH ROW EXECUTE FUNCTION clearing_records_append_only();

CREATE TABLE clearing_audit (
    id          bigserial   PRIMARY KEY,
    actor       text        NOT NULL,
    action      text        NOT NULL,
    subject     text        NOT NULL DEFAULT '',
    before      jsonb,
    after       jsonb,
    created_at  timestamptz NOT NULL
);

-- Refusals and blocked traffic, for monitoring.
CREATE TABLE clearing_events (
    id            bigserial   PRIMARY KEY,
    community_id  text,
    kind          text        NOT NULL CHECK (kind IN ('reject', 'blocked')),
    code          integer     NOT NULL,
    route         text        NOT NULL DEFAULT '',
    created_at    timestamptz NOT NULL
);
CREATE INDEX clearing_events_created ON clearing_events (created_at);

CREATE TABLE clearing_admin_tokens (
    id          bigserial   PRIMARY KEY,
    name        text        NOT NULL CONSTRAINT clearing_admin_tokens_name_key UNIQUE,
    token_hash  text        NOT NULL CONSTRAINT clearing_admin_tokens_hash_key UNIQUE,
    created_at  timestamptz NOT NULL,
    revoked_at  timestamptz
);

-- Joining a circle without copying secrets by hand (issue 16).
--
-- The clearing house's side: a community's signed request to join, kept
-- until a circle admin approves or refuses it. The request carries the
-- community's Ed25519 key (it signs the request and every later status poll)
-- and a fresh X25519 key to which the circle seals the community's CXP
-- credentials on approval (a NaCl sealed box only that community can open).
CREATE TABLE clearing_join_requests (
    id           bigserial PRIMARY KEY,
    community_id text        NOT NULL,
    name         text        NOT NULL,
    currency     text        NOT NULL,
    divisions    integer     NOT NULL CHECK (divisions BETWEEN 0 AND 8),
    base_url     text        NOT NULL,
    ticks        numeric     NOT NULL CHECK (ticks > 0),
    mail         text        NOT NULL DEFAULT '',
    message      text        NOT NULL DEFAULT '',
    keyid        text        NOT NULL,
    public_key   bytea       NOT NULL CHECK (length(public_key) = 32),
    box_key      bytea       NOT NULL CHECK (length(box_key) = 32),
    state        text        NOT NULL DEFAULT 'pending'
                 CONSTRAINT clearing_join_requests_state CHECK (state IN ('pending', 'approved', 'refused')),
    reason       text        NOT NULL DEFAULT '',
    sealed       bytea,      -- the credentials sealed to box_key, once approved
    decided_by   text        NOT NULL DEFAULT '',
    decided_at   timestamptz,
    created_at   timestamptz NOT NULL,
    CONSTRAINT clearing_join_requests_sealed CHECK ((state = 'approved') = (sealed IS NOT NULL))
);
-- One open request per community id: a repeat is answered with it.
CREATE UNIQUE INDEX clearing_join_requests_pending_key ON clearing_join_requests (community_id) WHERE state = 'pending';
CREATE INDEX clearing_join_requests_state ON clearing_join_requests (state, id);

-- The community server's side: its request to a circle and, once approved,
-- the credentials it opened (the CXP key sealed at rest when the server has
-- SXP_FEDERATION_SECRET, as its federation keys are). At most one request
-- is open or in force at a time.
CREATE TABLE circle_joins (
    id           bigserial PRIMARY KEY,
    circle_url   text        NOT NULL,
    request_id   bigint      NOT NULL DEFAULT 0, -- the circle's number, once it answered
    ticks        text        NOT NULL,
    keyid        text        NOT NULL, -- the server's key that asked: it signs the polls too
    public_key   bytea       NOT NULL CHECK (length(public_key) = 32),
    box_public   bytea       NOT NULL CHECK (length(box_public) = 32),
    box_private  bytea       NOT NULL,
    box_sealed   boolean     NOT NULL,
    state        text        NOT NULL DEFAULT 'pending'
                 CONSTRAINT circle_joins_state CHECK (state IN ('pending', 'joined', 'refused')),
    reason       text        NOT NULL DEFAULT '',
    circle_id    text        NOT NULL DEFAULT '',
    circle_key   bytea,
    key_sealed   boolean     NOT NULL DEFAULT false,
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL,
    CONSTRAINT circle_joins_key CHECK ((state = 'joined') = (circle_key IS NOT NULL))
);
CREATE UNIQUE INDEX circle_joins_open_key ON circle_joins ((true)) WHERE state IN ('pending', 'joined');

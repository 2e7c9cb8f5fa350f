-- Federation (sxp-fed/1): the server's own Ed25519 keys, its peers and their
-- pinned keys, replay-protection nonces of signed federation requests, the
-- outbox of announcement events, and federated announcements.

-- The server's keys. The newest one without retires_at signs; a rotated key
-- stays listed (and its private half kept) until retires_at. With
-- SXP_FEDERATION_SECRET the private key is sealed (AES-256-GCM, bound to the
-- keyid); without, it is kept as is.
CREATE TABLE federation_keys (
    keyid       text        NOT NULL,
    public_key  bytea       NOT NULL,
    private_key bytea       NOT NULL,
    sealed      boolean     NOT NULL DEFAULT false,
    created_at  timestamptz NOT NULL DEFAULT now(),
    retires_at  timestamptz,
    CONSTRAINT federation_keys_pkey PRIMARY KEY (keyid),
    CONSTRAINT federation_keys_public_check CHECK (octet_length(public_key) = 32),
    CONSTRAINT federation_keys_private_check CHECK (sealed OR octet_length(private_key) = 64)
);

-- Peers. state: requested (the peer asked, our admin has not approved),
-- approved (our admin approved, the peer has not yet), active (both),
-- refused (our admin refused the peer's request).
CREATE TABLE federation_peers (
    id               bigserial   PRIMARY KEY,
    base_url         text        NOT NULL,
    community_id     text        NOT NULL DEFAULT '',
    name             text        NOT NULL DEFAULT '',
    currency         text        NOT NULL DEFAULT '',
    circle_id        text,
    circle_url       text,
    state            text        NOT NULL,
    pushed_seq       bigint      NOT NULL DEFAULT 0, -- our events delivered up to here
    pulled_cursor    text        NOT NULL DEFAULT '', -- the peer's events applied up to here
    failures         integer     NOT NULL DEFAULT 0, -- consecutive failed deliveries
    failing_since    timestamptz,
    paused_until     timestamptz,
    last_delivery_at timestamptz,
    last_error       text        NOT NULL DEFAULT '',
    keys_fetched_at  timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT federation_peers_base_url_key UNIQUE (base_url),
    CONSTRAINT federation_peers_state_check CHECK (state IN ('requested', 'approved', 'active', 'refused'))
);

-- The keys of each peer as pinned from its /.well-known/sxp.
CREATE TABLE federation_peer_keys (
    keyid      text        NOT NULL,
    peer_id    bigint      NOT NULL,
    public_key bytea       NOT NULL,
    pinned_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT federation_peer_keys_pkey PRIMARY KEY (keyid),
    CONSTRAINT federation_peer_keys_peer_fkey FOREIGN KEY (peer_id)
        REFERENCES federation_peers (id) ON DELETE CASCADE,
    CONSTRAINT federation_peer_keys_public_check CHECK (octet_length(public_key) = 32)
);
CREATE INDEX federation_peer_keys_peer ON federation_peer_keys (peer_id);

CREATE TABLE federation_nonces (
    keyid text        NOT NULL,
    nonce text        NOT NULL,
    until timestamptz NOT NULL,
    CONSTRAINT federation_nonces_pkey PRIMARY KEY (keyid, nonce)
);
CREATE INDEX federation_nonces_until ON federation_nonces (until);

-- The outbox: the latest event of each local object. seq is taken anew on
-- every change (under an advisory lock held to commit, so that seq order is
-- commit order); a peer's cursor is the highest seq it has.
CREATE SEQUENCE federation_events_seq;
CREATE TABLE federation_events (
    object_id  text        NOT NULL,
    seq        bigint      NOT NULL,
    local_id   bigint      NOT NULL,
    version    bigint      NOT NULL,
    deleted    boolean     NOT NULL,
    object     jsonb,
    changed_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT federation_events_pkey PRIMARY KEY (object_id),
    CONSTRAINT federation_events_seq_key UNIQUE (seq),
    CONSTRAINT federation_events_version_check CHECK (version > 0),
    CONSTRAINT federation_events_object_check CHECK (deleted = (object IS NULL))
);

-- The version of every federated object this server holds or has seen
-- deleted: an event is applied only when its version is greater.
CREATE TABLE federation_objects (
    object_id text   NOT NULL,
    origin    text   NOT NULL,
    version   bigint NOT NULL,
    deleted   boolean NOT NULL,
    CONSTRAINT federation_objects_pkey PRIMARY KEY (object_id)
);
CREATE INDEX federation_objects_origin ON federation_objects (origin);

-- Federated announcements live beside local ones (origin = the peer's
-- base_url, origin_id = the event id), so that one full-text search ranks
-- both. They keep their origin's category name, price and currency as text.
ALTER TABLE announcements ALTER COLUMN category_id DROP NOT NULL;
ALTER TABLE announcements
    ADD COLUMN remote_category text,
    ADD COLUMN remote_price    numeric,
    ADD COLUMN remote_currency text,
    ADD COLUMN author_name     text,
    ADD CONSTRAINT announcements_remote_check CHECK (
        (origin = 'local' AND category_id IS NOT NULL AND remote_category IS NULL AND remote_currency IS NULL)
        OR (origin <> 'local' AND category_id IS NULL AND remote_category IS NOT NULL AND remote_currency IS NOT NULL));

CREATE OR REPLACE FUNCTION announcements_index() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.search_vector := announcements_search_vector(
        NEW.search_config, NEW.title,
        coalesce((SELECT name FROM announcement_categories WHERE id = NEW.category_id), NEW.remote_category),
        NEW.description, NEW.place);
    RETURN NEW;
END
$$;

DROP TRIGGER announcements_index ON announcements;
CREATE TRIGGER announcements_index
    BEFORE INSERT OR UPDATE OF title, description, place, category_id, remote_category, search_config
    ON announcements FOR EACH ROW EXECUTE FUNCTION announcements_index();

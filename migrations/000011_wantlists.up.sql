-- Want lists (issue 13): for each of a member's local offers, the offers
-- (local or federated) they would take for it, best first. An entry goes
-- with either offer when that is deleted (a federated one is deleted when
-- its origin sends it as deleted); closed and expired offers are left out
-- when want lists are read.
CREATE TABLE wantlist_entries (
    offer_id   bigint      NOT NULL,
    rank       integer     NOT NULL,
    accepts_id bigint      NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT wantlist_entries_pkey PRIMARY KEY (offer_id, rank),
    CONSTRAINT wantlist_entries_accepts_key UNIQUE (offer_id, accepts_id),
    CONSTRAINT wantlist_entries_offer_fkey FOREIGN KEY (offer_id)
        REFERENCES announcements (id) ON DELETE CASCADE,
    CONSTRAINT wantlist_entries_accepts_fkey FOREIGN KEY (accepts_id)
        REFERENCES announcements (id) ON DELETE CASCADE,
    CONSTRAINT wantlist_entries_rank_check CHECK (rank >= 1),
    CONSTRAINT wantlist_entries_self_check CHECK (offer_id <> accepts_id)
);
CREATE INDEX wantlist_entries_accepts_idx ON wantlist_entries (accepts_id);

-- Money offers: an offer of an amount of the member's own currency (minor
-- units); a federated one keeps its origin's decimal and currency as text.
ALTER TABLE announcements
    ADD COLUMN money               bigint,
    ADD COLUMN remote_money_value  text,
    ADD COLUMN remote_money_currency text,
    ADD CONSTRAINT announcements_money_check CHECK (money IS NULL OR (money > 0 AND kind = 'offer'));

-- Want lists received from peers (wantlist events): offer and accepts are
-- event ids, as their origin wrote them.
CREATE TABLE remote_wantlists (
    object_id  text        NOT NULL,
    origin     text        NOT NULL,
    offer      text        NOT NULL,
    accepts    text[]      NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT remote_wantlists_pkey PRIMARY KEY (object_id)
);
CREATE INDEX remote_wantlists_origin_idx ON remote_wantlists (origin);

-- The outbox carries want lists beside announcements.
ALTER TABLE federation_events
    ADD COLUMN type text NOT NULL DEFAULT 'announcement',
    ADD CONSTRAINT federation_events_type_check CHECK (type IN ('announcement', 'wantlist'));

-- Rounds: each loop the deal finder found becomes a proposal, an
-- sxp-contract/1 contract C (h = lowercase hex SHA-256 of JCS(C)). Its
-- offers are held while it is proposed or ready.
CREATE TABLE deal_proposals (
    h          text        NOT NULL,
    contract   jsonb       NOT NULL,
    state      text        NOT NULL DEFAULT 'proposed',
    deadline   timestamptz NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT deal_proposals_pkey PRIMARY KEY (h),
    CONSTRAINT deal_proposals_h_check CHECK (h ~ '^[0-9a-f]{64}$'),
    CONSTRAINT deal_proposals_state_check CHECK (state IN ('proposed', 'ready', 'ended'))
);
CREATE TABLE deal_proposal_offers (
    h     text NOT NULL,
    offer text NOT NULL,
    CONSTRAINT deal_proposal_offers_pkey PRIMARY KEY (h, offer),
    CONSTRAINT deal_proposal_offers_h_fkey FOREIGN KEY (h) REFERENCES deal_proposals (h) ON DELETE CASCADE
);
CREATE INDEX deal_proposal_offers_offer_idx ON deal_proposal_offers (offer);

-- Members' contract keys (Ed25519), made on demand until members register
-- their own.
CREATE TABLE member_deal_keys (
    member_id   bigint      NOT NULL,
    public_key  bytea       NOT NULL,
    private_key bytea       NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT member_deal_keys_pkey PRIMARY KEY (member_id),
    CONSTRAINT member_deal_keys_member_fkey FOREIGN KEY (member_id) REFERENCES members (id) ON DELETE CASCADE,
    CONSTRAINT member_deal_keys_public_check CHECK (octet_length(public_key) = 32)
);

-- The parties' answers to a proposal: accept or decline, by member
-- (user@community), whether told by this server's member or a peer.
CREATE TABLE deal_proposal_answers (
    h      text NOT NULL,
    member text NOT NULL,
    answer text NOT NULL,
    CONSTRAINT deal_proposal_answers_pkey PRIMARY KEY (h, member),
    CONSTRAINT deal_proposal_answers_h_fkey FOREIGN KEY (h) REFERENCES deal_proposals (h) ON DELETE CASCADE,
    CONSTRAINT deal_proposal_answers_answer_check CHECK (answer IN ('accept', 'decline'))
);

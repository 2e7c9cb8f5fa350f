-- Deals at scale and over time (issue 13): indexes for a round's gather and
-- for the deadline sweep, rounds with their progress, proposals that expire,
-- and a durable outbox of messages to other parties' servers.

-- A round reads the live offers; the sweep reads the live proposals.
CREATE INDEX announcements_live_offers_idx ON announcements (expires_at) WHERE kind = 'offer' AND status = 'active';
CREATE INDEX deal_proposals_live_idx ON deal_proposals (deadline) WHERE state IN ('proposed', 'ready');

-- A proposal whose deadline passed before every party accepted is expired
-- (its offers are free again), told apart from one a party declined (ended).
ALTER TABLE deal_proposals DROP CONSTRAINT deal_proposals_state_check,
    ADD CONSTRAINT deal_proposals_state_check CHECK (state IN ('proposed', 'ready', 'ended', 'expired'));

-- Each round: who started it, its phase (gather, solve, propose, then done
-- or failed) and counts as it goes (step: where the solve is, e.g.
-- "matching 1200/2000"), so the admin page shows a long round's
-- progress and the last rounds.
CREATE TABLE deal_rounds (
    id              bigserial   NOT NULL,
    started_by      text        NOT NULL,
    started_at      timestamptz NOT NULL,
    finished_at     timestamptz,
    phase           text        NOT NULL DEFAULT 'gather',
    max_loop        integer     NOT NULL,
    max_communities integer     NOT NULL,
    wantlists       integer     NOT NULL DEFAULT 0,
    loops           integer     NOT NULL DEFAULT 0,
    proposed        integer     NOT NULL DEFAULT 0,
    trades          integer     NOT NULL DEFAULT 0,
    unfunded_offers integer     NOT NULL DEFAULT 0,
    unfunded_loops  integer     NOT NULL DEFAULT 0,
    step            text        NOT NULL DEFAULT '',
    error           text        NOT NULL DEFAULT '',
    CONSTRAINT deal_rounds_pkey PRIMARY KEY (id),
    CONSTRAINT deal_rounds_phase_check CHECK (phase IN ('gather', 'solve', 'propose', 'done', 'failed')),
    CONSTRAINT deal_rounds_finished_check CHECK ((finished_at IS NULL) = (phase IN ('gather', 'solve', 'propose')))
);
CREATE INDEX deal_rounds_started_idx ON deal_rounds (started_at DESC, id DESC);

-- Messages about a proposal to another party's home server (the proposal
-- itself, then each answer of a member here), kept until delivered: a
-- server that was down gets them when it is back. message is 'proposal' or
-- '<accept|decline> <member>'; for one proposal and server they go in id
-- order. A refused message (4xx) is not retried; one whose proposal's
-- deadline passed is dropped (every server ends the proposal itself then).
CREATE TABLE deal_deliveries (
    id           bigserial   NOT NULL,
    h            text        NOT NULL,
    server       text        NOT NULL,
    message      text        NOT NULL,
    path         text        NOT NULL,
    body         bytea       NOT NULL,
    state        text        NOT NULL DEFAULT 'pending',
    attempts     integer     NOT NULL DEFAULT 0,
    next_at      timestamptz NOT NULL,
    last_try_at  timestamptz,
    last_error   text        NOT NULL DEFAULT '',
    delivered_at timestamptz,
    created_at   timestamptz NOT NULL,
    CONSTRAINT deal_deliveries_pkey PRIMARY KEY (id),
    CONSTRAINT deal_deliveries_message_key UNIQUE (h, server, message),
    CONSTRAINT deal_deliveries_h_fkey FOREIGN KEY (h) REFERENCES deal_proposals (h) ON DELETE CASCADE,
    CONSTRAINT deal_deliveries_state_check CHECK (state IN ('pending', 'delivered', 'refused', 'dropped'))
);
CREATE INDEX deal_deliveries_pending_idx ON deal_deliveries (server, h, id) WHERE state = 'pending';

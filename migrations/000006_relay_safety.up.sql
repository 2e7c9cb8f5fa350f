-- Relay safety (issue 10).
--
-- Clearing house: an intertrade whose relay may have been written by the
-- payee (its answer was lost or late, or the clearing house stopped while it
-- waited) stays pending, its hold kept open, and is asked again with the
-- same temp_id until the payee's answer is known. asks counts the relays
-- sent, ask_after is when recovery may ask next (NULL: while the first try
-- is in flight), last_error is why the outcome is still unknown.
ALTER TABLE clearing_intertrades
    ADD COLUMN asks       integer     NOT NULL DEFAULT 0,
    ADD COLUMN ask_after  timestamptz,
    ADD COLUMN last_error text        NOT NULL DEFAULT '';
CREATE INDEX clearing_intertrades_pending ON clearing_intertrades (id) WHERE status = 'pending';

-- Community: the remainder of each conversion, in base units, exactly
-- (conversions truncate towards zero; see clearing/cxp/rate.go). For an
-- outgoing intertrade amount × ticks = quantity + rounding, for an incoming
-- one quantity = amount × ticks + rounding; the integrity check proves both.
-- NULL for intertrades recorded before (rounded half away from zero).
ALTER TABLE intertrades
    ADD COLUMN rounding numeric,
    ADD CONSTRAINT intertrades_rounding_check CHECK (rounding >= 0);
-- The rounding account (sum of the remainders) at each integrity check.
ALTER TABLE intertrade_integrity_checks ADD COLUMN rounding numeric;

-- Community: nonces of the circle's relays, kept until their signature
-- window ends, so a replayed relay is refused across restarts and replicas.
CREATE TABLE intertrade_nonces (
    key_id text        NOT NULL,
    nonce  text        NOT NULL,
    until  timestamptz NOT NULL,
    CONSTRAINT intertrade_nonces_pkey PRIMARY KEY (key_id, nonce)
);
CREATE INDEX intertrade_nonces_until ON intertrade_nonces (until);

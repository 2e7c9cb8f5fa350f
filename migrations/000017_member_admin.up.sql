-- Issue 16: admins' member page, newcomers' limits, payment receipts.
--
-- members.newcomer: the member registered while the community gives new
-- members their own limits (community_settings); an admin's approval moves
-- them to the default limits and clears it.
ALTER TABLE members ADD COLUMN newcomer boolean NOT NULL DEFAULT false;

-- community_settings: what admins change on the web, one row. NULL
-- newcomer limits: the configured ones (SXP_NEWCOMER_MIN/MAX) apply.
CREATE TABLE community_settings (
    id           integer PRIMARY KEY DEFAULT 1,
    newcomer_min bigint,
    newcomer_max bigint,
    updated_by   text NOT NULL DEFAULT '',
    updated_at   timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT community_settings_one_row CHECK (id = 1),
    CONSTRAINT community_settings_newcomer_min_check CHECK (newcomer_min IS NULL OR newcomer_min <= 0),
    CONSTRAINT community_settings_newcomer_max_check CHECK (newcomer_max IS NULL OR newcomer_max >= 0),
    CONSTRAINT community_settings_newcomer_both CHECK ((newcomer_min IS NULL) = (newcomer_max IS NULL))
);

-- member_audit: every admin action on a member (who, what, when).
CREATE TABLE member_audit (
    id         bigserial PRIMARY KEY,
    at         timestamptz NOT NULL,
    actor      text NOT NULL,
    member     text NOT NULL,
    action     text NOT NULL,
    detail     text NOT NULL DEFAULT ''
);
CREATE INDEX member_audit_member_idx ON member_audit (member, id);

-- The payee's rate the circle converted with, from its answer to the final
-- try: a receipt shows what the payee received, also when repeated.
ALTER TABLE intertrades ADD COLUMN payee_ticks numeric;

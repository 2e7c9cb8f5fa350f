-- The clearing house caches communities, their keys and the circle
-- (clearing/cache.go). Every statement that writes one of those tables
-- moves clearing_cache_version on, in the writing transaction; each CXP
-- request reads the version first (one row by its key) and, when it moved,
-- reads the tables again, so a change committed before a request is seen
-- by it, whichever process wrote it (the server, `sxp admin`, plain SQL).
CREATE TABLE clearing_cache_version (
    one boolean PRIMARY KEY DEFAULT true CONSTRAINT clearing_cache_version_one CHECK (one),
    n   bigint  NOT NULL DEFAULT 0
);
INSERT INTO clearing_cache_version (one) VALUES (true);

CREATE FUNCTION clearing_cache_bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE clearing_cache_version SET n = n + 1 WHERE one;
    RETURN NULL;
END;
$$;

CREATE TRIGGER clearing_communities_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON clearing_communities
    FOR EACH STATEMENT EXECUTE FUNCTION clearing_cache_bump();
CREATE TRIGGER clearing_keys_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON clearing_keys
    FOR EACH STATEMENT EXECUTE FUNCTION clearing_cache_bump();
CREATE TRIGGER clearing_circle_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON clearing_circle
    FOR EACH STATEMENT EXECUTE FUNCTION clearing_cache_bump();

-- Maintained aggregates (issue 15): the figures a payment needs come from
-- rows updated in the same transaction as each intertrade, by trigger,
-- never from a scan of the intertrades' history.
--
-- The community's side: the signed sums of its completed intertrades
-- (local amount and base quantity, out +, in -) in one row, and their
-- volume (base quantity, both ways) per UTC day of the intertrade's
-- creation. A prepare reports the sums and the volume of the last 365 days.
CREATE TABLE intertrade_totals (
    one       boolean PRIMARY KEY DEFAULT true CONSTRAINT intertrade_totals_one CHECK (one),
    local_sum bigint  NOT NULL DEFAULT 0,
    base_sum  numeric NOT NULL DEFAULT 0
);
INSERT INTO intertrade_totals (one) VALUES (true);

CREATE TABLE intertrade_volume_days (
    day    date    PRIMARY KEY,
    volume numeric NOT NULL DEFAULT 0
);

CREATE FUNCTION intertrade_totals_apply() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    sign int := 0;
BEGIN
    IF NEW.state = 'completed' AND (TG_OP = 'INSERT' OR OLD.state <> 'completed') THEN
        sign := 1;
    ELSIF TG_OP = 'UPDATE' AND OLD.state = 'completed' AND NEW.state <> 'completed' THEN
        sign := -1;
    END IF;
    IF sign <> 0 THEN
        UPDATE intertrade_totals
        SET local_sum = local_sum + sign * CASE NEW.direction WHEN 'out' THEN NEW.amount ELSE -NEW.amount END,
            base_sum = base_sum + sign * CASE NEW.direction WHEN 'out' THEN NEW.quantity ELSE -NEW.quantity END
        WHERE one;
        INSERT INTO intertrade_volume_days AS v (day, volume)
        VALUES ((NEW.created_at AT TIME ZONE 'UTC')::date, sign * NEW.quantity)
        ON CONFLICT (day) DO UPDATE SET volume = v.volume + EXCLUDED.volume;
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER intertrades_totals AFTER INSERT OR UPDATE OF state ON intertrades
    FOR EACH ROW EXECUTE FUNCTION intertrade_totals_apply();

UPDATE intertrade_totals SET
    local_sum = (SELECT coalesce(sum(CASE direction WHEN 'out' THEN amount ELSE -amount END), 0)
                 FROM intertrades WHERE state = 'completed'),
    base_sum = (SELECT coalesce(sum(CASE direction WHEN 'out' THEN quantity ELSE -quantity END), 0)
                FROM intertrades WHERE state = 'completed');
INSERT INTO intertrade_volume_days (day, volume)
SELECT (created_at AT TIME ZONE 'UTC')::date, sum(quantity)
FROM intertrades WHERE state = 'completed' GROUP BY 1;

-- The clearing house's side: per community and UTC day of creation, the
-- base minor units of its posted intertrades, both ways (the volume the
-- intertrading ratio divides by) and how many there were (the handshake's
-- count).
CREATE TABLE clearing_volume_days (
    community_id text   NOT NULL,
    day          date   NOT NULL,
    quantity     bigint NOT NULL DEFAULT 0,
    count        bigint NOT NULL DEFAULT 0,
    CONSTRAINT clearing_volume_days_pkey PRIMARY KEY (community_id, day)
);

CREATE FUNCTION clearing_volume_apply() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    sign int := 0;
BEGIN
    IF NEW.status = 'posted' AND (TG_OP = 'INSERT' OR OLD.status <> 'posted') THEN
        sign := 1;
    ELSIF TG_OP = 'UPDATE' AND OLD.status = 'posted' AND NEW.status <> 'posted' THEN
        sign := -1;
    END IF;
    IF sign <> 0 THEN
        INSERT INTO clearing_volume_days AS v (community_id, day, quantity, count)
        SELECT c, (NEW.created_at AT TIME ZONE 'UTC')::date, sign * NEW.quantity, sign
        FROM unnest(ARRAY[NEW.payer_community, NEW.payee_community]) AS c
        ON CONFLICT ON CONSTRAINT clearing_volume_days_pkey DO UPDATE
            SET quantity = v.quantity + EXCLUDED.quantity, count = v.count + EXCLUDED.count;
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER clearing_intertrades_volume AFTER INSERT OR UPDATE OF status ON clearing_intertrades
    FOR EACH ROW EXECUTE FUNCTION clearing_volume_apply();

INSERT INTO clearing_volume_days (community_id, day, quantity, count)
SELECT c, (created_at AT TIME ZONE 'UTC')::date, sum(quantity), count(*)
FROM clearing_intertrades, unnest(ARRAY[payer_community, payee_community]) AS c
WHERE status = 'posted' GROUP BY 1, 2;

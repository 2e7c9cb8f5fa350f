DROP TABLE deal_deliveries;
DROP TABLE deal_rounds;
UPDATE deal_proposals SET state = 'ended' WHERE state = 'expired';
ALTER TABLE deal_proposals DROP CONSTRAINT deal_proposals_state_check,
    ADD CONSTRAINT deal_proposals_state_check CHECK (state IN ('proposed', 'ready', 'ended'));
DROP INDEX deal_proposals_live_idx;
DROP INDEX announcements_live_offers_idx;

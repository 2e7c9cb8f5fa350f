DROP TABLE deal_proposal_answers;
DROP TABLE member_deal_keys;
DROP TABLE deal_proposal_offers;
DROP TABLE deal_proposals;
DELETE FROM federation_events WHERE type <> 'announcement';
ALTER TABLE federation_events DROP COLUMN type;
DROP TABLE remote_wantlists;
ALTER TABLE announcements DROP CONSTRAINT announcements_money_check,
    DROP COLUMN money, DROP COLUMN remote_money_value, DROP COLUMN remote_money_currency;
DROP TABLE wantlist_entries;

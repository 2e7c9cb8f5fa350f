-- Messages to and from members of peered communities (issue 17, the
-- sxp-fed/1 extension POST /federation/v1/messages). A message between a
-- local member and a member of a peer has that local member on one side
-- (sender_id or recipient_id) and the other as remote ('bob@acorn') with
-- the peer's base URL. uid is the message's id on the wire: a message
-- received twice is stored once. An outgoing remote message is its own
-- outbox entry: delivery is pending until the peer took it (delivered),
-- refused it, with attempts, next_at and last_error as deal_deliveries has.
ALTER TABLE messages
    ALTER COLUMN sender_id DROP NOT NULL,
    ALTER COLUMN recipient_id DROP NOT NULL,
    ADD COLUMN uid          uuid,
    ADD COLUMN remote       text,
    ADD COLUMN peer         text,
    ADD COLUMN offer        text,
    ADD COLUMN delivery     text,
    ADD COLUMN attempts     integer NOT NULL DEFAULT 0,
    ADD COLUMN next_at      timestamptz,
    ADD COLUMN last_try_at  timestamptz,
    ADD COLUMN last_error   text NOT NULL DEFAULT '',
    ADD COLUMN delivered_at timestamptz,
    ADD CONSTRAINT messages_uid_key UNIQUE (uid),
    ADD CONSTRAINT messages_remote_check CHECK (
        (remote IS NULL AND peer IS NULL AND sender_id IS NOT NULL AND recipient_id IS NOT NULL AND delivery IS NULL)
        OR (remote IS NOT NULL AND peer IS NOT NULL AND uid IS NOT NULL
            AND ((sender_id IS NOT NULL AND recipient_id IS NULL AND delivery IS NOT NULL)
              OR (sender_id IS NULL AND recipient_id IS NOT NULL AND delivery IS NULL)))),
    ADD CONSTRAINT messages_delivery_check CHECK (delivery IN ('pending', 'delivered', 'refused')),
    ADD CONSTRAINT messages_remote_length_check CHECK (char_length(remote) BETWEEN 3 AND 300);
CREATE INDEX messages_outbox_idx ON messages (peer, id) WHERE delivery = 'pending';
CREATE INDEX messages_remote_idx ON messages (remote, created_at) WHERE remote IS NOT NULL;

DELETE FROM messages WHERE remote IS NOT NULL;
DROP INDEX messages_remote_idx;
DROP INDEX messages_outbox_idx;
ALTER TABLE messages
    DROP CONSTRAINT messages_remote_length_check,
    DROP CONSTRAINT messages_delivery_check,
    DROP CONSTRAINT messages_remote_check,
    DROP CONSTRAINT messages_uid_key,
    DROP COLUMN delivered_at, DROP COLUMN last_error, DROP COLUMN last_try_at, DROP COLUMN next_at,
    DROP COLUMN attempts, DROP COLUMN delivery, DROP COLUMN offer, DROP COLUMN peer, DROP COLUMN remote,
    DROP COLUMN uid,
    ALTER COLUMN sender_id SET NOT NULL,
    ALTER COLUMN recipient_id SET NOT NULL;

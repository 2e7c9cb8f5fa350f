-- Finding people and offers (issue 17): pictures on profiles and
-- announcements, and messages between members.

-- A picture is stored here, in PostgreSQL, already checked, resized and
-- re-encoded (no metadata survives): pg_dump of the community's database
-- backs pictures up with everything else. A picture belongs to a member
-- (their profile picture: announcement_id NULL) or to one of their
-- announcements; it is deleted with its owner.
CREATE TABLE pictures (
    id              bigserial   PRIMARY KEY,
    member_id       bigint      NOT NULL,
    announcement_id bigint,
    content_type    text        NOT NULL,
    data            bytea       NOT NULL,
    width           integer     NOT NULL,
    height          integer     NOT NULL,
    sha256          bytea       NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT pictures_member_fkey FOREIGN KEY (member_id)
        REFERENCES members (id) ON DELETE CASCADE,
    CONSTRAINT pictures_announcement_fkey FOREIGN KEY (announcement_id)
        REFERENCES announcements (id) ON DELETE CASCADE,
    CONSTRAINT pictures_content_type_check CHECK (content_type IN ('image/jpeg', 'image/png')),
    CONSTRAINT pictures_data_check CHECK (octet_length(data) BETWEEN 1 AND 5242880),
    CONSTRAINT pictures_size_check CHECK (width BETWEEN 1 AND 4096 AND height BETWEEN 1 AND 4096),
    CONSTRAINT pictures_sha256_check CHECK (octet_length(sha256) = 32)
);
-- One profile picture per member, one picture per announcement.
CREATE UNIQUE INDEX pictures_profile_key ON pictures (member_id) WHERE announcement_id IS NULL;
CREATE UNIQUE INDEX pictures_announcement_key ON pictures (announcement_id);

-- Messages between local members, kept on the server. announcement_id is
-- the offer or want a message is about, when it was written from its page.
CREATE TABLE messages (
    id              bigserial   PRIMARY KEY,
    sender_id       bigint      NOT NULL,
    recipient_id    bigint      NOT NULL,
    announcement_id bigint,
    body            text        NOT NULL,
    created_at      timestamptz NOT NULL,
    read_at         timestamptz,
    CONSTRAINT messages_sender_fkey FOREIGN KEY (sender_id)
        REFERENCES members (id) ON DELETE CASCADE,
    CONSTRAINT messages_recipient_fkey FOREIGN KEY (recipient_id)
        REFERENCES members (id) ON DELETE CASCADE,
    CONSTRAINT messages_announcement_fkey FOREIGN KEY (announcement_id)
        REFERENCES announcements (id) ON DELETE SET NULL,
    CONSTRAINT messages_parties_check CHECK (sender_id <> recipient_id),
    CONSTRAINT messages_body_check CHECK (char_length(body) BETWEEN 1 AND 4000)
);
CREATE INDEX messages_recipient_idx ON messages (recipient_id, read_at);
CREATE INDEX messages_pair_idx ON messages (least(sender_id, recipient_id), greatest(sender_id, recipient_id), id);
CREATE INDEX messages_sender_idx ON messages (sender_id, created_at);

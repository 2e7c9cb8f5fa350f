-- Issue 10: the clearing house's admin pages keep a server-side session
-- instead of the admin token in the cookie. The cookie holds a random id;
-- only its SHA-256 is stored, with an expiry; logging out deletes the row.
-- token_name is the stored admin token the session was opened with (NULL
-- for the server's SXP_ADMIN_TOKEN): revoking that token ends the session.
CREATE TABLE clearing_admin_sessions (
    id_hash    bytea       NOT NULL,
    actor      text        NOT NULL,
    token_name text,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    CONSTRAINT clearing_admin_sessions_pkey PRIMARY KEY (id_hash),
    CONSTRAINT clearing_admin_sessions_id_hash_check CHECK (octet_length(id_hash) = 32),
    CONSTRAINT clearing_admin_sessions_expiry_check CHECK (expires_at > created_at)
);
CREATE INDEX clearing_admin_sessions_expires_idx ON clearing_admin_sessions (expires_at);

-- Sign-in sessions: a passkey's sign-in on the hosted page, kept so that a
-- later /authorize of any application of the realm signs in without a new
-- ceremony. The browser holds only a sealed cookie naming the row; every
-- use reads the row, so a session ended on one node is ended on all.
-- A session ends (end_time set) in one statement for every cause (see
-- session.Tx.EndSessions); ended rows are deleted a day later.

-- +goose Up
CREATE TABLE sessions (
    id                   TEXT PRIMARY KEY,
    tenant_id            TEXT NOT NULL,
    realm_id             TEXT NOT NULL,
    identity_id          TEXT NOT NULL, -- no reference: deleting the identity ends the session, which stays a day
    credential_id        TEXT NOT NULL, -- the passkey that signed in
    auth_time            BIGINT NOT NULL,
    amr                  TEXT NOT NULL, -- JSON array of RFC 8176 values
    acr                  TEXT NOT NULL,
    ip                   TEXT NOT NULL,
    user_agent           TEXT NOT NULL,
    idle_timeout         BIGINT NOT NULL, -- microseconds
    create_time          BIGINT NOT NULL,
    last_seen_time       BIGINT NOT NULL,
    idle_expire_time     BIGINT NOT NULL,
    absolute_expire_time BIGINT NOT NULL,
    end_time             BIGINT NOT NULL DEFAULT 0, -- 0 until it ends
    end_reason           TEXT NOT NULL DEFAULT ''
);
CREATE INDEX sessions_identity ON sessions (identity_id);
CREATE INDEX sessions_credential ON sessions (credential_id);
-- Partial: the expiry sweep reads only sessions not ended.
CREATE INDEX sessions_idle_expiry ON sessions (idle_expire_time) WHERE end_time = 0;
CREATE INDEX sessions_absolute_expiry ON sessions (absolute_expire_time) WHERE end_time = 0;
CREATE INDEX sessions_ended ON sessions (end_time) WHERE end_time <> 0;

-- The applications a session signed in to: whom its ending concerns.
CREATE TABLE session_applications (
    session_id     TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    application_id TEXT NOT NULL, -- no reference: a deleted application's row goes with its session
    first_time     BIGINT NOT NULL,
    last_time      BIGINT NOT NULL,
    PRIMARY KEY (session_id, application_id)
);

-- A realm's session lifetimes in seconds; 0 is the default (session.Default*).
ALTER TABLE realms ADD COLUMN session_idle_timeout BIGINT NOT NULL DEFAULT 0;
ALTER TABLE realms ADD COLUMN session_lifetime BIGINT NOT NULL DEFAULT 0;

-- What a sign-in's ID token says of its session: sid, amr, acr.
ALTER TABLE auth_requests ADD COLUMN session_id TEXT NOT NULL DEFAULT '';
ALTER TABLE auth_requests ADD COLUMN amr TEXT NOT NULL DEFAULT '[]';
ALTER TABLE auth_requests ADD COLUMN acr TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE auth_requests DROP COLUMN acr;
ALTER TABLE auth_requests DROP COLUMN amr;
ALTER TABLE auth_requests DROP COLUMN session_id;
ALTER TABLE realms DROP COLUMN session_lifetime;
ALTER TABLE realms DROP COLUMN session_idle_timeout;
DROP TABLE session_applications;
DROP TABLE sessions;

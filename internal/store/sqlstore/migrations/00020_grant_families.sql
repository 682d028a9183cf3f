-- Grant families: what every token of one sign-in descends from. Redeeming
-- a code starts a family; each refresh continues it. Revoking a family (a
-- replayed code, a reused or revoked refresh token, a revoked passkey, a
-- suspended or deleted identity) deletes its row with every token record
-- and refresh token of it, in one transaction, so the tokens die on every
-- node at once. A refresh stores its tokens only while its family's row
-- exists (the row lock orders it against a concurrent revocation).

-- +goose Up
CREATE TABLE grant_families (
    id             TEXT PRIMARY KEY, -- the sign-in's id; refresh_tokens.family_id
    tenant_id      TEXT NOT NULL,
    realm_id       TEXT NOT NULL,
    application_id TEXT NOT NULL, -- no reference: a refresh for a deleted application fails on its tokens' (invalid_client)
    identity_id    TEXT NOT NULL,
    credential_id  TEXT NOT NULL, -- the passkey that signed in; '' for families older than this table
    create_time    BIGINT NOT NULL,
    expire_time    BIGINT NOT NULL -- when its last token or refresh token expires
);
CREATE INDEX grant_families_identity ON grant_families (identity_id);
CREATE INDEX grant_families_credential ON grant_families (credential_id);
CREATE INDEX grant_families_expiry ON grant_families (expire_time);

ALTER TABLE tokens ADD COLUMN family_id TEXT NOT NULL DEFAULT ''; -- '' for client credentials
-- Partial: client credentials, the most tokens, pay nothing for it.
CREATE INDEX tokens_family ON tokens (family_id) WHERE family_id <> '';

-- The refresh families of before get their row, so that they keep working.
INSERT INTO grant_families (id, tenant_id, realm_id, application_id, identity_id, credential_id, create_time, expire_time)
SELECT family_id, MIN(tenant_id), MIN(realm_id), MIN(application_id), MIN(identity_id), '', MIN(create_time), MAX(expire_time)
FROM refresh_tokens WHERE application_id IN (SELECT id FROM applications) GROUP BY family_id;

-- A replayed code revokes its family; the list of what it bought is not needed.
ALTER TABLE auth_requests DROP COLUMN token_ids;

-- +goose Down
ALTER TABLE auth_requests ADD COLUMN token_ids TEXT NOT NULL DEFAULT '[]';
DROP INDEX tokens_family;
ALTER TABLE tokens DROP COLUMN family_id;
DROP TABLE grant_families;

-- Refresh tokens, rotated on every use; a family is every token that one
-- sign-in's first refresh token led to, revoked whole when one is reused.

-- +goose Up
CREATE TABLE refresh_tokens (
    token_hash     TEXT PRIMARY KEY, -- SHA-256 of the token, hex
    family_id      TEXT NOT NULL,
    tenant_id      TEXT NOT NULL,
    realm_id       TEXT NOT NULL,
    application_id TEXT NOT NULL,
    identity_id    TEXT NOT NULL,
    scope          TEXT NOT NULL,
    auth_time      BIGINT NOT NULL,
    used           BOOLEAN NOT NULL,
    create_time    BIGINT NOT NULL,
    expire_time    BIGINT NOT NULL
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_expiry ON refresh_tokens (expire_time);

-- +goose Down
DROP TABLE refresh_tokens;

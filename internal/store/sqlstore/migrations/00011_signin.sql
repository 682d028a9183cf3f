-- Sign-in: authorization requests of the OAuth/OIDC provider, from
-- /authorize to the code's redemption, kept in the database so that a
-- sign-in begun on one node can finish on another.

-- +goose Up
CREATE TABLE auth_requests (
    id                    TEXT PRIMARY KEY,
    tenant_id             TEXT NOT NULL,
    realm_id              TEXT NOT NULL,
    application_id        TEXT NOT NULL,
    params                TEXT NOT NULL, -- JSON: redirect_uri, scope, state, nonce, PKCE, login_hint
    challenge             TEXT NOT NULL, -- the WebAuthn challenge, base64url
    identity_id           TEXT NOT NULL, -- "" until a passkey signed in
    credential_id         TEXT NOT NULL,
    auth_time             BIGINT NOT NULL,
    code_hash             TEXT NOT NULL, -- SHA-256 of the code, hex; "" until issued
    code_used             BOOLEAN NOT NULL,
    token_ids             TEXT NOT NULL, -- JSON: the tokens the code bought, revoked if it is replayed
    create_time           BIGINT NOT NULL,
    expire_time           BIGINT NOT NULL
);
CREATE INDEX auth_requests_code ON auth_requests (code_hash);
CREATE INDEX auth_requests_expiry ON auth_requests (expire_time);

-- A WebAuthn credential is found by its credential id when it signs in.
ALTER TABLE credentials ADD COLUMN webauthn_id TEXT NOT NULL DEFAULT '';
CREATE INDEX credentials_webauthn_id ON credentials (realm_id, webauthn_id);

-- +goose Down
DROP INDEX credentials_webauthn_id;
ALTER TABLE credentials DROP COLUMN webauthn_id;
DROP TABLE auth_requests;

-- Authorizations pending at an upstream OpenID Connect identity provider
-- (issue 20): a browser sent to a generic_oidc_idp or okta_idp SSO config's
-- provider to sign in, or to an identity provider (oidc_idp) to be vouched
-- for before a binding link binds a passkey. The row lets any node take the
-- callback: it is found by the hash of the state the upstream sends back,
-- and taken (deleted) once. The browser that started holds a cookie whose
-- hash is browser_hash. Same conventions as 00001: TEXT, BIGINT only;
-- times are Unix microseconds (UTC).

-- +goose Up
CREATE TABLE upstream_authorizations (
    id             TEXT PRIMARY KEY, -- hex SHA-256 of the state
    tenant_id      TEXT NOT NULL,
    realm_id       TEXT NOT NULL REFERENCES realms (id) ON DELETE CASCADE,
    kind           TEXT NOT NULL, -- 'sso-configs' or 'identity-providers'
    provider_id    TEXT NOT NULL, -- the SSO config's or identity provider's id
    nonce          TEXT NOT NULL,
    code_verifier  TEXT NOT NULL, -- PKCE; '' when the provider does not use it
    browser_hash   TEXT NOT NULL, -- hex SHA-256 of the browser's cookie
    application_id TEXT NOT NULL, -- a sign-in's application and request ('' for a binding)
    request_id     TEXT NOT NULL,
    identity_id    TEXT NOT NULL, -- a binding's identity, job and link token ('' for a sign-in)
    job_id         TEXT NOT NULL,
    link_token     TEXT NOT NULL, -- sealed (secretbox)
    create_time    BIGINT NOT NULL,
    expire_time    BIGINT NOT NULL
);
CREATE INDEX upstream_authorizations_expire ON upstream_authorizations (expire_time);

-- +goose Down
DROP TABLE upstream_authorizations;

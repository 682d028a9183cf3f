-- SAML 2.0 identity provider (internal/saml). Same conventions as 00001:
-- TEXT, BIGINT only; times are Unix microseconds (UTC).

-- +goose Up
-- A realm's SAML signing certificates: an RSA key (sealed by the master
-- key, secretbox) and its self-signed X.509 certificate (DER, base64). The
-- one that signs is the newest whose activate_time has come; a newer one
-- is published in the metadata before it signs, the one before it for a
-- while after (rotation without downtime). Unique activate_time per realm:
-- of two nodes making a realm's first certificate at once, one wins.
CREATE TABLE saml_certificates (
    id                 TEXT PRIMARY KEY,
    tenant_id          TEXT NOT NULL,
    realm_id           TEXT NOT NULL REFERENCES realms (id) ON DELETE CASCADE,
    certificate        TEXT NOT NULL,
    private_key_sealed TEXT NOT NULL,
    activate_time      BIGINT NOT NULL,
    create_time        BIGINT NOT NULL,
    UNIQUE (realm_id, activate_time)
);

-- SAML sign-ins: one row per AuthnRequest accepted (its ID unique per
-- service provider: a replayed request is refused on every node) and per
-- IdP-initiated sign-in. A row waits, with the WebAuthn challenge, for a
-- passkey to sign in on the hosted page, then is spent; it stays until
-- expire_time so that the request's ID stays used.
CREATE TABLE saml_requests (
    id           TEXT PRIMARY KEY,
    tenant_id    TEXT NOT NULL,
    realm_id     TEXT NOT NULL REFERENCES realms (id) ON DELETE CASCADE,
    config_id    TEXT NOT NULL,
    request_id   TEXT NOT NULL, -- the AuthnRequest's ID; the row's id for an IdP-initiated sign-in
    acs_url      TEXT NOT NULL,
    relay_state  TEXT NOT NULL,
    challenge    TEXT NOT NULL,
    force_authn  BIGINT NOT NULL,
    spent        BIGINT NOT NULL,
    create_time  BIGINT NOT NULL,
    expire_time  BIGINT NOT NULL,
    UNIQUE (config_id, request_id)
);
CREATE INDEX saml_requests_expire ON saml_requests (expire_time);

-- +goose Down
DROP TABLE saml_requests;
DROP TABLE saml_certificates;

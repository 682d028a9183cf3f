-- Passkey enrollment: authenticator configs, credential binding jobs and
-- the credentials (passkeys) they bind. Conventions as in 00001.

-- +goose Up
CREATE TABLE authenticator_configs (
    id           TEXT PRIMARY KEY,
    realm_id     TEXT NOT NULL REFERENCES realms (id),
    tenant_id    TEXT NOT NULL,
    display_name TEXT NOT NULL,
    config       TEXT NOT NULL, -- JSON, the API's config object
    create_time  BIGINT NOT NULL,
    update_time  BIGINT NOT NULL
);
CREATE INDEX authenticator_configs_realm ON authenticator_configs (realm_id, id);

CREATE TABLE credentials (
    id              TEXT PRIMARY KEY,
    identity_id     TEXT NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
    realm_id        TEXT NOT NULL,
    tenant_id       TEXT NOT NULL,
    state           TEXT NOT NULL,
    csr_type        TEXT NOT NULL,
    jwk_json        TEXT NOT NULL,
    jwk_thumbprint  TEXT NOT NULL,
    webauthn        TEXT NOT NULL, -- JSON: credential id, COSE key, sign count, AAGUID, flags, transports; "" for JWT
    create_time     BIGINT NOT NULL,
    update_time     BIGINT NOT NULL
);
CREATE INDEX credentials_identity ON credentials (identity_id, id);
CREATE INDEX credentials_realm ON credentials (realm_id, id);
CREATE UNIQUE INDEX credentials_thumbprint ON credentials (realm_id, jwk_thumbprint);

CREATE TABLE credential_binding_jobs (
    id                        TEXT PRIMARY KEY,
    identity_id               TEXT NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
    realm_id                  TEXT NOT NULL,
    tenant_id                 TEXT NOT NULL,
    credential_id             TEXT NOT NULL,
    batch_id                  TEXT NOT NULL,
    delivery_method           TEXT NOT NULL,
    state                     TEXT NOT NULL,
    post_binding_redirect_uri TEXT NOT NULL,
    authenticator_config_id   TEXT NOT NULL,
    authenticator_config      TEXT NOT NULL, -- JSON of an inline config, or ""
    token_hash                TEXT NOT NULL, -- SHA-256 of the link's token, hex; "" once spent
    expire_time               BIGINT NOT NULL,
    create_time               BIGINT NOT NULL,
    update_time               BIGINT NOT NULL
);
CREATE INDEX credential_binding_jobs_identity ON credential_binding_jobs (identity_id, id);
CREATE INDEX credential_binding_jobs_realm ON credential_binding_jobs (realm_id, id);
CREATE INDEX credential_binding_jobs_config ON credential_binding_jobs (authenticator_config_id, state);
CREATE INDEX credential_binding_jobs_open ON credential_binding_jobs (state, expire_time);

-- Kept in step with credentials and jobs by the passkey service, so that
-- lists of identities need no joins to show it.
ALTER TABLE identities ADD COLUMN enrollment_status TEXT NOT NULL DEFAULT 'UNENROLLED';

-- +goose Down
ALTER TABLE identities DROP COLUMN enrollment_status;
DROP TABLE credential_binding_jobs;
DROP TABLE credentials;
DROP TABLE authenticator_configs;

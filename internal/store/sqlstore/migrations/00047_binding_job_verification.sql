-- A credential binding job may ask an identity provider (oidc_idp) to vouch
-- for its identity before its link binds a passkey (issue 20):
-- verification is the job's verification_details as JSON ('' for none),
-- verify_time when the provider vouched (0 not yet).

-- +goose Up
ALTER TABLE credential_binding_jobs ADD COLUMN verification TEXT NOT NULL DEFAULT '';
ALTER TABLE credential_binding_jobs ADD COLUMN verify_time BIGINT NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE credential_binding_jobs DROP COLUMN verify_time;
ALTER TABLE credential_binding_jobs DROP COLUMN verification;

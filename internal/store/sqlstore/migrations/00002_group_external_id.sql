-- SCIM clients (Okta, Entra ID) give groups an externalId of their own.

-- +goose Up
ALTER TABLE user_groups ADD COLUMN external_id TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE user_groups DROP COLUMN external_id;

-- The authenticator config an application signs its users in with.

-- +goose Up
ALTER TABLE applications ADD COLUMN authenticator_config_id TEXT NOT NULL DEFAULT '';
CREATE INDEX applications_authenticator_config ON applications (authenticator_config_id);
CREATE INDEX resource_servers_realm ON resource_servers (realm_id, id);

-- +goose Down
DROP INDEX resource_servers_realm;
DROP INDEX applications_authenticator_config;
ALTER TABLE applications DROP COLUMN authenticator_config_id;

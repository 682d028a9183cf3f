-- Events say who signed in where (sign-in events tied by correlation_id),
-- name their actor and resource as they were at that moment, and say what
-- an update changed (JSON: field -> {"old","new"}, or {"redacted":true}
-- for a secret). Filters use the indexed columns; the list pages by id
-- (time order), so each index ends with id.

-- +goose Up
ALTER TABLE events ADD COLUMN correlation_id TEXT NOT NULL DEFAULT '';
ALTER TABLE events ADD COLUMN identity_id TEXT NOT NULL DEFAULT '';
ALTER TABLE events ADD COLUMN application_id TEXT NOT NULL DEFAULT '';
ALTER TABLE events ADD COLUMN credential_id TEXT NOT NULL DEFAULT '';
ALTER TABLE events ADD COLUMN user_agent TEXT NOT NULL DEFAULT '';
ALTER TABLE events ADD COLUMN outcome TEXT NOT NULL DEFAULT '';
ALTER TABLE events ADD COLUMN reason TEXT NOT NULL DEFAULT '';
ALTER TABLE events ADD COLUMN grant_type TEXT NOT NULL DEFAULT '';
ALTER TABLE events ADD COLUMN actor_display_name TEXT NOT NULL DEFAULT '';
ALTER TABLE events ADD COLUMN resource_display_name TEXT NOT NULL DEFAULT '';
ALTER TABLE events ADD COLUMN changes TEXT NOT NULL DEFAULT '';
CREATE INDEX events_action ON events (tenant_id, realm_id, action, id);
CREATE INDEX events_identity ON events (tenant_id, identity_id, id);
CREATE INDEX events_application ON events (tenant_id, application_id, id);
CREATE INDEX events_correlation ON events (tenant_id, correlation_id, id);
CREATE INDEX events_client_ip ON events (tenant_id, client_ip, id);

-- +goose Down
DROP INDEX events_client_ip;
DROP INDEX events_correlation;
DROP INDEX events_application;
DROP INDEX events_identity;
DROP INDEX events_action;
ALTER TABLE events DROP COLUMN changes;
ALTER TABLE events DROP COLUMN resource_display_name;
ALTER TABLE events DROP COLUMN actor_display_name;
ALTER TABLE events DROP COLUMN grant_type;
ALTER TABLE events DROP COLUMN reason;
ALTER TABLE events DROP COLUMN outcome;
ALTER TABLE events DROP COLUMN user_agent;
ALTER TABLE events DROP COLUMN credential_id;
ALTER TABLE events DROP COLUMN application_id;
ALTER TABLE events DROP COLUMN identity_id;
ALTER TABLE events DROP COLUMN correlation_id;

-- Bulk actions on identities (suspend, activate, delete, add to a group,
-- send a binding e-mail) are import jobs whose file is the identities'
-- ids: the same queue, leases, progress and failures. action is '' for a
-- CSV import; group_id is the group of add_to_group.

-- +goose Up
ALTER TABLE import_jobs ADD COLUMN action TEXT NOT NULL DEFAULT '';
ALTER TABLE import_jobs ADD COLUMN group_id TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE import_jobs DROP COLUMN group_id;
ALTER TABLE import_jobs DROP COLUMN action;

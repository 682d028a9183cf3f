-- Identities are searched by username, e-mail address or display name
-- prefix and listed in that order, ids breaking ties: indexes in exactly
-- that order answer a search's first page without sorting the matches.
-- (Version 16 is PostgreSQL's own migration, in internal/store/postgres.)

-- +goose Up
DROP INDEX identities_email;
CREATE INDEX identities_email ON identities (realm_id, email_key, id);
CREATE INDEX identities_display_name ON identities (realm_id, display_name_key, id);

-- +goose Down
DROP INDEX identities_display_name;
DROP INDEX identities_email;
CREATE INDEX identities_email ON identities (realm_id, email_key);

-- Passkeys get a name their holder or an administrator gives them, and
-- remember when (microseconds, 0 for never) and from which user agent they
-- last signed in. The sign-in path writes the last use at most once a
-- minute per passkey (the passkey service decides).

-- +goose Up
ALTER TABLE credentials ADD COLUMN display_name TEXT NOT NULL DEFAULT '';
ALTER TABLE credentials ADD COLUMN last_used_time BIGINT NOT NULL DEFAULT 0;
ALTER TABLE credentials ADD COLUMN last_used_user_agent TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE credentials DROP COLUMN last_used_user_agent;
ALTER TABLE credentials DROP COLUMN last_used_time;
ALTER TABLE credentials DROP COLUMN display_name;

-- Refresh tokens remember how their sign-in happened, so that an ID token
-- issued by a refresh carries the same sid, amr and acr as the first one
-- (OpenID Connect Core §12.2; Back-Channel Logout §2.1 matches on sid).
-- Tokens stored before have none ('' and '[]'), as before.

-- +goose Up
ALTER TABLE refresh_tokens ADD COLUMN sid TEXT NOT NULL DEFAULT '';
ALTER TABLE refresh_tokens ADD COLUMN amr TEXT NOT NULL DEFAULT '[]'; -- JSON array, as sessions.amr
ALTER TABLE refresh_tokens ADD COLUMN acr TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE refresh_tokens DROP COLUMN acr;
ALTER TABLE refresh_tokens DROP COLUMN amr;
ALTER TABLE refresh_tokens DROP COLUMN sid;

-- Refresh tokens with an absolute lifetime: every refresh token of a sign-in
-- stops working at its family's deadline, set when the code is redeemed
-- (the application's refresh_token_configuration.absolute_lifetime) and
-- inherited by rotated tokens. 0: no deadline (and every older token).

-- +goose Up
ALTER TABLE refresh_tokens ADD COLUMN deadline BIGINT NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE refresh_tokens DROP COLUMN deadline;

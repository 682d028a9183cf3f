-- Referential (opaque) access tokens: the record keeps the claims the
-- token stands for, which introspection and userinfo read; a
-- self-contained token's record keeps none (its JWT carries them).

-- +goose Up
ALTER TABLE tokens ADD COLUMN claims TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE tokens DROP COLUMN claims;

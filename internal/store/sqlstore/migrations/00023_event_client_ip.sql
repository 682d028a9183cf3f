-- Events record the IP address of the client that made the change (the
-- TCP peer, or what a trusted proxy's X-Forwarded-For says).

-- +goose Up
ALTER TABLE events ADD COLUMN client_ip TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE events DROP COLUMN client_ip;

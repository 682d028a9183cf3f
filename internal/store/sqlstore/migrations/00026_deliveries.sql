-- The outbox of HTTP deliveries (back-channel logout tokens now, webhooks
-- later). Same conventions as 00001: TEXT, BIGINT only; times are Unix
-- microseconds (UTC).

-- +goose Up
-- A delivery outlives what it is about (the ended session, the deleted
-- application): no foreign keys. A worker leases a delivery (lease_owner,
-- lease_until) while it sends it; target is the URL's scheme and host, so
-- that a worker can leave aside the targets it already waits on.
CREATE TABLE deliveries (
    id                TEXT PRIMARY KEY,
    tenant_id         TEXT NOT NULL,
    realm_id          TEXT NOT NULL,
    kind              TEXT NOT NULL,
    ref               TEXT NOT NULL,
    url               TEXT NOT NULL,
    target            TEXT NOT NULL,
    payload           TEXT NOT NULL,
    state             TEXT NOT NULL, -- pending, delivered, failed
    attempts          BIGINT NOT NULL,
    last_status       BIGINT NOT NULL, -- the HTTP status of the last answer; 0 for none
    last_error        TEXT NOT NULL,
    last_attempt_time BIGINT NOT NULL, -- 0 before the first attempt
    next_attempt_time BIGINT NOT NULL,
    lease_owner       TEXT,
    lease_until       BIGINT,
    create_time       BIGINT NOT NULL,
    update_time       BIGINT NOT NULL
);
CREATE INDEX deliveries_due ON deliveries (state, next_attempt_time);

-- +goose Down
DROP TABLE deliveries;

-- Webhooks: a realm's subscriptions to its events, delivered through the
-- outbox (00026) signed in the Standard Webhooks format. Same conventions as
-- 00001: TEXT, BIGINT only; times are Unix microseconds (UTC).

-- +goose Up
-- secret_sealed is the signing secret sealed by the master key (secretbox):
-- it must be read back to sign, so it is encrypted, not hashed.
CREATE TABLE webhooks (
    id            TEXT PRIMARY KEY,
    tenant_id     TEXT NOT NULL,
    realm_id      TEXT NOT NULL REFERENCES realms (id) ON DELETE CASCADE,
    display_name  TEXT NOT NULL,
    url           TEXT NOT NULL,
    event_types   TEXT NOT NULL, -- JSON array: actions, or prefixes ending in ".*", or "*"
    enabled       BIGINT NOT NULL,
    failing       BIGINT NOT NULL, -- 1 after a delivery failed for good, until re-enabled
    secret_sealed TEXT NOT NULL,
    create_time   BIGINT NOT NULL,
    update_time   BIGINT NOT NULL
);
CREATE INDEX webhooks_realm ON webhooks (realm_id);
-- A webhook's delivery log: deliveries whose ref is 'webhook:<id>'.
CREATE INDEX deliveries_ref ON deliveries (ref, create_time);

-- +goose Down
DROP INDEX deliveries_ref;
DROP TABLE webhooks;

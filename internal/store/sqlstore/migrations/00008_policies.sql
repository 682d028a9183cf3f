-- Access policy: per realm, ordered rules deciding which identities may
-- use which applications.

-- +goose Up
CREATE TABLE policies (
    realm_id       TEXT PRIMARY KEY REFERENCES realms (id) ON DELETE CASCADE,
    tenant_id      TEXT NOT NULL,
    rules          TEXT NOT NULL, -- JSON array
    default_effect TEXT NOT NULL,
    update_time    BIGINT NOT NULL
);

-- +goose Down
DROP TABLE policies;

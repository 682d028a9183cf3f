-- Nodes record themselves while they serve, so that `latchkey migrate
-- --check` can tell which versions share the database. schema_contracts
-- holds the version of every contract migration (one that drops or renames
-- what an older release reads; each inserts its own version): a node whose
-- binary knows fewer migrations than the newest contract refuses to start.

-- +goose Up
CREATE TABLE nodes (
    id             TEXT PRIMARY KEY,
    version        TEXT NOT NULL, -- the binary's
    schema_version BIGINT NOT NULL, -- the newest migration the binary knows
    host           TEXT NOT NULL,
    start_time     BIGINT NOT NULL,
    seen_time      BIGINT NOT NULL
);

CREATE TABLE schema_contracts (
    version BIGINT PRIMARY KEY
);

-- +goose Down
DROP TABLE schema_contracts;
DROP TABLE nodes;

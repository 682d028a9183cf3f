-- One schema for both engines: only types that SQLite and PostgreSQL read
-- alike (TEXT, BIGINT, BOOLEAN). Times are Unix microseconds (UTC). Columns
-- named *_key hold the case-folded copy of a case-insensitive value, computed
-- by Latchkey, so that uniqueness and filters agree on both engines.

-- +goose Up
CREATE TABLE settings (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE tenants (
    id           TEXT PRIMARY KEY,
    display_name TEXT NOT NULL,
    create_time  BIGINT NOT NULL,
    update_time  BIGINT NOT NULL
);

CREATE TABLE realms (
    id               TEXT PRIMARY KEY,
    tenant_id        TEXT NOT NULL REFERENCES tenants (id),
    display_name     TEXT NOT NULL,
    display_name_key TEXT NOT NULL,
    classification   TEXT NOT NULL,
    create_time      BIGINT NOT NULL,
    update_time      BIGINT NOT NULL
);
CREATE UNIQUE INDEX realms_name ON realms (tenant_id, display_name_key);

CREATE TABLE identities (
    id               TEXT PRIMARY KEY,
    realm_id         TEXT NOT NULL REFERENCES realms (id),
    tenant_id        TEXT NOT NULL,
    display_name     TEXT NOT NULL,
    display_name_key TEXT NOT NULL,
    status           TEXT NOT NULL,
    username_key     TEXT NOT NULL,
    email_key        TEXT NOT NULL,
    external_id      TEXT NOT NULL,
    traits           TEXT NOT NULL, -- JSON, the API's traits object
    create_time      BIGINT NOT NULL,
    update_time      BIGINT NOT NULL
);
CREATE UNIQUE INDEX identities_username ON identities (realm_id, username_key);
CREATE INDEX identities_realm ON identities (realm_id, id);
CREATE INDEX identities_email ON identities (realm_id, email_key);
CREATE INDEX identities_external_id ON identities (realm_id, external_id);

-- Identities per realm, spread over shards so that concurrent creates do
-- not all wait for one row; total_size of an unfiltered list is their sum.
CREATE TABLE identity_counts (
    realm_id TEXT NOT NULL REFERENCES realms (id) ON DELETE CASCADE,
    shard    INTEGER NOT NULL,
    n        BIGINT NOT NULL,
    PRIMARY KEY (realm_id, shard)
);

CREATE TABLE user_groups (
    id               TEXT PRIMARY KEY,
    realm_id         TEXT NOT NULL REFERENCES realms (id),
    tenant_id        TEXT NOT NULL,
    display_name     TEXT NOT NULL,
    display_name_key TEXT NOT NULL,
    description      TEXT NOT NULL,
    create_time      BIGINT NOT NULL,
    update_time      BIGINT NOT NULL
);
CREATE UNIQUE INDEX user_groups_name ON user_groups (realm_id, display_name_key);
CREATE INDEX user_groups_realm ON user_groups (realm_id, id);

CREATE TABLE memberships (
    group_id    TEXT NOT NULL REFERENCES user_groups (id),
    identity_id TEXT NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
    PRIMARY KEY (group_id, identity_id)
);
CREATE INDEX memberships_identity ON memberships (identity_id, group_id);

CREATE TABLE resource_servers (
    id           TEXT PRIMARY KEY,
    realm_id     TEXT NOT NULL REFERENCES realms (id),
    tenant_id    TEXT NOT NULL,
    display_name TEXT NOT NULL,
    is_managed   BOOLEAN NOT NULL,
    identifier   TEXT NOT NULL,
    scopes       TEXT NOT NULL, -- JSON array
    create_time  BIGINT NOT NULL,
    update_time  BIGINT NOT NULL
);
CREATE UNIQUE INDEX resource_servers_identifier ON resource_servers (realm_id, identifier);

CREATE TABLE applications (
    id                   TEXT PRIMARY KEY,
    realm_id             TEXT NOT NULL REFERENCES realms (id),
    tenant_id            TEXT NOT NULL,
    resource_server_id   TEXT REFERENCES resource_servers (id),
    display_name         TEXT NOT NULL,
    is_managed           BOOLEAN NOT NULL,
    classification       TEXT NOT NULL,
    client_id            TEXT NOT NULL UNIQUE,
    client_secret_sealed TEXT NOT NULL, -- '' for public clients
    protocol_config      TEXT NOT NULL, -- JSON, without the secret
    create_time          BIGINT NOT NULL,
    update_time          BIGINT NOT NULL
);
CREATE INDEX applications_realm ON applications (realm_id, id);

CREATE TABLE tokens (
    id             TEXT PRIMARY KEY, -- the JWT's jti
    tenant_id      TEXT NOT NULL,
    realm_id       TEXT NOT NULL,
    application_id TEXT NOT NULL REFERENCES applications (id) ON DELETE CASCADE,
    principal_type TEXT NOT NULL,
    principal_id   TEXT NOT NULL,
    display_name   TEXT NOT NULL,
    scopes         TEXT NOT NULL, -- space-separated
    token_suffix   TEXT NOT NULL,
    token_format   TEXT NOT NULL,
    token_type     TEXT NOT NULL,
    issued_at      BIGINT NOT NULL, -- Unix seconds, as the API shows them
    expires        BIGINT NOT NULL
);
CREATE INDEX tokens_application ON tokens (application_id, id);
CREATE INDEX tokens_expires ON tokens (expires);

CREATE TABLE signing_keys (
    id                 TEXT PRIMARY KEY,
    algorithm          TEXT NOT NULL,
    private_key_sealed TEXT NOT NULL,
    create_time        BIGINT NOT NULL
);

-- Events outlive what they describe: no foreign keys.
CREATE TABLE events (
    id            TEXT PRIMARY KEY, -- sorts by time
    tenant_id     TEXT NOT NULL,
    realm_id      TEXT NOT NULL,
    actor_type    TEXT NOT NULL,
    actor_id      TEXT NOT NULL,
    action        TEXT NOT NULL,
    resource_type TEXT NOT NULL,
    resource_id   TEXT NOT NULL,
    request_id    TEXT NOT NULL,
    create_time   BIGINT NOT NULL
);
CREATE INDEX events_realm ON events (tenant_id, realm_id, id);

-- +goose Down
DROP TABLE events;
DROP TABLE signing_keys;
DROP TABLE tokens;
DROP TABLE applications;
DROP TABLE resource_servers;
DROP TABLE memberships;
DROP TABLE user_groups;
DROP TABLE identity_counts;
DROP TABLE identities;
DROP TABLE realms;
DROP TABLE tenants;
DROP TABLE settings;

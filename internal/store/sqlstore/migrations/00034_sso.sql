-- Workforce single sign-on (issue 20): SSO configs and their assignments to
-- identities and groups, upstream identity providers, and the launch
-- mechanisms (flow types) of each realm. Same conventions as 00001: TEXT,
-- BIGINT only; times are Unix microseconds (UTC).

-- +goose Up
-- payload is the config's typed payload as JSON, without its secret;
-- secret_sealed is that secret (an upstream client secret, an Okta API
-- token) sealed by the master key (secretbox), '' for none. A config that
-- signs in like an application (generic_oidc, okta_sso_bi_idp,
-- entra_id_external_auth_methods) names it in application_id ('' for none).
-- A realm with SSO configs cannot be deleted (no cascade), as with its
-- identities.
CREATE TABLE sso_configs (
    id             TEXT PRIMARY KEY,
    tenant_id      TEXT NOT NULL,
    realm_id       TEXT NOT NULL REFERENCES realms (id),
    display_name   TEXT NOT NULL,
    type           TEXT NOT NULL,
    is_migrated    BIGINT NOT NULL,
    payload        TEXT NOT NULL,
    secret_sealed  TEXT NOT NULL,
    application_id TEXT NOT NULL,
    create_time    BIGINT NOT NULL,
    update_time    BIGINT NOT NULL
);
CREATE INDEX sso_configs_realm ON sso_configs (realm_id, id);
CREATE INDEX sso_configs_application ON sso_configs (application_id);

-- Assignments: deleting an identity, a group or the config removes them.
CREATE TABLE sso_config_identities (
    sso_config_id TEXT NOT NULL REFERENCES sso_configs (id) ON DELETE CASCADE,
    identity_id   TEXT NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
    PRIMARY KEY (sso_config_id, identity_id)
);
CREATE INDEX sso_config_identities_identity ON sso_config_identities (identity_id, sso_config_id);

CREATE TABLE sso_config_groups (
    sso_config_id TEXT NOT NULL REFERENCES sso_configs (id) ON DELETE CASCADE,
    group_id      TEXT NOT NULL REFERENCES user_groups (id) ON DELETE CASCADE,
    PRIMARY KEY (sso_config_id, group_id)
);
CREATE INDEX sso_config_groups_group ON sso_config_groups (group_id, sso_config_id);

-- protocol_config is the JSON of the oidc_idp protocol config without its
-- client secret, which client_secret_sealed holds (secretbox).
CREATE TABLE identity_providers (
    id                   TEXT PRIMARY KEY,
    tenant_id            TEXT NOT NULL,
    realm_id             TEXT NOT NULL REFERENCES realms (id),
    display_name         TEXT NOT NULL,
    protocol_config      TEXT NOT NULL,
    client_secret_sealed TEXT NOT NULL,
    create_time          BIGINT NOT NULL,
    update_time          BIGINT NOT NULL
);
CREATE INDEX identity_providers_realm ON identity_providers (realm_id, id);

-- One launch-mechanism configuration per realm, made with its defaults when
-- first read; platform_config is the JSON of the API's PlatformFlowTypeConfig.
CREATE TABLE flow_type_configs (
    realm_id        TEXT PRIMARY KEY REFERENCES realms (id) ON DELETE CASCADE,
    id              TEXT NOT NULL,
    tenant_id       TEXT NOT NULL,
    platform_config TEXT NOT NULL,
    create_time     BIGINT NOT NULL,
    update_time     BIGINT NOT NULL
);

-- +goose Down
DROP TABLE flow_type_configs;
DROP TABLE identity_providers;
DROP TABLE sso_config_groups;
DROP TABLE sso_config_identities;
DROP TABLE sso_configs;

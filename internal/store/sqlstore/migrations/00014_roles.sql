-- Roles: sets of a resource server's scopes, given to identities and groups.
-- A role's scopes and members refer to it without cascading, so that
-- deleting a role that still has any fails (the API's "role has children"),
-- and roles refer to their resource server so that it cannot be deleted
-- while it has roles.

-- +goose Up
CREATE TABLE roles (
    id                 TEXT PRIMARY KEY,
    resource_server_id TEXT NOT NULL REFERENCES resource_servers (id),
    realm_id           TEXT NOT NULL,
    tenant_id          TEXT NOT NULL,
    display_name       TEXT NOT NULL,
    description        TEXT NOT NULL,
    create_time        BIGINT NOT NULL,
    update_time        BIGINT NOT NULL
);
CREATE INDEX roles_resource_server ON roles (resource_server_id, id);

CREATE TABLE role_scopes (
    role_id TEXT NOT NULL REFERENCES roles (id),
    scope   TEXT NOT NULL,
    PRIMARY KEY (role_id, scope)
);

CREATE TABLE role_identities (
    role_id     TEXT NOT NULL REFERENCES roles (id),
    identity_id TEXT NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
    PRIMARY KEY (role_id, identity_id)
);
CREATE INDEX role_identities_identity ON role_identities (identity_id, role_id);

CREATE TABLE role_groups (
    role_id  TEXT NOT NULL REFERENCES roles (id),
    group_id TEXT NOT NULL REFERENCES user_groups (id) ON DELETE CASCADE,
    PRIMARY KEY (role_id, group_id)
);
CREATE INDEX role_groups_group ON role_groups (group_id, role_id);

-- +goose Down
DROP TABLE role_groups;
DROP TABLE role_identities;
DROP TABLE role_scopes;
DROP TABLE roles;

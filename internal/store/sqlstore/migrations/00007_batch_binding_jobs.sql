-- Batch credential binding jobs: one job per identity, made in the
-- background by whichever node holds the batch's lease.

-- +goose Up
CREATE TABLE batch_credential_binding_jobs (
    id           TEXT PRIMARY KEY,
    realm_id     TEXT NOT NULL REFERENCES realms (id),
    tenant_id    TEXT NOT NULL,
    identity_ids TEXT NOT NULL, -- JSON array
    job_template TEXT NOT NULL, -- JSON
    state        TEXT NOT NULL,
    errors       TEXT NOT NULL, -- JSON object: identity id -> error
    total        INTEGER NOT NULL, -- len(identity_ids)
    done         INTEGER NOT NULL, -- identities handled, in order
    lease_owner  TEXT NOT NULL,
    lease_until  BIGINT NOT NULL,
    create_time  BIGINT NOT NULL,
    update_time  BIGINT NOT NULL
);
CREATE INDEX batch_credential_binding_jobs_realm ON batch_credential_binding_jobs (realm_id, state);
CREATE INDEX batch_credential_binding_jobs_running ON batch_credential_binding_jobs (state, lease_until);
CREATE INDEX credential_binding_jobs_batch ON credential_binding_jobs (batch_id, id);

-- +goose Down
DROP INDEX credential_binding_jobs_batch;
DROP TABLE batch_credential_binding_jobs;

-- CSV import jobs. Same conventions as 00001: times are Unix microseconds
-- (UTC). The uploaded file and the failed rows' records are BYTEA: they
-- are the client's bytes, which need not be UTF-8 (SQLite stores them as
-- BLOBs whatever the declared type).

-- +goose Up
-- A job goes with its realm. A worker leases it (lease_owner, lease_until)
-- while it runs.
CREATE TABLE import_jobs (
    id               TEXT PRIMARY KEY,
    tenant_id        TEXT NOT NULL,
    realm_id         TEXT NOT NULL REFERENCES realms (id) ON DELETE CASCADE,
    state            TEXT NOT NULL, -- QUEUED, RUNNING, SUCCEEDED, FAILED
    dry_run          BOOLEAN NOT NULL,
    update_existing  BOOLEAN NOT NULL,
    create_groups    BOOLEAN NOT NULL,
    binding_config   TEXT NOT NULL,
    columns          TEXT NOT NULL, -- the header, one CSV line
    rows_total       BIGINT NOT NULL,
    rows_done        BIGINT NOT NULL,
    created          BIGINT NOT NULL,
    updated          BIGINT NOT NULL,
    unchanged        BIGINT NOT NULL,
    failed           BIGINT NOT NULL,
    emails_sent      BIGINT NOT NULL,
    error            TEXT NOT NULL,
    actor_type       TEXT NOT NULL,
    actor_id         TEXT NOT NULL,
    lease_owner      TEXT,
    lease_until      BIGINT,
    create_time      BIGINT NOT NULL,
    update_time      BIGINT NOT NULL
);
-- One job at a time per realm: a second unfinished one violates this.
CREATE UNIQUE INDEX import_jobs_active ON import_jobs (realm_id) WHERE state IN ('QUEUED', 'RUNNING');
CREATE INDEX import_jobs_state ON import_jobs (state, create_time);

-- The uploaded file, kept until its job is done, so that a job whose node
-- died resumes on another. A table of its own: every batch updates the
-- job's row, and an engine may rewrite a whole row on update.
CREATE TABLE import_files (
    job_id  TEXT PRIMARY KEY REFERENCES import_jobs (id) ON DELETE CASCADE,
    content BYTEA NOT NULL
);

CREATE TABLE import_failures (
    job_id TEXT NOT NULL REFERENCES import_jobs (id) ON DELETE CASCADE,
    line   BIGINT NOT NULL,
    record BYTEA NOT NULL, -- the row as one CSV line
    error  TEXT NOT NULL,
    PRIMARY KEY (job_id, line)
);

-- +goose Down
DROP TABLE import_failures;
DROP TABLE import_files;
DROP TABLE import_jobs;

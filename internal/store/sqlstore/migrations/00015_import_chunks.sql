-- An import job's file in chunks of a few MB (provisioning's chunkSize),
-- each ending between two CSV records, so that neither the upload nor the
-- worker holds a whole file. Files of unfinished jobs move over as one
-- chunk each.

-- +goose Up
-- The chunks are written as the upload arrives, and the job's row when the
-- file's rows are counted, last, in the same transaction: the foreign key
-- is checked at commit.
CREATE TABLE import_chunks (
    job_id  TEXT NOT NULL REFERENCES import_jobs (id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED,
    seq     BIGINT NOT NULL, -- 0, 1, … in the file's order
    content BYTEA NOT NULL,
    PRIMARY KEY (job_id, seq)
);
INSERT INTO import_chunks (job_id, seq, content) SELECT job_id, 0, content FROM import_files;
DROP TABLE import_files;

-- +goose Down
CREATE TABLE import_files (
    job_id  TEXT PRIMARY KEY REFERENCES import_jobs (id) ON DELETE CASCADE,
    content BYTEA NOT NULL
);
UPDATE import_jobs SET state = 'FAILED', error = 'the file was dropped by a downgrade; import it again'
    WHERE state IN ('QUEUED', 'RUNNING');
DROP TABLE import_chunks;

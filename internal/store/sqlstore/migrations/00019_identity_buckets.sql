-- A realm's identities counted by the first two characters of their ids
-- (random hex, so 256 buckets of about equal size), replacing the random
-- shards of identity_counts: the sum is still the realm's count, and a list
-- that skips deep into the realm starts at the bucket holding the row it
-- wants, stepping over a few thousand keys instead of up to all of them.

-- +goose Up
CREATE TABLE identity_buckets (
    realm_id TEXT NOT NULL REFERENCES realms (id) ON DELETE CASCADE,
    prefix   TEXT NOT NULL,
    n        BIGINT NOT NULL,
    PRIMARY KEY (realm_id, prefix)
);
INSERT INTO identity_buckets (realm_id, prefix, n)
    SELECT realm_id, substr(id, 1, 2), count(*) FROM identities GROUP BY realm_id, substr(id, 1, 2);
DROP TABLE identity_counts;

-- +goose Down
CREATE TABLE identity_counts (
    realm_id TEXT NOT NULL REFERENCES realms (id) ON DELETE CASCADE,
    shard    INTEGER NOT NULL,
    n        BIGINT NOT NULL,
    PRIMARY KEY (realm_id, shard)
);
INSERT INTO identity_counts (realm_id, shard, n)
    SELECT realm_id, 0, CAST(SUM(n) AS BIGINT) FROM identity_buckets GROUP BY realm_id;
DROP TABLE identity_buckets;

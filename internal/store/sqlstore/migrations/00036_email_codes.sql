-- E-mail one-time codes (issue 18): at most one live code per e-mail
-- address of a realm, replaced by a new request, spent (deleted) by its
-- correct use. The code is kept only as an HMAC under a key derived from the
-- master key, so a copy of the database alone cannot brute-force it. A
-- request for an address that no active identity holds stores a row too
-- (identity_id ''), so that both are answered and counted alike. Same
-- conventions as 00001: TEXT, BIGINT only; times are Unix microseconds (UTC).

-- +goose Up
CREATE TABLE email_codes (
    realm_id    TEXT NOT NULL REFERENCES realms (id) ON DELETE CASCADE,
    address_key TEXT NOT NULL, -- the case-folded address
    tenant_id   TEXT NOT NULL,
    identity_id TEXT NOT NULL, -- '' when no active identity has the address
    code_hash   TEXT NOT NULL,
    attempts    BIGINT NOT NULL, -- wrong tries so far
    create_time BIGINT NOT NULL,
    expire_time BIGINT NOT NULL,
    PRIMARY KEY (realm_id, address_key)
);
CREATE INDEX email_codes_expiry ON email_codes (expire_time);

-- Fixed-window counts of code requests, per address and per client IP,
-- shared by every node: a global count is what limits mail bombing.
CREATE TABLE email_code_limits (
    key          TEXT PRIMARY KEY, -- 'address:<realm>:<address>' or 'ip:<ip>'
    window_start BIGINT NOT NULL,
    n            BIGINT NOT NULL
);
CREATE INDEX email_code_limits_window ON email_code_limits (window_start);

-- +goose Down
DROP TABLE email_code_limits;
DROP TABLE email_codes;

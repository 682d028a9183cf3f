-- E-mail: the realms' themes and the transactional outbox. Same conventions
-- as 00001: TEXT, BIGINT, BOOLEAN only; times are Unix microseconds (UTC).

-- +goose Up
-- A theme is part of its realm's configuration: it goes with the realm.
CREATE TABLE themes (
    id                TEXT PRIMARY KEY,
    realm_id          TEXT NOT NULL UNIQUE REFERENCES realms (id) ON DELETE CASCADE,
    tenant_id         TEXT NOT NULL,
    email_realm_name  TEXT NOT NULL,
    logo_url_light    TEXT NOT NULL,
    logo_url_dark     TEXT NOT NULL,
    support_url       TEXT NOT NULL,
    button_color      TEXT NOT NULL,
    button_text_color TEXT NOT NULL,
    create_time       BIGINT NOT NULL,
    update_time       BIGINT NOT NULL
);

-- Messages outlive what they are about (a deleted realm's sent mail is
-- still history): no foreign keys. A worker leases a message
-- (lease_owner, lease_until) while it sends it.
CREATE TABLE mail_outbox (
    id                TEXT PRIMARY KEY,
    tenant_id         TEXT NOT NULL,
    realm_id          TEXT NOT NULL,
    recipient         TEXT NOT NULL,
    subject           TEXT NOT NULL,
    text_body         TEXT NOT NULL,
    html_body         TEXT NOT NULL,
    ref               TEXT NOT NULL,
    state             TEXT NOT NULL, -- pending, sent, failed
    attempts          BIGINT NOT NULL,
    last_error        TEXT NOT NULL,
    next_attempt_time BIGINT NOT NULL,
    lease_owner       TEXT,
    lease_until       BIGINT,
    create_time       BIGINT NOT NULL,
    update_time       BIGINT NOT NULL
);
CREATE INDEX mail_outbox_due ON mail_outbox (state, next_attempt_time);

-- +goose Down
DROP TABLE mail_outbox;
DROP TABLE themes;

-- A WebAuthn credential id names one passkey of a realm: imported passkeys
-- bring ids of their own, and of two concurrent imports of one id only one
-- may be stored. JWT credentials ('') are found by their thumbprint. The
-- plain index of 00011 stays for the sign-in's lookup, which a generic
-- plan could not run on this partial one.

-- +goose Up
CREATE UNIQUE INDEX credentials_webauthn_id_unique ON credentials (realm_id, webauthn_id) WHERE webauthn_id <> '';

-- +goose Down
DROP INDEX credentials_webauthn_id_unique;

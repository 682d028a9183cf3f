// Package passkey owns passkey enrollment: authenticator configs (with
// their authenticator rules), credential binding jobs with their one-time
// links, the credentials (passkeys) they bind, their names (the provider's,
// from the AAGUID list shipped in aaguids.json, or one given) and last use,
// the verification of the proofs an authenticator sends to bind one (a
// self-signed JWS for a software passkey, a WebAuthn attestation for a
// platform or roaming one) or to sign in with it, and the import and export
// of passkeys made elsewhere (their public parts).
//
// It must not import HTTP packages or storage engines; it reaches the
// database through its Tx and Store interfaces.
package passkey

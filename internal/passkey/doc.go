// Package passkey owns passkey enrollment: authenticator configs, credential
// binding jobs with their one-time links, the credentials (passkeys) they
// bind, and the verification of the proofs an authenticator sends to bind
// one (a self-signed JWS for a software passkey, a WebAuthn attestation for
// a platform or roaming one), and the import and export of passkeys made
// elsewhere (their public parts).
//
// It must not import HTTP packages or storage engines; it reaches the
// database through its Tx and Store interfaces.
package passkey

// Package upstream owns sign-in through upstream OpenID Connect identity
// providers: an SSO config of type generic_oidc_idp or okta_idp, which a
// user may sign in through on the hosted sign-in page, and an identity
// provider (oidc_idp), which vouches for a user before a binding link binds
// a passkey. It keeps each authorization at an upstream pending in the
// store (state, nonce, PKCE verifier, the browser that started it), so that
// any node takes the callback; it redeems the code, verifies the upstream's
// ID token (signature by the provider's JWKS, iss, aud, nonce, exp) and
// finds the identity the provider's identifying claim names. Who may sign
// in through an SSO config is its assignments (sso.Service.Allowed).
//
// It reads providers through internal/sso; sessions, codes and passkeys
// are the callers'. It must not import storage engines, internal/httpapi,
// internal/authenticator or internal/console.
package upstream

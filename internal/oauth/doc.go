// Package oauth owns applications, resource servers, signing keys and issued
// tokens: the client-credentials grant that mints management API tokens, the
// verification of those tokens on every request (a deleted token record stops
// its token at once), the JWKS, and the OpenID Connect provider of each
// application: authorization requests, codes, ID and refresh tokens, and the
// signed request that hands a sign-in to the embedded SDK. It owns sign-out
// too (logout.go): end-session requests, the logout tokens that every
// ending of a session queues in the delivery outbox, and an identity's
// sessions as administrators list and end them. The sign-in of a realm's
// account page (account.go) is an authorization request of no application.
// The application of an entra_id_external_auth_methods SSO config answers
// Microsoft Entra ID as its external authentication method (entra.go):
// Entra's id_token_hint is checked against Entra's keys, which the node
// fetches for it (Entra.Fetch), and answered with an ID token.
//
// It signs with the token keys; no other package does. It must not import HTTP
// packages or storage engines; it describes the storage it needs as Store.
package oauth

// Package oauth owns applications, resource servers, signing keys and issued
// tokens: the client-credentials grant that mints management API tokens, the
// verification of those tokens on every request (a deleted token record stops
// its token at once), and the JWKS.
//
// It is the only package that imports go-jose. It must not import HTTP
// packages or storage engines; it describes the storage it needs as Store.
package oauth

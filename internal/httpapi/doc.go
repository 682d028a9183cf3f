// Package httpapi serves the management REST API v1 as Beyond Identity
// defines it (paths, envelopes, error bodies, paging, filters, scopes): the
// routes a bearer management token authorises, among them the token list,
// the realms' token introspection (RFC 7662) and Latchkey's audit-event
// extension; it mounts SCIM and the admin console behind the same tokens'
// guard or their own sign-in, and serves the operational endpoints
// (/healthz, /readyz, /metrics). Its Handler is the node's middleware chain
// (request ids, logging, metrics, rate limits, text checks, JSON 404s and
// 405s) in front of the one httpx.Mux on which it and internal/authenticator
// (the OP endpoints, hosted pages and binding links) register.
//
// Handlers decode, call a service, and encode; they hold no business rules.
// It must not import internal/authenticator or storage engines.
package httpapi

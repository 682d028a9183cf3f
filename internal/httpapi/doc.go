// Package httpapi serves the management REST API v1 as Beyond Identity
// defines it (paths, envelopes, error bodies, paging, filters, scopes), the
// token endpoint and JWKS that management tokens come from, Latchkey's
// audit-event extension, and the operational endpoints (/healthz, /readyz,
// /metrics), with request ids, logging, rate limits and body limits.
//
// Handlers decode, call a service, and encode; they hold no business rules.
// It must not import storage engines.
package httpapi

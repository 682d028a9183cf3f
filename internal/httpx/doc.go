// Package httpx holds what the node's HTTP packages, the management API
// (internal/httpapi) and the authenticator (internal/authenticator), both
// need: the API's JSON and error body with its status mapping (a database
// outage as 503 with Retry-After, every other fault a logged 500), OAuth's
// error body, strict decoding of request bodies within their size limit,
// the bearer token of a request, the v1 paths, and the one mux on which
// both register, with the custom methods ("{id}:bind") of a resource.
//
// It holds no handler and no rule. It must not import internal/httpapi,
// internal/authenticator, internal/scim, internal/console or storage engines.
package httpx

// Package server assembles one Latchkey node from its configuration: it
// opens the store (embedded SQLite or PostgreSQL), applies migrations,
// checks the master key, bootstraps an empty database, builds the services
// and the HTTP handler, and serves it (with TLS when asked) until shut down.
// The CLI and the end-to-end tests both start nodes through it.
//
// It is the composition root: it may import every internal package. Only
// cmd and tests import it.
package server

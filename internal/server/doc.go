// Package server assembles one Latchkey node from its configuration: it
// opens the store (embedded SQLite or PostgreSQL), refuses a schema that a
// newer release contracted, applies migrations, checks the master key,
// bootstraps an empty database, builds the services and the HTTP handler,
// records the node in the database, and serves it (with TLS when asked)
// until shut down. A node holds a shared lock on its data dir, which a
// restore takes alone. It also runs the commands beside the nodes: backup
// and restore of the embedded database, master key rotation, migrate
// --check. The CLI and the end-to-end tests both start nodes through it.
//
// It is the composition root: it may import every internal package. Only
// cmd and tests import it.
package server

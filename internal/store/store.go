// Package store names Latchkey's storage as a whole: the Tx that spans every
// domain (for work such as bootstrap that must be atomic across them) and
// the Store that an engine provides. The one implementation is
// internal/store/sqlstore; internal/store/storetest is the conformance suite
// every engine must pass.
//
// It imports domain packages for their Tx interfaces only. It must not
// import storage engines or HTTP packages.
package store

import (
	"context"
	"time"

	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/delivery"
	"github.com/latchkey/latchkey/internal/directory"
	"github.com/latchkey/latchkey/internal/mail"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/otp"
	"github.com/latchkey/latchkey/internal/passkey"
	"github.com/latchkey/latchkey/internal/policy"
	"github.com/latchkey/latchkey/internal/provisioning"
	"github.com/latchkey/latchkey/internal/saml"
	"github.com/latchkey/latchkey/internal/session"
	"github.com/latchkey/latchkey/internal/sso"
	"github.com/latchkey/latchkey/internal/upstream"
	"github.com/latchkey/latchkey/internal/webhook"
)

// Tx is every domain's Tx at once, plus named settings.
type Tx interface {
	delivery.Tx
	directory.Tx
	mail.Tx
	oauth.Tx
	otp.Tx
	passkey.Tx
	policy.Tx
	provisioning.Tx
	saml.Tx
	session.Tx
	sso.Tx
	webhook.Tx
	// GetSetting returns latchkey.ErrNotFound for a setting never made.
	GetSetting(ctx context.Context, name string) (string, error)
	// CreateSetting returns latchkey.ErrDuplicate when the setting exists:
	// of concurrent creators exactly one wins.
	CreateSetting(ctx context.Context, name, value string) error
}

// SessionsEnded is what follows an ending of sessions in its transaction
// (their back-channel logouts are queued), given the sessions it ended.
type SessionsEnded func(ctx context.Context, tx Tx, ended []session.Session) error

// Store is one database holding all of Latchkey's state.
type Store interface {
	Tx
	// Update runs fn in one read-write transaction, committed when fn returns nil.
	Update(ctx context.Context, fn func(Tx) error) error
	Directory() directory.Store
	OAuth() oauth.Store
	Mail() mail.Store
	Delivery() delivery.Store
	Passkey() passkey.Store
	OTP() otp.Store
	Policy() policy.Store
	Provisioning() provisioning.Store
	SAML() saml.Store
	Session() session.Store
	Audit() audit.Store
	Webhook() webhook.Store
	SSO() sso.Store
	Upstream() upstream.Store
	// OnSessionsEnded makes every ending of sessions (Tx.EndSessions)
	// call fn in its transaction; the node sets it once, before serving.
	OnSessionsEnded(fn SessionsEnded)
	Migrate(ctx context.Context) error
	// SchemaVersion returns the database's migration version and the
	// newest one this binary knows; SchemaFloor the newest contract
	// migration applied (0 for none): a binary that knows fewer migrations
	// must not run on the database.
	SchemaVersion(ctx context.Context) (current, known int64, err error)
	SchemaFloor(ctx context.Context) (int64, error)
	// RecordNode records a serving node, or that it was seen again;
	// ForgetNode removes it; ListNodes returns those seen since.
	RecordNode(ctx context.Context, n Node) error
	ForgetNode(ctx context.Context, id string) error
	ListNodes(ctx context.Context, seenSince time.Time) ([]Node, error)
	// Reseal passes every secret sealed with the master key (client
	// secrets, signing keys, then the named settings) to reseal, in
	// transactions of at most batch rows, storing what it returns when it
	// says the value changed; done hears of each committed batch.
	Reseal(ctx context.Context, settings []string, batch int, reseal func(string) (string, bool, error), done func(table string, changed int)) error
	Ping(ctx context.Context) error
	Close() error
	// Dialect is the engine's name: "sqlite" or "postgres".
	Dialect() string
}

// Node is a node serving on the database, as it recorded itself.
type Node struct {
	ID      string
	Version string // the binary's
	// SchemaVersion is the newest migration the node's binary knows.
	SchemaVersion       int64
	Host                string
	StartTime, SeenTime time.Time
}

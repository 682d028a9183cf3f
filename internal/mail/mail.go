package mail

import (
	"context"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/directory"
)

// States of a Message.
const (
	StatePending = "pending" // waiting for (another) delivery attempt
	StateSent    = "sent"    // accepted by the SMTP server (or logged)
	StateFailed  = "failed"  // given up on after the last attempt or a permanent refusal
)

// Message is one e-mail in the outbox.
type Message struct {
	ID, TenantID, RealmID string
	To, Subject           string
	Text, HTML            string // the two alternative bodies
	// Ref names what the message is about, e.g. "credential_binding_job:<job id>".
	Ref             string
	State           string
	Attempts        int // delivery attempts started, counted when claimed
	LastError       string
	NextAttemptTime time.Time
	CreateTime      time.Time
	UpdateTime      time.Time
}

// NewMessageAt returns a pending message due at t (the caller clock's now),
// with a new id.
func NewMessageAt(t time.Time, tenantID, realmID, to, subject, text, html, ref string) Message {
	return Message{
		ID: latchkey.NewID(), TenantID: tenantID, RealmID: realmID, To: to, Subject: subject,
		Text: text, HTML: html, Ref: ref, State: StatePending,
		NextAttemptTime: t, CreateTime: t, UpdateTime: t,
	}
}

// Tx is what mail needs inside one transaction. Other domains' Tx may embed
// it to enqueue e-mail atomically with their own changes.
type Tx interface {
	// EnqueueMail adds a message to the outbox; it is delivered only once
	// the transaction commits.
	EnqueueMail(ctx context.Context, m Message) error
	// CreateTheme returns latchkey.ErrDuplicate when the realm has a theme,
	// latchkey.ErrNoParent when the realm is gone.
	CreateTheme(ctx context.Context, t Theme) error
	// GetTheme and GetRealmTheme return latchkey.ErrNotFound when there is none.
	GetTheme(ctx context.Context, tenantID, realmID, id string) (Theme, error)
	GetRealmTheme(ctx context.Context, tenantID, realmID string) (Theme, error)
	UpdateTheme(ctx context.Context, t Theme) error
	// GetRealm is directory's: a realm's display name is its default e-mail realm name.
	GetRealm(ctx context.Context, tenantID, id string) (directory.Realm, error)
	RecordEvent(ctx context.Context, e audit.Event) error
}

// Store is the outbox and the themes. Claims are safe with several nodes on
// one database: a message is leased to one owner at a time, and the Mark
// methods change it only while the caller still holds its lease (else they
// return latchkey.ErrNotFound).
type Store interface {
	Tx
	// Update runs fn in one read-write transaction, committed when fn returns nil.
	Update(ctx context.Context, fn func(Tx) error) error
	// ClaimMail leases up to limit pending messages that are due at now and
	// not leased (or whose lease ran out) to owner until now+lease, counting
	// one more attempt on each.
	ClaimMail(ctx context.Context, owner string, now time.Time, lease time.Duration, limit int) ([]Message, error)
	// GetMail returns latchkey.ErrNotFound for an unknown id.
	GetMail(ctx context.Context, id string) (Message, error)
	MarkMailSent(ctx context.Context, id, owner string, now time.Time) error
	// MarkMailRetry releases the lease and makes the message due again at next.
	MarkMailRetry(ctx context.Context, id, owner string, now, next time.Time, lastErr string) error
	MarkMailFailed(ctx context.Context, id, owner string, now time.Time, lastErr string) error
}

package mail

import (
	"context"
	"errors"
	netmail "net/mail"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/directory"
	"github.com/latchkey/latchkey/internal/nodecache"
)

// Service manages themes. Every mutation records an audit event in the
// same transaction.
type Service struct {
	store Store
	Clock latchkey.Clock // dates changes and test e-mail
	// SMTP sends test e-mail; nil when no SMTP server is configured.
	SMTP *SMTPSender
	// themes are the realms' themes as ActiveTheme read them in the last
	// nodecache.TTL, by realm: every hosted page shows one.
	themes nodecache.Cache[Theme]
}

// ErrNotConfigured refuses to send e-mail that the log would swallow:
// no SMTP server is configured.
var ErrNotConfigured = latchkey.Errorf(latchkey.CodeUnprocessable, "not sent: e-mail is not configured on this server (latchkey serve --smtp-url)")

// Setup says how e-mail leaves this server.
func (s *Service) Setup() Setup {
	if s.SMTP == nil {
		return Setup{}
	}
	return s.SMTP.Setup()
}

// NewService returns a Service over store.
func NewService(store Store) *Service { return &Service{store: store} }

var errThemeExists = latchkey.Errorf(latchkey.CodeConflict, "theme already exists for this realm")

func themeNotFound(id string) error { return latchkey.NotFound("Theme", id, "theme not found") }

func record(ctx context.Context, tx Tx, t Theme, action string) error {
	return tx.RecordEvent(ctx, audit.NewAt(ctx, t.UpdateTime, t.TenantID, t.RealmID, action, "Theme", t.ID))
}

// CreateTheme creates the realm's theme from the default theme changed by
// p; a realm has at most one (409).
func (s *Service) CreateTheme(ctx context.Context, tenantID, realmID string, p ThemePatch) (t Theme, err error) {
	err = s.store.Update(ctx, func(tx Tx) error {
		r, err := directory.LookupRealm(ctx, tx, tenantID, realmID)
		if err != nil {
			return err
		}
		t = defaultTheme(r)
		p.Apply(&t)
		created := s.Clock.Now()
		t.ID, t.CreateTime, t.UpdateTime = latchkey.NewUUID(), created, created
		if err := ValidateTheme(t); err != nil {
			return err
		}
		if err := tx.CreateTheme(ctx, t); err != nil {
			if errors.Is(err, latchkey.ErrDuplicate) {
				return errThemeExists
			}
			return err
		}
		return record(ctx, tx, t, "theme.create")
	})
	s.themes.Clear()
	return t, err
}

// ActiveTheme returns the realm's theme, or the default theme when it has
// none, as read in the last nodecache.TTL: a change made on this node shows
// at once, one made on another (or the realm's new name in the default
// theme) within the TTL.
func (s *Service) ActiveTheme(ctx context.Context, tenantID, realmID string) (Theme, error) {
	key, now := tenantID+"/"+realmID, s.Clock.Now()
	if t, ok := s.themes.Get(key, now); ok {
		return t, nil
	}
	t, err := RealmTheme(ctx, s.store, tenantID, realmID)
	if err == nil {
		s.themes.Put(key, t, now)
	}
	return t, err
}

// RealmTheme is ActiveTheme inside a transaction of another domain.
func RealmTheme(ctx context.Context, tx Tx, tenantID, realmID string) (Theme, error) {
	t, err := tx.GetRealmTheme(ctx, tenantID, realmID)
	if !errors.Is(err, latchkey.ErrNotFound) {
		return t, err
	}
	r, err := directory.LookupRealm(ctx, tx, tenantID, realmID)
	if err != nil {
		return Theme{}, err
	}
	return defaultTheme(r), nil
}

// GetTheme returns a theme of a realm.
func (s *Service) GetTheme(ctx context.Context, tenantID, realmID, id string) (Theme, error) {
	t, err := s.store.GetTheme(ctx, tenantID, realmID, id)
	return t, latchkey.IfNotFound(err, themeNotFound, id)
}

// UpdateTheme changes the fields of a theme that p sets.
func (s *Service) UpdateTheme(ctx context.Context, tenantID, realmID, id string, p ThemePatch) (t Theme, err error) {
	err = s.store.Update(ctx, func(tx Tx) error {
		if t, err = tx.GetTheme(ctx, tenantID, realmID, id); err != nil {
			if errors.Is(err, latchkey.ErrNotFound) {
				return themeNotFound(id)
			}
			return err
		}
		before := audit.Snapshot(t)
		p.Apply(&t)
		if err := ValidateTheme(t); err != nil {
			return err
		}
		t.UpdateTime = s.Clock.Now()
		if err := tx.UpdateTheme(ctx, t); err != nil {
			return err
		}
		return tx.RecordEvent(ctx, audit.NewAt(ctx, t.UpdateTime, t.TenantID, t.RealmID, "theme.update", "Theme", t.ID).Changed("", before, t))
	})
	s.themes.Clear()
	return t, err
}

// EnqueueBindingEmail renders the credential binding e-mail with the
// realm's active theme and adds it to the outbox inside tx, so that it is
// sent if and only if tx commits, due at now. ref names the job
// ("credential_binding_job:<id>").
func EnqueueBindingEmail(ctx context.Context, tx Tx, now time.Time, tenantID, realmID, to, ref string, d BindingEmail) (Message, error) {
	return enqueue(ctx, tx, now, tenantID, realmID, to, ref, func(t Theme) (string, string, string, error) { return RenderBindingEmail(t, d) })
}

// EnqueueCodeEmail renders the one-time code e-mail in the realm's active
// theme and adds it to the outbox inside tx, due at now. ref names what
// the code is for ("email_code:<identity id>").
func EnqueueCodeEmail(ctx context.Context, tx Tx, now time.Time, tenantID, realmID, to, ref string, d CodeEmail) (Message, error) {
	return enqueue(ctx, tx, now, tenantID, realmID, to, ref, func(t Theme) (string, string, string, error) { return RenderCodeEmail(t, d) })
}

// enqueue renders an e-mail in the realm's active theme and adds it to the
// outbox inside tx, due at now.
func enqueue(ctx context.Context, tx Tx, now time.Time, tenantID, realmID, to, ref string,
	render func(Theme) (subject, text, html string, err error)) (Message, error) {
	theme, err := RealmTheme(ctx, tx, tenantID, realmID)
	if err != nil {
		return Message{}, err
	}
	subject, text, html, err := render(theme)
	if err != nil {
		return Message{}, err
	}
	m := NewMessageAt(now, tenantID, realmID, to, subject, text, html, ref)
	return m, tx.EnqueueMail(ctx, m)
}

// TestSend is what became of a test e-mail: whether the SMTP server
// accepted it, and its reply (a queue id) or its refusal, word for word.
type TestSend struct {
	Server   string
	Accepted bool
	Reply    string
}

// SendTestEmail sends the sample binding e-mail, in the realm's active
// theme, its link expiring at expires, to to at once, past the outbox: an administrator's check of the
// branding and of the SMTP server, who wants the server's answer now, not
// a retry in 30 seconds. Its subject says it is a test. Without an SMTP
// server it is refused with ErrNotConfigured; a refusal by the server is
// no error but the result.
func (s *Service) SendTestEmail(ctx context.Context, tenantID, realmID, to string, expires time.Time) (TestSend, error) {
	if a, perr := netmail.ParseAddress(to); perr != nil || a.Address != to || len(to) > 254 {
		return TestSend{}, latchkey.InvalidField("to", "not a valid e-mail address")
	}
	if s.SMTP == nil {
		return TestSend{}, ErrNotConfigured
	}
	theme, err := s.ActiveTheme(ctx, tenantID, realmID)
	if err != nil {
		return TestSend{}, err
	}
	subject, text, html, err := RenderSampleBindingEmail(theme, expires)
	if err != nil {
		return TestSend{}, err
	}
	m := NewMessageAt(s.Clock.Now(), tenantID, realmID, to, "[Test] "+subject, text, html, "theme_test:"+realmID)
	res := TestSend{Server: s.SMTP.Setup().Server}
	reply, sendErr := s.SMTP.SendReporting(ctx, m)
	res.Accepted, res.Reply = sendErr == nil, reply
	if sendErr != nil {
		res.Reply = sendErr.Error()
	}
	err = s.store.Update(ctx, func(tx Tx) error {
		return tx.RecordEvent(ctx, audit.NewAt(ctx, s.Clock.Now(), tenantID, realmID, "theme.test_email", "Realm", realmID))
	})
	return res, err
}

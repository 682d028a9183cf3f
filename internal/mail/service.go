package mail

import (
	"context"
	"errors"
	netmail "net/mail"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/directory"
)

// Service manages themes. Every mutation records an audit event in the
// same transaction.
type Service struct {
	store Store
	Clock latchkey.Clock // dates changes and test e-mail
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
	return t, err
}

// ActiveTheme returns the realm's theme, or the default theme when it has none.
func (s *Service) ActiveTheme(ctx context.Context, tenantID, realmID string) (Theme, error) {
	return RealmTheme(ctx, s.store, tenantID, realmID)
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
		p.Apply(&t)
		if err := ValidateTheme(t); err != nil {
			return err
		}
		t.UpdateTime = s.Clock.Now()
		if err := tx.UpdateTheme(ctx, t); err != nil {
			return err
		}
		return record(ctx, tx, t, "theme.update")
	})
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

// EnqueueTestEmail adds the sample binding e-mail, in the realm's active
// theme, to the outbox for to: an administrator's check of the branding
// and of the SMTP delivery. Its subject says it is a test.
func (s *Service) EnqueueTestEmail(ctx context.Context, tenantID, realmID, to string) (m Message, err error) {
	if a, perr := netmail.ParseAddress(to); perr != nil || a.Address != to || len(to) > 254 {
		return m, latchkey.InvalidField("to", "not a valid e-mail address")
	}
	err = s.store.Update(ctx, func(tx Tx) error {
		theme, err := RealmTheme(ctx, tx, tenantID, realmID)
		if err != nil {
			return err
		}
		subject, text, html, err := RenderSampleBindingEmail(theme, s.Clock.Now())
		if err != nil {
			return err
		}
		m = NewMessageAt(s.Clock.Now(), tenantID, realmID, to, "[Test] "+subject, text, html, "theme_test:"+realmID)
		if err := tx.EnqueueMail(ctx, m); err != nil {
			return err
		}
		return tx.RecordEvent(ctx, audit.NewAt(ctx, m.CreateTime, tenantID, realmID, "theme.test_email", "Realm", realmID))
	})
	return m, err
}

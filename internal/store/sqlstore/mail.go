package sqlstore

import (
	"context"
	"slices"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/mail"
)

const themeColumns = `id, realm_id, tenant_id, email_realm_name, logo_url_light, logo_url_dark, support_url,
	button_color, button_text_color, create_time, update_time`

func (t *tx) CreateTheme(ctx context.Context, v mail.Theme) error {
	_, err := t.exec(ctx, latchkey.ErrNoParent, `INSERT INTO themes (`+themeColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
		v.ID, v.RealmID, v.TenantID, v.EmailRealmName, v.LogoURLLight, v.LogoURLDark, v.SupportURL,
		v.ButtonColor, v.ButtonTextColor, micros(v.CreateTime), micros(v.UpdateTime))
	return err
}

func (t *tx) GetTheme(ctx context.Context, tenantID, realmID, id string) (mail.Theme, error) {
	return t.theme(ctx, `id = $1 AND realm_id = $2 AND tenant_id = $3`, id, realmID, tenantID)
}

func (t *tx) GetRealmTheme(ctx context.Context, tenantID, realmID string) (mail.Theme, error) {
	return t.theme(ctx, `realm_id = $1 AND tenant_id = $2`, realmID, tenantID)
}

func (t *tx) theme(ctx context.Context, where string, a ...any) (mail.Theme, error) {
	var v mail.Theme
	var ct, ut int64
	err := one(t.r.QueryRowContext(ctx, `SELECT `+themeColumns+` FROM themes WHERE `+where, a...),
		&v.ID, &v.RealmID, &v.TenantID, &v.EmailRealmName, &v.LogoURLLight, &v.LogoURLDark, &v.SupportURL,
		&v.ButtonColor, &v.ButtonTextColor, &ct, &ut)
	v.CreateTime, v.UpdateTime = fromMicros(ct), fromMicros(ut)
	return v, err
}

func (t *tx) UpdateTheme(ctx context.Context, v mail.Theme) error {
	return affected(t.exec(ctx, latchkey.ErrNoParent,
		`UPDATE themes SET email_realm_name = $1, logo_url_light = $2, logo_url_dark = $3, support_url = $4,
		 button_color = $5, button_text_color = $6, update_time = $7 WHERE id = $8 AND realm_id = $9`,
		v.EmailRealmName, v.LogoURLLight, v.LogoURLDark, v.SupportURL, v.ButtonColor, v.ButtonTextColor,
		micros(v.UpdateTime), v.ID, v.RealmID))
}

const mailColumns = `id, tenant_id, realm_id, recipient, subject, text_body, html_body, ref, state, attempts,
	last_error, next_attempt_time, create_time, update_time`

func (t *tx) EnqueueMail(ctx context.Context, m mail.Message) error {
	_, err := t.exec(ctx, latchkey.ErrNoParent, `INSERT INTO mail_outbox (`+mailColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
		m.ID, m.TenantID, m.RealmID, m.To, m.Subject, m.Text, m.HTML, m.Ref, m.State, m.Attempts,
		m.LastError, micros(m.NextAttemptTime), micros(m.CreateTime), micros(m.UpdateTime))
	return err
}

// ClaimMail leases due messages in one statement. On PostgreSQL the
// SELECT skips rows that a concurrent claim has locked, and the UPDATE
// checks the conditions again on the locked rows, so two claims never take
// one message; SQLite has one writer. The CTE is materialized so that its
// LIMIT applies once, not per row.
func (t *tx) ClaimMail(ctx context.Context, owner string, now time.Time, lease time.Duration, limit int) ([]mail.Message, error) {
	due := `state = 'pending' AND next_attempt_time <= $3 AND (lease_until IS NULL OR lease_until < $3)`
	rows, err := t.w.QueryContext(ctx, `WITH claimed AS MATERIALIZED (
			SELECT id FROM mail_outbox WHERE `+due+` ORDER BY next_attempt_time LIMIT $4`+t.skipLocked()+`)
		UPDATE mail_outbox SET lease_owner = $1, lease_until = $2, attempts = attempts + 1, update_time = $3
		WHERE id IN (SELECT id FROM claimed) AND `+due+`
		RETURNING `+mailColumns,
		owner, micros(now.Add(lease)), micros(now), limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []mail.Message
	for rows.Next() {
		var m mail.Message
		if err := scanMail(rows, &m); err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	// RETURNING has no order; give the messages in due order.
	slices.SortFunc(out, func(a, b mail.Message) int { return a.NextAttemptTime.Compare(b.NextAttemptTime) })
	return out, rows.Err()
}

func scanMail(s interface{ Scan(...any) error }, m *mail.Message) error {
	var next, ct, ut int64
	err := s.Scan(&m.ID, &m.TenantID, &m.RealmID, &m.To, &m.Subject, &m.Text, &m.HTML, &m.Ref,
		&m.State, &m.Attempts, &m.LastError, &next, &ct, &ut)
	m.NextAttemptTime, m.CreateTime, m.UpdateTime = fromMicros(next), fromMicros(ct), fromMicros(ut)
	return err
}

func (t *tx) GetMail(ctx context.Context, id string) (mail.Message, error) {
	var m mail.Message
	err := scanMail(t.r.QueryRowContext(ctx, `SELECT `+mailColumns+` FROM mail_outbox WHERE id = $1`, id), &m)
	return m, notFoundIfNoRows(err)
}

// leased is the condition of the Mark methods: the caller still holds the lease.
const leased = ` WHERE id = $1 AND lease_owner = $2 AND state = 'pending'`

func (t *tx) MarkMailSent(ctx context.Context, id, owner string, now time.Time) error {
	return affected(t.exec(ctx, latchkey.ErrNoParent, `UPDATE mail_outbox
		SET state = 'sent', last_error = '', lease_owner = NULL, lease_until = NULL, update_time = $3`+leased,
		id, owner, micros(now)))
}

func (t *tx) MarkMailRetry(ctx context.Context, id, owner string, now, next time.Time, lastErr string) error {
	return affected(t.exec(ctx, latchkey.ErrNoParent, `UPDATE mail_outbox
		SET next_attempt_time = $4, last_error = $5, lease_owner = NULL, lease_until = NULL, update_time = $3`+leased,
		id, owner, micros(now), micros(next), lastErr))
}

func (t *tx) MarkMailFailed(ctx context.Context, id, owner string, now time.Time, lastErr string) error {
	return affected(t.exec(ctx, latchkey.ErrNoParent, `UPDATE mail_outbox
		SET state = 'failed', last_error = $4, lease_owner = NULL, lease_until = NULL, update_time = $3`+leased,
		id, owner, micros(now), lastErr))
}

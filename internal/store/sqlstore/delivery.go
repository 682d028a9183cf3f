package sqlstore

import (
	"context"
	"slices"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/delivery"
)

const deliveryColumns = `id, tenant_id, realm_id, kind, ref, url, target, payload, state, attempts, last_status,
	last_error, last_attempt_time, next_attempt_time, create_time, update_time`

func (t *tx) EnqueueDelivery(ctx context.Context, d delivery.Delivery) error {
	_, err := t.exec(ctx, latchkey.ErrNoParent, `INSERT INTO deliveries (`+deliveryColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)`,
		d.ID, d.TenantID, d.RealmID, d.Kind, d.Ref, d.URL, d.Target, d.Payload, d.State, d.Attempts, d.LastStatus,
		d.LastError, microsOrZero(d.LastAttemptTime), micros(d.NextAttemptTime), micros(d.CreateTime), micros(d.UpdateTime))
	return err
}

// microsOrZero is micros, with 0 for the zero time.
func microsOrZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return micros(t)
}

// ClaimDeliveries leases due deliveries in one statement, as ClaimMail
// leases messages: on PostgreSQL the SELECT skips rows a concurrent claim
// has locked and the UPDATE checks the conditions again; SQLite has one
// writer.
func (t *tx) ClaimDeliveries(ctx context.Context, owner string, now time.Time, lease time.Duration, limit int, busy []string) ([]delivery.Delivery, error) {
	a := args{owner, micros(now.Add(lease)), micros(now), limit}
	due := `state = 'pending' AND next_attempt_time <= $3 AND (lease_until IS NULL OR lease_until < $3)`
	if len(busy) > 0 { // NOT IN (NULL) would hold for no row
		due += ` AND target NOT IN ` + a.in(busy)
	}
	rows, err := t.w.QueryContext(ctx, `WITH claimed AS MATERIALIZED (
			SELECT id FROM deliveries WHERE `+due+` ORDER BY next_attempt_time LIMIT $4`+t.skipLocked()+`)
		UPDATE deliveries SET lease_owner = $1, lease_until = $2, attempts = attempts + 1, update_time = $3
		WHERE id IN (SELECT id FROM claimed) AND `+due+`
		RETURNING `+deliveryColumns, a...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []delivery.Delivery
	for rows.Next() {
		var d delivery.Delivery
		if err := scanDelivery(rows, &d); err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	// RETURNING has no order; give the deliveries in due order.
	slices.SortFunc(out, func(a, b delivery.Delivery) int { return a.NextAttemptTime.Compare(b.NextAttemptTime) })
	return out, rows.Err()
}

func scanDelivery(s interface{ Scan(...any) error }, d *delivery.Delivery) error {
	var last, next, ct, ut int64
	err := s.Scan(&d.ID, &d.TenantID, &d.RealmID, &d.Kind, &d.Ref, &d.URL, &d.Target, &d.Payload, &d.State,
		&d.Attempts, &d.LastStatus, &d.LastError, &last, &next, &ct, &ut)
	d.NextAttemptTime, d.CreateTime, d.UpdateTime = fromMicros(next), fromMicros(ct), fromMicros(ut)
	if last != 0 {
		d.LastAttemptTime = fromMicros(last)
	}
	return err
}

func (t *tx) GetDelivery(ctx context.Context, id string) (delivery.Delivery, error) {
	var d delivery.Delivery
	err := scanDelivery(t.r.QueryRowContext(ctx, `SELECT `+deliveryColumns+` FROM deliveries WHERE id = $1`, id), &d)
	return d, notFoundIfNoRows(err)
}

// FinishAttempt releases the lease; only a delivery due again gets a new
// next attempt time.
func (t *tx) FinishAttempt(ctx context.Context, id, owner string, o delivery.Outcome) error {
	return affected(t.exec(ctx, latchkey.ErrNoParent, `UPDATE deliveries
		SET state = $3, last_status = $4, last_error = $5, last_attempt_time = $6, update_time = $6,
		    next_attempt_time = CASE WHEN $3 = 'pending' THEN $7 ELSE next_attempt_time END,
		    lease_owner = NULL, lease_until = NULL
		WHERE id = $1 AND lease_owner = $2 AND state = 'pending'`,
		id, owner, o.State, o.Status, o.Error, micros(o.Time), micros(o.Next)))
}

package sqlstore

import (
	"context"
	"errors"
	"slices"
	"strings"
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

// ClaimDeliveries leases due deliveries in one transaction: a SELECT of
// the first due ones (four times limit, for take to choose from), which on
// PostgreSQL skips rows a concurrent claim has locked, then an UPDATE of
// those take chose that checks the conditions again. SQLite has one writer.
func (s deliveryStore) ClaimDeliveries(ctx context.Context, owner string, now time.Time, lease time.Duration,
	limit int, lanes delivery.Lanes, take func(delivery.Lane) bool) (out []delivery.Delivery, err error) {
	err = s.update(ctx, func(t *tx) error {
		out, err = t.claimDeliveries(ctx, owner, now, lease, limit, lanes, take)
		return err
	})
	return out, err
}

func (t *tx) claimDeliveries(ctx context.Context, owner string, now time.Time, lease time.Duration,
	limit int, lanes delivery.Lanes, take func(delivery.Lane) bool) ([]delivery.Delivery, error) {
	a := args{micros(now)}
	due := `state = 'pending' AND next_attempt_time <= $1 AND (lease_until IS NULL OR lease_until < $1)`
	if len(lanes.Only) > 0 {
		var in []string
		for _, l := range lanes.Only {
			in = append(in, `kind = `+a.add(l.Kind)+` AND target = `+a.add(l.Target))
		}
		due += ` AND (` + strings.Join(in, ` OR `) + `)`
	}
	for _, l := range lanes.Full {
		due += ` AND NOT (kind = ` + a.add(l.Kind) + ` AND target = ` + a.add(l.Target) + `)`
	}
	dueArgs := a[:len(a):len(a)]
	rows, err := t.w.QueryContext(ctx, `SELECT id, kind, target FROM deliveries WHERE `+due+`
		ORDER BY next_attempt_time LIMIT `+a.add(4*limit)+t.skipLocked(), a...)
	if err != nil {
		return nil, err
	}
	var ids []string
	for rows.Next() && len(ids) < limit {
		var id string
		var l delivery.Lane
		if err := rows.Scan(&id, &l.Kind, &l.Target); err != nil {
			rows.Close()
			return nil, err
		}
		if take == nil || take(l) {
			ids = append(ids, id)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil || len(ids) == 0 {
		return nil, err
	}
	a = dueArgs
	rows, err = t.w.QueryContext(ctx, `UPDATE deliveries SET lease_owner = `+a.add(owner)+`,
			lease_until = `+a.add(micros(now.Add(lease)))+`, attempts = attempts + 1, update_time = $1
		WHERE id IN `+a.in(ids)+` AND `+due+`
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

// attemptOutcome is one FinishAttempt call.
type attemptOutcome struct {
	id, owner string
	outcome   delivery.Outcome
}

// FinishAttempt records an outcome in one transaction with those of
// concurrent calls (a worker's attempts end together under load).
func (s deliveryStore) FinishAttempt(ctx context.Context, id, owner string, o delivery.Outcome) error {
	return s.outcomes.do(ctx, attemptOutcome{id, owner, o}, s.finishAttempts)
}

func (s deliveryStore) finishAttempts(ctx context.Context, os []attemptOutcome) (outcomes []error, err error) {
	outcomes = make([]error, len(os))
	err = s.update(ctx, func(t *tx) error {
		for i, o := range os {
			outcomes[i] = t.finishAttempt(ctx, o.id, o.owner, o.outcome)
			if outcomes[i] != nil && !errors.Is(outcomes[i], latchkey.ErrNotFound) {
				return outcomes[i]
			}
		}
		return nil
	})
	return outcomes, err
}

// finishAttempt releases the lease; only a delivery due again gets a new
// next attempt time. latchkey.ErrNotFound when owner no longer holds it.
func (t *tx) finishAttempt(ctx context.Context, id, owner string, o delivery.Outcome) error {
	return affected(t.exec(ctx, latchkey.ErrNoParent, `UPDATE deliveries
		SET state = $3, last_status = $4, last_error = $5, last_attempt_time = $6, update_time = $6,
		    next_attempt_time = CASE WHEN $3 = 'pending' THEN $7 ELSE next_attempt_time END,
		    lease_owner = NULL, lease_until = NULL
		WHERE id = $1 AND lease_owner = $2 AND state = 'pending'`,
		id, owner, o.State, o.Status, o.Error, micros(o.Time), micros(o.Next)))
}

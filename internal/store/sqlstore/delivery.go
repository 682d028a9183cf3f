package sqlstore

import (
	"context"
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

// ClaimDeliveries leases due deliveries. A claim of every lane but the
// full ones is a transaction: a SELECT of the first due (four times limit,
// for take to choose from), which on PostgreSQL skips rows a concurrent
// claim has locked, then an UPDATE of those take chose that checks the
// conditions again. A claim of lanes.Only, a busy target's steady state
// (one per few attempts that end), is one UPDATE of each lane's first due,
// up to its room: one round trip to PostgreSQL instead of four, which
// under load each waited for its backend to get a CPU (8–20 ms a claim at
// load average 10–17, and the claims run one after the other).
// SQLite has one writer.
func (s deliveryStore) ClaimDeliveries(ctx context.Context, owner string, now time.Time, lease time.Duration,
	limit int, lanes delivery.Lanes, take func(delivery.Lane) bool) (out []delivery.Delivery, err error) {
	if len(lanes.Only) > 0 {
		return s.tx.claimLanes(ctx, owner, now, lease, lanes.Only)
	}
	err = s.update(ctx, func(t *tx) error {
		out, err = t.claimDeliveries(ctx, owner, now, lease, limit, lanes.Full, take)
		return err
	})
	return out, err
}

// dueDeliveries is the condition of a delivery that may be claimed at $1.
const dueDeliveries = `state = 'pending' AND next_attempt_time <= $1 AND (lease_until IS NULL OR lease_until < $1)`

func (t *tx) claimDeliveries(ctx context.Context, owner string, now time.Time, lease time.Duration,
	limit int, full []delivery.Lane, take func(delivery.Lane) bool) ([]delivery.Delivery, error) {
	a := args{micros(now)}
	due := dueDeliveries
	for _, l := range full {
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
	return t.leaseDeliveries(ctx, a, ``, `id IN `+a.in(ids)+` AND `+due, owner, now, lease)
}

// claimLanes leases each lane's first due deliveries, up to its room, in
// one statement. The CTE is materialized so that each LIMIT applies once:
// run again for each row, it would find the next due ones of a lane.
func (t *tx) claimLanes(ctx context.Context, owner string, now time.Time, lease time.Duration,
	lanes []delivery.LaneRoom) ([]delivery.Delivery, error) {
	a := args{micros(now)}
	each := make([]string, len(lanes))
	for i, l := range lanes {
		each[i] = `SELECT id FROM (SELECT id FROM deliveries WHERE ` + dueDeliveries + ` AND kind = ` + a.add(l.Kind) +
			` AND target = ` + a.add(l.Target) + ` ORDER BY next_attempt_time LIMIT ` + a.add(l.Room) + t.skipLocked() + `) lane`
	}
	return t.leaseDeliveries(ctx, a, `WITH claimed AS MATERIALIZED (`+strings.Join(each, ` UNION ALL `)+`) `,
		`id IN (SELECT id FROM claimed) AND `+dueDeliveries, owner, now, lease)
}

// leaseDeliveries leases to owner the deliveries where holds (with a, whose
// $1 is now; with, if not empty, is a WITH clause where may use) and
// returns them in due order.
func (t *tx) leaseDeliveries(ctx context.Context, a args, with, where, owner string, now time.Time, lease time.Duration) ([]delivery.Delivery, error) {
	rows, err := t.w.QueryContext(ctx, with+`UPDATE deliveries SET lease_owner = `+a.add(owner)+`,
			lease_until = `+a.add(micros(now.Add(lease)))+`, attempts = attempts + 1, update_time = $1
		WHERE `+where+`
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

// FinishAttempt records an outcome in one statement with those of
// concurrent calls (a worker's attempts end together under load).
func (s deliveryStore) FinishAttempt(ctx context.Context, id, owner string, o delivery.Outcome) error {
	return s.outcomes.do(ctx, attemptOutcome{id, owner, o}, s.tx.finishAttempts)
}

// finishAttempts records outcomes in one statement: each delivery that
// its owner still leases is released, and only one due again gets a new
// next attempt time; one whose lease was lost is latchkey.ErrNotFound.
// (A transaction of one UPDATE per outcome took a round trip each: with
// PostgreSQL's backends waiting for a CPU among other processes, a batch
// took longer than the attempts it recorded.)
func (t *tx) finishAttempts(ctx context.Context, os []attemptOutcome) ([]error, error) {
	var a args
	values := make([]string, len(os))
	for i, o := range os {
		bigint := func(v int64) string { return `CAST(` + t.add(&a, v) + ` AS BIGINT)` }
		values[i] = `(` + t.add(&a, o.id) + `, ` + t.add(&a, o.owner) + `, ` + t.add(&a, o.outcome.State) + `, ` +
			bigint(int64(o.outcome.Status)) + `, ` + t.add(&a, o.outcome.Error) + `, ` +
			bigint(micros(o.outcome.Time)) + `, ` + bigint(micros(o.outcome.Next)) + `)`
	}
	rows, err := t.w.QueryContext(ctx, `WITH o (id, owner, state, status, error, time, next) AS (VALUES `+
		strings.Join(values, `, `)+`)
		UPDATE deliveries SET state = o.state, last_status = o.status, last_error = o.error,
			last_attempt_time = o.time, update_time = o.time,
			next_attempt_time = CASE WHEN o.state = 'pending' THEN o.next ELSE deliveries.next_attempt_time END,
			lease_owner = NULL, lease_until = NULL
		FROM o WHERE deliveries.id = o.id AND deliveries.lease_owner = o.owner AND deliveries.state = 'pending'
		RETURNING deliveries.id`, a...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	released := make(map[string]bool, len(os))
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		released[id] = true
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	outcomes := make([]error, len(os))
	for i, o := range os {
		if !released[o.id] {
			outcomes[i] = latchkey.ErrNotFound
		}
	}
	return outcomes, nil
}

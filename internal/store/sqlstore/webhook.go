package sqlstore

import (
	"context"
	"encoding/json"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/delivery"
	"github.com/latchkey/latchkey/internal/webhook"
)

const webhookColumns = `id, tenant_id, realm_id, display_name, url, event_types, enabled, failing, secret_sealed, create_time, update_time`

func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

func (t *tx) CreateWebhook(ctx context.Context, w webhook.Webhook) error {
	types, _ := json.Marshal(w.EventTypes)
	_, err := t.exec(ctx, latchkey.ErrNoParent, `INSERT INTO webhooks (`+webhookColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
		w.ID, w.TenantID, w.RealmID, w.DisplayName, w.URL, string(types), boolInt(w.Enabled), boolInt(w.Failing),
		w.SecretSealed, micros(w.CreateTime), micros(w.UpdateTime))
	return err
}

func scanWebhook(s interface{ Scan(...any) error }, w *webhook.Webhook) error {
	var types string
	var enabled, failing, ct, ut int64
	if err := s.Scan(&w.ID, &w.TenantID, &w.RealmID, &w.DisplayName, &w.URL, &types, &enabled, &failing,
		&w.SecretSealed, &ct, &ut); err != nil {
		return err
	}
	w.Enabled, w.Failing, w.CreateTime, w.UpdateTime = enabled == 1, failing == 1, fromMicros(ct), fromMicros(ut)
	return json.Unmarshal([]byte(types), &w.EventTypes)
}

func (t *tx) GetWebhook(ctx context.Context, tenantID, realmID, id string) (webhook.Webhook, error) {
	var w webhook.Webhook
	err := scanWebhook(t.r.QueryRowContext(ctx, `SELECT `+webhookColumns+` FROM webhooks
		WHERE id = $1 AND tenant_id = $2 AND realm_id = $3`, id, tenantID, realmID), &w)
	return w, notFoundIfNoRows(err)
}

func (t *tx) ListWebhooks(ctx context.Context, tenantID, realmID string) ([]webhook.Webhook, error) {
	return t.webhooks(ctx, t.r, `SELECT `+webhookColumns+` FROM webhooks WHERE tenant_id = $1 AND realm_id = $2
		ORDER BY create_time, id`, tenantID, realmID)
}

// webhooks runs a query of webhooks on q (t.w when the query writes too).
func (t *tx) webhooks(ctx context.Context, q querier, query string, a ...any) ([]webhook.Webhook, error) {
	rows, err := q.QueryContext(ctx, query, a...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []webhook.Webhook{}
	for rows.Next() {
		var w webhook.Webhook
		if err := scanWebhook(rows, &w); err != nil {
			return nil, err
		}
		out = append(out, w)
	}
	return out, rows.Err()
}

func (t *tx) UpdateWebhook(ctx context.Context, w webhook.Webhook) error {
	types, _ := json.Marshal(w.EventTypes)
	return affected(t.exec(ctx, latchkey.ErrNoParent, `UPDATE webhooks SET display_name = $4, url = $5, event_types = $6,
		enabled = $7, failing = $8, secret_sealed = $9, update_time = $10
		WHERE id = $1 AND tenant_id = $2 AND realm_id = $3`,
		w.ID, w.TenantID, w.RealmID, w.DisplayName, w.URL, string(types), boolInt(w.Enabled), boolInt(w.Failing),
		w.SecretSealed, micros(w.UpdateTime)))
}

func (t *tx) DeleteWebhook(ctx context.Context, tenantID, realmID, id string) error {
	return affected(t.exec(ctx, latchkey.ErrNoParent, `DELETE FROM webhooks WHERE id = $1 AND tenant_id = $2 AND realm_id = $3`,
		id, tenantID, realmID))
}

func (t *tx) ListDeliveries(ctx context.Context, ref string, limit int) ([]delivery.Delivery, error) {
	rows, err := t.r.QueryContext(ctx, `SELECT `+deliveryColumns+` FROM deliveries WHERE ref = $1
		ORDER BY create_time DESC, id DESC LIMIT $2`, ref, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []delivery.Delivery{}
	for rows.Next() {
		var d delivery.Delivery
		if err := scanDelivery(rows, &d); err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// RedeliverDelivery starts a finished delivery over: due now, its retries
// counted from now.
func (t *tx) RedeliverDelivery(ctx context.Context, id string, now time.Time) error {
	return affected(t.exec(ctx, latchkey.ErrNoParent, `UPDATE deliveries SET state = 'pending', attempts = 0,
		next_attempt_time = $2, create_time = $2, update_time = $2, lease_owner = NULL, lease_until = NULL
		WHERE id = $1 AND state <> 'pending'`, id, micros(now)))
}

// enabledWebhooksOf reads the enabled webhooks of the realms of the list
// that follows it.
const enabledWebhooksOf = `SELECT ` + webhookColumns + ` FROM webhooks WHERE enabled = 1 AND realm_id IN `

// fanOut queues the deliveries of events to the webhooks of their realms
// that subscribe to them, in the transaction that records them. hooks holds
// the enabled webhooks of the realms already read; fanOut reads the others.
func (t *tx) fanOut(ctx context.Context, es []audit.Event, hooks map[string][]webhook.Webhook) error {
	for _, e := range es {
		if e.RealmID == "" {
			continue
		}
		hs, seen := hooks[e.RealmID]
		if !seen {
			var err error
			if hs, err = t.webhooks(ctx, t.r, enabledWebhooksOf+`($1)`, e.RealmID); err != nil {
				return err
			}
			hooks[e.RealmID] = hs
		}
		if len(hs) == 0 {
			continue
		}
		ds, err := webhook.Deliveries(hs, e, e.CreateTime)
		if err != nil {
			return err
		}
		for _, d := range ds {
			if err := t.EnqueueDelivery(ctx, d); err != nil {
				return err
			}
		}
	}
	return nil
}

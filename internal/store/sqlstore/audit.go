package sqlstore

import (
	"context"
	"encoding/json"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/tracing"
	"github.com/latchkey/latchkey/internal/webhook"
)

func (t *tx) RecordEvent(ctx context.Context, e audit.Event) error {
	return t.RecordEvents(ctx, []audit.Event{e})
}

const eventColumns = `id, tenant_id, realm_id, actor_type, actor_id, action, resource_type, resource_id, request_id,
	client_ip, create_time, correlation_id, identity_id, application_id, credential_id, user_agent, outcome, reason,
	grant_type, actor_display_name, resource_display_name, changes`

// RecordEvents inserts events, in one statement up to insertBatch. Every
// event the store keeps is written here (webhook fan-out hooks in here).
func (t *tx) RecordEvents(ctx context.Context, es []audit.Event) error {
	if len(es) == 0 {
		return nil
	}
	rows := make([][]any, len(es))
	for i, e := range es {
		tracing.Correlate(ctx, e.CorrelationID) // a sign-in step's trace, found from the sign-in log
		changes := ""
		if len(e.Changes) > 0 {
			b, err := json.Marshal(e.Changes)
			if err != nil {
				return err
			}
			changes = string(b)
		}
		rows[i] = []any{e.ID, e.TenantID, e.RealmID, e.ActorType, e.ActorID, e.Action, e.ResourceType, e.ResourceID,
			e.RequestID, e.ClientIP, micros(e.CreateTime), e.CorrelationID, e.IdentityID, e.ApplicationID, e.CredentialID,
			e.UserAgent, e.Outcome, e.Reason, e.GrantType, e.ActorDisplayName, e.ResourceDisplayName, changes}
	}
	const insert = `INSERT INTO events (` + eventColumns + `)`
	hooks := map[string][]webhook.Webhook{}
	if t.d.Name == "postgres" && len(rows) < arrayInsertFrom {
		// One round trip, not two: the insert runs in a WITH of the query
		// that reads the webhooks of the events' realms.
		values, a := t.values(rows)
		var realms []string
		for _, e := range es {
			if _, seen := hooks[e.RealmID]; !seen && e.RealmID != "" {
				hooks[e.RealmID] = nil
				realms = append(realms, e.RealmID)
			}
		}
		// In a pipelined transaction, with the statements before it.
		query := `WITH recorded AS (` + insert + ` VALUES ` + values + `) ` + enabledWebhooksOf + t.in(&a, realms)
		err := t.later(ctx, piped{Statement: Statement{Query: query, Args: a, Row: func(row interface{ Scan(...any) error }) error {
			var h webhook.Webhook
			err := scanWebhook(row, &h)
			hooks[h.RealmID] = append(hooks[h.RealmID], h)
			return err
		}}, onForeignKey: latchkey.ErrNoParent})
		if err == nil {
			err = t.flush(ctx)
		}
		if err != nil {
			return err
		}
	} else if err := t.insert(ctx, latchkey.ErrNoParent, insert, rows, ""); err != nil {
		return err
	}
	return t.fanOut(ctx, es, hooks)
}

// eventFilter: action is stored lower case (audit.NewAt), so its operand
// is lowered and its indexes still serve; resource_type is compared
// lowered on both sides.
var eventFilter = map[string]column{
	"action": {name: "action", kind: lowered}, "resource_type": {name: "resource_type", kind: caseless},
	"resource_id": {name: "resource_id"}, "actor_id": {name: "actor_id"}, "request_id": {name: "request_id"},
	"realm_id": {name: "realm_id"}, "client_ip": {name: "client_ip"}, "ip": {name: "client_ip"},
	"create_time": {name: "create_time", kind: timestamp}, "identity_id": {name: "identity_id"},
	"application_id": {name: "application_id"}, "credential_id": {name: "credential_id"},
	"correlation_id": {name: "correlation_id"}, "outcome": {name: "outcome", kind: lowered},
}

func (t *tx) ListEvents(ctx context.Context, tenantID, realmID string, opts latchkey.ListOptions) ([]audit.Event, int, error) {
	q := listQuery{columns: eventColumns, from: "events", key: "id", filter: eventFilter, desc: true, countUpTo: audit.MaxTotal}
	q.conds = []string{"tenant_id = " + q.args.add(tenantID)}
	if realmID != "" {
		q.conds = append(q.conds, "realm_id = "+q.args.add(realmID))
	}
	return listOf(ctx, t, q, opts, nil, scanEvent)
}

// DeleteEventsBefore deletes by id, which sorts by time: the primary key
// finds the oldest rows, limit at a time, so that no delete holds the
// table long.
func (t *tx) DeleteEventsBefore(ctx context.Context, before time.Time, limit int) (int, error) {
	res, err := t.exec(ctx, latchkey.ErrNoParent, `DELETE FROM events WHERE id IN
		(SELECT id FROM events WHERE id < $1 ORDER BY id LIMIT $2)`, audit.IDsBefore(before), limit)
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return int(n), err
}

func scanEvent(s interface{ Scan(...any) error }, e *audit.Event) error {
	var ct int64
	var changes string
	err := s.Scan(&e.ID, &e.TenantID, &e.RealmID, &e.ActorType, &e.ActorID, &e.Action, &e.ResourceType, &e.ResourceID,
		&e.RequestID, &e.ClientIP, &ct, &e.CorrelationID, &e.IdentityID, &e.ApplicationID, &e.CredentialID,
		&e.UserAgent, &e.Outcome, &e.Reason, &e.GrantType, &e.ActorDisplayName, &e.ResourceDisplayName, &changes)
	e.CreateTime = fromMicros(ct)
	if err == nil && changes != "" {
		err = json.Unmarshal([]byte(changes), &e.Changes)
	}
	return err
}

func (t *tx) GetSetting(ctx context.Context, name string) (string, error) {
	var v string
	err := one(t.r.QueryRowContext(ctx, `SELECT value FROM settings WHERE name = $1`, name), &v)
	return v, err
}

func (t *tx) CreateSetting(ctx context.Context, name, value string) error {
	_, err := t.exec(ctx, latchkey.ErrNoParent, `INSERT INTO settings (name, value) VALUES ($1, $2)`, name, value)
	return err
}

package sqlstore

import (
	"context"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/audit"
)

func (t *tx) RecordEvent(ctx context.Context, e audit.Event) error {
	return t.recordEvents(ctx, []audit.Event{e})
}

// recordEvents inserts events, in one statement up to insertBatch.
func (t *tx) recordEvents(ctx context.Context, es []audit.Event) error {
	rows := make([][]any, len(es))
	for i, e := range es {
		rows[i] = []any{e.ID, e.TenantID, e.RealmID, e.ActorType, e.ActorID, e.Action, e.ResourceType, e.ResourceID,
			e.RequestID, e.ClientIP, micros(e.CreateTime)}
	}
	if err := t.insert(ctx, latchkey.ErrNoParent, `INSERT INTO events (id, tenant_id, realm_id, actor_type, actor_id, action,
		resource_type, resource_id, request_id, client_ip, create_time)`, rows, ""); err != nil {
		return err
	}
	return t.fanOut(ctx, es)
}

var eventFilter = map[string]column{
	"action": {name: "action"}, "resource_type": {name: "resource_type"}, "resource_id": {name: "resource_id"},
	"actor_id": {name: "actor_id"}, "request_id": {name: "request_id"}, "realm_id": {name: "realm_id"},
	"client_ip": {name: "client_ip"},
}

func (t *tx) ListEvents(ctx context.Context, tenantID, realmID string, opts latchkey.ListOptions) ([]audit.Event, int, error) {
	q := listQuery{columns: "id, tenant_id, realm_id, actor_type, actor_id, action, resource_type, resource_id, request_id, client_ip, create_time",
		from: "events", key: "id", filter: eventFilter, desc: true}
	q.conds = []string{"tenant_id = " + q.args.add(tenantID)}
	if realmID != "" {
		q.conds = append(q.conds, "realm_id = "+q.args.add(realmID))
	}
	return listOf(ctx, t, q, opts, nil, scanEvent)
}

func scanEvent(s interface{ Scan(...any) error }, e *audit.Event) error {
	var ct int64
	err := s.Scan(&e.ID, &e.TenantID, &e.RealmID, &e.ActorType, &e.ActorID, &e.Action, &e.ResourceType, &e.ResourceID, &e.RequestID, &e.ClientIP, &ct)
	e.CreateTime = fromMicros(ct)
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

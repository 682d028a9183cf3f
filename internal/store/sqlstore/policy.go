package sqlstore

import (
	"context"
	"encoding/json"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/policy"
)

func (t *tx) GetPolicy(ctx context.Context, realmID string) (policy.Policy, error) {
	var p policy.Policy
	var rules string
	var ut int64
	err := one(t.r.QueryRowContext(ctx, `SELECT realm_id, tenant_id, rules, default_effect, update_time FROM policies
		WHERE realm_id = $1`, realmID), &p.RealmID, &p.TenantID, &rules, &p.DefaultEffect, &ut)
	if err != nil {
		return p, err
	}
	p.UpdateTime = fromMicros(ut)
	return p, json.Unmarshal([]byte(rules), &p.Rules)
}

func (t *tx) PutPolicy(ctx context.Context, p policy.Policy) error {
	rules, _ := json.Marshal(p.Rules)
	_, err := t.exec(ctx, latchkey.ErrNoParent, `INSERT INTO policies (realm_id, tenant_id, rules, default_effect, update_time)
		VALUES ($1, $2, $3, $4, $5) ON CONFLICT (realm_id) DO UPDATE
		SET rules = excluded.rules, default_effect = excluded.default_effect, update_time = excluded.update_time`,
		p.RealmID, p.TenantID, string(rules), p.DefaultEffect, micros(p.UpdateTime))
	return err
}

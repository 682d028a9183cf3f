package storetest

import (
	"testing"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/policy"
	"github.com/latchkey/latchkey/internal/store"
)

// testPolicies: a realm's policy is stored whole and replaced whole.
func testPolicies(t *testing.T, s store.Store) {
	ctx := t.Context()
	r := newRealm(t, s)
	_, err := s.GetPolicy(ctx, r.ID)
	wantErr(t, "policy never put", err, latchkey.ErrNotFound)
	p := policy.Policy{TenantID: r.TenantID, RealmID: r.ID, DefaultEffect: policy.Deny, UpdateTime: now,
		Rules: []policy.Rule{{Effect: policy.Allow, Applications: []string{"*"}, Groups: []string{"g"}, Identities: []string{}}}}
	must(t, s.PutPolicy(ctx, p))
	got, err := s.GetPolicy(ctx, r.ID)
	must(t, err)
	equal(t, "policy", got, p)
	p.Rules, p.DefaultEffect, p.UpdateTime = []policy.Rule{}, policy.Allow, now.Add(time.Second)
	must(t, s.PutPolicy(ctx, p))
	got, _ = s.GetPolicy(ctx, r.ID)
	equal(t, "replaced policy", got, p)
}

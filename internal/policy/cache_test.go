package policy_test

import (
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/bootstrap"
	"github.com/latchkey/latchkey/internal/directory"
	"github.com/latchkey/latchkey/internal/nodecache"
	"github.com/latchkey/latchkey/internal/policy"
	"github.com/latchkey/latchkey/internal/secretbox"
	"github.com/latchkey/latchkey/internal/testenv"
)

// TestCacheAcrossNodes: a policy changed on one node decides on another
// that read the old one until nodecache.TTL has passed on its clock, and
// no longer.
func TestCacheAcrossNodes(t *testing.T) {
	for _, eng := range testenv.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			ctx := t.Context()
			st := eng.Open(t)
			box, err := secretbox.New(secretbox.NewKey())
			if err != nil {
				t.Fatal(err)
			}
			creds, _, err := bootstrap.Run(ctx, st, box, nil, func(string, string, string) string { return "" }, "http://localhost")
			if err != nil {
				t.Fatal(err)
			}
			ada, err := directory.NewService(st.Directory()).CreateIdentity(ctx, creds.TenantID, creds.RealmID, directory.Identity{
				DisplayName: "Ada", Traits: directory.Traits{Type: directory.TraitsV0, Username: "ada"}})
			if err != nil {
				t.Fatal(err)
			}
			clock := testenv.NewClock()
			here, there := policy.NewService(st.Policy()), policy.NewService(st.Policy())
			here.Clock, there.Clock = clock.Now, clock.Now
			put := func(rules ...policy.Rule) {
				t.Helper()
				if _, err := here.Put(ctx, creds.TenantID, creds.RealmID, policy.Policy{DefaultEffect: policy.Deny, Rules: rules}); err != nil {
					t.Fatal(err)
				}
			}
			allowed := func(s *policy.Service) bool {
				t.Helper()
				d, err := s.Decide(ctx, ada, "wiki")
				if err != nil {
					t.Fatal(err)
				}
				return d.Allowed
			}
			put(policy.Rule{Effect: policy.Allow, Applications: []string{policy.AnyApplication}, Groups: []string{}, Identities: []string{ada.ID}})
			if !allowed(there) {
				t.Fatal("the rule does not allow Ada")
			}
			put()
			if allowed(here) {
				t.Error("the node that changed the policy still allows")
			}
			clock.Advance(nodecache.TTL)
			if !allowed(there) {
				t.Error("the other node stopped trusting what it read before nodecache.TTL")
			}
			clock.Advance(time.Microsecond)
			if allowed(there) {
				t.Error("the other node still allows after nodecache.TTL")
			}
		})
	}
}

package directory_test

import (
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/directory"
	"github.com/latchkey/latchkey/internal/session"
	"github.com/latchkey/latchkey/internal/testenv"
)

// TestLosingAccessEndsSessions: suspending an identity ends its sessions
// as identity_suspended, deleting one (alone or in a batch) as
// identity_deleted, in the transaction of the change; others' live on.
func TestLosingAccessEndsSessions(t *testing.T) {
	for _, eng := range testenv.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			ctx := t.Context()
			st := eng.Open(t)
			clock := testenv.NewClock()
			svc := directory.NewService(st.Directory())
			svc.Clock = clock.Now
			realm := realmOf(t, st, svc, "t-"+eng.Name)
			tenant := directory.Tenant{ID: realm.TenantID}
			sessionOf := map[string]string{}
			for _, name := range []string{"ada", "bea", "cy", "dee"} {
				i, err := svc.CreateIdentity(ctx, tenant.ID, realm.ID, directory.Identity{DisplayName: name, Traits: directory.Traits{Username: name}})
				if err != nil {
					t.Fatal(err)
				}
				now := clock.Now()
				v := session.Session{ID: name + "-session", TenantID: tenant.ID, RealmID: realm.ID, IdentityID: i.ID, CredentialID: "k",
					AuthTime: now, IdleTimeout: time.Hour, CreateTime: now, LastSeenTime: now, IdleExpireTime: now.Add(time.Hour), AbsoluteExpireTime: now.Add(time.Hour)}
				if err := st.CreateSession(ctx, v); err != nil {
					t.Fatal(err)
				}
				sessionOf[name] = i.ID
			}
			ended := func(name, reason string) {
				t.Helper()
				v, err := st.GetSession(ctx, name+"-session")
				if err != nil || v.EndReason != reason {
					t.Errorf("%s's session: %+v %v, want ended as %q", name, v, err, reason)
				}
			}
			suspended := directory.StatusSuspended
			if _, err := svc.UpdateIdentity(ctx, tenant.ID, realm.ID, sessionOf["ada"], directory.IdentityPatch{Status: &suspended}); err != nil {
				t.Fatal(err)
			}
			ended("ada", session.ReasonIdentitySuspended)
			ended("bea", "")
			if err := svc.DeleteIdentity(ctx, tenant.ID, realm.ID, sessionOf["bea"]); err != nil {
				t.Fatal(err)
			}
			ended("bea", session.ReasonIdentityDeleted)
			if err := svc.BatchDeleteIdentities(ctx, tenant.ID, realm.ID, []string{sessionOf["cy"]}); err != nil {
				t.Fatal(err)
			}
			ended("cy", session.ReasonIdentityDeleted)
			ended("dee", "")
		})
	}
}

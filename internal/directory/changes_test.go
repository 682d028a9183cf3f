package directory_test

import (
	"errors"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/directory"
	"github.com/latchkey/latchkey/internal/store/sqlstore"
	"github.com/latchkey/latchkey/internal/testenv"
)

// TestStoreChangesReady: StoreChanges calls Changes.Ready once the
// memberships are written and before their groups are marked changed,
// which it then does; an error of Ready is StoreChanges', and the
// transaction's changes are undone with it. On both engines.
func TestStoreChangesReady(t *testing.T) {
	for _, eng := range testenv.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			ctx := t.Context()
			st := eng.Open(t)
			svc := directory.NewService(st.Directory())
			realm := realmOf(t, st, svc, "t-"+eng.Name)
			tenant := directory.Tenant{ID: realm.TenantID}
			g, err := svc.CreateGroup(ctx, tenant.ID, realm.ID, directory.Group{DisplayName: "Staff"}, nil)
			if err != nil {
				t.Fatal(err)
			}
			changes := func(name string) directory.Changes {
				i, err := directory.NewIdentity(tenant.ID, realm.ID, directory.Identity{DisplayName: name, Traits: directory.Traits{Username: name}}, time.Now(), nil)
				if err != nil {
					t.Fatal(err)
				}
				return directory.Changes{Creates: []directory.Identity{i}, Members: map[string][]string{g.ID: {i.ID}}}
			}

			c := changes("ada")
			ready := 0
			err = st.Directory().Update(ctx, func(tx directory.Tx) error {
				c.Ready = func() error {
					ready++
					members, err := tx.MembersAmong(ctx, g.ID, []string{c.Creates[0].ID})
					if err != nil {
						return err
					}
					now, err := tx.GetGroup(ctx, realm.ID, g.ID)
					if err != nil {
						return err
					}
					if len(members) != 1 || !now.UpdateTime.Equal(g.UpdateTime) {
						t.Errorf("at Ready: members %v, group updated %v (created %v): want the member, the group not yet marked", members, now.UpdateTime, g.UpdateTime)
					}
					return nil
				}
				return directory.StoreChanges(ctx, tx, c)
			})
			if err != nil || ready != 1 {
				t.Fatalf("StoreChanges: %v, Ready called %d times", err, ready)
			}
			after, err := st.GetGroup(ctx, realm.ID, g.ID)
			if err != nil {
				t.Fatal(err)
			}
			if !after.UpdateTime.After(g.UpdateTime) {
				t.Errorf("group updated %v after a member joined, created %v", after.UpdateTime, g.UpdateTime)
			}

			refused := errors.New("the batch before did not commit")
			c = changes("bea")
			c.Ready = func() error { return refused }
			err = st.Directory().Update(ctx, func(tx directory.Tx) error { return directory.StoreChanges(ctx, tx, c) })
			if !errors.Is(err, refused) {
				t.Fatalf("StoreChanges with Ready failing: %v", err)
			}
			if _, err := st.GetIdentity(ctx, realm.ID, c.Creates[0].ID); !errors.Is(err, latchkey.ErrNotFound) {
				t.Errorf("the identity of changes whose Ready failed: %v, want not found", err)
			}
		})
	}
}

// realmOf creates the tenant and a realm of it, with svc on st, at svc's time.
func realmOf(t *testing.T, st *sqlstore.Store, svc *directory.Service, tenant string) directory.Realm {
	now := svc.Clock.Now()
	if err := st.CreateTenant(t.Context(), directory.Tenant{ID: tenant, DisplayName: tenant, CreateTime: now, UpdateTime: now}); err != nil {
		t.Fatal(err)
	}
	r, err := svc.CreateRealm(t.Context(), tenant, directory.Realm{DisplayName: "R"})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

package directory_test

import (
	"errors"
	"testing"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/directory"
	"github.com/latchkey/latchkey/internal/filter"
	"github.com/latchkey/latchkey/internal/testenv"
)

// TestReadsCheckTheRealm: listing or getting identities of a realm that is
// not the tenant's is the realm's 404, even when the realm (another
// tenant's) holds the identity asked for; an empty realm of the tenant
// lists nothing, and a missing identity of it is the identity's 404.
func TestReadsCheckTheRealm(t *testing.T) {
	for _, eng := range testenv.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			ctx := t.Context()
			st := eng.Open(t)
			svc := directory.NewService(st.Directory())
			realms := map[string]string{}
			var ada directory.Identity
			for _, tenant := range []string{"mine", "theirs"} {
				realms[tenant] = realmOf(t, st, svc, tenant).ID
			}
			empty, err := svc.CreateRealm(ctx, "mine", directory.Realm{DisplayName: "Empty"})
			if err != nil {
				t.Fatal(err)
			}
			if ada, err = svc.CreateIdentity(ctx, "theirs", realms["theirs"], directory.Identity{DisplayName: "Ada", Traits: directory.Traits{Username: "ada"}}); err != nil {
				t.Fatal(err)
			}
			byName := latchkey.ListOptions{Limit: 21, Filter: &filter.Compare{Attr: "traits.username", Op: filter.Eq, Value: "ada"}}
			notFound := func(what string, err, want error) {
				t.Helper()
				var e *latchkey.Error
				if !errors.As(err, &e) || e.Code != latchkey.CodeNotFound || e.Error() != want.Error() {
					t.Errorf("%s: %v, want %v", what, err, want)
				}
			}
			realmNotFound := func(what string, err error) {
				t.Helper()
				notFound(what, err, directory.RealmNotFound(realms["theirs"]))
			}
			for _, opts := range []latchkey.ListOptions{{Limit: 21}, byName} {
				ids, _, err := svc.ListIdentities(ctx, "mine", realms["theirs"], opts)
				realmNotFound("list their realm as mine", err)
				if ids != nil {
					t.Errorf("their identities listed: %+v", ids)
				}
			}
			_, err = svc.GetIdentity(ctx, "mine", realms["theirs"], ada.ID)
			realmNotFound("get their identity as mine", err)

			if ids, total, err := svc.ListIdentities(ctx, "theirs", realms["theirs"], byName); err != nil || len(ids) != 1 || total != 1 || ids[0].ID != ada.ID {
				t.Errorf("their lookup of ada: %+v %d %v", ids, total, err)
			}
			if i, err := svc.GetIdentity(ctx, "theirs", realms["theirs"], ada.ID); err != nil || i.ID != ada.ID {
				t.Errorf("their get of ada: %+v %v", i, err)
			}
			if ids, total, err := svc.ListIdentities(ctx, "mine", empty.ID, byName); err != nil || len(ids) != 0 || total != 0 {
				t.Errorf("my empty realm: %+v %d %v", ids, total, err)
			}
			_, err = svc.GetIdentity(ctx, "mine", empty.ID, ada.ID)
			notFound("ada in my empty realm", err, directory.IdentityNotFound(ada.ID))
		})
	}
}

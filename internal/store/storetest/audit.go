package storetest

import (
	"slices"
	"testing"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/store"
)

func testEvents(t *testing.T, s store.Store) {
	ctx := t.Context()
	r := newRealm(t, s)
	other := addRealm(t, s, r.TenantID, "Other")
	var inRealm []audit.Event
	for i := range 6 {
		action := "identity.create"
		if i%3 == 2 {
			action = "identity.delete"
		}
		inRealm = append(inRealm, newEvent(r.TenantID, r.ID, i, action))
	}
	noise := []audit.Event{
		newEvent(r.TenantID, other.ID, 10, "identity.create"),
		newEvent(r.TenantID, "", 11, "realm.create"),
		newEvent(latchkey.NewTenantID(), r.ID, 12, "identity.create"),
	}
	// Recorded out of order: the list orders them.
	for _, e := range append(noise, inRealm[3], inRealm[0], inRealm[5], inRealm[1], inRealm[4], inRealm[2]) {
		must(t, s.RecordEvent(ctx, e))
	}
	wantErr(t, "record a taken id", s.RecordEvent(ctx, inRealm[0]), latchkey.ErrDuplicate)

	events := s.Audit()
	list, total, err := events.ListEvents(ctx, r.TenantID, r.ID, all(nil))
	must(t, err)
	newestFirst := slices.Clone(inRealm)
	slices.Reverse(newestFirst)
	equal(t, "events, newest first", list, newestFirst)
	wantTotal(t, "events", total, 6)

	checkPaging(t, func(o latchkey.ListOptions) ([]string, int, error) {
		list, total, err := events.ListEvents(ctx, r.TenantID, r.ID, o)
		return ids(list, eventID), total, err
	}, ids(newestFirst, eventID))

	// No realm: every event of the tenant, whatever its realm.
	list, total, err = events.ListEvents(ctx, r.TenantID, "", all(nil))
	must(t, err)
	tenantWide := slices.Sorted(slices.Values(append(ids(inRealm, eventID), noise[0].ID, noise[1].ID)))
	slices.Reverse(tenantWide)
	sameIDs(t, "tenant events, newest first", ids(list, eventID), tenantWide)
	wantTotal(t, "tenant events", total, len(tenantWide))
	for raw, want := range map[string][]audit.Event{
		`action eq "identity.delete"`:                              {inRealm[5], inRealm[2]},
		`resource_id eq "resource-1" or request_id eq "request-4"`: {inRealm[4], inRealm[1]},
		`actor_id eq "actor-1" and not (action sw "identity.c")`:   {inRealm[5], inRealm[2]},
		`resource_type eq "Realm"`:                                 nil,
		`client_ip eq "192.0.2.3"`:                                 {inRealm[3]},
	} {
		list, total, err := events.ListEvents(ctx, r.TenantID, r.ID, all(parse(t, raw, audit.FilterAttributes)))
		must(t, err)
		sameIDs(t, raw, ids(list, eventID), ids(want, eventID))
		wantTotal(t, raw, total, len(want))
	}
}

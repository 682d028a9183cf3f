package storetest

import (
	"testing"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/directory"
	"github.com/latchkey/latchkey/internal/store"
)

// testAddMemberships: memberships of several groups added at once, all or
// none, moving the update time of every group that gains members only.
func testAddMemberships(t *testing.T, s store.Store) {
	ctx := t.Context()
	r := newRealm(t, s)
	people := addIdentities(t, s, r, "user", 600)
	staff, ops, idle := addGroup(t, s, r, "Staff"), addGroup(t, s, r, "Ops"), addGroup(t, s, r, "Idle")
	members := func(g directory.Group) []string {
		t.Helper()
		list, _, err := s.ListMembers(ctx, g.ID, all(nil))
		must(t, err)
		return ids(list, identityID)
	}
	updated := func(g directory.Group) time.Time {
		t.Helper()
		got, err := s.GetGroup(ctx, r.ID, g.ID)
		must(t, err)
		return got.UpdateTime
	}
	wantErr(t, "a batch naming a missing identity", s.AddMemberships(ctx, map[string][]string{
		staff.ID: people, ops.ID: {people[0], "missing"}}), latchkey.ErrNoParent)
	sameIDs(t, "staff after the failed batch", members(staff), nil)
	wantErr(t, "a batch naming a missing group", s.AddMemberships(ctx, map[string][]string{
		staff.ID: people, "missing": people[:1]}), latchkey.ErrNoParent)

	must(t, s.AddMemberships(ctx, map[string][]string{staff.ID: people, ops.ID: people[:2], idle.ID: nil}))
	sameIDs(t, "staff", members(staff), people)
	sameIDs(t, "ops", members(ops), people[:2])
	sameIDs(t, "idle", members(idle), nil)
	if !updated(staff).After(staff.UpdateTime) || !updated(ops).After(ops.UpdateTime) || !updated(idle).Equal(idle.UpdateTime) {
		t.Errorf("update times: staff %v → %v, ops %v → %v, idle %v → %v", staff.UpdateTime, updated(staff),
			ops.UpdateTime, updated(ops), idle.UpdateTime, updated(idle))
	}
	must(t, s.AddMemberships(ctx, map[string][]string{ops.ID: people[1:3]})) // one again, one new
	sameIDs(t, "ops after a second batch", members(ops), people[:3])
	must(t, s.AddMemberships(ctx, nil))
}

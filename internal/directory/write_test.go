package directory_test

import (
	"strconv"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/directory"
)

// TestNewIdentity: what a create decides, whichever way the identity comes in.
func TestNewIdentity(t *testing.T) {
	at := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	ada := directory.Identity{DisplayName: "Ada", Traits: directory.Traits{Username: "ada"}}
	for _, tc := range []struct {
		name       string
		in         directory.Identity
		wantStatus string
		wantType   string
		wantErr    string
	}{
		{"defaults", ada, directory.StatusActive, directory.TraitsV0, ""},
		{"given status", with(ada, func(i *directory.Identity) { i.Status = directory.StatusSuspended }), directory.StatusSuspended, directory.TraitsV0, ""},
		{"what the caller may not decide", with(ada, func(i *directory.Identity) {
			i.ID, i.TenantID, i.RealmID, i.EnrollmentStatus, i.CreateTime = "mine", "other", "other", directory.Enrolled, at.Add(-time.Hour)
		}), directory.StatusActive, directory.TraitsV0, ""},
		{"invalid status", with(ada, func(i *directory.Identity) { i.Status = "gone" }), "", "", "status"},
		{"no username", with(ada, func(i *directory.Identity) { i.Traits.Username = "" }), "", "", "traits.username"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			i, err := directory.NewIdentity("t1", "r1", tc.in, at, nil)
			if tc.wantErr != "" {
				assertViolation(t, err, tc.wantErr)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(i.ID) != 16 || i.ID == tc.in.ID || i.TenantID != "t1" || i.RealmID != "r1" ||
				i.EnrollmentStatus != directory.Unenrolled || !i.CreateTime.Equal(at) || !i.UpdateTime.Equal(at) ||
				i.Status != tc.wantStatus || i.Traits.Type != tc.wantType || i.DisplayName != "Ada" {
				t.Errorf("got %+v", i)
			}
		})
	}
}

// TestNewIdentityFromIDs: identities created with the ids of one batch
// take them in turn: after the first byte, the second id counts one up.
func TestNewIdentityFromIDs(t *testing.T) {
	var ids latchkey.IDs
	var got []uint64
	for _, name := range []string{"ada", "grace"} {
		i, err := directory.NewIdentity("t1", "r1", directory.Identity{DisplayName: name, Traits: directory.Traits{Username: name}}, time.Time{}, &ids)
		if err != nil {
			t.Fatal(err)
		}
		tail, err := strconv.ParseUint(i.ID[2:], 16, 64)
		if err != nil || len(i.ID) != 16 {
			t.Fatalf("id %q: %v", i.ID, err)
		}
		got = append(got, tail)
	}
	if got[1] != got[0]+1 && got[1] != 0 {
		t.Errorf("tails %x, %x: not one after the other", got[0], got[1])
	}
}

// TestEditIdentity: what an update keeps, validates and stamps.
func TestEditIdentity(t *testing.T) {
	created := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := created.Add(time.Hour)
	old, err := directory.NewIdentity("t1", "r1", directory.Identity{DisplayName: "Ada", Traits: directory.Traits{Username: "ada"}}, created, nil)
	if err != nil {
		t.Fatal(err)
	}
	old.EnrollmentStatus = directory.Enrolled
	edited := old
	edited.ID, edited.TenantID, edited.RealmID, edited.CreateTime, edited.EnrollmentStatus = "x", "x", "x", at, directory.Unenrolled
	edited.DisplayName, edited.Status = "Ada L", directory.StatusSuspended
	i, err := directory.EditIdentity(old, edited, at)
	if err != nil {
		t.Fatal(err)
	}
	if i.ID != old.ID || i.TenantID != "t1" || i.RealmID != "r1" || !i.CreateTime.Equal(created) ||
		i.EnrollmentStatus != directory.Enrolled || !i.UpdateTime.Equal(at) || i.DisplayName != "Ada L" || i.Status != directory.StatusSuspended {
		t.Errorf("got %+v", i)
	}
	if !directory.LosesAccess(old, i) {
		t.Error("a suspension does not lose access")
	}
	edited.Traits.PrimaryEmailAddress = "not an address"
	_, err = directory.EditIdentity(old, edited, at)
	assertViolation(t, err, "traits.primary_email_address")
}

// TestNewGroup: what a group's create decides.
func TestNewGroup(t *testing.T) {
	at := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	g, err := directory.NewGroup("t1", "r1", directory.Group{ID: "mine", DisplayName: "Staff"}, at)
	if err != nil || len(g.ID) != 16 || g.TenantID != "t1" || g.RealmID != "r1" || !g.CreateTime.Equal(at) || !g.UpdateTime.Equal(at) {
		t.Errorf("got %+v, %v", g, err)
	}
	_, err = directory.NewGroup("t1", "r1", directory.Group{DisplayName: "a;b"}, at)
	assertViolation(t, err, "display_name")
}

func with(i directory.Identity, change func(*directory.Identity)) directory.Identity {
	change(&i)
	return i
}

// assertViolation fails unless err reports exactly the field.
func assertViolation(t *testing.T, err error, field string) {
	t.Helper()
	if got := violated(t, err); len(got) != 1 || got[0] != field {
		t.Fatalf("violations %v, want [%s]", got, field)
	}
}

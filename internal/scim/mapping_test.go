package scim

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/directory"
)

const base = "https://id.example.com/v1/tenants/t1/realms/r1/scim/v2"

var (
	created = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	updated = time.Date(2024, 6, 2, 8, 30, 15, 123456000, time.UTC)
)

// fullIdentity has every trait set to a distinct value.
func fullIdentity() directory.Identity {
	t := directory.Traits{Type: directory.TraitsV0}
	for _, name := range directory.TraitNames {
		*t.Field(name) = "v-" + name
	}
	t.PrimaryEmailAddress, t.SecondaryEmailAddress = "bjensen@example.com", "babs@example.org"
	return directory.Identity{ID: "e372db224c06e850", RealmID: "r1", TenantID: "t1", DisplayName: "Babs Jensen",
		Status: directory.StatusActive, Traits: t, CreateTime: created, UpdateTime: updated}
}

// viaClient is what a client sends back after reading u: its JSON, decoded
// as a request body.
func viaClient(t *testing.T, u User) User {
	t.Helper()
	b, err := json.Marshal(u)
	if err != nil {
		t.Fatal(err)
	}
	var out User
	if err := Decode(b, &out); err != nil {
		t.Fatalf("Decode: %v", err)
	}
	return out
}

func TestRoundTripIsLossless(t *testing.T) {
	full := fullIdentity()
	suspended := full
	suspended.Status = directory.StatusSuspended
	cases := map[string]directory.Identity{"every trait": full, "suspended": suspended}
	// One identity per trait, with only that trait (and the username every
	// identity has): a trait the tables forget fails here.
	for _, name := range directory.TraitNames {
		i := directory.Identity{ID: "id1", DisplayName: "D", Status: directory.StatusActive,
			Traits: directory.Traits{Type: directory.TraitsV0, Username: "u"}}
		*i.Traits.Field(name) = "only-" + name
		if name == "secondary_email_address" || name == "secondary_phone" {
			// A secondary value alone becomes the primary one: see fillSlots.
			continue
		}
		cases["only "+name] = i
	}
	for name, i := range cases {
		t.Run(name, func(t *testing.T) {
			u := viaClient(t, UserFromIdentity(i, nil, base))
			display, status, traits, err := IdentityFromUser(u)
			if err != nil {
				t.Fatal(err)
			}
			if display != i.DisplayName || status != i.Status {
				t.Errorf("display, status = %q, %q; want %q, %q", display, status, i.DisplayName, i.Status)
			}
			if traits != i.Traits {
				t.Errorf("traits:\n got %+v\nwant %+v", traits, i.Traits)
			}
		})
	}
}

func TestEveryTraitIsMapped(t *testing.T) {
	mapped := map[string]bool{}
	for _, f := range scalarTraits {
		mapped[f.trait] = true
	}
	for _, m := range valueSlots {
		for _, s := range m.slots {
			mapped[s.trait] = true
		}
	}
	for _, f := range addressFields {
		mapped[f.trait] = true
	}
	for _, name := range directory.TraitNames {
		if !mapped[name] {
			t.Errorf("trait %s has no SCIM attribute", name)
		}
	}
}

func TestUserFromIdentity(t *testing.T) {
	i := fullIdentity()
	groups := []directory.Group{{ID: "g1", DisplayName: "Admins"}, {ID: "g2", DisplayName: "Staff"}}
	u := UserFromIdentity(i, groups, base+"/")
	checks := []struct {
		name      string
		got, want any
	}{
		{"schemas", u.Schemas, []string{SchemaUser, SchemaEnterpriseUser}},
		{"id", u.ID, i.ID},
		{"userName", u.UserName, "v-username"},
		{"externalId", u.ExternalID, "v-external_id"},
		{"active", *u.Active, true},
		{"emails", u.Emails, []MultiValue{{Value: "bjensen@example.com", Type: "work", Primary: true},
			{Value: "babs@example.org", Type: "other"}}},
		{"phoneNumbers", u.PhoneNumbers, []MultiValue{{Value: "v-primary_phone", Type: "work", Primary: true},
			{Value: "v-secondary_phone", Type: "mobile"}}},
		{"photos", u.Photos, []MultiValue{{Value: "v-photo", Type: "photo", Primary: true}}},
		{"address", u.Addresses[0].Type + " " + u.Addresses[0].Locality, "work v-locality"},
		{"manager", *u.Enterprise.Manager, Manager{Value: "v-manager_id", Ref: base + "/Users/v-manager_id",
			DisplayName: "v-manager_name"}},
		{"groups", u.Groups, []Reference{{Value: "g1", Ref: base + "/Groups/g1", Display: "Admins", Type: "direct"},
			{Value: "g2", Ref: base + "/Groups/g2", Display: "Staff", Type: "direct"}}},
		{"meta", *u.Meta, Meta{ResourceType: "User", Created: "2024-05-01T12:00:00Z",
			LastModified: "2024-06-02T08:30:15.123456Z", Location: base + "/Users/e372db224c06e850",
			Version: UserVersion(i, groups)}},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s = %#v, want %#v", c.name, c.got, c.want)
		}
	}

	bare := UserFromIdentity(directory.Identity{ID: "x", DisplayName: "X", Status: directory.StatusSuspended,
		Traits: directory.Traits{Type: directory.TraitsV0, Username: "x"}}, nil, base)
	if *bare.Active || bare.Enterprise != nil || bare.Name != nil || bare.Addresses != nil ||
		!reflect.DeepEqual(bare.Schemas, []string{SchemaUser}) {
		t.Errorf("a bare identity renders as %+v", bare)
	}
}

func TestVersionFollowsUpdateTime(t *testing.T) {
	a, b := Version(updated), Version(updated.Add(time.Microsecond))
	if a == b || !strings.HasPrefix(a, `W/"`) {
		t.Errorf("versions %s and %s", a, b)
	}
}

func TestIdentityFromUser(t *testing.T) {
	yes, no := true, false
	cases := []struct {
		name    string
		user    User
		display string
		status  string
		traits  func(*directory.Traits)
	}{
		{"displayName given", User{UserName: "u", DisplayName: "Shown", Name: &Name{Formatted: "F"}},
			"Shown", "active", func(t *directory.Traits) { t.FormattedName = "F" }},
		{"displayName from name.formatted", User{UserName: "u", Name: &Name{Formatted: "Ms. B J", GivenName: "B"}},
			"Ms. B J", "active", func(t *directory.Traits) { t.FormattedName, t.GivenName = "Ms. B J", "B" }},
		{"displayName from given and family names", User{UserName: "u", Name: &Name{GivenName: "Barbara", FamilyName: "Jensen"}},
			"Barbara Jensen", "active", func(t *directory.Traits) { t.GivenName, t.FamilyName = "Barbara", "Jensen" }},
		{"displayName from userName", User{UserName: "bjensen", Active: &yes}, "bjensen", "active", nil},
		{"inactive", User{UserName: "u", Active: &no}, "u", "suspended", nil},
		{"primary e-mail second", User{UserName: "u", Emails: []MultiValue{{Value: "a@x"}, {Value: "b@x", Primary: true}}},
			"u", "active", func(t *directory.Traits) { t.PrimaryEmailAddress, t.SecondaryEmailAddress = "b@x", "a@x" }},
		{"empty values are no values", User{UserName: "u", Emails: []MultiValue{{Type: "home"}, {Value: "a@x"}, {Primary: true}}},
			"u", "active", func(t *directory.Traits) { t.PrimaryEmailAddress = "a@x" }},
		{"enterprise", User{UserName: "u", Enterprise: &EnterpriseUser{Department: "D", Manager: &Manager{Value: "m", Ref: "ignored"}}},
			"u", "active", func(t *directory.Traits) { t.Department, t.ManagerID = "D", "m" }},
		{"read-only attributes ignored", User{UserName: "u", ID: "other", Groups: []Reference{{Value: "g"}}, Meta: &Meta{Version: "x"}},
			"u", "active", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			display, status, traits, err := IdentityFromUser(c.user)
			if err != nil {
				t.Fatal(err)
			}
			want := directory.Traits{Type: directory.TraitsV0, Username: c.user.UserName}
			if c.traits != nil {
				c.traits(&want)
			}
			if display != c.display || status != c.status || traits != want {
				t.Errorf("got %q %q %+v\nwant %q %q %+v", display, status, traits, c.display, c.status, want)
			}
		})
	}
}

func TestIdentityFromUserRejects(t *testing.T) {
	cases := []struct {
		name   string
		user   User
		detail string
	}{
		{"no userName", User{DisplayName: "x"}, "userName"},
		{"a third e-mail", User{UserName: "u", Emails: []MultiValue{{Value: "a@x"}, {Value: "b@x"}, {Value: "c@x"}}}, "emails"},
		{"two primary e-mails", User{UserName: "u", Emails: []MultiValue{{Value: "a@x", Primary: true}, {Value: "b@x", Primary: true}}}, "emails"},
		{"a third phone number", User{UserName: "u", PhoneNumbers: []MultiValue{{Value: "1"}, {Value: "2"}, {Value: "3"}}}, "phoneNumbers"},
		{"a second photo", User{UserName: "u", Photos: []MultiValue{{Value: "p1"}, {Value: "p2"}}}, "photos"},
		{"a second address", User{UserName: "u", Addresses: []Address{{Locality: "Paris"}, {Locality: "Lyon", Type: "home"}}}, "addresses"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, _, _, err := IdentityFromUser(c.user)
			if err == nil || err.ScimType != "invalidValue" || err.Status != "400" || !strings.Contains(err.Detail, c.detail) {
				t.Errorf("got %v, want invalidValue naming %s", err, c.detail)
			}
		})
	}
}

func TestGroupMapping(t *testing.T) {
	g := directory.Group{ID: "g1", DisplayName: "Admins", ExternalID: "okta-7", CreateTime: created, UpdateTime: updated}
	members := []directory.Identity{{ID: "i1", DisplayName: "Alice"}, {ID: "i2", DisplayName: "Bob"}}
	out := GroupFromDirectory(g, members, base)
	want := Group{Schemas: []string{SchemaGroup}, ID: "g1", ExternalID: "okta-7", DisplayName: "Admins",
		Members: []Reference{{Value: "i1", Ref: base + "/Users/i1", Display: "Alice", Type: "User"},
			{Value: "i2", Ref: base + "/Users/i2", Display: "Bob", Type: "User"}},
		Meta: &Meta{ResourceType: "Group", Created: "2024-05-01T12:00:00Z", LastModified: "2024-06-02T08:30:15.123456Z",
			Location: base + "/Groups/g1", Version: Version(updated)}}
	if !reflect.DeepEqual(out, want) {
		t.Errorf("GroupFromDirectory:\n got %+v\nwant %+v", out, want)
	}

	display, ext, ids, err := DirectoryFromGroup(Group{DisplayName: "Admins", ExternalID: "e",
		Members: []Reference{{Value: "i1"}, {Value: "i2", Type: "user"}, {Value: "i1"}}})
	if err != nil || display != "Admins" || ext != "e" || !reflect.DeepEqual(ids, []string{"i1", "i2"}) {
		t.Errorf("DirectoryFromGroup = %q %q %v %v", display, ext, ids, err)
	}
	for name, g := range map[string]Group{
		"no displayName":    {Members: []Reference{{Value: "i1"}}},
		"member of no id":   {DisplayName: "G", Members: []Reference{{Display: "Alice"}}},
		"a group as member": {DisplayName: "G", Members: []Reference{{Value: "g2", Type: "Group"}}},
	} {
		if _, _, _, err := DirectoryFromGroup(g); err == nil || err.ScimType != "invalidValue" {
			t.Errorf("%s: got %v, want invalidValue", name, err)
		}
	}
}

func TestFromError(t *testing.T) {
	cases := []struct {
		err      error
		status   string
		scimType string
		detail   string
	}{
		{latchkey.Invalid(latchkey.FieldViolation{Field: "traits.username", Description: "longer than 64 characters"},
			latchkey.FieldViolation{Field: "traits.primary_email_address", Description: "not a valid e-mail address"},
			latchkey.FieldViolation{Field: "display_name", Description: "empty string"}),
			"400", "invalidValue",
			`userName: longer than 64 characters; emails[type eq "work"].value: not a valid e-mail address; displayName: empty string`},
		{latchkey.Errorf(latchkey.CodeConflict, "username already exists"), "409", "uniqueness", "username already exists"},
		{latchkey.NotFound("Identity", "x", "identity not found"), "404", "", "identity not found"},
		{errors.New("disk on fire"), "500", "", "internal server error"},
		{InvalidPath("as is"), "400", "invalidPath", "as is"},
	}
	for _, c := range cases {
		got := FromError(c.err)
		if got.Status != c.status || got.ScimType != c.scimType || got.Detail != c.detail {
			t.Errorf("FromError(%v) = %+v", c.err, got)
		}
	}
}

// TestUserVersion: a User's version follows its own update time and the
// set of its groups (ids and names), in any order.
func TestUserVersion(t *testing.T) {
	i := directory.Identity{ID: "i", UpdateTime: time.UnixMicro(1717317015123456)}
	a, b := directory.Group{ID: "a"}, directory.Group{ID: "b"}
	base := UserVersion(i, []directory.Group{a, b})
	if UserVersion(i, []directory.Group{b, a}) != base {
		t.Error("the order of the groups changes the version")
	}
	later := i
	later.UpdateTime = later.UpdateTime.Add(time.Microsecond)
	for what, v := range map[string]string{
		"no group": UserVersion(i, nil), "one group fewer": UserVersion(i, []directory.Group{a}),
		"another group": UserVersion(i, []directory.Group{a, {ID: "c"}}), "a later update": UserVersion(later, []directory.Group{a, b}),
		"ids run together": UserVersion(i, []directory.Group{{ID: "ab"}}),
		"a renamed group":  UserVersion(i, []directory.Group{a, {ID: "b", DisplayName: "Bees"}}),
	} {
		if v == base {
			t.Errorf("%s keeps the version %s", what, base)
		}
	}
}

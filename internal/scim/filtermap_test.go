package scim

import (
	"slices"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/internal/directory"
	"github.com/latchkey/latchkey/internal/filter"
)

const (
	primaryEmail = "traits.primary_email_address"
	otherEmail   = "traits.secondary_email_address"
	isTrue       = "id pr"
	isFalse      = "not (id pr)"
)

// storeAttributes are the attributes the stores evaluate.
func storeAttributes(r Resource) []string {
	if r.Name == "Group" {
		return []string{"id", "display_name", "external_id", "members.value", "create_time", "update_time"}
	}
	attrs := []string{"id", "display_name", "status", "enrollment_status", "create_time", "update_time"}
	for _, t := range directory.TraitNames {
		attrs = append(attrs, "traits."+t)
	}
	return attrs
}

func translate(t *testing.T, r Resource, raw string) (string, *Error) {
	t.Helper()
	e, perr := filter.Parse(raw)
	if perr != nil {
		t.Fatalf("Parse(%s): %v", raw, perr)
	}
	x, err := TranslateFilter(r, e)
	if err != nil {
		return "", err
	}
	// The result speaks the store's vocabulary only, and renders to a filter
	// that parses back to itself.
	allowed := storeAttributes(r)
	if werr := filter.Walk(x, func(attr string, _ *filter.Compare) error {
		if !slices.Contains(allowed, attr) {
			t.Errorf("%s: translation names %q", raw, attr)
		}
		return nil
	}); werr != nil || filter.HasValuePath(x) {
		t.Errorf("%s: translation %s has a value path", raw, filter.String(x))
	}
	s := filter.String(x)
	again, perr := filter.Parse(s)
	if perr != nil || filter.String(again) != s {
		t.Errorf("%s: translation %s does not parse back: %v", raw, s, perr)
	}
	return s, nil
}

func TestTranslateUserFilters(t *testing.T) {
	emailsValue := func(op, v string) string {
		return "((" + primaryEmail + " pr and " + primaryEmail + " " + op + ` "` + v + `") or (` +
			otherEmail + " pr and " + otherEmail + " " + op + ` "` + v + `"))`
	}
	cases := []struct{ in, want string }{
		{`userName eq "bjensen"`, `traits.username eq "bjensen"`},
		{`USERNAME Eq "bjensen"`, `traits.username eq "bjensen"`},
		{`urn:ietf:params:scim:schemas:core:2.0:User:userName eq "b"`, `traits.username eq "b"`},
		{`externalId eq "00ujl29u0le5T6Aj10h7"`, `traits.external_id eq "00ujl29u0le5T6Aj10h7"`},
		{`id eq "e372db224c06e850"`, `id eq "e372db224c06e850"`},
		{`displayName co "Bab"`, `display_name co "Bab"`},
		{`name.familyName sw "J"`, `traits.family_name sw "J"`},
		{`title pr or nickName pr`, `(traits.title pr or traits.nick_name pr)`},
		{`userName gt "m"`, `traits.username gt "m"`},
		{`active eq true`, `status eq "active"`},
		{`active eq false`, `status eq "suspended"`},
		{`active ne "False"`, `status ne "suspended"`},
		{`active pr`, isTrue},
		{`meta.created ge "2024-05-01T14:00:00+02:00"`, `create_time ge "2024-05-01T12:00:00Z"`},
		{`meta.lastModified lt "2011-05-13T04:42:34.5Z"`, `update_time lt "2011-05-13T04:42:34.5Z"`},
		{`meta.lastModified pr`, isTrue},
		{`meta.resourceType eq "User"`, isTrue},
		{`meta.resourceType eq "Group"`, isFalse},
		{`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq "R&D"`, `traits.department eq "R&D"`},
		{`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "m1"`, `traits.manager_id eq "m1"`},
		{`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.displayName co "Jo"`, `traits.manager_name co "Jo"`},
		{`emails[type eq "work"]`, primaryEmail + " pr"},
		{`emails[type eq "WORK" and value co "@example.com"]`, "(" + primaryEmail + " pr and " + primaryEmail + ` co "@example.com")`},
		{`emails[type eq "work" or value ew ".org"]`, "(" + primaryEmail + " pr or (" + otherEmail + " pr and " + otherEmail + ` ew ".org"))`},
		{`emails.value eq "b@x"`, emailsValue("eq", "b@x")},
		{`emails co "@x"`, emailsValue("co", "@x")},
		{`urn:ietf:params:scim:schemas:core:2.0:User:emails[value eq "b@x"]`, emailsValue("eq", "b@x")},
		{`emails pr`, "(" + primaryEmail + " pr or " + otherEmail + " pr)"},
		{`emails[type eq "home"]`, isFalse},
		{`emails[not (type eq "work")]`, otherEmail + " pr"},
		{`emails[primary eq true]`, primaryEmail + " pr"},
		{`emails[primary eq "False"]`, otherEmail + " pr"},
		{`emails[display pr]`, isFalse},
		{`emails[display ne "x"]`, "(" + primaryEmail + " pr or " + otherEmail + " pr)"},
		{`emails.type eq "other"`, otherEmail + " pr"},
		{`phoneNumbers[type eq "mobile" and value sw "+33"]`, `(traits.secondary_phone pr and traits.secondary_phone sw "+33")`},
		{`photos[value pr]`, `(traits.photo pr and traits.photo pr)`},
		{`addresses.locality eq "Paris"`, `((((((traits.country pr or traits.formatted_address pr) or traits.locality pr) or ` +
			`traits.postal_code pr) or traits.region pr) or traits.street_address pr) and traits.locality eq "Paris")`},
		{`userName eq "a" and not (active eq false)`, `(traits.username eq "a" and not (status eq "suspended"))`},
		{`emails[type eq "home"] or userName eq "a"`, `traits.username eq "a"`},
		{`not (emails[type eq "home"])`, isTrue},
	}
	for _, c := range cases {
		got, err := translate(t, UserResource, c.in)
		if err != nil || got != c.want {
			t.Errorf("%s\n got %s %v\nwant %s", c.in, got, err, c.want)
		}
	}
}

func TestTranslateGroupFilters(t *testing.T) {
	cases := []struct{ in, want string }{
		{`displayName eq "Admins"`, `display_name eq "Admins"`},
		{`externalId eq "okta-1"`, `external_id eq "okta-1"`},
		{`id eq "g1" and meta.lastModified gt "2024-01-01T00:00:00Z"`, `(id eq "g1" and update_time gt "2024-01-01T00:00:00Z")`},
		{`members[value eq "i1"]`, `members.value eq "i1"`},
		{`members[value eq "i1" or value eq "i2"]`, `(members.value eq "i1" or members.value eq "i2")`},
		{`members[type eq "User" and value eq "i1"]`, `members.value eq "i1"`},
		{`members.value eq "i1"`, `members.value eq "i1"`},
		{`members eq "i1"`, `members.value eq "i1"`},
		{`members pr`, `members.value pr`},
		{`members[type eq "User"]`, `members.value pr`},
		{`members[type eq "Group"]`, isFalse},
		{`not (members[value eq "i1"])`, `not (members.value eq "i1")`},
		{`displayName sw "ad" and members pr`, `(display_name sw "ad" and members.value pr)`},
	}
	for _, c := range cases {
		got, err := translate(t, GroupResource, c.in)
		if err != nil || got != c.want {
			t.Errorf("%s\n got %s %v\nwant %s", c.in, got, err, c.want)
		}
	}
}

func TestTranslateFilterRejects(t *testing.T) {
	cases := []struct {
		resource Resource
		in       string
	}{
		{UserResource, `favoriteColor eq "blue"`},
		{UserResource, `name eq "x"`},
		{UserResource, `name.nick eq "x"`},
		{UserResource, `urn:example:custom:User:x eq "y"`},
		{UserResource, `active gt true`},
		{UserResource, `active co "t"`},
		{UserResource, `active eq "yes"`},
		{UserResource, `userName eq 5`},
		{UserResource, `userName eq true`},
		{UserResource, `userName eq null`},
		{UserResource, `meta.created co "2024"`},
		{UserResource, `meta.created gt "yesterday"`},
		{UserResource, `meta.location eq "x"`},
		{UserResource, `groups.value eq "g1"`},
		{UserResource, `groups[value eq "g1"]`},
		{UserResource, `emails[kind eq "work"]`},
		{UserResource, `emails[primary gt false]`},
		{UserResource, `name[givenName eq "x"]`},
		{UserResource, `addresses eq "Paris"`},
		{UserResource, `emails.value eq "a" and favoriteColor pr`},
		{GroupResource, `userName eq "x"`},
		{GroupResource, `members.value ne "i1"`},
		{GroupResource, `members.value co "i"`},
		{GroupResource, `members.display eq "Alice"`},
		{GroupResource, `members[display eq "Alice"]`},
		{GroupResource, `members[value eq "i1" and value eq "i2"]`},
		{GroupResource, `members[not (value eq "i1")]`},
	}
	for _, c := range cases {
		got, err := translate(t, c.resource, c.in)
		if err == nil || err.ScimType != "invalidFilter" || err.Status != "400" {
			t.Errorf("%s %s: got %q, %v; want invalidFilter", c.resource.Name, c.in, got, err)
		}
	}
}

func TestConstantsAreFreshNodes(t *testing.T) {
	for _, raw := range []string{`active pr`, `meta.resourceType eq "Group"`} {
		e, _ := filter.Parse(raw)
		x, err := TranslateFilter(UserResource, e)
		if err != nil {
			t.Fatal(err)
		}
		if x == trueExpr || x == falseExpr {
			t.Errorf("%s: the translation is a shared constant", raw)
		}
	}
}

func TestSortAttribute(t *testing.T) {
	cases := []struct {
		resource Resource
		in, want string
	}{
		{UserResource, "userName", "traits.username"},
		{UserResource, "USERNAME", "traits.username"},
		{UserResource, "name.familyName", "traits.family_name"},
		{UserResource, "emails", primaryEmail},
		{UserResource, "emails.value", primaryEmail},
		{UserResource, "phoneNumbers", "traits.primary_phone"},
		{UserResource, "addresses.postalCode", "traits.postal_code"},
		{UserResource, "active", "status"},
		{UserResource, "meta.created", "create_time"},
		{UserResource, "meta.lastModified", "update_time"},
		{UserResource, "id", "id"},
		{UserResource, "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department", "traits.department"},
		{GroupResource, "displayName", "display_name"},
		{GroupResource, "externalId", "external_id"},
	}
	for _, c := range cases {
		got, err := SortAttribute(c.resource, c.in)
		if err != nil || got != c.want {
			t.Errorf("%s %s: got %q %v, want %q", c.resource.Name, c.in, got, err, c.want)
		}
	}
	for _, c := range []struct {
		resource Resource
		in       string
	}{
		{UserResource, "favoriteColor"}, {UserResource, ""}, {UserResource, "groups"}, {UserResource, "name"},
		{UserResource, `emails[type eq "work"].value`}, {UserResource, "meta.resourceType"}, {UserResource, "emails.display"},
		{GroupResource, "members"}, {GroupResource, "members.value"},
	} {
		got, err := SortAttribute(c.resource, c.in)
		if err == nil || err.ScimType != "invalidValue" {
			t.Errorf("%s %q: got %q %v, want invalidValue", c.resource.Name, c.in, got, err)
		}
	}
}

// TestStoreVocabularyMatchesTheStores guards the store attribute names
// against drifting from the list IdentityFilterAttributes starts.
func TestStoreVocabularyMatchesTheStores(t *testing.T) {
	for _, a := range directory.IdentityFilterAttributes {
		if !slices.Contains(storeAttributes(UserResource), a) {
			t.Errorf("%s is missing", a)
		}
	}
	for _, f := range scalarTraits {
		if !strings.HasPrefix(userStore().scalars[f.path].column, "traits.") {
			t.Errorf("%s has no trait column", f.path)
		}
	}
}

func TestNoFilterMatchesEverything(t *testing.T) {
	if x, err := TranslateFilter(UserResource, nil); x != nil || err != nil {
		t.Errorf("TranslateFilter(nil) = %v, %v", x, err)
	}
}

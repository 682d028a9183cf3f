package scim

import (
	"reflect"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/internal/directory"
)

const enterprise = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"

// userDoc is the document of fullIdentity as a member of g1.
func userDoc() map[string]any {
	return ToDocument(UserFromIdentity(fullIdentity(), []directory.Group{{ID: "g1", DisplayName: "Admins"}}, base))
}

// bareUserDoc is the document of a user with a username and nothing else.
func bareUserDoc() map[string]any {
	return ToDocument(UserFromIdentity(directory.Identity{ID: "u1", DisplayName: "U", Status: directory.StatusActive,
		Traits: directory.Traits{Type: directory.TraitsV0, Username: "u"}}, nil, base))
}

// groupDoc is the document of group g1 with members i1 and i2.
func groupDoc() map[string]any {
	return ToDocument(GroupFromDirectory(directory.Group{ID: "g1", DisplayName: "Admins", CreateTime: created, UpdateTime: updated},
		[]directory.Identity{{ID: "i1", DisplayName: "Alice"}, {ID: "i2", DisplayName: "Bob"}}, base))
}

// patchOp decodes a PatchOp body as the HTTP layer does.
func patchOp(t *testing.T, body string) PatchOp {
	t.Helper()
	var op PatchOp
	if err := Decode([]byte(body), &op); err != nil {
		t.Fatalf("Decode(%s): %v", body, err)
	}
	return op
}

// ops wraps operations in a PatchOp body.
func ops(operations ...string) string {
	return `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[` + strings.Join(operations, ",") + `]}`
}

// identityOf maps a patched user document back onto an identity.
func identityOf(t *testing.T, doc map[string]any) (string, string, directory.Traits) {
	t.Helper()
	var u User
	if err := FromDocument(doc, &u); err != nil {
		t.Fatalf("FromDocument: %v", err)
	}
	display, status, traits, err := IdentityFromUser(u)
	if err != nil {
		t.Fatalf("IdentityFromUser: %v", err)
	}
	return display, status, traits
}

func memberIDs(t *testing.T, doc map[string]any) []string {
	t.Helper()
	var g Group
	if err := FromDocument(doc, &g); err != nil {
		t.Fatalf("FromDocument: %v", err)
	}
	_, _, ids, err := DirectoryFromGroup(g)
	if err != nil {
		t.Fatalf("DirectoryFromGroup: %v", err)
	}
	return ids
}

// TestUserPatches replays user PATCH bodies as Okta and Entra document them,
// and the RFC's own forms, and checks the identity they lead to.
func TestUserPatches(t *testing.T) {
	cases := []struct {
		name   string
		doc    func() map[string]any
		body   string
		status string
		traits func(*directory.Traits) // changes to the traits of doc
	}{
		{"okta deactivate", userDoc, ops(`{"op":"replace","value":{"active":false}}`), "suspended", nil},
		{"okta reactivate", userDoc, ops(`{"op":"replace","value":{"active":false}}`, `{"op":"replace","value":{"active":true}}`), "active", nil},
		{"okta replace givenName", userDoc, ops(`{"op":"replace","path":"name.givenName","value":"Barb"}`), "active",
			func(t *directory.Traits) { t.GivenName = "Barb" }},
		{"okta replace name without path keeps the other parts", userDoc,
			ops(`{"op":"replace","value":{"name":{"givenName":"Barb"},"userName":"barb"}}`), "active",
			func(t *directory.Traits) { t.GivenName, t.Username = "Barb", "barb" }},
		{"entra disable with a boolean string", userDoc, ops(`{"op":"Replace","path":"active","value":"False"}`), "suspended", nil},
		{"entra disable with a boolean", userDoc, ops(`{"op":"Replace","path":"active","value":false}`), "suspended", nil},
		{"entra multi-valued properties", userDoc, ops(
			`{"op":"Replace","path":"emails[type eq \"work\"].value","value":"updatedEmail@microsoft.com"}`,
			`{"op":"Replace","path":"name.familyName","value":"updatedFamilyName"}`), "active",
			func(t *directory.Traits) {
				t.PrimaryEmailAddress, t.FamilyName = "updatedEmail@microsoft.com", "updatedFamilyName"
			}},
		{"entra add of a work e-mail the user lacks", bareUserDoc,
			ops(`{"op":"Add","path":"emails[type eq \"work\"].value","value":"new@example.com"}`), "active",
			func(t *directory.Traits) {
				*t = directory.Traits{Type: t.Type, Username: "u", PrimaryEmailAddress: "new@example.com"}
			}},
		{"entra add of a mobile phone", bareUserDoc, ops(
			`{"op":"Add","path":"phoneNumbers[type eq \"work\"].value","value":"+1 555 0100"}`,
			`{"op":"Add","path":"phoneNumbers[type eq \"mobile\"].value","value":"+1 555 0199"}`), "active",
			func(t *directory.Traits) {
				*t = directory.Traits{Type: t.Type, Username: "u", PrimaryPhone: "+1 555 0100", SecondaryPhone: "+1 555 0199"}
			}},
		{"entra manager as its id alone", userDoc,
			ops(`{"op":"Add","path":"` + enterprise + `:manager","value":"m-2"}`), "active",
			func(t *directory.Traits) { t.ManagerID = "m-2" }},
		{"manager value", userDoc, ops(`{"op":"replace","path":"` + enterprise + `:manager.value","value":"m-3"}`), "active",
			func(t *directory.Traits) { t.ManagerID = "m-3" }},
		{"manager removed", userDoc, ops(`{"op":"Remove","path":"` + enterprise + `:manager"}`), "active",
			func(t *directory.Traits) { t.ManagerID, t.ManagerName = "", "" }},
		{"entra no-path value with URN keys", bareUserDoc, ops(`{"op":"Add","value":{"` + enterprise +
			`:department":"Sales","` + enterprise + `:employeeNumber":"42","name.givenName":"Una","displayName":"Una"}}`), "active",
			func(t *directory.Traits) {
				*t = directory.Traits{Type: t.Type, Username: "u", Department: "Sales", EmployeeNumber: "42", GivenName: "Una"}
			}},
		{"extension object without path", userDoc, ops(`{"op":"replace","value":{"` + enterprise +
			`":{"costCenter":"CC","manager":{"displayName":"Boss"}}}}`), "active",
			func(t *directory.Traits) { t.CostCenter, t.ManagerName = "CC", "Boss" }},
		{"path naming the extension", userDoc, ops(`{"op":"replace","path":"` + enterprise + `","value":{"division":"Div"}}`), "active",
			func(t *directory.Traits) { t.Division = "Div" }},
		{"core URN prefix", userDoc, ops(`{"op":"replace","path":"urn:ietf:params:scim:schemas:core:2.0:User:nickName","value":"Babs"}`), "active",
			func(t *directory.Traits) { t.NickName = "Babs" }},
		{"names in any case", userDoc, ops(`{"op":"REPLACE","path":"NAME.GIVENNAME","value":"G"}`,
			`{"op":"rePlace","path":"Emails[Type EQ \"WORK\"].Value","value":"w@x"}`,
			`{"op":"replace","value":{"Name":{"FamilyName":"F"},"TITLE":"T"}}`), "active",
			func(t *directory.Traits) {
				t.GivenName, t.PrimaryEmailAddress, t.FamilyName, t.Title = "G", "w@x", "F", "T"
			}},
		{"replace with null unassigns", userDoc, ops(`{"op":"replace","path":"nickName","value":null}`,
			`{"op":"replace","path":"title","value":""}`), "active",
			func(t *directory.Traits) { t.NickName, t.Title = "", "" }},
		{"remove a sub-attribute", userDoc, ops(`{"op":"remove","path":"name.middleName"}`), "active",
			func(t *directory.Traits) { t.MiddleName = "" }},
		{"remove the work e-mail: the other one becomes primary", userDoc,
			ops(`{"op":"remove","path":"emails[type eq \"work\"]"}`), "active",
			func(t *directory.Traits) { t.PrimaryEmailAddress, t.SecondaryEmailAddress = "babs@example.org", "" }},
		{"remove by a filter that matches nothing", userDoc, ops(`{"op":"remove","path":"emails[type eq \"home\"]"}`), "active", nil},
		{"replace all e-mails", userDoc,
			ops(`{"op":"replace","path":"emails","value":[{"value":"x@x","type":"home"},{"value":"y@x","primary":"True"}]}`), "active",
			func(t *directory.Traits) { t.PrimaryEmailAddress, t.SecondaryEmailAddress = "y@x", "x@x" }},
		{"a new primary e-mail demotes the old one", bareUserDoc, ops(
			`{"op":"add","path":"emails","value":[{"value":"a@x","primary":true}]}`,
			`{"op":"add","path":"emails","value":{"value":"b@x","primary":true}}`), "active",
			func(t *directory.Traits) {
				*t = directory.Traits{Type: t.Type, Username: "u", PrimaryEmailAddress: "b@x", SecondaryEmailAddress: "a@x"}
			}},
		{"primary set through a filter", userDoc, ops(`{"op":"replace","path":"emails[value eq \"BABS@example.org\"].primary","value":"True"}`), "active",
			func(t *directory.Traits) {
				t.PrimaryEmailAddress, t.SecondaryEmailAddress = "babs@example.org", "bjensen@example.com"
			}},
		{"adding an e-mail that is there adds no other", userDoc,
			ops(`{"op":"add","path":"emails","value":[{"value":"bjensen@example.com","type":"home"}]}`), "active", nil},
		{"adding an e-mail that is there in another case respells it", userDoc,
			ops(`{"op":"add","path":"emails","value":[{"value":"BJensen@example.com"}]}`), "active",
			func(t *directory.Traits) { t.PrimaryEmailAddress = "BJensen@example.com" }},
		{"address parts", userDoc, ops(`{"op":"replace","path":"addresses[type eq \"work\"].locality","value":"Lyon"}`), "active",
			func(t *directory.Traits) { t.Locality = "Lyon" }},
		{"an id equal to the current one is no change", userDoc,
			ops(`{"op":"replace","value":{"id":"e372db224c06e850","displayName":"Babs"}}`), "active", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			doc := c.doc()
			snapshot := deepCopy(doc)
			out, err := ApplyPatch(doc, patchOp(t, c.body), UserResource)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(doc, snapshot) {
				t.Error("ApplyPatch changed its input")
			}
			var want directory.Traits
			if _, _, want = identityOf(t, c.doc()); c.traits != nil {
				c.traits(&want)
			}
			_, status, traits := identityOf(t, out)
			if status != c.status || traits != want {
				t.Errorf("status %q, traits\n %+v\nwant %q,\n %+v", status, traits, c.status, want)
			}
		})
	}
}

func TestPatchKeepsOneSourceOfSchemas(t *testing.T) {
	out, err := ApplyPatch(bareUserDoc(), patchOp(t, ops(`{"op":"add","path":"`+enterprise+`:department","value":"D"}`)), UserResource)
	if err != nil {
		t.Fatal(err)
	}
	if want := []any{SchemaUser, SchemaEnterpriseUser}; !reflect.DeepEqual(out["schemas"], want) {
		t.Errorf("schemas = %v, want %v", out["schemas"], want)
	}
	out, err = ApplyPatch(out, patchOp(t, ops(`{"op":"remove","path":"`+enterprise+`"}`)), UserResource)
	if err != nil {
		t.Fatal(err)
	}
	if want := []any{SchemaUser}; !reflect.DeepEqual(out["schemas"], want) {
		t.Errorf("schemas = %v, want %v", out["schemas"], want)
	}
}

func TestGroupPatches(t *testing.T) {
	cases := []struct {
		name    string
		body    string
		display string
		members []string
	}{
		{"okta rename (with the group's own id)", ops(`{"op":"replace","value":{"id":"g1","displayName":"Test SCIMv2"}}`),
			"Test SCIMv2", []string{"i1", "i2"}},
		{"entra rename", ops(`{"op":"Replace","path":"displayName","value":"1879db59-3bdf-4490-ad68-ab880a269474updatedDisplayName"}`),
			"1879db59-3bdf-4490-ad68-ab880a269474updatedDisplayName", []string{"i1", "i2"}},
		{"okta add members", ops(`{"op":"add","path":"members","value":[{"value":"i3","display":"carol@example.com"}]}`),
			"Admins", []string{"i1", "i2", "i3"}},
		{"entra add members", ops(`{"op":"Add","path":"members","value":[{"$ref":null,"value":"i3"},{"$ref":null,"value":"i4"}]}`),
			"Admins", []string{"i1", "i2", "i3", "i4"}},
		{"adding a member twice keeps one", ops(`{"op":"add","path":"members","value":[{"value":"i2"},{"value":"i3"},{"value":"i3"}]}`),
			"Admins", []string{"i1", "i2", "i3"}},
		{"okta remove a member by filter", ops(`{"op":"remove","path":"members[value eq \"i1\"]"}`),
			"Admins", []string{"i2"}},
		{"entra remove members listed in value", ops(`{"op":"Remove","path":"members","value":[{"$ref":null,"value":"i2"}]}`),
			"Admins", []string{"i1"}},
		{"remove a member that is not there", ops(`{"op":"remove","path":"members[value eq \"nobody\"]"}`),
			"Admins", []string{"i1", "i2"}},
		{"member ids compare exactly", ops(`{"op":"remove","path":"members[value eq \"I1\"]"}`),
			"Admins", []string{"i1", "i2"}},
		{"remove members by either of two ids", ops(`{"op":"remove","path":"members[value eq \"i1\" or value eq \"i2\"]"}`),
			"Admins", nil},
		{"remove all members", ops(`{"op":"remove","path":"members"}`), "Admins", nil},
		{"replace all members", ops(`{"op":"replace","path":"members","value":[{"value":"i9"}]}`), "Admins", []string{"i9"}},
		{"add and remove in one PatchOp", ops(`{"op":"add","path":"members","value":[{"value":"i3"}]}`,
			`{"op":"remove","path":"members[value eq \"i1\"]"}`), "Admins", []string{"i2", "i3"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, err := ApplyPatch(groupDoc(), patchOp(t, c.body), GroupResource)
			if err != nil {
				t.Fatal(err)
			}
			if out["displayName"] != c.display {
				t.Errorf("displayName = %v, want %s", out["displayName"], c.display)
			}
			if got := memberIDs(t, out); !reflect.DeepEqual(got, c.members) {
				t.Errorf("members = %v, want %v", got, c.members)
			}
		})
	}
}

// TestPatchErrors reaches every scimType ApplyPatch reports, and checks that
// a failed PatchOp changes nothing.
func TestPatchErrors(t *testing.T) {
	cases := []struct {
		name     string
		resource Resource
		body     string
		scimType string
	}{
		{"unknown op", UserResource, ops(`{"op":"move","path":"title","value":"x"}`), "invalidSyntax"},
		{"no operations", UserResource, ops(), "invalidSyntax"},
		{"unknown attribute", UserResource, ops(`{"op":"replace","path":"favoriteColor","value":"x"}`), "invalidPath"},
		{"unknown sub-attribute", UserResource, ops(`{"op":"replace","path":"name.nick","value":"x"}`), "invalidPath"},
		{"unknown schema", UserResource, ops(`{"op":"replace","path":"urn:example:custom:2.0:User:costCenter","value":"x"}`), "invalidPath"},
		{"a schema alone", UserResource, ops(`{"op":"replace","path":"urn:ietf:params:scim:schemas:core:2.0:User","value":{}}`), "invalidPath"},
		{"unclosed bracket", UserResource, ops(`{"op":"replace","path":"emails[type eq \"work\"","value":"x"}`), "invalidPath"},
		{"filter on a single value", UserResource, ops(`{"op":"replace","path":"name[givenName eq \"x\"]","value":{}}`), "invalidPath"},
		{"sub-attribute of a string", UserResource, ops(`{"op":"replace","path":"title.value","value":"x"}`), "invalidPath"},
		{"unknown key without path", UserResource, ops(`{"op":"replace","value":{"favoriteColor":"x"}}`), "invalidPath"},
		{"unknown sub-attribute in a value", UserResource, ops(`{"op":"replace","path":"name","value":{"nick":"x"}}`), "invalidPath"},
		{"bad filter syntax", UserResource, ops(`{"op":"replace","path":"emails[type eqq \"work\"].value","value":"x"}`), "invalidFilter"},
		{"unknown attribute in a filter", UserResource, ops(`{"op":"remove","path":"emails[kind eq \"work\"]"}`), "invalidFilter"},
		{"gt on a boolean in a filter", UserResource, ops(`{"op":"remove","path":"emails[primary gt true]"}`), "invalidFilter"},
		{"remove without path", UserResource, ops(`{"op":"remove"}`), "noTarget"},
		{"replace through a filter matching nothing", UserResource,
			ops(`{"op":"replace","path":"emails[type eq \"home\"].value","value":"x@x"}`), "noTarget"},
		{"add through a filter add cannot fill", UserResource,
			ops(`{"op":"add","path":"emails[value co \"zzz\"].type","value":"home"}`), "noTarget"},
		{"change the id", UserResource, ops(`{"op":"replace","path":"id","value":"other"}`), "mutability"},
		{"remove the id", UserResource, ops(`{"op":"remove","path":"id"}`), "mutability"},
		{"change meta", UserResource, ops(`{"op":"replace","path":"meta.version","value":"W/\"1\""}`), "mutability"},
		{"add a group to a user", UserResource, ops(`{"op":"add","path":"groups","value":[{"value":"g2"}]}`), "mutability"},
		{"remove the userName", UserResource, ops(`{"op":"remove","path":"userName"}`), "mutability"},
		{"empty the userName", UserResource, ops(`{"op":"replace","value":{"userName":""}}`), "mutability"},
		{"remove a group's displayName", GroupResource, ops(`{"op":"remove","path":"displayName"}`), "mutability"},
		{"a boolean that is not one", UserResource, ops(`{"op":"replace","path":"active","value":"yes"}`), "invalidValue"},
		{"a number for a string", UserResource, ops(`{"op":"replace","path":"userName","value":5}`), "invalidValue"},
		{"add without a value", UserResource, ops(`{"op":"add","path":"title"}`), "invalidValue"},
		{"two primary values", UserResource,
			ops(`{"op":"replace","path":"emails","value":[{"value":"a@x","primary":true},{"value":"b@x","primary":true}]}`), "invalidValue"},
		{"no path and no object", UserResource, ops(`{"op":"replace","value":"x"}`), "invalidValue"},
		{"an object for a string", GroupResource, ops(`{"op":"replace","path":"displayName","value":{"x":1}}`), "invalidValue"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			doc := userDoc()
			if c.resource.Name == "Group" {
				doc = groupDoc()
			}
			snapshot := deepCopy(doc)
			out, err := ApplyPatch(doc, patchOp(t, c.body), c.resource)
			if err == nil || err.ScimType != c.scimType || err.Status != "400" {
				t.Fatalf("got %v (%v), want a 400 %s", err, out, c.scimType)
			}
			if out != nil || !reflect.DeepEqual(doc, snapshot) {
				t.Error("a failed PatchOp changed the document")
			}
		})
	}
}

func TestPatchIsAtomic(t *testing.T) {
	for _, body := range []string{
		ops(`{"op":"replace","path":"displayName","value":"Changed"}`, `{"op":"replace","path":"nope","value":"x"}`),
		ops(`{"op":"add","path":"emails","value":[{"value":"c@x","primary":true}]}`, `{"op":"replace","path":"id","value":"x"}`),
		ops(`{"op":"remove","path":"name"}`, `{"op":"remove"}`),
	} {
		doc := userDoc()
		snapshot := deepCopy(doc)
		out, err := ApplyPatch(doc, patchOp(t, body), UserResource)
		if err == nil || out != nil {
			t.Fatalf("%s: got %v, %v; want an error", body, out, err)
		}
		if !reflect.DeepEqual(doc, snapshot) {
			t.Errorf("%s: the document changed", body)
		}
		if !strings.HasPrefix(err.Detail, "operation 2: ") && err.ScimType != "mutability" {
			t.Errorf("%s: detail %q does not name the failed operation", body, err.Detail)
		}
	}
	// And the same first operation alone succeeds, so the test can fail.
	if _, err := ApplyPatch(userDoc(), patchOp(t, ops(`{"op":"replace","path":"displayName","value":"Changed"}`)), UserResource); err != nil {
		t.Fatal(err)
	}
}

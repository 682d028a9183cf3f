package scim

import (
	"encoding/json"
	"reflect"
	"testing"
)

func TestDecodeUser(t *testing.T) {
	// Entra's create request, with the liberties clients take.
	body := `{
		"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
		"id": "ignored", "meta": {"resourceType": "User"}, "groups": [{"value": "g9"}],
		"externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
		"UserName": "Test_User_ab6490ee",
		"active": "True",
		"emails": [{"primary": "true", "type": "work", "value": "Test_User@testuser.com"}],
		"name": {"formatted": "givenName familyName", "familyName": "familyName", "givenName": "givenName"},
		"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"Department": "Sales", "manager": "m-1"},
		"roles": [],
		"urn:ietf:params:scim:schemas:extension:custom:2.0:User": {"worksiteId": "180"}
	}`
	var u User
	if err := Decode([]byte(body), &u); err != nil {
		t.Fatal(err)
	}
	yes := true
	want := User{
		Schemas:    []string{SchemaUser, SchemaEnterpriseUser},
		ExternalID: "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef", UserName: "Test_User_ab6490ee", Active: &yes,
		Emails:     []MultiValue{{Value: "Test_User@testuser.com", Type: "work", Primary: true}},
		Name:       &Name{Formatted: "givenName familyName", FamilyName: "familyName", GivenName: "givenName"},
		Enterprise: &EnterpriseUser{Department: "Sales", Manager: &Manager{Value: "m-1"}},
	}
	if !reflect.DeepEqual(u, want) {
		got, _ := json.Marshal(u)
		exp, _ := json.Marshal(want)
		t.Errorf("got  %s\nwant %s", got, exp)
	}
}

func TestDecodeRejects(t *testing.T) {
	cases := []struct {
		body     string
		scimType string
	}{
		{`{"userName": "a"`, "invalidSyntax"},
		{`["userName"]`, "invalidSyntax"},
		{`{"userName": "a"} {}`, "invalidSyntax"},
		{`{"userName": "a", "schemas": "urn"}`, "invalidSyntax"},
		{`{"userName": 5}`, "invalidValue"},
		{`{"userName": "a", "active": "maybe"}`, "invalidValue"},
		{`{"userName": "a", "name": "Babs"}`, "invalidValue"},
		{`{"userName": "a", "emails": [{"value": true}]}`, "invalidValue"},
	}
	for _, c := range cases {
		var u User
		if err := Decode([]byte(c.body), &u); err == nil || err.ScimType != c.scimType {
			t.Errorf("%s: got %v, want %s", c.body, err, c.scimType)
		}
	}
}

func TestDecodeLeniencies(t *testing.T) {
	var u User
	if err := Decode([]byte(`{"userName":"a","emails":"a@x","phoneNumbers":{"value":"1"}}`), &u); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(u.Emails, []MultiValue{{Value: "a@x"}}) || !reflect.DeepEqual(u.PhoneNumbers, []MultiValue{{Value: "1"}}) {
		t.Errorf("emails %v, phoneNumbers %v", u.Emails, u.PhoneNumbers)
	}
	var g Group
	if err := Decode([]byte(`{"DisplayName":"G","members":[{"value":"i1","$ref":null}],"id":"x"}`), &g); err != nil {
		t.Fatal(err)
	}
	if g.DisplayName != "G" || g.ID != "" || !reflect.DeepEqual(g.Members, []Reference{{Value: "i1"}}) {
		t.Errorf("group %+v", g)
	}
	var op PatchOp
	if err := Decode([]byte(`{"operations":[{"OP":"Add","Path":"title","Value":7}]}`), &op); err != nil {
		t.Fatal(err)
	}
	if len(op.Operations) != 1 || op.Operations[0].Op != "Add" || op.Operations[0].Value != json.Number("7") {
		t.Errorf("PatchOp %+v", op)
	}
}

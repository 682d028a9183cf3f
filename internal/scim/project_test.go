package scim

import (
	"reflect"
	"testing"
)

func TestProject(t *testing.T) {
	user := userDoc()
	cases := []struct {
		name               string
		doc                map[string]any
		resource           Resource
		attributes, except []string
		want               map[string]any
	}{
		{"attributes", user, UserResource, []string{"userName", "NAME.givenName", "emails.value", "emails.type", "nosuch"}, nil,
			map[string]any{"schemas": []any{SchemaUser}, "id": "e372db224c06e850", "userName": "v-username",
				"name": map[string]any{"givenName": "v-given_name"},
				"emails": []any{map[string]any{"value": "bjensen@example.com", "type": "work"},
					map[string]any{"value": "babs@example.org", "type": "other"}}}},
		{"an extension attribute", user, UserResource, []string{enterprise + ":department"}, nil,
			map[string]any{"schemas": []any{SchemaUser, SchemaEnterpriseUser}, "id": "e372db224c06e850",
				enterprise: map[string]any{"department": "v-department"}}},
		{"excluded members", groupDoc(), GroupResource, nil, []string{"members", "id"},
			func() map[string]any { g := groupDoc(); delete(g, "members"); return g }()},
		{"excluded sub-attributes", user, UserResource, []string{"emails", "displayName"}, []string{"emails.type", "emails.primary", "displayName"},
			map[string]any{"schemas": []any{SchemaUser}, "id": "e372db224c06e850",
				"emails": []any{map[string]any{"value": "bjensen@example.com"}, map[string]any{"value": "babs@example.org"}}}},
	}
	for _, c := range cases {
		snapshot := deepCopy(c.doc)
		got := Project(c.doc, c.resource, c.attributes, c.except)
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s:\n got %v\nwant %v", c.name, got, c.want)
		}
		if !reflect.DeepEqual(c.doc, snapshot) {
			t.Errorf("%s: Project changed its input", c.name)
		}
	}
}

package scim

import (
	"slices"
	"testing"
)

// CheckResponse fails t unless every resource of a SCIM response body (a
// User, a Group, or each of a ListResponse's) has only attributes that the
// RFC 7643 schemas served at /Schemas describe, each with a value of its
// type, and an id.
func CheckResponse(t *testing.T, body map[string]any) {
	t.Helper()
	docs, _ := asJSON(t, SchemaDocuments(base+"/")).([]any)
	byID := map[string]map[string]any{}
	for _, d := range docs {
		doc := d.(map[string]any)
		byID[doc["id"].(string)] = doc
	}
	check := func(r map[string]any) {
		t.Helper()
		schemas := schemaList(r)
		core := SchemaUser
		if slices.Contains(schemas, SchemaGroup) {
			core = SchemaGroup
		} else if !slices.Contains(schemas, SchemaUser) {
			return // a Schema or ResourceType document: TestSchemaDocuments checks those
		}
		if id, _ := r["id"].(string); id == "" { // returned "always" (RFC 7643 §3.1)
			t.Errorf("%s without id: %v", core, r)
		}
		checkDocumented(t, r, byID[core], byID)
	}
	switch schemas := schemaList(body); {
	case slices.Contains(schemas, SchemaListResponse):
		resources, _ := body["Resources"].([]any)
		for _, r := range resources {
			check(r.(map[string]any))
		}
	case slices.Contains(schemas, SchemaUser), slices.Contains(schemas, SchemaGroup):
		check(body)
	}
}

func schemaList(r map[string]any) []string {
	var out []string
	list, _ := r["schemas"].([]any)
	for _, s := range list {
		if v, ok := s.(string); ok {
			out = append(out, v)
		}
	}
	return out
}

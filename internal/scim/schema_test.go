package scim

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/internal/directory"
)

// asJSON renders v and parses it back as a generic value, as a client sees it.
func asJSON(t *testing.T, v any) any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("invalid JSON %s: %v", b, err)
	}
	return out
}

func TestSchemaDocuments(t *testing.T) {
	docs, _ := asJSON(t, SchemaDocuments(base+"/")).([]any)
	byID := map[string]map[string]any{}
	for _, d := range docs {
		doc := d.(map[string]any)
		id, _ := doc["id"].(string)
		byID[id] = doc
		if s := doc["schemas"].([]any); len(s) != 1 || s[0] != SchemaSchema {
			t.Errorf("%s: schemas %v", id, s)
		}
		meta := doc["meta"].(map[string]any)
		if meta["location"] != base+"/Schemas/"+id || meta["resourceType"] != "Schema" {
			t.Errorf("%s: meta %v", id, meta)
		}
		for _, a := range doc["attributes"].([]any) {
			checkAttribute(t, id, a.(map[string]any))
		}
	}
	for _, id := range []string{SchemaUser, SchemaEnterpriseUser, SchemaGroup} {
		if byID[id] == nil {
			t.Errorf("no schema %s", id)
		}
	}

	// Every attribute the mapping writes is in the documents.
	user := UserFromIdentity(fullIdentity(), []directory.Group{{ID: "g1", DisplayName: "G"}}, base)
	group := GroupFromDirectory(directory.Group{ID: "g1", DisplayName: "G", ExternalID: "e", CreateTime: created, UpdateTime: updated},
		[]directory.Identity{{ID: "i1", DisplayName: "A"}}, base)
	checkDocumented(t, asJSON(t, user).(map[string]any), byID[SchemaUser], byID)
	checkDocumented(t, asJSON(t, group).(map[string]any), byID[SchemaGroup], byID)
}

var (
	attributeTypes = []string{"string", "boolean", "decimal", "integer", "dateTime", "binary", "reference", "complex"}
	mutabilities   = []string{"readOnly", "readWrite", "immutable", "writeOnly"}
	returns        = []string{"always", "never", "default", "request"}
	uniquenesses   = []string{"none", "server", "global"}
)

// checkAttribute checks an attribute against RFC 7643 §7.
func checkAttribute(t *testing.T, where string, a map[string]any) {
	name, _ := a["name"].(string)
	where += ":" + name
	for _, k := range []string{"name", "type", "multiValued", "description", "required", "caseExact", "mutability", "returned", "uniqueness"} {
		if _, ok := a[k]; !ok {
			t.Errorf("%s has no %s", where, k)
		}
	}
	for k, allowed := range map[string][]string{"type": attributeTypes, "mutability": mutabilities, "returned": returns, "uniqueness": uniquenesses} {
		if v, _ := a[k].(string); !slices.Contains(allowed, v) {
			t.Errorf("%s: %s %q", where, k, v)
		}
	}
	subs, _ := a["subAttributes"].([]any)
	if (a["type"] == "complex") != (len(subs) > 0) {
		t.Errorf("%s: type %v with %d sub-attributes", where, a["type"], len(subs))
	}
	if a["type"] == "reference" && a["referenceTypes"] == nil {
		t.Errorf("%s: a reference without referenceTypes", where)
	}
	for _, s := range subs {
		sub := s.(map[string]any)
		if sub["type"] == "complex" {
			t.Errorf("%s: a complex sub-attribute", where)
		}
		checkAttribute(t, where, sub)
	}
}

// checkDocumented checks that every attribute of a rendered resource is
// described by its schemas.
func checkDocumented(t *testing.T, resource map[string]any, core map[string]any, byID map[string]map[string]any) {
	for k, v := range resource {
		switch {
		case k == "schemas":
		case strings.HasPrefix(k, "urn:"):
			ext := byID[k]
			if ext == nil {
				t.Errorf("no schema %s", k)
				continue
			}
			checkDocumented(t, v.(map[string]any), ext, byID)
		default:
			a := attributeNamed(core["attributes"], k)
			if a == nil {
				t.Errorf("%s: attribute %s is not in the schema", core["id"], k)
				continue
			}
			checkValue(t, a, v)
		}
	}
}

func checkValue(t *testing.T, a map[string]any, v any) {
	if list, ok := v.([]any); ok {
		if a["multiValued"] != true {
			t.Errorf("%s is a list but not multi-valued", a["name"])
		}
		for _, e := range list {
			checkValue(t, a, e)
		}
		return
	}
	m, ok := v.(map[string]any)
	if !ok {
		return
	}
	for k := range m {
		if attributeNamed(a["subAttributes"], k) == nil {
			t.Errorf("%s.%s is not in the schema", a["name"], k)
		}
	}
}

func attributeNamed(attrs any, name string) map[string]any {
	list, _ := attrs.([]any)
	for _, a := range list {
		if m := a.(map[string]any); m["name"] == name {
			return m
		}
	}
	return nil
}

func TestResourceTypeDocuments(t *testing.T) {
	docs := asJSON(t, ResourceTypeDocuments(base)).([]any)
	want := map[string][2]string{"User": {"/Users", SchemaUser}, "Group": {"/Groups", SchemaGroup}}
	if len(docs) != len(want) {
		t.Fatalf("%d resource types", len(docs))
	}
	for _, d := range docs {
		doc := d.(map[string]any)
		id := doc["id"].(string)
		if doc["endpoint"] != want[id][0] || doc["schema"] != want[id][1] || doc["name"] != id {
			t.Errorf("%s: %v", id, doc)
		}
		if doc["meta"].(map[string]any)["location"] != base+"/ResourceTypes/"+id {
			t.Errorf("%s: meta %v", id, doc["meta"])
		}
		exts := doc["schemaExtensions"].([]any)
		if id == "User" && (len(exts) != 1 || exts[0].(map[string]any)["schema"] != SchemaEnterpriseUser ||
			exts[0].(map[string]any)["required"] != false) {
			t.Errorf("User extensions %v", exts)
		}
		if id == "Group" && len(exts) != 0 {
			t.Errorf("Group extensions %v", exts)
		}
	}
}

func TestServiceProviderConfig(t *testing.T) {
	doc := asJSON(t, ServiceProviderConfig(base)).(map[string]any)
	get := func(path string) any {
		var v any = doc
		for _, k := range strings.Split(path, ".") {
			v = v.(map[string]any)[k]
		}
		return v
	}
	for path, want := range map[string]any{
		"patch.supported": true, "bulk.supported": true, "bulk.maxOperations": 1000.0, "bulk.maxPayloadSize": 1048576.0,
		"filter.supported": true, "filter.maxResults": 1000.0, "changePassword.supported": false,
		"sort.supported": true, "etag.supported": true, "meta.location": base + "/ServiceProviderConfig",
	} {
		if got := get(path); got != want {
			t.Errorf("%s = %v, want %v", path, got, want)
		}
	}
	schemes := doc["authenticationSchemes"].([]any)
	if len(schemes) != 1 || schemes[0].(map[string]any)["type"] != "oauthbearertoken" {
		t.Errorf("authenticationSchemes %v", schemes)
	}
	if s := doc["schemas"].([]any); len(s) != 1 || s[0] != SchemaServiceProviderConfig {
		t.Errorf("schemas %v", s)
	}
}

func TestListResponse(t *testing.T) {
	doc := asJSON(t, NewListResponse(nil, 42, 1)).(map[string]any)
	if doc["totalResults"] != 42.0 || doc["itemsPerPage"] != 0.0 || doc["startIndex"] != 1.0 {
		t.Errorf("list response %v", doc)
	}
	if r, ok := doc["Resources"].([]any); !ok || len(r) != 0 {
		t.Errorf("Resources = %v, want []", doc["Resources"])
	}
}

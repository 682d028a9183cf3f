package scim

import (
	"encoding/json"
	"reflect"
	"slices"
	"testing"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/filter"
)

var scimTypes = []string{"invalidFilter", "tooMany", "uniqueness", "mutability", "invalidSyntax",
	"invalidPath", "noTarget", "invalidValue", "invalidVers", "sensitive"}

var fuzzOps = []string{"add", "remove", "replace", "Replace"}

// FuzzPatchPath applies one operation with an arbitrary path and value to a
// sample User and Group: it must not panic, must fail only with a 400 of a
// scimType of RFC 7644, must never change its input, and what it returns
// must still decode as the resource. Seeds: testdata/fuzz/FuzzPatchPath.
func FuzzPatchPath(f *testing.F) {
	f.Add(`emails[type eq "work"].value`, uint8(3), `"new@example.com"`)
	f.Add(`members[value eq "i1"]`, uint8(1), ``)
	f.Fuzz(func(t *testing.T, path string, op uint8, value string) {
		var v any
		if err := json.Unmarshal([]byte(value), &v); err != nil {
			v = value // not JSON: the text itself is the value
		}
		patch := PatchOp{Operations: []PatchOperation{{Op: fuzzOps[int(op)%len(fuzzOps)], Path: path, Value: v}}}
		for _, c := range []struct {
			resource Resource
			doc      map[string]any
			into     any
		}{{UserResource, userDoc(), &User{}}, {GroupResource, groupDoc(), &Group{}}} {
			snapshot := deepCopy(c.doc)
			out, err := ApplyPatch(c.doc, patch, c.resource)
			if !reflect.DeepEqual(c.doc, snapshot) {
				t.Fatalf("%s %q: the input changed", c.resource.Name, path)
			}
			if err != nil {
				if err.Status != "400" || !slices.Contains(scimTypes, err.ScimType) || out != nil {
					t.Fatalf("%s %q: error %+v, result %v", c.resource.Name, path, err, out)
				}
				continue
			}
			if derr := FromDocument(out, c.into); derr != nil {
				t.Fatalf("%s %q: the result does not decode: %v\n%v", c.resource.Name, path, derr, out)
			}
		}
	})
}

// FuzzUserFilter translates arbitrary filters for Users and Groups: it must
// not panic, must fail only with invalidFilter, must leave the parsed filter
// unchanged, and must produce filters over store attributes only that render
// and parse back. Seeds: testdata/fuzz/FuzzUserFilter.
func FuzzUserFilter(f *testing.F) {
	f.Add(`emails[type eq "work" and value co "@example.com"]`)
	f.Add(`members[value eq "i1" or value eq "i2"]`)
	f.Fuzz(func(t *testing.T, raw string) {
		if _, err := SortAttribute(UserResource, raw); err != nil && err.ScimType != "invalidValue" {
			t.Fatalf("SortAttribute(%q): %v", raw, err)
		}
		e, perr := filter.Parse(raw)
		if perr != nil {
			return
		}
		before := filter.String(e)
		for _, r := range []Resource{UserResource, GroupResource} {
			x, err := TranslateFilter(r, e)
			if filter.String(e) != before {
				t.Fatalf("%q: the parsed filter changed", raw)
			}
			if err != nil {
				if err.ScimType != "invalidFilter" || err.Status != "400" {
					t.Fatalf("%s %q: %+v", r.Name, raw, err)
				}
				continue
			}
			allowed := storeAttributes(r)
			_ = filter.Walk(x, func(attr string, _ *filter.Compare) error {
				if !slices.Contains(allowed, attr) {
					t.Fatalf("%s %q: translation names %q", r.Name, raw, attr)
				}
				return nil
			})
			s := filter.String(x)
			again, perr := filter.Parse(s)
			if perr != nil || filter.String(again) != s {
				t.Fatalf("%s %q: translation %s does not parse back: %v", r.Name, raw, s, perr)
			}
		}
	})
}

// FuzzDecode decodes arbitrary bodies as a User, a Group and a PatchOp: it
// must not panic, must fail only with a 400 of a scimType of RFC 7644, and
// what it accepts holds acceptable text only (latchkey.TextProblem).
// Seeds: testdata/fuzz/FuzzDecode.
func FuzzDecode(f *testing.F) {
	f.Add(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"a","externalId":"x","name":{"givenName":"A"}}`)
	f.Add(`{"userName":"a","externalId":"\u0000"}`)
	f.Add(`{"displayName":"g","members":[{"value":"\u0001"}]}`)
	f.Add(`{"Operations":[{"op":"replace","path":"title","value":"\u007f"}]}`)
	f.Fuzz(func(t *testing.T, body string) {
		for _, into := range []any{&User{}, &Group{}, &PatchOp{}} {
			if err := Decode([]byte(body), into); err != nil {
				if err.Status != "400" || !slices.Contains(scimTypes, err.ScimType) {
					t.Fatalf("%T %q: %+v", into, body, err)
				}
				continue
			}
			b, merr := json.Marshal(into)
			if merr != nil {
				t.Fatal(merr)
			}
			var v any
			json.Unmarshal(b, &v)
			if field, problem := latchkey.JSONTextProblem(v); problem != "" {
				t.Fatalf("%T %q: accepted with %s %s", into, body, field, problem)
			}
		}
	})
}

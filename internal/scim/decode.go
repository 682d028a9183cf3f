package scim

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/latchkey/latchkey"
)

// unknownMode says what normalizing does with names no schema defines.
type unknownMode int

const (
	keepUnknown   unknownMode = iota // request bodies: clients send attributes we do not store
	rejectUnknown                    // PATCH: naming an unknown attribute is invalidPath
)

// Decode parses a request body into v: a *User or *Group (checked against
// their schema: attribute names in any case, booleans also as the strings
// "True"/"False" that Entra sends, a string where a complex attribute with a
// value sub-attribute belongs, read-only attributes ignored), or any other
// pointer such as *PatchOp (numbers decode as json.Number).
func Decode(body []byte, v any) *Error {
	d := json.NewDecoder(bytes.NewReader(body))
	d.UseNumber()
	var raw any
	if err := d.Decode(&raw); err != nil {
		return InvalidSyntax("the body is not valid JSON: %v", err)
	}
	if _, err := d.Token(); !errors.Is(err, io.EOF) {
		return InvalidSyntax("the body holds more than one JSON value")
	}
	doc, ok := raw.(map[string]any)
	if !ok {
		return InvalidSyntax("the body must be a JSON object")
	}
	if field, problem := latchkey.JSONTextProblem(doc); problem != "" {
		return InvalidValue("%s %s", field, problem)
	}
	if r := resourceOf(v); r != nil {
		if err := checkSchemas(r, doc); err != nil {
			return err
		}
		for _, a := range r.top {
			if a.Mutability == readOnly {
				deleteFold(doc, a.Name) // RFC 7643 §7: read-only values in requests are ignored
			}
		}
	}
	return FromDocument(doc, v)
}

// checkSchemas refuses a body whose "schemas" lists a schema the resource
// type does not have: the client declares attributes of that schema, which
// would be lost. Attributes Latchkey does not know are otherwise ignored, as
// RFC 7644 §3.3 lets a service provider do, because real clients send them:
// Okta "password", Entra ID "roles" and its custom extension's attributes
// (named by their URN but not listed in "schemas"), and RFC 7643 defines
// attributes (ims, entitlements, x509Certificates) Latchkey has no place for.
func checkSchemas(r *Resource, doc map[string]any) *Error {
	for k, v := range doc {
		if !strings.EqualFold(k, "schemas") {
			continue
		}
		list, _ := v.([]any) // not a list: normalizeResource refuses it
		for _, urn := range list {
			if s, _ := urn.(string); r.schemaOf(s) == nil {
				return InvalidValue("schemas: %v is not a schema of %s; they are %s", urn, r.Name, strings.Join(r.schemaIDs(), ", "))
			}
		}
	}
	return nil
}

// FromDocument fills v, a *User, *Group or other pointer, from a generic
// document such as ApplyPatch returns.
func FromDocument(doc map[string]any, v any) *Error {
	if r := resourceOf(v); r != nil {
		n, err := normalizeResource(r, doc, keepUnknown)
		if err != nil {
			return err
		}
		doc = n
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return InvalidValue("the document cannot be encoded: %v", err)
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if err := d.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return InvalidValue("%s must be a JSON %s", te.Field, jsonType(te.Type.Kind().String()))
		}
		return InvalidSyntax("%v", err)
	}
	return nil
}

func jsonType(kind string) string {
	switch kind {
	case "slice":
		return "array"
	case "struct", "map", "ptr":
		return "object"
	case "bool":
		return "boolean"
	}
	return kind
}

func resourceOf(v any) *Resource {
	switch v.(type) {
	case *User:
		return &UserResource
	case *Group:
		return &GroupResource
	}
	return nil
}

func deleteFold(m map[string]any, name string) {
	for k := range m {
		if strings.EqualFold(k, name) {
			delete(m, k)
		}
	}
}

// normalizeResource returns a copy of doc checked against r: canonical
// attribute names, values of the right types. "schemas" is kept as it is;
// null values are dropped (RFC 7643 §2.5: null is unassigned).
func normalizeResource(r *Resource, doc map[string]any, mode unknownMode) (map[string]any, *Error) {
	out := make(map[string]any, len(doc))
	for _, k := range slices.Sorted(maps.Keys(doc)) { // sorted: "userName" and "USERNAME" resolve the same way every time
		v := doc[k]
		if strings.EqualFold(k, "schemas") {
			if _, ok := v.([]any); !ok && v != nil {
				return nil, InvalidSyntax("schemas must be an array of URNs")
			}
			out["schemas"] = deepCopy(v)
			continue
		}
		a := find(r.top, k)
		if a == nil {
			if mode == rejectUnknown {
				return nil, InvalidPath("%s has no attribute %q", r.Name, k)
			}
			out[k] = deepCopy(v)
			continue
		}
		n, err := normalizeValue(a, v, mode)
		if err != nil {
			return nil, err
		}
		if n = clean(n); present(n) {
			out[a.Name] = n
		}
	}
	return out, nil
}

// normalizeValue checks v against a and returns a copy with canonical
// sub-attribute names and booleans as bools. Null stays nil; in a complex
// value a null sub-attribute is kept as nil, meaning "unassign" to a merge.
func normalizeValue(a *Attribute, v any, mode unknownMode) (any, *Error) {
	if v == nil {
		return nil, nil
	}
	if !a.MultiValued {
		return normalizeSingle(a, v, mode)
	}
	list, ok := v.([]any)
	if !ok {
		list = []any{v} // a single value where a list belongs
	}
	out := make([]any, 0, len(list))
	for _, e := range list {
		n, err := normalizeSingle(a, e, mode)
		if err != nil {
			return nil, err
		}
		if n != nil {
			out = append(out, n)
		}
	}
	return out, nil
}

// normalizeSingle checks one value of a.
func normalizeSingle(a *Attribute, v any, mode unknownMode) (any, *Error) {
	if v == nil {
		return nil, nil
	}
	switch a.Type {
	case typeComplex:
		if list, ok := v.([]any); ok && len(list) == 1 {
			v = list[0] // a one-element list where one value belongs
		}
		if s, ok := v.(string); ok && find(a.SubAttributes, "value") != nil {
			v = map[string]any{"value": s} // Entra sends the manager as its id alone
		}
		m, ok := v.(map[string]any)
		if !ok {
			return nil, InvalidValue("%s must be an object", a.Name)
		}
		return normalizeObject(a, m, mode)
	case typeBoolean:
		switch b := v.(type) {
		case bool:
			return b, nil
		case string:
			if strings.EqualFold(b, "true") {
				return true, nil
			}
			if strings.EqualFold(b, "false") {
				return false, nil
			}
		}
		return nil, InvalidValue("%s must be a boolean", a.Name)
	}
	s, ok := v.(string)
	if !ok {
		return nil, InvalidValue("%s must be a string", a.Name)
	}
	return s, nil
}

func normalizeObject(a *Attribute, m map[string]any, mode unknownMode) (map[string]any, *Error) {
	out := make(map[string]any, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		sub := find(a.SubAttributes, k)
		if sub == nil {
			if mode == rejectUnknown {
				return nil, InvalidPath("%s has no sub-attribute %q", a.Name, k)
			}
			out[k] = deepCopy(m[k])
			continue
		}
		n, err := normalizeValue(sub, m[k], mode)
		if err != nil {
			return nil, err
		}
		out[sub.Name] = n
	}
	return out, nil
}

// clean returns v without null members, empty objects and empty lists, as a
// value is stored.
func clean(v any) any {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			if x = clean(x); present(x) {
				v[k] = x
			} else {
				delete(v, k)
			}
		}
		if len(v) == 0 {
			return nil
		}
	case []any:
		out := v[:0]
		for _, x := range v {
			if x = clean(x); x != nil {
				out = append(out, x)
			}
		}
		if len(out) == 0 {
			return nil
		}
		return out
	}
	return v
}

// present reports whether v is a value rather than unassigned: not null, not
// "", not an empty list or object. False is a value.
func present(v any) bool {
	switch v := v.(type) {
	case nil:
		return false
	case string:
		return v != ""
	case []any:
		return len(v) > 0
	case map[string]any:
		return len(v) > 0
	}
	return true
}

// deepCopy copies the maps and lists of a JSON value.
func deepCopy(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, x := range v {
			out[k] = deepCopy(x)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = deepCopy(x)
		}
		return out
	}
	return v
}

package scim

// Project applies the attributes and excludedAttributes parameters (RFC 7644
// §3.4.2.5) to doc, a resource rendered by ToDocument, and returns a new
// document. With attributes, only those (and sub-attributes: "name.givenName",
// "emails.value", "urn:…:User:department") are kept; excludedAttributes then
// removes attributes. Attributes returned "always" (id) and schemas stay.
// Names the schema does not know are ignored, as the RFC asks nothing else.
func Project(doc map[string]any, resource Resource, attributes, excludedAttributes []string) map[string]any {
	r := &resource
	out := deepCopy(doc).(map[string]any)
	if len(attributes) > 0 {
		out = map[string]any{}
		for _, a := range r.top {
			if a.Returned == returnedAlways && doc[a.Name] != nil {
				out[a.Name] = deepCopy(doc[a.Name])
			}
		}
		for _, name := range attributes {
			if steps, err := parsePath(r, name); err == nil {
				copyPath(doc, out, steps)
			}
		}
	}
	for _, name := range excludedAttributes {
		if steps, err := parsePath(r, name); err == nil && steps[0].attr.Returned != returnedAlways {
			removePath(out, steps)
		}
	}
	clean(out)
	setSchemas(r, out)
	return out
}

// copyPath copies the attribute steps lead to from src into dst.
func copyPath(src, dst map[string]any, steps []step) {
	a, rest := steps[0].attr, steps[1:]
	v, ok := src[a.Name]
	switch {
	case !ok:
	case len(rest) == 0:
		dst[a.Name] = deepCopy(v)
	case a.MultiValued:
		// "emails.value": that sub-attribute of every value, merged with
		// what other names copied before.
		list, _ := v.([]any)
		got, _ := dst[a.Name].([]any)
		if len(got) != len(list) {
			got = make([]any, len(list))
		}
		for i, e := range list {
			em, _ := e.(map[string]any)
			gm, _ := got[i].(map[string]any)
			if gm == nil {
				gm = map[string]any{}
			}
			copyPath(em, gm, rest)
			got[i] = gm
		}
		dst[a.Name] = got
	default:
		sm, _ := v.(map[string]any)
		dm, _ := dst[a.Name].(map[string]any)
		if dm == nil {
			dm = map[string]any{}
		}
		copyPath(sm, dm, rest)
		dst[a.Name] = dm
	}
}

// removePath removes the attribute steps lead to from m.
func removePath(m map[string]any, steps []step) {
	a, rest := steps[0].attr, steps[1:]
	if len(rest) == 0 {
		delete(m, a.Name)
		return
	}
	switch v := m[a.Name].(type) {
	case map[string]any:
		removePath(v, rest)
	case []any:
		for _, e := range v {
			if em, ok := e.(map[string]any); ok {
				removePath(em, rest)
			}
		}
	}
}

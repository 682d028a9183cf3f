package scim

import (
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"

	"github.com/latchkey/latchkey/internal/filter"
)

// The operations of a PatchOp, after folding case ("Replace" from Entra).
const (
	opAdd     = "add"
	opRemove  = "remove"
	opReplace = "replace"
)

// ApplyPatch applies a PatchOp (RFC 7644 §3.5.2) to doc, a resource rendered
// by ToDocument, and returns the new document; doc itself is never changed,
// so on an error nothing is. The result has canonical attribute names and
// typed values, ready for FromDocument.
//
// Beyond the RFC it accepts what Okta and Entra send: op names in any case,
// a no-path value object whose keys are paths ("name.givenName",
// "urn:…:User:department"), booleans as "True"/"False", a manager as its id
// alone, and remove of members listed in value rather than by a filter.
// Choices where the RFC is silent:
//   - add of a value already present (same value sub-attribute) updates it
//     instead of adding a duplicate;
//   - add through a value filter that matches nothing makes a new value from
//     the filter's eq comparisons (Entra's `add emails[type eq "work"].value`);
//     replace through one is noTarget; remove through one is a no-op;
//   - a read-only attribute may be "changed" to the value it has (Okta sends
//     the group's id along with a new displayName); any other change of it,
//     and removing a required attribute, is mutability.
func ApplyPatch(doc map[string]any, op PatchOp, schema Resource) (map[string]any, *Error) {
	r := &schema
	if len(op.Operations) == 0 {
		return nil, InvalidSyntax("the PatchOp has no Operations")
	}
	before, err := normalizeResource(r, doc, keepUnknown)
	if err != nil {
		return nil, err
	}
	out := deepCopy(before).(map[string]any)
	for i, o := range op.Operations {
		if err := applyOperation(r, out, o); err != nil {
			return nil, err.withPrefix(fmt.Sprintf("operation %d: ", i+1))
		}
	}
	clean(out)
	if err := checkMutability(r, before, out); err != nil {
		return nil, err
	}
	setSchemas(r, out)
	return out, nil
}

func applyOperation(r *Resource, doc map[string]any, o PatchOperation) *Error {
	op := strings.ToLower(strings.TrimSpace(o.Op))
	switch op {
	case opAdd, opRemove, opReplace:
	default:
		return InvalidSyntax("op %q is not add, remove or replace", o.Op)
	}
	if strings.TrimSpace(o.Path) != "" {
		steps, err := parsePath(r, o.Path)
		if err != nil {
			return err
		}
		return apply(op, doc, steps, o.Value)
	}
	if op == opRemove {
		return NoTarget("remove needs a path")
	}
	obj, ok := o.Value.(map[string]any)
	if !ok {
		return InvalidValue("%s without a path needs an object of attributes as its value", op)
	}
	for _, k := range slices.Sorted(maps.Keys(obj)) {
		if strings.EqualFold(k, "schemas") {
			continue // a client echoing the resource; setSchemas recomputes them
		}
		steps, err := parsePath(r, k)
		if err != nil {
			return err
		}
		if err := apply(op, doc, steps, obj[k]); err != nil {
			return err
		}
	}
	return nil
}

// apply applies op to the attribute that steps lead to from parent.
func apply(op string, parent map[string]any, steps []step, value any) *Error {
	s, rest := steps[0], steps[1:]
	a := s.attr
	switch {
	case s.filter != nil:
		return applyFiltered(op, parent, s, rest, value)
	case len(rest) > 0 && a.MultiValued:
		return applyEach(op, parent, a, rest, value)
	case len(rest) > 0:
		child, _ := parent[a.Name].(map[string]any)
		if child == nil {
			if op == opRemove {
				return nil
			}
			child = map[string]any{}
		}
		if err := apply(op, child, rest, value); err != nil {
			return err
		}
		setOrDelete(parent, a.Name, child)
		return nil
	}
	return applyLeaf(op, parent, a, value)
}

// applyLeaf applies op to attribute a of parent as a whole.
func applyLeaf(op string, parent map[string]any, a *Attribute, value any) *Error {
	v, err := normalizeValue(a, value, rejectUnknown)
	if err != nil {
		return err
	}
	switch {
	case op == opRemove && a.MultiValued && v != nil:
		// Entra removes members by listing them in value; the RFC would
		// remove every member, which no client that lists some can mean.
		return removeValues(parent, a, v.([]any))
	case op == opRemove:
		delete(parent, a.Name)
	case v == nil && op == opAdd:
		return InvalidValue("add needs a value for %s", a.Name)
	case a.MultiValued && op == opAdd:
		return addValues(parent, a, v.([]any))
	case a.MultiValued:
		list, _ := clean(v).([]any)
		if err := settlePrimary(a, list, indices(list)); err != nil {
			return err
		}
		setOrDelete(parent, a.Name, list)
	case a.Type == typeComplex && v != nil:
		merge(parent, a, v.(map[string]any)) // RFC 7644 §3.5.2.3: sub-attributes not given stay
	default:
		setOrDelete(parent, a.Name, v) // replace with null or "" unassigns
	}
	return nil
}

// merge sets the sub-attributes given in v on a's value in parent.
func merge(parent map[string]any, a *Attribute, v map[string]any) {
	child, _ := parent[a.Name].(map[string]any)
	if child == nil {
		child = map[string]any{}
	}
	for k, x := range v {
		sub := find(a.SubAttributes, k)
		if m, ok := x.(map[string]any); ok && sub != nil && sub.Type == typeComplex && !sub.MultiValued {
			merge(child, sub, m) // the manager inside the enterprise extension
			continue
		}
		setOrDelete(child, k, clean(x))
	}
	setOrDelete(parent, a.Name, child)
}

// addValues adds values to the multi-valued a; a value whose value
// sub-attribute is already there updates that one instead.
func addValues(parent map[string]any, a *Attribute, values []any) *Error {
	list, _ := parent[a.Name].([]any)
	var written []int
	for _, v := range values {
		if v = clean(v); v == nil {
			continue
		}
		if i := indexOf(a, list, v); i >= 0 {
			if m, ok := v.(map[string]any); ok {
				maps.Copy(list[i].(map[string]any), m)
			}
			written = append(written, i)
			continue
		}
		list = append(list, v)
		written = append(written, len(list)-1)
	}
	if err := settlePrimary(a, list, written); err != nil {
		return err
	}
	setOrDelete(parent, a.Name, list)
	return nil
}

// removeValues removes from the multi-valued a the values equal to one of
// values (by their value sub-attribute, when they have one).
func removeValues(parent map[string]any, a *Attribute, values []any) *Error {
	list, _ := parent[a.Name].([]any)
	var kept []any
	for _, e := range list {
		drop := false
		for _, v := range values {
			if indexOf(a, []any{e}, clean(v)) == 0 {
				drop = true
				break
			}
		}
		if !drop {
			kept = append(kept, e)
		}
	}
	setOrDelete(parent, a.Name, kept)
	return nil
}

// indexOf returns the index of v in list, or -1. Complex values with a value
// sub-attribute are the same when those are (compared as the schema says).
func indexOf(a *Attribute, list []any, v any) int {
	m, isMap := v.(map[string]any)
	valueSub := find(a.SubAttributes, "value")
	for i, e := range list {
		if isMap && valueSub != nil && present(m["value"]) {
			em, _ := e.(map[string]any)
			if evalConst(valueSub, filter.Eq, em["value"], m["value"]) {
				return i
			}
		} else if reflect.DeepEqual(e, v) {
			return i
		}
	}
	return -1
}

// applyFiltered applies op to the values of a multi-valued attribute that
// its value filter selects, or to their sub-attribute rest.
func applyFiltered(op string, parent map[string]any, s step, rest []step, value any) *Error {
	a := s.attr
	list, _ := parent[a.Name].([]any)
	var matched []int
	for i, e := range list {
		m, _ := e.(map[string]any)
		ok, err := matches(a, s.filter, m)
		if err != nil {
			return err
		}
		if ok {
			matched = append(matched, i)
		}
	}
	if op == opRemove {
		return removeMatched(parent, a, list, matched, rest)
	}
	if len(matched) == 0 {
		if op == opReplace {
			return NoTarget("no value of %s matches [%s]", a.Name, filter.String(s.filter))
		}
		elem, ok := template(a, s.filter)
		if !ok {
			return NoTarget("no value of %s matches [%s], and add makes new values only from eq comparisons joined by and",
				a.Name, filter.String(s.filter))
		}
		list = append(list, elem)
		matched = []int{len(list) - 1}
	}
	var whole map[string]any
	if len(rest) == 0 {
		v, err := normalizeSingle(a, value, rejectUnknown)
		if err != nil {
			return err
		}
		if whole, _ = clean(v).(map[string]any); whole == nil {
			return InvalidValue("%s needs a value for %s[%s]", op, a.Name, filter.String(s.filter))
		}
	}
	for _, i := range matched {
		elem := list[i].(map[string]any)
		switch {
		case len(rest) > 0:
			if err := apply(op, elem, rest, value); err != nil {
				return err
			}
		case op == opReplace:
			list[i] = deepCopy(whole)
		default:
			maps.Copy(elem, deepCopy(whole).(map[string]any))
		}
	}
	if err := settlePrimary(a, list, matched); err != nil {
		return err
	}
	parent[a.Name] = list
	return nil
}

// removeMatched removes the matched values of a, or their sub-attribute.
// Matching nothing is fine: removing what is not there is idempotent.
func removeMatched(parent map[string]any, a *Attribute, list []any, matched []int, rest []step) *Error {
	if len(rest) > 0 {
		for _, i := range matched {
			if err := apply(opRemove, list[i].(map[string]any), rest, nil); err != nil {
				return err
			}
		}
		return nil
	}
	var kept []any
	for i, e := range list {
		if !slices.Contains(matched, i) {
			kept = append(kept, e)
		}
	}
	setOrDelete(parent, a.Name, kept)
	return nil
}

// applyEach applies op to sub-attribute rest of every value of a: a path
// like "emails.value". With no values, add and replace make one (RFC 7644
// §3.5.2.3: replacing what does not exist adds it).
func applyEach(op string, parent map[string]any, a *Attribute, rest []step, value any) *Error {
	list, _ := parent[a.Name].([]any)
	if len(list) == 0 {
		if op == opRemove {
			return nil
		}
		list = []any{map[string]any{}}
	}
	for _, e := range list {
		if err := apply(op, e.(map[string]any), rest, value); err != nil {
			return err
		}
	}
	if err := settlePrimary(a, list, indices(list)); err != nil {
		return err
	}
	parent[a.Name] = list
	return nil
}

// template makes a new value of a from a filter of eq comparisons joined by
// and: `type eq "work"` makes {"type": "work"}.
func template(a *Attribute, f filter.Expr) (map[string]any, bool) {
	switch f := f.(type) {
	case *filter.Compare:
		sub := find(a.SubAttributes, f.Attr)
		if sub == nil || f.Op != filter.Eq {
			return nil, false
		}
		v, err := operand(sub, f)
		if err != nil {
			return nil, false
		}
		return map[string]any{sub.Name: v}, true
	case *filter.And:
		l, ok := template(a, f.Left)
		if !ok {
			return nil, false
		}
		r, ok := template(a, f.Right)
		if !ok {
			return nil, false
		}
		maps.Copy(l, r)
		return l, true
	}
	return nil, false
}

// settlePrimary keeps "primary" true on at most one value of a: when the
// values just written make one primary, the others stop being primary, as
// RFC 7644 §3.5.2 wants; two written primaries are invalidValue.
func settlePrimary(a *Attribute, list []any, written []int) *Error {
	if find(a.SubAttributes, "primary") == nil {
		return nil
	}
	written = slices.Compact(slices.Sorted(slices.Values(written)))
	n := 0
	for _, i := range written {
		if isPrimary(list[i]) {
			n++
		}
	}
	if n > 1 {
		return InvalidValue("%s: %d values are primary; at most one may be", a.Name, n)
	}
	if n == 0 {
		return nil
	}
	for i, e := range list {
		if isPrimary(e) && !slices.Contains(written, i) {
			e.(map[string]any)["primary"] = false
		}
	}
	return nil
}

func isPrimary(e any) bool {
	m, _ := e.(map[string]any)
	b, _ := m["primary"].(bool)
	return b
}

func indices(list []any) []int {
	out := make([]int, len(list))
	for i := range out {
		out[i] = i
	}
	return out
}

// setOrDelete sets m[k] to v, or deletes k when v is unassigned.
func setOrDelete(m map[string]any, k string, v any) {
	if present(v) {
		m[k] = v
	} else {
		delete(m, k)
	}
}

// checkMutability compares the document before and after a PatchOp: a
// read-only attribute must be unchanged, and a required one still assigned
// (RFC 7644 §3.5.2.2).
func checkMutability(r *Resource, before, after map[string]any) *Error {
	for i := range r.top {
		a := &r.top[i]
		b, x := before[a.Name], after[a.Name]
		if a.Mutability == readOnly && !reflect.DeepEqual(b, x) {
			return Mutability("%s is read-only", a.Name)
		}
		if a.Required && present(b) && !present(x) {
			return Mutability("%s is required: it can be replaced but not removed", a.Name)
		}
	}
	return nil
}

// setSchemas lists the core schema and the extensions the document uses.
func setSchemas(r *Resource, doc map[string]any) {
	schemas := []any{r.Schema.ID}
	for _, e := range r.Extensions {
		if present(doc[e.ID]) {
			schemas = append(schemas, e.ID)
		}
	}
	doc["schemas"] = schemas
}

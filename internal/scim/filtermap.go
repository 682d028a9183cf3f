package scim

import (
	"maps"
	"slices"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/directory"
	"github.com/latchkey/latchkey/internal/filter"
)

// columnKind says how a store attribute compares beyond the plain rules.
type columnKind int

const (
	plainColumn  columnKind = iota
	statusColumn            // active: a boolean stored as status "active" or "suspended"
	timeColumn              // create_time, update_time: always assigned
	memberColumn            // members.value: each comparison asks whether some member satisfies it; eq and pr only
)

// storeAttr is what a SCIM attribute is in the store's filter vocabulary: a
// store attribute, or, when column is "", the constant value.
type storeAttr struct {
	column string
	kind   columnKind
	value  any
}

// storeMap maps the attributes of a resource type onto store attributes.
type storeMap struct {
	scalars map[string]storeAttr // by canonical path (pathName)
	multi   map[string]multiMap  // by multi-valued attribute
}

// multiMap maps a multi-valued attribute onto its slots: the places values
// are stored, each with its sub-attributes as store attributes or constants.
type multiMap struct {
	slots []map[string]storeAttr // a sub-attribute missing from a slot is unassigned there
	// member: members of a group, a true multi-valued store attribute. A
	// sub-attribute missing from its slot cannot be filtered on.
	member bool
}

var storeMaps = map[string]*storeMap{"User": userStore(), "Group": groupStore()}

func userStore() *storeMap {
	m := &storeMap{scalars: map[string]storeAttr{
		"id":                {column: "id"},
		"displayName":       {column: "display_name"},
		"active":            {column: "status", kind: statusColumn},
		"meta.created":      {column: "create_time", kind: timeColumn},
		"meta.lastModified": {column: "update_time", kind: timeColumn},
		"meta.resourceType": {value: "User"},
	}, multi: map[string]multiMap{}}
	for _, f := range scalarTraits {
		m.scalars[f.path] = storeAttr{column: "traits." + f.trait}
	}
	for _, v := range valueSlots {
		var mm multiMap
		for _, s := range v.slots {
			mm.slots = append(mm.slots, map[string]storeAttr{
				"value": {column: "traits." + s.trait}, "type": {value: s.typ}, "primary": {value: s.primary}})
		}
		m.multi[v.attr] = mm
	}
	address := map[string]storeAttr{"type": {value: addressType}, "primary": {value: true}}
	for _, f := range addressFields {
		address[f.sub] = storeAttr{column: "traits." + f.trait}
	}
	m.multi["addresses"] = multiMap{slots: []map[string]storeAttr{address}}
	return m
}

func groupStore() *storeMap {
	return &storeMap{scalars: map[string]storeAttr{
		"id":                {column: "id"},
		"displayName":       {column: "display_name"},
		"externalId":        {column: "external_id"},
		"meta.created":      {column: "create_time", kind: timeColumn},
		"meta.lastModified": {column: "update_time", kind: timeColumn},
		"meta.resourceType": {value: "Group"},
	}, multi: map[string]multiMap{
		"members": {member: true, slots: []map[string]storeAttr{{
			"value": {column: "members.value", kind: memberColumn}, "type": {value: "User"}}}},
	}}
}

// TranslateFilter translates a parsed SCIM filter on resource into the
// filter vocabulary of the store. Users: id, display_name, status,
// traits.<trait>, create_time, update_time; Groups: id, display_name,
// external_id, members.value, create_time, update_time. Times are RFC 3339
// UTC strings. Value paths over emails, phoneNumbers, photos and addresses
// are evaluated per slot (the type and primary flag of each are constants)
// and or-ed; constants are `id pr` (true) and `not (id pr)` (false). A
// comparison on members.value asks whether some member satisfies it, so a
// members[…] filter may only or its comparisons. An unknown attribute, or
// an operator that does not apply to one, is invalidFilter. A nil filter
// (none given) matches everything and stays nil.
func TranslateFilter(resource Resource, e filter.Expr) (filter.Expr, *Error) {
	r := &resource
	if e == nil {
		return nil, nil
	}
	if r.store == nil {
		return nil, InvalidFilter("%s cannot be filtered", r.Name)
	}
	if err := filter.Walk(e, func(attr string, c *filter.Compare) error {
		if s, ok := c.Value.(string); ok {
			if p := latchkey.TextProblem(s, false); p != "" {
				return InvalidFilter("the value of %s %s", attr, p)
			}
		}
		return nil
	}); err != nil {
		return nil, err.(*Error)
	}
	x, err := reduce(e, r.compare, r.valuePath)
	if err != nil {
		return nil, err
	}
	return materialize(x), nil
}

// compare translates a comparison outside value paths.
func (r *Resource) compare(c *filter.Compare) (filter.Expr, *Error) {
	steps, err := parsePath(r, c.Attr)
	if err != nil {
		return nil, err.as("invalidFilter")
	}
	if mm, ok := r.multiOf(steps); ok {
		a := steps[0].attr
		if len(steps) == 2 {
			return mm.expand(a, &filter.Compare{Attr: steps[1].attr.Name, Op: c.Op, Value: c.Value})
		}
		if c.Op == filter.Pr {
			return mm.expand(a, nil)
		}
		if find(a.SubAttributes, "value") == nil {
			return nil, InvalidFilter("%s is complex: name one of its sub-attributes", a.Name)
		}
		return mm.expand(a, &filter.Compare{Attr: "value", Op: c.Op, Value: c.Value}) // emails co "x": their values
	}
	sa, ok := r.store.scalars[pathName(steps)]
	if !ok {
		return nil, InvalidFilter("%s cannot be filtered on", c.Attr)
	}
	return sa.compare(steps[len(steps)-1].attr, c)
}

// valuePath translates attr[filter].
func (r *Resource) valuePath(vp *filter.ValuePath) (filter.Expr, *Error) {
	steps, err := parsePath(r, vp.Attr)
	if err != nil {
		return nil, err.as("invalidFilter")
	}
	mm, ok := r.multiOf(steps)
	if !ok || len(steps) != 1 {
		return nil, InvalidFilter("%s cannot be filtered on with a value path", vp.Attr)
	}
	return mm.expand(steps[0].attr, vp.Filter)
}

// multiOf returns the slots of the multi-valued attribute steps start with.
func (r *Resource) multiOf(steps []step) (multiMap, bool) {
	mm, ok := r.store.multi[steps[0].attr.Name]
	return mm, ok && steps[0].attr.MultiValued
}

// expand translates inner (nil: any value) over the values of a: the or,
// over the slots, of "the slot holds a value and inner holds for it".
func (mm multiMap) expand(a *Attribute, inner filter.Expr) (filter.Expr, *Error) {
	out := falseExpr
	for _, slot := range mm.slots {
		x := trueExpr
		if inner != nil {
			var err *Error
			x, err = reduce(inner, func(c *filter.Compare) (filter.Expr, *Error) {
				return mm.slotCompare(a, slot, c)
			}, nil)
			if err != nil {
				return nil, err
			}
		}
		if mm.member && x != trueExpr {
			// Each comparison becomes "some member …": only an or of them
			// means the same as the value filter.
			if x != falseExpr && !disjunction(x) {
				return nil, InvalidFilter("%s[…] may only join comparisons of value with or", a.Name)
			}
			out = or(out, x)
			continue
		}
		out = or(out, and(slotPresent(slot), x))
	}
	return out, nil
}

func (mm multiMap) slotCompare(a *Attribute, slot map[string]storeAttr, c *filter.Compare) (filter.Expr, *Error) {
	sub := find(a.SubAttributes, c.Attr)
	if sub == nil {
		return nil, InvalidFilter("%s has no sub-attribute %q", a.Name, c.Attr)
	}
	sa, ok := slot[sub.Name]
	if !ok && mm.member {
		return nil, InvalidFilter("%s.%s cannot be filtered on", a.Name, sub.Name)
	}
	return sa.compare(sub, c) // not in the slot: never stored, so unassigned
}

// slotPresent is "the slot holds a value": one of its store attributes does.
func slotPresent(slot map[string]storeAttr) filter.Expr {
	x := falseExpr
	for _, k := range slices.Sorted(maps.Keys(slot)) {
		if sa := slot[k]; sa.column != "" {
			x = or(x, &filter.Compare{Attr: sa.column, Op: filter.Pr})
		}
	}
	return x
}

func disjunction(x filter.Expr) bool {
	switch x := x.(type) {
	case *filter.Compare:
		return true
	case *filter.Or:
		return disjunction(x.Left) && disjunction(x.Right)
	}
	return false
}

// compare translates c on attribute a, which sa stands for.
func (sa storeAttr) compare(a *Attribute, c *filter.Compare) (filter.Expr, *Error) {
	want, err := operand(a, c)
	if err != nil {
		return nil, err
	}
	if sa.column == "" {
		return constant(evalConst(a, c.Op, sa.value, want)), nil
	}
	switch sa.kind {
	case statusColumn:
		if c.Op == filter.Pr {
			return trueExpr, nil
		}
		status := directory.StatusSuspended
		if want.(bool) {
			status = directory.StatusActive
		}
		return &filter.Compare{Attr: sa.column, Op: c.Op, Value: status}, nil
	case timeColumn:
		if c.Op == filter.Pr {
			return trueExpr, nil
		}
	case memberColumn:
		if c.Op != filter.Eq && c.Op != filter.Pr {
			return nil, InvalidFilter("%s compares with eq or pr only, not %s", sa.column, c.Op)
		}
	}
	return &filter.Compare{Attr: sa.column, Op: c.Op, Value: want}, nil
}

// SortAttribute translates a sortBy attribute into the store attribute to
// order by. A multi-valued attribute sorts by its primary value (RFC 7644
// §3.4.2.3): emails by traits.primary_email_address. Names are
// case-insensitive; what cannot be sorted by is invalidValue.
func SortAttribute(resource Resource, name string) (string, *Error) {
	r := &resource
	if r.store == nil {
		return "", InvalidValue("%s cannot be sorted", r.Name)
	}
	steps, err := parsePath(r, name)
	if err != nil {
		return "", InvalidValue("sortBy: %s", err.Detail)
	}
	for _, s := range steps {
		if s.filter != nil {
			return "", InvalidValue("sortBy %q: a sort attribute takes no value filter", name)
		}
	}
	var sa storeAttr
	if mm, ok := r.multiOf(steps); ok {
		sub := "value"
		if len(steps) == 2 {
			sub = steps[1].attr.Name
		}
		sa = mm.slots[0][sub]
	} else {
		sa = r.store.scalars[pathName(steps)]
	}
	if sa.column == "" || sa.kind == memberColumn {
		return "", InvalidValue("sortBy: %s cannot be sorted by", name)
	}
	return sa.column, nil
}

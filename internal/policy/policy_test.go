package policy

import (
	"errors"
	"testing"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/directory"
)

func TestDecide(t *testing.T) {
	staff := directory.Group{ID: "g-staff", DisplayName: "Staff"}
	admins := directory.Group{ID: "g-admins", DisplayName: "Admins"}
	p := Policy{DefaultEffect: Deny, Rules: []Rule{
		{Effect: Deny, Applications: []string{"payroll"}, Identities: []string{"mallory"}},
		{Effect: Allow, Applications: []string{"payroll"}, Groups: []string{admins.ID}},
		{Effect: Allow, Applications: []string{AnyApplication}, Groups: []string{staff.ID}},
		{Effect: Allow, Applications: []string{"wiki"}},
	}}
	for _, c := range []struct {
		identity, app string
		groups        []directory.Group
		allowed       bool
		rule          int // 1-based; 0 for the default
		reason        string
	}{
		{"mallory", "payroll", []directory.Group{admins}, false, 1, "rule 1 (deny) names the identity"},
		{"ada", "payroll", []directory.Group{staff, admins}, true, 2, "rule 2 (allow) names its group Admins"},
		{"bob", "payroll", []directory.Group{staff}, true, 3, "rule 3 (allow) names its group Staff"},
		{"eve", "payroll", nil, false, 0, "no rule matches; the realm's default is deny"},
		{"eve", "wiki", nil, true, 4, "rule 4 (allow) applies to every identity"},
		{"mallory", "wiki", nil, true, 4, "rule 4 (allow) applies to every identity"},
	} {
		d, err := p.decide(c.identity, c.app, func() ([]directory.Group, error) { return c.groups, nil })
		if err != nil {
			t.Fatal(err)
		}
		rule := 0
		if d.RuleIndex != nil {
			rule = *d.RuleIndex + 1
		}
		if d.Allowed != c.allowed || rule != c.rule || d.Reason != c.reason {
			t.Errorf("%s at %s: allowed %v by rule %d (%q), want %v by rule %d (%q)",
				c.identity, c.app, d.Allowed, rule, d.Reason, c.allowed, c.rule, c.reason)
		}
	}
}

// TestDecideReadsGroupsOnlyWhenNeeded: groups are read only when a rule
// that could decide names groups, and a failed read fails the decision.
func TestDecideReadsGroupsOnlyWhenNeeded(t *testing.T) {
	p := Policy{DefaultEffect: Allow, Rules: []Rule{
		{Effect: Allow, Applications: []string{"wiki"}},
		{Effect: Deny, Applications: []string{"payroll"}, Groups: []string{"g"}},
	}}
	broken := errors.New("database down")
	reads := 0
	groupsOf := func() ([]directory.Group, error) { reads++; return nil, broken }
	if d, err := p.decide("ada", "wiki", groupsOf); err != nil || !d.Allowed || reads != 0 {
		t.Errorf("wiki: %+v, %v after %d group reads; want allowed without reading groups", d, err, reads)
	}
	if _, err := p.decide("ada", "payroll", groupsOf); !errors.Is(err, broken) {
		t.Errorf("payroll with groups unreadable: %v, want the read's error", err)
	}
}

func TestValidate(t *testing.T) {
	for _, c := range []struct {
		p     Policy
		field string // "" when valid
	}{
		{Policy{DefaultEffect: Allow}, ""},
		{Policy{DefaultEffect: "maybe"}, "default_effect"},
		{Policy{DefaultEffect: Deny, Rules: []Rule{{Effect: Allow}}}, "rules[0].applications"},
		{Policy{DefaultEffect: Deny, Rules: []Rule{{Effect: "perhaps", Applications: []string{"a"}}}}, "rules[0].effect"},
		{Policy{DefaultEffect: Deny, Rules: []Rule{{Effect: Allow, Applications: []string{AnyApplication, "a"}}}}, "rules[0].applications"},
	} {
		err := validate(c.p)
		if (err == nil) != (c.field == "") {
			t.Errorf("validate(%+v) = %v, want a problem with %q", c.p, err, c.field)
			continue
		}
		if err != nil && !containsField(err, c.field) {
			t.Errorf("validate(%+v) = %v, want a problem with %q", c.p, err, c.field)
		}
	}
}

// containsField reports whether err is the API's 400 naming field.
func containsField(err error, field string) bool {
	var e *latchkey.Error
	if !errors.As(err, &e) {
		return false
	}
	for _, d := range e.Details {
		for _, v := range d.FieldViolations {
			if v.Field == field {
				return true
			}
		}
	}
	return false
}

package console

import (
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/directory"
	"github.com/latchkey/latchkey/internal/filter"
	"github.com/latchkey/latchkey/internal/policy"
)

// The policy page reads the realm's applications, groups and identities to
// offer them as choices and to show identities by username.
var policyChoices = []string{"applications:read", "groups:read", "identities:read"}

func (c *Console) policyRoutes(mux *http.ServeMux) {
	c.handle(mux, "GET "+realmPrefix+"/policy", c.policyPage, append([]string{"policy:read"}, policyChoices...)...)
	c.handle(mux, "POST "+realmPrefix+"/policy", c.savePolicy, append([]string{"policy:update"}, policyChoices...)...)
	c.handle(mux, "GET "+realmPrefix+"/policy/test", c.testAccess, append([]string{"policy:read"}, policyChoices...)...)
}

// ruleRow is a rule as the editor shows it: its identities as the
// usernames an administrator types.
type ruleRow struct {
	policy.Rule
	Usernames string
}

// choice is an option of a select.
type choice struct{ ID, Label string }

// accessTest is the "Test access" form and what the policy decided.
type accessTest struct {
	Username, Application string
	Decision              *policy.Decision
	DecidedBy             string // "Rule 2: description", or the default
	Error                 string
}

// policyView is the policy page: the rules in order (as stored, or as
// posted when the service refused them), the choices, and a test.
type policyView struct {
	Rules         []ruleRow
	DefaultEffect string
	Form          *form
	Applications  []choice
	Groups        []choice
	Test          accessTest
	New           ruleRow // the "New rule" fields, blank
}

func (c *Console) policyPage(q *request) error {
	v, err := c.storedPolicy(q)
	if err != nil {
		return err
	}
	return c.showPolicy(q, http.StatusOK, v)
}

// storedPolicy is the view of the realm's policy as saved.
func (c *Console) storedPolicy(q *request) (policyView, error) {
	p, err := c.Policy.Get(q.Context(), q.tenantID, q.realm.ID)
	if err != nil {
		return policyView{}, err
	}
	v := policyView{DefaultEffect: p.DefaultEffect, Form: &form{Values: map[string]string{}, Errors: map[string]string{}}}
	usernames := map[string]string{}
	for _, r := range p.Rules {
		names := make([]string, 0, len(r.Identities))
		for _, id := range r.Identities {
			if _, known := usernames[id]; !known {
				usernames[id] = id // an identity deleted meanwhile shows as its id
				if i, err := c.Directory.GetIdentity(q.Context(), q.tenantID, q.realm.ID, id); err == nil {
					usernames[id] = i.Traits.Username
				} else if latchkey.ErrorCode(err) != latchkey.CodeNotFound {
					return v, err
				}
			}
			names = append(names, usernames[id])
		}
		v.Rules = append(v.Rules, ruleRow{Rule: r, Usernames: strings.Join(names, ", ")})
	}
	return v, nil
}

// showPolicy renders the page with the realm's applications and groups to
// choose from, plus any a rule names that the realm no longer has, so that
// saving never drops a reference silently.
func (c *Console) showPolicy(q *request, status int, v policyView) error {
	apps, _, err := c.OAuth.ListApplications(q.Context(), q.tenantID, q.realm.ID, latchkey.ListOptions{Limit: MaxChoices, SkipTotal: true})
	if err != nil {
		return err
	}
	v.Applications = []choice{{policy.AnyApplication, "Any application"}}
	for _, a := range apps {
		v.Applications = append(v.Applications, choice{a.ID, a.DisplayName})
	}
	groups, _, err := c.Directory.ListGroups(q.Context(), q.tenantID, q.realm.ID, latchkey.ListOptions{Limit: MaxChoices, Sort: "display_name", SkipTotal: true})
	if err != nil {
		return err
	}
	for _, g := range groups {
		v.Groups = append(v.Groups, choice{g.ID, g.DisplayName})
	}
	for _, r := range v.Rules {
		v.Applications = withUnknown(v.Applications, r.Applications)
		v.Groups = withUnknown(v.Groups, r.Groups)
	}
	v.New = ruleRow{Rule: policy.Rule{Effect: policy.Allow}}
	q.render(status, "policy.html", "Policy", "policy", v)
	return nil
}

func withUnknown(choices []choice, ids []string) []choice {
	for _, id := range ids {
		if !slices.ContainsFunc(choices, func(ch choice) bool { return ch.ID == id }) {
			choices = append(choices, choice{id, id + " (not in the realm)"})
		}
	}
	return choices
}

// savePolicy applies the button pressed (save, add the new rule, delete or
// move a rule) to the rules as posted and saves them all; a refusal shows
// the posted rules again with each violation on its field.
func (c *Console) savePolicy(q *request) error {
	action, at, _ := strings.Cut(q.PostFormValue("action"), ":") // parses the form
	rows := postedRules(q)
	i, err := strconv.Atoi(at)
	moves := action == "delete" || action == "up" || action == "down"
	if moves && (err != nil || i < 0 || i >= len(rows)) || !moves && action != "save" && action != "add" {
		return latchkey.Errorf(latchkey.CodeBadRequest, "unknown editor action %q", q.PostFormValue("action"))
	}
	flash := "Policy saved."
	switch action {
	case "add":
		rows = append(rows, postedRule(q, "new."))
		flash = "Rule added."
	case "delete":
		rows = slices.Delete(rows, i, i+1)
		flash = "Rule " + strconv.Itoa(i+1) + " deleted."
	case "up", "down":
		j := i - 1
		if action == "down" {
			j = i + 1
		}
		if j >= 0 && j < len(rows) {
			rows[i], rows[j] = rows[j], rows[i]
		}
		flash = "Rule moved."
	}
	v := policyView{Rules: rows, DefaultEffect: q.PostFormValue("default_effect"), Form: &form{Values: map[string]string{"default_effect": ""}, Errors: map[string]string{}}}
	p := policy.Policy{DefaultEffect: v.DefaultEffect, Rules: []policy.Rule{}}
	for n := range rows {
		r := rows[n].Rule
		if r.Identities, err = c.identityIDs(q, rows[n].Usernames); err != nil {
			return err
		}
		p.Rules = append(p.Rules, r)
		for _, field := range []string{"effect", "applications", "groups", "identities", "description"} {
			v.Form.Values[ruleField(n, field)] = ""
		}
	}
	if _, err := c.Policy.Put(q.Context(), q.tenantID, q.realm.ID, p); err != nil {
		if !v.Form.refused(err, "") {
			return err
		}
		return c.showPolicy(q, http.StatusUnprocessableEntity, v)
	}
	q.redirect(q.realmPath("/policy"), flash)
	return nil
}

// postedRules reads the rules of the editor, numbered from 0, until a
// number is missing.
func postedRules(q *request) []ruleRow {
	var rows []ruleRow
	for i := 0; q.PostForm.Has(ruleField(i, "effect")); i++ {
		rows = append(rows, postedRule(q, ruleField(i, "")))
	}
	return rows
}

// ruleField names a field of rule i as the policy service does in its
// violations, so that form.refused puts each on its field.
func ruleField(i int, name string) string { return "rules[" + strconv.Itoa(i) + "]." + name }

// postedRule reads the fields of one rule whose names start with prefix.
func postedRule(q *request, prefix string) ruleRow {
	f := q.PostForm
	return ruleRow{Rule: policy.Rule{Effect: f.Get(prefix + "effect"), Applications: nonEmpty(f[prefix+"applications"]),
		Groups: nonEmpty(f[prefix+"groups"]), Description: strings.TrimSpace(f.Get(prefix + "description"))},
		Usernames: strings.TrimSpace(f.Get(prefix + "identities"))}
}

func nonEmpty(values []string) []string {
	out := []string{}
	for _, s := range values {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// identityIDs turns the usernames typed (separated by commas or spaces)
// into identity ids. A name that is no username is kept as typed, as an
// id: the policy service then refuses it if the realm has no such identity.
func (c *Console) identityIDs(q *request, usernames string) ([]string, error) {
	ids := []string{}
	for _, name := range strings.FieldsFunc(usernames, func(r rune) bool { return r == ',' || r == ' ' }) {
		i, found, err := c.identityByUsername(q, name)
		if err != nil {
			return nil, err
		}
		if found {
			name = i.ID
		}
		ids = append(ids, name)
	}
	return ids, nil
}

// identityByUsername finds the realm's identity of a username (case-insensitive).
func (c *Console) identityByUsername(q *request, username string) (directory.Identity, bool, error) {
	items, _, err := c.Directory.ListIdentities(q.Context(), q.tenantID, q.realm.ID, latchkey.ListOptions{
		Filter: &filter.Compare{Attr: "traits.username", Op: filter.Eq, Value: username}, Limit: 1, SkipTotal: true})
	if err != nil || len(items) == 0 {
		return directory.Identity{}, false, err
	}
	return items[0], true, nil
}

// testAccess shows what the saved policy decides for an identity, chosen by
// username, and an application: the decision, the deciding rule and why.
func (c *Console) testAccess(q *request) error {
	v, err := c.storedPolicy(q)
	if err != nil {
		return err
	}
	v.Test = accessTest{Username: strings.TrimSpace(q.FormValue("username")), Application: q.FormValue("application")}
	i, found, err := c.identityByUsername(q, v.Test.Username)
	if err != nil {
		return err
	}
	if !found {
		v.Test.Error = "No identity of this realm has the username “" + v.Test.Username + "”."
		return c.showPolicy(q, http.StatusUnprocessableEntity, v)
	}
	d, err := c.Policy.Evaluate(q.Context(), q.tenantID, q.realm.ID, i.ID, v.Test.Application)
	if err != nil {
		if latchkey.ErrorCode(err) != latchkey.CodeNotFound {
			return err
		}
		v.Test.Error = "Choose an application of this realm."
		return c.showPolicy(q, http.StatusUnprocessableEntity, v)
	}
	v.Test.Decision, v.Test.DecidedBy = &d, "The realm's default effect"
	if d.RuleIndex != nil {
		v.Test.DecidedBy = "Rule " + strconv.Itoa(*d.RuleIndex+1)
		if d.Rule.Description != "" {
			v.Test.DecidedBy += ": " + d.Rule.Description
		}
	}
	return c.showPolicy(q, http.StatusOK, v)
}

package console

import (
	"net/http"
	"slices"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/filter"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/policy"
)

func (c *Console) startRoutes(mux *http.ServeMux) {
	c.handle(mux, "GET "+realmPrefix+"/start", c.gettingStarted, "identities:read", "applications:read", "policy:read", "authenticator-configs:read")
	c.handle(mux, "POST "+appPrefix+"/allow-everyone", c.allowEveryone, "applications:read", "policy:read", "policy:update")
}

// step is one item of the Getting started checklist: done when the realm's
// state says so, with the page that does it.
type step struct {
	Key, Title, Hint, Link, Action string
	Done                           bool
}

// gettingStarted is the checklist that takes a new realm to a first
// sign-in; each step ticks itself off from what the realm holds.
func (c *Console) gettingStarted(q *request) error {
	ctx, one := q.Context(), latchkey.ListOptions{Limit: 1, SkipTotal: true}
	identities, _, err := c.Directory.ListIdentities(ctx, q.tenantID, q.realm.ID, one)
	if err != nil {
		return err
	}
	apps, _, err := c.OAuth.ListApplications(ctx, q.tenantID, q.realm.ID, latchkey.ListOptions{Limit: MaxChoices, SkipTotal: true})
	if err != nil {
		return err
	}
	p, err := c.Policy.Get(ctx, q.tenantID, q.realm.ID)
	if err != nil {
		return err
	}
	configs, _, err := c.Passkeys.ListAuthenticatorConfigs(ctx, q.tenantID, q.realm.ID, one)
	if err != nil {
		return err
	}
	bound, err := c.happened(q, audit.PasskeyBound)
	if err != nil {
		return err
	}
	signedIn, err := c.happened(q, audit.SignInAllowed)
	if err != nil {
		return err
	}
	var allowed *oauth.Application
	for k, a := range apps {
		if allowsSomeone(p, a.ID) {
			allowed = &apps[k]
			break
		}
	}
	appLink := q.realmPath("/applications/new")
	if len(apps) > 0 {
		appLink = q.appPath(apps[0], "")
	}
	tryLink := appLink + "#connect"
	if allowed != nil {
		tryLink = q.appPath(*allowed, "#connect")
	}
	steps := []step{
		{Key: "identities", Title: "Add identities", Done: len(identities) > 0, Link: q.realmPath("/identities/new"), Action: "Add an identity",
			Hint: "One by one, or many at once from a CSV file."},
		{Key: "application", Title: "Create an application", Done: len(apps) > 0, Link: q.realmPath("/applications/new"), Action: "Create an application",
			Hint: "The app your users sign in to: each application is an OpenID Connect issuer of its own."},
		{Key: "policy", Title: "Allow it in the policy", Done: allowed != nil, Link: appLink + "#access", Action: "Allow access",
			Hint: "The realm denies every sign-in that no rule allows: allow everyone, or some groups, to use the application."},
		{Key: "passkey", Title: "Add a passkey", Done: bound, Link: q.realmPath("/identities"), Action: "Choose an identity",
			Hint: "On an identity's page, “Add a passkey” e-mails or shows a link that binds a passkey on the person's device."},
		{Key: "signin", Title: "Try sign-in", Done: signedIn, Link: tryLink, Action: "Try sign-in",
			Hint: "“Try sign-in” on the application's page signs in as the app would, and shows the ID token it gets."},
	}
	done := 0
	for _, s := range steps {
		if s.Done {
			done++
		}
	}
	q.render(http.StatusOK, "start.html", "Getting started", "start", startView{Steps: steps, Done: done, NoConfig: len(configs) == 0})
	return nil
}

// startView is the Getting started page.
type startView struct {
	Steps    []step
	Done     int
	NoConfig bool // the realm has no authenticator config: passkeys cannot be added
}

// happened reports whether the realm's event log holds an event of action.
func (c *Console) happened(q *request, action string) (bool, error) {
	events, _, err := c.Events.ListEvents(q.Context(), q.tenantID, q.realm.ID, latchkey.ListOptions{Limit: 1, SkipTotal: true,
		Filter: &filter.Compare{Attr: "action", Op: filter.Eq, Value: action}})
	return len(events) > 0, err
}

// allowsSomeone reports whether a rule of p allows someone the application:
// a realm's default is deny, so without one nobody may sign in to it.
func allowsSomeone(p policy.Policy, appID string) bool {
	if p.DefaultEffect == policy.Allow {
		return true
	}
	for _, r := range p.Rules {
		if r.Effect == policy.Allow && (slices.Contains(r.Applications, appID) || slices.Contains(r.Applications, policy.AnyApplication)) {
			return true
		}
	}
	return false
}

// allowEveryone adds the rule "allow every identity to access the
// application" at the end of the realm's policy: the one click that turns
// a new application's silent deny into access.
func (c *Console) allowEveryone(q *request) error {
	a, err := q.pathApp()
	if err != nil {
		return err
	}
	p, err := c.Policy.Get(q.Context(), q.tenantID, q.realm.ID)
	if err != nil {
		return err
	}
	p.Rules = append(p.Rules, policy.Rule{Effect: policy.Allow, Applications: []string{a.ID}, Groups: []string{}, Identities: []string{},
		Description: "Everyone in the realm may use " + a.DisplayName})
	if _, err := c.Policy.Put(q.Context(), q.tenantID, q.realm.ID, p); err != nil {
		if msg, ok := refusal(err); ok {
			q.fail(http.StatusUnprocessableEntity, sentence(msg))
			return nil
		}
		return err
	}
	q.redirect(q.appPath(a, "#access"), "Every identity of "+q.realm.DisplayName+" may now sign in to "+a.DisplayName+".")
	return nil
}

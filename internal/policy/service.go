package policy

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/directory"
	"github.com/latchkey/latchkey/internal/nodecache"
)

// Service keeps and evaluates the realms' policies.
type Service struct {
	store Store
	// policies are what Decide read in the last nodecache.TTL, by realm: a
	// policy put on another node decides here within that time, one put
	// on this node at once.
	policies nodecache.Cache[Policy]
	Clock    latchkey.Clock // dates changes and ages the cache
}

// NewService returns a Service over store.
func NewService(store Store) *Service { return &Service{store: store} }

func applicationNotFound(id string) error {
	return latchkey.NotFound("Application", id, "application not found")
}

// get returns the realm's policy.
func get(ctx context.Context, tx Tx, tenantID, realmID string) (Policy, error) {
	if _, err := directory.LookupRealm(ctx, tx, tenantID, realmID); err != nil {
		return Policy{}, err
	}
	return stored(ctx, tx, tenantID, realmID)
}

// stored returns the policy stored for a realm: a realm that never had one
// denies everything until rules allow it.
func stored(ctx context.Context, tx Tx, tenantID, realmID string) (Policy, error) {
	p, err := tx.GetPolicy(ctx, realmID)
	if errors.Is(err, latchkey.ErrNotFound) {
		return Policy{TenantID: tenantID, RealmID: realmID, Rules: []Rule{}, DefaultEffect: Deny}, nil
	}
	return p, err
}

// Get returns a realm's policy.
func (s *Service) Get(ctx context.Context, tenantID, realmID string) (Policy, error) {
	return get(ctx, s.store, tenantID, realmID)
}

// Put replaces a realm's policy once every rule is valid and names only
// applications, groups and identities of the realm.
func (s *Service) Put(ctx context.Context, tenantID, realmID string, p Policy) (Policy, error) {
	if p.Rules == nil {
		p.Rules = []Rule{}
	}
	if err := validate(p); err != nil {
		return p, err
	}
	p.TenantID, p.RealmID, p.UpdateTime = tenantID, realmID, s.Clock.Now()
	defer s.policies.Clear() // once the change is committed
	err := s.store.Update(ctx, func(tx Tx) error {
		if _, err := directory.LookupRealm(ctx, tx, tenantID, realmID); err != nil {
			return err
		}
		if err := referencesExist(ctx, tx, p); err != nil {
			return err
		}
		old, err := stored(ctx, tx, tenantID, realmID)
		if err != nil {
			return err
		}
		if err := tx.PutPolicy(ctx, p); err != nil {
			return err
		}
		return tx.RecordEvent(ctx, audit.NewAt(ctx, p.UpdateTime, tenantID, realmID, "policy.update", "Policy", realmID).Changed("", old, p))
	})
	return p, err
}

func validate(p Policy) error {
	var v latchkey.Violations
	if p.DefaultEffect != Allow && p.DefaultEffect != Deny {
		v.Add("default_effect", `must be "allow" or "deny"`)
	}
	if len(p.Rules) > MaxRules {
		v.Add("rules", "more than 1000 rules")
	}
	for i, r := range p.Rules {
		at := "rules[" + strconv.Itoa(i) + "]."
		if r.Effect != Allow && r.Effect != Deny {
			v.Add(at+"effect", `must be "allow" or "deny"`)
		}
		if len(r.Applications) == 0 {
			v.Add(at+"applications", `must name at least one application, or "*" for all`)
		}
		if slices.Contains(r.Applications, AnyApplication) && len(r.Applications) > 1 {
			v.Add(at+"applications", `"*" stands alone`)
		}
		if p := directory.NameProblem(r.Description, false, 300); p != "" {
			v.Add(at+"description", p)
		}
		for _, list := range []struct {
			name string
			ids  []string
		}{{"applications", r.Applications}, {"groups", r.Groups}, {"identities", r.Identities}} {
			if len(list.ids) > directory.MaxBatch {
				v.Add(at+list.name, "array exceeds 1000 elements")
			}
		}
	}
	return v.Err()
}

// referencesExist checks that the rules name only what the realm has.
func referencesExist(ctx context.Context, tx Tx, p Policy) error {
	for i, r := range p.Rules {
		at := "rules[" + strconv.Itoa(i) + "]."
		for _, app := range r.Applications {
			if app == AnyApplication {
				continue
			}
			if err := tx.ApplicationExists(ctx, p.RealmID, app); err != nil {
				return unknown(err, at+"applications", "application "+app+" is not in the realm")
			}
		}
		for _, g := range r.Groups {
			if _, err := tx.GetGroup(ctx, p.RealmID, g); err != nil {
				return unknown(err, at+"groups", "group "+g+" is not in the realm")
			}
		}
		if len(r.Identities) > 0 {
			missing, err := tx.MissingIdentities(ctx, p.RealmID, r.Identities)
			if err != nil {
				return err
			}
			if len(missing) > 0 {
				return latchkey.InvalidField(at+"identities", "identity "+missing[0]+" is not in the realm")
			}
		}
	}
	return nil
}

func unknown(err error, field, description string) error {
	if errors.Is(err, latchkey.ErrNotFound) {
		return latchkey.InvalidField(field, description)
	}
	return err
}

// Evaluate decides whether an identity may use an application, and says why.
// A suspended identity is always denied.
func (s *Service) Evaluate(ctx context.Context, tenantID, realmID, identityID, applicationID string) (Decision, error) {
	if _, err := directory.LookupRealm(ctx, s.store, tenantID, realmID); err != nil {
		return Decision{}, err
	}
	i, err := s.store.GetIdentity(ctx, realmID, identityID)
	if err != nil {
		return Decision{}, latchkey.IfNotFound(err, directory.IdentityNotFound, identityID)
	}
	if err := s.store.ApplicationExists(ctx, realmID, applicationID); err != nil {
		return Decision{}, latchkey.IfNotFound(err, applicationNotFound, applicationID)
	}
	return s.Decide(ctx, i, applicationID)
}

// Decide is Evaluate for an identity the caller has read, and an
// application it knows is in the identity's realm: a sign-in has both at
// hand, and reads neither again.
func (s *Service) Decide(ctx context.Context, i directory.Identity, applicationID string) (Decision, error) {
	if !i.Active() {
		return Decision{Effect: Deny, Reason: "the identity is suspended"}, nil
	}
	p, cached := s.policies.Get(i.RealmID, s.Clock.Now())
	if !cached {
		var err error
		if p, err = stored(ctx, s.store, i.TenantID, i.RealmID); err != nil {
			return Decision{}, err
		}
		s.policies.Put(i.RealmID, p, s.Clock.Now())
	}
	var groups []directory.Group
	read := false
	groupsOf := func() ([]directory.Group, error) { // read once, when a rule names groups
		if !read {
			byIdentity, err := s.store.GroupsOfIdentities(ctx, []string{i.ID})
			if err != nil {
				return nil, err
			}
			groups, read = byIdentity[i.ID], true
		}
		return groups, nil
	}
	return p.decide(i.ID, applicationID, groupsOf)
}

// decide applies the rules in order to an identity in the groups that
// groupsOf returns.
func (p Policy) decide(identityID, applicationID string, groupsOf func() ([]directory.Group, error)) (Decision, error) {
	for idx, r := range p.Rules {
		if !slices.Contains(r.Applications, AnyApplication) && !slices.Contains(r.Applications, applicationID) {
			continue
		}
		why := ""
		switch {
		case len(r.Identities) == 0 && len(r.Groups) == 0:
			why = "applies to every identity"
		case slices.Contains(r.Identities, identityID):
			why = "names the identity"
		case len(r.Groups) > 0:
			groups, err := groupsOf()
			if err != nil {
				return Decision{}, err
			}
			for _, g := range groups {
				if slices.Contains(r.Groups, g.ID) {
					why = "names its group " + g.DisplayName
					break
				}
			}
		}
		if why == "" {
			continue
		}
		rule := r
		return Decision{Allowed: r.Effect == Allow, Effect: r.Effect, RuleIndex: &idx, Rule: &rule,
			Reason: fmt.Sprintf("rule %d (%s) %s", idx+1, r.Effect, why)}, nil
	}
	return Decision{Allowed: p.DefaultEffect == Allow, Effect: p.DefaultEffect,
		Reason: "no rule matches; the realm's default is " + p.DefaultEffect}, nil
}

package console

import (
	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/directory"
	"github.com/latchkey/latchkey/internal/filter"
	"github.com/latchkey/latchkey/internal/passkey"
)

// summary is the top of the identity page: what an administrator looks
// for first. A part the administrator's role may not read is left out
// (its Can… false) rather than failing the page.
type summary struct {
	CanGroups, CanPasskeys, CanEvents bool
	Groups                            []directory.Group
	MoreGroups                        bool
	ActivePasskeys                    int
	LastSignIn                        *audit.Event
}

// summaryGroups is how many groups the summary names.
const summaryGroups = 10

func (c *Console) identitySummary(q *request, i directory.Identity) (summary, error) {
	ctx := q.Context()
	s := summary{CanGroups: q.principal.HasScopes([]string{"groups:read"}),
		CanPasskeys: q.principal.HasScopes([]string{"credentials:read"}), CanEvents: q.principal.HasScopes([]string{"events:read"})}
	if s.CanGroups {
		gs, _, err := c.Directory.ListGroupsOfIdentity(ctx, q.tenantID, q.realm.ID, i.ID, latchkey.ListOptions{Limit: summaryGroups + 1, SkipTotal: true})
		if err != nil {
			return s, err
		}
		s.Groups, s.MoreGroups = gs[:min(len(gs), summaryGroups)], len(gs) > summaryGroups
	}
	if s.CanPasskeys {
		creds, _, err := c.Passkeys.ListCredentials(ctx, q.tenantID, q.realm.ID, i.ID, latchkey.ListOptions{Limit: 200, SkipTotal: true})
		if err != nil {
			return s, err
		}
		for _, k := range creds {
			if k.State == passkey.Active {
				s.ActivePasskeys++
			}
		}
	}
	if s.CanEvents {
		// The newest allowed sign-in, on the index of the identity's events.
		signedIn := &filter.And{Left: &filter.Compare{Attr: "identity_id", Op: filter.Eq, Value: i.ID},
			Right: &filter.Compare{Attr: "action", Op: filter.Eq, Value: audit.SignInAllowed}}
		es, _, err := c.Events.ListEvents(ctx, q.tenantID, q.realm.ID, latchkey.ListOptions{Filter: signedIn, Limit: 1, SkipTotal: true})
		if err != nil {
			return s, err
		}
		if len(es) > 0 {
			s.LastSignIn = &es[0]
		}
	}
	return s, nil
}

// traitSection is a group of an identity's fields on the edit form.
type traitSection struct {
	Legend string
	Fields []string // trait names
}

// traitSections group every trait (directory.TraitNames) for the edit
// form; the test TestTraitSectionsCoverTraits keeps them complete.
var traitSections = []traitSection{
	{"Sign-in and contact", []string{"username", "primary_email_address", "secondary_email_address", "primary_phone", "secondary_phone"}},
	{"Name", []string{"given_name", "family_name", "middle_name", "formatted_name", "nick_name", "honorific_prefix", "honorific_suffix"}},
	{"Work", []string{"title", "organization", "division", "department", "cost_center", "employee_number", "user_type", "manager_id", "manager_name"}},
	{"Locale and address", []string{"preferred_language", "locale", "timezone", "street_address", "locality", "region", "postal_code", "country", "formatted_address"}},
	{"Other", []string{"external_id", "profile_url", "photo"}},
}

package directory

import (
	"maps"
	"net/mail"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/latchkey/latchkey"
)

// Fold is how usernames, e-mail addresses and names compare: case-insensitively.
// Stores keep a folded copy of those columns so both engines agree.
func Fold(s string) string { return strings.ToLower(s) }

// forbiddenNameChars are the characters the reference's pattern excludes
// from display names, usernames and descriptions.
const forbiddenNameChars = "{}[]<>;:?\\/|*^%$#=~`!"

// MaxTraitLength bounds every trait other than username (64) and e-mail addresses (254).
const MaxTraitLength = 1024

// violations are latchkey.Violations with the directory's own checks.
type violations struct{ latchkey.Violations }

// checkName applies the rules of display names, usernames (max 64) and
// descriptions (max 300).
func (v *violations) checkName(field, s string, required bool, max int) {
	if problem := NameProblem(s, required, max); problem != "" {
		v.Add(field, problem)
	}
}

// NameProblem says what breaks the rules of display names in s, or "" when
// nothing does; other domains' display names follow the same rules.
func NameProblem(s string, required bool, max int) string {
	switch {
	case s == "" && required:
		return "empty string"
	case utf8.RuneCountInString(s) > max:
		return "longer than " + strconv.Itoa(max) + " characters"
	case strings.ContainsAny(s, forbiddenNameChars):
		return "contains a forbidden character (one of " + forbiddenNameChars + ")"
	}
	return latchkey.TextProblem(s, false)
}

func (v *violations) checkEmail(field, s string) {
	if s == "" {
		return
	}
	addr, err := mail.ParseAddress(s)
	if err != nil || addr.Address != s || len(s) > 254 {
		v.Add(field, "not a valid e-mail address")
	}
}

// ValidateIdentity checks an identity about to be stored. Field names are
// relative to the identity ("traits.username").
func ValidateIdentity(i Identity) error {
	var v violations
	v.checkName("display_name", i.DisplayName, true, 64)
	if i.Status != StatusActive && i.Status != StatusSuspended {
		v.Add("status", `must be "active" or "suspended"`)
	}
	if i.Traits.Type != TraitsV0 {
		v.Add("traits.type", `must be "traits_v0"`)
	}
	v.checkName("traits.username", i.Traits.Username, true, 64)
	v.checkEmail("traits.primary_email_address", i.Traits.PrimaryEmailAddress)
	v.checkEmail("traits.secondary_email_address", i.Traits.SecondaryEmailAddress)
	for _, name := range TraitNames {
		val := *i.Traits.Field(name)
		switch {
		case name == "username" || strings.HasSuffix(name, "_email_address"):
		case len(val) > MaxTraitLength:
			v.Add("traits."+name, "longer than "+strconv.Itoa(MaxTraitLength)+" bytes")
		default:
			// Unlike names, traits may span lines (a postal address does).
			if p := latchkey.TextProblem(val, true); p != "" {
				v.Add("traits."+name, p)
			}
		}
	}
	return v.Err()
}

// ValidateTraitsPatch reports names that are not traits.
func ValidateTraitsPatch(p TraitsPatch) error {
	var v violations
	var probe Traits
	for _, name := range slices.Sorted(maps.Keys(p)) { // sorted, so that the report is stable
		if probe.Field(name) == nil {
			v.Add("traits."+name, "unknown trait")
		}
	}
	return v.Err()
}

// ValidateGroup checks a group about to be stored.
func ValidateGroup(g Group) error {
	var v violations
	v.checkName("display_name", g.DisplayName, true, 64)
	v.checkName("description", g.Description, false, 300)
	return v.Err()
}

// ValidateRealm checks a realm about to be stored.
func ValidateRealm(r Realm) error {
	var v violations
	v.checkName("display_name", r.DisplayName, true, 64)
	if r.Classification != SecureWorkforce && r.Classification != SecureCustomer {
		v.Add("classification", `must be "SECURE_WORKFORCE" or "SECURE_CUSTOMER"`)
	}
	// A minute to 30 days unused, a minute to a year in all; 0 is the default.
	if r.SessionIdleTimeout != 0 && (r.SessionIdleTimeout < 60 || r.SessionIdleTimeout > 30*86400) {
		v.Add("session_idle_timeout", "must be 0 (the default) or 60 to 2592000 seconds")
	}
	if r.SessionLifetime != 0 && (r.SessionLifetime < 60 || r.SessionLifetime > 365*86400) {
		v.Add("session_lifetime", "must be 0 (the default) or 60 to 31536000 seconds")
	}
	return v.Err()
}

// ValidateTenant checks a tenant about to be stored.
func ValidateTenant(t Tenant) error {
	var v violations
	v.checkName("display_name", t.DisplayName, true, 64)
	return v.Err()
}

// Attributes the list endpoints may filter on.
var (
	IdentityFilterAttributes = []string{"id", "display_name", "status", "traits.username", "traits.primary_email_address", "traits.external_id", "enrollment_status"}
	GroupFilterAttributes    = []string{"id", "display_name"}
	RealmFilterAttributes    = []string{"id", "display_name"}
)

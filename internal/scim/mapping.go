package scim

import (
	"hash/fnv"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/latchkey/latchkey/internal/directory"
)

// enterprisePrefix starts the paths of the enterprise extension's attributes.
const enterprisePrefix = SchemaEnterpriseUser + ":"

// scalarTraits maps every single-valued SCIM attribute that is a trait. Paths
// are canonical (as pathName writes them); field returns the attribute of a
// User, making its parents as needed.
var scalarTraits = []struct {
	path  string
	trait string
	field func(*User) *string
}{
	{"userName", "username", func(u *User) *string { return &u.UserName }},
	{"externalId", "external_id", func(u *User) *string { return &u.ExternalID }},
	{"nickName", "nick_name", func(u *User) *string { return &u.NickName }},
	{"profileUrl", "profile_url", func(u *User) *string { return &u.ProfileURL }},
	{"title", "title", func(u *User) *string { return &u.Title }},
	{"userType", "user_type", func(u *User) *string { return &u.UserType }},
	{"preferredLanguage", "preferred_language", func(u *User) *string { return &u.PreferredLanguage }},
	{"locale", "locale", func(u *User) *string { return &u.Locale }},
	{"timezone", "timezone", func(u *User) *string { return &u.Timezone }},
	{"name.formatted", "formatted_name", func(u *User) *string { return &u.name().Formatted }},
	{"name.familyName", "family_name", func(u *User) *string { return &u.name().FamilyName }},
	{"name.givenName", "given_name", func(u *User) *string { return &u.name().GivenName }},
	{"name.middleName", "middle_name", func(u *User) *string { return &u.name().MiddleName }},
	{"name.honorificPrefix", "honorific_prefix", func(u *User) *string { return &u.name().HonorificPrefix }},
	{"name.honorificSuffix", "honorific_suffix", func(u *User) *string { return &u.name().HonorificSuffix }},
	{enterprisePrefix + "employeeNumber", "employee_number", func(u *User) *string { return &u.enterprise().EmployeeNumber }},
	{enterprisePrefix + "costCenter", "cost_center", func(u *User) *string { return &u.enterprise().CostCenter }},
	{enterprisePrefix + "organization", "organization", func(u *User) *string { return &u.enterprise().Organization }},
	{enterprisePrefix + "division", "division", func(u *User) *string { return &u.enterprise().Division }},
	{enterprisePrefix + "department", "department", func(u *User) *string { return &u.enterprise().Department }},
	{enterprisePrefix + "manager.value", "manager_id", func(u *User) *string { return &u.manager().Value }},
	{enterprisePrefix + "manager.displayName", "manager_name", func(u *User) *string { return &u.manager().DisplayName }},
}

// slot is a place a multi-valued attribute's value is stored: the trait that
// holds its value, and the type and primary flag it is shown with.
type slot struct {
	typ     string
	primary bool
	trait   string
}

// valueSlots maps emails, phone numbers and photos: the primary (or first)
// value goes to the first slot, the next to the second. Phone types are
// those Okta's and Entra's default mappings use (work and mobile), so that
// their value-filter paths find the values. Values of an unstored type are
// accepted and dropped: Entra ID's default mapping sends a fax number, which
// is no way to reach a user and has no trait.
var valueSlots = []struct {
	attr     string
	list     func(*User) *[]MultiValue
	slots    []slot
	unstored []string
}{
	{"emails", func(u *User) *[]MultiValue { return &u.Emails },
		[]slot{{"work", true, "primary_email_address"}, {"other", false, "secondary_email_address"}}, nil},
	{"phoneNumbers", func(u *User) *[]MultiValue { return &u.PhoneNumbers },
		[]slot{{"work", true, "primary_phone"}, {"mobile", false, "secondary_phone"}}, unstoredPhoneTypes},
	{"photos", func(u *User) *[]MultiValue { return &u.Photos },
		[]slot{{"photo", true, "photo"}}, nil},
}

// unstoredPhoneTypes are the phone types of RFC 7643 that are not stored.
var unstoredPhoneTypes = []string{"fax", "pager"}

// addressFields maps the one address that can be stored.
var addressFields = []struct {
	sub   string
	trait string
	field func(*Address) *string
}{
	{"formatted", "formatted_address", func(a *Address) *string { return &a.Formatted }},
	{"streetAddress", "street_address", func(a *Address) *string { return &a.StreetAddress }},
	{"locality", "locality", func(a *Address) *string { return &a.Locality }},
	{"region", "region", func(a *Address) *string { return &a.Region }},
	{"postalCode", "postal_code", func(a *Address) *string { return &a.PostalCode }},
	{"country", "country", func(a *Address) *string { return &a.Country }},
}

// addressType is the type the stored address is shown with.
const addressType = "work"

func (u *User) name() *Name {
	if u.Name == nil {
		u.Name = &Name{}
	}
	return u.Name
}

func (u *User) enterprise() *EnterpriseUser {
	if u.Enterprise == nil {
		u.Enterprise = &EnterpriseUser{}
	}
	return u.Enterprise
}

func (u *User) manager() *Manager {
	e := u.enterprise()
	if e.Manager == nil {
		e.Manager = &Manager{}
	}
	return e.Manager
}

// Version returns the weak ETag of a resource last updated at t: W/"<Unix
// microseconds>", the precision both stores keep.
func Version(t time.Time) string {
	return `W/"` + strconv.FormatInt(t.UnixMicro(), 10) + `"`
}

// UserVersion is the weak ETag of a User: its identity's update time and
// the ids and names of its groups, which the User shows. Joining or leaving
// a group, or its rename, changes it without writing to the identity.
func UserVersion(i directory.Identity, groups []directory.Group) string {
	sorted := slices.SortedFunc(slices.Values(groups), func(a, b directory.Group) int { return strings.Compare(a.ID, b.ID) })
	h := fnv.New64a()
	for _, g := range sorted {
		h.Write([]byte(g.ID))
		h.Write([]byte{0})
		h.Write([]byte(g.DisplayName))
		h.Write([]byte{0})
	}
	return `W/"` + strconv.FormatInt(i.UpdateTime.UnixMicro(), 10) + "-" + strconv.FormatUint(h.Sum64(), 36) + `"`
}

// timestamp renders t as RFC 3339 in UTC, with as many fractional digits as
// it has.
func timestamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

func newMeta(resourceType, location string, created, updated time.Time) *Meta {
	return &Meta{ResourceType: resourceType, Created: timestamp(created), LastModified: timestamp(updated),
		Location: location, Version: Version(updated)}
}

// UserFromIdentity renders an identity and its groups as a User. baseURL is
// the SCIM base URL, e.g. https://host/v1/tenants/t/realms/r/scim/v2.
func UserFromIdentity(i directory.Identity, groups []directory.Group, baseURL string) User {
	base := strings.TrimRight(baseURL, "/")
	active := i.Status == directory.StatusActive
	u := User{Schemas: []string{SchemaUser}, ID: i.ID, DisplayName: i.DisplayName, Active: &active}
	t := i.Traits
	for _, f := range scalarTraits {
		if v := *t.Field(f.trait); v != "" {
			*f.field(&u) = v
		}
	}
	for _, m := range valueSlots {
		for _, s := range m.slots {
			if v := *t.Field(s.trait); v != "" {
				*m.list(&u) = append(*m.list(&u), MultiValue{Value: v, Type: s.typ, Primary: s.primary})
			}
		}
	}
	var a Address
	for _, f := range addressFields {
		*f.field(&a) = *t.Field(f.trait)
	}
	if a != (Address{}) {
		a.Type, a.Primary = addressType, true
		u.Addresses = []Address{a}
	}
	if u.Enterprise != nil {
		u.Schemas = append(u.Schemas, SchemaEnterpriseUser)
		if m := u.Enterprise.Manager; m != nil && m.Value != "" {
			m.Ref = base + "/Users/" + m.Value
		}
	}
	for _, g := range groups {
		u.Groups = append(u.Groups, Reference{Value: g.ID, Ref: base + "/Groups/" + g.ID,
			Display: g.DisplayName, Type: "direct"})
	}
	u.Meta = newMeta("User", base+"/Users/"+i.ID, i.CreateTime, i.UpdateTime)
	u.Meta.Version = UserVersion(i, groups)
	return u
}

// IdentityFromUser maps a User of a request onto the fields of an identity.
// It sets every trait, so the result replaces the identity's traits (PUT,
// and PATCH after ApplyPatch). Read-only attributes (id, groups, meta) are
// ignored. More values of a multi-valued attribute than there are traits to
// hold them is an invalidValue error, never a silent loss.
func IdentityFromUser(u User) (display string, status string, traits directory.Traits, err *Error) {
	if strings.TrimSpace(u.UserName) == "" {
		return "", "", traits, InvalidValue("userName is required")
	}
	traits.Type = directory.TraitsV0
	for _, f := range scalarTraits {
		*traits.Field(f.trait) = *f.field(&u) // u is a copy: making parents is harmless
	}
	for _, m := range valueSlots {
		if err := fillSlots(m.attr, *m.list(&u), m.slots, m.unstored, &traits); err != nil {
			return "", "", traits, err
		}
	}
	if err := fillAddress(u.Addresses, &traits); err != nil {
		return "", "", traits, err
	}
	status = directory.StatusActive
	if u.Active != nil && !*u.Active {
		status = directory.StatusSuspended
	}
	return displayName(u), status, traits, nil
}

// displayName is the User's displayName or, when the client omitted it, one
// derived from its name or userName: identities need one.
func displayName(u User) string {
	if u.DisplayName != "" {
		return u.DisplayName
	}
	if n := u.Name; n != nil {
		if n.Formatted != "" {
			return n.Formatted
		}
		if s := strings.TrimSpace(n.GivenName + " " + n.FamilyName); s != "" {
			return s
		}
	}
	return u.UserName
}

// fillSlots stores the values of a multi-valued attribute in its slots: the
// primary (or else the first) value in the first slot, the others in order.
// Values with an empty value sub-attribute, or of an unstored type, are no
// values.
func fillSlots(attr string, values []MultiValue, slots []slot, unstored []string, t *directory.Traits) *Error {
	var ordered []string
	primaries := 0
	for _, v := range values {
		switch {
		case v.Value == "" || slices.ContainsFunc(unstored, func(typ string) bool { return strings.EqualFold(typ, v.Type) }):
		case v.Primary:
			primaries++
			ordered = append([]string{v.Value}, ordered...)
		default:
			ordered = append(ordered, v.Value)
		}
	}
	if primaries > 1 {
		return InvalidValue("%s: %d values are primary; at most one may be", attr, primaries)
	}
	if len(ordered) > len(slots) {
		return InvalidValue("%s: %d values given; at most %d can be stored", attr, len(ordered), len(slots))
	}
	for i, v := range ordered {
		*t.Field(slots[i].trait) = v
	}
	return nil
}

func fillAddress(addresses []Address, t *directory.Traits) *Error {
	var stored []Address
	for _, a := range addresses {
		a.Type, a.Primary = "", false
		if a != (Address{}) {
			stored = append(stored, a)
		}
	}
	if len(stored) > 1 {
		return InvalidValue("addresses: %d values given; at most 1 can be stored", len(stored))
	}
	for _, a := range stored {
		for _, f := range addressFields {
			*t.Field(f.trait) = *f.field(&a)
		}
	}
	return nil
}

// GroupFromDirectory renders a group and its members as a Group. A nil
// members leaves members out (for excludedAttributes=members).
func GroupFromDirectory(g directory.Group, members []directory.Identity, baseURL string) Group {
	base := strings.TrimRight(baseURL, "/")
	out := Group{Schemas: []string{SchemaGroup}, ID: g.ID, ExternalID: g.ExternalID, DisplayName: g.DisplayName,
		Meta: newMeta("Group", base+"/Groups/"+g.ID, g.CreateTime, g.UpdateTime)}
	for _, m := range members {
		out.Members = append(out.Members, Reference{Value: m.ID, Ref: base + "/Users/" + m.ID,
			Display: m.DisplayName, Type: "User"})
	}
	return out
}

// DirectoryFromGroup maps a Group of a request onto a group's display name,
// external id and the ids of its members, in order and without duplicates.
// Members must be Users: Latchkey has no nested groups.
func DirectoryFromGroup(g Group) (display, externalID string, memberIDs []string, err *Error) {
	if strings.TrimSpace(g.DisplayName) == "" {
		return "", "", nil, InvalidValue("displayName is required")
	}
	seen := make(map[string]bool, len(g.Members))
	for _, m := range g.Members {
		switch {
		case m.Value == "":
			return "", "", nil, InvalidValue("members: every member needs a value (the id of a User)")
		case m.Type != "" && !strings.EqualFold(m.Type, "User"):
			return "", "", nil, InvalidValue("members: type %q is not supported; members are Users", m.Type)
		case !seen[m.Value]:
			seen[m.Value] = true
			memberIDs = append(memberIDs, m.Value)
		}
	}
	return g.DisplayName, g.ExternalID, memberIDs, nil
}

// scimField names a directory field (of a validation error) as a SCIM
// attribute path: "traits.username" is "userName".
func scimField(field string) string {
	switch field {
	case "display_name":
		return "displayName"
	case "status":
		return "active"
	case "external_id":
		return "externalId"
	}
	trait, ok := strings.CutPrefix(field, "traits.")
	if !ok {
		return field
	}
	for _, f := range scalarTraits {
		if f.trait == trait {
			return f.path
		}
	}
	for _, m := range valueSlots {
		for _, s := range m.slots {
			if s.trait == trait {
				return m.attr + `[type eq "` + s.typ + `"].value`
			}
		}
	}
	for _, f := range addressFields {
		if f.trait == trait {
			return "addresses." + f.sub
		}
	}
	return field
}

package directory

// TraitsV0 is the only traits type of the API.
const TraitsV0 = "traits_v0"

// Traits are the attributes of an identity (the API's Traits_v0).
type Traits struct {
	Type                  string `json:"type"`
	Username              string `json:"username,omitempty"`
	PrimaryEmailAddress   string `json:"primary_email_address,omitempty"`
	SecondaryEmailAddress string `json:"secondary_email_address,omitempty"`
	ExternalID            string `json:"external_id,omitempty"`
	FamilyName            string `json:"family_name,omitempty"`
	GivenName             string `json:"given_name,omitempty"`
	FormattedName         string `json:"formatted_name,omitempty"`
	MiddleName            string `json:"middle_name,omitempty"`
	HonorificPrefix       string `json:"honorific_prefix,omitempty"`
	HonorificSuffix       string `json:"honorific_suffix,omitempty"`
	NickName              string `json:"nick_name,omitempty"`
	Title                 string `json:"title,omitempty"`
	PrimaryPhone          string `json:"primary_phone,omitempty"`
	SecondaryPhone        string `json:"secondary_phone,omitempty"`
	ProfileURL            string `json:"profile_url,omitempty"`
	Photo                 string `json:"photo,omitempty"`
	PreferredLanguage     string `json:"preferred_language,omitempty"`
	Locale                string `json:"locale,omitempty"`
	Timezone              string `json:"timezone,omitempty"`
	FormattedAddress      string `json:"formatted_address,omitempty"`
	StreetAddress         string `json:"street_address,omitempty"`
	Locality              string `json:"locality,omitempty"`
	Region                string `json:"region,omitempty"`
	PostalCode            string `json:"postal_code,omitempty"`
	Country               string `json:"country,omitempty"`
	UserType              string `json:"user_type,omitempty"`
	EmployeeNumber        string `json:"employee_number,omitempty"`
	CostCenter            string `json:"cost_center,omitempty"`
	Organization          string `json:"organization,omitempty"`
	Division              string `json:"division,omitempty"`
	Department            string `json:"department,omitempty"`
	ManagerID             string `json:"manager_id,omitempty"`
	ManagerName           string `json:"manager_name,omitempty"`
}

// TraitNames lists the trait fields by their API names, "type" excluded, in
// the order of the reference.
var TraitNames = []string{
	"username", "primary_email_address", "secondary_email_address", "external_id",
	"family_name", "given_name", "formatted_name", "middle_name", "honorific_prefix",
	"honorific_suffix", "nick_name", "title", "primary_phone", "secondary_phone",
	"profile_url", "photo", "preferred_language", "locale", "timezone",
	"formatted_address", "street_address", "locality", "region", "postal_code",
	"country", "user_type", "employee_number", "cost_center", "organization",
	"division", "department", "manager_id", "manager_name",
}

// Field returns a pointer to the trait called name ("type" included), or nil
// when there is no such trait. CSV columns, SCIM attributes and API patches all set traits by
// name through it.
func (t *Traits) Field(name string) *string {
	switch name {
	case "type":
		return &t.Type
	case "username":
		return &t.Username
	case "primary_email_address":
		return &t.PrimaryEmailAddress
	case "secondary_email_address":
		return &t.SecondaryEmailAddress
	case "external_id":
		return &t.ExternalID
	case "family_name":
		return &t.FamilyName
	case "given_name":
		return &t.GivenName
	case "formatted_name":
		return &t.FormattedName
	case "middle_name":
		return &t.MiddleName
	case "honorific_prefix":
		return &t.HonorificPrefix
	case "honorific_suffix":
		return &t.HonorificSuffix
	case "nick_name":
		return &t.NickName
	case "title":
		return &t.Title
	case "primary_phone":
		return &t.PrimaryPhone
	case "secondary_phone":
		return &t.SecondaryPhone
	case "profile_url":
		return &t.ProfileURL
	case "photo":
		return &t.Photo
	case "preferred_language":
		return &t.PreferredLanguage
	case "locale":
		return &t.Locale
	case "timezone":
		return &t.Timezone
	case "formatted_address":
		return &t.FormattedAddress
	case "street_address":
		return &t.StreetAddress
	case "locality":
		return &t.Locality
	case "region":
		return &t.Region
	case "postal_code":
		return &t.PostalCode
	case "country":
		return &t.Country
	case "user_type":
		return &t.UserType
	case "employee_number":
		return &t.EmployeeNumber
	case "cost_center":
		return &t.CostCenter
	case "organization":
		return &t.Organization
	case "division":
		return &t.Division
	case "department":
		return &t.Department
	case "manager_id":
		return &t.ManagerID
	case "manager_name":
		return &t.ManagerName
	}
	return nil
}

// NewTraits builds traits from values by name, as API bodies and CSV rows
// give them; an unknown name is a 400.
func NewTraits(values map[string]string) (Traits, error) {
	if err := ValidateTraitsPatch(values); err != nil {
		return Traits{}, err
	}
	return TraitsPatch(values).Apply(Traits{}), nil
}

// TraitsPatch sets traits by name; an empty value clears the trait.
type TraitsPatch map[string]string

// Apply returns t with the patch applied. Unknown names are reported by
// ValidateTraitsPatch.
func (p TraitsPatch) Apply(t Traits) Traits {
	for name, v := range p {
		if f := t.Field(name); f != nil {
			*f = v
		}
	}
	return t
}

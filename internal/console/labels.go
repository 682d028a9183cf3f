package console

import "strings"

// fieldLabels is the one table of what the console calls an identity's
// fields, on every page (lists, the identity page, forms, bulk pages), so
// that a field is not "E-mail" here and "Primary email address" there. A
// field missing here is its API name in words.
var fieldLabels = map[string]string{
	"display_name":            "Name",
	"username":                "Username",
	"primary_email_address":   "E-mail address",
	"secondary_email_address": "Second e-mail address",
	"external_id":             "External id",
	"given_name":              "Given name",
	"family_name":             "Family name",
	"formatted_name":          "Full name",
	"middle_name":             "Middle name",
	"honorific_prefix":        "Title before the name",
	"honorific_suffix":        "Title after the name",
	"nick_name":               "Nickname",
	"title":                   "Job title",
	"primary_phone":           "Phone",
	"secondary_phone":         "Second phone",
	"profile_url":             "Profile URL",
	"photo":                   "Photo URL",
	"preferred_language":      "Preferred language",
	"locale":                  "Locale",
	"timezone":                "Time zone",
	"formatted_address":       "Full address",
	"street_address":          "Street address",
	"locality":                "City",
	"region":                  "Region",
	"postal_code":             "Postal code",
	"country":                 "Country",
	"user_type":               "User type",
	"employee_number":         "Employee number",
	"cost_center":             "Cost center",
	"organization":            "Organization",
	"division":                "Division",
	"department":              "Department",
	"manager_id":              "Manager's id",
	"manager_name":            "Manager's name",
}

// fieldLabel returns the label of an identity field, by its API name
// (with or without "traits.").
func fieldLabel(name string) string {
	name = strings.TrimPrefix(name, "traits.")
	if l, ok := fieldLabels[name]; ok {
		return l
	}
	s := strings.ReplaceAll(name, "_", " ")
	return strings.ToUpper(s[:1]) + s[1:]
}

// stateLabel writes a state or status the same way on every page,
// whatever case the API spells it in: "LINK_SENT" and "link_sent" are
// "Link sent".
func stateLabel(s string) string {
	if s == "" {
		return "—"
	}
	s = strings.ToLower(strings.ReplaceAll(s, "_", " "))
	return strings.ToUpper(s[:1]) + s[1:]
}

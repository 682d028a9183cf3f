package scim

import "strings"

// Attribute describes one attribute of a schema as RFC 7643 §7 renders it.
// The same value drives decoding, PATCH and filters, so what /Schemas says
// is what the server does.
type Attribute struct {
	Name            string      `json:"name"`
	Type            string      `json:"type"`
	MultiValued     bool        `json:"multiValued"`
	Description     string      `json:"description"`
	Required        bool        `json:"required"`
	CaseExact       bool        `json:"caseExact"`
	Mutability      string      `json:"mutability"`
	Returned        string      `json:"returned"`
	Uniqueness      string      `json:"uniqueness"`
	CanonicalValues []string    `json:"canonicalValues,omitempty"`
	ReferenceTypes  []string    `json:"referenceTypes,omitempty"`
	SubAttributes   []Attribute `json:"subAttributes,omitempty"`
}

// Schema is a schema of RFC 7643 §7. In the tables of this package Schemas
// and Meta are empty; SchemaDocuments fills them in.
type Schema struct {
	Schemas     []string    `json:"schemas,omitempty"`
	ID          string      `json:"id"`
	Name        string      `json:"name"`
	Description string      `json:"description"`
	Attributes  []Attribute `json:"attributes"`
	Meta        *Meta       `json:"meta,omitempty"`
}

// Resource describes a resource type: its endpoint, core schema and
// extensions. UserResource and GroupResource are the only values; treat them
// as read-only.
type Resource struct {
	Name        string
	Endpoint    string
	Description string
	Schema      *Schema
	Extensions  []*Schema

	// top holds the core attributes followed by one complex pseudo-attribute
	// per extension, named by its URN: how extensions appear in documents.
	top []Attribute
	// store maps attributes to the directory's filter vocabulary.
	store *storeMap
}

// Values of Attribute.Type, Mutability, Returned and Uniqueness.
const (
	typeString    = "string"
	typeBoolean   = "boolean"
	typeDateTime  = "dateTime"
	typeReference = "reference"
	typeComplex   = "complex"

	readOnly  = "readOnly"
	readWrite = "readWrite"

	returnedAlways  = "always"
	returnedDefault = "default"

	uniqueNone   = "none"
	uniqueServer = "server"
)

// Limits the server enforces and ServiceProviderConfig announces.
const (
	MaxBulkOperations = 1000
	MaxPayloadSize    = 1 << 20 // bytes of a request body, a Bulk request included
	MaxResults        = 1000    // resources in one list response
)

type option func(*Attribute)

func attr(name, typ, description string, opts ...option) Attribute {
	a := Attribute{Name: name, Type: typ, Description: description,
		Mutability: readWrite, Returned: returnedDefault, Uniqueness: uniqueNone}
	for _, o := range opts {
		o(&a)
	}
	return a
}

func str(name, description string, opts ...option) Attribute {
	return attr(name, typeString, description, opts...)
}

func complexAttr(name, description string, subs []Attribute, opts ...option) Attribute {
	// Sub-attributes first, so that options such as readonly reach them.
	return attr(name, typeComplex, description, append([]option{func(a *Attribute) { a.SubAttributes = subs }}, opts...)...)
}

func required(a *Attribute)   { a.Required = true }
func caseExact(a *Attribute)  { a.CaseExact = true }
func multi(a *Attribute)      { a.MultiValued = true }
func uniqueAttr(a *Attribute) { a.Uniqueness = uniqueServer }
func always(a *Attribute)     { a.Returned = returnedAlways }

// readonly marks a and its sub-attributes read-only.
func readonly(a *Attribute) {
	a.Mutability = readOnly
	for i := range a.SubAttributes {
		readonly(&a.SubAttributes[i])
	}
}

func canonical(values ...string) option {
	return func(a *Attribute) { a.CanonicalValues = values }
}

func refs(types ...string) option {
	return func(a *Attribute) { a.Type, a.ReferenceTypes = typeReference, types }
}

// commonAttributes are id, externalId and meta (RFC 7643 §3.1), "part of
// every base resource schema", so they are listed in each core schema.
func commonAttributes() []Attribute {
	return []Attribute{
		str("id", "Unique identifier of the resource, assigned by the service provider: the directory id.",
			caseExact, readonly, always, uniqueAttr),
		str("externalId", "Identifier of the resource as defined by the provisioning client.", caseExact),
		complexAttr("meta", "Resource metadata.", []Attribute{
			str("resourceType", "Name of the resource type.", caseExact),
			attr("created", typeDateTime, "When the resource was added."),
			attr("lastModified", typeDateTime, "When the resource was last updated."),
			str("location", "URI of the resource.", refs("uri"), caseExact),
			str("version", "Weak entity tag of the resource.", caseExact),
		}, readonly),
	}
}

// multiValue is the sub-attributes of emails, phone numbers and photos.
func multiValue(what string, types []string, valueOpts ...option) []Attribute {
	return []Attribute{
		str("value", what+".", valueOpts...),
		str("display", "Human-readable name, for display only."),
		str("type", "Label of the value's function.", canonical(types...)),
		attr("primary", typeBoolean, "Whether this is the preferred value; true at most once."),
	}
}

// reference is the sub-attributes of group members and of a user's groups.
func reference(value string, refTypes []string, types ...string) []Attribute {
	return []Attribute{
		str("value", value, caseExact),
		str("$ref", "URI of the referenced resource.", refs(refTypes...), caseExact, readonly),
		str("display", "Display name of the referenced resource.", readonly),
		str("type", "Type of the reference.", canonical(types...)),
	}
}

var userSchema = &Schema{
	ID:          SchemaUser,
	Name:        "User",
	Description: "User Account",
	Attributes: append(commonAttributes(),
		str("userName", "Unique identifier for the user, used to sign in: traits.username.",
			required, uniqueAttr),
		complexAttr("name", "Components of the user's name.", []Attribute{
			str("formatted", "Full name, formatted for display."),
			str("familyName", "Family name."),
			str("givenName", "Given name."),
			str("middleName", "Middle name."),
			str("honorificPrefix", "Honorific prefix, e.g. Ms."),
			str("honorificSuffix", "Honorific suffix, e.g. III."),
		}),
		str("displayName", "Name of the user, for display. Derived from name or userName when omitted."),
		str("nickName", "Casual name."),
		str("profileUrl", "URL of the user's online profile.", refs("external")),
		str("title", "Title, e.g. Vice President."),
		str("userType", "Relationship to the organization, e.g. Employee."),
		str("preferredLanguage", "Preferred written or spoken language."),
		str("locale", "Default location, for localizing."),
		str("timezone", "Time zone, in IANA format."),
		attr("active", typeBoolean, "Whether the user may sign in: status active (true) or suspended (false)."),
		complexAttr("emails", "E-mail addresses: the primary one and one other.",
			multiValue("E-mail address", []string{"work", "home", "other"}), multi),
		complexAttr("phoneNumbers", "Phone numbers: the primary one and one other; fax and pager numbers are accepted and not stored.",
			multiValue("Phone number", []string{"work", "home", "mobile", "fax", "pager", "other"}), multi),
		complexAttr("photos", "URL of one photo of the user.",
			multiValue("URL of the photo", []string{"photo", "thumbnail"}, refs("external")), multi),
		complexAttr("addresses", "One physical mailing address.", []Attribute{
			str("formatted", "Full address, formatted for display."),
			str("streetAddress", "Street address."),
			str("locality", "City or locality."),
			str("region", "State or region."),
			str("postalCode", "Zip or postal code."),
			str("country", "Country."),
			str("type", "Label of the address's function.", canonical("work", "home", "other")),
			attr("primary", typeBoolean, "Whether this is the preferred address."),
		}, multi),
		complexAttr("groups", "Groups the user belongs to; change them through /Groups.",
			reference("Id of the group.", []string{"Group"}, "direct", "indirect"), multi, readonly),
	),
}

var enterpriseSchema = &Schema{
	ID:          SchemaEnterpriseUser,
	Name:        "EnterpriseUser",
	Description: "Enterprise User",
	Attributes: []Attribute{
		str("employeeNumber", "Identifier assigned by the organization."),
		str("costCenter", "Cost center."),
		str("organization", "Organization."),
		str("division", "Division."),
		str("department", "Department."),
		complexAttr("manager", "The user's manager.", []Attribute{
			str("value", "Id of the manager's User.", caseExact),
			str("$ref", "URI of the manager's User.", refs("User"), caseExact, readonly),
			// RFC 7643 makes displayName read-only; Latchkey cannot look
			// manager names up, so it stores the name the client sends.
			str("displayName", "Display name of the manager, as the client sent it."),
		}),
	},
}

var groupSchema = &Schema{
	ID:          SchemaGroup,
	Name:        "Group",
	Description: "Group",
	Attributes: append(commonAttributes(),
		str("displayName", "Name of the group, unique in the realm.", required, uniqueAttr),
		complexAttr("members", "Users that belong to the group.",
			reference("Id of the member's User.", []string{"User"}, "User"), multi),
	),
}

// UserResource is the User resource type with the enterprise extension.
var UserResource = newResource("User", "/Users", "User Account", userSchema, enterpriseSchema)

// GroupResource is the Group resource type.
var GroupResource = newResource("Group", "/Groups", "Group", groupSchema)

func newResource(name, endpoint, description string, core *Schema, exts ...*Schema) Resource {
	r := Resource{Name: name, Endpoint: endpoint, Description: description, Schema: core, Extensions: exts}
	r.top = append(r.top, core.Attributes...)
	for _, e := range exts {
		r.top = append(r.top, complexAttr(e.ID, e.Description, e.Attributes))
	}
	r.store = storeMaps[name]
	return r
}

// schemaIDs returns the URNs of the core schema and the extensions.
func (r *Resource) schemaIDs() []string {
	ids := []string{r.Schema.ID}
	for _, e := range r.Extensions {
		ids = append(ids, e.ID)
	}
	return ids
}

// schemaOf returns the schema of the resource type whose URN is urn,
// compared case-insensitively as RFC 7643 §2.1 compares names, or nil.
func (r *Resource) schemaOf(urn string) *Schema {
	for _, s := range append([]*Schema{r.Schema}, r.Extensions...) {
		if strings.EqualFold(urn, s.ID) {
			return s
		}
	}
	return nil
}

// find returns the attribute of attrs called name, compared
// case-insensitively as RFC 7643 §2.1 wants, or nil.
func find(attrs []Attribute, name string) *Attribute {
	for i := range attrs {
		if strings.EqualFold(attrs[i].Name, name) {
			return &attrs[i]
		}
	}
	return nil
}

// SchemaDocuments returns the /Schemas documents: User, EnterpriseUser and
// Group. baseURL is the SCIM base URL, without a trailing slash.
func SchemaDocuments(baseURL string) []Schema {
	base := strings.TrimRight(baseURL, "/")
	var out []Schema
	for _, s := range []*Schema{userSchema, enterpriseSchema, groupSchema} {
		doc := *s
		doc.Schemas = []string{SchemaSchema}
		doc.Meta = &Meta{ResourceType: "Schema", Location: base + "/Schemas/" + s.ID}
		out = append(out, doc)
	}
	return out
}

// ResourceType is a /ResourceTypes document (RFC 7643 §6).
type ResourceType struct {
	Schemas          []string          `json:"schemas"`
	ID               string            `json:"id"`
	Name             string            `json:"name"`
	Endpoint         string            `json:"endpoint"`
	Description      string            `json:"description"`
	Schema           string            `json:"schema"`
	SchemaExtensions []SchemaExtension `json:"schemaExtensions"`
	Meta             *Meta             `json:"meta,omitempty"`
}

// SchemaExtension names an extension of a resource type.
type SchemaExtension struct {
	Schema   string `json:"schema"`
	Required bool   `json:"required"`
}

// ResourceTypeDocuments returns the /ResourceTypes documents: User and Group.
func ResourceTypeDocuments(baseURL string) []ResourceType {
	base := strings.TrimRight(baseURL, "/")
	var out []ResourceType
	for _, r := range []Resource{UserResource, GroupResource} {
		rt := ResourceType{Schemas: []string{SchemaResourceType}, ID: r.Name, Name: r.Name,
			Endpoint: r.Endpoint, Description: r.Description, Schema: r.Schema.ID,
			SchemaExtensions: []SchemaExtension{},
			Meta:             &Meta{ResourceType: "ResourceType", Location: base + "/ResourceTypes/" + r.Name}}
		for _, e := range r.Extensions {
			rt.SchemaExtensions = append(rt.SchemaExtensions, SchemaExtension{Schema: e.ID})
		}
		out = append(out, rt)
	}
	return out
}

// ServiceProviderConfig returns the /ServiceProviderConfig document. It must
// tell the truth: every feature it lists as supported is implemented.
func ServiceProviderConfig(baseURL string) map[string]any {
	supported := func(b bool) map[string]any { return map[string]any{"supported": b} }
	return map[string]any{
		"schemas": []string{SchemaServiceProviderConfig},
		"patch":   supported(true),
		"bulk": map[string]any{"supported": true,
			"maxOperations": MaxBulkOperations, "maxPayloadSize": MaxPayloadSize},
		"filter":         map[string]any{"supported": true, "maxResults": MaxResults},
		"changePassword": supported(false),
		"sort":           supported(true),
		"etag":           supported(true),
		"authenticationSchemes": []map[string]any{{
			"type":        "oauthbearertoken",
			"name":        "OAuth Bearer Token",
			"description": "An access token of the management API with scope scim:all, scim:users:* or scim:groups:*.",
			"specUri":     "https://www.rfc-editor.org/info/rfc6750",
			"primary":     true,
		}},
		"meta": map[string]any{"resourceType": "ServiceProviderConfig",
			"location": strings.TrimRight(baseURL, "/") + "/ServiceProviderConfig"},
	}
}

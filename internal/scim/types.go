package scim

import (
	"bytes"
	"encoding/json"
)

// Schema URNs of RFC 7643 and RFC 7644.
const (
	SchemaUser                  = "urn:ietf:params:scim:schemas:core:2.0:User"
	SchemaEnterpriseUser        = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
	SchemaGroup                 = "urn:ietf:params:scim:schemas:core:2.0:Group"
	SchemaServiceProviderConfig = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
	SchemaResourceType          = "urn:ietf:params:scim:schemas:core:2.0:ResourceType"
	SchemaSchema                = "urn:ietf:params:scim:schemas:core:2.0:Schema"
	SchemaListResponse          = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
	SchemaSearchRequest         = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
	SchemaPatchOp               = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
	SchemaBulkRequest           = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
	SchemaBulkResponse          = "urn:ietf:params:scim:api:messages:2.0:BulkResponse"
	SchemaError                 = "urn:ietf:params:scim:api:messages:2.0:Error"
)

// User is a SCIM User (RFC 7643 §4.1) with the enterprise extension (§4.3).
// Only attributes that map onto the directory are present; see
// UserFromIdentity and IdentityFromUser.
type User struct {
	Schemas           []string        `json:"schemas"`
	ID                string          `json:"id,omitempty"`
	ExternalID        string          `json:"externalId,omitempty"`
	UserName          string          `json:"userName"`
	Name              *Name           `json:"name,omitempty"`
	DisplayName       string          `json:"displayName,omitempty"`
	NickName          string          `json:"nickName,omitempty"`
	ProfileURL        string          `json:"profileUrl,omitempty"`
	Title             string          `json:"title,omitempty"`
	UserType          string          `json:"userType,omitempty"`
	PreferredLanguage string          `json:"preferredLanguage,omitempty"`
	Locale            string          `json:"locale,omitempty"`
	Timezone          string          `json:"timezone,omitempty"`
	Active            *bool           `json:"active,omitempty"` // nil in a request means true
	Emails            []MultiValue    `json:"emails,omitempty"`
	PhoneNumbers      []MultiValue    `json:"phoneNumbers,omitempty"`
	Photos            []MultiValue    `json:"photos,omitempty"`
	Addresses         []Address       `json:"addresses,omitempty"`
	Groups            []Reference     `json:"groups,omitempty"` // read-only
	Enterprise        *EnterpriseUser `json:"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User,omitempty"`
	Meta              *Meta           `json:"meta,omitempty"`
}

// Name is the components of a user's name.
type Name struct {
	Formatted       string `json:"formatted,omitempty"`
	FamilyName      string `json:"familyName,omitempty"`
	GivenName       string `json:"givenName,omitempty"`
	MiddleName      string `json:"middleName,omitempty"`
	HonorificPrefix string `json:"honorificPrefix,omitempty"`
	HonorificSuffix string `json:"honorificSuffix,omitempty"`
}

// MultiValue is one value of emails, phoneNumbers or photos.
type MultiValue struct {
	Value   string `json:"value,omitempty"`
	Display string `json:"display,omitempty"`
	Type    string `json:"type,omitempty"`
	Primary bool   `json:"primary,omitempty"`
}

// Address is one value of addresses.
type Address struct {
	Formatted     string `json:"formatted,omitempty"`
	StreetAddress string `json:"streetAddress,omitempty"`
	Locality      string `json:"locality,omitempty"`
	Region        string `json:"region,omitempty"`
	PostalCode    string `json:"postalCode,omitempty"`
	Country       string `json:"country,omitempty"`
	Type          string `json:"type,omitempty"`
	Primary       bool   `json:"primary,omitempty"`
}

// Reference points at another resource: a member of a group, or a group of
// a user.
type Reference struct {
	Value   string `json:"value,omitempty"`
	Ref     string `json:"$ref,omitempty"`
	Display string `json:"display,omitempty"`
	Type    string `json:"type,omitempty"`
}

// EnterpriseUser is the enterprise extension of a User.
type EnterpriseUser struct {
	EmployeeNumber string   `json:"employeeNumber,omitempty"`
	CostCenter     string   `json:"costCenter,omitempty"`
	Organization   string   `json:"organization,omitempty"`
	Division       string   `json:"division,omitempty"`
	Department     string   `json:"department,omitempty"`
	Manager        *Manager `json:"manager,omitempty"`
}

// Manager is the manager of an enterprise user.
type Manager struct {
	Value       string `json:"value,omitempty"`
	Ref         string `json:"$ref,omitempty"`
	DisplayName string `json:"displayName,omitempty"`
}

// Meta is the metadata of a resource. Times are RFC 3339 strings; Version is
// a weak ETag (see Version).
type Meta struct {
	ResourceType string `json:"resourceType,omitempty"`
	Created      string `json:"created,omitempty"`
	LastModified string `json:"lastModified,omitempty"`
	Location     string `json:"location,omitempty"`
	Version      string `json:"version,omitempty"`
}

// Group is a SCIM Group (RFC 7643 §4.2).
type Group struct {
	Schemas     []string    `json:"schemas"`
	ID          string      `json:"id,omitempty"`
	ExternalID  string      `json:"externalId,omitempty"`
	DisplayName string      `json:"displayName"`
	Members     []Reference `json:"members,omitempty"`
	Meta        *Meta       `json:"meta,omitempty"`
}

// ListResponse is the body of a query's answer (RFC 7644 §3.4.2).
type ListResponse struct {
	Schemas      []string `json:"schemas"`
	TotalResults int      `json:"totalResults"`
	StartIndex   int      `json:"startIndex"`
	ItemsPerPage int      `json:"itemsPerPage"`
	Resources    []any    `json:"Resources"`
}

// NewListResponse returns the list response of one page of resources
// (Users, Groups or documents); startIndex is 1-based.
func NewListResponse(resources []any, totalResults, startIndex int) ListResponse {
	if resources == nil {
		resources = []any{} // "Resources": [] rather than null
	}
	return ListResponse{Schemas: []string{SchemaListResponse}, TotalResults: totalResults,
		StartIndex: startIndex, ItemsPerPage: len(resources), Resources: resources}
}

// PatchOp is the body of a PATCH request (RFC 7644 §3.5.2).
type PatchOp struct {
	Schemas    []string         `json:"schemas"`
	Operations []PatchOperation `json:"Operations"`
}

// PatchOperation is one operation of a PatchOp. Op is "add", "remove" or
// "replace" in any case; Path may be empty for add and replace.
type PatchOperation struct {
	Op    string `json:"op"`
	Path  string `json:"path,omitempty"`
	Value any    `json:"value,omitempty"`
}

// ToDocument renders a User, Group or any other value as the generic JSON
// document ApplyPatch works on.
func ToDocument(v any) map[string]any {
	b, err := json.Marshal(v)
	if err != nil {
		panic("scim: cannot render a document: " + err.Error()) // only for values of no JSON form
	}
	var doc map[string]any
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if err := d.Decode(&doc); err != nil || doc == nil {
		panic("scim: a document must be a JSON object")
	}
	return doc
}

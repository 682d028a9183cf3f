package oauth

import "strings"

// ManagementAPI is the identifier (token audience) of Latchkey's own API, as
// Beyond Identity names it.
const ManagementAPI = "beyondidentity"

// ManagementScopes are all scopes of the management API, in the reference's
// `<resource>:<action>` form.
var ManagementScopes = expand(
	"tenants:read,update",
	"realms:create,read,update,delete",
	"identities:create,read,update,delete",
	"groups:create,read,update,delete",
	"roles:create,read,update,delete",
	"resource-servers:create,read,update,delete",
	"applications:create,read,update,delete",
	"authenticator-configs:create,read,update,delete",
	"credentials:read,revoke",
	"credential-binding-jobs:create,read,revoke",
	"themes:create,read,update",
	"tokens:read,delete,introspect",
	"events:read",
	"policy:create,read,update,delete",
	"scim:users:create,read,update,delete",
	"scim:groups:create,read,update,delete",
	"scim:all",
)

func expand(specs ...string) []string {
	var out []string
	for _, s := range specs {
		i := strings.LastIndex(s, ":")
		for _, action := range strings.Split(s[i+1:], ",") {
			out = append(out, s[:i+1]+action)
		}
	}
	return out
}
